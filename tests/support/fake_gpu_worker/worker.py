"""A stand-in for the llama.cpp worker process on a machine with a GPU that fails: it speaks
the worker's JSON-lines protocol, says its build can offload, and aborts (as a CUDA
assertion does) when a model is loaded with any layer on the GPU. On the CPU it loads."""

from __future__ import annotations

import json
import os
import sys


def main() -> None:
    def out(event: dict[str, object]) -> None:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()

    out({"id": None, "event": "ready", "pid": os.getpid(), "gpu_offload": True})
    for line in sys.stdin:
        request = json.loads(line)
        rid = request.get("id")
        if request.get("op") == "ping":
            out({"id": rid, "event": "pong", "loaded": []})
        elif request.get("op") == "load":
            out({"id": rid, "event": "loading"})
            layers = request["load"].get("n_gpu_layers", 0)
            if layers:
                sys.stderr.write("ggml-cuda.cu:123: CUDA error: out of memory\n")
                sys.stderr.flush()
                os.abort()
            out({"id": rid, "event": "loaded", "gpu_layers": 0, "seconds": 0.01})
        out({"id": rid, "event": "done"})


if __name__ == "__main__":
    main()
