// fakeModel reports usage in the same shape as the real model processors, so code written
// against a fake (totals, cost estimates) keeps working against a real model.

import { describe, expect, it } from 'vitest';
import { fakeModel } from '../src/models/fake.ts';
import { openai } from '../src/models/openai.ts';
import { useServer } from './model-suite.ts';

describe('fakeModel usage', () => {
  const start = useServer('openai');

  it('reports totalTokens = inputTokens + outputTokens, with the same fields as a real model', async () => {
    const fake = await fakeModel({ reply: 'Hello brave new world' })('one two three').gather();
    const usage = fake.at(-1)!.metadata.usage;
    expect(usage).toEqual({ inputTokens: 3, outputTokens: 4, totalTokens: 7 });

    const server = await start({ reply: ['Hi', ' there'] });
    const real = await openai({ model: 'm', baseURL: server.baseURL, apiKey: 'k' })('one two').gather();
    const realUsage = real.at(-1)!.metadata.usage as Record<string, number>;
    expect(Object.keys(usage as object).sort()).toEqual(Object.keys(realUsage).sort());
  });
});
