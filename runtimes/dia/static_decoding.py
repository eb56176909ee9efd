"""Dia's decoder steps over preallocated caches, so that one step (decoder and token choice) can
be captured as a CUDA graph and replayed: a launch-bound step becomes one launch.

A graph needs fixed shapes and fixed addresses. A batch therefore runs in a slot: buffers for a
power-of-two number of rows (the unconditional half of guidance beside the conditional one),
self-attention keys and values for every position the batch can reach, the cross-attention keys
and values of its text, the step's inputs and outputs and each row's sampling settings. Rows that
leave the batch keep running, ignored; missing rows are dummies. Attention reads the cache up to
a power-of-two bucket of the position (masked beyond it) and the text up to a power-of-two bucket
of its length, so one graph per (text bucket, length bucket, top-k width) is captured on first use
and replayed from then on. Slots are kept for the next batch of their size; two batches at once
use two slots, each on its own CUDA stream.

Random numbers stay outside the graph: each row draws its own from its generator before the step
(see sampling.py), so seeds are reproducible whatever else is batched. Without graphs (on the CPU,
in tests) the same steps run eagerly and choose the same tokens; a capture that fails is logged
and the decoder goes on eagerly. Slots stay allocated for the next batch of their size (dropped
when the device runs out of memory).
"""

import contextlib
import dataclasses
import logging
import threading
from typing import Any

import torch
from transformers import DiaForConditionalGeneration
from transformers.models.dia.modeling_dia import apply_rotary_pos_emb

from runtimes.dia.sampling import (
    RowSampling,
    SamplingColumns,
    draw_noise,
    k_max_of,
    pick_tokens,
)

logger = logging.getLogger(__name__)

SHORTEST_LENGTH = 256
"""The smallest self-attention bucket, in positions."""
SHORTEST_TEXT = 64
"""The smallest cross-attention bucket, in text bytes."""
_DUMMY = RowSampling(temperature=1.0, top_p=1.0, top_k=1, cfg_scale=0.0, generator=None)


def bucket(needed: int, smallest: int, largest: int) -> int:
    """The power-of-two multiple of `smallest` that holds `needed`, at most `largest`."""
    size = smallest
    while size < needed:
        size *= 2
    return min(size, largest)


def _buckets(smallest: int, largest: int) -> list[int]:
    sizes = [min(smallest, largest)]
    while sizes[-1] < largest:
        sizes.append(min(2 * sizes[-1], largest))
    return sizes


class StaticDecoder:
    """Owns the slots (and their graphs) of one model; `start` runs a batch in a free slot."""

    def __init__(self, model: DiaForConditionalGeneration, eos_token_id: int, graphs: bool) -> None:
        self.model = model
        self.eos = eos_token_id
        self.graphs = graphs and model.device.type == "cuda"
        config: Any = model.config
        self.channels = int(config.decoder_config.num_channels)
        self.vocab = int(config.decoder_config.vocab_size)
        self.max_length = int(config.decoder_config.max_position_embeddings)
        self.max_text = int(config.encoder_config.max_position_embeddings)
        self.captured = 0
        """Graphs captured so far (tests and benchmarks read it)."""
        self._slots: list[_Slot] = []
        self._lock = threading.Lock()

    def start(
        self,
        text: torch.Tensor,
        text_mask: torch.Tensor,
        samplings: list[RowSampling],
        guided: bool,
        length: int,
    ) -> "StaticDecoding":
        """A batch of len(samplings) rows: text [rows (twice with guidance), bytes] on the CPU;
        `length` is the number of positions the longest row can reach."""
        half = bucket(len(samplings), 1, 2 * len(samplings))
        slot = self._acquire(half, guided)
        try:
            return StaticDecoding(self, slot, text, text_mask, samplings, length)
        except BaseException:
            self._release(slot)
            raise

    @torch.inference_mode()
    def prepare(self, rows: int, guided: bool, longest_text: int, top_k: int) -> None:
        """Captures, ahead of requests, the graphs of batches of `rows` rows with this top-k
        width, for every length bucket and every text bucket up to `longest_text` bytes."""
        if not self.graphs:
            return
        slot = self._acquire(bucket(rows, 1, 2 * rows), guided)
        longest_text = bucket(longest_text, SHORTEST_TEXT, self.max_text)
        try:
            with slot.on_stream():
                slot.ensure(self, self.max_length, longest_text)
                slot.reset()
                for text in _buckets(SHORTEST_TEXT, longest_text):
                    for length in _buckets(SHORTEST_LENGTH, self.max_length):
                        key = (text, length, min(top_k, self.vocab))
                        if self.graphs and key not in slot.graphs:
                            self._capture(slot, key)
        finally:
            self._release(slot)

    def _acquire(self, half: int, guided: bool) -> "_Slot":
        with self._lock:
            for slot in self._slots:
                if not slot.busy and slot.half == half and slot.guided == guided:
                    slot.busy = True
                    return slot
            slot = _Slot(self, half, guided)
            slot.busy = True
            self._slots.append(slot)
            return slot

    def _release(self, slot: "_Slot") -> None:
        with self._lock:
            slot.busy = False

    def drop_idle_slots(self) -> None:
        """Frees the buffers and graphs of the slots no batch is using (after running out of
        device memory, say)."""
        with self._lock:
            self._slots = [slot for slot in self._slots if slot.busy]

    def step(self, slot: "_Slot", key: tuple[int, int, int]) -> None:
        """One step from slot.inputs to slot.out: replayed, captured first if new, or eager."""
        if not self.graphs:
            self._body(slot, key)
            return
        graph = slot.graphs.get(key)
        if graph is None:
            graph = self._capture(slot, key)
            if graph is None:
                self._body(slot, key)
                return
        graph.replay()

    def _capture(self, slot: "_Slot", key: tuple[int, int, int]) -> "torch.cuda.CUDAGraph | None":
        """Captures on the slot's own stream in thread-local mode, so that other threads (other
        batches, codec decodes) go on launching work meanwhile. The warm-up run computes the
        step itself, which the first replay then repeats."""
        assert slot.capture_stream is not None
        current = torch.cuda.current_stream()
        slot.capture_stream.wait_stream(current)
        try:
            with torch.cuda.stream(slot.capture_stream):
                self._body(slot, key)
                graph = torch.cuda.CUDAGraph()
                graph.capture_begin(pool=slot.pool, capture_error_mode="thread_local")
                try:
                    self._body(slot, key)
                finally:
                    graph.capture_end()
        except torch.OutOfMemoryError:
            current.wait_stream(slot.capture_stream)
            raise
        except RuntimeError as error:
            logger.warning("dia: CUDA graph capture failed, decoding eagerly: %s", error)
            self.graphs = False
            current.wait_stream(slot.capture_stream)
            return None
        current.wait_stream(slot.capture_stream)
        slot.graphs[key] = graph
        self.captured += 1
        return graph

    def _body(self, slot: "_Slot", key: tuple[int, int, int]) -> None:
        text, length, k_max = key
        rows = slot.rows
        tokens = slot.inputs[: rows * self.channels].view(rows, 1, self.channels)
        positions = slot.inputs[rows * self.channels :]
        logits = self.forward(slot, tokens, positions, length, text)
        slot.out.copy_(self.choose(slot, logits, k_max))

    def choose(self, slot: "_Slot", logits: torch.Tensor, k_max: int) -> torch.Tensor:
        conditional, unconditional = (
            (logits[: slot.half], logits[slot.half :]) if slot.guided else (logits, None)
        )
        columns = dataclasses.replace(slot.columns, k_max=k_max)
        return pick_tokens(conditional, unconditional, columns, slot.noise, self.eos)

    def forward(
        self,
        slot: "_Slot",
        tokens: torch.Tensor,
        positions: torch.Tensor,
        length: int,
        text: int,
    ) -> torch.Tensor:
        """The decoder of transformers' Dia over the slot's caches: tokens [rows, q, channels]
        at `positions` [q] → the last position's logits [rows, channels, vocab]."""
        decoder: Any = self.model.model.decoder
        rows, steps = tokens.shape[0], tokens.shape[1]
        hidden = decoder.embeddings(tokens)
        cos, sin = decoder.rotary_emb(hidden, positions[None])
        visible = torch.arange(length, device=tokens.device)[None] <= positions[:, None]
        visible = visible.view(1, 1, steps, length)
        text_visible = slot.text_visible[..., :text]
        for index, layer in enumerate(decoder.layers):
            attention = layer.self_attention
            normed = layer.pre_sa_norm(hidden)
            shape = (rows, steps, -1, attention.head_dim)
            query = attention.q_proj(normed).view(shape).transpose(1, 2)
            key = attention.k_proj(normed).view(shape).transpose(1, 2)
            value = attention.v_proj(normed).view(shape).transpose(1, 2)
            query, key = apply_rotary_pos_emb(query, key, cos, sin)
            slot.keys[index].index_copy_(2, positions, key)
            slot.values[index].index_copy_(2, positions, value)
            attended = _attention(
                query,
                slot.keys[index][:, :, :length],
                slot.values[index][:, :, :length],
                visible,
            )
            hidden = hidden + attention.o_proj(attended)
            cross = layer.cross_attention
            normed = layer.pre_ca_norm(hidden)
            query = cross.q_proj(normed).view(rows, steps, -1, cross.head_dim).transpose(1, 2)
            attended = _attention(
                query,
                slot.text_keys[index][:, :, :text],
                slot.text_values[index][:, :, :text],
                text_visible,
            )
            hidden = hidden + cross.o_proj(attended)
            hidden = hidden + layer.mlp(layer.pre_mlp_norm(hidden))
        hidden = decoder.norm(hidden)
        logits: torch.Tensor = self.model.logits_dense(hidden)
        return logits.view(rows, steps, self.channels, self.vocab)[:, -1]


def _attention(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, visible: torch.Tensor
) -> torch.Tensor:
    """Dia's attention (no scaling), grouped heads without copying the cache: [rows, heads, q,
    dim] queries → [rows, q, heads * dim]."""
    rows, heads, steps, dim = query.shape
    groups = heads // key.shape[1]
    if groups > 1 and steps == 1:
        # The heads that share a key head become that head's queries.
        packed = query.reshape(rows, key.shape[1], groups, dim)
        output = torch.nn.functional.scaled_dot_product_attention(
            packed, key, value, attn_mask=visible, scale=1.0
        )
        return output.reshape(rows, 1, heads * dim)
    if groups > 1:
        key = key.repeat_interleave(groups, dim=1)
        value = value.repeat_interleave(groups, dim=1)
    output = torch.nn.functional.scaled_dot_product_attention(
        query, key, value, attn_mask=visible, scale=1.0
    )
    return output.transpose(1, 2).reshape(rows, steps, heads * dim)


class _Slot:
    def __init__(self, decoder: StaticDecoder, half: int, guided: bool) -> None:
        self.half = half
        self.guided = guided
        self.rows = half * (2 if guided else 1)
        self.busy = False
        model = decoder.model
        self.device = device = model.device
        self.dtype = model.dtype
        channels, vocab = decoder.channels, decoder.vocab
        cuda = device.type == "cuda"
        self.inputs = torch.zeros(self.rows * channels + 1, dtype=torch.long, device=device)
        """Every row's tokens, then the step's position."""
        self.host_inputs = torch.zeros(self.rows * channels + 1, dtype=torch.long, pin_memory=cuda)
        self.out = torch.zeros(half, channels, dtype=torch.long, device=device)
        self.noise = torch.ones(half, channels, vocab, dtype=torch.float32, device=device)
        self.columns = SamplingColumns.of([_DUMMY] * half, vocab, device)
        self.length = 0
        self.text = 0
        self.keys: list[torch.Tensor] = []
        self.values: list[torch.Tensor] = []
        self.text_keys: list[torch.Tensor] = []
        self.text_values: list[torch.Tensor] = []
        self.text_visible = torch.zeros(self.rows, 1, 1, 0, dtype=torch.bool, device=device)
        self.graphs: dict[tuple[int, int, int], torch.cuda.CUDAGraph] = {}
        self.stream = torch.cuda.Stream(device) if cuda else None  # type: ignore[no-untyped-call]
        self.capture_stream = torch.cuda.Stream(device) if cuda else None  # type: ignore[no-untyped-call]
        self.pool = torch.cuda.graph_pool_handle() if cuda else None

    def on_stream(self) -> contextlib.AbstractContextManager[Any]:
        return (
            torch.cuda.stream(self.stream) if self.stream is not None else contextlib.nullcontext()
        )

    def ensure(self, decoder: StaticDecoder, length: int, text: int) -> None:
        """Grows the caches to hold `length` positions and `text` bytes (graphs captured over
        the old buffers go)."""
        layers: Any = decoder.model.model.decoder.layers
        if length > self.length:
            self._drop_graphs()
            self.keys, self.values, self.length = [], [], 0
            for layer in layers:
                attention = layer.self_attention
                shape = (self.rows, attention.num_key_value_heads, length, attention.head_dim)
                self.keys.append(self._zeros(shape))
                self.values.append(self._zeros(shape))
            self.length = length
        if text > self.text:
            self._drop_graphs()
            self.text_keys, self.text_values, self.text = [], [], 0
            for layer in layers:
                cross = layer.cross_attention
                shape = (self.rows, cross.num_key_value_heads, text, cross.head_dim)
                self.text_keys.append(self._zeros(shape))
                self.text_values.append(self._zeros(shape))
            self.text_visible = torch.zeros(
                self.rows, 1, 1, text, dtype=torch.bool, device=self.device
            )
            self.text = text

    def _drop_graphs(self) -> None:
        """Graphs go with the buffers they were captured over; their memory pool goes with them
        (a pool whose graphs are gone cannot take new captures)."""
        self.graphs.clear()
        if self.pool is not None:
            self.pool = torch.cuda.graph_pool_handle()

    def _zeros(self, shape: tuple[int, ...]) -> torch.Tensor:
        return torch.zeros(shape, dtype=self.dtype, device=self.device)

    def reset(self) -> None:
        """Clears what a previous batch left, so that masked positions hold finite values."""
        for tensor in (*self.keys, *self.values, *self.text_keys, *self.text_values):
            tensor.zero_()
        self.text_visible.zero_()
        self.text_visible[:, 0, 0, 0] = True
        self.noise.fill_(1.0)
        self.host_inputs.zero_()


class StaticDecoding:
    """One batch in its slot: the encoder and cross-attention caches at the start, then one
    `step` per generated step; `close` hands the slot back."""

    def __init__(
        self,
        decoder: StaticDecoder,
        slot: _Slot,
        text: torch.Tensor,
        text_mask: torch.Tensor,
        samplings: list[RowSampling],
        length: int,
    ) -> None:
        self._decoder = decoder
        self._slot = slot
        self._samplings = samplings
        self._active = list(range(len(samplings)))
        self._k_max = k_max_of(samplings, decoder.vocab)
        self._text = bucket(text.shape[1], SHORTEST_TEXT, decoder.max_text)
        count = len(samplings)
        real = list(range(count))
        if slot.guided:
            real += [slot.half + row for row in range(count)]
        self._real_rows = torch.tensor(real)
        with slot.on_stream():
            try:
                slot.ensure(
                    decoder, bucket(length, SHORTEST_LENGTH, decoder.max_length), self._text
                )
            except torch.OutOfMemoryError:
                decoder.drop_idle_slots()
                torch.cuda.empty_cache()
                slot.ensure(
                    decoder, bucket(length, SHORTEST_LENGTH, decoder.max_length), self._text
                )
            slot.reset()
            self._encode(text.to(slot.device), text_mask.to(slot.device))
            columns = SamplingColumns.of(
                samplings + [_DUMMY] * (slot.half - count), decoder.vocab, slot.device
            )
            for name in ("temperature", "top_p", "cfg_scale", "top_k", "sampled"):
                getattr(slot.columns, name).copy_(getattr(columns, name))

    def _encode(self, text: torch.Tensor, text_mask: torch.Tensor) -> None:
        decoder, slot = self._decoder, self._slot
        model: Any = decoder.model
        encoded = model.get_encoder()(input_ids=text, attention_mask=text_mask).last_hidden_state
        rows, length = encoded.shape[0], encoded.shape[1]
        real = self._real_rows.to(slot.device)
        for index, layer in enumerate(model.model.decoder.layers):
            cross = layer.cross_attention
            shape = (rows, length, -1, cross.head_dim)
            slot.text_keys[index][real, :, :length] = (
                cross.k_proj(encoded).view(shape).transpose(1, 2)
            )
            slot.text_values[index][real, :, :length] = (
                cross.v_proj(encoded).view(shape).transpose(1, 2)
            )
        slot.text_visible[real, 0, 0, :length] = text_mask.bool()

    def step(self, step_input: torch.Tensor, step: int) -> torch.Tensor:
        """step_input [active rows, q, channels] (CPU) at positions step - q ... step - 1 →
        [active rows, channels] tokens for position `step` (CPU)."""
        decoder, slot = self._decoder, self._slot
        active = torch.tensor(self._active)
        drawn: list[RowSampling | None] = [None] * slot.half
        for row in self._active:
            drawn[row] = self._samplings[row]
        steps = step_input.shape[1]
        with slot.on_stream():
            if steps == 1:
                rows = slot.host_inputs[:-1].view(slot.rows, decoder.channels)
                rows[active] = step_input[:, 0]
                if slot.guided:
                    rows[active + slot.half] = step_input[:, 0]
                slot.host_inputs[-1] = step - 1
                slot.inputs.copy_(slot.host_inputs, non_blocking=True)
                draw_noise(slot.noise, drawn)
                decoder.step(slot, (self._text, self._length_at(step), self._k_max))
                chosen = slot.out.cpu()
            else:
                tokens = torch.zeros(slot.rows, steps, decoder.channels, dtype=torch.long)
                tokens[active] = step_input
                if slot.guided:
                    tokens[active + slot.half] = step_input
                positions = torch.arange(step - steps, step, device=slot.device)
                draw_noise(slot.noise, drawn)
                logits = decoder.forward(
                    slot, tokens.to(slot.device), positions, self._length_at(step), self._text
                )
                chosen = decoder.choose(slot, logits, self._k_max).cpu()
        return chosen[active]

    def _length_at(self, step: int) -> int:
        return bucket(step, SHORTEST_LENGTH, self._decoder.max_length)

    def keep(self, positions: list[int]) -> None:
        """Only these of the active rows go on; the others keep running in the slot, ignored."""
        self._active = [self._active[position] for position in positions]

    def close(self) -> None:
        self._decoder._release(self._slot)
