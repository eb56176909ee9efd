"""Finds runtimes by name through the `cantata.runtimes` entry points, or by an explicit
`package.module:Factory` path for runtimes that are not packaged."""

import importlib
from importlib.metadata import entry_points
from typing import cast

from runtimes.base import RuntimeFactory
from runtimes.errors import ModelLoadError

ENTRY_POINT_GROUP = "cantata.runtimes"


def available_runtimes() -> list[str]:
    return sorted(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))


def find_runtime(name: str) -> RuntimeFactory:
    """Imports the runtime's module (and so its heavy dependencies) only now."""
    try:
        if ":" in name:
            module_name, _, attribute = name.partition(":")
            return cast(RuntimeFactory, getattr(importlib.import_module(module_name), attribute))
        (entry_point,) = entry_points(group=ENTRY_POINT_GROUP, name=name) or (None,)
    except (ImportError, AttributeError) as error:
        raise ModelLoadError(f"runtime {name!r} cannot be imported: {error}") from error
    if entry_point is None:
        known = ", ".join(available_runtimes()) or "none"
        raise ModelLoadError(f"unknown runtime {name!r}; installed runtimes: {known}")
    try:
        return cast(RuntimeFactory, entry_point.load())
    except ImportError as error:
        raise ModelLoadError(
            f"runtime {name!r} is installed without its dependencies ({error}); "
            f"install the extra: pip install 'cantata[{name}]'"
        ) from error
