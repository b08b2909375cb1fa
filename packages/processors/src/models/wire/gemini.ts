// Gemini streamGenerateContent with `alt=sse`: CRLF-framed SSE without a
// terminator; each event a GenerateContentResponse whose candidate parts hold
// text, thoughts (`thought: true`) or whole `functionCall`s; `usageMetadata`
// repeated (cumulative) on every event, so the last one wins; `finishReason`
// on the last candidate; `promptFeedback.blockReason` for blocked prompts.

import type { Part } from '@sluice/core';
import { API_KEY_ENV, parseErrorBody } from '../../http/errors.ts';
import { count, field, type ModelEvent, type StreamDecoder, type Usage } from '../events.ts';
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
  const conversation = toConversation(parts, system);
  const contents: Content[] = [];
  for (const turn of conversation.turns) {
    const role = turn.role === 'assistant' ? 'model' : 'user';
    const mapped = turn.parts.map((part): Record<string, unknown> => {
      if (part.toolCall) return { functionCall: { name: part.toolCall.name, args: part.toolCall.args ?? {} } };
      if (part.toolResult)
        return { functionResponse: { name: part.toolResult.name, response: functionResponse(part.toolResult.result) } };
      if (part.text !== undefined) return { text: part.text };
      return { inlineData: { mimeType: part.mimetype, data: base64Of(part) } };
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

/** A whole text part that is one base64 `data:` URL of an image. */
const DATA_URL = /^\s*data:(image\/[\w.+-]+);base64,([A-Za-z0-9+/=\s]+)$/;

/** A decoder for streamGenerateContent events (the parsed SSE data). */
export function geminiDecoder(): StreamDecoder {
  let usage: Usage | undefined;
  let finishReason: string | undefined;
  let toolCalls = 0;
  return {
    push(value) {
      if (field(value, 'error') !== undefined) return [{ type: 'error', fields: parseErrorBody(value) }];
      const out: ModelEvent[] = [];
      const candidates = field(value, 'candidates');
      const candidate = Array.isArray(candidates) ? candidates[0] : undefined;
      const parts = field(field(candidate, 'content'), 'parts');
      if (Array.isArray(parts)) {
        for (const part of parts) {
          const text = field(part, 'text');
          const dataURL = typeof text === 'string' ? DATA_URL.exec(text) : null;
          if (dataURL) {
            // Some gateways return an image as a data: URL in text instead of inlineData.
            out.push({ type: 'data', mimetype: dataURL[1]!, data: new Uint8Array(Buffer.from(dataURL[2]!, 'base64')) });
          } else if (typeof text === 'string' && text !== '') {
            out.push({ type: field(part, 'thought') === true ? 'reasoning' : 'text', text });
          }
          const inline = field(part, 'inlineData');
          const inlineBytes = field(inline, 'data');
          if (typeof inlineBytes === 'string') {
            const mimetype = field(inline, 'mimeType');
            out.push({
              type: 'data',
              mimetype: typeof mimetype === 'string' ? mimetype : 'application/octet-stream',
              data: new Uint8Array(Buffer.from(inlineBytes, 'base64')),
            });
          }
          const call = field(part, 'functionCall');
          if (call !== undefined) {
            const id = field(call, 'id');
            out.push({
              type: 'toolCall',
              id: typeof id === 'string' && id !== '' ? id : `call_${toolCalls}`,
              name: String(field(call, 'name') ?? ''),
              args: field(call, 'args') ?? {},
            });
            toolCalls++;
          }
        }
      }
      const reason = field(candidate, 'finishReason');
      if (typeof reason === 'string' && reason !== 'FINISH_REASON_UNSPECIFIED') finishReason = reason;
      const blocked = field(field(value, 'promptFeedback'), 'blockReason');
      if (typeof blocked === 'string') finishReason = finishReason ?? 'SAFETY';
      const meta = field(value, 'usageMetadata');
      if (meta !== undefined) {
        // Repeated on every event and cumulative: the last one wins.
        const input = count(field(meta, 'promptTokenCount')) ?? 0;
        const output =
          (count(field(meta, 'candidatesTokenCount')) ?? 0) + (count(field(meta, 'thoughtsTokenCount')) ?? 0);
        usage = {
          inputTokens: input,
          outputTokens: output,
          totalTokens: count(field(meta, 'totalTokenCount')) ?? input + output,
        };
      }
      return out;
    },
    end() {
      const normalized =
        finishReason === undefined
          ? undefined
          : toolCalls > 0 && finishReason === 'STOP'
            ? 'tool_calls'
            : (finishReasons[finishReason] ?? finishReason.toLowerCase());
      return [{ type: 'finish', finishReason: normalized, rawFinishReason: finishReason, usage }];
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
