"""API keys: `authorization: Bearer <key>` metadata, compared in constant time. Keys come from
a file or an environment variable and are never logged."""

from __future__ import annotations

import hmac
import os
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import structlog

from server.config import AuthSettings, ConfigError

log = structlog.get_logger(__name__)

HEALTH_PREFIX = "/grpc.health.v1.Health/"
REFLECTION_PREFIXES = (
    "/grpc.reflection.v1alpha.ServerReflection/",
    "/grpc.reflection.v1.ServerReflection/",
)


def load_api_keys(settings: AuthSettings) -> list[bytes]:
    keys: list[str] = []
    if settings.api_keys_file is not None:
        try:
            lines = settings.api_keys_file.read_text(encoding="utf-8").splitlines()
        except OSError as error:
            raise ConfigError(f"cannot read auth.api_keys_file: {error}") from error
        keys += [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    if settings.api_keys_env is not None:
        value = os.environ.get(settings.api_keys_env)
        if value is None:
            raise ConfigError(f"auth.api_keys_env names {settings.api_keys_env}, which is unset")
        keys += [key.strip() for key in value.split(",") if key.strip()]
    configured = settings.api_keys_file is not None or settings.api_keys_env is not None
    if configured and not keys:
        raise ConfigError("API keys are configured but none were found")
    return [key.encode() for key in keys]


class ApiKeyInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    def __init__(self, keys: list[bytes], settings: AuthSettings) -> None:
        self._keys = keys
        self._open: tuple[str, ...] = (HEALTH_PREFIX,) if settings.open_health else ()
        if settings.open_reflection:
            self._open += REFLECTION_PREFIXES

    def _authorized(self, metadata: tuple[tuple[str, str | bytes], ...]) -> bool:
        presented = b""
        for key, value in metadata:
            if key == "authorization":
                text = value.decode() if isinstance(value, bytes) else value
                scheme, _, token = text.partition(" ")
                if scheme.lower() == "bearer":
                    presented = token.strip().encode()
        # Compare against every key, so the time taken says nothing about which one is close.
        matches = [hmac.compare_digest(presented, key) for key in self._keys]
        return bool(presented) and any(matches)

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any]]
        ],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any]:
        handler = await continuation(details)
        method: str = details.method
        if handler is None or method.startswith(self._open):
            return handler
        if self._authorized(details.invocation_metadata or ()):
            return handler
        log.info("unauthenticated", rpc=method)
        return _refusal(handler)


def _refusal(handler: grpc.RpcMethodHandler[Any, Any]) -> grpc.RpcMethodHandler[Any, Any]:
    """A handler of the same shape as `handler` that answers UNAUTHENTICATED."""

    async def refuse(_: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, "a valid API key is required")

    make = {
        (False, False): grpc.unary_unary_rpc_method_handler,
        (False, True): grpc.unary_stream_rpc_method_handler,
        (True, False): grpc.stream_unary_rpc_method_handler,
        (True, True): grpc.stream_stream_rpc_method_handler,
    }[(handler.request_streaming, handler.response_streaming)]
    return make(
        refuse,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )
