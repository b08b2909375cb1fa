import { toArray } from '@reactivex/ix-esnext-esm/asynciterable/toarray';
// Parent/child links of calls: chain members, parallel branches, catchErrors, part processors at
// concurrency 8, an op inside a processor's fn, a processor inside an op, model calls.
import { catchErrors, chain, type Part, parallel, partProcessor, processor, textPart } from '@sluice/core';
import { fakeModel } from '@sluice/processors';
import { type Call, initTracing, op, type Tracing, traced } from '@sluice/sdk';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type MemoryStore, memoryStore } from './tracing-helpers.ts';

let store: MemoryStore;
let tracing: Tracing;
beforeEach(async () => {
  store = memoryStore();
  tracing = await initTracing({ store, project: 'parents' });
});
afterEach(async () => {
  await tracing.close();
});

async function all(): Promise<Call[]> {
  return toArray(tracing.calls({ sort: 'startedAt' }));
}
const byOp = (calls: Call[], op: string) => calls.filter((c) => c.op === op);
const one = (calls: Call[], op: string) => {
  const found = byOp(calls, op);
  expect(found, op).toHaveLength(1);
  return found[0]!;
};
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('tracing parents', () => {
  it('chain members of a traced chain are children of its call, siblings of each other', async () => {
    const a = traced(partProcessor((p: Part) => textPart(`${p.text}a`), { name: 'a' }));
    const b = traced(
      processor(async function* b(input) {
        for await (const p of input) yield textPart(`${p.text}b`);
      }),
    );
    const c = traced(partProcessor((p: Part) => textPart(`${p.text}c`), { name: 'c' }));
    const out = await traced(chain(a, b, c), { name: 'abc', kind: 'chain' })(['x', 'y']).gather();
    expect(out.map((p) => p.text)).toEqual(['xabc', 'yabc']);
    const calls = await all();
    const root = one(calls, 'abc');
    expect(root.parentId).toBeUndefined();
    expect(root.kind).toBe('chain');
    for (const name of ['a', 'b', 'c']) {
      const call = one(calls, name);
      expect(call.parentId).toBe(root.id);
      expect(call.traceId).toBe(root.traceId);
      expect(call.status).toBe('ok');
    }
    expect(one(calls, 'a').inputs).toMatchObject({ parts: [{ text: 'xy' }], count: 2 });
    expect(one(calls, 'c').output).toMatchObject({ parts: [{ text: 'xabcyabc' }], count: 2 });
    expect(root.summary.children).toBe(3);
  });

  it('a fused traced chain of part processors stays a part processor and makes one call per run', async () => {
    const p = traced(
      chain(
        partProcessor((x: Part) => textPart(`${x.text}1`), { name: 'one' }),
        partProcessor((x: Part) => textPart(`${x.text}2`), { name: 'two' }),
      ),
      { name: 'fused' },
    );
    expect(typeof p.match).toBe('function');
    await p(['a', 'b', 'c']).gather();
    await p(['d']).gather();
    const calls = byOp(await all(), 'fused');
    expect(calls).toHaveLength(2);
    // Two runs may start in the same millisecond: compare as a set.
    expect(calls.map((c) => c.summary.parts).sort()).toEqual([1, 3]);
  });

  it('parallel branches and catchErrors runs are children of the enclosing call, one per part', async () => {
    const left = traced(partProcessor((p: Part) => textPart(`L${p.text}`), { name: 'left' }));
    const right = traced(partProcessor((p: Part) => textPart(`R${p.text}`), { name: 'right' }));
    const failing = traced(
      partProcessor(
        (p: Part) => {
          if (p.text === 'bad') throw new Error('no good');
          return p;
        },
        { name: 'failing' },
      ),
    );
    const outer = traced(chain(parallel(left, right), catchErrors(failing)), { name: 'outer' });
    const out = await outer(['1', '2']).gather();
    expect(out.map((p) => p.text)).toEqual(['L1', 'R1', 'L2', 'R2']);
    const calls = await all();
    const root = one(calls, 'outer');
    expect(byOp(calls, 'left')).toHaveLength(2);
    expect(byOp(calls, 'right')).toHaveLength(2);
    for (const c of [...byOp(calls, 'left'), ...byOp(calls, 'right'), ...byOp(calls, 'failing')]) {
      expect(c.parentId).toBe(root.id);
    }
    // A part processor's error under catchErrors becomes an exception part in place of its output (its call is ok); a
    // stream processor's error ends its nested run: an 'error' call with the exception.
    const guarded = await traced(catchErrors(failing), { name: 'guard' })(['bad']).gather();
    expect(guarded.map((p) => p.mimetype)).toEqual(['text/x-exception']);
    const broken = traced(
      processor(async function* broken(input) {
        for await (const p of input) if (p.text === 'bad') throw new Error('no good');
        yield 'unreachable';
      }),
    );
    await traced(catchErrors(broken), { name: 'guard2' })(['bad']).gather();
    const after = await all();
    const caught = byOp(after, 'failing').find((c) => c.parentId === one(after, 'guard').id)!;
    expect(caught.status).toBe('ok');
    expect(caught.inputs).toMatchObject({ parts: [{ text: 'bad' }] });
    const failed = one(after, 'broken');
    expect(failed.parentId).toBe(one(after, 'guard2').id);
    expect(failed.status).toBe('error');
    expect(failed.exception).toMatchObject({ name: 'Error', message: 'no good' });
  });

  it('an op inside a part processor fn at concurrency 8 is a child of that run, not of another', async () => {
    const lookup = op(async function lookup(key: string) {
      await tick();
      return key.toUpperCase();
    });
    const step = traced(
      partProcessor(
        async (p: Part) => {
          await tick();
          return textPart(await lookup(p.text!));
        },
        { name: 'step', concurrency: 8 },
      ),
    );
    const runs = await Promise.all(
      ['a', 'b'].map((k) => step(Array.from({ length: 16 }, (_, i) => `${k}${i}`)).gather()),
    );
    expect(runs[0]!.map((p) => p.text)).toEqual(Array.from({ length: 16 }, (_, i) => `A${i}`));
    const calls = await all();
    const steps = byOp(calls, 'step');
    expect(steps).toHaveLength(2);
    const lookups = byOp(calls, 'lookup');
    expect(lookups).toHaveLength(32);
    for (const s of steps) {
      const prefix = (s.inputs as { parts: { text: string }[] }).parts[0]!.text[0];
      const mine = lookups.filter((l) => l.parentId === s.id);
      expect(mine).toHaveLength(16);
      expect(mine.every((l) => (l.inputs as { key: string }).key.startsWith(prefix!))).toBe(true);
    }
  });

  it('an op in a stream processor fn, and a pipeline (with a model) inside an op', async () => {
    const note = op(async function note(text: string) {
      return text.length;
    });
    const writer = traced(
      processor(async function* writer(input) {
        for await (const p of input) {
          await note(p.text!);
          yield p;
        }
      }),
    );
    const model = fakeModel({ reply: 'one two three', name: 'tiny' });
    const answer = op(
      async function answer(question: string) {
        return (await chain(writer, model)([question]).gather()).filter((p) => p.substream === '').length;
      },
      { callDisplayName: (inputs) => `answer: ${inputs.question}` },
    );
    expect(await answer('why')).toBe(3);
    const calls = await all();
    const root = one(calls, 'answer');
    expect(root.displayName).toBe('answer: why');
    expect(root.inputs).toEqual({ question: 'why' });
    expect(root.output).toBe(3);
    const w = one(calls, 'writer');
    expect(w.parentId).toBe(root.id);
    expect(one(calls, 'note').parentId).toBe(w.id);
    const llm = one(calls, 'tiny');
    expect(llm.kind).toBe('llm');
    expect(llm.parentId).toBe(root.id);
    expect(llm.attributes).toMatchObject({
      'gen_ai.provider.name': 'fake',
      'gen_ai.request.model': 'tiny',
      'gen_ai.response.model': 'tiny',
      'gen_ai.usage.input_tokens': 1,
      'gen_ai.usage.output_tokens': 3,
      'gen_ai.response.finish_reasons': ['stop'],
    });
    // Usage is summed into the ancestors.
    expect(root.summary.usage).toMatchObject({ inputTokens: 1, outputTokens: 3 });
  });

  it('an op on an async generator is open until the generator finishes; its yields are its output', async () => {
    const count = op(async function* count(n: number) {
      for (let i = 0; i < n; i++) yield i;
    });
    const seen: number[] = [];
    for await (const v of count(3)) seen.push(v as number);
    expect(seen).toEqual([0, 1, 2]);
    const call = one(await all(), 'count');
    expect(call.status).toBe('ok');
    expect(call.output).toEqual([0, 1, 2]);
    expect(call.inputs).toEqual({ n: 3 });
  });
});
