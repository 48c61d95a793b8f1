"""The relay's exception family."""

from __future__ import annotations

from ..core.errors import NapopsError


class RelayError(NapopsError):
    """Base of every error the relay raises on purpose."""


class PayloadError(RelayError):
    """A webhook body is not a valid Alertmanager v4 payload; ``str(exc)`` says why."""


class ChannelError(RelayError):
    """A delivery attempt failed; ``str(exc)`` is a short reason fit for a chat message."""


class OutboxFull(RelayError):
    """The outbox holds ``max_items`` undelivered notifications; the caller should retry."""


class NoChannel(RelayError):
    """None of the channels a notification should go to is configured (answered 503)."""
