import { ProcessorTimeoutError } from '@sluice/processors';
import { describe, expect, it } from 'vitest';
import { ANSWER, main } from '../retry-timeout.ts';

describe('examples/retry-timeout.ts', () => {
  it('retries 503s after Retry-After, times out a stalled stream, and resumes it under retry()', async () => {
    const lines: string[] = [];
    const { overloaded, stalled, resumed } = await main((line) => lines.push(line), {
      retryAfterSeconds: 0.1,
      idleMs: 150,
    });

    // 1. Two 503s, each retried after exactly the Retry-After the server sent, then the answer.
    expect(overloaded.text).toBe(ANSWER);
    expect(overloaded.requests).toBe(3);
    expect(overloaded.retryDelaysMs).toEqual([100, 100]);
    expect(overloaded.elapsedMs).toBeGreaterThanOrEqual(200);

    // 2. Three tokens, then the idle limit fires and the socket is closed.
    expect(stalled.tokens.join('')).toBe('A sluice gate');
    expect(stalled.error).toBeInstanceOf(ProcessorTimeoutError);
    expect(stalled.error).toMatchObject({ code: 'E_TIMEOUT', limit: 'idleMs', ms: 150 });
    expect(stalled.connectionClosed).toBe(true);
    expect(stalled.elapsedMs).toBeGreaterThanOrEqual(150);

    // 3. Resumed with the text so far as a prefill; the reader sees the answer once.
    expect(resumed.requests).toBe(2);
    expect(resumed.prefill).toBe('A sluice gate');
    expect(resumed.text).toBe(ANSWER);

    expect(lines.filter((l) => l.includes('retrying in 100 ms'))).toHaveLength(2);
    expect(lines.some((l) => l.includes('ProcessorTimeoutError (E_TIMEOUT, idleMs)'))).toBe(true);
  });
});
