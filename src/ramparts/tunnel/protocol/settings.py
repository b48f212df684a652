"""Receive-side settings each end announces in REGISTER / REGISTERED (TCP mux only)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .errors import ErrorCode, TunnelProtocolError, TunnelUsageError
from .limits import (
    DEFAULT_CONNECTION_WINDOW,
    DEFAULT_MAX_CONCURRENT_STREAMS,
    DEFAULT_STREAM_WINDOW,
    MAX_CONCURRENT_STREAMS_LIMIT,
    MAX_WINDOW,
    MIN_WINDOW,
)

_SETTINGS = struct.Struct(">III")
SETTINGS_SIZE = _SETTINGS.size


@dataclass(frozen=True, slots=True)
class Settings:
    """What the announcing side is willing to receive."""

    stream_window: int = DEFAULT_STREAM_WINDOW
    connection_window: int = DEFAULT_CONNECTION_WINDOW
    max_concurrent_streams: int = DEFAULT_MAX_CONCURRENT_STREAMS

    def problem(self) -> str | None:
        """Why these settings are out of bounds, or None."""
        for name in ("stream_window", "connection_window"):
            value = getattr(self, name)
            if not MIN_WINDOW <= value <= MAX_WINDOW:
                return f"{name} {value} outside [{MIN_WINDOW}, {MAX_WINDOW}]"
        if not 1 <= self.max_concurrent_streams <= MAX_CONCURRENT_STREAMS_LIMIT:
            return f"max_concurrent_streams {self.max_concurrent_streams} out of bounds"
        return None

    def checked(self) -> Settings:
        """Return self, or raise TunnelUsageError for local settings out of bounds."""
        problem = self.problem()
        if problem:
            raise TunnelUsageError(problem)
        return self


def encode_settings(settings: Settings) -> bytes:
    return _SETTINGS.pack(
        settings.stream_window, settings.connection_window, settings.max_concurrent_streams
    )


def decode_settings(payload: bytes | memoryview) -> Settings:
    """Parse and bound-check the peer's settings (first SETTINGS_SIZE bytes of payload)."""
    if len(payload) < SETTINGS_SIZE:
        raise TunnelProtocolError(ErrorCode.PROTOCOL_ERROR, "truncated settings")
    settings = Settings(*_SETTINGS.unpack_from(payload))
    problem = settings.problem()
    if problem:
        raise TunnelProtocolError(ErrorCode.PROTOCOL_ERROR, problem)
    return settings
