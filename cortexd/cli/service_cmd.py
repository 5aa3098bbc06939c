"""``cortex service install|uninstall|status``: run cortexd under the user's service manager
(a systemd user unit on Linux, a launchd agent on macOS). ``--dry-run`` prints every file
exactly as it would be written and the commands that would run, and changes nothing."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cortexd.service import Layout, Manager, Plan, Status


def register(sub: Any) -> None:
    p = sub.add_parser("service", help="install cortexd as a systemd or launchd user service")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--platform",
        choices=["linux", "macos"],
        help="the service manager's platform (default: this machine's); to preview the other",
    )
    i = actions.add_parser("install", parents=[common], help="write the service files and start")
    i.add_argument("--dry-run", action="store_true", help="print the files and commands only")
    i.add_argument(
        "--socket",
        action="store_true",
        help="systemd: add a .socket unit, which holds connections while cortexd (re)starts",
    )
    i.set_defaults(run=run_install)
    u = actions.add_parser("uninstall", parents=[common], help="stop the service, remove its files")
    u.add_argument("--dry-run", action="store_true", help="print what would be done only")
    u.set_defaults(run=run_uninstall)
    s = actions.add_parser("status", parents=[common], help="the service's files and state")
    s.set_defaults(run=run_status)


def _layout(args: argparse.Namespace) -> tuple[Layout, Manager]:
    from cortexd.service import Layout, Platform, manager_for

    platform = Platform(args.platform) if args.platform else Platform.of(sys.platform)
    layout = Layout.resolve(
        os.environ,
        platform,
        executable=Path(sys.executable),
        uid=os.getuid(),
        socket_activated=getattr(args, "socket", False),
    )
    return layout, manager_for(platform)


def _print_plan(plan: Plan, verb: str) -> None:
    print(f"cortex service {verb} --dry-run: nothing is written, removed or run.")
    for item in plan.write:
        how = f"mode {item.mode:o}" + (", only if missing" if item.create_only else "")
        print(f"\n==> {item.path} ({how}) <==")
        sys.stdout.write(item.text)
    print("\nwould do, in order:")
    steps = [
        *(shlex.join(argv) for argv in plan.stop),
        *(f"write {shlex.quote(str(item.path))}" for item in plan.write),
        *(f"remove {shlex.quote(str(path))}" for path in plan.remove),
        *(shlex.join(argv) for argv in plan.start),
    ]
    for step in steps:
        print(f"  {step}")
    _print_notes(plan)


def _print_notes(plan: Plan) -> None:
    for note in plan.notes:
        print(f"note: {note}")


def run_install(args: argparse.Namespace) -> int:
    from cortexd.service import Platform, install, plan_install, subprocess_runner

    layout, manager = _layout(args)
    plan = plan_install(layout, manager)
    if args.dry_run:
        _print_plan(plan, "install")
        return 0
    for line in install(layout, plan, manager, subprocess_runner(os.environ)):
        print(line)
    _print_notes(plan)
    key = shlex.quote(str(layout.spec.key_file))
    if layout.platform is Platform.LINUX:
        socket = " with cortexd.socket" if layout.spec.socket_activated else ""
        unit = f"cortexd.service{socket}"
        print(f"cortexd is installed and started ({unit}, a systemd user unit).")
        print(f"API keys go in {key} (NAME=value); then: systemctl --user restart cortexd")
        print("To keep it running after you log out: loginctl enable-linger")
    else:
        print(f"cortexd is installed and started (launchd agent {layout.plist.stem}).")
        print(
            f"API keys go in {key} (NAME=value); then: "
            f"launchctl kickstart -k gui/{layout.uid}/{layout.plist.stem}"
        )
        print(f"Its log: {layout.spec.log_file}")
    return 0


def run_uninstall(args: argparse.Namespace) -> int:
    from cortexd.service import plan_uninstall, subprocess_runner, uninstall

    layout, manager = _layout(args)
    plan = plan_uninstall(layout, manager)
    if plan.empty:
        places = " or ".join(str(p) for p in layout.managed_paths())
        print(f"cortexd is not installed as a service (nothing written by cortex in {places})")
        _print_notes(plan)
        return 0
    if args.dry_run:
        _print_plan(plan, "uninstall")
        return 0
    for line in uninstall(plan, manager, subprocess_runner(os.environ)):
        print(line)
    _print_notes(plan)
    print("cortexd is uninstalled.")
    return 0


#: The lines of `launchctl print` worth showing (it prints pages).
_LAUNCHD_FIELDS = ("state =", "pid =", "last exit code =", "runs =", "path =")


def _print_status(state: Status) -> None:
    print("service files:")
    for path, what in state.files:
        print(f"  {what:<10} {path}")
    for result in state.manager:
        print(f"{shlex.join(result.argv)}:")
        if result.returncode != 0:
            said = (result.stderr.strip() or result.stdout.strip() or "(no output)").splitlines()
            print(f"  exit {result.returncode}: {' '.join(said[:3])}")
            continue
        lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
        if result.argv[0] == "launchctl":
            lines = [line for line in lines if line.startswith(_LAUNCHD_FIELDS)]
        for line in lines:
            print(f"  {line}")


def run_status(args: argparse.Namespace) -> int:
    from cortexd.service import status, subprocess_runner

    layout, manager = _layout(args)
    state = status(layout, manager, subprocess_runner(os.environ))
    _print_status(state)
    print("cortexd is running." if state.running else "cortexd is not running as a service.")
    # 3, as `systemctl status` and LSB init scripts answer for "not running".
    return 0 if state.running else 3
