"""Dia's next-token choice for a batch of rows, each with its own sampling settings and its own
random generator, so a request's seed gives the same audio whatever else shares its batch.

Same rules as the reference implementation (classifier-free guidance picks the candidates,
the conditional logits are sampled among them; only channel 0 may end the audio, and only when
the end is its most likely token), with two differences that users would otherwise trip on:
temperatures below 1 are honoured (transformers clamps them to 1), and temperature 0 is greedy.
"""

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


def choose_tokens(
    conditional: torch.Tensor,
    unconditional: torch.Tensor | None,
    rows: list[RowSampling],
    eos_token_id: int,
) -> torch.Tensor:
    """[batch, channels, vocab] logits → [batch, channels] tokens."""
    logits = conditional.float()
    guided = logits
    if unconditional is not None:
        scale = _column(rows, "cfg_scale", logits)
        guided = logits + scale * (logits - unconditional.float())
    logits = _only_audio_and_eos(logits, eos_token_id)
    guided = _only_audio_and_eos(guided, eos_token_id)
    logits = _keep_top_k_of(guided, logits, rows)
    logits = _end_only_when_most_likely(logits, eos_token_id)
    return _sample(logits, rows)


def _column(rows: list[RowSampling], name: str, like: torch.Tensor) -> torch.Tensor:
    values = [float(getattr(row, name)) for row in rows]
    return torch.tensor(values, dtype=like.dtype, device=like.device).view(-1, 1, 1)


def _only_audio_and_eos(logits: torch.Tensor, eos_token_id: int) -> torch.Tensor:
    """Codes and, on channel 0 only, the end token; never padding or the start token."""
    logits = logits.clone()
    logits[:, 1:, eos_token_id:] = -torch.inf
    logits[:, 0, eos_token_id + 1 :] = -torch.inf
    return logits


def _keep_top_k_of(
    ranking: torch.Tensor, logits: torch.Tensor, rows: list[RowSampling]
) -> torch.Tensor:
    """logits kept where `ranking` has its per-row top k."""
    k_max = min(max(row.top_k for row in rows), ranking.shape[-1])
    top = torch.topk(ranking, k_max, dim=-1).indices
    ranks = torch.arange(k_max, device=logits.device).view(1, 1, -1)
    k = torch.tensor([row.top_k for row in rows], device=logits.device).view(-1, 1, 1)
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
    channel0[~ends, eos_token_id] = -torch.inf
    logits = logits.clone()
    logits[:, 0] = channel0
    return logits


def _sample(logits: torch.Tensor, rows: list[RowSampling]) -> torch.Tensor:
    tokens = logits.argmax(dim=-1)
    temperature = _column(rows, "temperature", logits).clamp_min(1e-5)
    probabilities = torch.softmax(logits / temperature, dim=-1)
    probabilities = _nucleus(probabilities, _column(rows, "top_p", logits))
    for index, row in enumerate(rows):
        if row.generator is None:
            continue
        tokens[index] = torch.multinomial(probabilities[index], 1, generator=row.generator).squeeze(
            -1
        )
    return tokens


def _nucleus(probabilities: torch.Tensor, top_p: torch.Tensor) -> torch.Tensor:
    """Keeps the most likely tokens whose probabilities sum to top_p (at least one)."""
    ordered, order = probabilities.sort(dim=-1, descending=True)
    before = ordered.cumsum(dim=-1) - ordered
    ordered = ordered.masked_fill(before >= top_p, 0.0)
    kept = torch.zeros_like(probabilities).scatter(-1, order, ordered)
    return kept / kept.sum(dim=-1, keepdim=True)
