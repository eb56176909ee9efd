"""F5-TTS's text side: the checkpoint's `vocab.txt`, the tokenisation its published models were
trained with (characters, with Chinese characters as tone-numbered pinyin), and the duration
rule (the reference's frames per UTF-8 byte, times the new text's bytes, over the speed)."""

from pathlib import Path

import rjieba
from pypinyin import Style, lazy_pinyin

from runtimes.errors import ModelLoadError

_TYPOGRAPHY = str.maketrans({";": ",", "\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"})


def load_vocabulary(path: Path) -> dict[str, int]:
    """One token a line; index 0 must be the space (F5 maps unknown characters to it)."""
    try:
        lines = path.read_text(encoding="utf-8").split("\n")
    except OSError as error:
        raise ModelLoadError(f"cannot read the vocabulary {path}: {error}") from error
    if lines and lines[-1] == "":
        lines.pop()
    vocabulary = {token: index for index, token in enumerate(lines)}
    if vocabulary.get(" ") != 0:
        raise ModelLoadError(f"{path}: the first token must be the space, as F5's vocab.txt has")
    return vocabulary


def _is_chinese(character: str) -> bool:
    return "\u3100" <= character <= "\u9fff"


def _pinyin(text: str) -> list[str]:
    return list(lazy_pinyin(text, style=Style.TONE3, tone_sandhi=True))


def tokens(text: str) -> list[str]:
    """F5's `convert_char_to_pinyin` for one text."""
    out: list[str] = []
    for segment in rjieba.cut(text.translate(_TYPOGRAPHY)):
        size = len(segment.encode("utf-8"))
        if size == len(segment):
            if out and size > 1 and out[-1] not in " :'\"":
                out.append(" ")
            out.extend(segment)
        elif size == 3 * len(segment):
            for character, syllable in zip(segment, _pinyin(segment), strict=False):
                if _is_chinese(character):
                    out.append(" ")
                out.append(syllable)
        else:
            for character in segment:
                if ord(character) < 256:
                    out.append(character)
                elif _is_chinese(character):
                    out.append(" ")
                    out.extend(_pinyin(character))
                else:
                    out.append(character)
    return out


def token_ids(text: str, vocabulary: dict[str, int]) -> list[int]:
    return [vocabulary.get(token, 0) for token in tokens(text)]


def duration_frames(reference_frames: int, reference_text: str, text: str, speed: float) -> int:
    """Total frames (reference + new), as F5's inference estimates them."""
    reference_bytes = max(len(reference_text.encode("utf-8")), 1)
    new = int(reference_frames / reference_bytes * len(text.encode("utf-8")) / speed)
    return reference_frames + new
