export { type ErrorJSON, errorFromJSON, errorToJSON, type RevivedError, SluiceError } from '@sluice/streams';
export { catchErrors, chain, filter, parallel, parallelConcat, passthrough, source } from './compose.ts';
export { type Context, runState, Stopper } from './context.ts';
export type { PartMember, PartResult } from './engine.ts';
export {
  asText,
  type ContentLike,
  dataPart,
  debugPart,
  EXCEPTION_MIMETYPE,
  exceptionPart,
  fromJSON,
  isPart,
  isReservedSubstream,
  isText,
  type JSONPartType,
  jsonObjectOf,
  jsonPart,
  jsonPartType,
  jsonTypeOf,
  type Part,
  PartError,
  type PartInit,
  type PartJSON,
  type PartLike,
  PartSchema,
  part,
  readJSON,
  statusPart,
  TOOL_CALL_MIMETYPE,
  TOOL_RESULT_MIMETYPE,
  textPart,
  toJSON,
} from './part.ts';
export {
  DEFAULT_CONCURRENCY,
  type PartProcessor,
  type Processor,
  partProcessor,
  processor,
  type RunOptions,
} from './processor.ts';
export { PartStream } from './stream.ts';
export {
  type CallHandle,
  type CallOutcome,
  type CallStart,
  currentCall,
  matchAll,
  nestedRunOptions,
  onRunEnd,
  partMembersOf,
  partProcessorOf,
  setTraceHooks,
  startCall,
  type TraceHooks,
  type TraceUsage,
  tracingActive,
  withCall,
} from './trace.ts';
export { DEFAULT_HEARTBEAT_MS, readParts, sseResponse } from './web.ts';
