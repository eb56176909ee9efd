"""Dia's next-token choice for a batch of rows, each with its own sampling settings and its own
random generator, so a request's seed gives the same audio whatever else shares its batch.

Same rules as the reference implementation (classifier-free guidance picks the candidates,
the conditional logits are sampled among them; only channel 0 may end the audio, and only when
the end is its most likely token), with two differences that users would otherwise trip on:
temperatures below 1 are honoured (transformers clamps them to 1), and temperature 0 is greedy.

A row's random numbers are drawn apart from the choice itself (`draw_noise`, then `pick_tokens`),
which is what `torch.multinomial` does inside for one sample: argmax(p / q) with q ~ Exp(1)
drawn from the row's generator. The same seed gives the same tokens either way, and `pick_tokens`
has no host synchronisation and no data-dependent shapes, so it can run inside a CUDA graph.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class RowSampling:
    temperature: float
    top_p: float
    top_k: int
    cfg_scale: float
    generator: torch.Generator | None
    """None for greedy rows (temperature 0)."""


@dataclass(frozen=True)
class SamplingColumns:
    """The rows' settings as tensors: [rows, 1, 1] each, `sampled` [rows]."""

    temperature: torch.Tensor
    top_p: torch.Tensor
    cfg_scale: torch.Tensor
    top_k: torch.Tensor
    sampled: torch.Tensor
    k_max: int
    """The largest top_k (at most the vocabulary): the width of the top-k search."""

    @classmethod
    def of(cls, rows: list[RowSampling], vocab: int, device: torch.device) -> "SamplingColumns":
        def column(values: list[float], dtype: torch.dtype) -> torch.Tensor:
            return torch.tensor(values, dtype=dtype).view(-1, 1, 1).to(device)

        return cls(
            temperature=column([row.temperature for row in rows], torch.float32),
            top_p=column([row.top_p for row in rows], torch.float32),
            cfg_scale=column([row.cfg_scale for row in rows], torch.float32),
            top_k=column([row.top_k for row in rows], torch.long),
            sampled=torch.tensor([row.generator is not None for row in rows]).to(device),
            k_max=k_max_of(rows, vocab),
        )


def k_max_of(rows: list[RowSampling], vocab: int) -> int:
    return min(max(row.top_k for row in rows), vocab)


def choose_tokens(
    conditional: torch.Tensor,
    unconditional: torch.Tensor | None,
    rows: list[RowSampling],
    eos_token_id: int,
) -> torch.Tensor:
    """[batch, channels, vocab] logits → [batch, channels] tokens."""
    columns = SamplingColumns.of(rows, conditional.shape[-1], conditional.device)
    noise = torch.ones(conditional.shape, dtype=torch.float32, device=conditional.device)
    draw_noise(noise, rows)
    return pick_tokens(conditional, unconditional, columns, noise, eos_token_id)


def draw_noise(noise: torch.Tensor, rows: Sequence[RowSampling | None]) -> None:
    """Fills noise[i] ([channels, vocab], float32) from row i's generator; greedy rows and None
    (rows not drawn this step) are left as they are."""
    for index, row in enumerate(rows):
        if row is not None and row.generator is not None:
            noise[index].exponential_(1, generator=row.generator)


def pick_tokens(
    conditional: torch.Tensor,
    unconditional: torch.Tensor | None,
    columns: SamplingColumns,
    noise: torch.Tensor,
    eos_token_id: int,
) -> torch.Tensor:
    """[batch, channels, vocab] logits and noise → [batch, channels] tokens."""
    logits = conditional.float()
    guided = logits
    if unconditional is not None:
        guided = logits + columns.cfg_scale * (logits - unconditional.float())
    logits = _only_audio_and_eos(logits, eos_token_id)
    guided = _only_audio_and_eos(guided, eos_token_id)
    logits = _keep_top_k_of(guided, logits, columns.top_k, columns.k_max)
    logits = _end_only_when_most_likely(logits, eos_token_id)
    greedy = logits.argmax(dim=-1)
    probabilities = torch.softmax(logits / columns.temperature.clamp_min(1e-5), dim=-1)
    probabilities = _nucleus(probabilities, columns.top_p)
    sampled = (probabilities / noise).argmax(dim=-1)
    return torch.where(columns.sampled[:, None], sampled, greedy)


def _only_audio_and_eos(logits: torch.Tensor, eos_token_id: int) -> torch.Tensor:
    """Codes and, on channel 0 only, the end token; never padding or the start token."""
    logits = logits.clone()
    logits[:, 1:, eos_token_id:] = -torch.inf
    logits[:, 0, eos_token_id + 1 :] = -torch.inf
    return logits


def _keep_top_k_of(
    ranking: torch.Tensor, logits: torch.Tensor, k: torch.Tensor, k_max: int
) -> torch.Tensor:
    """logits kept where `ranking` has its per-row top k."""
    top = torch.topk(ranking, k_max, dim=-1).indices
    ranks = torch.arange(k_max, device=logits.device).view(1, 1, -1)
    keep = torch.zeros_like(logits, dtype=torch.bool)
    keep.scatter_(-1, top, (ranks < k).expand_as(top))
    return logits.masked_fill(~keep, -torch.inf)


def _end_only_when_most_likely(logits: torch.Tensor, eos_token_id: int) -> torch.Tensor:
    """Channel 0 ends exactly when the end token is its most likely one, so sampling can
    neither cut the audio short nor run past the model's own ending."""
    channel0 = logits[:, 0]
    ends = channel0.argmax(dim=-1) == eos_token_id
    forced = torch.full_like(channel0, -torch.inf)
    forced[:, eos_token_id] = 0.0
    channel0 = torch.where(ends[:, None], forced, channel0)
    channel0[:, eos_token_id] = channel0[:, eos_token_id].masked_fill(~ends, -torch.inf)
    logits = logits.clone()
    logits[:, 0] = channel0
    return logits


def _nucleus(probabilities: torch.Tensor, top_p: torch.Tensor) -> torch.Tensor:
    """Keeps the most likely tokens whose probabilities sum to top_p (at least one)."""
    ordered, order = probabilities.sort(dim=-1, descending=True)
    before = ordered.cumsum(dim=-1) - ordered
    ordered = ordered.masked_fill(before >= top_p, 0.0)
    kept = torch.zeros_like(probabilities).scatter(-1, order, ordered)
    return kept / kept.sum(dim=-1, keepdim=True)
