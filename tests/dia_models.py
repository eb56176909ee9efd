"""Tiny random Dia + DAC models, built from config and saved in the layout a real checkpoint
has (nari-labs/Dia-1.6B-0626 as transformers saves it, the codec in a `dac/` subfolder), so the
runtime loads them through the same path a user's model directory takes."""

from pathlib import Path
from typing import Any

import torch
from transformers import (
    DacConfig,
    DacModel,
    DiaConfig,
    DiaForConditionalGeneration,
    DiaTokenizer,
    GenerationConfig,
)

TINY_ENCODER = {
    "hidden_size": 32,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "num_key_value_heads": 2,
    "head_dim": 16,
    "intermediate_size": 64,
}
TINY_DECODER = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "num_key_value_heads": 1,
    "head_dim": 16,
    "cross_num_attention_heads": 2,
    "cross_head_dim": 16,
    "cross_num_key_value_heads": 2,
    "cross_hidden_size": 32,
    "intermediate_size": 64,
}
TINY_DAC: dict[str, Any] = {
    "encoder_hidden_size": 4,
    "decoder_hidden_size": 64,
    "codebook_dim": 4,
    "n_codebooks": 9,
    "codebook_size": 1024,
    "downsampling_ratios": [2, 4, 8, 8],
    "sampling_rate": 44100,
}
SPECIAL_TOKENS = {"bos_token_id": 1026, "eos_token_id": 1024, "pad_token_id": 1025}
GENERATION_DEFAULTS = {
    "guidance_scale": 3.0,
    "temperature": 1.8,
    "top_p": 0.9,
    "top_k": 45,
    "do_sample": True,
    "decoder_start_token_id": 1026,
    **SPECIAL_TOKENS,
}


def build_tiny_dia(folder: Path, seed: int = 0, codec_folder: Path | None = None) -> Path:
    """Saves a random tiny Dia (and its DAC, in `dac/` or codec_folder) into folder."""
    torch.manual_seed(seed)
    config = DiaConfig(
        encoder_config=TINY_ENCODER, decoder_config={**TINY_DECODER, **SPECIAL_TOKENS}
    )
    model = DiaForConditionalGeneration(config)
    model.save_pretrained(folder)
    DiaTokenizer().save_pretrained(folder)
    GenerationConfig(**GENERATION_DEFAULTS).save_pretrained(folder)  # type: ignore[no-untyped-call]
    codec = _audible(DacModel(DacConfig(**TINY_DAC)))
    codec.save_pretrained(codec_folder or folder / "dac")
    return folder


@torch.inference_mode()
def _audible(codec: DacModel, rms: float = 0.2) -> DacModel:
    """Random DAC weights give near-silence; scale the last layer so the audio has speech-like
    loudness, which lets the tests tell audio from silence."""
    codes = torch.randint(0, TINY_DAC["codebook_size"], (1, TINY_DAC["n_codebooks"], 64))
    audio = codec.decode(audio_codes=codes).audio_values
    last = codec.decoder.conv2
    last.weight.mul_(rms / float(audio.pow(2).mean().sqrt()))
    if last.bias is not None:
        last.bias.zero_()
    return codec


def full_size_dia_config() -> DiaConfig:
    """The real Dia-1.6B architecture (transformers' defaults are its published config)."""
    return DiaConfig()
