"""TLS, mutual TLS and API keys, on real servers with the real Piper voice."""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from cantata.tts.v1 import tts_pb2, tts_pb2_grpc
from cantata_client import Client, UnauthenticatedError, UnavailableError
from server.config import Settings
from tests.certificates import Pem, make_pki
from tests.conftest import RunningServer, start_server

KEYS = ("first-key-0123456789", "second-key-9876543210")
PIPER = {"name": "piper", "runtime": "piper", "options": {"threads": 1}}


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Pem]:
    return make_pki(tmp_path_factory.mktemp("pki"))


def tls_settings(pki: dict[str, Pem], **extra: object) -> Settings:
    auth = extra.pop("auth", {})
    tls = {"cert_file": str(pki["server"].cert), "key_file": str(pki["server"].key), **extra}
    return Settings.model_validate(
        {"port": 0, "metrics": {"port": 0}, "models": [PIPER], "tls": tls, "auth": auth}
    )


@pytest.fixture(scope="module")
def tls_server(
    pki: dict[str, Pem], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """TLS, with one key from a file and one from the environment."""
    keys_file = tmp_path_factory.mktemp("keys") / "api-keys"
    keys_file.write_text(f"# operators' keys\n{KEYS[0]}\n\n")
    auth = {"api_keys_file": str(keys_file), "api_keys_env": "CANTATA_TEST_KEYS"}
    with pytest.MonkeyPatch.context() as env:
        env.setenv("CANTATA_TEST_KEYS", KEYS[1])
        running = start_server(tls_settings(pki, auth=auth))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def mtls_server(pki: dict[str, Pem]) -> Iterator[RunningServer]:
    running = start_server(tls_settings(pki, client_ca_file=str(pki["ca"].cert)))
    yield running
    running.stop()


def credentials(pki: dict[str, Pem], with_client_cert: bool = False) -> grpc.ChannelCredentials:
    client = pki["client"]
    return grpc.ssl_channel_credentials(
        root_certificates=pki["ca"].cert.read_bytes(),
        private_key=client.key.read_bytes() if with_client_cert else None,
        certificate_chain=client.cert.read_bytes() if with_client_cert else None,
    )


def bearer(key: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {key}"),)


@pytest.mark.parametrize("key", KEYS)
def test_a_valid_key_over_tls_works(
    tls_server: RunningServer, pki: dict[str, Pem], key: str
) -> None:
    with Client(
        tls_server.target, credentials=credentials(pki), metadata=bearer(key), timeout=30
    ) as client:
        assert client.synthesize("Secure hello.").stats.audio_seconds > 0.3
        assert b"".join(client.stream("Secure stream."))
        assert client.voices()


@pytest.mark.parametrize(
    "metadata", [(), bearer("wrong-key"), (("authorization", KEYS[0]),), bearer(KEYS[0][:-1])]
)
def test_a_missing_or_wrong_key_is_unauthenticated(
    tls_server: RunningServer, pki: dict[str, Pem], metadata: tuple[tuple[str, str], ...]
) -> None:
    with Client(
        tls_server.target, credentials=credentials(pki), metadata=metadata, timeout=30
    ) as client:
        with pytest.raises(UnauthenticatedError, match="API key"):
            client.synthesize("Let me in.")
        with pytest.raises(UnauthenticatedError):
            list(client.stream("Let me in."))


def test_health_stays_open_and_reflection_does_not(
    tls_server: RunningServer, pki: dict[str, Pem]
) -> None:
    with grpc.secure_channel(tls_server.target, credentials(pki)) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        response = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
        assert response.status == health_pb2.HealthCheckResponse.SERVING
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        with pytest.raises(grpc.RpcError) as caught:
            list(reflection.ServerReflectionInfo(iter([request]), timeout=10))
        assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED


def test_a_plaintext_client_cannot_talk_to_a_tls_server(tls_server: RunningServer) -> None:
    with (
        Client(tls_server.target, metadata=bearer(KEYS[0]), timeout=5) as client,
        pytest.raises(UnavailableError),
    ):
        client.synthesize("Plain.")


def test_keys_never_reach_the_logs(
    tls_server: RunningServer, pki: dict[str, Pem], capsys: pytest.CaptureFixture[str]
) -> None:
    with (
        Client(
            tls_server.target,
            credentials=credentials(pki),
            metadata=bearer("guess-1234"),
            timeout=30,
        ) as client,
        pytest.raises(UnauthenticatedError),
    ):
        client.synthesize("Hello.")
    output = capsys.readouterr()
    assert "unauthenticated" in output.out + output.err
    assert not any(key in output.out + output.err for key in (*KEYS, "guess-1234"))


def test_mutual_tls_needs_a_client_certificate(
    mtls_server: RunningServer, pki: dict[str, Pem]
) -> None:
    with Client(
        mtls_server.target, credentials=credentials(pki, with_client_cert=True), timeout=30
    ) as client:
        assert client.synthesize("Mutual.").stats.audio_seconds > 0.3
    with (
        Client(mtls_server.target, credentials=credentials(pki), timeout=5) as client,
        pytest.raises(UnavailableError),
    ):
        client.synthesize("No certificate.")


def test_bad_key_settings_fail_at_start_up(tmp_path: Path) -> None:
    from server.api.auth import load_api_keys
    from server.config import AuthSettings, ConfigError

    with pytest.raises(ConfigError, match="unset"):
        load_api_keys(AuthSettings(api_keys_env="CANTATA_NO_SUCH_VARIABLE"))
    empty = tmp_path / "keys"
    empty.write_text("# nothing here\n")
    with pytest.raises(ConfigError, match="none were found"):
        load_api_keys(AuthSettings(api_keys_file=empty))


def test_probes_reach_health_in_plaintext_beside_a_tls_port(pki: dict[str, Pem]) -> None:
    settings = tls_settings(pki).model_copy(update={"health_port": 0})
    running = start_server(settings)
    try:
        target = f"127.0.0.1:{running.server.health_port}"
        with grpc.insecure_channel(target) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            for service in ("", "liveness", "models/piper"):
                response = health.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
                assert response.status == health_pb2.HealthCheckResponse.SERVING
            # Only health is there: the speech service stays behind TLS.
            with pytest.raises(grpc.RpcError) as caught:
                tts_pb2_grpc.TextToSpeechStub(channel).ListVoices(
                    tts_pb2.ListVoicesRequest(), timeout=10
                )
            assert caught.value.code() is grpc.StatusCode.UNIMPLEMENTED
    finally:
        running.stop()


def test_the_client_takes_a_ca_file_and_an_api_key(
    tls_server: RunningServer, pki: dict[str, Pem]
) -> None:
    ca = pki["ca"].cert
    with Client(tls_server.target, tls_ca=ca, api_key=KEYS[0], timeout=30) as client:
        assert client.synthesize("Keyed hello.").stats.audio_seconds > 0.3
    with (
        Client(tls_server.target, tls_ca=ca, api_key="wrong-key", timeout=30) as client,
        pytest.raises(UnauthenticatedError),
    ):
        client.voices()


def test_the_cli_takes_a_ca_file_and_an_api_key_or_the_environment(
    tls_server: RunningServer, pki: dict[str, Pem], tmp_path: Path
) -> None:
    cantata = Path(sys.executable).parent / "cantata"
    common = ["--server", tls_server.target, "--tls-ca", str(pki["ca"].cert)]

    def run(*args: str, key: str | None = None) -> subprocess.CompletedProcess[str]:
        environment = {k: v for k, v in os.environ.items() if k != "CANTATA_API_KEY"}
        if key is not None:
            environment["CANTATA_API_KEY"] = key
        command = [str(cantata), *args]
        return subprocess.run(command, capture_output=True, text=True, env=environment, timeout=60)

    out = tmp_path / "keyed.wav"
    said = run("say", "Keyed.", "-o", str(out), *common, "--api-key", KEYS[0])
    assert said.returncode == 0, said.stderr
    assert out.stat().st_size > 44
    listed = run("voices", *common, key=KEYS[1])
    assert listed.returncode == 0, listed.stderr
    assert "piper/" in listed.stdout
    refused = run("voices", *common, key="wrong-key")
    assert refused.returncode == 1
    assert "API key" in refused.stderr
