// Timing marks: words, phonemes and visemes with their times in the audio and their place in
// the text.
import { TimingMarkKind, type TimingMark } from "./gen/cantata/tts/v1/tts_pb.js";

/** Which marks to ask for; a voice whose capabilities say `timing: false` refuses any. */
export interface Timing {
  words?: boolean;
  phonemes?: boolean;
  visemes?: boolean;
}

export type MarkKind = "word" | "phoneme" | "viseme";

/**
 * A word (as written), phoneme (IPA) or viseme (sil PP FF TH DD kk CH SS nn RR aa E ih oh ou):
 * seconds into the audio, and Unicode code points into the text that was sent (not UTF-16
 * units: use markText to slice).
 */
export interface Mark {
  kind: MarkKind;
  value: string;
  startSeconds: number;
  endSeconds: number;
  textOffset: number;
  textLength: number;
}

const KINDS: Partial<Record<TimingMarkKind, MarkKind>> = {
  [TimingMarkKind.WORD]: "word",
  [TimingMarkKind.PHONEME]: "phoneme",
  [TimingMarkKind.VISEME]: "viseme",
};

/** The marks of kinds this client knows (a newer server may send more). */
export function marksFromProto(marks: readonly TimingMark[]): Mark[] {
  const known: Mark[] = [];
  for (const mark of marks) {
    const kind = KINDS[mark.kind];
    if (kind === undefined) continue;
    known.push({
      kind,
      value: mark.value,
      startSeconds: mark.startSeconds,
      endSeconds: mark.endSeconds,
      textOffset: mark.textOffset,
      textLength: mark.textLength,
    });
  }
  return known;
}

/** The part of `text` a mark points at, counting code points as the server does. */
export function markText(text: string, mark: Pick<Mark, "textOffset" | "textLength">): string {
  return Array.from(text)
    .slice(mark.textOffset, mark.textOffset + mark.textLength)
    .join("");
}
