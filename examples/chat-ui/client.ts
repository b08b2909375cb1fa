/**
 * Browser side of the chat UI: sends the prompt, renders tokens as they arrive with `readParts`
 * from @sluice/core (the reader of what `sseResponse` sends), and aborts the request on Stop.
 */
import { readParts } from '@sluice/core';

const form = document.querySelector<HTMLFormElement>('#chat')!;
const prompt = document.querySelector<HTMLTextAreaElement>('#prompt')!;
const send = document.querySelector<HTMLButtonElement>('#send')!;
const stop = document.querySelector<HTMLButtonElement>('#stop')!;
const output = document.querySelector<HTMLDivElement>('#output')!;
const status = document.querySelector<HTMLDivElement>('#status')!;
let controller: AbortController | undefined;

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  controller?.abort();
  controller = new AbortController();
  const { signal } = controller;
  output.textContent = '';
  status.textContent = 'streaming…';
  send.disabled = true;
  stop.disabled = false;
  let tokens = 0;
  try {
    const response = await fetch('/api/chat', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: prompt.value }),
      signal,
    });
    for await (const part of readParts(response, { signal })) {
      if (part.substream === '' && part.text !== undefined) {
        output.append(part.text);
        tokens++;
        output.dataset.tokens = String(tokens);
      } else if (part.substream === 'status' && part.metadata.usage) {
        const usage = part.metadata.usage as { inputTokens?: number; outputTokens?: number };
        status.dataset.usage = JSON.stringify(usage);
      }
    }
    status.textContent = `done (${tokens} tokens)`;
  } catch (error) {
    status.textContent = signal.aborted ? `stopped after ${tokens} tokens` : `error: ${(error as Error).message}`;
  } finally {
    send.disabled = false;
    stop.disabled = true;
  }
});

stop.addEventListener('click', () => controller?.abort());
