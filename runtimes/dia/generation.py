"""One batched Dia generation: the rows of a batch share every decoder step, each row samples
with its own settings and generator, and each row's audio frames leave as soon as they are
final, so its consumer can decode and stream them while generation goes on.

Dia predicts 9 codebook channels with a delay pattern: at step s, channel c holds frame
s - delay[c]. Frame f is therefore final after step f + max(delay); it is handed out then, with
the delay undone. Rows leave the batch when they end or are cancelled: transformers' caches
shrink, while a static slot (static_decoding.py) keeps computing them, ignored.
"""

import queue
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from transformers import DiaForConditionalGeneration
from transformers.cache_utils import DynamicCache, EncoderDecoderCache

from runtimes.dia.sampling import RowSampling, choose_tokens
from runtimes.dia.static_decoding import StaticDecoder
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
    steps: list[list[int]] = field(default_factory=list)
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


class Decoding(Protocol):
    """The decoder side of one batch: each step feeds the active rows' tokens and returns the
    tokens they chose for the next position."""

    def step(self, step_input: torch.Tensor, step: int) -> torch.Tensor:
        """step_input [active rows, q, channels] (CPU) at positions step - q ... step - 1 →
        [active rows, channels] tokens for position `step` (CPU)."""
        ...

    def keep(self, positions: list[int]) -> None:
        """Only these of the active rows go on."""
        ...

    def close(self) -> None: ...


class DynamicDecoding:
    """transformers' own caches, which grow by a position each step and shrink when rows
    leave: the eager path, for any device."""

    def __init__(
        self,
        model: DiaForConditionalGeneration,
        text: torch.Tensor,
        text_mask: torch.Tensor,
        samplings: list[RowSampling],
        eos: int,
    ) -> None:
        self._model = model
        self._samplings = samplings
        self._eos = eos
        self._guided = text.shape[0] > len(samplings)
        self._text_mask = text_mask.to(model.device)
        self._encoded = model.get_encoder()(
            input_ids=text.to(model.device), attention_mask=self._text_mask
        ).last_hidden_state
        self._cache = EncoderDecoderCache(DynamicCache(), DynamicCache())

    def step(self, step_input: torch.Tensor, step: int) -> torch.Tensor:
        step_input = step_input.to(self._model.device)
        step_input = torch.cat([step_input, step_input]) if self._guided else step_input
        output = self._model(
            encoder_outputs=(self._encoded,),
            attention_mask=self._text_mask,
            decoder_input_ids=step_input,
            past_key_values=self._cache,
            use_cache=True,
        )
        channels = self._model.num_channels
        logits = output.logits.view(-1, channels, output.logits.shape[1], output.logits.shape[2])
        logits = logits[:, :, -1]
        conditional, unconditional = logits.chunk(2) if self._guided else (logits, None)
        return choose_tokens(conditional, unconditional, self._samplings, self._eos).cpu()

    def keep(self, positions: list[int]) -> None:
        selected = torch.tensor(positions, device=self._model.device)
        if self._guided:
            selected = torch.cat([selected, selected + len(self._samplings)])
        self._cache.batch_select_indices(selected)
        self._encoded = self._encoded[selected]
        self._text_mask = self._text_mask[selected]
        self._samplings = [self._samplings[position] for position in positions]

    def close(self) -> None:
        pass


@torch.inference_mode()
def generate(
    model: DiaForConditionalGeneration,
    tokens: Tokens,
    rows: list[Row],
    static: StaticDecoder | None = None,
) -> None:
    """Runs rows (all with the same prefix length) to their end, over transformers' caches or,
    given a StaticDecoder, over its preallocated ones; never raises: a failure is put on the
    queue of every row still running."""
    try:
        guided = any(row.sampling.cfg_scale != 0 for row in rows)
        text, text_mask = _encoder_inputs(rows, guided)
        samplings = [row.sampling for row in rows]
        decoding: Decoding
        if static is None:
            decoding = DynamicDecoding(model, text, text_mask, samplings, tokens.eos)
        else:
            length = rows[0].prefix_frames + max(row.max_frames for row in rows) + tokens.max_delay
            decoding = static.start(text, text_mask, samplings, guided, length)
        try:
            _run(decoding, tokens, rows)
        finally:
            decoding.close()
    except torch.OutOfMemoryError as error:
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        _fail(rows, ResourceExhausted(f"the device ran out of memory generating: {error}"))
    except Exception as error:
        _fail(rows, error)


def _fail(rows: list[Row], error: BaseException) -> None:
    for row in rows:
        if not row.ended:
            row.frames.put(error)


def _run(decoding: Decoding, tokens: Tokens, rows: list[Row]) -> None:
    known = _delayed_prefix(rows, tokens)
    prefix = rows[0].prefix_frames
    step_input = known[:, :prefix]
    step = prefix
    active = list(range(len(rows)))
    while active:
        chosen = decoding.step(step_input, step)
        if step < known.shape[1]:
            forced = known[active, step]
            chosen = torch.where(forced != tokens.pad, forced, chosen)
        codes: list[list[int]] = chosen.tolist()
        keep = [
            position
            for position, i in enumerate(active)
            if not _advance(rows[i], codes[position], step, tokens)
            and not rows[i].cancelled.is_set()
        ]
        if len(keep) < len(active):
            active = [active[position] for position in keep]
            if not active:
                break
            decoding.keep(keep)
        step_input = torch.tensor([[codes[position]] for position in keep])
        step += 1


def _encoder_inputs(rows: list[Row], guided: bool) -> tuple[torch.Tensor, torch.Tensor]:
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
    return text, mask


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


def _advance(row: Row, chosen: list[int], step: int, tokens: Tokens) -> bool:
    """Records one step of a row (ending its channels in turn once it has ended), hands out the
    frame it finalised; True once the row ended."""
    prefix = row.prefix_frames
    if row.end_step is None and (chosen[0] == tokens.eos or step - prefix >= row.max_frames):
        row.end_step = step
    if row.end_step is not None:
        for channel, delay in enumerate(tokens.delays):
            if step == row.end_step + delay:
                chosen[channel] = tokens.eos
            elif step > row.end_step + delay:
                chosen[channel] = tokens.pad
    row.steps.append(chosen)
    frame = step - tokens.max_delay
    if frame >= prefix and (row.end_step is None or frame < row.end_step):
        codes = [
            row.steps[frame + delay - prefix][channel]
            for channel, delay in enumerate(tokens.delays)
        ]
        row.frames.put(torch.tensor([codes]))
    if row.end_step is not None and step >= row.end_step + tokens.max_delay:
        row.frames.put(END)
        row.ended = True
        return True
    return False
