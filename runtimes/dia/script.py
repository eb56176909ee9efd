"""Dia's script: `[S1]`/`[S2]` speaker turns, nonverbal tags such as `(laughs)`, and the emoji
that stand for them. Turns a request's segments into the texts Dia generates, one per chunk."""

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

from runtimes.errors import InvalidArgument

SPEAKER_TAGS = ("[S1]", "[S2]")
DEFAULT_NONVERBALS = (
    "laughs",
    "coughs",
    "sighs",
    "gasps",
    "clears throat",
    "singing",
    "sings",
    "mumbles",
    "beep",
    "groans",
    "sniffs",
    "claps",
    "screams",
    "inhales",
    "exhales",
    "applause",
    "burps",
    "humming",
    "sneezes",
    "chuckle",
    "whistles",
)
"""The nonverbal tags Dia-1.6B was trained with."""
DEFAULT_EMOJI = {
    "🌬": "breaths",
    "😤": "grunts",
    "😷": "coughs",
    "👃": "sniffs",
    "🤣": "laughs",
    "🤧": "sneezes",
    "🗣": "vocal_noise",
}
"""Emoji → tag, as NonverbalTTS writes them (the fine-tuning notes in seeds 001)."""

UnknownTagPolicy = Literal["keep", "reject"]

_BRACKETED = re.compile(r"\[[^\[\]]*\]")
_TAG = re.compile(r"\(([a-z][a-z_ ]*)\)")
_EMOJI_PRESENTATION = "\ufe0f"


class Script:
    def __init__(
        self,
        nonverbals: Sequence[str],
        emoji: Mapping[str, str],
        unknown_tags: UnknownTagPolicy,
    ) -> None:
        self.nonverbals = tuple(nonverbals)
        self._known = frozenset(nonverbals)
        self._emoji = dict(emoji)
        self._unknown_tags = unknown_tags

    def chunks(
        self, segments: Iterable[str], max_chars: int, speaker: str = SPEAKER_TAGS[0]
    ) -> list[str]:
        """The request's text as Dia texts of at most about max_chars, cut between segments;
        every chunk opens with the tag of the speaker who is talking at its start (`speaker`
        until the text names one)."""
        chunks: list[str] = []
        current: list[str] = []
        for segment in segments:
            text = self.prepare(segment)
            if current and sum(len(part) + 1 for part in current) + len(text) > max_chars:
                chunks.append(" ".join(current))
                current = []
            if not current and not text.startswith(SPEAKER_TAGS):
                text = f"{speaker} {text}"
            current.append(text)
            speaker = _last_speaker(text, speaker)
        if current:
            chunks.append(" ".join(current))
        return chunks

    def prepare(self, text: str) -> str:
        """Emoji replaced by their tags; speaker and nonverbal tags checked."""
        for symbol, tag in self._emoji.items():
            text = text.replace(symbol + _EMOJI_PRESENTATION, f" ({tag}) ")
            text = text.replace(symbol, f" ({tag}) ")
        text = " ".join(text.split())
        self._check_speaker_tags(text)
        self._check_nonverbals(text)
        return text

    @staticmethod
    def _check_speaker_tags(text: str) -> None:
        for tag in _BRACKETED.findall(text):
            if tag not in SPEAKER_TAGS:
                raise InvalidArgument(
                    f"text has the tag {tag}; Dia's speaker tags are [S1] and [S2]"
                )
        stray = _BRACKETED.sub("", text)
        if "[" in stray or "]" in stray:
            raise InvalidArgument(
                "text has an unmatched '[' or ']'; brackets are for the speaker tags [S1] and [S2]"
            )

    def _check_nonverbals(self, text: str) -> None:
        if self._unknown_tags == "keep":
            return
        for tag in _TAG.findall(text):
            if tag not in self._known:
                raise InvalidArgument(
                    f"text has the nonverbal tag ({tag}), which this model does not know;"
                    f" it knows: {', '.join(f'({name})' for name in self.nonverbals)}"
                )


def _last_speaker(text: str, speaker: str) -> str:
    positions = {tag: text.rfind(tag) for tag in SPEAKER_TAGS}
    last = max(positions, key=lambda tag: positions[tag])
    return last if positions[last] >= 0 else speaker


def with_speaker(text: str) -> str:
    """A prompt's transcript as Dia expects it: opening with a speaker tag."""
    return text if text.startswith(SPEAKER_TAGS) else f"{SPEAKER_TAGS[0]} {text}"
