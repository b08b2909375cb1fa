// The tracing example (Weave's examples ported) runs and records what it says.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toArray } from '@reactivex/ix-esnext-esm/asynciterable/toarray';
import { initTracing } from '@sluice/sdk';
import { expect, it } from 'vitest';
import { main } from '../tracing.ts';

it('runs the tracing example: ops, concurrent runs, a streaming call, objects, feedback, queries', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-tracing-example-'));
  try {
    const lines: string[] = [];
    const result = await main({ dir, log: (l) => lines.push(l) });
    expect(result.annotated).toEqual(['my name is ada [name]', 'the night is young [night]', 'nobody came [nobody]']);
    expect(result.answer).toBe('Streams are sequences over time.');
    expect(result.roots).toBe(4); // three annotate runs and one ask
    expect(lines.at(-1)).toBe(`trace in ${dir}: open it with pnpm exec sluice-trace ${dir}`);
    await using again = await initTracing({ store: dir, project: 'examples' });
    const extracts = await toArray(again.calls({ op: 'extract' }));
    expect(extracts.map((c) => c.displayName)).toEqual(['extract name', 'extract name', 'extract name']);
    const annotate = await toArray(again.calls({ op: 'annotate' }));
    expect(new Set(extracts.map((c) => c.parentId))).toEqual(new Set(annotate.map((c) => c.id)));
    const [ask] = await toArray(again.calls({ op: 'ask' }));
    expect(ask!.feedback.map((f) => f.type)).toEqual(['thumbs']);
    expect(ask!.summary.usage?.outputTokens).toBeGreaterThan(0);
    expect(await again.get(result.v1)).toEqual({ template: 'Summarize: {text}', temperature: 0 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
