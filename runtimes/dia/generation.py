"""One batched Dia generation: the rows of a batch share every decoder step, each row samples
with its own settings and generator, and each row's audio frames leave as soon as they are
final, so its consumer can decode and stream them while generation goes on.

Dia predicts 9 codebook channels with a delay pattern: at step s, channel c holds frame
s - delay[c]. Frame f is therefore final after step f + max(delay); it is handed out then, with
the delay undone. Rows drop out of the batch (and their cache) when they end or are cancelled.
"""

import queue
import threading
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers import DiaForConditionalGeneration
from transformers.cache_utils import DynamicCache, EncoderDecoderCache

from runtimes.dia.sampling import RowSampling, choose_tokens
from runtimes.errors import ResourceExhausted


class End:
    """Put on a row's queue after its last frame."""


END = End()
FrameItem = torch.Tensor | End | BaseException


@dataclass
class Row:
    """One request's chunk of text within a batch."""

    text_ids: list[int]
    prompt: torch.Tensor
    """[frames, channels] codes of the voice prompt (0 frames without one)."""
    sampling: RowSampling
    max_frames: int
    frames: "queue.SimpleQueue[FrameItem]" = field(default_factory=queue.SimpleQueue)
    cancelled: threading.Event = field(default_factory=threading.Event)
    end_step: int | None = None
    """The step at which channel 0 produced (or was given) the end token."""
    ended: bool = False
    steps: list[torch.Tensor] = field(default_factory=list)
    """The tokens of every generated step, delayed as the model sees them."""

    @property
    def prefix_frames(self) -> int:
        return 1 + self.prompt.shape[0]


@dataclass(frozen=True)
class Tokens:
    bos: int
    eos: int
    pad: int
    delays: tuple[int, ...]

    @classmethod
    def of(cls, config: Any) -> "Tokens":
        """From a DiaConfig."""
        decoder = config.decoder_config
        return cls(
            decoder.bos_token_id,
            decoder.eos_token_id,
            decoder.pad_token_id,
            tuple(config.delay_pattern),
        )

    @property
    def max_delay(self) -> int:
        return max(self.delays)


@torch.inference_mode()
def generate(model: DiaForConditionalGeneration, tokens: Tokens, rows: list[Row]) -> None:
    """Runs rows (all with the same prefix length) to their end; never raises: a failure is
    put on the queue of every row still running."""
    cache: EncoderDecoderCache | None = None
    try:
        cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
        _run(model, tokens, rows, cache)
    except torch.OutOfMemoryError as error:
        cache = None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        _fail(rows, ResourceExhausted(f"the device ran out of memory generating: {error}"))
    except Exception as error:
        _fail(rows, error)


def _fail(rows: list[Row], error: BaseException) -> None:
    for row in rows:
        if not row.ended:
            row.frames.put(error)


def _run(
    model: DiaForConditionalGeneration, tokens: Tokens, rows: list[Row], cache: EncoderDecoderCache
) -> None:
    device = model.device
    guided = any(row.sampling.cfg_scale != 0 for row in rows)
    text, text_mask = _encoder_inputs(rows, device, guided)
    encoded = model.get_encoder()(input_ids=text, attention_mask=text_mask).last_hidden_state
    known = _delayed_prefix(rows, tokens)
    prefix = rows[0].prefix_frames
    step_input = known[:, :prefix].to(device)
    step = prefix
    active = list(range(len(rows)))
    while active:
        step_input = torch.cat([step_input, step_input]) if guided else step_input
        output = model(
            encoder_outputs=(encoded,),
            attention_mask=text_mask,
            decoder_input_ids=step_input,
            past_key_values=cache,
            use_cache=True,
        )
        channels = len(tokens.delays)
        logits = output.logits.view(-1, channels, output.logits.shape[1], output.logits.shape[2])
        logits = logits[:, :, -1]
        conditional, unconditional = logits.chunk(2) if guided else (logits, None)
        chosen = choose_tokens(
            conditional, unconditional, [rows[i].sampling for i in active], tokens.eos
        ).cpu()
        if step < known.shape[1]:
            forced = known[active, step]
            chosen = torch.where(forced != tokens.pad, forced, chosen)
        keep = [
            position
            for position, i in enumerate(active)
            if not _advance(rows[i], chosen[position], step, tokens)
            and not rows[i].cancelled.is_set()
        ]
        if len(keep) < len(active):
            selected = torch.tensor(keep, device=device)
            if guided:
                selected = torch.cat([selected, selected + len(active)])
            active = [active[position] for position in keep]
            if not active:
                break
            cache.batch_select_indices(selected)
            encoded, text_mask = encoded[selected], text_mask[selected]
            chosen = chosen[keep]
        step_input = chosen[:, None, :].to(device)
        step += 1


def _encoder_inputs(
    rows: list[Row], device: torch.device, guided: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded text bytes; with guidance, an all-padding copy as the unconditional half."""
    length = max(len(row.text_ids) for row in rows)
    text = torch.zeros(len(rows), length, dtype=torch.long)
    mask = torch.zeros(len(rows), length, dtype=torch.long)
    for index, row in enumerate(rows):
        text[index, : len(row.text_ids)] = torch.tensor(row.text_ids)
        mask[index, : len(row.text_ids)] = 1
    if guided:
        text = torch.cat([text, torch.zeros_like(text)])
        mask = torch.cat([mask, mask])
    return text.to(device), mask.to(device)


def _delayed_prefix(rows: list[Row], tokens: Tokens) -> torch.Tensor:
    """[rows, prefix + max_delay, channels]: start frame and prompt, delayed; padding marks
    what the model is to generate."""
    prefix = rows[0].prefix_frames
    length = prefix + tokens.max_delay
    known = torch.full((len(rows), length, len(tokens.delays)), tokens.pad, dtype=torch.long)
    for index, row in enumerate(rows):
        undelayed = torch.cat(
            [torch.full((1, len(tokens.delays)), tokens.bos, dtype=torch.long), row.prompt.long()]
        )
        for channel, delay in enumerate(tokens.delays):
            known[index, :delay, channel] = tokens.bos
            known[index, delay : delay + prefix, channel] = undelayed[:, channel]
    return known


def _advance(row: Row, chosen: torch.Tensor, step: int, tokens: Tokens) -> bool:
    """Records one step of a row, hands out the frame it finalised; True once the row ended."""
    prefix = row.prefix_frames
    if row.end_step is None and (chosen[0] == tokens.eos or step - prefix >= row.max_frames):
        row.end_step = step
    if row.end_step is not None:
        for channel, delay in enumerate(tokens.delays):
            if step == row.end_step + delay:
                chosen[channel] = tokens.eos
            elif step > row.end_step + delay:
                chosen[channel] = tokens.pad
    row.steps.append(chosen.clone())
    frame = step - tokens.max_delay
    if frame >= prefix and (row.end_step is None or frame < row.end_step):
        codes = torch.stack(
            [
                row.steps[frame + delay - prefix][channel]
                for channel, delay in enumerate(tokens.delays)
            ]
        )
        row.frames.put(codes[None])
    if row.end_step is not None and step >= row.end_step + tokens.max_delay:
        row.frames.put(END)
        row.ended = True
        return True
    return False
