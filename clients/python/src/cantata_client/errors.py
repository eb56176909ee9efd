"""Typed exceptions for gRPC status codes the server answers with."""

import grpc


class CantataError(Exception):
    """A call failed; `code` is the gRPC status, `details` the server's message."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details


class InvalidArgumentError(CantataError):
    pass


class NotFoundError(CantataError):
    pass


class ResourceExhaustedError(CantataError):
    pass


class UnavailableError(CantataError):
    pass


class DeadlineExceededError(CantataError):
    pass


class UnauthenticatedError(CantataError):
    pass


class CancelledError(CantataError):
    pass


class InternalError(CantataError):
    pass


_BY_CODE: dict[grpc.StatusCode, type[CantataError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
    grpc.StatusCode.CANCELLED: CancelledError,
    grpc.StatusCode.INTERNAL: InternalError,
}


def from_rpc_error(error: grpc.RpcError) -> CantataError:
    code: grpc.StatusCode = error.code()
    details: str = error.details() or ""
    return _BY_CODE.get(code, CantataError)(code, details)
