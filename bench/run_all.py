"""Runs the core benchmarks and writes bench/results/core.json.

make bench          (or: .venv/bin/python -m bench.run_all [overhead first_audio concurrency])
"""

import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import concurrency, first_audio, operations_overhead, overhead

BENCHMARKS: dict[str, Callable[[], dict[str, Any]]] = {
    "overhead": overhead.run,
    "first_audio": first_audio.run,
    "concurrency": concurrency.run,
    "operations_overhead": operations_overhead.run,
}


def main(names: list[str]) -> None:
    results: dict[str, Any] = {
        "machine": {
            "cpus": len(__import__("os").sched_getaffinity(0)),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    }
    for name in names or list(BENCHMARKS):
        began = time.perf_counter()
        results[name] = BENCHMARKS[name]()
        results[name]["bench_seconds"] = round(time.perf_counter() - began, 1)
        print(json.dumps({name: results[name]}, indent=2), flush=True)
    out = Path(__file__).parent / "results" / "core.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
