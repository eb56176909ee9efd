"""Generates the protobuf and gRPC modules (with .pyi stubs) from ../../protos at build time."""

import shutil
import sys
from pathlib import Path

from setuptools import setup

HERE = Path(__file__).resolve().parent
PROTO_ROOT = HERE.parent.parent / "protos"
OUT = HERE / "src"


def generate() -> None:
    from grpc_tools import protoc

    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))
    if not protos:
        raise SystemExit(f"no .proto files under {PROTO_ROOT}")
    plugin_dir = Path(sys.executable).parent
    plugins = []
    for name in ("protoc-gen-mypy", "protoc-gen-mypy_grpc"):
        path = shutil.which(name) or str(plugin_dir / name)
        plugins.append(f"--plugin={name}={path}")
    args = [
        "protoc",
        f"-I{PROTO_ROOT}",
        f"-I{Path(protoc.__file__).parent / '_proto'}",
        f"--python_out={OUT}",
        f"--grpc_python_out={OUT}",
        f"--mypy_out={OUT}",
        f"--mypy_grpc_out={OUT}",
        *plugins,
        *protos,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    for proto in protos:
        package = OUT / Path(proto).parent
        while package != OUT:
            (package / "__init__.py").touch()
            package = package.parent
    (OUT / "cantata" / "py.typed").touch()


# Before setup(), so that package discovery sees the generated packages.
generate()
setup()
