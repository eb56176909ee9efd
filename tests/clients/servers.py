"""The servers every language's client suite runs against, and the environment that tells the
suite where they are:

    CANTATA_TARGET        host:port of a plaintext server with the Piper voice (model "piper")
    CANTATA_METRICS_URL   its Prometheus metrics (cantata_inflight_requests shows work in flight)
    CANTATA_TLS_TARGET    localhost:port of a TLS server that wants an API key
    CANTATA_TLS_CA        the CA file that signed its certificate
    CANTATA_API_KEY       a key it accepts (any other is UNAUTHENTICATED)
    CANTATA_AUDIO_CHECK   a command that prints {"sample_rate", "channels", "seconds"} as JSON for
                          an audio file given as its argument (WAV, Ogg/Opus, MP3, FLAC)

`python -m tests.clients.servers ENV_FILE` starts them, writes the environment to ENV_FILE as
shell exports (`source ENV_FILE`) and serves until interrupted: for running a suite by hand."""

import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from server.config import Settings
from tests.certificates import make_pki
from tests.conftest import PIPER_DETERMINISTIC, start_server

API_KEY = "cantata-client-suite-key"
ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def client_servers() -> Iterator[dict[str, str]]:
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        pki = make_pki(folder)
        keys = folder / "api-keys"
        keys.write_text(API_KEY + "\n")
        plain = start_server(
            Settings.model_validate(
                {"port": 0, "metrics": {"port": 0}, "models": [PIPER_DETERMINISTIC]}
            )
        )
        secure = start_server(
            Settings.model_validate(
                {
                    "port": 0,
                    "metrics": {"enabled": False},
                    "models": [PIPER_DETERMINISTIC],
                    "tls": {
                        "cert_file": str(pki["server"].cert),
                        "key_file": str(pki["server"].key),
                    },
                    "auth": {"api_keys_file": str(keys)},
                }
            )
        )
        try:
            yield {
                "CANTATA_TARGET": plain.target,
                "CANTATA_METRICS_URL": f"http://127.0.0.1:{plain.server.metrics_port}/metrics",
                "CANTATA_TLS_TARGET": f"localhost:{secure.server.port}",
                "CANTATA_TLS_CA": str(pki["ca"].cert),
                "CANTATA_API_KEY": API_KEY,
                "CANTATA_AUDIO_CHECK": f"{sys.executable} {ROOT / 'tests/clients/audio_check.py'}",
            }
        finally:
            secure.stop()
            plain.stop()


def main() -> None:
    with client_servers() as environment:
        exports = "".join(f"export {name}='{value}'\n" for name, value in environment.items())
        Path(sys.argv[1]).write_text(exports)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
