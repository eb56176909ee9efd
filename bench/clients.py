"""The same streamed requests from each client, one language after another against one server
(Piper): median time to first audio and total time per request, measured by each client, against
the Python client's. Target: every client within 1.1x of Python's medians.

    make clients && .venv/bin/python -m bench.clients [--requests 20]

Each other language runs as its own process: build/clients/bench-<language> prints one JSON line
per request. Writes bench/results/clients.json."""

import argparse
import json
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.first_audio import SENTENCES
from bench.servers import cantata
from bench.stats import summary
from cantata_client import Client, Encoding

ROOT = Path(__file__).resolve().parents[1]
LANGUAGES = ("typescript", "go", "cpp")
TEXT = " ".join(SENTENCES[:3])
WARM_UP = 2


def python_client(target: str, requests: int) -> list[dict[str, float]]:
    timings = []
    with Client(target, timeout=60) as client:
        for _ in range(requests):
            began = time.perf_counter()
            first = None
            for _chunk in client.stream(TEXT, encoding=Encoding.PCM):
                first = first or time.perf_counter() - began
            total = time.perf_counter() - began
            timings.append({"first_audio_seconds": first or total, "total_seconds": total})
    return timings


def other_client(language: str, target: str, requests: int) -> list[dict[str, float]]:
    program = ROOT / "build" / "clients" / f"bench-{language}"
    done = subprocess.run(
        [str(program), "--server", target, "--requests", str(requests), TEXT],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def medians(timings: list[dict[str, float]]) -> dict[str, Any]:
    measured = timings[WARM_UP:]
    return {key: summary([t[key] for t in measured]) for key in measured[0]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    count = args.requests + WARM_UP
    models = [{"name": "piper", "runtime": "piper", "concurrency": 2, "options": {"threads": 1}}]
    with cantata(models) as target:
        results = {"python": medians(python_client(target, count))}
        for language in LANGUAGES:
            results[language] = medians(other_client(language, target, count))
    python = results["python"]
    ratios = {
        language: {
            key: results[language][key]["median"] / python[key]["median"]
            for key in ("first_audio_seconds", "total_seconds")
        }
        for language in LANGUAGES
    }
    report = {"medians": results, "ratio_to_python": ratios, "target_ratio": 1.1}
    out = ROOT / "bench" / "results" / "clients.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
