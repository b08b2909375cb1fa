// Gemini streamGenerateContent with `alt=sse`: CRLF-framed SSE without a
// terminator; each event a GenerateContentResponse whose candidate parts hold
// text, thoughts (`thought: true`) or whole `functionCall`s; `usageMetadata`
// repeated (cumulative) on every event, so the last one wins; `finishReason`
// on the last candidate; `promptFeedback.blockReason` for blocked prompts.

import type { Part } from '@sluice/core';
import { API_KEY_ENV, parseErrorBody } from '../../http/errors.ts';
import { count, field, type ModelEvent, type StreamDecoder, type Usage, usageOf } from '../events.ts';
import { base64Of, resultText, type ToolSpec, toConversation, toolParameters } from '../messages.ts';
import { joinURL, type ModelOptions, stopList } from '../options.ts';
import { jsonModelCall, type ModelCall } from '../run.ts';

type Content = { role: 'user' | 'model'; parts: Record<string, unknown>[] };

function functionResponse(result: unknown): Record<string, unknown> {
  if (result !== null && typeof result === 'object' && !Array.isArray(result)) return result as Record<string, unknown>;
  return { result: typeof result === 'string' ? result : resultText(result) };
}

/** The `systemInstruction` and `contents` for the input parts (tool results as `functionResponse` in user turns). */
export function geminiContents(
  parts: readonly Part[],
  system?: string,
): { systemInstruction: { parts: { text: string }[] } | undefined; contents: Content[] } {
  // Parts with a thought signature go back even when their text is empty (Gemini puts signatures there).
  const conversation = toConversation(
    parts,
    system,
    (part) => part.substream === '' && typeof part.metadata.thoughtSignature === 'string',
  );
  const contents: Content[] = [];
  for (const turn of conversation.turns) {
    const role = turn.role === 'assistant' ? 'model' : 'user';
    const mapped = turn.parts.map((part): Record<string, unknown> => {
      // Gemini 3 rejects function-calling history whose calls lost their thought signature.
      const signature = part.metadata.thoughtSignature;
      const signed = typeof signature === 'string' ? { thoughtSignature: signature } : {};
      if (part.toolCall) {
        return { functionCall: { name: part.toolCall.name, args: part.toolCall.args ?? {} }, ...signed };
      }
      if (part.toolResult)
        return { functionResponse: { name: part.toolResult.name, response: functionResponse(part.toolResult.result) } };
      if (part.text !== undefined) return { text: part.text, ...signed };
      return { inlineData: { mimeType: part.mimetype, data: base64Of(part) }, ...signed };
    });
    const last = contents.at(-1);
    if (last && last.role === role) last.parts.push(...mapped);
    else contents.push({ role, parts: mapped });
  }
  return {
    systemInstruction: conversation.system === undefined ? undefined : { parts: [{ text: conversation.system }] },
    contents,
  };
}

function geminiSchema(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(geminiSchema);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    // Gemini's OpenAPI subset rejects these JSON Schema keywords.
    if (key === 'additionalProperties' || key === '$schema' || key === '$id') continue;
    out[key] = geminiSchema(value);
  }
  return out;
}

/** Gemini tool definitions. */
export function geminiTools(tools: readonly ToolSpec[]): unknown[] {
  return [
    {
      functionDeclarations: tools.map((tool) => ({
        name: tool.name,
        ...(tool.description ? { description: tool.description } : {}),
        parameters: geminiSchema(toolParameters(tool)),
      })),
    },
  ];
}

/** The request body for `streamGenerateContent`. */
export function geminiBody(parts: readonly Part[], options: ModelOptions): Record<string, unknown> {
  const { systemInstruction, contents } = geminiContents(parts, options.system);
  const generationConfig: Record<string, unknown> = {};
  if (options.temperature !== undefined) generationConfig.temperature = options.temperature;
  if (options.maxTokens !== undefined) generationConfig.maxOutputTokens = options.maxTokens;
  const stop = stopList(options.stop);
  if (stop) generationConfig.stopSequences = stop;
  if (options.logprobs !== undefined && options.logprobs !== false) {
    generationConfig.responseLogprobs = true;
    if (typeof options.logprobs === 'number') generationConfig.logprobs = options.logprobs;
  }
  const body: Record<string, unknown> = { contents };
  if (systemInstruction) body.systemInstruction = systemInstruction;
  if (Object.keys(generationConfig).length > 0) body.generationConfig = generationConfig;
  if (options.tools && options.tools.length > 0) body.tools = geminiTools(options.tools);
  if (options.toolChoice !== undefined) {
    body.toolConfig = {
      functionCallingConfig:
        typeof options.toolChoice === 'string'
          ? { mode: options.toolChoice === 'required' ? 'ANY' : options.toolChoice.toUpperCase() }
          : { mode: 'ANY', allowedFunctionNames: [options.toolChoice.name] },
    };
  }
  const extra = options.extraBody ?? {};
  const extraConfig = field(extra, 'generationConfig');
  return {
    ...body,
    ...extra,
    ...(extraConfig && typeof extraConfig === 'object'
      ? { generationConfig: { ...generationConfig, ...extraConfig } }
      : {}),
  };
}

const finishReasons: Record<string, string> = {
  STOP: 'stop',
  MAX_TOKENS: 'length',
  SAFETY: 'content_filter',
  RECITATION: 'content_filter',
  BLOCKLIST: 'content_filter',
  PROHIBITED_CONTENT: 'content_filter',
  SPII: 'content_filter',
  IMAGE_SAFETY: 'content_filter',
  MALFORMED_FUNCTION_CALL: 'error',
  OTHER: 'error',
};

/** A whole text part that is one base64 `data:` URL of an image (some gateways send images so). */
const DATA_URL = /^\s*data:(image\/[\w.+-]+);base64,([A-Za-z0-9+/=\s]+)$/;

/** The usage of a response: tool-use prompt tokens count as input, thoughts as output (so the totals add up). */
export function geminiUsage(meta: unknown): Usage {
  const prompt = count(field(meta, 'promptTokenCount')) ?? 0;
  const toolUse = count(field(meta, 'toolUsePromptTokenCount'));
  const candidates = count(field(meta, 'candidatesTokenCount')) ?? 0;
  const thoughts = count(field(meta, 'thoughtsTokenCount'));
  const inputTokens = prompt + (toolUse ?? 0);
  const outputTokens = candidates + (thoughts ?? 0);
  return usageOf({
    inputTokens,
    outputTokens,
    totalTokens: count(field(meta, 'totalTokenCount')) ?? inputTokens + outputTokens,
    cachedInputTokens: count(field(meta, 'cachedContentTokenCount')),
    reasoningTokens: thoughts,
    toolUsePromptTokens: toolUse,
  });
}

interface PendingCall {
  id: string | undefined;
  name: string;
  args: unknown;
  signature: string | undefined;
}

/** A call whose arguments stream in pieces (Vertex `streamFunctionCallArguments`). */
interface PartialCall extends PendingCall {
  args: Record<string, unknown>;
  /** The path whose string value continues in the next piece. */
  continuing: string | undefined;
}

/** The keys of an RFC 9535 path of names and indexes (`$.a.b[0]`, `$['a']`); undefined for other paths. */
function pathKeys(path: string): (string | number)[] | undefined {
  if (!path.startsWith('$')) return undefined;
  const keys: (string | number)[] = [];
  const re = /\.([A-Za-z_$][\w$-]*)|\[(\d+)\]|\[['"]([^'"]*)['"]\]/gy;
  re.lastIndex = 1;
  while (re.lastIndex < path.length) {
    const start = re.lastIndex;
    const match = re.exec(path);
    if (!match || match.index !== start) return undefined;
    keys.push(match[1] ?? (match[2] !== undefined ? Number(match[2]) : match[3]!));
  }
  return keys;
}

function setPath(root: Record<string, unknown>, keys: (string | number)[], value: unknown, append: boolean): void {
  let node: Record<string | number, unknown> = root;
  for (let i = 0; i < keys.length - 1; i++) {
    const key = keys[i]!;
    if (node[key] === null || typeof node[key] !== 'object') node[key] = typeof keys[i + 1] === 'number' ? [] : {};
    node = node[key] as Record<string | number, unknown>;
  }
  const last = keys[keys.length - 1]!;
  node[last] = append && typeof node[last] === 'string' && typeof value === 'string' ? node[last] + value : value;
}

function partialValue(arg: unknown): unknown {
  if (field(arg, 'stringValue') !== undefined) return field(arg, 'stringValue');
  if (field(arg, 'numberValue') !== undefined) return field(arg, 'numberValue');
  if (field(arg, 'boolValue') !== undefined) return field(arg, 'boolValue');
  return null;
}

function decodeBase64(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'base64'));
}

/**
 * A decoder for streamGenerateContent responses (the parsed SSE data, or each element of the
 * streamed JSON array). Text, thoughts and inline data stream as they arrive; function calls are
 * held to the end: one answered by a `functionResponse` in the same stream was run by the service
 * (server-tool events), the others are client tool calls, and only they make the finish reason
 * 'tool_calls'. `executableCode` / `codeExecutionResult` are server-tool events too. Thought
 * signatures ride along as `metadata.thoughtSignature`. A stream that ends before any candidate
 * has a finishReason is truncated (retryable).
 */
export function geminiDecoder(): StreamDecoder {
  let usage: Usage | undefined;
  let finishReason: string | undefined;
  let model: string | undefined;
  let responseId: string | undefined;
  const pending: PendingCall[] = [];
  let partial: PartialCall | undefined;
  let serverCalls = 0;
  let streamedCalls = 0;

  const unexpected = (message: string): ModelEvent => ({ type: 'error', unexpected: true, fields: { message } });

  /** Handles one `functionCall` part; returns an error event when it cannot be read. */
  const functionCall = (call: unknown, signature: string | undefined): ModelEvent | undefined => {
    const name = field(call, 'name');
    const id = field(call, 'id');
    const args = field(call, 'args');
    const pieces = field(call, 'partialArgs');
    const streaming = Array.isArray(pieces) || field(call, 'willContinue') === true || partial !== undefined;
    if (!streaming) {
      const empty = args === undefined || (args !== null && typeof args === 'object' && Object.keys(args).length === 0);
      // A bare `{}` after a streamed call is its closing marker, not a call.
      if ((typeof name !== 'string' || name === '') && empty && streamedCalls > 0) return undefined;
      if (typeof name !== 'string' || name === '') {
        return unexpected(
          'a functionCall part has no name (streamed function-call arguments without their first part?); ' +
            `got ${JSON.stringify(call)}`,
        );
      }
      pending.push({ id: typeof id === 'string' && id !== '' ? id : undefined, name, args: args ?? {}, signature });
      return undefined;
    }
    if (!partial) {
      if (typeof name !== 'string' || name === '') {
        return unexpected(`a streamed functionCall starts without a name: ${JSON.stringify(call)}`);
      }
      partial = { id: undefined, name, args: {}, signature, continuing: undefined };
    }
    if (typeof id === 'string' && id !== '') partial.id = id;
    if (signature !== undefined) partial.signature = signature;
    if (args !== null && typeof args === 'object') Object.assign(partial.args, args);
    for (const piece of Array.isArray(pieces) ? pieces : []) {
      const path = field(piece, 'jsonPath');
      const keys = typeof path === 'string' ? pathKeys(path) : undefined;
      if (!keys || keys.length === 0) {
        return unexpected(`a streamed functionCall argument has an unreadable jsonPath: ${JSON.stringify(piece)}`);
      }
      setPath(partial.args, keys, partialValue(piece), partial.continuing === path);
      partial.continuing = field(piece, 'willContinue') === true ? (path as string) : undefined;
    }
    if (field(call, 'willContinue') !== true) {
      const { continuing: _c, ...done } = partial;
      pending.push(done);
      partial = undefined;
      streamedCalls++;
    }
    return undefined;
  };

  /** A functionResponse in the stream: the matching held call was run by the service. */
  const functionResponse = (response: unknown): ModelEvent[] => {
    const id = field(response, 'id');
    const name = field(response, 'name');
    let index = pending.findIndex((call) => typeof id === 'string' && id !== '' && call.id === id);
    if (index < 0) index = pending.findIndex((call) => call.name === name);
    const call = index >= 0 ? pending.splice(index, 1)[0] : undefined;
    const callId = call?.id ?? (typeof id === 'string' && id !== '' ? id : `server_call_${serverCalls++}`);
    const toolName = String(name ?? call?.name ?? '');
    const out: ModelEvent[] = [];
    if (call) {
      out.push({
        type: 'serverTool',
        kind: 'call',
        id: callId,
        name: call.name,
        value: call.args,
        ...(call.signature ? { metadata: { thoughtSignature: call.signature } } : {}),
      });
    }
    out.push({
      type: 'serverTool',
      kind: 'result',
      id: callId,
      name: toolName,
      value: field(response, 'response') ?? null,
    });
    return out;
  };

  return {
    push(value) {
      if (field(value, 'error') !== undefined) return [{ type: 'error', fields: parseErrorBody(value) }];
      const out: ModelEvent[] = [];
      const version = field(value, 'modelVersion');
      if (typeof version === 'string' && version !== '') model = version;
      const id = field(value, 'responseId');
      if (typeof id === 'string' && id !== '') responseId = id;
      const candidates = field(value, 'candidates');
      const candidate = Array.isArray(candidates) ? candidates[0] : undefined;
      const parts = field(field(candidate, 'content'), 'parts');
      const logprobs = field(candidate, 'logprobsResult');
      let logprobsGiven = logprobs === undefined;
      if (Array.isArray(parts)) {
        for (const part of parts) {
          const rawSignature = field(part, 'thoughtSignature');
          const signature = typeof rawSignature === 'string' && rawSignature !== '' ? rawSignature : undefined;
          const metadata: Record<string, unknown> = signature ? { thoughtSignature: signature } : {};
          const text = field(part, 'text');
          const call = field(part, 'functionCall');
          const response = field(part, 'functionResponse');
          const inline = field(part, 'inlineData');
          const code = field(part, 'executableCode');
          const codeResult = field(part, 'codeExecutionResult');
          const dataURL = typeof text === 'string' ? DATA_URL.exec(text) : null;
          if (dataURL) {
            const meta = Object.keys(metadata).length > 0 ? { metadata } : {};
            out.push({ type: 'data', mimetype: dataURL[1]!, data: decodeBase64(dataURL[2]!), ...meta });
          } else if (typeof text === 'string') {
            const thought = field(part, 'thought') === true;
            if (!thought && !logprobsGiven) {
              metadata.logprobs = logprobs;
              logprobsGiven = true;
            }
            const meta = Object.keys(metadata).length > 0 ? { metadata } : {};
            if (text !== '' || signature) out.push({ type: thought ? 'reasoning' : 'text', text, ...meta });
          } else if (call !== undefined) {
            const error = functionCall(call, signature);
            if (error) return [...out, error];
          } else if (response !== undefined) {
            out.push(...functionResponse(response));
          } else if (inline !== undefined) {
            const mimetype = field(inline, 'mimeType');
            const data = field(inline, 'data');
            out.push({
              type: 'data',
              mimetype: typeof mimetype === 'string' ? mimetype : 'application/octet-stream',
              data: typeof data === 'string' ? decodeBase64(data) : new Uint8Array(),
              ...(Object.keys(metadata).length > 0 ? { metadata } : {}),
            });
          } else if (code !== undefined) {
            out.push({
              type: 'serverTool',
              kind: 'call',
              id: `code_${serverCalls}`,
              name: 'code_execution',
              value: code,
              ...(signature ? { metadata } : {}),
            });
          } else if (codeResult !== undefined) {
            out.push({
              type: 'serverTool',
              kind: 'result',
              id: `code_${serverCalls++}`,
              name: 'code_execution',
              value: codeResult,
            });
          } else if (
            part !== null &&
            typeof part === 'object' &&
            Object.keys(part).some((key) => key !== 'thoughtSignature')
          ) {
            out.push({ type: 'unknown', value: part });
          }
        }
      }
      const reason = field(candidate, 'finishReason');
      if (typeof reason === 'string' && reason !== 'FINISH_REASON_UNSPECIFIED') finishReason = reason;
      const blocked = field(field(value, 'promptFeedback'), 'blockReason');
      if (typeof blocked === 'string') finishReason = finishReason ?? 'SAFETY';
      const meta = field(value, 'usageMetadata');
      // Repeated on every event and cumulative: the last one wins.
      if (meta !== undefined) usage = geminiUsage(meta);
      return out;
    },
    end() {
      if (finishReason === undefined) {
        return [
          {
            type: 'error',
            truncated: true,
            fields: { message: 'the stream ended before any candidate had a finishReason (the connection was cut)' },
          },
        ];
      }
      if (partial) {
        return [unexpected(`the stream ended inside the streamed arguments of the functionCall '${partial.name}'`)];
      }
      const out: ModelEvent[] = pending.map((call, index) => ({
        type: 'toolCall',
        id: call.id ?? `call_${index}`,
        name: call.name,
        args: call.args,
        ...(call.signature ? { metadata: { thoughtSignature: call.signature } } : {}),
      }));
      const normalized =
        pending.length > 0 && finishReason === 'STOP'
          ? 'tool_calls'
          : (finishReasons[finishReason] ?? finishReason.toLowerCase());
      out.push({
        type: 'finish',
        finishReason: normalized,
        rawFinishReason: finishReason,
        usage,
        ...(model !== undefined ? { model } : {}),
        ...(responseId !== undefined ? { responseId } : {}),
      });
      return out;
    },
  };
}

/** Default Gemini base URL (an origin; the processor appends `/v1beta/models/<model>:streamGenerateContent?alt=sse`). */
export const GEMINI_BASE_URL = 'https://generativelanguage.googleapis.com';

/** The HTTP call for `parts`: POST `streamGenerateContent?alt=sse`, key in `x-goog-api-key` (never in the URL). */
export function geminiCall(parts: readonly Part[], options: ModelOptions): ModelCall {
  const baseURL = options.baseURL ?? GEMINI_BASE_URL;
  // By default GEMINI_API_KEY, then GOOGLE_API_KEY (as Google's SDK); `apiKeyEnv` names the only one read.
  const apiKeyEnv = options.apiKeyEnv ?? API_KEY_ENV.gemini;
  const apiKey =
    options.apiKey ??
    (options.apiKeyEnv === undefined
      ? (process.env.GEMINI_API_KEY ?? process.env.GOOGLE_API_KEY)
      : apiKeyEnv
        ? process.env[apiKeyEnv]
        : undefined);
  const model = encodeURIComponent(options.model.replace(/^models\//, ''));
  return jsonModelCall(
    {
      provider: 'gemini',
      framing: 'sse',
      url: joinURL(baseURL, `v1beta/models/${model}:streamGenerateContent?alt=sse`),
      body: geminiBody(parts, options),
      apiKey,
      apiKeyEnv,
      authHeaders: (key) => ({ 'x-goog-api-key': key }),
      createDecoder: geminiDecoder,
    },
    options,
  );
}
