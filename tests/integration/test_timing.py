"""Word, phoneme and viseme marks through the real server with the real Piper voice: where they
sit in the audio, where they point in the text as sent, and how they arrive in a stream."""

import asyncio
import itertools

import grpc
import pytest

from cantata.tts.v1 import tts_pb2 as pb
from cantata.tts.v1 import tts_pb2_grpc
from cantata_client import (
    AsyncClient,
    Client,
    Encoding,
    InvalidArgumentError,
    Mark,
    MarkKind,
    Timing,
)
from server.engine.visemes import VISEMES
from tests.conftest import RunningServer

# (text as sent, its words as written)
SPOKEN_TEXTS = [
    (
        "The quick brown fox jumps over the lazy dog.",
        "The quick brown fox jumps over the lazy dog",
    ),
    (
        'Dr. Smith paid $42.50 for 3 apples 😀 and a café, naïve "friend"!',
        "Dr Smith paid $42.50 for 3 apples 😀 and a café naïve friend",
    ),
    (
        "A ﬁne ﬂower in Ｔｏｋｙｏ — isn't it? Yes: it's well-known.\n\nNew paragraph… done",
        "A ﬁne ﬂower in Ｔｏｋｙｏ isn't it Yes it's well-known New paragraph done",
    ),
    (
        "Cafe\u0301 au lait, s'il vous plaît; 50% off!",
        "Cafe\u0301 au lait s'il vous plaît 50% off",
    ),
]
TEXTS = [text for text, _ in SPOKEN_TEXTS]


def _of(marks: list[Mark], kind: MarkKind) -> list[Mark]:
    return [mark for mark in marks if mark.kind is kind]


def _pcm_seconds(audio: bytes, rate: int) -> float:
    return len(audio) / 2 / rate


@pytest.fixture(scope="module")
def spoken(client: Client) -> list[tuple[str, bytes, list[Mark]]]:
    results = []
    for text in TEXTS:
        result = client.synthesize(text, encoding=Encoding.PCM, timing=Timing.all())
        results.append((text, result.audio, result.marks))
    return results


def test_the_voice_says_it_gives_timing_marks(client: Client) -> None:
    voices = {(v.model, v.voice_id): v for v in client.voices()}
    assert voices["piper", "en_US-joe-medium"].capabilities.timing
    assert not voices["faulty", "tone"].capabilities.timing


@pytest.mark.parametrize(
    "timing", [Timing(words=True), Timing(phonemes=True), Timing(visemes=True), Timing.all()]
)
def test_timing_from_a_voice_without_it_is_invalid_argument(client: Client, timing: Timing) -> None:
    with pytest.raises(InvalidArgumentError, match="model 'faulty' voice 'tone' gives no timing"):
        client.synthesize("Hello.", model="faulty", timing=timing)
    with pytest.raises(InvalidArgumentError, match="timing: false"):
        list(client.stream("Hello.", model="faulty", timing=timing))
    assert client.synthesize("Hello.", model="faulty").audio, "the server keeps serving"


def test_no_marks_unless_asked(client: Client) -> None:
    assert client.synthesize("Hello there.").marks == []


def test_words_are_in_order_inside_the_audio_and_slice_back_to_the_text(
    spoken: list[tuple[str, bytes, list[Mark]]],
) -> None:
    for (text, audio, marks), (_, written) in zip(spoken, SPOKEN_TEXTS, strict=True):
        duration = _pcm_seconds(audio, 22050)
        words = _of(marks, MarkKind.WORD)
        assert [text[w.text_offset : w.text_end] for w in words] == [w.value for w in words]
        assert [w.value for w in words] == written.split(), "every word, once, in order"
        for word in words:
            assert 0 <= word.start_seconds < word.end_seconds <= duration
        for before, after in itertools.pairwise(words):
            assert before.end_seconds <= after.start_seconds
            assert before.text_end <= after.text_offset


def test_phonemes_lie_inside_their_words(spoken: list[tuple[str, bytes, list[Mark]]]) -> None:
    for _, _, marks in spoken:
        words = {w.text_offset: w for w in _of(marks, MarkKind.WORD)}
        phonemes = _of(marks, MarkKind.PHONEME)
        assert len(phonemes) > len(words)
        for phoneme in phonemes:
            word = words[phoneme.text_offset]
            assert phoneme.text_length == word.text_length
            assert word.start_seconds <= phoneme.start_seconds < phoneme.end_seconds
            assert phoneme.end_seconds <= word.end_seconds
        for before, after in itertools.pairwise(phonemes):
            assert before.end_seconds <= after.start_seconds


def test_visemes_cover_the_audio_with_sil_between_sentences(
    client: Client, spoken: list[tuple[str, bytes, list[Mark]]]
) -> None:
    for _, audio, marks in spoken:
        visemes = _of(marks, MarkKind.VISEME)
        assert {v.value for v in visemes} <= set(VISEMES)
        assert visemes[0].start_seconds == 0
        assert visemes[-1].end_seconds == pytest.approx(_pcm_seconds(audio, 22050), abs=1e-6)
        for before, after in itertools.pairwise(visemes):
            assert before.end_seconds == pytest.approx(after.start_seconds, abs=1e-9)
        phonemes = _of(marks, MarkKind.PHONEME)
        assert len([v for v in visemes if v.value != "sil"]) == len(phonemes)
        assert all(v.text_length == 0 for v in visemes if v.value == "sil")
    # Between "dog." and the next sentence, the mouth rests.
    text = "The quick brown fox jumps over the lazy dog. My big sister came home."
    marks = client.synthesize(text, timing=Timing.all()).marks
    words = _of(marks, MarkKind.WORD)
    dog, my = words[8], words[9]
    assert (dog.value, my.value) == ("dog", "My")
    between = [
        v
        for v in _of(marks, MarkKind.VISEME)
        if v.end_seconds > dog.end_seconds and v.start_seconds < my.start_seconds
    ]
    assert between
    assert {v.value for v in between} == {"sil"}
    assert my.start_seconds - dog.end_seconds > 0.1


def test_speed_shortens_the_times_with_the_audio(client: Client) -> None:
    def words_and_seconds(speed: float) -> tuple[list[Mark], float]:
        result = client.synthesize(
            TEXTS[0], encoding=Encoding.PCM, speed=speed, timing=Timing(words=True)
        )
        return result.marks, _pcm_seconds(result.audio, 22050)

    normal, normal_seconds = words_and_seconds(1.0)
    fast, fast_seconds = words_and_seconds(2.0)
    slow, slow_seconds = words_and_seconds(0.5)
    # Piper rounds every phoneme up to whole frames, so twice as fast is not quite half as long.
    assert fast_seconds < 0.7 * normal_seconds
    assert slow_seconds > 1.5 * normal_seconds
    for marks, seconds in ((fast, fast_seconds), (slow, slow_seconds)):
        assert [w.value for w in marks] == [w.value for w in normal]
        assert marks[-1].end_seconds <= seconds
        for word, reference in zip(marks, normal, strict=True):
            # Each word sits at the same place in the audio, relative to its length.
            assert word.start_seconds / seconds == pytest.approx(
                reference.start_seconds / normal_seconds, abs=0.03
            )


@pytest.mark.parametrize("rate", [8000, 16000, 44100, 48000])
def test_times_are_the_same_at_every_output_rate(client: Client, rate: int) -> None:
    native = client.synthesize(TEXTS[1], encoding=Encoding.PCM, timing=Timing.all())
    resampled = client.synthesize(
        TEXTS[1], encoding=Encoding.PCM, sample_rate_hz=rate, timing=Timing.all()
    )
    assert resampled.marks == native.marks
    duration = _pcm_seconds(resampled.audio, rate)
    assert duration == pytest.approx(_pcm_seconds(native.audio, 22050), abs=2 / rate)
    assert max(m.end_seconds for m in resampled.marks) <= duration + 1 / rate


def test_marks_stop_with_the_audio_at_max_audio_seconds(client: Client) -> None:
    result = client.synthesize(
        TEXTS[0], encoding=Encoding.PCM, max_audio_seconds=1.0, timing=Timing.all()
    )
    assert _pcm_seconds(result.audio, 22050) == pytest.approx(1.0, abs=1e-3)
    assert 2 <= len(_of(result.marks, MarkKind.WORD)) < 9
    assert all(m.end_seconds <= 1.0 + 1e-9 for m in result.marks)
    assert _of(result.marks, MarkKind.VISEME)[-1].end_seconds == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("resample_to", [0, 16000])
def test_a_stream_sends_marks_no_later_than_their_audio(
    channel: grpc.Channel, resample_to: int
) -> None:
    request = pb.SynthesizeRequest(
        text=" ".join(TEXTS),
        encoding=pb.AUDIO_ENCODING_PCM_S16LE,
        sample_rate_hz=resample_to,
        timing=pb.TimingOptions(words=True, phonemes=True, visemes=True),
    )
    out_rate = resample_to or 22050
    sent_seconds = 0.0
    marks_seen = 0
    messages = 0
    for message in tts_pb2_grpc.TextToSpeechStub(channel).StreamSynthesize(request, timeout=60):
        for mark in message.marks:
            assert mark.start_seconds >= sent_seconds - 1e-9, "a mark came after its audio"
        marks_seen += len(message.marks)
        sent_seconds += len(message.audio) / 2 / out_rate
        messages += 1
    assert marks_seen > 100
    assert messages > 5, "marks travel with the chunks, not all at the end"


def test_unary_and_stream_give_the_same_marks(client: Client) -> None:
    for text in TEXTS:
        unary = client.synthesize(text, encoding=Encoding.PCM, timing=Timing.all())
        stream = client.stream(text, encoding=Encoding.PCM, timing=Timing.all())
        audio = b"".join(stream)
        assert stream.marks == unary.marks
        assert audio == unary.audio


def test_the_async_client_gets_marks_too(running_server: RunningServer) -> None:
    async def run() -> tuple[list[Mark], list[Mark]]:
        async with AsyncClient(running_server.target, timeout=60) as client:
            unary = await client.synthesize(TEXTS[0], timing=Timing(words=True))
            stream = client.stream(TEXTS[0], timing=Timing(words=True))
            async for _ in stream:
                pass
            return unary.marks, stream.marks

    unary, streamed = asyncio.run(run())
    assert [m.value for m in unary] == SPOKEN_TEXTS[0][1].split()
    assert streamed == unary
