// One open call: its record (written to the store when it starts and when it ends), what it
// captures, and its place in the tree of open calls of this process (for usage sums).

import type { CallHandle, CallOutcome, Part } from '@sluice/core';
import { type BlobSink, captureValue, PartCapture } from './capture.ts';
import type { Call, Usage } from './types.ts';

/** What a LiveCall needs from its Tracing. */
export interface CallSink {
  readonly recordContent: boolean;
  readonly maxCapturedBytes: number;
  readonly blobs: BlobSink;
  write(call: Call): void;
  ended(call: Call): void;
}

export class LiveCall implements CallHandle {
  ended = false;
  readonly budget: { left: number };
  /** Inputs given as parts (a processor's run); undefined when the inputs are a value. */
  readonly inputs: PartCapture | undefined;
  readonly outputs: PartCapture;
  #outputValue: { value: unknown } | undefined;

  constructor(
    readonly record: Call,
    readonly parent: LiveCall | undefined,
    readonly sink: CallSink,
    inputs: readonly Part[] | 'parts' | { value: unknown },
  ) {
    this.budget = { left: sink.recordContent ? sink.maxCapturedBytes : 0 };
    const blobs = sink.recordContent ? sink.blobs : undefined;
    this.outputs = new PartCapture(this.budget, blobs);
    if (inputs === 'parts' || Array.isArray(inputs)) {
      this.inputs = new PartCapture(this.budget, blobs);
      if (Array.isArray(inputs)) for (const p of inputs as readonly Part[]) this.inputs.add(p);
    } else {
      record.inputs = sink.recordContent ? captureValue((inputs as { value: unknown }).value, this.budget) : {};
    }
    sink.write(record);
  }

  get call(): unknown {
    return this;
  }

  /** Records an input part (a traced processor's run reads its input as it goes). */
  input(p: Part): void {
    if (!this.ended) this.inputs?.add(p);
  }

  output(p: Part): void {
    if (this.ended) return;
    if (this.record.firstOutputAt === undefined) this.record.firstOutputAt = Date.now();
    this.outputs.add(p);
  }

  /** An op's result (or one yielded value of an op on an async generator). */
  outputValue(value: unknown, yielded = false): void {
    if (this.ended) return;
    if (this.record.firstOutputAt === undefined) this.record.firstOutputAt = Date.now();
    if (!yielded) {
      this.#outputValue = { value: captureValue(value, this.budget) };
      return;
    }
    this.outputs.count++;
    const list = (this.#outputValue ??= { value: [] }).value as unknown[];
    list.push(captureValue(value, this.budget));
  }

  end(outcome: CallOutcome): void {
    if (this.ended) return;
    this.ended = true;
    const record = this.record;
    record.endedAt = Date.now();
    record.status = outcome.status;
    if (outcome.status === 'error' && outcome.error !== undefined) record.exception = exceptionOf(outcome.error);
    if (outcome.attributes) Object.assign(record.attributes, outcome.attributes);
    if (this.inputs) record.inputs = this.inputs.result();
    record.output = this.#outputValue ? this.#outputValue.value : this.outputs.result();
    record.summary.parts = this.outputs.count;
    if (outcome.usage) {
      addUsage(record.summary, outcome.usage);
      for (let a = this.parent; a; a = a.parent) {
        addUsage(a.record.summary, outcome.usage);
        if (a.ended) {
          a.sink.write(a.record);
          a.sink.ended(a.record);
        }
      }
    }
    this.sink.write(record);
    this.sink.ended(record);
  }
}

function addUsage(summary: Call['summary'], usage: Usage): void {
  const sum = (summary.usage ??= { inputTokens: 0, outputTokens: 0, totalTokens: 0 });
  sum.inputTokens += usage.inputTokens;
  sum.outputTokens += usage.outputTokens;
  sum.totalTokens = (sum.totalTokens ?? 0) + (usage.totalTokens ?? usage.inputTokens + usage.outputTokens);
}

export function exceptionOf(error: unknown): { name: string; message: string; stack?: string } {
  if (error instanceof Error) return { name: error.name, message: error.message, stack: error.stack };
  return { name: 'Error', message: String(error) };
}

/** True for the errors a stopped run ends with (the consumer stopped, a signal aborted). */
export function isAbortError(error: unknown): boolean {
  return (error instanceof Error || error instanceof DOMException) && (error as Error).name === 'AbortError';
}
