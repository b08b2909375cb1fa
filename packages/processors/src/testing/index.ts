export {
  type FakeFailure,
  type FakeMessage,
  type FakeModelServer,
  type FakeModelServerOptions,
  type FakeReplyLike,
  messagesOf,
  type RecordedRequest,
  startFakeModelServer,
} from './fake-server.ts';
export { type LoopbackListener, listenLoopback } from './loopback.ts';
export { encodeResponses, encodeResponsesStreamError, responsesObject } from './responses.ts';
export { asJSONArray, wholeReply } from './whole.ts';
export {
  type EncodeOptions,
  encodeReply,
  encodeStreamError,
  errorResponseBody,
  type FakeProvider,
  type FakeReply,
  type FakeStreamError,
  type FakeToolCall,
  type OpenAIDialect,
  type WireChunk,
} from './wire.ts';
