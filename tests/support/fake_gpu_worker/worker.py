"""A stand-in for the llama.cpp worker process on a machine with a GPU that is short of
memory: it speaks the worker's JSON-lines protocol, says its build can offload, and aborts (as
a CUDA assertion does) when a model is loaded with more layers on the GPU than fit.

How many fit comes from the first argument (default 0: none, every GPU load aborts). Asked
for all layers (-1), it aborts unless all fit (-1). On the CPU it always loads. With a second
argument ``late`` every load succeeds, and a chat with too many layers aborts after its first
chunk instead (as CUDA does when a later batch's buffers do not fit).
"""

from __future__ import annotations

import json
import os
import sys


def main() -> None:
    fits = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    late = sys.argv[2:] == ["late"]

    def out(event: dict[str, object]) -> None:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()

    out({"id": None, "event": "ready", "pid": os.getpid(), "gpu_offload": True})
    for line in sys.stdin:
        request = json.loads(line)
        rid = request.get("id")
        if request.get("op") == "ping":
            out({"id": rid, "event": "pong", "loaded": []})
        elif request.get("op") in ("load", "chat"):
            out({"id": rid, "event": "loading"})
            layers = int(request["load"].get("n_gpu_layers", 0))
            too_many = bool(layers) and (layers > fits >= 0 if layers >= 0 else fits != -1)
            if too_many and not late:
                _abort(layers)
            out({"id": rid, "event": "loaded", "gpu_layers": layers, "seconds": 0.01})
            if request["op"] == "chat":
                out({"id": rid, "event": "chunk", "data": _chunk({"role": "assistant"}, None)})
                if too_many:
                    _abort(layers)
                out({"id": rid, "event": "chunk", "data": _chunk({"content": "ok"}, "stop")})
                usage = {"prompt_tokens": 3, "completion_tokens": 1}
                out({"id": rid, "event": "usage", "usage": usage})
        out({"id": rid, "event": "done"})


def _abort(layers: int) -> None:
    sys.stderr.write(f"ggml-cuda.cu:123: CUDA error: out of memory ({layers} layers)\n")
    sys.stderr.flush()
    os.abort()


def _chunk(delta: dict[str, object], finish: str | None) -> dict[str, object]:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m",
            "choices": [choice]}  # fmt: skip


if __name__ == "__main__":
    main()
