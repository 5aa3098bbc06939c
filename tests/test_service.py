"""``cortex service``: the rendered systemd unit, socket and launchd plist, and install,
uninstall and status run through the real CLI against a temporary home, with
``systemctl`` and ``launchctl`` replaced by fake programs first on PATH (the process
boundary): they log their argv and answer as each test tells them."""

from __future__ import annotations

import doctest
import os
import plistlib
import shutil
import stat
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

import cortexd.service.render as render_module
from cortexd.cli import main
from cortexd.context.keys import KEY_FILE_CREDENTIAL
from cortexd.service import (
    KEY_FILE_TEXT,
    MARKER,
    Layout,
    Platform,
    ServiceError,
    ServiceSpec,
    launchd_plist,
    systemd_socket,
    systemd_unit,
)

DAEMON = Path(sys.executable).parent / "cortexd"

FAKE_TOOL = """#!/bin/sh
# A stand-in for a service manager's command: logs its argv, fails when told to.
name=$(basename "$0")
{ printf '%s' "$name"; for a in "$@"; do printf ' %s' "$a"; done; printf '\\n'; } \
    >> "$FAKE_DIR/calls"
for word in "$@"; do
    if [ -f "$FAKE_DIR/fail-$name-$word" ]; then
        cat "$FAKE_DIR/fail-$name-$word" >&2
        exit "$(cat "$FAKE_DIR/rc-$name-$word")"
    fi
done
if [ -f "$FAKE_DIR/out-$name" ]; then cat "$FAKE_DIR/out-$name"; fi
exit 0
"""


def spec(tmp_path: Path, **changes: object) -> ServiceSpec:
    base = ServiceSpec(
        daemon=DAEMON,
        key_file=tmp_path / "config" / "keys.env",
        socket=Path("/run/user/1000/cortex/cortexd.sock"),
        log_file=tmp_path / "Logs" / "cortexd.log",
        runtime_dir=Path("/run/user/1000"),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Rendering


@pytest.mark.parametrize(
    "line",
    [
        "Type=notify",
        "NotifyAccess=main",
        f"ExecStart={DAEMON}",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Restart=on-failure",
        "WatchdogSec=30s",
        "TimeoutStopSec=30s",
        "KillMode=mixed",
        "UMask=0077",
        "NoNewPrivileges=yes",
        "LockPersonality=yes",
        "RestrictRealtime=yes",
        "RestrictSUIDSGID=yes",
        "SystemCallArchitectures=native",
        "SystemCallFilter=@system-service",
        "WantedBy=default.target",
    ],
)
def test_the_unit_has_each_line_that_matters(tmp_path: Path, line: str) -> None:
    assert line in systemd_unit(spec(tmp_path)).splitlines()


def test_the_unit_passes_the_key_file_as_a_credential_the_daemon_reads(tmp_path: Path) -> None:
    unit = systemd_unit(spec(tmp_path))
    expected = f"LoadCredential={KEY_FILE_CREDENTIAL}:{tmp_path / 'config' / 'keys.env'}"
    assert expected in unit.splitlines()
    assert "API_KEY" not in unit.replace("#ANTHROPIC", "")  # no key in the environment
    assert "Environment=" not in unit  # nothing set, nothing passed
    assert unit.startswith(f"# {MARKER}\n")


def test_the_unit_avoids_options_that_need_user_namespaces(tmp_path: Path) -> None:
    settings = [
        line for line in systemd_unit(spec(tmp_path)).splitlines() if not line.startswith("#")
    ]
    for option in ("ProtectSystem=", "ProtectHome=", "PrivateTmp=", "PrivateUsers="):
        assert not any(line.startswith(option) for line in settings), option


def test_socket_activation_ties_the_service_to_its_socket(tmp_path: Path) -> None:
    activated = spec(tmp_path, socket_activated=True)
    unit = systemd_unit(activated).splitlines()
    assert {"Requires=cortexd.socket", "After=cortexd.socket", "Also=cortexd.socket"} <= set(unit)
    # Started at login all the same: its scheduled jobs must not wait for a first client.
    assert "WantedBy=default.target" in unit
    socket = systemd_socket(activated).splitlines()
    assert "ListenStream=%t/cortex/cortexd.sock" in socket
    assert {"SocketMode=0600", "DirectoryMode=0700", "WantedBy=sockets.target"} <= set(socket)


def test_paths_with_spaces_percent_and_dollar_are_escaped(tmp_path: Path) -> None:
    odd = spec(
        tmp_path,
        daemon=Path("/opt/my $tools/100%/cortexd"),
        key_file=Path("/home/me/50% off/keys.env"),
        socket=Path("/srv/a b/cortexd.sock"),
        environment={"CORTEX_HOME": "/home/me/my cortex 100%"},
    )
    unit = systemd_unit(odd).splitlines()
    assert 'ExecStart="/opt/my $tools/100%%/cortexd"' in unit
    assert "LoadCredential=keys.env:/home/me/50%% off/keys.env" in unit
    assert 'Environment="CORTEX_HOME=/home/me/my cortex 100%%"' in unit
    assert "ListenStream=/srv/a b/cortexd.sock" in systemd_socket(odd).splitlines()


def test_a_newline_in_a_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ServiceError, match="control character"):
        systemd_unit(spec(tmp_path, daemon=Path("/opt/x\n[Service]\nExecStart=/bin/evil")))


def test_the_credential_name_is_the_one_the_daemon_reads() -> None:
    assert KEY_FILE_CREDENTIAL == "keys.env"


def test_render_doctests() -> None:
    result = doctest.testmod(render_module)
    assert result.attempted > 0 and result.failed == 0


def _verify(folder: Path, *names: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_RUNTIME_DIR": str(folder)}
    return subprocess.run(
        ["systemd-analyze", "--user", "verify", *(str(folder / n) for n in names)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


needs_systemd_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)


@needs_systemd_analyze
@pytest.mark.parametrize("socket_activated", [False, True])
def test_systemd_analyze_verifies_the_rendered_units(
    tmp_path: Path, socket_activated: bool
) -> None:
    units = tmp_path / "units"
    units.mkdir()
    rendered = spec(tmp_path, socket_activated=socket_activated, runtime_dir=tmp_path)
    (units / "cortexd.service").write_text(systemd_unit(rendered))
    names = ["cortexd.service"]
    if socket_activated:
        (units / "cortexd.socket").write_text(systemd_socket(rendered))
        names.append("cortexd.socket")
    done = _verify(units, *names)
    # Warnings (an unknown key, a setting in the wrong section) count as failures too.
    assert (done.returncode, done.stderr, done.stdout) == (0, "", "")


@needs_systemd_analyze
def test_systemd_analyze_finds_the_daemon_at_an_awkward_path(tmp_path: Path) -> None:
    # verify checks that ExecStart names an executable: the quoting must keep it one word.
    folder = tmp_path / "my tools 100% $HOME"
    folder.mkdir()
    daemon = folder / "cortexd"
    daemon.write_text("#!/bin/sh\n")
    daemon.chmod(0o755)
    units = tmp_path / "units"
    units.mkdir()
    rendered = spec(tmp_path, daemon=daemon, environment={"CORTEX_HOME": str(folder)})
    (units / "cortexd.service").write_text(systemd_unit(rendered))
    done = _verify(units, "cortexd.service")
    assert (done.returncode, done.stderr) == (0, "")
    daemon.unlink()  # and it does look: without the file, verify fails
    assert _verify(units, "cortexd.service").returncode != 0


def test_the_plist_parses_and_says_what_launchd_needs(tmp_path: Path) -> None:
    text = launchd_plist(spec(tmp_path))
    agent = plistlib.loads(text.encode())
    assert agent["Label"] == "dev.cortexd"
    assert agent["ProgramArguments"] == [str(DAEMON)]
    assert agent["RunAtLoad"] is True
    assert agent["KeepAlive"] == {"SuccessfulExit": False}
    assert (
        agent["StandardOutPath"]
        == agent["StandardErrorPath"]
        == str(tmp_path / "Logs" / "cortexd.log")
    )
    assert agent["Umask"] == 0o077
    assert "EnvironmentVariables" not in agent
    assert f"<!-- {MARKER} -->" in text


def test_the_plist_escapes_xml_and_passes_cortex_home(tmp_path: Path) -> None:
    odd = spec(tmp_path, daemon=Path("/opt/a&b <c>/cortexd"), environment={"CORTEX_HOME": "/x&y"})
    agent = plistlib.loads(launchd_plist(odd).encode())
    assert agent["ProgramArguments"] == ["/opt/a&b <c>/cortexd"]
    assert agent["EnvironmentVariables"] == {"CORTEX_HOME": "/x&y"}


# ---------------------------------------------------------------------------------------------
# The CLI against a temporary home, the managers faked at the process boundary


class Fakes:
    """The fake ``systemctl`` and ``launchctl``: what they were asked, how they answer."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def calls(self) -> list[str]:
        log = self.folder / "calls"
        return log.read_text().splitlines() if log.exists() else []

    def fail(self, tool: str, word: str, message: str, code: int = 1) -> None:
        (self.folder / f"fail-{tool}-{word}").write_text(message + "\n")
        (self.folder / f"rc-{tool}-{word}").write_text(f"{code}\n")

    def answer(self, tool: str, stdout: str) -> None:
        (self.folder / f"out-{tool}").write_text(stdout)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary HOME with nothing of cortexd's in it, and no variable that moves files."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    for name in (
        "XDG_CONFIG_HOME",
        "XDG_DATA_HOME",
        "XDG_STATE_HOME",
        "CORTEX_HOME",
        "CORTEX_SOCKET",
        "CORTEX_KEY_FILE",
        "CORTEX_ROUTING_FILE",
        "OLLAMA_HOST",
        "ANTHROPIC_BASE_URL",
        "OPENAI_BASE_URL",
        "ANTHROPIC_API_KEY",
        "OPENAI_API_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def fakes(tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> Fakes:
    """`systemctl` and `launchctl` first on PATH (and the real ones, if any, not at all)."""
    bin_dir = tmp_path / "fake-bin"
    state = tmp_path / "fake-state"
    bin_dir.mkdir()
    state.mkdir()
    for tool in ("systemctl", "launchctl"):
        (bin_dir / tool).write_text(FAKE_TOOL)
        (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setenv("FAKE_DIR", str(state))
    return Fakes(state)


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def unit_dir(home: Path) -> Path:
    return home / ".config" / "systemd" / "user"


def test_dry_run_prints_the_unit_and_writes_nothing(
    home: Path, fakes: Fakes, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["service", "install", "--dry-run", "--platform", "linux"]) == 0
    out = capsys.readouterr().out
    assert f"==> {unit_dir(home) / 'cortexd.service'} (mode 644) <==" in out
    assert f"==> {home / '.config' / 'cortex' / 'keys.env'} (mode 600, only if missing) <==" in out
    # Exactly the text install would write, then the commands.
    layout = Layout.resolve(
        os.environ, Platform.LINUX, executable=Path(sys.executable), uid=os.getuid()
    )
    for item in layout.files():
        assert f"<==\n{item.text}" in out
    assert (
        "  systemctl --user daemon-reload\n  systemctl --user enable --now cortexd.service" in out
    )
    assert files_under(home) == [] and fakes.calls() == []


def test_dry_run_on_macos_prints_a_plist_that_parses(
    home: Path, fakes: Fakes, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["service", "install", "--dry-run", "--platform", "macos"]) == 0
    out = capsys.readouterr().out
    plist_path = home / "Library" / "LaunchAgents" / "dev.cortexd.plist"
    header = f"==> {plist_path} (mode 644) <==\n"
    text = out.split(header)[1].split("\nwould do, in order:")[0]
    agent = plistlib.loads(text.encode())
    assert agent["StandardOutPath"] == str(home / "Library" / "Logs" / "cortex" / "cortexd.log")
    assert out.endswith(f"  launchctl bootstrap gui/{os.getuid()} {plist_path}\n")
    assert files_under(home) == [] and fakes.calls() == []


def test_the_socket_unit_listens_where_the_user_manager_puts_runtime_files(
    home: Path, fakes: Fakes, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A shell without a login session lacks XDG_RUNTIME_DIR (platformdirs then picks /tmp);
    # the user manager always sets it, and the daemon it starts looks there.
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert main(["service", "install", "--dry-run", "--socket", "--platform", "linux"]) == 0
    assert "\nListenStream=%t/cortex/cortexd.sock\n" in capsys.readouterr().out


def test_socket_activation_is_for_systemd_only(
    home: Path, fakes: Fakes, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["service", "install", "--socket", "--platform", "macos"]) == 1
    assert "--socket is for systemd" in capsys.readouterr().err


def test_uninstall_dry_run_lists_the_steps_in_order(
    home: Path, fakes: Fakes, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["service", "install", "--platform", "linux"]) == 0
    calls = fakes.calls()
    capsys.readouterr()
    assert main(["service", "uninstall", "--dry-run", "--platform", "linux"]) == 0
    assert capsys.readouterr().out.endswith(
        "would do, in order:\n"
        "  systemctl --user disable --now cortexd.service\n"
        f"  remove {unit_dir(home) / 'cortexd.service'}\n"
        f"  remove {home / '.config' / 'cortex' / 'keys.env'}\n"
        "  systemctl --user daemon-reload\n"
    )
    assert fakes.calls() == calls and (unit_dir(home) / "cortexd.service").exists()


def test_install_status_uninstall_on_linux(
    home: Path, fakes: Fakes, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["service", "install", "--platform", "linux"]) == 0
    unit = unit_dir(home) / "cortexd.service"
    key = home / ".config" / "cortex" / "keys.env"
    assert unit.read_text().startswith(f"# {MARKER}")
    assert f"ExecStart={DAEMON}" in unit.read_text().splitlines()
    assert key.read_text() == KEY_FILE_TEXT and stat.S_IMODE(key.stat().st_mode) == 0o600
    assert fakes.calls() == [
        "systemctl --user daemon-reload",
        "systemctl --user enable --now cortexd.service",
    ]
    assert "cortexd is installed and started" in capsys.readouterr().out

    fakes.answer("systemctl", "LoadState=loaded\nActiveState=active\nSubState=running\n")
    assert main(["service", "status", "--platform", "linux"]) == 0
    out = capsys.readouterr().out
    assert f"installed  {unit}" in out and "ActiveState=active" in out
    assert "cortexd is running." in out

    assert main(["service", "uninstall", "--platform", "linux"]) == 0
    assert fakes.calls()[-2:] == [
        "systemctl --user disable --now cortexd.service",
        "systemctl --user daemon-reload",
    ]
    assert not unit.exists() and not key.exists()  # the key file was still the untouched one
    assert "cortexd is uninstalled." in capsys.readouterr().out


def test_the_users_key_file_is_never_replaced_nor_removed(
    home: Path, fakes: Fakes, capsys: pytest.CaptureFixture[str]
) -> None:
    key = home / ".config" / "cortex" / "keys.env"
    key.parent.mkdir(parents=True)
    key.write_text("ANTHROPIC_API_KEY=sk-ant-mine\n")
    key.chmod(0o600)
    assert main(["service", "install", "--platform", "linux"]) == 0
    assert main(["service", "uninstall", "--platform", "linux"]) == 0
    assert key.read_text() == "ANTHROPIC_API_KEY=sk-ant-mine\n"
    assert f"kept your key file {key}" in capsys.readouterr().out


def test_a_key_file_others_can_read_stops_install_before_anything(
    home: Path, fakes: Fakes, capsys: pytest.CaptureFixture[str]
) -> None:
    key = home / ".config" / "cortex" / "keys.env"
    key.parent.mkdir(parents=True)
    key.write_text("OPENAI_API_KEY=sk-x\n")
    key.chmod(0o644)
    assert main(["service", "install", "--platform", "linux"]) == 1
    assert f"run: chmod 600 {key}" in capsys.readouterr().err
    assert fakes.calls() == [] and not unit_dir(home).exists()


def test_socket_activation_enables_the_socket_and_a_reinstall_switches_back(
    home: Path, fakes: Fakes, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["service", "install", "--socket", "--platform", "linux"]) == 0
    socket_unit = unit_dir(home) / "cortexd.socket"
    assert "ListenStream=%t/cortex/cortexd.sock" in socket_unit.read_text().splitlines()
    # The daemon starts now, not at the first connection (its jobs keep their times).
    assert fakes.calls()[-1] == "systemctl --user enable --now cortexd.socket cortexd.service"

    assert main(["service", "install", "--platform", "linux"]) == 0
    assert fakes.calls()[2:] == [
        "systemctl --user disable --now cortexd.socket cortexd.service",
        "systemctl --user daemon-reload",
        "systemctl --user enable --now cortexd.service",
    ]
    assert not socket_unit.exists()
    assert "already installed" in capsys.readouterr().out


def test_a_failed_start_rolls_back_every_file(
    home: Path, fakes: Fakes, capsys: pytest.CaptureFixture[str]
) -> None:
    fakes.fail("systemctl", "enable", "Job for cortexd.service failed because of a timeout.")
    assert main(["service", "install", "--platform", "linux"]) == 1
    err = capsys.readouterr().err
    assert "`systemctl --user enable --now cortexd.service` failed (exit 1)" in err
    assert "Job for cortexd.service failed because of a timeout." in err
    assert f"removed {unit_dir(home) / 'cortexd.service'}" in err
    assert "journalctl --user -u cortexd.service" in err
    assert fakes.calls()[-2:] == [
        "systemctl --user disable --now cortexd.service",
        "systemctl --user daemon-reload",
    ]
    assert files_under(home) == []  # the unit and the key file install created are gone


def test_without_systemctl_install_says_so_and_writes_nothing(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert main(["service", "install", "--platform", "linux"]) == 1
    err = capsys.readouterr().err
    assert "systemctl was not found on PATH" in err and "--dry-run" in err
    assert files_under(home) == []
    assert main(["service", "status", "--platform", "linux"]) == 3
    assert "systemctl was not found" in capsys.readouterr().out


def test_uninstall_when_not_installed_changes_nothing(
    home: Path, fakes: Fakes, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["service", "uninstall", "--platform", "linux"]) == 0
    assert "cortexd is not installed as a service" in capsys.readouterr().out
    assert fakes.calls() == []


def test_a_unit_file_cortex_did_not_write_is_left_alone(
    home: Path, fakes: Fakes, capsys: pytest.CaptureFixture[str]
) -> None:
    unit = unit_dir(home) / "cortexd.service"
    unit.parent.mkdir(parents=True)
    unit.write_text("[Service]\nExecStart=/usr/local/bin/my-cortexd\n")
    assert main(["service", "install", "--platform", "linux"]) == 1
    assert "was not written by `cortex service install`" in capsys.readouterr().err
    assert main(["service", "uninstall", "--platform", "linux"]) == 0
    assert f"left {unit}" in capsys.readouterr().out
    assert unit.read_text().startswith("[Service]") and fakes.calls() == []


def test_uninstall_keeps_the_files_when_the_manager_cannot_stop_the_service(
    home: Path, fakes: Fakes, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["service", "install", "--platform", "linux"]) == 0
    fakes.fail("systemctl", "disable", "Failed to connect to bus: No medium found")
    assert main(["service", "uninstall", "--platform", "linux"]) == 1
    assert "Failed to connect to bus" in capsys.readouterr().err
    assert (unit_dir(home) / "cortexd.service").exists()


def test_the_services_environment_follows_the_shell_but_never_carries_keys(
    home: Path,
    tmp_path: Path,
    fakes: Fakes,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cortex_home = tmp_path / "my cortex"
    monkeypatch.setenv("CORTEX_HOME", str(cortex_home))
    monkeypatch.setenv("CORTEX_TCP", "127.0.0.1:4848")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret-in-shell")
    assert main(["service", "install", "--dry-run", "--platform", "linux"]) == 0
    out = capsys.readouterr().out
    assert f'Environment="CORTEX_HOME={cortex_home}"' in out
    assert 'Environment="CORTEX_TCP=127.0.0.1:4848"' in out
    assert f"LoadCredential=keys.env:{cortex_home / 'config' / 'keys.env'}" in out
    assert "sk-ant-secret-in-shell" not in out
    assert "ANTHROPIC_API_KEY is set in this shell, but the service does not see it" in out


def test_install_and_uninstall_on_macos(
    home: Path, fakes: Fakes, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["service", "install", "--platform", "macos"]) == 0
    plist_path = home / "Library" / "LaunchAgents" / "dev.cortexd.plist"
    agent = plistlib.loads(plist_path.read_bytes())
    assert agent["ProgramArguments"] == [str(DAEMON)]
    assert (home / "Library" / "Logs" / "cortex").is_dir()  # launchd does not create it
    assert fakes.calls() == [f"launchctl bootstrap gui/{os.getuid()} {plist_path}"]

    fakes.answer("launchctl", "gui/501/dev.cortexd = {\n\tstate = running\n\tpid = 4242\n}\n")
    assert main(["service", "status", "--platform", "macos"]) == 0
    assert "state = running" in capsys.readouterr().out

    # An agent that is already unloaded: bootout answers 113, uninstall goes on.
    fakes.fail("launchctl", "bootout", "Boot-out failed: 113: Could not find service", 113)
    assert main(["service", "uninstall", "--platform", "macos"]) == 0
    assert fakes.calls()[-1] == f"launchctl bootout gui/{os.getuid()}/dev.cortexd"
    assert not plist_path.exists()


def test_the_service_cli_imports_no_provider_sdk() -> None:
    code = (
        "import sys, cortexd.cli, cortexd.service; "
        "print([m for m in ('anthropic', 'openai', 'ollama', 'llama_cpp') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
