import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { startRedisServer } from '@sluice/processors/testing';
import { afterEach, describe, expect, it } from 'vitest';

const children: ChildProcess[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** Runs an example file with tsx; resolves its stdout when `until` is printed (or at exit). */
function run(file: string, env: Record<string, string>) {
  const child = spawn(process.execPath, ['--import', 'tsx', file], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    out += String(chunk);
  });
  return {
    child,
    output: () => out,
    printed: (text: string) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!out.includes(text)) return false;
          resolve();
          return true;
        };
        if (check()) return;
        child.stdout!.on('data', check);
        child.once('exit', () => reject(new Error(`${file} exited before printing ${text}: ${out}`)));
      }),
  };
}

describe('examples/distributed (a caller and two workers on one Redis)', () => {
  it('the caller prints every line in title case, in input order, done by both workers', async () => {
    const server = await startRedisServer();
    cleanups.push(() => server.close());
    const env = { REDIS_URL: server.url };
    const workers = [run('examples/distributed/worker.ts', env), run('examples/distributed/worker.ts', env)];
    await Promise.all(workers.map((w) => w.printed("serving 'headline'")));
    const caller = run('examples/distributed/caller.ts', env);
    const [code] = await once(caller.child, 'exit');
    expect(code).toBe(0);
    const lines = caller.output().split('\n').filter(Boolean);
    const results = lines.filter((l) => !l.startsWith('  ('));
    expect(results.map((l) => l.replace(/ \[.*$/, ''))).toEqual([
      'Sluice Gates Control The Flow',
      'Parts Stream From Worker Processes',
      'Order Is Rebuilt At The Caller',
      'A Dead Worker Is Replaced After ClaimIdleMs',
      'Break Stops Every Part Everywhere',
      'Redis Streams Carry It All',
    ]);
    expect(results[0]).toMatch(/\[5 words, worker \d+\]$/);
    // Status parts from the workers reach the caller too.
    expect(lines.filter((l) => l.startsWith('  (worker '))).toHaveLength(6);
    const pids = new Set(results.map((l) => /worker (\d+)\]$/.exec(l)![1]));
    expect(pids).toEqual(new Set(workers.map((w) => String(w.child.pid))));
    // Ctrl-C (SIGINT) finishes and leaves.
    for (const w of workers) w.child.kill('SIGINT');
    for (const w of workers) await w.printed('left');
  });
});
