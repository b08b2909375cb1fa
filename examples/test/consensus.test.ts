import { describe, expect, it } from 'vitest';
import { main, normalise } from '../consensus.ts';

describe('examples/consensus.ts', () => {
  it('asks four providers in their own wire formats and takes the majority', async () => {
    const lines: string[] = [];
    const result = await main((line) => lines.push(line));
    expect(result.votes).toEqual({ openai: '8', anthropic: '8', gemini: '8', ollama: '7' });
    expect(result.failed).toEqual({});
    expect(result.winner).toBe('8');
    expect(result.agreement).toEqual([3, 4]);
    // One request each, to each provider's own endpoint.
    expect(result.requests.openai).toEqual(['/v1/chat/completions']);
    expect(result.requests.anthropic).toEqual(['/v1/messages']);
    expect(result.requests.gemini).toEqual(['/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse']);
    expect(result.requests.ollama).toEqual(['/api/chat']);
    expect(lines).toContain('consensus: 8 (3 of 4 answers agree)');
    expect(lines).toContain('  dissent: ollama said 7');
  });

  it('lets a failing provider abstain instead of failing the vote', async () => {
    const lines: string[] = [];
    const result = await main((line) => lines.push(line), { failing: 'gemini' });
    expect(result.failed.gemini).toMatch(/500/);
    expect(result.votes).toEqual({ openai: '8', anthropic: '8', ollama: '7' });
    expect(result.winner).toBe('8');
    expect(result.agreement).toEqual([2, 3]);
    expect(result.requests.gemini).toHaveLength(1); // maxRetries: 0, so no retry
    expect(lines.some((l) => l.includes('gemini') && l.includes('failed, abstains'))).toBe(true);
  });

  it('normalises free-text answers to a vote', () => {
    expect(normalise('There are eight bits in a byte.')).toBe('8');
    expect(normalise('A byte has 8 bits.')).toBe('8');
    expect(normalise('  Octet ')).toBe('octet');
  });
});
