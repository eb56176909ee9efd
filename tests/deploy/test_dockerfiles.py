"""The images, with no Docker daemon: every Dockerfile linted by hadolint, and what the ROCm
targets and the Jetson image promise an operator read from the instructions themselves; the
entrypoint and the Jetson build's rewrite of pyproject.toml are run."""

import ast
import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

ROCM = Path("Dockerfile.rocm")
JETSON = Path("Dockerfile.jetson")
JETSON_CONSTRAINTS = Path("runtimes/tensorrt/constraints-jetson.txt")
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
def stages(dockerfile: Path = ROCM) -> dict[str, Stage]:
    """A Dockerfile's stages by name ("" for an unnamed one), each base image with the global ARG
    defaults filled in."""
    global_args: dict[str, str] = {}
    found: list[tuple[str, str, list[tuple[str, str]]]] = []
    for keyword, args in instructions(dockerfile):
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


def jetson() -> Stage:
    (stage,) = stages(JETSON).values()
    return stage


def jetson_run(marker: str) -> str:
    """The one RUN instruction of Dockerfile.jetson that contains `marker`."""
    (run,) = [r for r in jetson().all("RUN") if marker in r]
    return run


def test_jetson_builds_on_jetpack_6_2() -> None:
    # L4T r36.4 is JetPack 6.2: CUDA 12.6, TensorRT 10.3, Python 3.10.
    assert jetson().base == "nvcr.io/nvidia/l4t-jetpack:r36.4.0"


def test_jetson_takes_torch_and_onnxruntime_gpu_from_the_jetson_index_and_keeps_them() -> None:
    stage = jetson()
    args = stage.assignments("ARG")
    assert args["JETSON_PIP_INDEX"] == "https://pypi.jetson-ai-lab.io/jp6/cu126"
    gpu = jetson_run("--index-url")
    assert '--index-url "${JETSON_PIP_INDEX}"' in gpu
    assert '"torch==${TORCH_VERSION}" "onnxruntime-gpu==${ONNXRUNTIME_GPU_VERSION}"' in gpu
    assert "torch.version.cuda" in gpu
    assert "TensorrtExecutionProvider" in gpu
    assert "CUDAExecutionProvider" in gpu
    # Recorded as installed, then a constraint of the server's install, and compared after it.
    assert "> /tmp/jetson-gpu.txt" in gpu
    server = jetson_run('".[tensorrt]"')
    assert "-c /tmp/jetson-gpu.txt" in server
    assert "diff /tmp/jetson-gpu.txt -" in server
    # PyPI's CPU onnxruntime would overwrite the Jetson build's module.
    assert "! pip list --format=freeze | grep -iE '^onnxruntime=='" in server
    for run in (gpu, server):
        assert f"-c {JETSON_CONSTRAINTS}" in run


def test_jetson_environment_sees_the_images_tensorrt_and_trtexec() -> None:
    stage = jetson()
    assert "python3 -m venv --system-site-packages /opt/cantata" in stage.run
    path = stage.assignments("ENV")["PATH"].split(":")
    assert path[0] == "/opt/cantata/bin"
    assert "/usr/src/tensorrt/bin" in path
    checks = jetson_run("import tensorrt")
    assert "command -v trtexec" in checks
    assert "'tensorrt' in e(group='cantata.runtimes').names" in checks
    assert "cantata tensorrt --help" in checks


def test_jetson_image_runs_as_a_user_and_keeps_engines_and_models_on_volumes() -> None:
    stage = jetson()
    assert stage.last("USER").split(":")[0] not in {"0", "root"}
    assert "--groups video,render" in stage.run
    assert set(json.loads(stage.last("VOLUME"))) == {"/var/cache/cantata/engines", "/models"}
    assert "chown cantata:cantata /var/cache/cantata/engines" in stage.run
    healthcheck = stage.last("HEALTHCHECK")
    assert healthcheck.endswith('CMD ["cantata", "health"]')
    # Until the first load has built the engines the server is not SERVING.
    start_period = re.search(r"--start-period=(\d+)s", healthcheck)
    assert start_period, healthcheck
    assert int(start_period[1]) >= 1800
    assert json.loads(stage.last("ENTRYPOINT")) == ["cantata"]
    assert json.loads(stage.last("CMD")) == ["serve"]
    assert set(stage.last("EXPOSE").split()) == {"50051", "9464"}
    env = stage.assignments("ENV")
    assert env["CANTATA_HOST"] == "0.0.0.0"
    assert env["HF_HUB_OFFLINE"] == "1"
    # Environment variables win over --config: a model list here would replace every config's.
    assert not any(name.startswith("CANTATA_MODELS") for name in env)
    assert "CANTATA_DEFAULT_MODEL" not in env


def test_jetson_image_never_holds_engines() -> None:
    """An engine only runs on the TensorRT version and GPU that built it: the device builds them
    into the engine volume on first load."""
    stage = jetson()
    for source in stage.all("COPY"):
        assert not re.search(r"\.(engine|plan|trt)\b", source), source
    assert "--saveEngine" not in stage.run
    assert "tensorrt build" not in stage.run
    assert "tensorrt export" not in stage.run


def requirement_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match, requirement
    return re.sub(r"[-_.]+", "-", match[0]).lower()


def jetson_pins() -> dict[str, str]:
    pins = {}
    for line in JETSON_CONSTRAINTS.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            assert re.fullmatch(r"[A-Za-z0-9.]+", version), line
            pins[requirement_name(name)] = version
    return pins


def test_jetson_constraints_pin_every_dependency_of_the_image() -> None:
    """Every version in the Jetson image is chosen on purpose, for cp310 aarch64: the pins of
    pyproject.toml do not hold there."""
    project = tomllib.loads(Path("pyproject.toml").read_text())["project"]
    client = tomllib.loads(Path("clients/python/pyproject.toml").read_text())["project"]
    needed = {
        requirement_name(r)
        for r in project["dependencies"]
        + project["optional-dependencies"]["tensorrt"]
        + client["dependencies"]
    }
    from_the_jetson_index = {"torch", "onnxruntime"}  # onnxruntime: onnxruntime-gpu stands in
    missing = needed - from_the_jetson_index - {"cantata-client"} - jetson_pins().keys()
    assert not missing, f"pin these in {JETSON_CONSTRAINTS} (a cp310 aarch64 wheel): {missing}"
    assert not from_the_jetson_index & jetson_pins().keys()
    # TensorRT's Python bindings come with JetPack; a tensorrt requirement would fetch PyPI's.
    assert "tensorrt" not in needed


def jetson_rewrite() -> list[str]:
    """The sed command with which Dockerfile.jetson rewrites its copies of pyproject.toml, with its
    whitespace as Docker passes it (instructions() collapses runs of spaces)."""
    text = JETSON.read_text().replace("\\\n", "")
    (line,) = [line for line in text.splitlines() if "requires-python" in line and "sed " in line]
    (command,) = [c.strip() for c in line.split(" && ") if c.strip().startswith("RUN sed ")]
    return shlex.split(command.removeprefix("RUN "))


def test_the_jetson_build_rewrites_only_the_pins_python_and_onnxruntime(tmp_path: Path) -> None:
    """The image installs from copies of pyproject.toml with the exact dependency pins dropped
    (the constraints decide), requires-python lowered to the image's 3.10, and onnxruntime read
    as the Jetson index's onnxruntime-gpu; nothing else may change."""
    command = jetson_rewrite()
    files = [Path(a) for a in command if a.endswith("pyproject.toml")]
    assert files == [Path("pyproject.toml"), Path("clients/python/pyproject.toml")]
    for file in files:
        (tmp_path / file).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(file, tmp_path / file)
    subprocess.run(command, cwd=tmp_path, check=True)

    def rewritten(requirements: list[str]) -> list[str]:
        out = []
        for requirement in requirements:
            name = requirement_name(requirement)
            if "==" in requirement:
                requirement = requirement.split("==")[0]
            out.append(
                requirement.replace("onnxruntime", "onnxruntime-gpu", 1)
                if name == "onnxruntime"
                else requirement
            )
        return out

    for file in files:
        before: dict[str, Any] = tomllib.loads(file.read_text())
        after: dict[str, Any] = tomllib.loads((tmp_path / file).read_text())
        assert after["project"]["requires-python"] == ">=3.10"
        expected = json.loads(json.dumps(before))
        expected["project"]["requires-python"] = ">=3.10"
        expected["project"]["dependencies"] = rewritten(before["project"]["dependencies"])
        for extra, requirements in before["project"].get("optional-dependencies", {}).items():
            expected["project"]["optional-dependencies"][extra] = rewritten(requirements)
        assert after == expected
        # The build's own requirements (grpcio-tools for the client's generated code) stay pinned.
        assert after["build-system"] == before["build-system"]
    tensorrt = tomllib.loads((tmp_path / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]["tensorrt"]
    assert "onnxruntime-gpu" in tensorrt
    assert "onnxruntime" not in tensorrt
    assert not [r for r in tensorrt if "==" in r]


def names_missing_from_python_3_10(python: str) -> list[str]:
    """`import M`, `from M import N` and `M.N` of standard-library modules, in the code the Jetson
    image runs, that Python 3.10's standard library does not have."""
    import ast

    sources = [
        *Path("server").rglob("*.py"),
        *Path("runtimes").rglob("*.py"),
        *Path("clients/python/src/cantata_client").rglob("*.py"),
    ]
    used: set[tuple[str, str, str]] = set()
    for source in sources:
        if "torchaudio_standin" in source.parts:
            continue  # not installed in the Jetson image
        tree = ast.parse(source.read_text(), str(source))
        aliases: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    aliases[alias.asname or alias.name] = alias.name
                    used.add((alias.name, "", f"{source}:{node.lineno}"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    used.add((node.module, alias.name, f"{source}:{node.lineno}"))
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                module = aliases.get(node.value.id)
                if module:
                    used.add((module, node.attr, f"{source}:{node.lineno}"))
    stdlib = sorted(
        {(m, n, where) for m, n, where in used if m.split(".")[0] in sys.stdlib_module_names}
    )
    probe = """
import importlib, importlib.util, json, sys

def has(module, name):
    try:
        found = importlib.import_module(module)
    except ImportError:
        return False
    if not name or hasattr(found, name):
        return True
    try:  # a submodule, such as importlib.util
        return importlib.util.find_spec(f"{module}.{name}") is not None
    except ImportError:
        return False

missing = [
    f"{where}: {module}{'.' if name else ''}{name}"
    for module, name, where in json.load(sys.stdin)
    if not has(module, name)
]
print(json.dumps(missing))
"""
    result = subprocess.run(
        [python, "-I", "-c", probe], input=json.dumps(stdlib), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout))


def python_3_10() -> str:
    for candidate in ("python3.10", str(Path.home() / ".pyenv/versions/3.10.13/bin/python")):
        found = shutil.which(candidate)
        if found:
            version = subprocess.run(
                [found, "-c", "import sys; print(sys.version_info[:2] == (3, 10))"],
                capture_output=True,
                text=True,
            )
            if version.stdout.strip() == "True":
                return found
    pytest.skip("no Python 3.10 here")


def jetson_sources() -> list[str]:
    return [
        str(p)
        for d in ("server", "runtimes", "clients/python/src/cantata_client")
        for p in Path(d).rglob("*.py")
        if "torchaudio_standin" not in p.parts
    ]


def test_the_jetson_images_code_uses_only_python_3_10s_grammar() -> None:
    """Runs everywhere (CI has no Python 3.10): this interpreter's parser, held to 3.10's
    grammar as far as ast's feature_version goes; the tests below use a real 3.10 where there
    is one."""
    for path in jetson_sources():
        ast.parse(Path(path).read_text(), path, feature_version=(3, 10))


def test_the_jetson_images_code_parses_as_python_3_10() -> None:
    python = python_3_10()
    sources = jetson_sources()
    check = "import ast, sys\nfor path in sys.argv[1:]:\n    ast.parse(open(path).read(), path)\n"
    result = subprocess.run([python, "-I", "-c", check, *sources], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_jetson_images_code_uses_only_python_3_10s_standard_library() -> None:
    assert names_missing_from_python_3_10(python_3_10()) == []


@pytest.mark.parametrize("dockerfile", sorted(Path(".").glob("Dockerfile*")), ids=str)
def test_dockerfiles_pass_hadolint(dockerfile: Path) -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run([hadolint, str(dockerfile)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
