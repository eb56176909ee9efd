"""The streaming decoder against one forward pass of qwen-tts's decoder over the same codes."""

import pytest
import torch
from qwen_tts import Qwen3TTSModel

from runtimes.qwen3_split.streaming_decoder import StreamingDecoder, decode_whole
from tests.qwen3_models import CODE_GROUPS, CODEBOOK, TINY_DECODER

FRAMES = 61
"""Far past the tiny decoder's sliding window, so its attention cache must slide."""


@pytest.mark.parametrize(
    "chunks",
    [[1] * FRAMES, [2] + [8] * 7 + [3], [FRAMES], [5, 1, 13, 2, 40]],
    ids=["frame-by-frame", "first-then-eight", "one-shot", "uneven"],
)
def test_joined_stream_equals_one_shot_decode(reference: Qwen3TTSModel, chunks: list[int]) -> None:
    decoder = reference.model.speech_tokenizer.model.decoder
    assert 2 * TINY_DECODER["sliding_window"] < FRAMES
    codes = torch.randint(
        0, CODEBOOK, (FRAMES, CODE_GROUPS), generator=torch.Generator().manual_seed(4)
    )
    whole = decode_whole(decoder, codes)
    stream = StreamingDecoder(decoder)
    parts, start = [], 0
    for size in chunks:
        part = stream.push(codes[start : start + size])
        assert part.shape[0] == size * stream.samples_per_frame
        parts.append(part)
        start += size
    joined = torch.cat(parts)
    assert joined.shape == whole.shape
    largest = float((joined - whole).abs().max())
    print(f"largest difference, {chunks[:3]}...: {largest:.2e}")
    assert largest <= 1e-5
    assert float(whole.abs().max()) > 0.05


def test_a_fixed_left_context_is_not_exact(reference: Qwen3TTSModel) -> None:
    """Why the decoder carries state: qwen-tts's own chunked decode (left context) differs."""
    decoder = reference.model.speech_tokenizer.model.decoder
    codes = torch.randint(
        0, CODEBOOK, (FRAMES, CODE_GROUPS), generator=torch.Generator().manual_seed(5)
    )
    whole = decode_whole(decoder, codes)
    with torch.inference_mode():
        chunked = decoder.chunked_decode(codes.T.unsqueeze(0), chunk_size=10, left_context_size=2)
    assert float((chunked[0, 0] - whole).abs().max()) > 1e-3
