// jsonOutput(): parses a model's text as JSON (fences and prose tolerated),
// validates it with zod, and fails with an error quoting the output.

import { readJSON, statusPart, textPart } from '@sluice/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { fakeModel } from '../src/models/fake.ts';
import { extractJSON, JSONOutputError, jsonOutput } from '../src/text/json-output.ts';

const Person = z.object({ name: z.string(), age: z.number() });

describe('jsonOutput', () => {
  it('parses streamed JSON into one jsonPart of the validated value', async () => {
    const pipeline = fakeModel({ reply: ['{"name": ', '"Ada", ', '"age": 36}'] }).pipe(
      jsonOutput(Person, { type: 'Person' }),
    );
    const parts = await pipeline('who?').gather();
    const json = parts.filter((p) => p.substream === '');
    expect(json).toHaveLength(1);
    expect(json[0].mimetype).toBe('application/json; type=Person');
    expect(json[0].role).toBe('model');
    expect(readJSON(json[0], Person)).toEqual({ name: 'Ada', age: 36 });
    expect(parts.some((p) => p.substream === 'status')).toBe(true);
  });

  it('tolerates code fences and prose around the value', async () => {
    const reply = 'Sure! Here it is:\n```json\n{"name": "Bo", "age": 7}\n```\nAnything else?';
    const [value] = await jsonOutput(Person)([textPart(reply, { role: 'model' })]).gather();
    expect(JSON.parse(value.text!)).toEqual({ name: 'Bo', age: 7 });
    expect(extractJSON('The answer is {"a": [1, 2]} as requested.')).toBe('{"a": [1, 2]}');
    expect(extractJSON('```\n[1,2]\n```')).toBe('[1,2]');
  });

  it('fails with JSONOutputError quoting invalid output', async () => {
    const error = await jsonOutput(Person)([textPart('{"name": "Ada", age: }', { role: 'model' })])
      .gather()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JSONOutputError);
    expect((error as JSONOutputError).code).toBe('E_JSON_OUTPUT');
    expect((error as Error).message).toContain('not valid JSON');
    expect((error as Error).message).toContain('{\\"name\\": \\"Ada\\", age: }');
    expect((error as JSONOutputError).output).toBe('{"name": "Ada", age: }');
  });

  it('fails naming the fields that do not match the schema', async () => {
    const error = await jsonOutput(Person)([textPart('{"name": 5, "age": 1}', { role: 'model' })])
      .gather()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JSONOutputError);
    expect((error as Error).message).toContain('name:');
    expect((error as JSONOutputError).issues[0].path).toEqual(['name']);
  });

  it('passes other parts through and fails clearly on empty input', async () => {
    const reasoning = textPart('hmm', { substream: 'reasoning', role: 'model' });
    const parts = await jsonOutput(z.array(z.number()))([reasoning, textPart('[1,2]', { role: 'model' })]).gather();
    expect(parts.map((p) => p.text)).toEqual(['hmm', '[1,2]']);
    await expect(jsonOutput(Person)([statusPart('only status')]).gather()).rejects.toBeInstanceOf(JSONOutputError);
  });
});
