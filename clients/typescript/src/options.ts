// Request options as the proto names them (camelCase), and plain views of what comes back.
import { create } from "@bufbuild/protobuf";
import {
  AudioEncoding,
  SynthesizeRequestSchema,
  type AudioInfo as AudioInfoMessage,
  type SynthesisStats as SynthesisStatsMessage,
  type SynthesizeRequest,
  type Voice as VoiceMessage,
} from "./gen/cantata/tts/v1/tts_pb.js";
import type { Timing } from "./marks.js";

/** Output encodings: pcm is raw signed 16-bit little-endian mono at `sampleRateHz`. */
export type Encoding = "pcm" | "wav" | "flac" | "ogg_opus" | "mp3" | "mulaw" | "alaw";

const ENCODINGS: Record<Encoding, AudioEncoding> = {
  pcm: AudioEncoding.PCM_S16LE,
  wav: AudioEncoding.WAV,
  flac: AudioEncoding.FLAC,
  ogg_opus: AudioEncoding.OGG_OPUS,
  mp3: AudioEncoding.MP3,
  mulaw: AudioEncoding.MULAW,
  alaw: AudioEncoding.ALAW,
};

/** SamplingParams, for models that sample; each voice lists those it honours. */
export interface Sampling {
  temperature?: number;
  topP?: number;
  topK?: number;
  cfgScale?: number;
  seed?: number | bigint;
  maxAudioSeconds?: number;
  steps?: number;
}

/** What to speak with: the fields of SynthesizeRequest other than text. */
export interface SynthesisOptions {
  /** Empty: the server's default model. */
  model?: string;
  /** Empty: the model's default voice. */
  voice?: string;
  /** A speaker of a multi-speaker voice. */
  speaker?: string;
  /** Default "wav". */
  encoding?: Encoding;
  /** 8000-48000; 0 or unset: the voice's own rate. */
  sampleRateHz?: number;
  /** 0.5-2.0; 0 or unset: 1.0. */
  speed?: number;
  sampling?: Sampling;
  /** Audio of a voice to clone (WAV, FLAC, Ogg, MP3...), for models that clone voices. */
  promptAudio?: Uint8Array;
  /** The words spoken in promptAudio. */
  promptText?: string;
  /** How to speak, in words, for voices whose capabilities include instructions. */
  instructions?: string;
  /** Timing marks to send with the audio. */
  timing?: Timing;
}

export function buildRequest(text: string, options: SynthesisOptions = {}): SynthesizeRequest {
  const encoding = ENCODINGS[options.encoding ?? "wav"];
  if (encoding === undefined) throw new TypeError(`unknown encoding ${String(options.encoding)}`);
  const { seed, ...sampling } = options.sampling ?? {};
  return create(SynthesizeRequestSchema, {
    text,
    model: options.model ?? "",
    voice: options.voice ?? "",
    speaker: options.speaker ?? "",
    encoding,
    sampleRateHz: options.sampleRateHz ?? 0,
    speed: options.speed ?? 0,
    sampling: { ...sampling, seed: seed === undefined ? undefined : BigInt(seed) },
    promptAudio: options.promptAudio ?? new Uint8Array(),
    promptText: options.promptText ?? "",
    instructions: options.instructions ?? "",
    timing: options.timing,
  });
}

export interface AudioInfo {
  sampleRateHz: number;
  channels: number;
  encoding: Encoding | "unspecified";
  /** 0 in a stream's first message (not known yet). */
  durationSeconds: number;
}

export interface SynthesisStats {
  audioSeconds: number;
  computeSeconds: number;
  /** computeSeconds / audioSeconds: below 1 is faster than real time. */
  realTimeFactor: number;
  model: string;
  runtime: string;
  device: string;
  voice: string;
  requestId: string;
  /** Streams only: seconds from the request's arrival to its first audio. */
  timeToFirstAudioSeconds: number;
}

export interface VoiceCapabilities {
  streaming: boolean;
  voiceCloning: boolean;
  samplingParams: string[];
  nonverbalTags: string[];
  dialogue: boolean;
  speed: boolean;
  instructions: boolean;
  timing: boolean;
}

export interface Voice {
  model: string;
  voiceId: string;
  /** BCP 47, such as "en-US". */
  language: string;
  nativeSampleRateHz: number;
  runtime: string;
  speakers: string[];
  capabilities: VoiceCapabilities;
  isDefault: boolean;
}

const ENCODING_NAMES = new Map<AudioEncoding, Encoding>(
  Object.entries(ENCODINGS).map(([name, value]) => [value, name as Encoding]),
);

export function infoFromProto(info: AudioInfoMessage): AudioInfo {
  return {
    sampleRateHz: info.sampleRateHz,
    channels: info.channels,
    encoding: ENCODING_NAMES.get(info.encoding) ?? "unspecified",
    durationSeconds: info.durationSeconds,
  };
}

export function statsFromProto(stats: SynthesisStatsMessage): SynthesisStats {
  return {
    audioSeconds: stats.audioSeconds,
    computeSeconds: stats.computeSeconds,
    realTimeFactor: stats.realTimeFactor,
    model: stats.model,
    runtime: stats.runtime,
    device: stats.device,
    voice: stats.voice,
    requestId: stats.requestId,
    timeToFirstAudioSeconds: stats.timeToFirstAudioSeconds,
  };
}

export function voiceFromProto(voice: VoiceMessage): Voice {
  const capabilities = voice.capabilities;
  return {
    model: voice.model,
    voiceId: voice.voiceId,
    language: voice.language,
    nativeSampleRateHz: voice.nativeSampleRateHz,
    runtime: voice.runtime,
    speakers: [...voice.speakers],
    capabilities: {
      streaming: capabilities?.streaming ?? false,
      voiceCloning: capabilities?.voiceCloning ?? false,
      samplingParams: [...(capabilities?.samplingParams ?? [])],
      nonverbalTags: [...(capabilities?.nonverbalTags ?? [])],
      dialogue: capabilities?.dialogue ?? false,
      speed: capabilities?.speed ?? false,
      instructions: capabilities?.instructions ?? false,
      timing: capabilities?.timing ?? false,
    },
    isDefault: voice.isDefault,
  };
}
