"""The one error hierarchy. Everything Cantata raises on purpose derives from CantataError;
server.api.status maps each class to a gRPC status code. The errors a runtime may raise belong
to the runtime API (runtimes.errors) and are the same classes here; the rest are the server's."""

from runtimes.errors import (
    CantataError,
    DeviceError,
    InvalidArgument,
    ModelLoadError,
    NotFound,
    ResourceExhausted,
)

__all__ = [
    "CantataError",
    "DeadlineExceeded",
    "DeviceError",
    "InvalidArgument",
    "ModelLoadError",
    "NotFound",
    "ResourceExhausted",
    "Unavailable",
]


class Unavailable(CantataError):
    """The model is not loaded yet, has failed, or the server is draining."""


class DeadlineExceeded(CantataError):
    """The request's deadline passed before its audio was finished."""
