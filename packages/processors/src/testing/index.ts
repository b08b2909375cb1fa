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
export { encodeGGUF, type GGUFTensor, type GGUFValue, type TinyGGUFOptions, tinyLlama, writeTinyGGUF } from './gguf.ts';
export { type LoopbackListener, listenLoopback } from './loopback.ts';
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
