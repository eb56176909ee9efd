"""What operations cost: Synthesize on a server with Prometheus metrics, info-level JSON logs
and API-key auth against the same server with all three off, the two side by side, requests
alternating (A B B A ...), median of each. Target: at most 1% slower.

End-to-end medians on a shared 2-core machine move by a few percent from run to run, more
than the target, so the work operations add to each request (the key check, the metric
updates, one JSON log line) is also timed directly and set against the core request time."""

import os
import time
import timeit
from typing import Any

import structlog

from bench.servers import cantata
from bench.stats import summary
from cantata_client import Client, Encoding
from server.api.auth import ApiKeyInterceptor
from server.config import AuthSettings
from server.observability.logging import configure_logging
from server.observability.metrics import Metrics

TEXT = "The quick brown fox jumps over the lazy dog. Then it naps in the warm afternoon sun."
API_KEY = "bench-key-0123456789abcdef"
# One ONNX thread on both sides: spinning thread pools of two servers taking turns would add
# noise far larger than what is measured here.
MODELS = [{"name": "piper", "runtime": "piper", "options": {"threads": 1}}]


def run(runs: int = 60, warmup: int = 4) -> dict[str, Any]:
    os.environ["CANTATA_BENCH_KEYS"] = API_KEY
    operated: dict[str, Any] = {
        "log_level": "info",
        "log_format": "json",
        "metrics": {"enabled": True, "port": 0},
        "auth": {"api_keys_env": "CANTATA_BENCH_KEYS"},
    }
    seconds: dict[str, list[float]] = {"core": [], "operated": []}
    with (
        cantata(MODELS) as core_target,
        cantata(MODELS, **operated) as operated_target,
        Client(core_target, timeout=60) as core,
        Client(
            operated_target, timeout=60, metadata=(("authorization", f"Bearer {API_KEY}"),)
        ) as with_operations,
    ):
        clients = {"core": core, "operated": with_operations}
        for index in range(warmup + runs):
            order = ["core", "operated"] if index % 2 == 0 else ["operated", "core"]
            for name in order:
                began = time.perf_counter()
                clients[name].synthesize(TEXT, encoding=Encoding.PCM, temperature=0.0)
                if index >= warmup:
                    seconds[name].append(time.perf_counter() - began)
    core_summary, operated_summary = summary(seconds["core"]), summary(seconds["operated"])
    added = added_seconds_per_request()
    return {
        "core_seconds": core_summary,
        "operated_seconds": operated_summary,
        "ratio": operated_summary["median"] / core_summary["median"],
        "added_seconds_per_request": added,
        "added_fraction_of_core_request": sum(added.values()) / core_summary["median"],
        "target_ratio": 1.01,
    }


def added_seconds_per_request(iterations: int = 20000) -> dict[str, float]:
    """Each piece of per-request work that metrics, logs and auth add, timed in-process."""
    metrics = Metrics()
    interceptor = ApiKeyInterceptor([API_KEY.encode()], AuthSettings())
    metadata = (("authorization", f"Bearer {API_KEY}"), ("user-agent", "grpc-python/1.85.1"))
    with open(os.devnull, "w") as null:
        configure_logging("json", "info", stream=null)
        log = structlog.get_logger("bench")

        def record() -> None:
            metrics.requests.labels("Synthesize", "piper", "OK").inc()
            metrics.request_duration.labels("Synthesize", "piper").observe(0.4)
            metrics.real_time_factor.labels("piper", "piper", "cpu").observe(0.1)
            metrics.audio_seconds.labels("piper").inc(4.2)
            metrics.characters.labels("piper").inc(84)
            metrics.time_to_first_audio.labels("piper").observe(0.1)

        def write_log() -> None:
            log.info(
                "request_done",
                request_id="0f3c9a8d2b7e4c1a9d8e7f6a5b4c3d2e",
                rpc="Synthesize",
                model="piper",
                status="OK",
                duration_seconds=0.4,
                characters=84,
                voice="en_US-joe-medium",
                audio_seconds=4.2,
                real_time_factor=0.1,
                time_to_first_audio_seconds=0.1,
            )

        pieces = {
            "api_key_check": lambda: interceptor._authorized(metadata),
            "metrics": record,
            "log_line": write_log,
        }
        return {
            name: timeit.timeit(piece, number=iterations) / iterations
            for name, piece in pieces.items()
        }
