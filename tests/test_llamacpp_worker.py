"""The worker's request loop in this process, with llama.cpp's constructor replaced by a
loader that fails the way a GPU does when memory runs short (no GPU here to run out of)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from cortexd.routing.providers.llamacpp_worker import Worker, gpu_ladder


class _Model:
    def __init__(self, layers: int) -> None:
        self.layers = layers
        self.closed = False

    def close(self) -> None:
        self.closed = True


class GpuWithRoomFor:
    """Loads a model only when at most `room` layers are asked of the GPU (-1: all 32)."""

    def __init__(self, room: int) -> None:
        self.room = room
        self.asked: list[int] = []
        self.options: list[dict[str, Any]] = []

    def __call__(self, path: str, *, embedding: bool, **options: Any) -> _Model:
        layers = options["n_gpu_layers"]
        self.asked.append(layers)
        self.options.append(options)
        if (32 if layers < 0 else layers) > self.room:
            raise ValueError("Failed to load model from file: cudaMalloc failed: out of memory")
        return _Model(layers)


def serve(load: GpuWithRoomFor, *requests: dict[str, Any]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    worker = Worker(events.append, load, idle_s=60)
    for request in requests:
        worker.requests.put(request)
    worker.requests.put(None)
    thread = threading.Thread(target=worker.run)
    thread.start()
    thread.join(10)
    return events


def load_request(layers: int, rid: int = 1) -> dict[str, Any]:
    return {"id": rid, "op": "load", "model_path": "/m.gguf", "load": {"n_gpu_layers": layers}}


@pytest.mark.parametrize(
    ("asked", "room", "tried", "used"),
    [
        (32, 32, [32], 32),  # fits: loaded as asked
        (32, 20, [32, 16], 16),  # half fits
        (32, 8, [32, 16, 0], 0),  # only the CPU is left
        (-1, 0, [-1, 0], 0),  # "all layers" that do not fit: straight to the CPU
        (0, 0, [0], 0),  # the CPU was asked: nothing to step down from
    ],
)
def test_a_load_that_fails_on_the_gpu_steps_down_to_fewer_layers_then_the_cpu(
    asked: int, room: int, tried: list[int], used: int
) -> None:
    load = GpuWithRoomFor(room)
    events = serve(load, load_request(asked))
    assert load.asked == tried
    loaded = next(e for e in events if e["event"] == "loaded")
    assert loaded["gpu_layers"] == used and loaded["seconds"] >= 0
    assert len(loaded.get("tried", [])) == len(tried) - 1
    assert all("out of memory" in t for t in loaded.get("tried", []))
    assert events[-1] == {"id": 1, "event": "done"}


def test_the_cpu_after_a_gpu_failure_keeps_the_kv_cache_and_batches_off_the_card() -> None:
    load = GpuWithRoomFor(8)
    serve(load, load_request(32))
    assert load.options[0] == {"n_gpu_layers": 32}
    assert load.options[-1] == {"n_gpu_layers": 0, "offload_kqv": False, "op_offload": False}
    asked_for_the_cpu = GpuWithRoomFor(0)
    serve(asked_for_the_cpu, load_request(0))  # no failure: llama.cpp's own defaults stand
    assert asked_for_the_cpu.options == [{"n_gpu_layers": 0}]


def test_a_load_that_fails_everywhere_is_a_load_error() -> None:
    class Broken(GpuWithRoomFor):
        def __call__(self, path: str, *, embedding: bool, **options: Any) -> _Model:
            self.asked.append(options["n_gpu_layers"])
            raise ValueError("Failed to load model from file")

    load = Broken(0)
    events = serve(load, load_request(8))
    assert load.asked == [8, 4, 0]
    assert events[-1] == {
        "id": 1,
        "event": "error",
        "kind": "load",
        "message": "Failed to load model from file",
    }


def test_a_model_pushed_out_of_memory_is_announced() -> None:
    load = GpuWithRoomFor(64)
    requests = [{**load_request(1, rid), "model_path": f"/m{rid}.gguf"} for rid in (1, 2, 3)]
    events = serve(load, *requests)
    # Two models fit at once: the third pushes the least recently used one out.
    assert {"id": None, "event": "unloaded", "path": "/m1.gguf"} in events


def test_the_ladder() -> None:
    assert gpu_ladder(33) == [33, 16, 0]
    assert gpu_ladder(2) == [2, 1, 0]
