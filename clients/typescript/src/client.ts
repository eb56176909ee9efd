// The client: one HTTP/2 connection to a Cantata server, gRPC calls over it.
import { readFileSync } from "node:fs";
import type * as http2 from "node:http2";
import { create } from "@bufbuild/protobuf";
import { createClient, type Client as ConnectClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import {
  AudioInfoSchema,
  ListVoicesRequestSchema,
  SynthesisStatsSchema,
  LiveSynthesizeRequestSchema,
  TextToSpeech,
} from "./gen/cantata/tts/v1/tts_pb.js";
import { AudioStream } from "./audio-stream.js";
import { connectOptions, splitCallOptions, type CallOptions } from "./call.js";
import { toCantataError } from "./errors.js";
import { LiveSession } from "./live.js";
import { marksFromProto, type Mark } from "./marks.js";
import {
  buildRequest,
  infoFromProto,
  statsFromProto,
  voiceFromProto,
  type AudioInfo,
  type SynthesisOptions,
  type SynthesisStats,
  type Voice,
} from "./options.js";

export interface TlsOptions {
  /** A CA certificate file (PEM) to trust instead of the system's. */
  caFile?: string;
  /** The same, as PEM text or bytes. */
  ca?: string | Uint8Array;
  /** The name the server's certificate must carry, when it is not the target's host. */
  serverName?: string;
}

export interface ClientOptions {
  /** TLS: true trusts the system's CAs; an object names a CA. Also implied by an https:// target. */
  tls?: boolean | TlsOptions;
  /** Sent as `authorization: Bearer KEY` with every call. Use it over TLS. */
  apiKey?: string;
  /** The deadline of every call, in milliseconds, unless a call sets its own. */
  timeoutMs?: number;
  /** Metadata sent with every call. */
  headers?: Record<string, string>;
}

export interface Synthesis {
  /** One encoded file (or raw samples for pcm, mulaw, alaw). */
  audio: Uint8Array;
  info: AudioInfo;
  stats: SynthesisStats;
  /** The timing marks asked for with `timing`. */
  marks: Mark[];
  /** The id the server logged the call under (x-request-id). */
  requestId: string | undefined;
}

export type SynthesizeOptions = SynthesisOptions & CallOptions;

export interface LiveOptions extends SynthesisOptions, CallOptions {
  /** Cut a piece at a clause break once this many characters wait (0: the server's default). */
  minClauseChars?: number;
  /** Speak what waits once no text has come for this long (0: the server's default). */
  maxWaitMs?: number;
}

function baseUrl(target: string, tls: boolean): string {
  if (/^https?:\/\//.test(target)) return target;
  return `${tls ? "https" : "http"}://${target}`;
}

function nodeTlsOptions(tls: boolean | TlsOptions | undefined): http2.SecureClientSessionOptions {
  if (typeof tls !== "object") return {};
  const options: http2.SecureClientSessionOptions = {};
  if (tls.caFile !== undefined) options.ca = readFileSync(tls.caFile);
  if (tls.ca !== undefined) options.ca = typeof tls.ca === "string" ? tls.ca : Buffer.from(tls.ca);
  if (tls.serverName !== undefined) options.servername = tls.serverName;
  return options;
}

/**
 * `const client = new Client("127.0.0.1:50051")`;
 * `const { audio } = await client.synthesize("Hello", { encoding: "wav" })`.
 * Errors are CantataError subclasses (see errors.ts). close() ends the connection.
 */
export class Client {
  private readonly sessions: Http2SessionManager;
  private readonly stub: ConnectClient<typeof TextToSpeech>;

  constructor(target = "127.0.0.1:50051", options: ClientOptions = {}) {
    const url = baseUrl(target, Boolean(options.tls));
    this.sessions = new Http2SessionManager(url, {}, nodeTlsOptions(options.tls));
    const interceptors: Interceptor[] = [];
    const headers = { ...options.headers };
    if (options.apiKey) headers["authorization"] = `Bearer ${options.apiKey}`;
    if (Object.keys(headers).length > 0) {
      interceptors.push((next) => async (request) => {
        for (const [name, value] of Object.entries(headers)) request.header.set(name, value);
        return next(request);
      });
    }
    const transport = createGrpcTransport({
      baseUrl: url,
      sessionManager: this.sessions,
      interceptors,
      ...(options.timeoutMs !== undefined ? { defaultTimeoutMs: options.timeoutMs } : {}),
    });
    this.stub = createClient(TextToSpeech, transport);
  }

  /** The whole text as one file. */
  async synthesize(text: string, options: SynthesizeOptions = {}): Promise<Synthesis> {
    const [call, synthesis] = splitCallOptions(options);
    let requestId: string | undefined;
    try {
      const response = await this.stub.synthesize(
        buildRequest(text, synthesis),
        connectOptions(call, undefined, (id) => (requestId = id)),
      );
      return {
        audio: response.audio,
        info: infoFromProto(response.info ?? create(AudioInfoSchema)),
        stats: statsFromProto(response.stats ?? create(SynthesisStatsSchema)),
        marks: marksFromProto(response.marks),
        requestId,
      };
    } catch (error) {
      throw toCantataError(error, call.requestId);
    }
  }

  /** The audio as it is produced: see AudioStream. */
  stream(text: string, options: SynthesizeOptions = {}): AudioStream {
    const [call, synthesis] = splitCallOptions(options);
    const request = buildRequest(text, synthesis);
    return new AudioStream(
      (signal, onRequestId) =>
        this.stub.streamSynthesize(request, connectOptions(call, signal, onRequestId)),
      call.requestId,
    );
  }

  /** Every voice of every loaded model, or of one model. */
  async voices(model = "", options: CallOptions = {}): Promise<Voice[]> {
    try {
      const response = await this.stub.listVoices(
        create(ListVoicesRequestSchema, { model }),
        connectOptions(options, undefined, () => undefined),
      );
      return response.voices.map(voiceFromProto);
    } catch (error) {
      throw toCantataError(error, options.requestId);
    }
  }

  /** A live session: send text as it is written, flush, cancel; iterate for events. */
  live(options: LiveOptions = {}): LiveSession {
    const { minClauseChars = 0, maxWaitMs = 0, ...rest } = options;
    const [call, synthesis] = splitCallOptions(rest);
    const start = create(LiveSynthesizeRequestSchema, {
      request: {
        case: "start",
        value: { config: buildRequest("", synthesis), minClauseChars, maxWaitMs },
      },
    });
    return new LiveSession(
      (requests, signal, onRequestId) =>
        this.stub.liveSynthesize(requests, connectOptions(call, signal, onRequestId)),
      start,
      call.requestId,
    );
  }

  /** Ends the connection; calls still in flight fail. */
  close(): void {
    this.sessions.abort();
  }
}
