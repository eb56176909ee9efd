"""Where the time of a pipelined runtime goes: how long each stage was busy, how long two stages
were busy at once, and the recent busy intervals themselves (which the tests read to prove the
overlap)."""

import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from runtimes.base import StageTotals


@dataclass(frozen=True)
class Interval:
    stage: str
    start: float
    end: float


class StageClock:
    def __init__(self, stages: tuple[str, ...], keep: int = 4096) -> None:
        self._active = dict.fromkeys(stages, 0)
        self._busy = dict.fromkeys(stages, 0.0)
        self._overlap = 0.0
        self._last = time.perf_counter()
        self._lock = threading.Lock()
        self.recent: deque[Interval] = deque(maxlen=keep)

    @contextmanager
    def busy(self, stage: str) -> Iterator[None]:
        start = self._change(stage, +1)
        try:
            yield
        finally:
            end = self._change(stage, -1)
            self.recent.append(Interval(stage, start, end))

    def totals(self) -> StageTotals:
        with self._lock:
            self._advance(time.perf_counter())
            return StageTotals(busy_seconds=dict(self._busy), overlap_seconds=self._overlap)

    def _change(self, stage: str, delta: int) -> float:
        with self._lock:
            now = time.perf_counter()
            self._advance(now)
            self._active[stage] += delta
            return now

    def _advance(self, now: float) -> None:
        elapsed = now - self._last
        self._last = now
        busy = [stage for stage, count in self._active.items() if count > 0]
        for stage in busy:
            self._busy[stage] += elapsed
        if len(busy) >= 2:
            self._overlap += elapsed
