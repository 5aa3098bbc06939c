"""A call waits for its own provider's SDK and no other (issue 24): a real daemon, whose
imports are watched from inside it by an audit hook (``sitecustomize`` on its path), loads
no provider SDK at start, openai's with the first gpt-4o call, anthropic's only when a
Claude model is used; /v1/health says which are loaded and does not load the others, unless
asked to check them all (what ``cortex health`` does). genai-prices is never imported by
the daemon: a child process extracts the entries it needs, and the calls are priced."""

from __future__ import annotations

import sys
from pathlib import Path

from support.daemon import cloud_env, remove_home, short_home, start_daemon
from support.fakes import FakeAnthropic, FakeOpenAI

from cortexd.hardware import NoNvml, load_nvml

SDKS = ("anthropic", "openai", "ollama", "genai_prices")
#: Held for the daemon's life once imported, and of no use to it here: rich (3.9 MiB) to
#: print that the routing file was created or because httpx (ollama's) imports its CLI;
#: pynvml (2.8 MiB) on a machine without NVIDIA's driver.
NEVER = ("rich", "pynvml")

HOOK = """
import os
import sys

_LOG = os.environ["CORTEX_TEST_IMPORT_LOG"]
_WATCHED = {watched!r}


def _audit(event, args):
    if event == "import" and args[0] in _WATCHED:
        with open(_LOG, "a") as log:
            log.write(f"{{os.getpid()}} {{args[0]}}\\n")


sys.addaudithook(_audit)
"""


def nvidia_driver() -> bool:
    """Whether pynvml has its use here: the probe's own test (the note differs off Linux,
    where the rich check alone applies)."""
    return not sys.platform.startswith("linux") or not isinstance(load_nvml(), NoNvml)


def test_a_call_loads_its_own_providers_sdk_and_no_other(tmp_path: Path) -> None:
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(HOOK.format(watched={*SDKS, *NEVER}))
    log = tmp_path / "imports.log"

    def imported(here: bool = True) -> set[str]:
        """What the daemon imported (`here`), or its child processes."""
        lines = log.read_text().splitlines() if log.exists() else []
        pairs = [line.split() for line in lines]
        return {name for pid, name in pairs if (int(pid) == daemon.process.pid) == here}

    home = short_home()
    with FakeAnthropic() as anthropic, FakeOpenAI() as openai:
        env = cloud_env(anthropic, openai) | {
            "PYTHONPATH": str(hook),
            "CORTEX_TEST_IMPORT_LOG": str(log),
        }
        daemon = start_daemon(home, env)
        try:
            client = daemon.client()
            health = client.get("/v1/health").json()
            assert health["sdks_loaded"] == [] and imported() == set()
            untouched = {p["provider"]: p for p in health["providers"]}
            assert untouched["anthropic"]["reachable"] is None
            assert "not used yet" in untouched["anthropic"]["detail"]
            assert [r.path for r in anthropic.requests + openai.requests] == []

            body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
            assert client.post("/v1/chat/completions", json=body).status_code == 200
            assert imported() == {"openai"}
            assert client.get("/v1/health").json()["sdks_loaded"] == ["openai"]

            body["model"] = "sonnet"
            answer = client.post("/v1/chat/completions", json=body)
            assert answer.status_code == 200
            assert float(answer.json()["cortex"]["cost_usd"]) > 0  # priced all the same
            assert imported() == {"openai", "anthropic"}
            # genai-prices' entries came from a child process: never its snapshot here.
            assert imported(here=False) == {"genai_prices"}
            checked = client.get("/v1/health?check=all").json()
            assert {"openai", "anthropic"} <= set(checked["sdks_loaded"])
            assert all(p["reachable"] is not None for p in checked["providers"])
            hardware = client.get("/v1/hardware").json()
            # Not even with ollama's SDK loaded by check=all: httpx's CLI brings rich.
            assert "ollama" in imported() and "rich" not in imported()
            if not nvidia_driver():  # on a machine with the driver, pynvml has its use
                assert "NVML library is not installed" in (hardware["gpu_note"] or "")
                assert "pynvml" not in imported()
        finally:
            daemon.stop()
            remove_home(home)
