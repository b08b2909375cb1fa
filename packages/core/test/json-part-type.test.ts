import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { jsonPart, jsonPartType, jsonTypeOf, PartError, textPart } from '../src/index.ts';

const Point = jsonPartType('Point', z.object({ x: z.number(), y: z.number() }));

describe('jsonPartType', () => {
  it('makes, recognises and reads its own parts', () => {
    const p = Point.make({ x: 1, y: 2 }, { role: 'model' });
    expect(p.mimetype).toBe('application/json; type=Point');
    expect(p.role).toBe('model');
    expect(Point.is(p)).toBe(true);
    expect(Point.read(p)).toEqual({ x: 1, y: 2 });
  });

  it('matches the type exactly: a longer name, another type or plain JSON is not it', () => {
    expect(Point.is(jsonPart({ x: 1, y: 2 }, { type: 'PointX' }))).toBe(false);
    expect(Point.is(jsonPart({ x: 1, y: 2 }, { type: 'Poin' }))).toBe(false);
    expect(Point.is(jsonPart({ x: 1, y: 2 }))).toBe(false);
    expect(Point.is(textPart('type=Point'))).toBe(false);
    expect(Point.is(textPart('{}', { mimetype: 'application/json; charset=utf-8; type="Point"' }))).toBe(true);
  });

  it('refuses a value the schema refuses, on make and on read, with PartError E_PART', () => {
    expect(() => Point.make({ x: 1 } as never)).toThrow(PartError);
    const wrong = jsonPart({ x: 'one', y: 2 }, { type: 'Point' });
    const error = (() => {
      try {
        Point.read(wrong);
      } catch (e) {
        return e as PartError;
      }
    })();
    expect(error).toBeInstanceOf(PartError);
    expect(error?.code).toBe('E_PART');
    expect(() => Point.read(jsonPart({ x: 1, y: 2 }, { type: 'Other' }))).toThrow(/expected a part of mimetype/);
  });

  it('jsonTypeOf reads the type parameter', () => {
    expect(jsonTypeOf('application/json')).toBe('');
    expect(jsonTypeOf('application/json; type=A')).toBe('A');
    expect(jsonTypeOf('Application/JSON;TYPE="B"')).toBe('B');
    expect(jsonTypeOf('text/plain; type=A')).toBeUndefined();
  });

  it('refuses a type name that would break the mimetype', () => {
    expect(() => jsonPartType('a; b', z.unknown())).toThrow(TypeError);
  });
});
