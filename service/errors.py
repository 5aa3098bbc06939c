"""The service installer's error: a message that says what to do."""

from __future__ import annotations

from cortexd.errors import CortexError


class ServiceError(CortexError):
    """Installing, removing or inspecting the service failed, or cannot be done here."""
