"""Cantata's Dia generation loop against transformers' own `generate`, and the properties that
loop exists for: per-row seeds that batching cannot disturb, honest temperatures, cancelled
rows leaving the batch, and a streamed decode that joins up to the one-shot decode. The loop's
properties hold over transformers' growing caches and over the static slots that CUDA graphs
replay (run eagerly here; tests/unit/test_dia_cuda_graphs.py replays them on a GPU), and both
choose the same tokens."""

import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from transformers import (
    DacModel,
    DiaFeatureExtractor,
    DiaForConditionalGeneration,
    DiaProcessor,
    DiaTokenizer,
)

from runtimes.batching import Batcher
from runtimes.dia.codec import Codec, StreamingDecoder
from runtimes.dia.generation import END, FrameItem, Row, Tokens, generate
from runtimes.dia.sampling import RowSampling, choose_tokens
from runtimes.dia.static_decoding import StaticDecoder
from tests.dia_models import build_tiny_dia

TEXTS = ["[S1] Hello there. [S2] Hi! (laughs)", "[S1] Short.", "[S2] A somewhat longer line."]
STREAM_TOLERANCE = 1e-5
"""The largest sample difference allowed between a streamed and a one-shot decode."""


class Dia:
    def __init__(self, folder: Path) -> None:
        self.model = DiaForConditionalGeneration.from_pretrained(folder)
        self.codec_model = DacModel.from_pretrained(folder / "dac")
        self.tokenizer = DiaTokenizer.from_pretrained(folder)
        self.tokens = Tokens.of(self.model.config)

    def row(
        self,
        text: str,
        sampling: RowSampling,
        max_frames: int = 40,
        prompt: torch.Tensor | None = None,
    ) -> Row:
        prompt = torch.zeros(0, 9, dtype=torch.long) if prompt is None else prompt
        return Row(
            self.tokenizer.encode(text, add_special_tokens=False), prompt, sampling, max_frames
        )


@pytest.fixture(scope="module")
def dia(tmp_path_factory: pytest.TempPathFactory) -> Dia:
    return Dia(build_tiny_dia(tmp_path_factory.mktemp("dia")))


@pytest.fixture(params=["dynamic", "static"])
def decoder(request: pytest.FixtureRequest, dia: Dia) -> StaticDecoder | None:
    """transformers' caches (None), or static slots stepped eagerly."""
    if request.param == "dynamic":
        return None
    return StaticDecoder(dia.model, dia.tokens.eos, graphs=False)


def sampled(seed: int, temperature: float = 1.0, top_k: int = 45) -> RowSampling:
    return RowSampling(temperature, 0.95, top_k, 3.0, torch.Generator().manual_seed(seed))


GREEDY = RowSampling(0.0, 1.0, 45, 3.0, None)


def frames_of(row: Row) -> torch.Tensor:
    frames = []
    while not isinstance(item := row.frames.get(timeout=60), type(END)):
        assert isinstance(item, torch.Tensor), item
        frames.append(item)
    return torch.cat(frames) if frames else torch.zeros(0, 9, dtype=torch.long)


def test_greedy_generation_matches_transformers_generate(dia: Dia) -> None:
    processor = DiaProcessor(  # type: ignore[no-untyped-call]
        DiaFeatureExtractor(sampling_rate=44100, hop_length=512), dia.tokenizer, dia.codec_model
    )
    inputs = processor(text=[TEXTS[0]], padding=True, return_tensors="pt")
    new_steps = 60
    reference: Any = dia.model.generate(
        **inputs, max_new_tokens=new_steps, do_sample=False, guidance_scale=3.0, top_k=45
    )
    # transformers counts delayed steps and ends channel 0 max(delay) steps early.
    row = dia.row(TEXTS[0], GREEDY, max_frames=new_steps - dia.tokens.max_delay - 1)
    generate(dia.model, dia.tokens, [row])
    ours = frames_of(row)
    steps = reference.shape[1]
    undelay = processor.build_indices(
        bsz=1, seq_len=steps, num_channels=9, delay_pattern=list(dia.tokens.delays), revert=True
    )
    expected = processor.apply_audio_delay(reference, -1, -1, undelay)[0]
    assert ours.shape[0] == new_steps - dia.tokens.max_delay - 1
    # After channel 0 ends, transformers keeps sampling it and feeds those tokens back, where
    # Dia's reference implementation (and Cantata) feed padding: only frames finished by the
    # end step are the same computation.
    settled = ours.shape[0] - dia.tokens.max_delay
    assert torch.equal(ours[:settled], expected[1 : 1 + settled].long())


def test_a_seed_gives_the_same_frames_alone_and_inside_a_batch(
    dia: Dia, decoder: StaticDecoder | None
) -> None:
    alone = dia.row(TEXTS[0], sampled(7))
    generate(dia.model, dia.tokens, [alone], decoder)
    batch = [dia.row(text, sampled(seed)) for text, seed in zip(TEXTS, (3, 7, 11), strict=True)]
    batch[1] = dia.row(TEXTS[0], sampled(7))
    generate(dia.model, dia.tokens, batch, decoder)
    outputs = [frames_of(row) for row in batch]
    assert torch.equal(outputs[1], frames_of(alone))
    assert not torch.equal(outputs[0][: len(outputs[1])], outputs[1][: len(outputs[0])])


def test_different_seeds_give_different_frames(dia: Dia) -> None:
    rows = [dia.row(TEXTS[0], sampled(seed)) for seed in (1, 2)]
    for row in rows:
        generate(dia.model, dia.tokens, [row])
    first, second = (frames_of(row) for row in rows)
    assert not torch.equal(first, second)


BATCHES: list[list[tuple[str, float, int, int, int]]] = [
    [(TEXTS[0], 0.0, 45, 3, 60)],
    [(TEXTS[0], 1.0, 45, 3, 40)],
    # Three rows in a slot of four, leaving at different steps.
    [(TEXTS[0], 1.0, 45, 3, 40), (TEXTS[1], 1.8, 45, 3, 25), (TEXTS[2], 1.0, 45, 3, 60)],
    [(TEXTS[1], 1.2, 45, 0, 30)],
    # One row without guidance beside one with: the batch is guided, at scale 0 for the first.
    [(TEXTS[1], 1.2, 45, 0, 30), (TEXTS[2], 1.0, 20, 3, 50)],
]
"""Rows as (text, temperature, top_k, cfg_scale, max_frames); row i samples with seed i."""


@pytest.mark.parametrize("batch", BATCHES)
def test_static_slots_choose_what_growing_caches_choose(
    dia: Dia, batch: list[tuple[str, float, int, int, int]]
) -> None:
    static = StaticDecoder(dia.model, dia.tokens.eos, graphs=False)

    def frames(decoder: StaticDecoder | None, prompt: torch.Tensor | None) -> list[torch.Tensor]:
        rows = [
            dia.row(
                text,
                RowSampling(
                    temperature,
                    0.9,
                    top_k,
                    cfg,
                    torch.Generator().manual_seed(seed) if temperature else None,
                ),
                max_frames=max_frames,
                prompt=prompt,
            )
            for seed, (text, temperature, top_k, cfg, max_frames) in enumerate(batch)
        ]
        generate(dia.model, dia.tokens, rows, decoder)
        return [frames_of(row) for row in rows]

    prompt = torch.randint(0, 1024, (15, 9), generator=torch.Generator().manual_seed(0))
    for prompted in (None, prompt):  # the second batch reuses the slot
        growing, static_frames = frames(None, prompted), frames(static, prompted)
        assert [len(rows) for rows in growing] == [row[-1] for row in batch]
        for expected, got in zip(growing, static_frames, strict=True):
            assert torch.equal(got, expected)


def test_temperatures_below_one_are_honoured_not_clamped() -> None:
    logits = torch.full((1, 9, 1028), -30.0)
    logits[:, :, 10], logits[:, :, 11] = 1.0, 0.0  # P(11) is 27% at temperature 1
    shares = {}
    for temperature in (1.0, 0.5, 0.1):
        generator = torch.Generator().manual_seed(0)
        row = RowSampling(temperature, 1.0, 45, 0.0, generator)
        picks = torch.stack([choose_tokens(logits, None, [row], 1024) for _ in range(400)])
        shares[temperature] = float((picks == 11).float().mean())
    assert 0.22 < shares[1.0] < 0.32
    assert 0.08 < shares[0.5] < 0.16  # 1 / (1 + e^2)
    assert shares[0.1] < 0.01


def test_top_k_of_one_is_greedy_at_any_temperature(dia: Dia, decoder: StaticDecoder | None) -> None:
    greedy = dia.row(TEXTS[1], RowSampling(0.0, 1.0, 1, 3.0, None))
    top_1 = dia.row(TEXTS[1], sampled(9, temperature=2.0, top_k=1))
    generate(dia.model, dia.tokens, [greedy, top_1], decoder)
    assert torch.equal(frames_of(top_1), frames_of(greedy))


def test_a_prompt_is_a_prefix_and_not_part_of_the_output(
    dia: Dia, decoder: StaticDecoder | None
) -> None:
    prompt = torch.randint(0, 1024, (20, 9))
    row = dia.row(TEXTS[1], GREEDY, max_frames=12, prompt=prompt)
    generate(dia.model, dia.tokens, [row], decoder)
    frames = frames_of(row)
    assert frames.shape == (12, 9)
    plain = dia.row(TEXTS[1], GREEDY, max_frames=12)
    generate(dia.model, dia.tokens, [plain], decoder)
    assert not torch.equal(frames, frames_of(plain))


class CancelledOnFirstFrame(queue.SimpleQueue[FrameItem]):
    """A consumer that goes away as soon as its first frame arrives."""

    def __init__(self, cancelled: threading.Event) -> None:
        self.cancelled = cancelled

    def put(self, item: FrameItem, block: bool = True, timeout: float | None = None) -> None:
        super().put(item, block, timeout)
        self.cancelled.set()


def test_a_cancelled_row_leaves_the_batch_within_a_step(
    dia: Dia, decoder: StaticDecoder | None
) -> None:
    cancelled = dia.row(TEXTS[0], sampled(1), max_frames=200)
    cancelled.frames = CancelledOnFirstFrame(cancelled.cancelled)
    kept = dia.row(TEXTS[1], sampled(2), max_frames=60)
    generate(dia.model, dia.tokens, [cancelled, kept], decoder)
    assert cancelled.cancelled.is_set()
    # Its first frame is final after max(delay) + 1 steps; it computed none after that.
    assert len(cancelled.steps) == dia.tokens.max_delay + 1
    assert frames_of(kept).shape[0] == 60


def test_the_batcher_gathers_rows_that_arrive_together(dia: Dia) -> None:
    batches: list[int] = []

    def run(rows: list[Row]) -> None:
        batches.append(len(rows))
        generate(dia.model, dia.tokens, rows)

    batcher = Batcher[Row](
        run, lambda row: row.prefix_frames, max_rows=3, wait_seconds=5.0, max_batches=2, name="dia"
    )
    rows = [dia.row(TEXTS[0], sampled(seed), max_frames=5) for seed in range(4)]
    for row in rows:
        batcher.submit(row)
    assert all(frames_of(row).shape[0] == 5 for row in rows)
    batcher.close()
    assert sorted(batches) == [1, 3]  # 3 filled the first batch; the 4th waited out its own


def test_a_streamed_decode_joins_up_to_the_one_shot_decode(dia: Dia) -> None:
    codec = Codec(dia.codec_model, torch.device("cpu"))
    codes = torch.randint(0, 1024, (150, 9))
    whole = codec.decode(codes)
    decoder = StreamingDecoder(codec, first_frames=8, max_frames=32, context=8)

    def arriving() -> Iterator[np.ndarray]:
        for start in range(0, 150, 5):
            yield from decoder.push(codes[start : start + 5])
        yield from decoder.finish()

    chunks = list(arriving())
    assert [chunk.size for chunk in chunks[:3]] == [8 * 512, 16 * 512, 32 * 512]
    streamed = np.concatenate(chunks)
    assert streamed.size == whole.size == 150 * 512
    gap = float(np.max(np.abs(streamed - whole)))
    assert gap <= STREAM_TOLERANCE, f"streamed decode differs by up to {gap}"
    without_context = StreamingDecoder(codec, first_frames=8, max_frames=32, context=0)
    joined = np.concatenate([*without_context.push(codes), *without_context.finish()])
    assert float(np.max(np.abs(joined - whole))) > 100 * STREAM_TOLERANCE  # context matters


def test_prompt_audio_is_encoded_at_the_codecs_rate(dia: Dia) -> None:
    codec = Codec(dia.codec_model, torch.device("cpu"))
    seconds = 0.5
    for rate in (16000, 44100, 48000):
        tone = np.sin(2 * np.pi * 220 * np.arange(int(rate * seconds)) / rate).astype(np.float32)
        codes = codec.encode(tone, rate)
        assert codes.shape == (int(np.ceil(44100 * seconds / 512)), 9)
        assert int(codes.max()) < 1024
