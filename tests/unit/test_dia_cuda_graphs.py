"""Dia's decoder steps replayed as CUDA graphs choose exactly the tokens the same steps choose
eagerly, also while other threads capture, replay and decode audio on the same GPU, and seeds
hold across concurrent requests served with graphs. Needs an NVIDIA GPU (skipped elsewhere);
tests/unit/test_dia_generation.py checks the eager static steps on the CPU."""

import functools
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from runtimes.base import SamplingParams, SynthesisJob
from runtimes.dia import DiaRuntime
from runtimes.dia.codec import Codec
from runtimes.dia.generation import Row, generate
from runtimes.dia.sampling import RowSampling
from runtimes.dia.static_decoding import StaticDecoder
from tests.dia_models import build_tiny_dia
from tests.unit.test_dia_generation import TEXTS, Dia, frames_of

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available() or torch.version.hip is not None,
    reason="CUDA graphs are checked on an NVIDIA GPU",
)
CUDA = torch.device("cuda:0")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_dia(tmp_path_factory.mktemp("dia"))


@pytest.fixture(scope="module", params=[torch.float32, torch.float16], ids=str)
def dia(folder: Path, request: pytest.FixtureRequest) -> Dia:
    dia = Dia(folder)
    torch.nn.Module.to(dia.model, CUDA, request.param)
    torch.nn.Module.to(dia.codec_model, CUDA)
    return dia


def sampling(seed: int, temperature: float = 1.2, cfg: float = 3.0) -> RowSampling:
    generator = torch.Generator(CUDA).manual_seed(seed) if temperature else None
    return RowSampling(temperature, 0.9, 45, cfg, generator)


def batch_of(dia: Dia, sizes: list[int], seed: int, prompt_frames: int = 0) -> list[Row]:
    """Rows of max_frames `sizes` (so they leave at different steps)."""
    prompt = torch.randint(0, 1024, (prompt_frames, 9), generator=torch.Generator().manual_seed(1))
    return [
        dia.row(TEXTS[index % 3], sampling(seed + index), max_frames=frames, prompt=prompt)
        for index, frames in enumerate(sizes)
    ]


def run(
    dia: Dia, decoder: StaticDecoder | None, make: Callable[[], list[Row]]
) -> list[torch.Tensor]:
    rows = make()
    generate(dia.model, dia.tokens, rows, decoder)
    return [frames_of(row) for row in rows]


BATCHES = [([40], 0), ([30, 70, 50], 0), ([20, 45], 12), ([300], 0)]
"""(rows' max_frames, prompt frames): one row, three in a slot of four, a prompt's prefill, and
a row that crosses the 256-position bucket."""


@pytest.mark.parametrize(("sizes", "prompt_frames"), BATCHES)
def test_graph_replays_choose_what_eager_steps_choose(
    dia: Dia, sizes: list[int], prompt_frames: int
) -> None:
    graphs = StaticDecoder(dia.model, dia.tokens.eos, graphs=True)
    eager = StaticDecoder(dia.model, dia.tokens.eos, graphs=False)

    def make() -> list[Row]:
        return batch_of(dia, sizes, seed=5, prompt_frames=prompt_frames)

    expected = run(dia, eager, make)
    for _ in range(2):  # captured, then replayed again in the reused slot
        got = run(dia, graphs, make)
        assert all(torch.equal(frames, want) for frames, want in zip(got, expected, strict=True))
    assert graphs.graphs
    assert graphs.captured >= 1


def test_noise_then_argmax_is_torch_multinomial_on_cuda() -> None:
    probabilities = torch.softmax(torch.randn(9, 1028, device=CUDA) * 3, dim=-1)
    for seed in range(20):
        drawn = torch.multinomial(
            probabilities, 1, generator=torch.Generator(CUDA).manual_seed(seed)
        ).squeeze(-1)
        noise = torch.empty(3, 9, 1028, device=CUDA)
        noise[1].exponential_(1, generator=torch.Generator(CUDA).manual_seed(seed))
        assert torch.equal((probabilities / noise[1]).argmax(-1), drawn)


def test_graphs_agree_with_growing_caches_in_float32(dia: Dia) -> None:
    if dia.model.dtype != torch.float32:
        pytest.skip("half precision rounds differently with and without the static masks")
    graphs = StaticDecoder(dia.model, dia.tokens.eos, graphs=True)
    for sizes, prompt_frames in BATCHES:

        def make(sizes: list[int] = sizes, prompt_frames: int = prompt_frames) -> list[Row]:
            return batch_of(dia, sizes, seed=9, prompt_frames=prompt_frames)

        growing = run(dia, None, make)
        replayed = run(dia, graphs, make)
        assert all(torch.equal(got, want) for got, want in zip(replayed, growing, strict=True))


def test_concurrent_batches_capture_and_replay_beside_codec_work(dia: Dia) -> None:
    """Two batches of different sizes capture their graphs at the same time on one decoder,
    while a third thread decodes audio on the default stream."""
    eager = StaticDecoder(dia.model, dia.tokens.eos, graphs=False)
    graphs = StaticDecoder(dia.model, dia.tokens.eos, graphs=True)
    shapes = [[60, 80], [50, 70, 90, 40, 30]]
    expected = [run(dia, eager, functools.partial(batch_of, dia, s, 3)) for s in shapes]
    results: dict[int, list[torch.Tensor]] = {}
    errors: list[BaseException] = []
    stop = threading.Event()
    codec = Codec(dia.codec_model, CUDA)

    def batch(index: int) -> None:
        try:
            results[index] = run(dia, graphs, functools.partial(batch_of, dia, shapes[index], 3))
        except BaseException as error:
            errors.append(error)

    def decode_audio() -> None:
        codes = torch.randint(0, 1024, (40, 9))
        while not stop.is_set():
            assert codec.decode(codes).size == 40 * 512

    decoder_thread = threading.Thread(target=decode_audio)
    decoder_thread.start()
    threads = [threading.Thread(target=batch, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stop.set()
    decoder_thread.join()
    assert not errors, errors
    assert graphs.graphs
    assert graphs.captured >= 2
    for index, want in enumerate(expected):
        assert all(torch.equal(got, w) for got, w in zip(results[index], want, strict=True))


def test_seeds_hold_across_concurrent_requests_served_with_graphs(folder: Path) -> None:
    runtime = DiaRuntime(
        {
            "model_dir": str(folder),
            "device": "cuda",
            "dtype": "float32",
            "cuda_graphs": "on",
            "max_chunk_seconds": 1,
        }
    )
    runtime.load()
    try:
        assert runtime._static is not None
        assert runtime._static.graphs

        def job(seed: int) -> SynthesisJob:
            return SynthesisJob((TEXTS[seed % 3],), "dia", sampling=SamplingParams(seed=seed))

        alone = {seed: np.concatenate(list(runtime.synthesize(job(seed)))) for seed in range(4)}
        together: dict[int, np.ndarray] = {}

        def one(seed: int) -> None:
            together[seed] = np.concatenate(list(runtime.synthesize(job(seed))))

        threads = [threading.Thread(target=one, args=(seed,)) for seed in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for seed in range(4):
            assert np.array_equal(together[seed], alone[seed]), seed
    finally:
        runtime.close()
