"""The llama.cpp worker process from outside: the environment it is given, and how it ended.

The environment is an allow-list, so no secret reaches a process that reads untrusted model
files. A death is read two ways: a crash (a fatal signal) blames the file, or the GPU when
layers were on it; any other death is the worker's, and the next call starts a fresh one.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Mapping

_KEEP = frozenset(
    {"PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TMPDIR", "TZ", "LD_LIBRARY_PATH",
     "DYLD_LIBRARY_PATH", "VIRTUAL_ENV", "SYSTEMROOT", "XDG_CACHE_HOME", "XDG_RUNTIME_DIR"}
)  # fmt: skip
_KEEP_PREFIXES = (
    "LC_",
    "PYTHON",
    "CUDA_",
    "GGML_",
    "LLAMA_",
    "OMP_",
    "OPENBLAS_",
    "MKL_",
    "HIP_",
    "ROCR_",
    "NVIDIA_",
)


def worker_environment(env: Mapping[str, str], idle_unload_s: float) -> dict[str, str]:
    """The worker's environment: only what running Python and llama.cpp needs.

    An allow-list, not a deny-list: keys, proxy credentials, tokens in URLs never reach a
    process that reads untrusted model files and needs no network.

    >>> env = {"ANTHROPIC_API_KEY": "x", "HOME": "/h", "HTTPS_PROXY": "http://u:p@h"}
    >>> sorted(worker_environment(env, 60))
    ['CORTEX_LLAMACPP_IDLE_S', 'GGML_NO_BACKTRACE', 'HOME']
    """
    clean = {k: v for k, v in env.items() if k in _KEEP or k.startswith(_KEEP_PREFIXES)}
    clean["CORTEX_LLAMACPP_IDLE_S"] = str(idle_unload_s)
    # On an abort ggml attaches gdb to print a backtrace: seconds lost, and noise in the log.
    clean["GGML_NO_BACKTRACE"] = "1"
    return clean


def describe_exit(code: int | None) -> str:
    """A process's end in words.

    >>> describe_exit(-6)
    'killed by SIGABRT'
    >>> describe_exit(134)
    'exit code 134 (SIGABRT)'
    """
    if code is None:
        return "still running"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
        return f"killed by signal {-code}"
    if code > 128:
        with contextlib.suppress(ValueError):
            return f"exit code {code} ({signal.Signals(code - 128).name})"
    return f"exit code {code}"


#: Deaths that mean llama.cpp broke. SIGKILL is not among them: it is what the kernel's
#: out-of-memory killer sends, and a good file may load once memory is free.
_CRASH_SIGNALS = frozenset(
    {signal.SIGABRT, signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE}
)


def crashed(code: int | None) -> bool:
    """Whether an exit status is a crash (a fatal signal, or 128 + one from a shell).

    >>> crashed(-6), crashed(134), crashed(-9), crashed(137), crashed(1)
    (True, True, False, False, False)
    """
    if code is None:
        return False
    number = -code if code < 0 else code - 128 if code > 128 else 0
    return number in {int(s) for s in _CRASH_SIGNALS}
