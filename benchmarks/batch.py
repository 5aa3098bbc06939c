"""A batch through the daemon: `uv run python -m benchmarks.batch [--lines N] [--delay S]`.

2,000 short lines (model gpt-4o) through the fake upstream answering each after 500 ms, at
64 sends at once: the ideal is 64 / 0.5 = 128 lines a second. Reports the rate against
that ideal, the daemon's CPU per line, and, in a second run killed with SIGKILL a quarter
of the way through, the time from the new daemon's exec to its first line answered after
the resume, and that no line was answered twice. `--baseline BIN` runs another build's
`cortexd` the same way (a build without batches is reported n/a).
"""

from __future__ import annotations

import argparse
import json
import signal
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path

import httpx2

from benchmarks.processes import BIN, Started, cortexd_env, start_upstream, wait_sdks_loaded


def _client(sock: Path) -> httpx2.Client:
    return httpx2.Client(
        transport=httpx2.HTTPTransport(uds=str(sock)), base_url="http://cortexd", timeout=60
    )


def _daemon(
    bin_dir: Path, home: Path, port: int, profile: Path | None = None
) -> tuple[Started, Path]:
    flags = ["--log-level", "warning", "--max-in-flight", "256"]
    command = [str(bin_dir / "cortexd"), *flags]
    env = cortexd_env(home, port)
    if profile is not None:  # the event loop's CPU, profiled between two signals
        command = [str(bin_dir / "python"), "-m", "benchmarks.profiled_daemon", *flags]
        env |= {"CORTEX_BENCH_PROFILE": str(profile), "PYTHONPATH": f"{env['PYTHONPATH']}:."}
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    daemon = Started(process)  # the home is removed by the caller, after the second start
    sock = home / "run" / "cortexd.sock"
    wait_sdks_loaded(daemon, sock)
    return daemon, sock


def _answered(home: Path) -> int:
    with sqlite3.connect(home / "state" / "ledger.sqlite3") as db:
        (n,) = db.execute("SELECT count(*) FROM batch_lines WHERE state = 'answered'").fetchone()
    return int(n)


def _write_input(path: Path, lines: int) -> None:
    path.write_text(
        "".join(
            json.dumps(
                {"id": f"L{i}", "prompt": f"Tag ticket #{i}: printer offline", "model": "gpt-4o"}
            )
            + "\n"
            for i in range(lines)
        )
    )


def measure(
    bin_dir: Path,
    port: int,
    lines: int,
    concurrency: int,
    delay: float,
    profile: Path | None = None,
) -> dict[str, object]:
    """One build: the whole run's rate and CPU, then a killed run's resume."""
    home = Path(tempfile.mkdtemp(prefix="cxbb", dir="/tmp"))
    source, output = home / "in.jsonl", home / "out.jsonl"
    _write_input(source, lines)
    daemon, sock = _daemon(bin_dir, home, port, profile)
    try:
        with _client(sock) as http:
            if profile is not None:
                daemon.process.send_signal(signal.SIGUSR1)
            cpu = daemon.cpu_seconds()
            started = time.perf_counter()
            answer = http.post(
                "/v1/cortex/batches",
                json={"input": str(source), "output": str(output), "concurrency": concurrency},
            )
            if answer.status_code == 404:
                return {"n/a": "this build has no batches"}
            batch_id = answer.json()["id"]
            while http.get(f"/v1/cortex/batches/{batch_id}").json()["state"] == "running":
                time.sleep(0.05)
            wall = time.perf_counter() - started
            cpu_ms = (daemon.cpu_seconds() - cpu) / lines * 1000
            if profile is not None:
                daemon.process.send_signal(signal.SIGUSR2)
                while not profile.exists():
                    time.sleep(0.05)
        ideal = concurrency / delay
        rate = lines / wall
        # The second run, killed a quarter of the way through.
        output2 = home / "out2.jsonl"
        with _client(sock) as http:
            batch2 = http.post(
                "/v1/cortex/batches",
                json={"input": str(source), "output": str(output2), "concurrency": concurrency},
            ).json()["id"]
        while _answered(home) < lines + lines // 4:
            time.sleep(0.02)
        daemon.process.send_signal(signal.SIGKILL)
        daemon.process.wait()
        before = _answered(home)
        exec_at = time.perf_counter()
        daemon, sock = _daemon(bin_dir, home, port)
        while _answered(home) <= before:
            time.sleep(0.005)
        resume_s = time.perf_counter() - exec_at
        with _client(sock) as http:
            while http.get(f"/v1/cortex/batches/{batch2}").json()["state"] == "running":
                time.sleep(0.05)
            resent = http.get(f"/v1/cortex/batches/{batch2}").json()["resent"]
        ids = [json.loads(line)["id"] for line in output2.read_text().splitlines()]
        return {
            "lines": lines,
            "seconds": round(wall, 2),
            "lines_per_s": round(rate, 1),
            "ideal_lines_per_s": round(ideal, 1),
            "share_of_ideal": round(rate / ideal, 3),
            "daemon_cpu_ms_per_line": round(cpu_ms, 2),
            "resume_s_exec_to_first_answer": round(resume_s, 2),
            "resent_after_kill": resent,
            "output_in_order_once": ids == [f"L{i}" for i in range(lines)],
        }
    finally:
        daemon.stop()
        subprocess.run(["rm", "-rf", str(home)], check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=2000)
    parser.add_argument("--delay", type=float, default=0.5, help="the upstream's latency (s)")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--baseline", type=Path, help="another build's bin folder")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--profile", type=Path, help="cProfile the first run's event loop here")
    args = parser.parse_args()
    upstream, port = start_upstream(args.delay)
    try:
        results = {
            "this build": measure(BIN, port, args.lines, args.concurrency, args.delay, args.profile)
        }
        if args.baseline:
            results["baseline"] = measure(
                args.baseline, port, args.lines, args.concurrency, args.delay
            )
    finally:
        upstream.stop()
    for name, figures in results.items():
        print(f"{name}:")
        for key, value in figures.items():
            print(f"  {key}: {value}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
