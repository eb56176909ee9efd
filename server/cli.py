"""`cantata serve` (and `python -m server`): settings from file, environment and flags."""

import argparse
import asyncio
import signal
import sys
from pathlib import Path
from typing import Any

from server.config import ConfigError, Settings, load_settings

_FLAG_FIELDS = ("host", "port", "default_model", "log_format", "log_level")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="YAML settings file (or CANTATA_CONFIG)")
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default 50051)")
    parser.add_argument("--default-model", help="model for requests that name none")
    parser.add_argument("--log-format", choices=["auto", "json", "console"])
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    parser.set_defaults(handler=serve)


def add_serve_command(commands: Any) -> None:
    """Registered as the `serve` sub-command of the `cantata` command line."""
    add_arguments(commands.add_parser("serve", help="run the text-to-speech server"))


def serve(args: argparse.Namespace) -> int:
    from server.observability.logging import configure_logging

    flags = {name: getattr(args, name) for name in _FLAG_FIELDS}
    try:
        settings = load_settings(args.config, flags)
    except ConfigError as error:
        print(f"cantata: {error}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format, settings.log_level)
    return asyncio.run(_run(settings))


async def _run(settings: Settings) -> int:
    from server.api.server import CantataServer

    try:
        server = CantataServer(settings)
        await server.start()
    except (ConfigError, OSError) as error:
        print(f"cantata: {error}", file=sys.stderr)
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await server.stop(settings.drain_grace_seconds)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m server", description=__doc__)
    add_arguments(parser)
    return serve(parser.parse_args())
