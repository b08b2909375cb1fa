export { type ErrorJSON, errorFromJSON, errorToJSON, type RevivedError, SluiceError } from '@sluice/streams';
export { catchErrors, chain, filter, parallel, parallelConcat, passthrough, source } from './compose.ts';
export type { Context } from './context.ts';
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
  jsonPart,
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
export { DEFAULT_HEARTBEAT_MS, readParts, sseResponse } from './web.ts';
