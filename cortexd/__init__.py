"""cortexd."""


def __getattr__(name: str) -> str:
    # The version is read from the installed metadata on first use: importlib.metadata takes
    # 40 ms to import, which `cortex --help` should not pay.
    if name != "__version__":
        raise AttributeError(f"module 'cortexd' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cortexd")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0+unknown"
