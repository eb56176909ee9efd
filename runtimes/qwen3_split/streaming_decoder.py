"""Exact streaming decode for the 12 Hz speech tokenizer's decoder.

The decoder is causal throughout, but its receptive field is about 580 frames, so decoding
chunks with a fixed left context is not exact. Instead this walks the decoder's own modules and
carries, per layer, what the next chunk needs: the last inputs of every causal convolution, the
last input column of every transposed convolution (whose output overlaps the next column's),
and the sliding-window attention cache of the transformer. Each chunk then costs only its new
frames, and the joined stream equals a one-shot decode."""

from typing import Any

import torch
from qwen_tts.core.tokenizer_12hz.modeling_qwen3_tts_tokenizer_v2 import (
    Qwen3TTSTokenizerV2CausalConvNet as CausalConv,
)
from qwen_tts.core.tokenizer_12hz.modeling_qwen3_tts_tokenizer_v2 import (
    Qwen3TTSTokenizerV2CausalTransConvNet as CausalTransConv,
)
from qwen_tts.core.tokenizer_12hz.modeling_qwen3_tts_tokenizer_v2 import (
    Qwen3TTSTokenizerV2ConvNeXtBlock as ConvNeXtBlock,
)
from qwen_tts.core.tokenizer_12hz.modeling_qwen3_tts_tokenizer_v2 import (
    Qwen3TTSTokenizerV2Decoder as Decoder,
)
from qwen_tts.core.tokenizer_12hz.modeling_qwen3_tts_tokenizer_v2 import (
    Qwen3TTSTokenizerV2DecoderDecoderBlock as DecoderBlock,
)
from qwen_tts.core.tokenizer_12hz.modeling_qwen3_tts_tokenizer_v2 import (
    Qwen3TTSTokenizerV2DecoderDecoderResidualUnit as ResidualUnit,
)
from transformers.cache_utils import DynamicCache


class StreamingDecoder:
    """Decodes one utterance chunk by chunk. Not thread-safe: one per stream."""

    def __init__(self, decoder: Decoder) -> None:
        self._decoder = decoder
        self._history: dict[int, torch.Tensor] = {}
        self._cache = DynamicCache(config=decoder.config)
        self._frames = 0
        self.samples_per_frame = int(decoder.total_upsample)

    @torch.inference_mode()
    def push(self, codes: torch.Tensor) -> torch.Tensor:
        """codes: [frames, code groups] → mono float32 samples for exactly those frames."""
        decoder = self._decoder
        codes = codes.to(next(decoder.parameters()).device).T.unsqueeze(0)
        hidden = decoder.quantizer.decode(codes)
        hidden = self._conv(decoder.pre_conv, hidden).transpose(1, 2)
        hidden = self._transformer(hidden).permute(0, 2, 1)
        for blocks in decoder.upsample:
            for block in blocks:
                hidden = self._module(block, hidden)
        for block in decoder.decoder:
            hidden = self._module(block, hidden)
        self._frames += codes.shape[-1]
        return hidden.clamp(min=-1, max=1)[0, 0].float()

    def _transformer(self, hidden: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(self._frames, self._frames + hidden.shape[1], device=hidden.device)
        output: Any = self._decoder.pre_transformer(
            inputs_embeds=hidden,
            past_key_values=self._cache,
            use_cache=True,
            cache_position=positions,
            position_ids=positions.unsqueeze(0),
        )
        return output.last_hidden_state  # type: ignore[no-any-return]

    def _module(self, module: torch.nn.Module, hidden: torch.Tensor) -> torch.Tensor:
        if isinstance(module, CausalConv):
            return self._conv(module, hidden)
        if isinstance(module, CausalTransConv):
            return self._transposed_conv(module, hidden)
        if isinstance(module, ConvNeXtBlock):
            return self._convnext(module, hidden)
        if isinstance(module, ResidualUnit):
            residual = hidden
            hidden = self._conv(module.conv1, module.act1(hidden))
            return self._conv(module.conv2, module.act2(hidden)) + residual
        if isinstance(module, DecoderBlock):
            for block in module.block:
                hidden = self._module(block, hidden)
            return hidden
        return module(hidden)  # type: ignore[no-any-return]

    def _conv(self, module: CausalConv, hidden: torch.Tensor) -> torch.Tensor:
        """A stride-1 causal convolution: the left padding is the previous chunk's inputs."""
        if module.stride != 1:
            raise ValueError("the streaming decoder supports stride-1 causal convolutions only")
        past = self._history.get(id(module))
        if past is None:
            past = hidden.new_zeros(hidden.shape[0], hidden.shape[1], module.padding)
        joined = torch.cat([past, hidden], dim=-1)
        self._history[id(module)] = joined[..., joined.shape[-1] - module.padding :]
        output: torch.Tensor = module.conv(joined)
        return output

    def _transposed_conv(self, module: CausalTransConv, hidden: torch.Tensor) -> torch.Tensor:
        """Each input column writes `kernel` samples starting at its own `stride` slot, so the
        first slot of a chunk also receives the tail of the previous chunk's last column."""
        conv = module.conv
        stride, kernel = conv.stride[0], conv.kernel_size[0]
        if kernel > 2 * stride:
            raise ValueError("the streaming decoder supports kernel <= 2 * stride only")
        past = self._history.get(id(module))
        if past is None:
            past = hidden.new_zeros(hidden.shape[0], hidden.shape[1], 1)
        self._history[id(module)] = hidden[..., -1:]
        output: torch.Tensor = conv(torch.cat([past, hidden], dim=-1))
        start = stride
        return output[..., start : start + hidden.shape[-1] * stride]

    def _convnext(self, module: ConvNeXtBlock, hidden: torch.Tensor) -> torch.Tensor:
        residual = hidden
        hidden = self._conv(module.dwconv, hidden).permute(0, 2, 1)
        hidden = module.pwconv2(module.act(module.pwconv1(module.norm(hidden))))
        scaled: torch.Tensor = module.gamma * hidden
        return residual + scaled.permute(0, 2, 1)


def decode_whole(decoder: Decoder, codes: torch.Tensor) -> torch.Tensor:
    """The reference: one forward pass over all frames ([frames, code groups])."""
    with torch.inference_mode():
        codes = codes.to(next(decoder.parameters()).device).T.unsqueeze(0)
        return decoder(codes)[0, 0].float()  # type: ignore[no-any-return]
