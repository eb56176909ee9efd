// StreamSynthesize as an async iterable of audio chunks.
import type { SynthesizeStreamResponse } from "./gen/cantata/tts/v1/tts_pb.js";
import { marksFromProto, type Mark } from "./marks.js";
import { infoFromProto, statsFromProto, type AudioInfo, type SynthesisStats } from "./options.js";
import { CallStream } from "./stream.js";

/**
 * `for await (const chunk of stream)` gives the audio as it is produced; joined, the chunks are
 * one valid file of the encoding asked for. `info` is set before the first chunk, `stats` once
 * the last has arrived, `marks` grows with the audio. Breaking out of the loop or calling
 * `cancel()` stops the synthesis on the server.
 */
export class AudioStream extends CallStream<SynthesizeStreamResponse, Uint8Array> {
  info: AudioInfo | undefined;
  stats: SynthesisStats | undefined;
  /** The timing marks asked for, so far; each arrives with or before its audio. */
  readonly marks: Mark[] = [];

  /** @internal */
  constructor(
    open: (
      signal: AbortSignal,
      onRequestId: (id: string) => void,
    ) => AsyncIterable<SynthesizeStreamResponse>,
    sentRequestId: string | undefined,
  ) {
    super(open, sentRequestId);
  }

  /** Stops the synthesis on the server; the iteration then ends (without `stats`). */
  cancel(): void {
    this.stop();
  }

  /** Every chunk joined. */
  async bytes(): Promise<Uint8Array> {
    const chunks: Uint8Array[] = [];
    for await (const chunk of this) chunks.push(chunk);
    return Buffer.concat(chunks);
  }

  protected absorb(message: SynthesizeStreamResponse): Uint8Array | undefined {
    if (message.info) this.info = infoFromProto(message.info);
    if (message.marks.length > 0) this.marks.push(...marksFromProto(message.marks));
    if (message.stats) this.stats = statsFromProto(message.stats);
    return message.audio.length > 0 ? message.audio : undefined;
  }
}
