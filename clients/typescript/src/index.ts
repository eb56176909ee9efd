export {
  Client,
  type ClientOptions,
  type LiveOptions,
  type Synthesis,
  type SynthesizeOptions,
  type TlsOptions,
} from "./client.js";
export { AudioStream } from "./audio-stream.js";
export type { CallOptions } from "./call.js";
export {
  CancelledError,
  CantataError,
  DeadlineExceededError,
  InternalError,
  InvalidArgumentError,
  NotFoundError,
  ResourceExhaustedError,
  UnauthenticatedError,
  UnavailableError,
  type StatusCode,
} from "./errors.js";
export {
  LiveSession,
  type LiveAudio,
  type LiveCancelled,
  type LiveEvent,
  type LiveFlushed,
  type LiveMarks,
} from "./live.js";
export { markText, type Mark, type MarkKind, type Timing } from "./marks.js";
export type {
  AudioInfo,
  Encoding,
  Sampling,
  SynthesisOptions,
  SynthesisStats,
  Voice,
  VoiceCapabilities,
} from "./options.js";
