"""The real coding agents, Claude Code and Codex CLI, run against a local endpoint and nothing else.

Each is installed from npm at a pinned version, once, into a cache outside the repository
(`install`), and run non-interactively in a private network namespace whose only way out is a
bridge to the one server under test (`support.netns`). Their JSON-lines output is parsed into
an `AgentRun`. See the README in shared/agent-clients for what each sends and expects.

Skipped only where node/npm or network namespaces are missing; anything else fails.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import platform
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from support.netns import loopback_bridge, require_unshare

CLAUDE_CODE = ("@anthropic-ai/claude-code", "2.1.197")
CODEX = ("@openai/codex", "0.171.0")

#: One npm install of a client: generous for a cold npm cache on a slow link.
INSTALL_TIMEOUT_S = 600.0
#: What a client's run is allowed by default; a passing run takes a few seconds.
RUN_TIMEOUT_S = 120.0
# After a kill, how long the pipes may take to reach EOF.
_DRAIN_S = 10.0
# The variable that carries Codex's token (its provider's `env_key`).
CODEX_TOKEN_VAR = "CORTEX_TEST_CODEX_TOKEN"
_CODEX_PROVIDER = "cortex-test"

# Claude Code's documented switches for a quiet run: no update check, telemetry, error
# reports or other traffic besides the API calls themselves.
CLAUDE_QUIET_ENV = {
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "DISABLE_BUG_COMMAND": "1",
}
# Node's names for the machine, as the platform packages are named.
_NODE_ARCH = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}


# -- installing ------------------------------------------------------------------------------


def cache_dir() -> Path:
    """Where installed clients are kept between runs: $CORTEX_TEST_CACHE, else under ~/.cache."""
    configured = os.environ.get("CORTEX_TEST_CACHE")
    if configured:
        return Path(configured)
    return Path.home() / ".cache" / "cortexd-tests" / "npm"


def require_node() -> None:
    """Skip the test where node or npm is not installed: the clients are node packages."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"the real agent clients need {' and '.join(missing)}, not installed here")


def install(package: str, version: str) -> Path:
    """The path of `package`@`version`'s command, installed from npm on first use.

    The install goes to a folder of its own in `cache_dir()`, under a file lock because
    pytest-xdist workers may ask at once, and is reused while its command exists.
    """
    require_node()
    dest = cache_dir() / f"{package.lstrip('@').replace('/', '+')}@{version}"
    found = _installed_command(dest, package)
    if found is None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        with _locked(dest.parent / f"{dest.name}.lock"):
            # Another worker may have installed it while this one waited for the lock.
            found = _installed_command(dest, package)
            if found is None:
                _npm_install(package, version, dest)
                found = _installed_command(dest, package)
    if found is None:
        raise AssertionError(f"npm installed {package}@{version} in {dest} but no command")
    _check_platform_package(dest, package)
    return found


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # bounded: the holder's npm has a timeout
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _package_json(dest: Path, package: str) -> dict[str, Any] | None:
    try:
        manifest = json.loads((dest / "node_modules" / package / "package.json").read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def _installed_command(dest: Path, package: str) -> Path | None:
    """The command `package` declares (its only `bin`), when installed in `dest`."""
    manifest = _package_json(dest, package)
    if manifest is None:
        return None
    declared = manifest.get("bin")
    if isinstance(declared, str):
        name = package.rsplit("/", 1)[-1]
    elif isinstance(declared, dict) and len(declared) == 1:
        name = next(iter(declared))
    else:
        raise AssertionError(f"{package} declares no single command: bin = {declared!r}")
    command = dest / "node_modules" / ".bin" / name
    return command if command.exists() else None


def _npm_install(package: str, version: str, dest: Path) -> None:
    # Into a side folder, renamed when complete: a killed install never looks finished.
    partial = dest.with_name(f"{dest.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    command = [
        "npm", "install", "--no-audit", "--no-fund", "--prefix", str(partial),
        f"{package}@{version}",
    ]  # fmt: skip
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_S,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as err:
        raise AssertionError(f"`{' '.join(command)}` took over {INSTALL_TIMEOUT_S} s") from err
    if done.returncode != 0:
        raise AssertionError(f"`{' '.join(command)}` failed ({done.returncode}):\n{done.stderr}")
    shutil.rmtree(dest, ignore_errors=True)  # an earlier install that lost its command
    partial.rename(dest)


def _check_platform_package(dest: Path, package: str) -> None:
    """Fail when npm left out the client's native binary for this machine.

    Both clients ship it as an optional dependency per platform (`@openai/codex-linux-x64`);
    npm skips those silently (``--omit=optional``, a lockfile from another machine).
    """
    manifest = _package_json(dest, package) or {}
    optional = manifest.get("optionalDependencies") or {}
    arch = _NODE_ARCH.get(platform.machine().lower(), platform.machine())
    wanted = [name for name in optional if name.startswith(f"{package}-linux-{arch}")]
    if not wanted:
        return  # a package without per-platform binaries
    if not any((dest / "node_modules" / name).is_dir() for name in wanted):
        raise AssertionError(
            f"npm did not install {package}'s native binary for linux-{arch} "
            f"(one of {wanted}) in {dest}; delete that folder to reinstall"
        )


# -- running ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgentRun:
    """One finished run of a client: what it printed, parsed, and how long it took."""

    returncode: int
    stdout: str
    stderr: str
    events: list[dict[str, Any]]
    answer: str | None  # the final answer's text, None when there was none
    is_error: bool
    errors: list[str]  # the error messages the client reported
    seconds: float

    def describe(self) -> str:
        """The run in a few lines, for an assertion message."""
        return (
            f"exit {self.returncode}, answer {self.answer!r}, errors {self.errors}\n"
            f"stderr: {self.stderr[-2000:]}\nstdout: {self.stdout[-2000:]}"
        )


def run_claude(
    prompt: str,
    *,
    base_url: str,
    api_key: str | None = None,
    auth_token: str | None = None,
    model: str | None = None,
    home: Path,
    extra_env: Mapping[str, str] | None = None,
    timeout: float = RUN_TIMEOUT_S,
    configured: bool = False,
    extra_args: Sequence[str] = (),
) -> AgentRun:
    """`claude -p PROMPT` against `base_url` (no /v1), sending `api_key` as x-api-key or
    `auth_token` as a bearer token; `home` is its scratch HOME (and, below it, its cwd);
    `extra_args` go after the others (``--continue``: the conversation last held there).

    `configured`: neither a credential nor the base URL is given in the environment: the
    ``~/.claude/settings.json`` in `home` supplies them (as `cortex connect` writes it);
    `base_url` only says which server to bridge to."""
    if not configured and (api_key is None) == (auth_token is None):
        raise ValueError("give exactly one of api_key and auth_token")
    require_unshare()  # before the install: no need to fetch a client that cannot run here
    command = install(*CLAUDE_CODE)
    argv = [str(command), "-p", prompt, "--output-format", "stream-json", "--verbose"]
    if model is not None:
        argv += ["--model", model]
    argv += list(extra_args)
    env = dict(CLAUDE_QUIET_ENV)
    if api_key is not None:
        env["ANTHROPIC_API_KEY"] = api_key
    elif auth_token is not None:
        env["ANTHROPIC_AUTH_TOKEN"] = auth_token
    env.update(extra_env or {})
    code, stdout, stderr, seconds = _run_bridged(
        argv,
        base_url,
        lambda url: env if configured else {**env, "ANTHROPIC_BASE_URL": url},
        home,
        timeout,
    )
    events = _json_lines(stdout)
    results = [event for event in events if event.get("type") == "result"]
    final = results[-1] if results else {}
    answer = final.get("result") if isinstance(final.get("result"), str) else None
    is_error = bool(final.get("is_error")) or not results or code != 0
    errors = [answer] if is_error and answer else []
    return AgentRun(code, stdout, stderr, events, answer, is_error, errors, seconds)


def run_codex(
    prompt: str,
    *,
    base_url: str,
    token: str,
    model: str,
    codex_home: Path,
    extra_env: Mapping[str, str] | None = None,
    timeout: float = RUN_TIMEOUT_S,
    configured: str | None = None,
) -> AgentRun:
    """`codex exec PROMPT` against `base_url` (ending /v1) through a Responses provider sending
    `token` as a bearer token; `codex_home` is its scratch CODEX_HOME (and HOME, and cwd).

    `configured` names the variable of the token when `codex_home` already holds the
    config.toml (as `cortex connect` writes it): none is written here."""
    require_unshare()  # before the install: no need to fetch a client that cannot run here
    command = install(*CODEX)
    argv = [str(command), "exec", "--json", "--skip-git-repo-check", prompt]
    variable = configured or CODEX_TOKEN_VAR
    env = {variable: token, "CODEX_HOME": str(codex_home), **(extra_env or {})}

    def configure(url: str) -> dict[str, str]:
        # The config names the bridged URL, known only once the bridge is open.
        if configured is None:
            codex_home.mkdir(parents=True, exist_ok=True)
            (codex_home / "config.toml").write_text(codex_config(url, model))
        return env

    code, stdout, stderr, seconds = _run_bridged(argv, base_url, configure, codex_home, timeout)
    events = _json_lines(stdout)
    messages = [
        item.get("text")
        for event in events
        if event.get("type") == "item.completed"
        and isinstance(item := event.get("item"), dict)
        and item.get("type") == "agent_message"
    ]
    answer = messages[-1] if messages and isinstance(messages[-1], str) else None
    errors = _codex_errors(events)
    return AgentRun(
        code, stdout, stderr, events, answer, bool(errors) or code != 0, errors, seconds
    )


def codex_config(base_url: str, model: str) -> str:
    """Codex's config.toml: one Responses provider at `base_url`, no retries, no update check.

    Retries are off so a failure shows at once rather than after Codex's backoff. Analytics
    are off because Codex flushes its metrics at exit and, with no network, waits about 5 s
    for that to fail.
    """
    return "\n".join(
        [
            f"model = {_toml(model)}",
            f"model_provider = {_toml(_CODEX_PROVIDER)}",
            "check_for_update_on_startup = false",
            "",
            "[analytics]",
            "enabled = false",
            "",
            f"[model_providers.{_CODEX_PROVIDER}]",
            f"name = {_toml(_CODEX_PROVIDER)}",
            f"base_url = {_toml(base_url)}",
            'wire_api = "responses"',
            f"env_key = {_toml(CODEX_TOKEN_VAR)}",
            "request_max_retries = 0",
            "stream_max_retries = 0",
            "",
        ]
    )


def _toml(value: str) -> str:
    # A JSON string is a valid TOML basic string for what is written here (no control chars).
    return json.dumps(value)


def _codex_errors(events: Sequence[dict[str, Any]]) -> list[str]:
    """The messages of Codex's `error` and `turn.failed` events."""
    errors: list[str] = []
    for event in events:
        if event.get("type") == "error":
            errors.append(str(event.get("message")))
        elif event.get("type") == "turn.failed":
            failure = event.get("error")
            errors.append(str(failure.get("message") if isinstance(failure, dict) else failure))
    return errors


def _json_lines(stdout: str) -> list[dict[str, Any]]:
    """The JSON objects among the output's lines; anything else is left in `stdout`."""
    events: list[dict[str, Any]] = []
    for line in stdout.splitlines():
        if not line.startswith("{"):
            continue
        with contextlib.suppress(ValueError):
            parsed = json.loads(line)
            if isinstance(parsed, dict):
                events.append(parsed)
    return events


def _run_bridged(
    argv: Sequence[str],
    base_url: str,
    client_env: Callable[[str], Mapping[str, str]],
    home: Path,
    timeout: float,
) -> tuple[int, str, str, float]:
    """Run `argv` in a namespace bridged to `base_url`'s server.

    `client_env(url)` gives the client's own variables, `url` being `base_url` as seen from
    inside the namespace.
    """
    target = urlsplit(base_url)
    if target.hostname is None or target.port is None:
        raise ValueError(f"base_url needs a host and a port: {base_url}")
    with loopback_bridge(target.hostname, target.port) as bridge:
        inner_url = bridge.url(target.path.rstrip("/"))
        work = home / "work"
        work.mkdir(parents=True, exist_ok=True)
        # A clean environment: the test's own (the canary API keys among it) stays out.
        env = {
            "PATH": os.environ.get("PATH", os.defpath),
            "HOME": str(home),
            "LANG": "C.UTF-8",
            "TERM": "dumb",
            "NO_COLOR": "1",
            **client_env(inner_url),
        }
        return _run(Path(argv[0]).name, bridge.command(argv), env, work, timeout)


def _run(
    name: str, command: Sequence[str], env: Mapping[str, str], cwd: Path, timeout: float
) -> tuple[int, str, str, float]:
    """Run `command` in a process group of its own, killed whole at the end, within `timeout`."""
    started = time.monotonic()
    process = subprocess.Popen(
        command,
        env=dict(env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        encoding="utf-8",
        errors="replace",
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process.pid)
        stdout, stderr = process.communicate(timeout=_DRAIN_S)
        raise AssertionError(
            f"{name} ran over {timeout} s and was killed\n"
            f"stderr: {stderr[-2000:]}\nstdout: {stdout[-2000:]}"
        ) from None
    finally:
        _kill_group(process.pid)  # whatever the client left running (the relay, helpers)
    return process.returncode, stdout, stderr, time.monotonic() - started


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
