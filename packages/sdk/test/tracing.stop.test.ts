// How calls end: a break ends the call 'cancelled' exactly once before the loop exits, an error
// ends it 'error' with the exception, a stream never read makes no call; the time to first token
// of a fake model in virtual time.
import { toArray } from '@reactivex/ix-esnext-esm/asynciterable/toarray';
import { type Part, partProcessor, processor, textPart } from '@sluice/core';
import { fakeModel } from '@sluice/processors';
import { initTracing, type Tracing, traced } from '@sluice/sdk';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type MemoryStore, memoryStore } from './tracing-helpers.ts';

let store: MemoryStore;
let tracing: Tracing;
beforeEach(async () => {
  store = memoryStore();
  tracing = await initTracing({ store });
});
afterEach(async () => {
  vi.useRealTimers();
  await tracing.close();
});

const callIds = () => [...new Set(store.records.flatMap((r) => (r.kind === 'call' ? [r.call.id] : [])))];
const callNamed = (op: string) => {
  for (const r of store.records) if (r.kind === 'call' && r.call.op === op) return r.call;
  throw new Error(`no call ${op}`);
};

const endless = () =>
  processor(async function* endless(_input, ctx) {
    for (let i = 0; !ctx.signal.aborted; i++) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      yield textPart(`t${i}`);
    }
  });

describe('tracing: how calls end', () => {
  for (const kind of ['stream', 'parts'] as const) {
    it(`a break ends the ${kind} call 'cancelled' exactly once before the loop exits`, async () => {
      const p =
        kind === 'stream'
          ? traced(endless(), { name: 'run' })
          : traced(partProcessor(async (x: Part) => textPart(`${x.text}!`), { name: 'run' }));
      const input =
        kind === 'stream'
          ? undefined
          : (async function* () {
              for (let i = 0; ; i++) {
                await new Promise<void>((resolve) => setImmediate(resolve));
                yield `p${i}`;
              }
            })();
      let seen = 0;
      for await (const _ of p(input)) {
        if (++seen === 3) break;
      }
      const id = callNamed('run').id;
      expect(store.ends(id)).toEqual(['cancelled']);
      // Nothing ends it again later.
      await new Promise((resolve) => setTimeout(resolve, 5));
      expect(store.ends(id)).toEqual(['cancelled']);
      const call = await tracing.call(id);
      expect(call!.summary.parts).toBe(3);
      expect(call!.endedAt).toBeGreaterThanOrEqual(call!.startedAt);
    });
  }

  it("a model stopped mid-stream ends its 'llm' call 'cancelled' once, its parent too", async () => {
    const model = traced(fakeModel({ reply: 'a b c d e f g h', delayMs: 1 }), { name: 'wrapper' });
    for await (const p of model(['hi'])) {
      if (p.text === ' c') break;
    }
    expect(store.ends(callNamed('fakeModel').id)).toEqual(['cancelled']);
    expect(store.ends(callNamed('wrapper').id)).toEqual(['cancelled']);
  });

  it("an error ends the call 'error' with the exception, and the consumer gets the error unchanged", async () => {
    const boom = new TypeError('boom at 2');
    const p = traced(
      processor(async function* failing(input) {
        let n = 0;
        for await (const x of input) {
          if (++n === 2) throw boom;
          yield x;
        }
      }),
    );
    await expect(toArray(p(['a', 'b', 'c']))).rejects.toBe(boom);
    const call = callNamed('failing');
    expect(store.ends(call.id)).toEqual(['error']);
    expect(call.exception).toMatchObject({ name: 'TypeError', message: 'boom at 2' });
    expect(call.exception!.stack).toContain('boom at 2');

    const q = traced(
      partProcessor(
        (x: Part) => {
          if (x.text === 'b') throw new RangeError('bad part');
          return x;
        },
        { name: 'strict' },
      ),
    );
    await expect(toArray(q(['a', 'b']))).rejects.toThrow('bad part');
    const strict = callNamed('strict');
    expect(store.ends(strict.id)).toEqual(['error']);
    expect(strict.exception).toMatchObject({ name: 'RangeError', message: 'bad part' });
  });

  it("an aborted signal ends the call 'cancelled'", async () => {
    const controller = new AbortController();
    const p = traced(endless(), { name: 'aborted' });
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const x of p(undefined, { signal: controller.signal })) {
          seen.push(x.text!);
          if (seen.length === 2) controller.abort(new DOMException('stop', 'AbortError'));
        }
      })(),
    ).rejects.toThrow('stop');
    expect(store.ends(callNamed('aborted').id)).toEqual(['cancelled']);
  });

  it('a stream that is never read makes no call', async () => {
    const p = traced(partProcessor((x: Part) => x, { name: 'idle' }));
    const q = traced(endless(), { name: 'idle2' });
    const s1 = p(['a']);
    const s2 = q();
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(callIds()).toEqual([]);
    expect(s1).toBeDefined();
    expect(s2).toBeDefined();
  });

  it('records the time to first token of a fake model in virtual time', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    vi.setSystemTime(1_000_000);
    const model = fakeModel({ reply: 'one two three', firstDelayMs: 750, delayMs: 100, name: 'slow' });
    const done = toArray(traced(model, { name: 'stage' })(['question']));
    await vi.advanceTimersByTimeAsync(2000);
    const parts = await done;
    expect(parts.filter((p) => p.substream === '').map((p) => p.text)).toEqual(['one', ' two', ' three']);
    const llm = callNamed('slow');
    expect(llm.kind).toBe('llm');
    expect(llm.startedAt).toBe(1_000_000);
    expect(llm.firstOutputAt! - llm.startedAt).toBe(750);
    expect(llm.endedAt! - llm.startedAt).toBe(950);
    const stage = callNamed('stage');
    expect(stage.firstOutputAt! - stage.startedAt).toBe(750);
  });
});
