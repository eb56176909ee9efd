import pytest

from runtimes.dia.script import DEFAULT_EMOJI, DEFAULT_NONVERBALS, Script, with_speaker
from runtimes.errors import InvalidArgument


def script(unknown_tags: str = "keep") -> Script:
    return Script(DEFAULT_NONVERBALS, DEFAULT_EMOJI, unknown_tags)  # type: ignore[arg-type]


def test_text_without_a_tag_is_spoken_by_the_first_speaker() -> None:
    assert script().chunks(["Hello there."], 400) == ["[S1] Hello there."]


def test_a_default_speaker_applies_until_the_text_names_one() -> None:
    assert script().chunks(["Hi.", "[S1] Hello."], 400, "[S2]") == ["[S2] Hi. [S1] Hello."]


def test_dialogue_is_kept_together_within_a_chunk() -> None:
    segments = ["[S1] Hello! (laughs)", "This is amazing!", "[S2] Hi there."]
    assert script().chunks(segments, 400) == [
        "[S1] Hello! (laughs) This is amazing! [S2] Hi there."
    ]


def test_long_text_is_cut_between_segments_and_each_chunk_names_its_speaker() -> None:
    segments = ["[S1] " + "a" * 30 + ".", "b" * 30 + ".", "[S2] " + "c" * 30 + ".", "d" * 30 + "."]
    chunks = script().chunks(segments, 70)
    assert chunks == [
        f"[S1] {'a' * 30}. {'b' * 30}.",
        f"[S2] {'c' * 30}. {'d' * 30}.",
    ]
    chunks = script().chunks(segments[1:], 40)
    assert chunks == [f"[S1] {'b' * 30}.", f"[S2] {'c' * 30}.", f"[S2] {'d' * 30}."]


@pytest.mark.parametrize(
    ("emoji", "tag"),
    [
        ("🌬️", "(breaths)"),
        ("🌬", "(breaths)"),
        ("😤", "(grunts)"),
        ("😷", "(coughs)"),
        ("👃", "(sniffs)"),
        ("🤣", "(laughs)"),
        ("🤧", "(sneezes)"),
        ("🗣️", "(vocal_noise)"),
    ],
)
def test_emoji_become_nonverbal_tags(emoji: str, tag: str) -> None:
    assert script().prepare(f"[S1] Yeah, it was good.{emoji}Really") == (
        f"[S1] Yeah, it was good. {tag} Really"
    )


@pytest.mark.parametrize("text", ["[S3] Hi.", "[s1] Hi.", "[S1 Hi.", "Hi [there].", "a ] b"])
def test_malformed_speaker_tags_are_rejected(text: str) -> None:
    with pytest.raises(InvalidArgument, match=r"\[S1\] and \[S2\]"):
        script().prepare(text)


def test_unknown_nonverbals_follow_the_models_policy() -> None:
    assert script("keep").prepare("[S1] Hi (yodels).") == "[S1] Hi (yodels)."
    with pytest.raises(InvalidArgument, match=r"\(yodels\).*\(laughs\)"):
        script("reject").prepare("[S1] Hi (yodels).")
    with pytest.raises(InvalidArgument, match=r"\(breaths\)"):
        script("reject").prepare("[S1] Hi 🌬️")
    assert script("reject").prepare("[S1] Hi (clears throat).") == "[S1] Hi (clears throat)."


def test_a_fine_tuned_models_own_tags_are_known() -> None:
    tuned = Script((*DEFAULT_NONVERBALS, "breaths"), DEFAULT_EMOJI, "reject")
    assert tuned.prepare("Hi 🌬️") == "Hi (breaths)"


def test_prompt_transcripts_open_with_a_speaker() -> None:
    assert with_speaker("Hello.") == "[S1] Hello."
    assert with_speaker("[S2] Hello.") == "[S2] Hello."
