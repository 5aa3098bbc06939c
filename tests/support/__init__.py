"""Helpers shared by the tests (importable as ``support`` once ``tests`` is on the path)."""
