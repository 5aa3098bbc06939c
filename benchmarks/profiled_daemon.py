"""cortexd with a profiler switched on and off by signal, for benchmarks.passthrough.

`python -m benchmarks.profiled_daemon [cortexd's arguments]` runs the daemon as `cortexd`
would; SIGUSR1 starts cProfile on the main thread (the event loop), SIGUSR2 stops it and
writes the profile to `$CORTEX_BENCH_PROFILE`. Only the measured calls are profiled: not
the start-up, the imports or the warm-up. The clock is the thread's CPU time
(`$CORTEX_BENCH_TIMER=cpu`, the default: waits for the GIL, for the socket, and other
processes on a shared machine are not charged to whatever function was running) or the
wall clock (`wall`).
"""

from __future__ import annotations

import cProfile
import os
import signal
import sys
import time
from types import FrameType


def main() -> int:
    out = os.environ["CORTEX_BENCH_PROFILE"]
    wall = os.environ.get("CORTEX_BENCH_TIMER", "cpu") == "wall"
    profiler = cProfile.Profile() if wall else cProfile.Profile(time.thread_time)

    def start(_signum: int, _frame: FrameType | None) -> None:
        profiler.enable()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        profiler.disable()
        profiler.dump_stats(out + ".part")
        os.replace(out + ".part", out)  # whole or absent: the benchmark waits for it

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
    from cortexd.daemon.main import main as daemon

    return daemon(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
