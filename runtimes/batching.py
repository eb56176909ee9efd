"""Gathers rows that arrive close together into one generation.

The first row opens a batch and starts its generation thread, which waits up to `wait_seconds`
(or until the batch is full) for more rows with the same key (rows that can share a batch: the
same prefix length, the same step count...), then seals the batch and runs it. Rows arriving
later open the next batch, which runs beside the first (up to `max_batches` at once), so a request
never waits for another request's whole utterance."""

import threading
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

RowT = TypeVar("RowT")


class _Batch(Generic[RowT]):
    def __init__(self) -> None:
        self.rows: list[RowT] = []
        self.full = threading.Event()


class Batcher(Generic[RowT]):
    def __init__(
        self,
        run: Callable[[list[RowT]], None],
        key: Callable[[RowT], Hashable],
        max_rows: int,
        wait_seconds: float,
        max_batches: int,
        name: str,
    ) -> None:
        self._run = run
        self._key = key
        self._max_rows = max_rows
        self._wait_seconds = wait_seconds
        self._open: dict[Hashable, _Batch[RowT]] = {}
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_batches, thread_name_prefix=f"{name}-batch")

    def submit(self, row: RowT) -> None:
        key = self._key(row)
        with self._lock:
            batch = self._open.get(key)
            if batch is None:
                batch = self._open[key] = _Batch[RowT]()
                self._executor.submit(self._gather_and_run, key, batch)
            batch.rows.append(row)
            if len(batch.rows) >= self._max_rows:
                del self._open[key]
                batch.full.set()

    def _gather_and_run(self, key: Hashable, batch: _Batch[RowT]) -> None:
        batch.full.wait(self._wait_seconds)
        with self._lock:
            if self._open.get(key) is batch:
                del self._open[key]
        self._run(batch.rows)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=False)
