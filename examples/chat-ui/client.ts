/**
 * Browser side of the chat UI: sends the prompt, renders tokens as they arrive with `readParts`
 * from @sluice/core (the reader of what `sseResponse` sends), and aborts the request on Stop.
 * Images: each preview (a data part on substream 'preview', metadata `{ index, partialIndex }`)
 * is shown at once in the slot of its image index, and the final image (a data part with an image
 * mimetype, role 'model') replaces it. Each picture is an object URL, revoked when replaced.
 */
import { readParts } from '@sluice/core';

const form = document.querySelector<HTMLFormElement>('#chat')!;
const prompt = document.querySelector<HTMLTextAreaElement>('#prompt')!;
const send = document.querySelector<HTMLButtonElement>('#send')!;
const stop = document.querySelector<HTMLButtonElement>('#stop')!;
const output = document.querySelector<HTMLDivElement>('#output')!;
const status = document.querySelector<HTMLDivElement>('#status')!;
const images = document.querySelector<HTMLDivElement>('#images')!;
let controller: AbortController | undefined;

/** Shows `data` in the slot of image `index`: a preview until the final image replaces it. */
function showImage(index: number, data: Uint8Array, mimetype: string, final: boolean, partialIndex?: number): void {
  let img = images.querySelector<HTMLImageElement>(`img[data-index="${index}"]`);
  if (!img) {
    img = document.createElement('img');
    img.dataset.index = String(index);
    images.append(img);
  }
  if (img.src) URL.revokeObjectURL(img.src);
  img.src = URL.createObjectURL(new Blob([data as Uint8Array<ArrayBuffer>], { type: mimetype }));
  img.className = final ? 'final' : 'preview';
  img.alt = final ? `image ${index + 1}` : `preview ${Number(partialIndex ?? 0) + 1} of image ${index + 1}`;
  if (!final) img.dataset.partialIndex = String(partialIndex ?? 0);
  // The order things were shown in, for the page's test (and anyone curious).
  images.dataset.shown = `${images.dataset.shown ?? ''}${images.dataset.shown ? ' ' : ''}${final ? 'final' : 'preview'}:${index}`;
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  controller?.abort();
  controller = new AbortController();
  const { signal } = controller;
  output.textContent = '';
  for (const img of images.querySelectorAll('img')) URL.revokeObjectURL(img.src);
  images.replaceChildren();
  delete images.dataset.shown;
  status.textContent = 'streaming…';
  send.disabled = true;
  stop.disabled = false;
  let tokens = 0;
  let pictures = 0;
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
      } else if (part.substream === 'preview' && part.data && part.mimetype.startsWith('image/')) {
        const { index, partialIndex } = part.metadata as { index?: number; partialIndex?: number };
        showImage(Number(index ?? 0), part.data, part.mimetype, false, partialIndex);
      } else if (part.substream === '' && part.data && part.mimetype.startsWith('image/') && part.role === 'model') {
        showImage(Number((part.metadata as { index?: number }).index ?? pictures), part.data, part.mimetype, true);
        pictures++;
      } else if (part.substream === 'status' && part.metadata.usage) {
        const usage = part.metadata.usage as { inputTokens?: number; outputTokens?: number };
        status.dataset.usage = JSON.stringify(usage);
      }
    }
    status.textContent =
      pictures > 0 ? `done (${pictures} image${pictures > 1 ? 's' : ''})` : `done (${tokens} tokens)`;
  } catch (error) {
    status.textContent = signal.aborted ? `stopped after ${tokens} tokens` : `error: ${(error as Error).message}`;
  } finally {
    send.disabled = false;
    stop.disabled = true;
  }
});

stop.addEventListener('click', () => controller?.abort());
