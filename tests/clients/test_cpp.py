"""The C++ client (clients/cpp): its CTest suite against real servers, the WAV its `say` example
streams as a listener hears it, and its `bench` example's timings. `make clients` builds
build/clients/say-cpp and build/clients/bench-cpp first."""

import re
from pathlib import Path

from tests.clients.checks import ROOT, built, check_bench, check_say, run_suite

SUITE = ROOT / "clients/cpp/tests/client_test.cc"
TEXT = "Doctor Alice Johnson flew to London on Monday. Would you like a cup of tea?"
HEARD = "doctor alice johnson flew to london on monday would you like a cup of tea"


def test_cpp_suite_passes(servers: dict[str, str]) -> None:
    built("say-cpp")
    output = run_suite("cpp", servers)
    # Every case in the source ran (plus the find_package check), none was lost on the way.
    cases = re.findall(r"^CANTATA_TEST\((\w+)\)", SUITE.read_text(), re.MULTILINE)
    assert len(cases) >= 15
    for case in [*cases, "find_package_cantata"]:
        assert re.search(rf"Test +#\d+: {case} \.+ +Passed", output), f"{case}:\n{output}"
    assert f"0 tests failed out of {len(cases) + 1}" in output, output


def test_say_streams_a_wav_a_listener_understands(servers: dict[str, str], tmp_path: Path) -> None:
    check_say(built("say-cpp"), servers["CANTATA_TARGET"], TEXT, HEARD, tmp_path)


def test_bench_times_each_streamed_request(servers: dict[str, str]) -> None:
    check_bench(built("bench-cpp"), servers["CANTATA_TARGET"])
