"""The gRPC server: TextToSpeech, grpc.health.v1 (overall, per service and per model) and
server reflection, on one port."""

import asyncio
import contextlib
import functools
from typing import Any

import grpc
import structlog
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection
from prometheus_client import start_http_server

from cantata.tts.v1 import tts_pb2, tts_pb2_grpc
from server.api.auth import ApiKeyInterceptor, load_api_keys
from server.api.decoding import UndecodableRequests
from server.api.servicer import TextToSpeechServicer, refuse
from server.config import Settings, TlsSettings
from server.engine.engine import Engine
from server.engine.model_host import ModelState
from server.observability import devices
from server.observability.metrics import Metrics

log = structlog.get_logger(__name__)

TTS_SERVICE = tts_pb2.DESCRIPTOR.services_by_name["TextToSpeech"].full_name
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


LIVENESS = "liveness"
"""A health service that is SERVING while the process runs, whatever its models' state."""


def model_health_name(model: str) -> str:
    """The grpc.health.v1 service name that reports one model's readiness."""
    return f"models/{model}"


def server_credentials(tls: TlsSettings) -> grpc.ServerCredentials:
    assert tls.cert_file is not None
    assert tls.key_file is not None
    client_ca = tls.client_ca_file.read_bytes() if tls.client_ca_file else None
    return grpc.ssl_server_credentials(
        [(tls.key_file.read_bytes(), tls.cert_file.read_bytes())],
        root_certificates=client_ca,
        require_client_auth=client_ca is not None,
    )


class CantataServer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = Metrics()
        self.engine = Engine.from_settings(settings, self.metrics)
        self.health = HealthServicer()
        self.port = 0
        self.metrics_port = 0
        self.health_port = 0
        self._health_server: grpc.aio.Server | None = None
        self._api_keys = load_api_keys(settings.auth)
        self._server: grpc.aio.Server | None = None
        self._metrics_server: Any = None
        self._loading: asyncio.Task[None] | None = None

    async def start(self) -> int:
        """Listens at once (health answers NOT_SERVING meanwhile) and loads the models in the
        background. Returns the bound port."""
        message_limit = self.settings.max_message_bytes
        interceptors: list[grpc.aio.ServerInterceptor] = (  # type: ignore[type-arg]
            [ApiKeyInterceptor(self._api_keys, self.settings.auth)] if self._api_keys else []
        )
        interceptors.append(
            UndecodableRequests(f"/{TTS_SERVICE}/", functools.partial(refuse, self.engine))
        )
        server = grpc.aio.server(
            interceptors=interceptors,
            options=[
                ("grpc.max_receive_message_length", message_limit),
                ("grpc.max_send_message_length", message_limit),
            ],
        )
        tts_pb2_grpc.add_TextToSpeechServicer_to_server(TextToSpeechServicer(self.engine), server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        reflection.enable_server_reflection(
            (
                TTS_SERVICE,
                health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                reflection.SERVICE_NAME,
            ),
            server,
        )
        for name in ("", TTS_SERVICE, *map(model_health_name, self.engine.models)):
            await self.health.set(name, NOT_SERVING)
        await self.health.set(LIVENESS, SERVING)
        address = f"{self.settings.host}:{self.settings.port}"
        tls = self.settings.tls
        self.port = (
            server.add_secure_port(address, server_credentials(tls))
            if tls.enabled
            else server.add_insecure_port(address)
        )
        if self.port == 0:
            raise OSError(f"cannot listen on {address}")
        await server.start()
        self._server = server
        await self._start_health_port()
        self._start_metrics()
        log.info(
            "listening",
            address=f"{self.settings.host}:{self.port}",
            tls="mutual" if tls.client_ca_file else "on" if tls.enabled else "off",
            api_keys=bool(self._api_keys),
            metrics_port=self.metrics_port or None,
        )
        self._loading = asyncio.create_task(self._load_models())
        return self.port

    async def _start_health_port(self) -> None:
        if self.settings.health_port is None:
            return
        server = grpc.aio.server()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        address = f"{self.settings.host}:{self.settings.health_port}"
        self.health_port = server.add_insecure_port(address)
        if self.health_port == 0:
            raise OSError(f"cannot listen on {address}")
        await server.start()
        self._health_server = server

    def _start_metrics(self) -> None:
        self.metrics.watch(self.engine.models.values, devices.discover().read)
        config = self.settings.metrics
        if config.enabled:
            self._metrics_server, _ = start_http_server(
                config.port, config.host, registry=self.metrics.registry
            )
            self.metrics_port = self._metrics_server.server_port

    async def _load_models(self) -> None:
        await self.engine.load()
        for name, host in self.engine.models.items():
            ready = host.state is ModelState.READY
            await self.health.set(model_health_name(name), SERVING if ready else NOT_SERVING)
        overall = self.engine.model("").state is ModelState.READY
        for name in ("", TTS_SERVICE):
            await self.health.set(name, SERVING if overall else NOT_SERVING)
        log.info(
            "models_loaded",
            ready=[n for n, h in self.engine.models.items() if h.state is ModelState.READY],
        )

    async def wait_loaded(self) -> None:
        if self._loading is not None:
            await self._loading

    async def stop(self, grace: float = 0.0) -> None:
        """Drains, then stops: health turns NOT_SERVING (and keeps answering, so probes see it),
        new syntheses are refused with UNAVAILABLE, and running ones get up to `grace` seconds to
        finish before the server cancels what is left and unloads the models."""
        log.info("draining", grace_seconds=grace)
        await self.health.enter_graceful_shutdown()
        self.engine.draining = True
        if self._loading is not None:
            self._loading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loading
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        # Worker threads, not coroutines, change `busy`: there is no event to await, so poll.
        while self.engine.busy and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        if self._server is not None:
            # Streams whose audio is all made may still be sending it: they get the rest.
            await self._server.stop(max(0.0, deadline - loop.time()))
        if self._health_server is not None:
            await self._health_server.stop(0)
        await self.engine.close()
        if self._metrics_server is not None:
            self._metrics_server.shutdown()
        log.info("stopped")
