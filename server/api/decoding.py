"""Request bytes that do not parse as the method's message (random bytes, a string that is not
UTF-8) are a client's mistake: INVALID_ARGUMENT with a plain message, counted and logged like
every other refusal, instead of gRPC's UNKNOWN naming protobuf's DecodeError."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from server.errors import InvalidArgument

Context = grpc.aio.ServicerContext[Any, Any]
Refuse = Callable[[Context, str, InvalidArgument], Awaitable[None]]
"""Answers the call (rpc name) with the error; see servicer.refuse."""


@dataclass(frozen=True)
class Undecodable:
    """What the deserializer hands on in place of a message it could not parse."""

    message_type: str

    def error(self) -> InvalidArgument:
        return InvalidArgument(
            f"the request is not a valid {self.message_type}: its bytes do not parse "
            "(is every string UTF-8?)"
        )


class UndecodableRequests(grpc.aio.ServerInterceptor):  # type: ignore[type-arg]
    """Wraps the handlers of the methods under `prefix` (one service)."""

    def __init__(self, prefix: str, refuse: Refuse) -> None:
        self._prefix = prefix
        self._refuse = refuse

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any]]
        ],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any]:
        handler = await continuation(details)
        method: str = details.method
        if handler is None or not method.startswith(self._prefix):
            return handler
        return self._guarded(handler, method.rsplit("/", 1)[-1])

    def _guarded(
        self, handler: grpc.RpcMethodHandler[Any, Any], rpc: str
    ) -> grpc.RpcMethodHandler[Any, Any]:
        # The stubs type handlers for the sync server; these are the aio server's coroutines.
        parse: Any = handler.request_deserializer
        message_type = parse.__self__.DESCRIPTOR.full_name  # a message class's FromString

        def deserialize(data: bytes) -> Any:
            try:
                return parse(data)
            except DecodeError:
                return Undecodable(message_type)

        if handler.request_streaming and not handler.response_streaming:
            return handler  # the service has no client-streaming method with a unary answer
        refuse = self._refuse
        options = {
            "request_deserializer": deserialize,
            "response_serializer": handler.response_serializer,
        }
        if handler.request_streaming:
            behavior: Any = handler.stream_stream

            async def checked(requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
                async for request in requests:
                    if isinstance(request, Undecodable):
                        raise request.error()
                    yield request

            async def stream_stream(requests: AsyncIterator[Any], context: Context) -> Any:
                async for response in behavior(checked(requests), context):
                    yield response

            return grpc.stream_stream_rpc_method_handler(stream_stream, **options)
        if handler.response_streaming:
            streaming: Any = handler.unary_stream

            async def unary_stream(request: Any, context: Context) -> Any:
                if isinstance(request, Undecodable):
                    await refuse(context, rpc, request.error())
                    return
                async for response in streaming(request, context):
                    yield response

            return grpc.unary_stream_rpc_method_handler(unary_stream, **options)
        unary: Any = handler.unary_unary

        async def unary_unary(request: Any, context: Context) -> Any:
            if isinstance(request, Undecodable):
                await refuse(context, rpc, request.error())
                return None
            return await unary(request, context)

        return grpc.unary_unary_rpc_method_handler(unary_unary, **options)
