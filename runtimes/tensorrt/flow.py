"""F5-TTS's sampling: the guided Euler flow from noise to a mel spectrogram, for a batch of rows.

As F5's `CFM.sample`: the reference mel is the condition over its own frames (zeros after), the
noise comes from each row's own generator (so a seed gives the same audio whatever else shares
the batch), the time grid is F5's (its pruned grids for the step counts it has them for, evenly
spaced otherwise) bent by sway sampling, and guidance runs the conditional and unconditional
rows in one batch. Unlike F5's batched path, padded frames are masked out of attention, so a
row's audio does not depend on the length of its neighbours."""

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

StepFunction = Callable[
    [torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None], torch.Tensor
]
"""(x, cond, text_embedding, time, mask) → predicted flow, all batched."""

_PRUNED_GRIDS = {
    5: [0, 2, 4, 8, 16, 32],
    6: [0, 2, 4, 6, 8, 16, 32],
    7: [0, 2, 4, 6, 8, 16, 24, 32],
    10: [0, 2, 4, 6, 8, 12, 16, 20, 24, 28, 32],
    12: [0, 2, 4, 6, 8, 10, 12, 14, 16, 20, 24, 28, 32],
    16: [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32],
}
"""F5's empirically pruned step grids, in 1/32 units."""


@dataclass
class FlowRow:
    reference: torch.Tensor
    """[frames, mel] log-mel of the reference audio (the condition)."""
    text_embedding: torch.Tensor
    """[duration, text_dim] conditional text embedding (DiT.embed_text)."""
    null_text_embedding: torch.Tensor
    """[duration, text_dim] the same with the text dropped, for guidance."""
    generator: torch.Generator
    guidance: float

    @property
    def duration(self) -> int:
        return int(self.text_embedding.shape[0])


def time_grid(steps: int, sway: float | None) -> torch.Tensor:
    if steps in _PRUNED_GRIDS:
        grid = torch.tensor(_PRUNED_GRIDS[steps], dtype=torch.float32) / 32
    else:
        grid = torch.linspace(0, 1, steps + 1)
    if sway is not None:
        grid = grid + sway * (torch.cos(math.pi / 2 * grid) - 1 + grid)
    return grid


@torch.inference_mode()
def sample(
    step: StepFunction,
    rows: list[FlowRow],
    steps: int,
    sway: float | None,
    device: torch.device,
    dtype: torch.dtype = torch.float32,
) -> list[torch.Tensor]:
    """→ per row, its [duration, mel] mel with the reference frames kept as they were."""
    length = max(row.duration for row in rows)
    mel = rows[0].reference.shape[-1]
    batch = len(rows)
    cond = torch.zeros(batch, length, mel)
    noise = torch.zeros(batch, length, mel)
    text = torch.zeros(2 * batch, length, rows[0].text_embedding.shape[-1])
    for index, row in enumerate(rows):
        frames = row.reference.shape[0]
        cond[index, :frames] = row.reference
        noise[index, : row.duration] = torch.randn(row.duration, mel, generator=row.generator)
        text[index, : row.duration] = row.text_embedding
        text[batch + index, : row.duration] = row.null_text_embedding
    lengths = torch.tensor([row.duration for row in rows])
    mask = None
    if batch > 1:
        mask = (torch.arange(length).unsqueeze(0) < lengths.unsqueeze(1)).to(device)
        mask = torch.cat([mask, mask])
    guidance = torch.tensor([row.guidance for row in rows], dtype=dtype, device=device)
    guidance = guidance.view(-1, 1, 1)
    cond, text = cond.to(device, dtype), text.to(device, dtype)
    paired_cond = torch.cat([cond, torch.zeros_like(cond)])
    x = noise.to(device, dtype)
    grid = time_grid(steps, sway).to(device, dtype)
    for start, end in itertools.pairwise(grid):
        time = start.expand(2 * batch)
        flow = step(torch.cat([x, x]), paired_cond, text, time, mask)
        conditional, unconditional = flow.chunk(2)
        x = x + (end - start) * (conditional + (conditional - unconditional) * guidance)
    x = x.float().cpu()
    outputs = []
    for index, row in enumerate(rows):
        out = x[index, : row.duration].clone()
        out[: row.reference.shape[0]] = row.reference
        outputs.append(out)
    return outputs
