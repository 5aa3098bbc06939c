"""Take most of a GPU's memory with plain allocations, as another program on the machine
would: `python -m benchmarks.gpu_hog --leave BYTES [--gpu N]`.

It talks to the driver itself (libcuda through ctypes: cuInit, cuCtxCreate, cuMemAlloc), so it
needs no CUDA toolkit and no Python package. It allocates in 256 MiB pieces, then smaller ones,
until about `--leave` bytes are free, prints one JSON line (`{"held": …, "free": …}`), and holds
the memory until its stdin closes.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import sys

MIB = 1024**2
PIECES = (256 * MIB, 32 * MIB, 4 * MIB)


class CudaError(RuntimeError):
    """A driver call failed."""


def _driver() -> ctypes.CDLL:
    try:
        return ctypes.CDLL("libcuda.so.1")
    except OSError as error:
        raise CudaError(f"no NVIDIA driver library (libcuda.so.1): {error}") from None


def _check(name: str, status: int) -> None:
    if status != 0:
        raise CudaError(f"{name} failed with CUresult {status}")


def hold(leave: int, gpu: int = 0) -> tuple[int, int]:
    """Allocate on GPU `gpu` until about `leave` bytes are free; (bytes held, bytes free).
    The allocations live as long as this process."""
    cuda = _driver()
    _check("cuInit", cuda.cuInit(0))
    device = ctypes.c_int()
    _check("cuDeviceGet", cuda.cuDeviceGet(ctypes.byref(device), gpu))
    context = ctypes.c_void_p()
    _check("cuCtxCreate", cuda.cuCtxCreate_v2(ctypes.byref(context), 0, device))
    free, total = ctypes.c_size_t(), ctypes.c_size_t()
    held = 0
    for piece in PIECES:
        while True:
            _check("cuMemGetInfo", cuda.cuMemGetInfo_v2(ctypes.byref(free), ctypes.byref(total)))
            if free.value - piece < leave:
                break
            pointer = ctypes.c_uint64()
            if cuda.cuMemAlloc_v2(ctypes.byref(pointer), ctypes.c_size_t(piece)) != 0:
                break
            held += piece
    _check("cuMemGetInfo", cuda.cuMemGetInfo_v2(ctypes.byref(free), ctypes.byref(total)))
    return held, free.value


def main(argv: list[str] | None = None) -> int:
    """Hold the memory until stdin closes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leave", type=int, required=True, help="bytes to leave free")
    parser.add_argument("--gpu", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        held, free = hold(args.leave, args.gpu)
    except CudaError as error:
        print(json.dumps({"error": str(error)}), flush=True)
        return 1
    print(json.dumps({"held": held, "free": free}), flush=True)
    sys.stdin.read()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
