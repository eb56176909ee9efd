"""The talker's input for one request, built as qwen-tts's `generate` builds it for one row:

    [instruction]  <|im_start|>assistant\\n  codec prefix (think/language, speaker, pad)  text...

The text is fed either all at once in the prompt (`whole_text`, CustomVoice and VoiceDesign as
qwen-tts runs them) or one token per generated frame after the first (Base, where the reference
codes of a cloned voice sit in the prompt too). Whatever is left of the text after the prompt is
the `trailing` part, added to the input of each following step, then the pad embedding."""

from dataclasses import dataclass

import torch
from qwen_tts.core.models import Qwen3TTSForConditionalGeneration


@dataclass(frozen=True)
class PromptRequest:
    text_ids: torch.Tensor
    """[1, n] ids of `<|im_start|>assistant\\n{text}<|im_end|>\\n<|im_start|>assistant\\n`."""
    language: str
    """A language of the model's codec_language_id, or "auto"."""
    speaker: str | None = None
    instruction_ids: torch.Tensor | None = None
    """[1, n] ids of `<|im_start|>user\\n{instruction}<|im_end|>\\n`."""
    speaker_embedding: torch.Tensor | None = None
    """A cloned voice's x-vector (Base checkpoints)."""
    reference_ids: torch.Tensor | None = None
    """[1, n] ids of `<|im_start|>assistant\\n{reference text}<|im_end|>\\n` (Base, in-context)."""
    reference_codes: torch.Tensor | None = None
    """[frames, code groups] codes of the reference audio (Base, in-context)."""
    whole_text: bool = True


@dataclass(frozen=True)
class Prompt:
    embeddings: torch.Tensor
    """[1, length, hidden]"""
    trailing: torch.Tensor
    """[1, n, hidden]: added to the talker's input at steps 0..n-1."""
    pad: torch.Tensor
    """[1, 1, hidden]: added at every later step."""


@torch.inference_mode()
def build_prompt(model: Qwen3TTSForConditionalGeneration, request: PromptRequest) -> Prompt:
    talker = model.talker
    config = model.config.talker_config
    device = talker.device

    def text(ids: torch.Tensor) -> torch.Tensor:
        embedded: torch.Tensor = talker.text_projection(
            talker.get_text_embeddings()(ids.to(device))
        )
        return embedded

    def codec(ids: list[int]) -> torch.Tensor:
        embedded: torch.Tensor = talker.get_input_embeddings()(torch.tensor([ids], device=device))
        return embedded

    tts_bos, tts_eos, tts_pad = text(
        torch.tensor(
            [
                [
                    model.config.tts_bos_token_id,
                    model.config.tts_eos_token_id,
                    model.config.tts_pad_token_id,
                ]
            ]
        )
    ).chunk(3, dim=1)

    language_id = _language_id(config, request.language, request.speaker)
    if language_id is None:
        prefix = [config.codec_nothink_id, config.codec_think_bos_id, config.codec_think_eos_id]
    else:
        prefix = [
            config.codec_think_id,
            config.codec_think_bos_id,
            language_id,
            config.codec_think_eos_id,
        ]
    speaker = request.speaker_embedding
    if speaker is None and request.speaker:
        speaker = codec([config.spk_id[request.speaker.lower()]])[0, 0]
    parts = [codec(prefix)]
    if speaker is not None:
        parts.append(speaker.to(device, talker.dtype).view(1, 1, -1))
    parts.append(codec([config.codec_pad_id, config.codec_bos_id]))
    codec_prefix = torch.cat(parts, dim=1)

    ids = request.text_ids
    role = text(ids[:, :3])
    text_pads = tts_pad.expand(-1, codec_prefix.shape[1] - 2, -1)
    embeddings = torch.cat([role, torch.cat([text_pads, tts_bos], 1) + codec_prefix[:, :-1]], 1)
    if request.instruction_ids is not None:
        embeddings = torch.cat([text(request.instruction_ids), embeddings], dim=1)

    if request.reference_codes is not None and request.reference_ids is not None:
        in_context, trailing = _in_context(
            model,
            text(torch.cat([request.reference_ids[:, 3:-2], ids[:, 3:-5]], dim=-1)),
            request.reference_codes.to(device),
            tts_eos,
            tts_pad,
            request.whole_text,
        )
        return Prompt(torch.cat([embeddings, in_context], dim=1), trailing, tts_pad)

    first = text(ids[:, 3:4]) + codec_prefix[:, -1:]
    if not request.whole_text:
        trailing = torch.cat([text(ids[:, 4:-5]), tts_eos], dim=1)
        return Prompt(torch.cat([embeddings, first], dim=1), trailing, tts_pad)
    body = torch.cat([text(ids[:, 3:-5]), tts_eos], dim=1)
    body = body + codec([config.codec_pad_id] * body.shape[1])
    start = tts_pad + codec([config.codec_bos_id])
    return Prompt(torch.cat([embeddings, body, start], dim=1), tts_pad, tts_pad)


def _language_id(config: object, language: str, speaker: str | None) -> int | None:
    languages: dict[str, int] = getattr(config, "codec_language_id")  # noqa: B009
    dialects: dict[str, str | bool] = getattr(config, "spk_is_dialect") or {}  # noqa: B009
    language = language.lower()
    if speaker and language in ("chinese", "auto") and dialects.get(speaker.lower()):
        return languages[str(dialects[speaker.lower()])]
    return None if language == "auto" else languages[language]


def _in_context(
    model: Qwen3TTSForConditionalGeneration,
    text: torch.Tensor,
    reference_codes: torch.Tensor,
    tts_eos: torch.Tensor,
    tts_pad: torch.Tensor,
    whole_text: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """A cloned voice in context: reference text + text, beside the reference audio's codes."""
    talker = model.talker
    config = model.config.talker_config
    text = torch.cat([text, tts_eos], dim=1)
    groups = [talker.get_input_embeddings()(reference_codes[:, :1])]
    groups += [
        embedding(reference_codes[:, i + 1 : i + 2])
        for i, embedding in enumerate(talker.code_predictor.get_input_embeddings())
    ]
    codes = torch.cat(groups, dim=1).sum(1).unsqueeze(0)
    bos = talker.get_input_embeddings()(torch.tensor([[config.codec_bos_id]], device=text.device))
    codes = torch.cat([bos, codes], dim=1)
    if whole_text:
        pads = talker.get_input_embeddings()(
            torch.tensor([[config.codec_pad_id] * text.shape[1]], device=text.device)
        )
        return torch.cat([text + pads, codes + tts_pad], dim=1), tts_pad
    if text.shape[1] > codes.shape[1]:
        return text[:, : codes.shape[1]] + codes, text[:, codes.shape[1] :]
    padded = torch.cat([text, tts_pad.expand(-1, codes.shape[1] - text.shape[1], -1)], dim=1)
    return padded + codes, tts_pad
