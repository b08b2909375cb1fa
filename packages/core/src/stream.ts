import { AsyncIterableX } from '@reactivex/ix-esnext-esm/Ix.asynciterable';
import { ABANDONED, stopSource } from '@sluice/streams';
import { asText, type Part } from './part.ts';

/**
 * The stream of parts a processor returns (and its `fn` receives). Single use: it runs the
 * processor when first iterated, and a second iteration throws. Stopping it early (break,
 * `return()`) stops the whole run.
 */
export class PartStream extends AsyncIterableX<Part> {
  #source: AsyncIterable<Part> | undefined;

  constructor(source: AsyncIterable<Part>) {
    super();
    this.#source = source;
  }

  [Symbol.asyncIterator](): AsyncIterator<Part> {
    const source = this.#source;
    if (!source)
      throw new TypeError('PartStream: this stream was already iterated; call the processor again for a new run');
    this.#source = undefined;
    return source[Symbol.asyncIterator]();
  }

  /** Runs the stream to the end and returns every part, in order (reserved substreams included). */
  async gather(): Promise<Part[]> {
    const parts: Part[] = [];
    for await (const p of this) parts.push(p);
    return parts;
  }

  /** Runs the stream to the end and returns the concatenated text of the default substream. */
  async text(): Promise<string> {
    return asText(await this.gather());
  }

  /** A Web `ReadableStream` of the parts; cancelling it stops the run. */
  toReadableStream(): ReadableStream<Part> {
    let iterator: AsyncIterator<Part> | undefined;
    return new ReadableStream<Part>(
      {
        start: () => {
          iterator = this[Symbol.asyncIterator]();
        },
        pull: async (controller) => {
          const result = await iterator!.next();
          if (result.done) controller.close();
          else controller.enqueue(result.value);
        },
        cancel: async () => {
          // A read may be pending: a source blocked in it is returned but not waited for (see stopSource).
          const outcome = iterator ? await stopSource(iterator, true) : undefined;
          if (outcome !== undefined && outcome !== ABANDONED) throw outcome.error;
        },
      },
      { highWaterMark: 0 },
    );
  }
}
