"""The images, with no Docker daemon: every Dockerfile linted by hadolint, and what the ROCm
targets promise an operator read from the instructions themselves; the entrypoint is run."""

import json
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROCM = Path("Dockerfile.rocm")
ROCM_TARGETS = ["strix-halo", "dia"]
TORCH_PACKAGES = re.compile(r"\^\(torch\|torchvision\|torchaudio\|triton\|pytorch-triton-rocm\)==")


@dataclass(frozen=True)
class Stage:
    name: str
    base: str
    instructions: tuple[tuple[str, str], ...]

    def all(self, keyword: str) -> list[str]:
        return [args for word, args in self.instructions if word == keyword]

    def last(self, keyword: str) -> str:
        return self.all(keyword)[-1]

    def assignments(self, keyword: str) -> dict[str, str]:
        """ENV or ARG values by name (an ARG without a default reads as empty)."""
        out: dict[str, str] = {}
        for args in self.all(keyword):
            for word in shlex.split(args):
                name, _, value = word.partition("=")
                out[name] = value
        return out

    @property
    def run(self) -> str:
        return " ".join(self.all("RUN"))


def instructions(path: Path) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) with continuation lines joined and comments dropped, as Docker reads
    them."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, args = (pending + line).partition(" ")
        out.append((keyword.upper(), " ".join(args.split())))
        pending = ""
    return out


@cache
def stages() -> dict[str, Stage]:
    """Dockerfile.rocm's stages by name, each base image with the global ARG defaults filled in."""
    global_args: dict[str, str] = {}
    found: list[tuple[str, str, list[tuple[str, str]]]] = []
    for keyword, args in instructions(ROCM):
        if keyword == "FROM":
            image, _, name = args.partition(" AS ")
            base = re.sub(r"\$\{(\w+)\}", lambda m: global_args[m[1]], image)
            found.append((name, base, []))
        elif found:
            found[-1][2].append((keyword, args))
        else:
            assert keyword == "ARG", keyword
            name, _, default = args.partition("=")
            global_args[name] = default
    return {name: Stage(name, base, tuple(body)) for name, base, body in found}


def test_the_default_rocm_build_is_still_dia() -> None:
    names = list(stages())
    assert names[-1] == "dia"
    assert '".[dia]"' in stages()["dia"].run
    assert "strix-halo" in names


def test_strix_halo_builds_on_a_rocm_7_pytorch_image() -> None:
    base = stages()["strix-halo"].base
    match = re.fullmatch(
        r"rocm/pytorch:rocm(\d+)\.(\d+)(?:\.\d+)?_ubuntu[\d.]+_py3\.\d+_pytorch_release_[\d.]+",
        base,
    )
    assert match, base
    assert int(match[1]) >= 7, "gfx1151 wants ROCm 7"


@pytest.mark.parametrize("target", ROCM_TARGETS)
def test_rocm_targets_keep_the_images_torch(target: str) -> None:
    run = stages()[target].run
    assert TORCH_PACKAGES.search(run), "every torch package of the base is a constraint"
    assert "pip list --format=freeze" in run
    assert "pip install --no-cache-dir -c /tmp/rocm-torch.txt" in run
    assert "torch.version.hip" in run


@pytest.mark.parametrize("target", ROCM_TARGETS)
def test_rocm_targets_run_as_a_user_and_keep_state_on_volumes(target: str) -> None:
    stage = stages()[target]
    user = stage.last("USER").split(":")[0]
    assert user not in {"0", "root"}
    assert "cantata" in stage.last("HEALTHCHECK")
    volumes = set(json.loads(stage.last("VOLUME")))
    env = stage.assignments("ENV")
    assert {"/models", env["MIOPEN_USER_DB_PATH"], env["MIOPEN_CUSTOM_CACHE_DIR"]} <= volumes
    assert env["HF_HUB_OFFLINE"] == "1"
    assert stage.assignments("ARG")["HSA_OVERRIDE_GFX_VERSION"] == ""


def test_strix_halo_installs_qwen3_without_its_declared_requirements() -> None:
    stage = stages()["strix-halo"]
    assert '".[qwen3]"' in stage.run
    assert "pip install --no-cache-dir --no-deps qwen-tts==0.1.1" in stage.run
    assert "import torch, torchaudio, qwen_tts" in stage.run
    env = stage.assignments("ENV")
    assert env["MIOPEN_FIND_MODE"] == "FAST"
    # The runtime sizes the decoder's threads from the CPU quota; a count here would override it.
    assert "OMP_NUM_THREADS" not in env
    # librosa's numba cache needs a writable folder when the root file system is read-only.
    assert env["NUMBA_CACHE_DIR"].startswith("/tmp/")


@pytest.mark.parametrize("target", ROCM_TARGETS)
@pytest.mark.parametrize(
    ("override", "seen"), [("", "<unset>"), (None, "<unset>"), ("11.5.1", "11.5.1")]
)
def test_the_entrypoint_hides_an_empty_gfx_override_and_execs_the_server(
    target: str, override: str | None, seen: str, tmp_path: Path
) -> None:
    """libhsakmt fails HSA's start-up on a set but empty HSA_OVERRIDE_GFX_VERSION; the server
    must be the process the container's signals reach, so that it drains."""
    stub = tmp_path / "cantata"
    stub.write_text('#!/bin/sh\nprintf "%s|" "$$" "${HSA_OVERRIDE_GFX_VERSION-<unset>}" "$@"\n')
    stub.chmod(0o755)
    stage = stages()[target]
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin"}
    if override is not None:
        env["HSA_OVERRIDE_GFX_VERSION"] = override
    command = [*json.loads(stage.last("ENTRYPOINT")), *json.loads(stage.last("CMD"))]
    process = subprocess.Popen(
        [*command, "--config", "/etc/cantata/a b.yaml"], env=env, stdout=subprocess.PIPE, text=True
    )
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 0
    assert out == f"{process.pid}|{seen}|serve|--config|/etc/cantata/a b.yaml|"


@pytest.mark.parametrize("dockerfile", sorted(Path(".").glob("Dockerfile*")), ids=str)
def test_dockerfiles_pass_hadolint(dockerfile: Path) -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run([hadolint, str(dockerfile)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
