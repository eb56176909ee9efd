"""Typed Python client for the Cantata text-to-speech server."""

from cantata_client.aio import AsyncAudioStream, AsyncClient
from cantata_client.client import AudioStream, Client
from cantata_client.errors import (
    CancelledError,
    CantataError,
    DeadlineExceededError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    ResourceExhaustedError,
    UnauthenticatedError,
    UnavailableError,
)
from cantata_client.live import (
    AsyncLiveSession,
    LiveAudio,
    LiveCancelled,
    LiveEvent,
    LiveFlushed,
    LiveMarks,
    LiveSession,
)
from cantata_client.marks import Mark, MarkKind, Timing
from cantata_client.requests import Encoding, Synthesis, build_request

__all__ = [
    "AsyncAudioStream",
    "AsyncClient",
    "AsyncLiveSession",
    "AudioStream",
    "CancelledError",
    "CantataError",
    "Client",
    "DeadlineExceededError",
    "Encoding",
    "InternalError",
    "InvalidArgumentError",
    "LiveAudio",
    "LiveCancelled",
    "LiveEvent",
    "LiveFlushed",
    "LiveMarks",
    "LiveSession",
    "Mark",
    "MarkKind",
    "NotFoundError",
    "ResourceExhaustedError",
    "Synthesis",
    "Timing",
    "UnauthenticatedError",
    "UnavailableError",
    "build_request",
]
