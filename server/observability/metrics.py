"""Prometheus metrics, in a registry of the server's own. Counters and histograms are recorded
as requests finish; gauges (in-flight, queue, loaded, memory) and the stage counters that
pipelined runtimes keep are read from the engine, the runtimes and the devices at scrape time, so
nothing is counted twice."""

import platform
from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import version
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from runtimes.base import StageTotals
from server.observability.devices import DeviceMemory

RTF_BUCKETS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 5.0, 10.0, 20.0, 50.0)
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


class ModelView(Protocol):
    """What the collector reads of each model."""

    @property
    def name(self) -> str: ...

    @property
    def device(self) -> str: ...

    @property
    def load_seconds(self) -> float: ...

    @property
    def memory_bytes(self) -> int | None: ...

    @property
    def ready(self) -> bool: ...

    @property
    def running(self) -> int: ...

    @property
    def queued(self) -> int: ...

    def stage_totals(self) -> StageTotals | None: ...


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "cantata_requests", "RPCs by outcome.", ["rpc", "model", "code"], registry=r
        )
        self.request_duration = Histogram(
            "cantata_request_duration_seconds",
            "RPC duration.",
            ["rpc", "model"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.real_time_factor = Histogram(
            "cantata_real_time_factor",
            "Compute seconds per second of audio.",
            ["model", "runtime", "device"],
            buckets=RTF_BUCKETS,
            registry=r,
        )
        self.time_to_first_audio = Histogram(
            "cantata_time_to_first_audio_seconds",
            "Streams: request arrival to first audio.",
            ["model"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.audio_seconds = Counter(
            "cantata_audio_seconds", "Seconds of audio synthesized.", ["model"], registry=r
        )
        self.characters = Counter(
            "cantata_characters", "Characters of text synthesized.", ["model"], registry=r
        )
        self.rejected = Counter(
            "cantata_rejected",
            "Requests refused before synthesis.",
            ["model", "reason"],
            registry=r,
        )
        self.live_sessions = Gauge(
            "cantata_live_sessions", "LiveSynthesize sessions open.", registry=r
        )
        self.live_sessions_ended = Counter(
            "cantata_live_sessions_ended",
            "LiveSynthesize sessions by how they ended: completed (after half-close), idle "
            "(the idle timeout), client_gone, or error.",
            ["reason"],
            registry=r,
        )
        Info("cantata_build", "Cantata's build.", registry=r).info(
            {"version": version("cantata"), "python": platform.python_version()}
        )

    def watch(
        self,
        models: Callable[[], Iterable[ModelView]],
        devices: Callable[[], list[DeviceMemory]],
    ) -> None:
        self.registry.register(_StateCollector(models, devices))


def _stage_families(models: Iterable[ModelView]) -> Iterable[Metric]:
    busy = CounterMetricFamily(
        "cantata_stage_seconds",
        "Seconds each stage of a pipelined model has been busy.",
        labels=["model", "stage"],
    )
    overlap = CounterMetricFamily(
        "cantata_stage_overlap_seconds",
        "Seconds during which two or more stages of a pipelined model were busy at once.",
        labels=["model"],
    )
    for model in models:
        totals = model.stage_totals()
        if totals is None:
            continue
        for stage, seconds in totals.busy_seconds.items():
            busy.add_metric([model.name, stage], seconds)
        overlap.add_metric([model.name], totals.overlap_seconds)
    return busy, overlap


class _StateCollector(Collector):
    def __init__(
        self,
        models: Callable[[], Iterable[ModelView]],
        devices: Callable[[], list[DeviceMemory]],
    ) -> None:
        self._models = models
        self._devices = devices

    def collect(self) -> Iterable[Metric]:
        per_model: Mapping[str, tuple[str, Callable[[ModelView], float | None]]] = {
            "cantata_inflight_requests": ("Syntheses running.", lambda m: m.running),
            "cantata_queue_depth": ("Requests waiting for a worker.", lambda m: m.queued),
            "cantata_model_loaded": ("1 when the model is ready.", lambda m: float(m.ready)),
            "cantata_model_load_seconds": ("Seconds the last load took.", lambda m: m.load_seconds),
        }
        models = list(self._models())
        for name, (documentation, read) in per_model.items():
            family = GaugeMetricFamily(name, documentation, labels=["model"])
            for model in models:
                family.add_metric([model.name], float(read(model) or 0.0))
            yield family
        memory = GaugeMetricFamily(
            "cantata_model_memory_bytes", "Memory a model holds.", labels=["model", "device"]
        )
        for model in models:
            if model.memory_bytes is not None:
                memory.add_metric([model.name, model.device], model.memory_bytes)
        yield memory
        yield from _stage_families(models)
        used = GaugeMetricFamily(
            "cantata_device_memory_used_bytes", "Memory in use on a device.", labels=["device"]
        )
        total = GaugeMetricFamily(
            "cantata_device_memory_total_bytes", "Memory a device has.", labels=["device"]
        )
        for reading in self._devices():
            used.add_metric([reading.device], reading.used_bytes)
            total.add_metric([reading.device], reading.total_bytes)
        yield used
        yield total
