"""Runtimes import nothing from the server: the errors they raise belong to the runtime API, and
the server's hierarchy is built on the very same classes."""

import ast
import inspect
from pathlib import Path

import pytest

import runtimes
import runtimes.errors
import server.errors
from server.api.status import STATUS_CODES

RUNTIMES_DIR = Path(runtimes.__file__).parent


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
    return modules


def _error_classes(module: object) -> dict[str, type[Exception]]:
    return {
        name: value
        for name, value in vars(module).items()
        if inspect.isclass(value) and issubclass(value, runtimes.errors.CantataError)
    }


@pytest.mark.parametrize(
    "path",
    sorted(RUNTIMES_DIR.rglob("*.py")),
    ids=lambda path: str(path.relative_to(RUNTIMES_DIR)),
)
def test_no_runtime_module_imports_the_server(path: Path) -> None:
    offending = {m for m in _imported_modules(path) if m == "server" or m.startswith("server.")}
    assert not offending, f"{path} imports {sorted(offending)}"


def test_the_import_check_sees_server_imports(tmp_path: Path) -> None:
    module = tmp_path / "module.py"
    module.write_text("import server.errors\nfrom server import errors\n", encoding="utf-8")
    assert _imported_modules(module) == {"server.errors", "server"}


def test_server_errors_are_the_runtime_errors() -> None:
    runtime_errors = _error_classes(runtimes.errors)
    assert {"CantataError", "InvalidArgument", "NotFound", "ResourceExhausted"} <= set(
        runtime_errors
    )
    assert {"ModelLoadError", "DeviceError"} <= set(runtime_errors)
    for name, cls in runtime_errors.items():
        assert getattr(server.errors, name) is cls


def test_server_only_errors_share_the_base_and_every_error_has_a_status() -> None:
    server_errors = _error_classes(server.errors)
    assert {"Unavailable", "DeadlineExceeded"} <= set(server_errors) - set(
        _error_classes(runtimes.errors)
    )
    for name, cls in server_errors.items():
        assert issubclass(cls, runtimes.errors.CantataError)
        if cls is not server.errors.CantataError:
            assert cls in STATUS_CODES, f"{name} has no status code"
    assert server.errors.ResourceExhausted("busy", retry_after_seconds=2.0).retry_after_seconds == 2
