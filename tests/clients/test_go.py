"""The Go client (clients/go): its own suite (go test) against real servers, its `say`
example's WAV as a listener hears it, and its `bench` example's timings. `make clients` builds
build/clients/say-go and build/clients/bench-go first."""

from pathlib import Path

from tests.clients.checks import built, check_bench, check_say, run_suite

TEXT = "The quick brown fox jumps over the lazy dog. Would you like a cup of tea?"
HEARD = "the quick brown fox jumps over the lazy dog would you like a cup of tea"


def test_go_suite_passes(servers: dict[str, str]) -> None:
    built("say-go")
    output = run_suite("go", servers)
    assert "--- PASS: TestLiveCancelIsAnsweredByCancelled" in output, output


def test_say_writes_a_wav_a_listener_understands(servers: dict[str, str], tmp_path: Path) -> None:
    check_say(built("say-go"), servers["CANTATA_TARGET"], TEXT, HEARD, tmp_path)


def test_bench_prints_one_timing_line_per_request(servers: dict[str, str]) -> None:
    check_bench(built("bench-go"), servers["CANTATA_TARGET"])
