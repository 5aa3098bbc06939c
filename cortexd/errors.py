"""The base of cortexd's own errors, alone in a module so that any part can import it cheaply.

The CLI and the client library need it without loading the routing package (about 200 ms).
"""

from __future__ import annotations


class CortexError(Exception):
    """Base of every error cortexd raises on purpose; the message is for the user."""
