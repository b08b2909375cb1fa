// jsonlStore: several processes writing one folder lose nothing; a torn last line is skipped; an
// unwritable folder does not break the pipeline. And the Weave surface over it: queries, objects
// (content-addressed versions), tables, feedback, deletes.
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toArray } from '@reactivex/ix-esnext-esm/asynciterable/toarray';
import { type Part, partProcessor, textPart } from '@sluice/core';
import { initTracing, jsonlStore, TraceError, traced } from '@sluice/sdk';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-traces-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const upper = partProcessor((p: Part) => textPart(p.text!.toUpperCase()), { name: 'upper' });

function child(tag: string, count: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const proc = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, 'fixtures/trace-writer.ts'), dir, tag, String(count)],
      {
        stdio: ['ignore', 'inherit', 'inherit'],
      },
    );
    proc.on('error', reject);
    proc.on('exit', (code) => resolve(code ?? -1));
  });
}

describe('jsonlStore', () => {
  it('two child processes writing one folder lose nothing', async () => {
    const codes = await Promise.all([child('a', 150), child('b', 150)]);
    expect(codes).toEqual([0, 0]);
    expect(readdirSync(dir).filter((n) => n.endsWith('.jsonl'))).toHaveLength(2);
    const tracing = await initTracing({ store: dir, project: 'shared' });
    try {
      for (const tag of ['a', 'b']) {
        const roots = await toArray(tracing.calls({ op: `outer-${tag}` }));
        expect(roots).toHaveLength(150);
        expect(roots.every((c) => c.status === 'ok' && c.summary.children === 1)).toBe(true);
        expect(new Set(roots.map((c) => (c.inputs as { parts: { text: string }[] }).parts[0]!.text)).size).toBe(150);
        expect(await tracing.get(`sluice:///shared/object/obj-${tag}:latest`)).toEqual({ tag });
      }
      const inner = await toArray(tracing.calls({ op: 'inner' }));
      expect(inner).toHaveLength(300);
      expect(inner.every((c) => c.parentId !== undefined)).toBe(true);
    } finally {
      await tracing.close();
    }
  }, 30_000);

  it('skips a torn last line and keeps everything flushed', async () => {
    const first = await initTracing({ store: dir });
    await traced(upper, { name: 'kept' })(['a']).gather();
    await first.close();
    const [file] = readdirSync(dir);
    const lines = readFileSync(join(dir, file!), 'utf8').trimEnd().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(2);
    // A crash mid-write: half a record at the end of another process's file.
    writeFileSync(join(dir, 'crashed.jsonl'), `${lines[lines.length - 1]}\n`);
    appendFileSync(join(dir, 'crashed.jsonl'), lines[0]!.slice(0, 40));
    const again = await initTracing({ store: dir });
    try {
      const calls = await toArray(again.calls());
      expect(calls.map((c) => [c.op, c.status])).toEqual([['kept', 'ok']]);
      expect((calls[0]!.output as { parts: { text: string }[] }).parts[0]!.text).toBe('A');
    } finally {
      await again.close();
    }
  });

  it('an unwritable folder does not break the pipeline: output intact, no throw, one warning', async () => {
    const file = join(dir, 'not-a-folder');
    writeFileSync(file, 'x');
    const warnings: string[] = [];
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    const store = jsonlStore(join(file, 'traces'), { onWarning: (m) => warnings.push(m), flushIntervalMs: 1 });
    const tracing = await initTracing({ store });
    try {
      const p = traced(upper, { name: 'upper' });
      for (let i = 0; i < 5; i++) expect((await p(['a', 'b']).gather()).map((x) => x.text)).toEqual(['A', 'B']);
      await tracing.flush();
      expect(store.stats.errors).toBeGreaterThan(0);
      expect(store.stats.written).toBe(0);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain('cannot write');
    } finally {
      await tracing.close();
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
  });

  it('a full queue drops records, counts them and warns once, without blocking', async () => {
    const warnings: string[] = [];
    const store = jsonlStore(dir, { maxQueued: 10, onWarning: (m) => warnings.push(m) });
    const tracing = await initTracing({ store });
    try {
      const p = traced(upper, { name: 'many' });
      for (let i = 0; i < 20; i++) await p(['x']).gather();
      expect(store.stats.dropped).toBe(30); // 40 call records (start and end), 10 queued
      expect(warnings).toHaveLength(1);
      await tracing.flush();
      expect(store.stats.written).toBe(10);
    } finally {
      await tracing.close();
    }
  });

  it('calls started in the same millisecond keep their start order in queries', async () => {
    const now = vi.spyOn(Date, 'now').mockReturnValue(1_700_000_000_000);
    try {
      await using tracing = await initTracing({ store: dir, project: 'ties' });
      const p = traced(upper, { name: 'tie' });
      for (const word of ['a', 'b', 'c', 'd']) await p([word]).gather();
      const texts = (calls: { inputs: unknown }[]) =>
        calls.map((c) => (c.inputs as { parts: { text: string }[] }).parts[0]!.text);
      expect(texts(await toArray(tracing.calls({ op: 'tie', sort: 'startedAt' })))).toEqual(['a', 'b', 'c', 'd']);
      expect(texts(await toArray(tracing.calls({ op: 'tie' })))).toEqual(['d', 'c', 'b', 'a']);
    } finally {
      now.mockRestore();
    }
  });

  it('queries, objects, tables, feedback and deletes', async () => {
    await using tracing = await initTracing({ store: dir, project: 'weave' });
    const p = traced(upper, { name: 'upper' });
    const outer = traced(p, { name: 'outer' });
    await outer(['one']).gather();
    await outer(['two']).gather();
    const roots = await toArray(tracing.calls({ rootsOnly: true }));
    expect(roots.map((c) => c.op)).toEqual(['outer', 'outer']);
    expect(roots[0]!.startedAt).toBeGreaterThanOrEqual(roots[1]!.startedAt);
    const oldest = await toArray(tracing.calls({ rootsOnly: true, sort: 'startedAt', limit: 1 }));
    expect((oldest[0]!.inputs as { parts: { text: string }[] }).parts[0]!.text).toBe('one');
    const children = await toArray(tracing.calls({ parentId: oldest[0]!.id }));
    expect(children.map((c) => c.op)).toEqual(['upper']);
    expect(await toArray(tracing.calls({ status: 'error' }))).toEqual([]);
    expect(await toArray(tracing.calls({ op: ['upper', 'outer'], offset: 1, limit: 2 }))).toHaveLength(2);

    const v1 = await tracing.save({ prompt: 'Hi {name}', temperature: 0 }, 'prompt');
    const same = await tracing.save({ temperature: 0, prompt: 'Hi {name}' }, 'prompt');
    expect(same).toBe(v1);
    expect(v1).toMatch(/^sluice:\/\/\/weave\/object\/prompt:[0-9a-f]{32}$/);
    const v2 = await tracing.save({ prompt: 'Hello {name}', temperature: 0 }, 'prompt');
    expect(v2).not.toBe(v1);
    expect(await tracing.get(v1)).toEqual({ prompt: 'Hi {name}', temperature: 0 });
    expect((await toArray(tracing.objects({ name: 'prompt' }))).map((o) => o.ref)).toEqual([v1, v2]);
    expect((await toArray(tracing.objects({ latestOnly: true }))).map((o) => o.ref)).toEqual([v2]);
    const rows = [
      { q: '1+1', a: 2 },
      { q: '2+2', a: 4 },
    ];
    const table = await tracing.table('evals', rows);
    expect(await tracing.get(table)).toEqual(rows);

    const fb = await tracing.feedback(oldest[0]!, 'thumbs', { up: true });
    expect(fb).toMatchObject({ callId: oldest[0]!.id, type: 'thumbs', payload: { up: true } });
    expect((await tracing.call(oldest[0]!.id))!.feedback.map((f) => f.type)).toEqual(['thumbs']);

    await tracing.deleteCall(oldest[0]!.id);
    expect(await tracing.call(oldest[0]!.id)).toBeUndefined();
    expect(await tracing.call(children[0]!.id)).toBeUndefined();
    expect(await toArray(tracing.calls({ op: 'upper' }))).toHaveLength(1);

    await tracing.deleteObject(v1);
    const missing = await tracing.get(v1).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(TraceError);
    expect(missing).toMatchObject({ code: 'E_NOT_FOUND' });
    await expect(tracing.get('sluice:///weave/object/nothing:abc')).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    await expect(tracing.feedback('0000000000000000', 'x')).rejects.toMatchObject({ code: 'E_NOT_FOUND' });

    // Everything flushed is there after a reopen, deletes included.
    await tracing.flush();
    const reopened = await initTracing({ store: dir, project: 'weave' });
    try {
      expect(await toArray(reopened.calls({ rootsOnly: true }))).toHaveLength(1);
      expect(await reopened.get(v2)).toEqual({ prompt: 'Hello {name}', temperature: 0 });
      await expect(reopened.get(v1)).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
      const [kept] = await toArray(reopened.calls({ rootsOnly: true }));
      expect(kept!.feedback).toEqual([]);
    } finally {
      await reopened.close();
    }
  });

  it('binary parts are kept as blobs by digest, within maxCapturedBytes', async () => {
    const tracing = await initTracing({ store: dir, maxCapturedBytes: 100 });
    try {
      const image = partProcessor((p: Part) => p, { name: 'image' });
      const bytes = new Uint8Array([137, 80, 78, 71, 1, 2, 3]);
      const { part } = await import('@sluice/core');
      await traced(image)([part(bytes, { mimetype: 'image/png' }), 'x'.repeat(200)]).gather();
      const [call] = await toArray(tracing.calls());
      const inputs = call!.inputs as { parts: { blob?: string; bytes?: number }[]; truncated?: boolean; count: number };
      expect(inputs.parts[0]).toMatchObject({ bytes: 7 });
      expect(inputs.parts[0]!.blob).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(inputs.truncated).toBe(true);
      expect(inputs.count).toBe(2);
      const index = await tracing.store.index();
      expect(Buffer.from(index.blobs.get(inputs.parts[0]!.blob!)!.data, 'base64')).toEqual(Buffer.from(bytes));
    } finally {
      await tracing.close();
    }
  });
});
