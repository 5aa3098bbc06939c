"""The HTTP API: OpenAI-compatible endpoints and cortexd's own, over the daemon's socket."""
