"""The errors a runtime may raise, and the base of Cantata's one error hierarchy. The server
builds its own errors on CantataError and maps every class to a status code
(server.api.status)."""


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


class ModelLoadError(CantataError):
    """A model could not be loaded; it is marked not ready."""


class DeviceError(CantataError):
    """The device failed (not a bad request); the model is marked not ready."""
