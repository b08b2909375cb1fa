// Errors of the sdk itself. HTTP failures of the registry are the processors'
// transport errors (APIError and its subclasses), re-exported from index.ts,
// so one `instanceof AuthenticationError` works for models and the registry.

import { SluiceError } from '@sluice/processors';

/** Codes carried by the sdk's own errors; stable, safe to switch on. */
export type SDKErrorCode = 'E_MISSING_API_KEY' | 'E_CONFIG' | 'E_SESSION_BUSY' | 'E_CLOSED';

/** Base class of the sdk's own errors: `code` is stable, `hint` says what to do. */
export class SDKError extends SluiceError {
  override name = 'SDKError';
  declare readonly code: SDKErrorCode;
  constructor(code: SDKErrorCode, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(code, options.hint ? `${message} (${options.hint})` : message, options);
  }
}

/** A provider or the registry needs an API key and none was given nor found in its environment variable. */
export class MissingAPIKeyError extends SDKError {
  override name = 'MissingAPIKeyError';
  /** The environment variables that were read, first one preferred, e.g. ['GEMINI_API_KEY', 'GOOGLE_API_KEY']; empty when none was. */
  readonly variables: readonly string[];
  constructor(who: string, variables: readonly string[]) {
    if (variables.length === 0) {
      super('E_MISSING_API_KEY', `${who}: no API key was given`, { hint: 'pass the apiKey option' });
    } else {
      const names = variables.length === 1 ? variables[0] : `${variables[0]} (or ${variables.slice(1).join(', ')})`;
      super('E_MISSING_API_KEY', `${who}: no API key: the ${names} environment variable is not set`, {
        hint: `set ${variables[0]} or pass the apiKey option`,
      });
    }
    this.variables = variables;
  }
}

/** An option is missing or invalid (e.g. 'openai-compatible' without a baseURL). */
export class ConfigError extends SDKError {
  override name = 'ConfigError';
  constructor(message: string, hint?: string) {
    super('E_CONFIG', message, { hint });
  }
}

/** A session turn was started while another one is still running. */
export class SessionBusyError extends SDKError {
  override name = 'SessionBusyError';
  constructor() {
    super('E_SESSION_BUSY', 'session: a turn is already in progress; a session answers one prompt at a time', {
      hint: 'await the previous generate() or read its stream to the end (or stop it) first; use separate sessions for parallel conversations',
    });
  }
}

/** The LLM or Client was closed: the reason runs stop with, and what later calls throw. */
export class ClosedError extends SDKError {
  override name = 'ClosedError';
  /**
   * `what` names the closed object ('the Client', 'the LLM openai:gpt-4o'); `remedy` says how to
   * get a new one ('new Client()', 'createLLM()').
   */
  constructor(what: string, remedy: string) {
    super('E_CLOSED', `${what} was closed`, { hint: `make a new one with ${remedy} to make more calls` });
  }
}
