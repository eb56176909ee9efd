"""Token choice for one row, with the row's own settings and random generator, so a request's
seed gives the same audio whatever else shares its batch.

The talker's first codebook follows qwen-tts's `generate` (transformers' logits processors in
their order): repetition penalty over the codes generated so far, the control ids suppressed
except end-of-speech, no end before the second frame, then temperature, top-k and top-p.
Temperature 0 is greedy. The code predictor's codebooks use temperature, top-k and top-p only.
"""

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Sampling:
    temperature: float
    top_k: int
    top_p: float
    generator: torch.Generator | None
    """None when greedy (temperature 0)."""


@dataclass(frozen=True)
class TalkerRules:
    eos_id: int
    suppressed: torch.Tensor
    """Ids never chosen: the control ids in the top 1024 of the vocabulary, except eos."""
    repetition_penalty: float
    min_frames: int = 2

    @classmethod
    def of(cls, vocab_size: int, eos_id: int, repetition_penalty: float) -> "TalkerRules":
        ids = [i for i in range(vocab_size - 1024, vocab_size) if i != eos_id]
        return cls(eos_id, torch.tensor(ids), repetition_penalty)


def choose_first_code(
    logits: torch.Tensor, history: list[int], rules: TalkerRules, sampling: Sampling
) -> int:
    """[vocab] logits of the talker → the frame's first code (or eos)."""
    logits = logits.float().clone()
    if history and rules.repetition_penalty != 1.0:
        seen = torch.tensor(sorted(set(history)), device=logits.device)
        scores = logits[seen]
        penalised = torch.where(
            scores < 0, scores * rules.repetition_penalty, scores / rules.repetition_penalty
        )
        logits[seen] = penalised
    logits[rules.suppressed.to(logits.device)] = -torch.inf
    if len(history) < rules.min_frames:
        logits[rules.eos_id] = -torch.inf
    return choose(logits, sampling)


def choose(logits: torch.Tensor, sampling: Sampling) -> int:
    """[vocab] logits → one id, greedy or sampled with the row's generator."""
    if sampling.generator is None:
        return int(logits.argmax())
    logits = logits.float() / sampling.temperature
    if 0 < sampling.top_k < logits.shape[-1]:
        kth = torch.topk(logits, sampling.top_k).values[-1]
        logits = logits.masked_fill(logits < kth, -torch.inf)
    if sampling.top_p < 1.0:
        ordered, order = torch.sort(logits, descending=False)
        cumulative = ordered.softmax(dim=-1).cumsum(dim=-1)
        drop = cumulative <= 1 - sampling.top_p
        drop[-1] = False
        logits = logits.masked_fill(torch.zeros_like(drop).scatter(0, order, drop), -torch.inf)
    probabilities = logits.softmax(dim=-1).cpu()
    return int(torch.multinomial(probabilities, 1, generator=sampling.generator))
