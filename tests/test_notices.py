"""The notifier interface and its channels: alerts.md, the log, and the desktop through real
`notify-send` / `osascript` stand-ins on a private PATH (the process boundary)."""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path

import pytest

from cortexd.bookkeeping.notices import (
    ALERTS_HEADER,
    AlertsFile,
    Broadcast,
    DesktopNotifier,
    LogNotifier,
    Notice,
    desktop_command,
)

NOTICE = Notice("cortexd: anthropic budget past 80%", "$40.10 of $50.00 spent", "warning", "budget")


def fake_command(folder: Path, name: str, exit_code: int = 0, sleep: float = 0.0) -> Path:
    """An executable that records its arguments as JSON lines next to itself."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / name
    record = folder / f"{name}.calls"
    script.write_text(
        "#!/usr/bin/env python3\n"
        "import json, sys, time\n"
        f"time.sleep({sleep})\n"
        f"open({str(record)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
        f"sys.stderr.write('no bus\\n')\n"
        f"sys.exit({exit_code})\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def calls_of(script: Path) -> list[list[str]]:
    record = script.with_name(script.name + ".calls")
    if not record.exists():
        return []
    return [json.loads(line) for line in record.read_text().splitlines()]


@pytest.mark.anyio
async def test_alerts_md_gets_a_header_once_and_an_entry_per_notice(tmp_path: Path) -> None:
    path = tmp_path / "context" / "alerts.md"
    channel = AlertsFile(path, clock=lambda: 1_764_000_000.0)
    await channel.notify(NOTICE)
    await channel.notify(Notice("cortexd: the week in review", "12 calls\n$0.40", "info"))
    text = path.read_text()
    assert text.startswith(ALERTS_HEADER) and text.count("# cortexd alerts") == 1
    entries = [line for line in text.splitlines() if line.startswith("- **")]
    assert len(entries) == 2
    assert entries[0].endswith("cortexd: anthropic budget past 80%: $40.10 of $50.00 spent")
    assert "\n  $0.40" in text  # a body's second line stays inside its list item


@pytest.mark.anyio
async def test_alerts_md_is_never_followed_through_a_symlink(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.md"
    elsewhere.write_text("mine\n")
    (tmp_path / "alerts.md").symlink_to(elsewhere)
    with pytest.raises(OSError):
        await AlertsFile(tmp_path / "alerts.md").notify(NOTICE)
    assert elsewhere.read_text() == "mine\n"


@pytest.mark.anyio
async def test_the_log_channel_logs_at_the_notices_level(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="cortexd.bookkeeping.notices")
    await LogNotifier().notify(NOTICE)
    await LogNotifier().notify(Notice("t", "b", "critical"))
    levels = [(r.levelno, r.getMessage()) for r in caplog.records]
    assert (logging.WARNING, f"{NOTICE.title}: {NOTICE.body}") in levels
    assert (logging.ERROR, "t: b") in levels


@pytest.mark.anyio
async def test_notify_send_gets_title_body_and_urgency(tmp_path: Path) -> None:
    send = fake_command(tmp_path / "bin", "notify-send")
    which = {"notify-send": str(send)}.get
    await DesktopNotifier(platform="linux", which=which).notify(NOTICE)
    assert calls_of(send) == [["--app-name=cortexd", "--urgency=normal", NOTICE.title, NOTICE.body]]


@pytest.mark.anyio
async def test_osascript_gets_the_text_as_arguments_never_as_script(tmp_path: Path) -> None:
    osascript = fake_command(tmp_path / "bin", "osascript")
    hostile = Notice('x" & (do shell script "touch /tmp/pwned") & "', "body")
    await DesktopNotifier(platform="darwin", which={"osascript": str(osascript)}.get).notify(
        hostile
    )
    (argv,) = calls_of(osascript)
    script = " ".join(argv[:-2])
    assert argv[-2:] == [hostile.title, hostile.body]
    assert "pwned" not in script and "item 1 of argv" in script


def test_no_desktop_command_means_no_desktop_notice() -> None:
    assert desktop_command(NOTICE, platform="linux", which=lambda _: None) is None
    assert desktop_command(NOTICE, platform="darwin", which=lambda _: None) is None


@pytest.mark.anyio
async def test_a_failing_or_hanging_desktop_command_is_reported(tmp_path: Path) -> None:
    failing = fake_command(tmp_path / "a", "notify-send", exit_code=1)
    with pytest.raises(RuntimeError, match="exited 1: no bus"):
        await DesktopNotifier("linux", {"notify-send": str(failing)}.get).notify(NOTICE)
    hanging = fake_command(tmp_path / "b", "notify-send", sleep=30)
    with pytest.raises(RuntimeError, match="did not finish"):
        await DesktopNotifier("linux", {"notify-send": str(hanging)}.get, timeout_s=0.5).notify(
            NOTICE
        )


class Broken:
    async def notify(self, notice: Notice) -> None:
        raise OSError("disk full")


class Kept:
    def __init__(self) -> None:
        self.notices: list[Notice] = []

    async def notify(self, notice: Notice) -> None:
        self.notices.append(notice)


@pytest.mark.anyio
async def test_one_broken_channel_does_not_stop_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    kept = Kept()
    await Broadcast([Broken(), kept]).notify(NOTICE)
    assert kept.notices == [NOTICE]
    assert any(
        "Broken could not deliver a notice: disk full" in r.getMessage() for r in caplog.records
    )
