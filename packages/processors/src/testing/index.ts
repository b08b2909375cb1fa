export { type FakeImagesOptions, isImageRoute } from './fake-images.ts';
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
export { crc32, drawPicture, encodePNG, type PictureOptions, PNG_SIGNATURE } from './png.ts';
export { type RedisServer, RedisServerError, type RedisServerOptions, startRedisServer } from './redis-server.ts';
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
