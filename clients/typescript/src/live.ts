// Live sessions (LiveSynthesize): text sent while it is spoken, flush, cancel (barge-in), and
// the audio, marks and answers read as events.
import { create } from "@bufbuild/protobuf";
import {
  LiveSynthesizeRequestSchema,
  type LiveSynthesizeRequest,
  type LiveSynthesizeResponse,
} from "./gen/cantata/tts/v1/tts_pb.js";
import { marksFromProto, type Mark } from "./marks.js";
import { infoFromProto, statsFromProto, type AudioInfo, type SynthesisStats } from "./options.js";
import { CallStream } from "./stream.js";

export interface LiveAudio {
  type: "audio";
  audio: Uint8Array;
}

/** Marks of audio sent with or after them: offsets count code points of every text sent on the
 * session joined; times are seconds of every audio chunk joined. */
export interface LiveMarks {
  type: "marks";
  marks: Mark[];
}

/** The text up to textOffset has been spoken; audioSeconds were sent in all. */
export interface LiveFlushed {
  type: "flushed";
  textOffset: number;
  audioSeconds: number;
}

/** Speech stopped: the text before textOffset was heard in the audio sent (whole words where the
 * voice gives timing marks); the rest was not spoken. */
export interface LiveCancelled {
  type: "cancelled";
  textOffset: number;
  audioSeconds: number;
  utteranceAudioSeconds: number;
}

export type LiveEvent = LiveAudio | LiveMarks | LiveFlushed | LiveCancelled;

/** Requests waiting for the call to take them, in order, until end(). */
class Outbox<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private ended = false;
  private wake: (() => void) | undefined;

  push(item: T): void {
    if (this.ended) throw new Error("the live session is closed");
    this.items.push(item);
    this.wake?.();
  }

  end(): void {
    this.ended = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    for (;;) {
      const item = this.items.shift();
      if (item !== undefined) {
        yield item;
      } else if (this.ended) {
        return;
      } else {
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
      }
    }
  }
}

/**
 * `const live = client.live({ voice })`; `live.send("Hel")`; `live.send("lo. ")`; `live.close()`;
 * then `for await (const event of live)`. `info` is set before the first event, `stats` after
 * the last. send, flush and cancel may be called at any time while another task iterates.
 */
export class LiveSession extends CallStream<LiveSynthesizeResponse, LiveEvent> {
  info: AudioInfo | undefined;
  stats: SynthesisStats | undefined;
  private readonly outbox: Outbox<LiveSynthesizeRequest>;

  /** @internal */
  constructor(
    open: (
      requests: AsyncIterable<LiveSynthesizeRequest>,
      signal: AbortSignal,
      onRequestId: (id: string) => void,
    ) => AsyncIterable<LiveSynthesizeResponse>,
    start: LiveSynthesizeRequest,
    sentRequestId: string | undefined,
  ) {
    const outbox = new Outbox<LiveSynthesizeRequest>();
    outbox.push(start);
    super((signal, onRequestId) => open(outbox, signal, onRequestId), sentRequestId);
    this.outbox = outbox;
  }

  /** More text: a delta, split anywhere. */
  send(text: string): void {
    this.outbox.push(
      create(LiveSynthesizeRequestSchema, { request: { case: "text", value: text } }),
    );
  }

  /** Speak everything buffered now; answered by a `flushed` event once its audio is sent. */
  flush(): void {
    this.outbox.push(
      create(LiveSynthesizeRequestSchema, { request: { case: "flush", value: {} } }),
    );
  }

  /** Barge-in: stop speaking now and drop the text not yet spoken; answered by `cancelled`. */
  cancel(): void {
    this.outbox.push(
      create(LiveSynthesizeRequestSchema, { request: { case: "cancel", value: {} } }),
    );
  }

  /** No more text: what is buffered is spoken, then the events end with `stats`. */
  close(): void {
    this.outbox.end();
  }

  /** Ends the session at once, on both sides; iteration then ends without an error. */
  abort(): void {
    this.outbox.end();
    this.stop();
  }

  protected absorb(message: LiveSynthesizeResponse): LiveEvent | undefined {
    const response = message.response;
    switch (response.case) {
      case "info":
        this.info = infoFromProto(response.value);
        return undefined;
      case "stats":
        this.stats = statsFromProto(response.value);
        return undefined;
      case "audio":
        return { type: "audio", audio: response.value };
      case "marks":
        return { type: "marks", marks: marksFromProto(response.value.marks) };
      case "flushed":
        return {
          type: "flushed",
          textOffset: response.value.textOffset,
          audioSeconds: response.value.audioSeconds,
        };
      case "cancelled":
        return {
          type: "cancelled",
          textOffset: response.value.textOffset,
          audioSeconds: response.value.audioSeconds,
          utteranceAudioSeconds: response.value.utteranceAudioSeconds,
        };
      default:
        return undefined;
    }
  }
}
