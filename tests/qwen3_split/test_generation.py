"""The runtime's own talker loop against qwen-tts's `generate`, and its seeds under batching."""

import queue
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from qwen_tts import Qwen3TTSModel

from runtimes.qwen3_split.generation import End, Row, Talker
from runtimes.qwen3_split.prompt import PromptRequest, build_prompt
from runtimes.qwen3_split.sampling import Sampling, TalkerRules
from runtimes.qwen3_split.stages import StageClock

TEXT = "Hello there, this is a sentence long enough for forty frames of speech."
FRAMES = 40
GREEDY = Sampling(0.0, 0, 1.0, None)
REFERENCE_SETTINGS = {
    "do_sample": False,
    "subtalker_dosample": False,
    "repetition_penalty": 1.05,
    "max_new_tokens": FRAMES + 1,
}


def talker_of(model: Qwen3TTSModel) -> Talker:
    config = model.model.config.talker_config
    rules = TalkerRules.of(config.vocab_size, config.codec_eos_token_id, 1.05)
    return Talker(model.model, rules, max_batch=4, clock=StageClock(("lm", "decoder")))


def run(talker: Talker, row: Row) -> torch.Tensor:
    talker.submit(row)
    talker.grant(row, row.max_frames + 1)
    frames: list[torch.Tensor] = []
    while not isinstance(item := row.frames.get(timeout=60), End):
        assert isinstance(item, torch.Tensor), item
        frames.append(item)
    return torch.stack(frames)


def text_ids(model: Qwen3TTSModel, text: str = TEXT) -> torch.Tensor:
    ids: torch.Tensor = model._tokenize_texts([model._build_assistant_text(text)])[0]
    return ids


def test_greedy_frames_equal_qwen_tts_generate_custom_voice(reference: Qwen3TTSModel) -> None:
    ids = text_ids(reference)
    expected, _ = reference.model.generate(
        input_ids=[ids],
        instruct_ids=[None],
        languages=["english"],
        speakers=["ryan"],
        non_streaming_mode=True,
        **REFERENCE_SETTINGS,
    )
    talker = talker_of(reference)
    prompt = build_prompt(reference.model, PromptRequest(ids, "english", "ryan"))
    ours = run(talker, Row(prompt, GREEDY, GREEDY, FRAMES))
    talker.close()
    assert expected[0].shape == (FRAMES, 4)
    assert torch.equal(ours, expected[0])


def test_greedy_frames_equal_qwen_tts_generate_cloning_in_context(base_dir: Path) -> None:
    model = Qwen3TTSModel.from_pretrained(str(base_dir), device_map="cpu", dtype=torch.float32)
    audio = (np.random.default_rng(0).standard_normal(48000) * 0.1).astype(np.float32)
    item = model.create_voice_clone_prompt(ref_audio=(audio, 24000), ref_text="Some words.")[0]
    ids, reference_ids = (
        text_ids(model),
        model._tokenize_texts([model._build_ref_text("Some words.")])[0],
    )
    expected, _ = model.model.generate(
        input_ids=[ids],
        ref_ids=[reference_ids],
        voice_clone_prompt=model._prompt_items_to_voice_clone_prompt([item]),
        languages=["english"],
        non_streaming_mode=False,
        **REFERENCE_SETTINGS,
    )
    request = PromptRequest(
        ids,
        "english",
        speaker_embedding=item.ref_spk_embedding,
        reference_ids=reference_ids,
        reference_codes=item.ref_code,
        whole_text=False,
    )
    talker = talker_of(model)
    ours = run(talker, Row(build_prompt(model.model, request), GREEDY, GREEDY, FRAMES))
    talker.close()
    assert torch.equal(ours, expected[0])


def sampled(seed: int) -> Sampling:
    return Sampling(0.9, 50, 0.95, torch.Generator().manual_seed(seed))


def seeded_row(model: Qwen3TTSModel, seed: int, text: str = TEXT) -> Row:
    prompt = build_prompt(model.model, PromptRequest(text_ids(model, text), "english", "ryan"))
    talker_sampling, code_sampling = sampled(seed), sampled(seed)
    generator = talker_sampling.generator
    code_sampling = Sampling(0.9, 50, 1.0, generator)
    return Row(prompt, talker_sampling, code_sampling, 24)


def test_a_seed_gives_the_same_frames_alone_and_inside_a_batch(reference: Qwen3TTSModel) -> None:
    talker = talker_of(reference)
    alone = run(talker, seeded_row(reference, 7))
    texts = ["Short.", TEXT, "Another request with its own words.", "And a fourth one."]
    rows = [
        seeded_row(reference, seed, text) for seed, text in zip([1, 7, 2, 3], texts, strict=True)
    ]
    results: dict[int, torch.Tensor] = {}

    def worker(index: int) -> None:
        results[index] = run(talker, rows[index])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(rows))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    talker.close()
    assert torch.equal(results[1], alone)
    assert not torch.equal(results[0][: len(results[2])], results[2][: len(results[0])])


def test_rows_join_and_leave_between_steps_without_changing_each_other(
    reference: Qwen3TTSModel,
) -> None:
    talker = talker_of(reference)
    prompt = build_prompt(reference.model, PromptRequest(text_ids(reference), "english", "ryan"))
    alone = run(talker, Row(prompt, GREEDY, GREEDY, FRAMES))
    first = Row(prompt, GREEDY, GREEDY, FRAMES)
    talker.submit(first)
    talker.grant(first, 10)
    early = [first.frames.get(timeout=60) for _ in range(10)]
    assert all(isinstance(frame, torch.Tensor) for frame in early)
    short_prompt = build_prompt(
        reference.model, PromptRequest(text_ids(reference, "Hi."), "english", "vivian")
    )
    joining = Row(short_prompt, GREEDY, GREEDY, 5)
    talker.submit(joining)
    talker.grant(joining, 6)
    talker.grant(first, FRAMES)
    rest = []
    while not isinstance(item := first.frames.get(timeout=60), End):
        assert isinstance(item, torch.Tensor)
        rest.append(item)
    assert isinstance(joining.frames.get(timeout=60), torch.Tensor)
    talker.close()
    assert torch.equal(torch.stack([*early, *rest]), alone)  # type: ignore[list-item]


def test_a_row_never_runs_more_than_its_credit_ahead(reference: Qwen3TTSModel) -> None:
    talker = talker_of(reference)
    row = seeded_row(reference, 3)
    talker.submit(row)
    talker.grant(row, 3)
    got = [row.frames.get(timeout=60) for _ in range(3)]
    assert all(isinstance(frame, torch.Tensor) for frame in got)
    with pytest.raises(queue.Empty):
        row.frames.get(timeout=0.5)
    assert row.produced == 3
    talker.cancel(row)
    talker.close()
