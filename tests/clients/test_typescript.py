"""The TypeScript client (clients/typescript): its own suite (node --test) against real servers,
its `say` example's WAV as a listener hears it, and its `bench` example's timings. `make clients`
builds build/clients/say-typescript and build/clients/bench-typescript first."""

import re
from pathlib import Path

from tests.clients.checks import built, check_bench, check_say, run_suite

TEXT = "Doctor Alice Johnson flew to London on Monday. Please remember to bring your umbrella."
HEARD = "doctor alice johnson flew to london on monday please remember to bring your umbrella"


def test_typescript_suite_passes(servers: dict[str, str]) -> None:
    built("say-typescript")
    output = run_suite("typescript", servers)
    assert re.search(r"^\S pass [1-9]\d*$", output, re.MULTILINE), output
    assert re.search(r"^\S fail 0$", output, re.MULTILINE), output
    assert "✔ answers a cancel with cancelled, and stops speaking" in output, output


def test_say_writes_a_wav_a_listener_understands(servers: dict[str, str], tmp_path: Path) -> None:
    check_say(built("say-typescript"), servers["CANTATA_TARGET"], TEXT, HEARD, tmp_path)


def test_bench_prints_one_timing_line_per_request(servers: dict[str, str]) -> None:
    check_bench(built("bench-typescript"), servers["CANTATA_TARGET"])
