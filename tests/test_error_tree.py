"""One error tree, drawn once (cortexd/errors.py): the drawing is the classes' real tree.

Every module of the package is imported and every exception class defined in it is found;
each must be a `CortexError`, drawn under its real parent, and nothing drawn may be missing.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import cortexd
from cortexd.errors import CortexError

#: Modules whose import starts something or needs a platform they do not run on here.
SKIP = ("cortexd.routing.providers.llamacpp_worker",)
PACKAGES = ("routing", "hardware", "service", "context")


def defined_exceptions() -> dict[str, type[BaseException]]:
    """Every exception class defined in a cortexd module, by name."""
    found: dict[str, type[BaseException]] = {}
    # The folders install under one name (setuptools' package-dir), so each is walked.
    roots = [importlib.import_module(f"cortexd.{p}") for p in PACKAGES]
    infos = [
        info
        for root in (cortexd, *roots)
        for info in pkgutil.walk_packages(root.__path__, root.__name__ + ".")
    ]
    for info in infos:
        if info.name in SKIP:
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == info.name
            ):
                found[name] = value
    return found


def drawn() -> dict[str, str]:
    """Each class in the drawing → its parent there."""
    doc = cortexd.errors.__doc__ or ""
    parents: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for line in doc.splitlines():
        root = re.fullmatch(r"\s+(CortexError)", line)
        node = re.match(r"(\s+[│ ]*)[├└]── (\w+)", line)
        if root:
            stack = [(-1, "CortexError")]
        elif node:
            depth = len(node.group(1))
            while stack and stack[-1][0] >= depth:
                stack.pop()
            parents[node.group(2)] = stack[-1][1]
            stack.append((depth, node.group(2)))
    return parents


def test_every_exception_class_is_a_cortex_error() -> None:
    outside = sorted(
        f"{cls.__module__}.{name}"
        for name, cls in defined_exceptions().items()
        if not issubclass(cls, CortexError)
    )
    assert outside == []


def test_the_drawing_is_the_real_tree() -> None:
    classes = defined_exceptions()
    real = {
        name: next(b for b in cls.__mro__[1:] if issubclass(b, CortexError)).__name__
        for name, cls in classes.items()
        if issubclass(cls, CortexError) and cls is not CortexError
    }
    assert drawn() == real


def test_the_drawing_is_read_as_a_tree() -> None:
    # The reader itself: a grandchild's parent is its parent, not the root.
    parents = drawn()
    assert parents["AmbiguousModelError"] == "UnknownModelError"
    assert parents["TooLargeError"] == "RefusedError"
    assert parents["ModelLoadError"] == "ModelUnavailableError"
    assert parents["DaemonError"] == "CortexError"
