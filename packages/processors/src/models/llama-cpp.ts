// An in-process GGUF model through node-llama-cpp. Inference runs on llama.cpp's native threads
// (node-llama-cpp evaluates in native async workers), so the event loop stays free while tokens
// are computed; this file bridges its token callbacks into the same parts the HTTP models stream.

import { basename } from 'node:path';
import type { Part, Processor } from '@sluice/core';
import { processor } from '@sluice/core';
import { Semaphore } from '@sluice/streams';
import { withConfig } from './config.ts';
import { LocalModelError } from './llama-cpp-errors.ts';
import { type Llama, loadBinding } from './llama-cpp-runtime.ts';
import { toConversation, UnsupportedPartError } from './messages.ts';
import { eventToPart } from './model.ts';

/** Options of `llamaCpp`. */
export interface LlamaCppOptions {
  /** Path of a GGUF model file. */
  modelPath: string;
  /** CPU threads for evaluation; default node-llama-cpp's (every core). Tests want 1. */
  threads?: number;
  /** Context window in tokens; default node-llama-cpp's choice for the model and the free memory. */
  contextSize?: number;
  /** false (default): the CPU build; 'auto': a GPU build when one works here; true: a GPU build or an error. */
  gpu?: boolean | 'auto';
  /** Sampling temperature; default 0 (greedy). */
  temperature?: number;
  /** Longest answer in tokens; default: until the model stops or the context is full. */
  maxTokens?: number;
  /** Sampling seed (with a temperature above 0), for repeatable answers. */
  seed?: number;
}

/** A llamaCpp processor: a Processor that also owns the loaded model. */
export interface LlamaCppProcessor extends Processor, AsyncDisposable {
  /**
   * Stops the runs in flight (they reject with an AbortError) and frees the model and its context.
   * Idempotent; a later run loads the model again.
   */
  close(): Promise<void>;
}

type LlamaModel = Awaited<ReturnType<Llama['loadModel']>>;
type LlamaContext = Awaited<ReturnType<LlamaModel['createContext']>>;
type LlamaChat = InstanceType<typeof import('node-llama-cpp').LlamaChat>;
type ChatHistoryItem = import('node-llama-cpp').ChatHistoryItem;

interface Loaded {
  model: LlamaModel;
  context: LlamaContext;
  chat: LlamaChat;
}

/** The chat history node-llama-cpp expects, ending with the model turn to complete (a prefill continues). */
function chatHistoryOf(parts: readonly Part[]): ChatHistoryItem[] {
  const conversation = toConversation(parts);
  const history: ChatHistoryItem[] = [];
  if (conversation.system !== undefined) history.push({ type: 'system', text: conversation.system });
  for (const turn of conversation.turns) {
    const texts = turn.parts.map((part) => {
      if (part.text === undefined || part.toolCall || part.toolResult || turn.role === 'tool') {
        throw new UnsupportedPartError('llama-cpp', part, {
          hint: 'llamaCpp takes text parts only (no images, tool calls or tool results)',
        });
      }
      return part.text;
    });
    const text = texts.join('');
    if (turn.role === 'assistant') history.push({ type: 'model', response: [text] });
    else history.push({ type: 'user', text });
  }
  if (history.at(-1)?.type !== 'model') history.push({ type: 'model', response: [] });
  return history;
}

const finishReasons: Record<string, string> = {
  eogToken: 'stop',
  stopGenerationTrigger: 'stop',
  customStopTrigger: 'stop',
  maxTokens: 'length',
  functionCalls: 'tool_calls',
};

/**
 * A GGUF model run in process by llama.cpp (through the optional package node-llama-cpp, 3.21.1;
 * without it, runs fail with MissingPackageError naming it). The model is loaded on the first run
 * and kept until `close()`. Each run gathers its input, then streams one text part per token
 * (role 'model'; thoughts on substream 'reasoning') and a final status part with `usage` (input
 * tokens by tokenizing the prompt, output tokens counted) and `finishReason` ('stop', 'length').
 * Runs share one context sequence and take turns in arrival order. Stopping (ctx.signal, break)
 * ends generation within a few tokens and frees the sequence for the next run.
 */
export function llamaCpp(options: LlamaCppOptions): LlamaCppProcessor {
  if (!options || typeof options.modelPath !== 'string' || options.modelPath === '') {
    throw new TypeError("llamaCpp: the modelPath option is required, e.g. llamaCpp({ modelPath: './model.gguf' })");
  }
  for (const key of ['threads', 'contextSize', 'maxTokens'] as const) {
    const value = options[key];
    if (value !== undefined && !(Number.isInteger(value) && value > 0)) {
      throw new RangeError(`llamaCpp: ${key} must be a positive integer, found ${String(value)}`);
    }
  }
  const source = { provider: 'llama-cpp', model: basename(options.modelPath) };
  const name = `llama-cpp:${source.model}`;
  const turns = new Semaphore(1);
  const running = new Set<AbortController>();
  let loading: Promise<Loaded> | undefined;

  const load = (): Promise<Loaded> => {
    loading ??= (async () => {
      const llama = await loadBinding(options.gpu ?? false);
      const { LlamaChat } = await import('node-llama-cpp');
      let model: LlamaModel;
      try {
        model = await llama.loadModel({ modelPath: options.modelPath });
      } catch (error) {
        throw new LocalModelError(
          `llamaCpp: could not load the model ${JSON.stringify(options.modelPath)}: ${(error as Error).message}`,
          'check that the path names a GGUF file of an architecture llama.cpp supports',
          error,
        );
      }
      try {
        const context = await model.createContext({
          contextSize: options.contextSize,
          threads: options.threads,
          sequences: 1,
        });
        return { model, context, chat: new LlamaChat({ contextSequence: context.getSequence() }) };
      } catch (error) {
        await model.dispose();
        throw new LocalModelError(
          `llamaCpp: could not create a context for ${JSON.stringify(options.modelPath)}: ${(error as Error).message}`,
          'pass a smaller contextSize, or free memory',
          error,
        );
      }
    })();
    // A failed load is not kept: the next run tries again.
    loading.catch(() => {
      loading = undefined;
    });
    return loading;
  };

  const p = processor(
    async function* llamaCppRun(input, ctx) {
      const history = chatHistoryOf(await input.gather());
      const { model, chat } = await load();
      await turns.acquire(ctx.signal);
      const controller = new AbortController();
      running.add(controller);
      const onAbort = () => controller.abort(ctx.signal.reason);
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      let generation: Promise<void> | undefined;
      try {
        const prompt = chat.chatWrapper.generateContextState({ chatHistory: history }).contextText;
        const inputTokens = prompt.tokenize(model.tokenizer).length;
        // The sequence's meter counts every sampled token, also one still held by the
        // detokenizer (half a UTF-8 character) that no chunk carried; the run has the sequence
        // to itself, so the difference is this run's.
        const meter = chat.sequence.tokenMeter;
        const outputBefore = meter.usedOutputTokens;
        const pieces: Part[] = [];
        let wake: (() => void) | undefined;
        let outcome: { stopReason: string } | { error: unknown } | undefined;
        generation = chat
          .generateResponse(history, {
            signal: controller.signal,
            maxTokens: options.maxTokens,
            temperature: options.temperature,
            seed: options.seed,
            onResponseChunk(chunk) {
              if (chunk.text === '') return;
              if (chunk.type === undefined) pieces.push(eventToPart({ type: 'text', text: chunk.text }, source));
              else if (chunk.segmentType === 'thought') {
                pieces.push(eventToPart({ type: 'reasoning', text: chunk.text }, source));
              }
              wake?.();
            },
          })
          .then(
            (response) => {
              outcome = { stopReason: response.metadata.stopReason };
            },
            (error: unknown) => {
              outcome = { error };
            },
          )
          .finally(() => wake?.());
        while (true) {
          while (pieces.length > 0) yield pieces.shift()!;
          if (outcome) break;
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = undefined;
        }
        if ('error' in outcome) {
          if (controller.signal.aborted) throw controller.signal.reason;
          throw outcome.error;
        }
        if (controller.signal.aborted) throw controller.signal.reason;
        const { stopReason } = outcome;
        const outputTokens = meter.usedOutputTokens - outputBefore;
        yield eventToPart(
          {
            type: 'finish',
            finishReason: finishReasons[stopReason] ?? stopReason,
            rawFinishReason: stopReason,
            usage: { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens },
          },
          source,
        );
      } finally {
        ctx.signal.removeEventListener('abort', onAbort);
        // The sequence is free only once llama.cpp has stopped: wait for it before the next turn.
        if (!controller.signal.aborted) controller.abort(new DOMException('The run was stopped', 'AbortError'));
        await generation;
        running.delete(controller);
        turns.release();
      }
    },
    { name },
  ) as LlamaCppProcessor;

  const close = async (): Promise<void> => {
    const current = loading;
    loading = undefined;
    for (const controller of running) controller.abort(new DOMException(`${name} was closed`, 'AbortError'));
    if (!current) return;
    const loaded = await current.catch(() => undefined);
    if (!loaded) return;
    // Wait for the runs to hand their turn back, then free the context and the model.
    await turns.acquire();
    try {
      await loaded.context.dispose();
      await loaded.model.dispose();
    } finally {
      turns.release();
    }
  };
  Object.defineProperty(p, 'close', { value: close });
  Object.defineProperty(p, Symbol.asyncDispose, { value: close });
  return withConfig(p, { provider: 'llama-cpp', model: source.model, ...options });
}
