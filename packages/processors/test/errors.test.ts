// The typed errors: class per status, provider error bodies read into
// type/code/requestId, hints, and redaction of secrets.

import { describe, expect, it } from 'vitest';
import {
  APIConnectionError,
  APIError,
  APITimeoutError,
  AuthenticationError,
  BadRequestError,
  InternalServerError,
  NotFoundError,
  PermissionError,
  parseErrorBody,
  RateLimitError,
  redact,
} from '../src/http/errors.ts';
import { mapTransportError, statusError } from '../src/http/transport.ts';

const request = { url: 'http://127.0.0.1:1/v1/chat/completions', provider: 'openai', secrets: ['sk-secret-123'] };

describe('statusError', () => {
  it('maps statuses to classes', () => {
    const cases: [number, typeof APIError][] = [
      [400, BadRequestError],
      [401, AuthenticationError],
      [403, PermissionError],
      [404, NotFoundError],
      [429, RateLimitError],
      [500, InternalServerError],
      [529, InternalServerError],
    ];
    for (const [status, ErrorClass] of cases) {
      const error = statusError(request, status, {}, '{}');
      expect(error, String(status)).toBeInstanceOf(ErrorClass);
      expect(error).toBeInstanceOf(APIError);
      expect(error.status).toBe(status);
      expect(error.name).toBe(ErrorClass.name);
    }
  });

  it('reads the OpenAI error body, the request id header, and adds a hint naming the key variable', () => {
    const error = statusError(
      request,
      401,
      { 'x-request-id': 'req_42' },
      JSON.stringify({
        error: {
          message: 'Incorrect API key provided: sk-secret-123',
          type: 'invalid_request_error',
          code: 'invalid_api_key',
        },
      }),
    );
    expect(error).toMatchObject({
      status: 401,
      type: 'invalid_request_error',
      code: 'E_AUTH',
      providerCode: 'invalid_api_key',
      requestId: 'req_42',
    });
    expect(error.hint).toContain('OPENAI_API_KEY');
    expect(error.message).toContain('req_42');
    expect(error.message).not.toContain('sk-secret-123');
    expect(JSON.stringify(error.body)).not.toContain('sk-secret-123');
  });

  it('keeps a non-JSON body as the message', () => {
    const error = statusError(request, 502, {}, '<html>Bad gateway</html>');
    expect(error.message).toContain('<html>Bad gateway</html>');
  });
});

describe('parseErrorBody', () => {
  it('reads every provider shape', () => {
    expect(
      parseErrorBody({ type: 'error', error: { type: 'not_found_error', message: 'model: x' }, request_id: 'req_1' }),
    ).toEqual({
      type: 'not_found_error',
      message: 'model: x',
      requestId: 'req_1',
    });
    expect(parseErrorBody([{ error: { code: 429, message: 'quota', status: 'RESOURCE_EXHAUSTED' } }])).toEqual({
      message: 'quota',
      type: 'RESOURCE_EXHAUSTED',
      providerCode: '429',
      status: 429,
    });
    expect(parseErrorBody({ error: 'model "x" not found, try pulling it first' })).toEqual({
      message: 'model "x" not found, try pulling it first',
    });
    expect(parseErrorBody('plain')).toEqual({ message: 'plain' });
    expect(parseErrorBody(null)).toEqual({});
  });
});

describe('mapTransportError', () => {
  const timeouts = { connectTimeoutMs: 10, headersTimeoutMs: 20, idleTimeoutMs: 30 };

  it('names the timeout that fired', () => {
    const cases = [
      ['UND_ERR_CONNECT_TIMEOUT', 'connectTimeoutMs', '10 ms'],
      ['UND_ERR_HEADERS_TIMEOUT', 'headersTimeoutMs', '20 ms'],
      ['UND_ERR_BODY_TIMEOUT', 'idleTimeoutMs', '30 ms'],
    ] as const;
    for (const [code, name, ms] of cases) {
      const error = mapTransportError(Object.assign(new Error('t'), { code }), {
        request,
        timeouts,
      }) as APITimeoutError;
      expect(error).toBeInstanceOf(APITimeoutError);
      expect(error).toBeInstanceOf(APIConnectionError);
      expect(error.timeout).toBe(name);
      expect(error.code).toBe('E_TIMEOUT');
      expect(error.providerCode).toBe(code);
      expect(error.message).toContain(name);
      expect(error.message).toContain(ms);
    }
  });

  it('passes the abort reason through unchanged', () => {
    const controller = new AbortController();
    const reason = new Error('user stop');
    controller.abort(reason);
    expect(mapTransportError(new Error('aborted'), { request, timeouts, signal: controller.signal })).toBe(reason);
  });

  it('redacts secrets from connection error messages', () => {
    const error = mapTransportError(new Error('failed with sk-secret-123'), { request, timeouts }) as APIError;
    expect(error).toBeInstanceOf(APIConnectionError);
    expect(error.message).not.toContain('sk-secret-123');
  });
});

describe('redact', () => {
  it('replaces secrets deep inside values and leaves other values alone', () => {
    expect(redact({ a: ['x sk-1234 y', 3], b: { c: 'sk-1234' } }, ['sk-1234'])).toEqual({
      a: ['x [redacted] y', 3],
      b: { c: '[redacted]' },
    });
  });
});
