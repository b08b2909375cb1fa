import { describe, expect, it } from 'vitest';
import { errorFromJSON, errorToJSON, NDJSONError, SluiceError } from '../src/index.ts';

describe('the error dialect', () => {
  it('keeps name, message, code, hint, stack and primitive fields across JSON and back', () => {
    class WidgetError extends SluiceError {
      override name = 'WidgetError';
      readonly status = 503;
      readonly providerCode = 'overloaded';
      readonly body = { nested: true };
    }
    const original = new WidgetError('E_WIDGET', 'widget: expected 3 teeth, found 2', { hint: 'file it down' });
    const wire = JSON.parse(JSON.stringify(original));
    expect(wire).toMatchObject({
      name: 'WidgetError',
      message: 'widget: expected 3 teeth, found 2',
      code: 'E_WIDGET',
      hint: 'file it down',
      data: { status: 503, providerCode: 'overloaded' },
    });
    expect(wire.data.body).toBeUndefined();
    const revived = errorFromJSON(wire);
    expect(revived).toBeInstanceOf(Error);
    expect(revived.name).toBe('WidgetError');
    expect(revived.message).toBe(original.message);
    expect(revived.code).toBe('E_WIDGET');
    expect(revived.hint).toBe('file it down');
    expect(revived.stack).toBe(original.stack);
    expect(revived.status).toBe(503);
  });

  it('leaves code absent for foreign errors and wraps non-errors', () => {
    const revived = errorFromJSON(errorToJSON(new TypeError('bad')));
    expect(revived.name).toBe('TypeError');
    expect('code' in revived).toBe(false);
    expect(errorToJSON('plain')).toEqual({ name: 'Error', message: 'plain' });
    expect(errorToJSON(new NDJSONError(3, 'x', new Error('no'))).code).toBe('E_NDJSON');
  });

  it('refuses a form without name and message', () => {
    expect(() => errorFromJSON({ message: 'x' } as never)).toThrow(TypeError);
  });
});
