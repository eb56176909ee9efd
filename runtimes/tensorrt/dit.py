"""F5-TTS's DiT (the flow-matching transformer), Cantata's own implementation of the published
architecture: the same modules, parameter names and arithmetic as the `f5-tts` package's
`DiT`, so its checkpoints (F5TTS_v1_Base) load unchanged, without the package's training stack
(wandb, datasets, accelerate) or its torchaudio import.

It is split where the export needs it: `embed_text` runs once per request (it depends on the
text and the length only, and F5's own text embedding freezes the length when traced), and
`step` is the per-step graph, taking the text embeddings as an input so that its length stays
dynamic in ONNX and TensorRT."""

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional


@dataclass(frozen=True)
class DiTConfig:
    dim: int = 1024
    depth: int = 22
    heads: int = 16
    dim_head: int = 64
    ff_mult: int = 2
    mel_dim: int = 100
    text_num_embeds: int = 256
    text_dim: int = 512
    conv_layers: int = 4
    text_mask_padding: bool = True


class SinusoidalTime(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, time: torch.Tensor, scale: float = 1000) -> torch.Tensor:
        half = self.dim // 2
        frequencies = torch.exp(
            torch.arange(half, device=time.device).float() * -(math.log(10000) / (half - 1))
        )
        angles = scale * time.unsqueeze(1) * frequencies.unsqueeze(0)
        return torch.cat((angles.sin(), angles.cos()), dim=-1)


class TimestepEmbedding(nn.Module):
    def __init__(self, dim: int, frequency_dim: int = 256) -> None:
        super().__init__()
        self.time_embed = SinusoidalTime(frequency_dim)
        self.time_mlp = nn.Sequential(nn.Linear(frequency_dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, time: torch.Tensor) -> torch.Tensor:
        hidden: torch.Tensor = self.time_mlp(self.time_embed(time).to(time.dtype))
        return hidden


class GRN(nn.Module):
    """Global response normalisation (ConvNeXt-V2)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1, 1, dim))
        self.beta = nn.Parameter(torch.zeros(1, 1, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        norms: torch.Tensor = torch.norm(x, p=2, dim=1, keepdim=True)
        scaled = norms / (norms.mean(dim=-1, keepdim=True) + 1e-6)
        return self.gamma * (x * scaled) + self.beta + x


class ConvNeXtV2Block(nn.Module):
    def __init__(self, dim: int, intermediate_dim: int) -> None:
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, intermediate_dim)
        self.act = nn.GELU()
        self.grn = GRN(intermediate_dim)
        self.pwconv2 = nn.Linear(intermediate_dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden: torch.Tensor = self.dwconv(x.transpose(1, 2)).transpose(1, 2)
        hidden = self.pwconv2(self.grn(self.act(self.pwconv1(self.norm(hidden)))))
        return x + hidden


def text_positions(dim: int, length: int, theta: float = 10000.0) -> torch.Tensor:
    """F5's precomputed sinusoidal positions for the text: [length, dim] (cos half, sin half)."""
    frequencies = 1.0 / (theta ** (torch.arange(0, dim, 2)[: dim // 2].float() / dim))
    angles = torch.outer(torch.arange(length).float(), frequencies)
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)


class TextEmbedding(nn.Module):
    MAX_POSITIONS = 8192

    def __init__(self, config: DiTConfig) -> None:
        super().__init__()
        self.mask_padding = config.text_mask_padding
        self.text_embed = nn.Embedding(config.text_num_embeds + 1, config.text_dim)
        self.register_buffer(
            "freqs_cis", text_positions(config.text_dim, self.MAX_POSITIONS), persistent=False
        )
        self.text_blocks = nn.Sequential(
            *[
                ConvNeXtV2Block(config.text_dim, config.text_dim * 2)
                for _ in range(config.conv_layers)
            ]
        )

    def forward(
        self, text: torch.Tensor, lengths: torch.Tensor, length: int, drop_text: bool
    ) -> torch.Tensor:
        """text: [b, nt] ids, -1 for padding; lengths: [b] frames per row; → [b, length, d]."""
        text = text[:, :length] + 1
        text = functional.pad(text, (0, length - text.shape[1]), value=0)
        valid = torch.arange(length, device=text.device).unsqueeze(0) < lengths.unsqueeze(1)
        text = text.masked_fill(~valid, 0)
        padding = text == 0
        if drop_text:
            text = torch.zeros_like(text)
        embedded: torch.Tensor = self.text_embed(text).masked_fill(~valid.unsqueeze(-1), 0.0)
        if len(self.text_blocks) == 0:
            return embedded
        positions: torch.Tensor = self.freqs_cis  # type: ignore[assignment]
        embedded = embedded + positions[:length].unsqueeze(0) * valid.unsqueeze(-1)
        if not self.mask_padding:
            output: torch.Tensor = self.text_blocks(embedded)
            return output
        embedded = embedded.masked_fill(padding.unsqueeze(-1), 0.0)
        for block in self.text_blocks:
            embedded = block(embedded)
            embedded = embedded.masked_fill(padding.unsqueeze(-1), 0.0)
        return embedded


class ConvPositionEmbedding(nn.Module):
    def __init__(self, dim: int, kernel_size: int = 31, groups: int = 16) -> None:
        super().__init__()
        padding = kernel_size // 2
        self.conv1d = nn.Sequential(
            nn.Conv1d(dim, dim, kernel_size, groups=groups, padding=padding),
            nn.Mish(),
            nn.Conv1d(dim, dim, kernel_size, groups=groups, padding=padding),
            nn.Mish(),
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        hidden = x.permute(0, 2, 1)
        keep = mask.unsqueeze(1) if mask is not None else None
        if keep is not None:
            hidden = hidden.masked_fill(~keep, 0.0)
        for layer in self.conv1d:
            hidden = layer(hidden)
            if keep is not None and isinstance(layer, nn.Conv1d):
                hidden = hidden.masked_fill(~keep, 0.0)
        return hidden.permute(0, 2, 1)


class InputEmbedding(nn.Module):
    def __init__(self, mel_dim: int, text_dim: int, out_dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(mel_dim * 2 + text_dim, out_dim)
        self.conv_pos_embed = ConvPositionEmbedding(out_dim)

    def forward(
        self, x: torch.Tensor, cond: torch.Tensor, text: torch.Tensor, mask: torch.Tensor | None
    ) -> torch.Tensor:
        hidden = self.proj(torch.cat((x, cond, text), dim=-1))
        output: torch.Tensor = self.conv_pos_embed(hidden, mask) + hidden
        return output


class RotaryEmbedding(nn.Module):
    """x-transformers' rotary embedding, as F5 uses it (no xpos); `inv_freq` is in checkpoints."""

    def __init__(self, dim: int, base: float = 10000.0) -> None:
        super().__init__()
        self.register_buffer("inv_freq", 1.0 / (base ** (torch.arange(0, dim, 2).float() / dim)))

    def forward(self, length: int) -> torch.Tensor:
        inverse: torch.Tensor = self.inv_freq  # type: ignore[assignment]
        positions = torch.arange(length, device=inverse.device).type_as(inverse)
        angles = torch.einsum("i,j->ij", positions, inverse)
        return torch.stack((angles, angles), dim=-1).flatten(-2).unsqueeze(0)


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    first, second = x.reshape(*x.shape[:-1], -1, 2).unbind(dim=-1)
    return torch.stack((-second, first), dim=-1).flatten(-2)


def apply_rotary(x: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """x: [b, h, n, d]; angles: [1, n, r] with r ≤ d (partial rotation of the first r dims)."""
    angles = angles[:, -x.shape[-2] :, :].unsqueeze(1)
    rotated, rest = x[..., : angles.shape[-1]], x[..., angles.shape[-1] :]
    rotated = rotated * angles.cos() + _rotate_half(rotated) * angles.sin()
    return torch.cat((rotated, rest), dim=-1).type(x.dtype)


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, dim_head: int) -> None:
        super().__init__()
        self.heads = heads
        inner = dim_head * heads
        self.to_q = nn.Linear(dim, inner)
        self.to_k = nn.Linear(dim, inner)
        self.to_v = nn.Linear(dim, inner)
        self.to_out = nn.ModuleList([nn.Linear(inner, dim), nn.Dropout(0.0)])

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None, angles: torch.Tensor
    ) -> torch.Tensor:
        batch = x.shape[0]

        def heads(projected: torch.Tensor) -> torch.Tensor:
            return projected.view(batch, -1, self.heads, projected.shape[-1] // self.heads)

        query = apply_rotary(heads(self.to_q(x)).transpose(1, 2), angles)
        key = apply_rotary(heads(self.to_k(x)).transpose(1, 2), angles)
        value = heads(self.to_v(x)).transpose(1, 2)
        # F5 v1 attends over padding too (attn_mask_enabled: False), which makes a row's output
        # depend on its batch neighbours' lengths; padded keys are masked out here instead.
        # With no padding (mask None) this is F5's arithmetic exactly.
        keys = mask[:, None, None, :] if mask is not None else None
        attended = functional.scaled_dot_product_attention(query, key, value, attn_mask=keys)
        attended = attended.transpose(1, 2).reshape(batch, -1, query.shape[1] * query.shape[-1])
        output: torch.Tensor = self.to_out[0](attended.to(query.dtype))
        if mask is not None:
            output = output.masked_fill(~mask.unsqueeze(-1), 0.0)
        return output


class AdaLayerNorm(nn.Module):
    def __init__(self, dim: int, chunks: int) -> None:
        super().__init__()
        self.silu = nn.SiLU()
        self.linear = nn.Linear(dim, dim * chunks)
        self.norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)


class FeedForward(nn.Module):
    def __init__(self, dim: int, inner: int) -> None:
        super().__init__()
        self.ff = nn.Sequential(
            nn.Sequential(nn.Linear(dim, inner), nn.GELU(approximate="tanh")),
            nn.Dropout(0.0),
            nn.Linear(inner, dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        output: torch.Tensor = self.ff(x)
        return output


class DiTBlock(nn.Module):
    def __init__(self, config: DiTConfig) -> None:
        super().__init__()
        dim = config.dim
        self.attn_norm = AdaLayerNorm(dim, 6)
        self.attn = Attention(dim, config.heads, config.dim_head)
        self.ff_norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.ff = FeedForward(dim, dim * config.ff_mult)

    def forward(
        self, x: torch.Tensor, time: torch.Tensor, mask: torch.Tensor | None, angles: torch.Tensor
    ) -> torch.Tensor:
        modulation = self.attn_norm.linear(self.attn_norm.silu(time))
        shift_a, scale_a, gate_a, shift_f, scale_f, gate_f = torch.chunk(modulation, 6, dim=1)
        normed = self.attn_norm.norm(x) * (1 + scale_a[:, None]) + shift_a[:, None]
        x = x + gate_a.unsqueeze(1) * self.attn(normed, mask, angles)
        normed = self.ff_norm(x) * (1 + scale_f[:, None]) + shift_f[:, None]
        feed_forward: torch.Tensor = self.ff(normed)
        return x + gate_f.unsqueeze(1) * feed_forward


class DiT(nn.Module):
    def __init__(self, config: DiTConfig) -> None:
        super().__init__()
        self.config = config
        self.time_embed = TimestepEmbedding(config.dim)
        self.text_embed = TextEmbedding(config)
        self.input_embed = InputEmbedding(config.mel_dim, config.text_dim, config.dim)
        self.rotary_embed = RotaryEmbedding(config.dim_head)
        self.transformer_blocks = nn.ModuleList([DiTBlock(config) for _ in range(config.depth)])
        self.norm_out = AdaLayerNorm(config.dim, 2)
        self.proj_out = nn.Linear(config.dim, config.mel_dim)

    def embed_text(
        self, text: torch.Tensor, lengths: torch.Tensor, length: int, drop_text: bool
    ) -> torch.Tensor:
        """Once per request and guidance branch: [b, length, text_dim]."""
        embedded: torch.Tensor = self.text_embed(text, lengths, length, drop_text)
        return embedded

    def step(
        self,
        x: torch.Tensor,
        cond: torch.Tensor,
        text: torch.Tensor,
        time: torch.Tensor,
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """One flow step: x, cond [b, n, mel]; text [b, n, text_dim]; time [b] → [b, n, mel].
        Unconditional rows come with cond zeroed and the text embedded with drop_text."""
        time_embedding = self.time_embed(time)
        hidden = self.input_embed(x, cond, text, mask)
        angles = self.rotary_embed(x.shape[1])
        for block in self.transformer_blocks:
            hidden = block(hidden, time_embedding, mask, angles)
        modulation = self.norm_out.linear(self.norm_out.silu(time_embedding))
        scale, shift = torch.chunk(modulation, 2, dim=1)
        hidden = self.norm_out.norm(hidden) * (1 + scale)[:, None, :] + shift[:, None, :]
        output: torch.Tensor = self.proj_out(hidden)
        return output
