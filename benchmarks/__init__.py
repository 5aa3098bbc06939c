"""Benchmarks, each runnable with `uv run python -m benchmarks.<name>`."""
