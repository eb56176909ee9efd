"""The one error hierarchy. Everything Cantata raises on purpose derives from CantataError;
server.api.status maps each class to a gRPC status code."""


class CantataError(Exception):
    """Base of every error Cantata raises on purpose."""


class InvalidArgument(CantataError):
    """The request is malformed; the message names the field."""


class NotFound(CantataError):
    """The request names a model, voice or speaker that does not exist."""


class ResourceExhausted(CantataError):
    """Out of capacity (slots, queue, device memory); retrying later may succeed."""

    def __init__(self, message: str, retry_after_seconds: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class Unavailable(CantataError):
    """The model is not loaded yet, has failed, or the server is draining."""


class DeadlineExceeded(CantataError):
    """The request's deadline passed before its audio was finished."""


class ModelLoadError(CantataError):
    """A model could not be loaded; it is marked not ready."""


class DeviceError(CantataError):
    """The device failed (not a bad request); the model is marked not ready."""
