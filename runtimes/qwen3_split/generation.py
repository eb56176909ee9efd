"""The talker's generation loop: one thread runs every request's language-model steps, batched.

Requests join between steps (each is prefilled alone, then its KV cache is merged into the
batch's, left-padded) and leave between steps (when they end, are cancelled or fail), so a
request never waits for another's whole utterance. Each step:

1. the code predictor completes the current frame of every runnable row (15 more codebooks,
   one small autoregressive pass, batched);
2. the talker takes the frame's summed codebook embeddings (plus the next text token) and
   predicts the next frame's first codebook;
3. each finished frame is handed to its row's consumer, which decodes it while the talker runs
   the next steps.

A row may run only as far ahead of its consumer as the consumer's credits allow: the bounded
queue between the two stages. A row without credit sits out the step (its KV column is masked),
so a slow reader never stalls the rest of the batch. Each row samples with its own generator and
writes nothing onto the shared modules."""

import queue
import threading
from dataclasses import dataclass, field
from typing import Any

import torch
from qwen_tts.core.models import Qwen3TTSForConditionalGeneration
from transformers.cache_utils import DynamicCache

from runtimes.errors import DeviceError, ResourceExhausted
from runtimes.qwen3_split.prompt import Prompt
from runtimes.qwen3_split.sampling import Sampling, TalkerRules, choose, choose_first_code
from runtimes.qwen3_split.stages import StageClock


class End:
    """Put on a row's queue after its last frame."""


END = End()
FrameItem = torch.Tensor | End | BaseException


@dataclass(eq=False)
class Row:
    """One request in the talker's batch."""

    prompt: Prompt
    sampling: Sampling
    code_sampling: Sampling
    max_frames: int
    frames: "queue.SimpleQueue[FrameItem]" = field(default_factory=queue.SimpleQueue)
    cancelled: threading.Event = field(default_factory=threading.Event)
    credits: int = 0
    """Frames the talker may still produce before the consumer asks for more."""
    produced: int = 0
    history: list[int] = field(default_factory=list)
    """The first codebook of every frame so far (for the repetition penalty)."""
    next_code: int = 0
    last_hidden: torch.Tensor | None = None
    position: int = 0


class Talker:
    """Owns the generation thread. `submit` adds a row; `grant` lets it run further ahead."""

    def __init__(
        self,
        model: Qwen3TTSForConditionalGeneration,
        rules: TalkerRules,
        max_batch: int,
        clock: StageClock,
    ) -> None:
        self._model = model
        self._rules = rules
        self._max_batch = max_batch
        self._clock = clock
        self._waiting: list[Row] = []
        self._rows: list[Row] = []
        self._batch = _Batch()
        self._wake = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="qwen3-talker", daemon=True)
        self._thread.start()

    def submit(self, row: Row) -> None:
        with self._wake:
            if self._closed:
                raise DeviceError("the model is closed")
            self._waiting.append(row)
            self._wake.notify()

    def grant(self, row: Row, frames: int) -> None:
        with self._wake:
            row.credits += frames
            self._wake.notify()

    def cancel(self, row: Row) -> None:
        with self._wake:
            row.cancelled.set()
            self._wake.notify()

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._thread.join()

    @property
    def batch_size(self) -> int:
        return len(self._rows)

    def _loop(self) -> None:
        while True:
            with self._wake:
                self._wake.wait_for(self._has_work)
                if self._closed:
                    break
                room = self._max_batch - len(self._rows)
                joining, self._waiting = self._waiting[:room], self._waiting[room:]
                self._drop_cancelled()
            try:
                with self._clock.busy("lm"), torch.inference_mode():
                    for row in joining:
                        self._join(row)
                    finished = self._step(self._take_runnable())
            except Exception as error:
                self._fail(_device_error(error))
                continue
            # Handed out once the step is over, so that the talker is idle whenever a consumer
            # without credit decodes (the sequential baseline really is sequential).
            for row, item in finished:
                row.frames.put(item)
        self._fail(DeviceError("the model was closed while generating"))

    def _take_runnable(self) -> list[Row]:
        """The rows with credit for one more frame, which this step spends."""
        with self._wake:
            runnable = [row for row in self._rows if row.credits > 0 and not row.cancelled.is_set()]
            for row in runnable:
                row.credits -= 1
        return runnable

    def _has_work(self) -> bool:
        if self._closed or (self._waiting and len(self._rows) < self._max_batch):
            return True
        return any(row.credits > 0 or row.cancelled.is_set() for row in self._rows)

    def _drop_cancelled(self) -> None:
        gone = [row for row in self._rows if row.cancelled.is_set()]
        if gone:
            self._leave(gone)

    def _join(self, row: Row) -> None:
        """Prefill alone, choose the first frame's first codebook, merge into the batch."""
        talker = self._model.talker
        embeddings = row.prompt.embeddings
        length = embeddings.shape[1]
        cache = DynamicCache()
        positions = torch.arange(length, device=embeddings.device).view(1, 1, -1).expand(3, 1, -1)
        output = talker.model(
            inputs_embeds=embeddings,
            position_ids=positions,
            past_key_values=cache,
            use_cache=True,
        )
        hidden = output.last_hidden_state[:, -1]
        row.last_hidden = hidden
        row.position = length
        row.next_code = choose_first_code(
            talker.codec_head(hidden)[0], row.history, self._rules, row.sampling
        )
        self._batch.join(cache, length)
        self._rows.append(row)

    def _step(self, runnable: list[Row]) -> list[tuple[Row, FrameItem]]:
        """One frame more for each runnable row: what to hand to each row's consumer."""
        ended = [row for row in runnable if self._ends(row)]
        running = [row for row in runnable if row not in ended]
        handed: list[tuple[Row, FrameItem]] = [(row, END) for row in ended]
        if running:
            codes = self._complete_frames(running)
            for row in running:
                row.produced += 1
                row.history.append(row.next_code)
            self._advance(running, codes)
            handed += zip(running, codes.cpu(), strict=True)
        if ended:
            self._leave(ended)
        return handed

    def _ends(self, row: Row) -> bool:
        return row.next_code == self._rules.eos_id or row.produced >= row.max_frames

    def _complete_frames(self, rows: list[Row]) -> torch.Tensor:
        """The code predictor: [rows, code groups] codes of each row's current frame."""
        talker = self._model.talker
        predictor = talker.code_predictor
        device = talker.device
        first = torch.tensor([[row.next_code] for row in rows], device=device)
        hidden = torch.stack([row.last_hidden[0] for row in rows if row.last_hidden is not None])
        inputs = torch.cat([hidden.unsqueeze(1), talker.get_input_embeddings()(first)], dim=1)
        cache = DynamicCache()
        output = predictor(inputs_embeds=inputs, past_key_values=cache, use_cache=True)
        codes = [first[:, 0]]
        for group in range(1, talker.config.num_code_groups):
            chosen = [
                choose(logits, row.code_sampling)
                for logits, row in zip(output.logits[:, -1], rows, strict=True)
            ]
            codes.append(torch.tensor(chosen, device=device))
            if group == talker.config.num_code_groups - 1:
                break
            output = predictor(
                input_ids=codes[-1].unsqueeze(1),
                past_key_values=cache,
                use_cache=True,
                generation_steps=group,
            )
        return torch.stack(codes, dim=1)

    def _advance(self, rows: list[Row], codes: torch.Tensor) -> None:
        """One talker step over the whole batch; rows not in `rows` sit it out (masked)."""
        talker = self._model.talker
        device = talker.device
        groups = [talker.get_input_embeddings()(codes[:, :1])]
        groups += [
            embedding(codes[:, i + 1 : i + 2])
            for i, embedding in enumerate(talker.code_predictor.get_input_embeddings())
        ]
        summed = torch.cat(groups, dim=1).sum(1)
        running = {id(row): index for index, row in enumerate(rows)}
        inputs = torch.zeros(
            len(self._rows), 1, summed.shape[-1], dtype=summed.dtype, device=device
        )
        positions = torch.zeros(len(self._rows), dtype=torch.long)
        for slot, row in enumerate(self._rows):
            index = running.get(id(row))
            if index is None:
                continue
            step = row.produced - 1
            trailing = row.prompt.trailing
            text = trailing[:, step] if step < trailing.shape[1] else row.prompt.pad[:, 0]
            inputs[slot, 0] = summed[index] + text[0]
            positions[slot] = row.position
        attending = torch.tensor([id(row) in running for row in self._rows])
        mask = self._batch.extend(attending)
        output = talker.model(
            inputs_embeds=inputs,
            attention_mask=mask.to(device),
            position_ids=positions.to(device).view(1, -1, 1).expand(3, -1, -1),
            past_key_values=self._batch.cache,
            cache_position=torch.tensor([mask.shape[1] - 1], device=device),
            use_cache=True,
        )
        hidden = output.last_hidden_state[:, -1]
        logits = talker.codec_head(hidden)
        for slot, row in enumerate(self._rows):
            if id(row) in running:
                row.last_hidden = hidden[slot : slot + 1]
                row.position += 1
                row.next_code = choose_first_code(
                    logits[slot], row.history, self._rules, row.sampling
                )

    def _leave(self, rows: list[Row]) -> None:
        keep = [index for index, row in enumerate(self._rows) if row not in rows]
        self._rows = [self._rows[index] for index in keep]
        self._batch.select(keep)

    def _fail(self, error: BaseException) -> None:
        with self._wake:
            rows = [*self._rows, *self._waiting]
            self._rows, self._waiting = [], []
        self._batch = _Batch()
        for row in rows:
            row.frames.put(error)


class _Batch:
    """The batch's KV cache, left-padded to one length, and its attention mask."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.cache = DynamicCache()
        self.mask = torch.zeros(0, 0, dtype=torch.long)

    def join(self, cache: DynamicCache, length: int) -> None:
        if self.mask.shape[0] == 0:
            self.cache, self.mask = cache, torch.ones(1, length, dtype=torch.long)
            return
        total = max(length, self.mask.shape[1])
        for mine, theirs in zip(_layers(self.cache), _layers(cache), strict=True):
            mine.keys = torch.cat([_left_pad(mine.keys, total), _left_pad(theirs.keys, total)])
            mine.values = torch.cat(
                [_left_pad(mine.values, total), _left_pad(theirs.values, total)]
            )
        row_mask = torch.ones(1, length, dtype=torch.long)
        self.mask = torch.cat([_left_pad(self.mask, total), _left_pad(row_mask, total)])

    def extend(self, attending: torch.Tensor) -> torch.Tensor:
        """The mask for the next step, which adds one column (masked for rows sitting out)."""
        self.mask = torch.cat([self.mask, attending.long().unsqueeze(1)], dim=1)
        return self.mask

    def select(self, rows: list[int]) -> None:
        """Keeps these rows, and drops the columns no remaining row attends to."""
        if not rows:
            self.clear()
            return
        index = torch.tensor(rows)
        mask = self.mask[index]
        columns = mask.any(dim=0).nonzero().flatten()
        self.mask = mask[:, columns]
        for layer in _layers(self.cache):
            device = layer.keys.device
            layer.keys = layer.keys[index.to(device)][:, :, columns.to(device)]
            layer.values = layer.values[index.to(device)][:, :, columns.to(device)]


def _layers(cache: DynamicCache) -> list[Any]:
    """The cache's per-layer keys and values (transformers 4.57's DynamicLayer)."""
    return list(cache.layers)


def _left_pad(tensor: torch.Tensor, length: int) -> torch.Tensor:
    """Pads dim 2 (KV: [batch, heads, length, dim]) or dim 1 (mask: [batch, length])."""
    dim = 2 if tensor.dim() == 4 else 1
    missing = length - tensor.shape[dim]
    if missing == 0:
        return tensor
    shape = list(tensor.shape)
    shape[dim] = missing
    return torch.cat([tensor.new_zeros(shape), tensor], dim=dim)


def _device_error(error: Exception) -> BaseException:
    if isinstance(error, torch.OutOfMemoryError):
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        return ResourceExhausted(f"the device ran out of memory generating: {error}")
    return error
