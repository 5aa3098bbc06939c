"""What the router needs to know about a request, independent of any wire format."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Message:
    """One chat message; `content` is its text (non-text parts are not routed on)."""

    role: str
    content: str


@dataclass(frozen=True)
class RouteRequest:
    """A request as the router sees it.

    `model` is what the client asked for: None or ``auto`` (route it), ``task:<type>``,
    an alias or a concrete model id. `task` is a task type the client gave. `client` is
    the calling tool (from the request's cortex object or User-Agent), `author` who wrote
    the code under review (a model or provider name), `local_only` keeps it on the machine.
    """

    messages: Sequence[Message] = field(default_factory=tuple)
    model: str | None = None
    task: str | None = None
    client: str | None = None
    author: str | None = None
    local_only: bool = False
    #: The person's earlier turns, oldest first, where `messages` holds only the latest
    #: (an agent's request): read for a session directive, never classified.
    earlier: Sequence[str] = ()

    @property
    def prompt(self) -> str:
        """The latest user message's text ('' when there is none)."""
        return next((m.content for m in reversed(self.messages) if m.role == "user"), "")
