"""Tiny random Qwen3-TTS 12 Hz checkpoints, built from config and saved in the layout Qwen
publishes (config.json, model.safetensors, generation_config.json, the Qwen2 tokenizer files, and
the speech tokenizer in `speech_tokenizer/`), so the runtime loads them through the same path a
user's model directory takes. Runs only in the qwen3 environment (qwen-tts, transformers 4.57).

The full-size architectures (0.6B, 1.7B) are built by the same code with other sizes, for the
benchmark."""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from qwen_tts.core.models import Qwen3TTSConfig, Qwen3TTSForConditionalGeneration
from qwen_tts.core.tokenizer_12hz.configuration_qwen3_tts_tokenizer_v2 import (
    Qwen3TTSTokenizerV2Config,
)
from qwen_tts.core.tokenizer_12hz.modeling_qwen3_tts_tokenizer_v2 import (
    Qwen3TTSTokenizerV2Model,
)
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import (  # type: ignore[attr-defined]  # transformers 4.57's names
    EncodecFeatureExtractor,
    Qwen2TokenizerFast,
)

CODE_GROUPS = 4
CODEBOOK = 32
DIALECTS = {"ryan": False, "vivian": False, "dylan": "beijing_dialect"}


def control_ids(codebook: int) -> dict[str, int]:
    """The talker's vocabulary is the codes followed by 1024 control ids (the top 1024 are
    suppressed when sampling, except end-of-speech), as in the published checkpoints."""
    return {
        "codec_pad_id": codebook + 100,
        "codec_bos_id": codebook + 101,
        "codec_eos_token_id": codebook + 102,
        "codec_think_id": codebook + 106,
        "codec_nothink_id": codebook + 107,
        "codec_think_bos_id": codebook + 108,
        "codec_think_eos_id": codebook + 109,
    }


def languages(codebook: int) -> dict[str, int]:
    return {"english": codebook + 2, "chinese": codebook + 7, "beijing_dialect": codebook + 12}


def speakers(codebook: int) -> dict[str, int]:
    return {"ryan": codebook + 300, "vivian": codebook + 301, "dylan": codebook + 302}


SPECIAL_TEXT = ["<|im_start|>", "<|im_end|>", "assistant", "user"]
TTS_TOKENS = {"tts_pad_token_id": 300, "tts_bos_token_id": 301, "tts_eos_token_id": 302}

TINY_TALKER: dict[str, Any] = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "num_key_value_heads": 1,
    "head_dim": 16,
    "text_hidden_size": 24,
    "rope_scaling": {"mrope_section": [2, 3, 3], "interleaved": True, "type": "default"},
}
TINY_PREDICTOR: dict[str, Any] = {
    "hidden_size": 16,
    "intermediate_size": 32,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "num_key_value_heads": 1,
    "head_dim": 8,
}
TINY_DECODER: dict[str, Any] = {
    "codebook_size": CODEBOOK,
    "codebook_dim": 16,
    "hidden_size": 16,
    "latent_dim": 16,
    "num_attention_heads": 2,
    "num_key_value_heads": 2,
    "intermediate_size": 32,
    "num_hidden_layers": 2,
    "num_quantizers": CODE_GROUPS,
    "sliding_window": 8,
    "decoder_dim": 32,
    "upsample_rates": [8, 5, 4, 3],
    "upsampling_ratios": [2, 2],
}
TINY_ENCODER: dict[str, Any] = {
    "hidden_size": 16,
    "num_filters": 4,
    "num_residual_layers": 1,
    "upsampling_ratios": [8, 6, 5, 4],
    "codebook_size": CODEBOOK,
    "codebook_dim": 16,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "num_key_value_heads": 2,
    "head_dim": 8,
    "intermediate_size": 32,
    "num_quantizers": CODE_GROUPS,
    "num_semantic_quantizers": 1,
    "upsample_groups": 16,
    "vector_quantization_hidden_dimension": 16,
    "sliding_window": 16,
    "frame_rate": 12.5,
    "sampling_rate": 24000,
}


@dataclass(frozen=True)
class Sizes:
    codebook: int
    code_groups: int
    text_vocab: int
    talker: dict[str, Any]
    predictor: dict[str, Any]
    decoder: dict[str, Any]
    encoder: dict[str, Any]


TINY = Sizes(CODEBOOK, CODE_GROUPS, 320, TINY_TALKER, TINY_PREDICTOR, TINY_DECODER, TINY_ENCODER)

GENERATION_DEFAULTS = {
    "do_sample": True,
    "top_k": 50,
    "top_p": 1.0,
    "temperature": 0.9,
    "repetition_penalty": 1.05,
    "subtalker_dosample": True,
    "subtalker_top_k": 50,
    "subtalker_top_p": 1.0,
    "subtalker_temperature": 0.9,
    "max_new_tokens": 8192,
}


def build_tiny_qwen3(
    folder: Path, kind: str = "custom_voice", seed: int = 0, sizes: Sizes = TINY
) -> Path:
    """Saves a random checkpoint of `kind` (custom_voice, base or voice_design)."""
    torch.manual_seed(seed)
    config = tiny_config(kind, sizes)
    model = Qwen3TTSForConditionalGeneration(config)
    _randomise(model)
    with torch.no_grad():
        # End-of-speech is never the greedy choice, so greedy runs last until their limit, and
        # sampled runs still end by themselves now and then.
        model.talker.codec_head.weight[control_ids(sizes.codebook)["codec_eos_token_id"]] = 0.0
    model.save_pretrained(folder)
    _fix_speaker_encoder_config(folder / "config.json")
    (folder / "generation_config.json").write_text(json.dumps(GENERATION_DEFAULTS))
    _save_text_tokenizer(folder)
    save_speech_tokenizer(folder / "speech_tokenizer", sizes)
    return folder


def tiny_config(kind: str, sizes: Sizes = TINY) -> Qwen3TTSConfig:
    codebook = sizes.codebook
    talker = {
        **sizes.talker,
        **control_ids(codebook),
        "vocab_size": codebook + 1024,
        "text_vocab_size": sizes.text_vocab,
        "num_code_groups": sizes.code_groups,
        "codec_language_id": languages(codebook),
        "spk_id": speakers(codebook) if kind == "custom_voice" else {},
        "spk_is_dialect": DIALECTS if kind == "custom_voice" else {},
        "code_predictor_config": {
            **sizes.predictor,
            "vocab_size": codebook,
            "num_code_groups": sizes.code_groups,
        },
    }
    return Qwen3TTSConfig(
        talker_config=talker,
        speaker_encoder_config={
            "enc_dim": sizes.talker["hidden_size"],
            "enc_channels": [8] * 4 + [24],
        },
        tokenizer_type="qwen3_tts_tokenizer_12hz",
        tts_model_size="1b7",
        tts_model_type=kind,
        im_start_token_id=256,
        im_end_token_id=257,
        **TTS_TOKENS,
    )


def save_speech_tokenizer(folder: Path, sizes: Sizes = TINY) -> None:
    config = Qwen3TTSTokenizerV2Config(
        encoder_config=sizes.encoder,
        decoder_config={
            **sizes.decoder,
            "codebook_size": sizes.codebook,
            "num_quantizers": sizes.code_groups,
        },
        encoder_valid_num_quantizers=sizes.code_groups,
    )
    model = Qwen3TTSTokenizerV2Model(config)
    _randomise(model)
    _audible(model.decoder, sizes)
    model.save_pretrained(folder)
    EncodecFeatureExtractor(feature_size=1, sampling_rate=24000).save_pretrained(folder)


@torch.no_grad()
def _randomise(model: torch.nn.Module) -> None:
    """Random init leaves codebooks, SnakeBeta parameters and layer scales at values that give
    exact silence or constant output; give them random values so that the audio varies."""
    tensors = [*model.named_parameters(), *model.named_buffers()]
    for name, tensor in tensors:
        if name.endswith("embedding_sum"):
            tensor.normal_()
        elif name.endswith("cluster_usage"):
            tensor.fill_(1.0)
        elif name.endswith(("alpha", "beta")):
            tensor.uniform_(-0.5, 0.5)
        elif "layer_scale" in name or name.endswith("gamma"):
            tensor.fill_(0.1)


@torch.no_grad()
def _audible(decoder: torch.nn.Module, sizes: Sizes, rms: float = 0.2) -> None:
    """transformers' initialiser (normal, std 0.02) shrinks the signal through the decoder's
    convolutions to ~1e-9; PyTorch's own initialiser keeps it, and the last convolution is
    scaled so that the audio has speech-like loudness, which lets the tests tell audio from
    silence."""
    for module in decoder.modules():
        if isinstance(module, torch.nn.Conv1d | torch.nn.ConvTranspose1d):
            module.reset_parameters()
    codes = torch.randint(0, sizes.codebook, (1, sizes.code_groups, 50))
    audio = decoder(codes)
    last: Any = decoder.decoder[-1]  # type: ignore[index]
    last = last.conv
    last.weight.mul_(rms / float(audio.pow(2).mean().sqrt()))


def _fix_speaker_encoder_config(path: Path) -> None:
    """save_pretrained writes the speaker encoder's model_type as "", which its loader refuses."""
    config = json.loads(path.read_text())
    config.get("speaker_encoder_config", {}).pop("model_type", None)
    path.write_text(json.dumps(config, indent=2))


def _save_text_tokenizer(folder: Path) -> None:
    """A byte-level BPE tokenizer with Qwen's chat tokens, saved as Qwen2TokenizerFast."""
    byte_chars = pre_tokenizers.ByteLevel.alphabet()
    vocab = {char: index for index, char in enumerate(sorted(byte_chars))}
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    backend.decoder = decoders.ByteLevel()
    tokenizer = Qwen2TokenizerFast(
        tokenizer_object=backend,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|im_end|>",
        unk_token=None,
        additional_special_tokens=SPECIAL_TEXT,
    )
    tokenizer.save_pretrained(folder)
