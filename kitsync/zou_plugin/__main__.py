"""``python -m kitsync.zou_plugin install DEST``: copy the plugin into Zou's handlers folder.

``DEST`` is Zou's ``EVENT_HANDLERS_FOLDER``; the plugin becomes the package ``DEST/event_handlers``
(the name Zou imports). A package already there is replaced only if it is a kitsync plugin.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

_SOURCE = Path(__file__).resolve().parent
_MARKER = "kitsync-zou-plugin"
# What Zou needs; the installer itself stays behind.
_FILES = ("__init__.py", "_forwarder.py", "_names.py")


class InstallError(Exception):
    """The plugin cannot be installed where asked; the message says why."""


def install(dest: Path, package: str = "event_handlers") -> Path:
    """Copy the plugin to ``dest/package`` and return that folder."""
    if not package.isidentifier():
        raise InstallError(f"{package!r} is not a Python package name")
    target = dest / package
    init = target / "__init__.py"
    if target.exists() and not (init.is_file() and _MARKER in init.read_text(errors="replace")):
        raise InstallError(
            f"{target} exists and is not kitsync's plugin: Zou loads one event_map only; "
            "install kitsync's under another --package name and call it from yours "
            "(see the README)"
        )
    target.mkdir(parents=True, exist_ok=True)
    for name in _FILES:
        shutil.copyfile(_SOURCE / name, target / name)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kitsync.zou_plugin")
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("install", help="copy the plugin into Zou's handlers folder")
    command.add_argument("dest", type=Path, help="Zou's EVENT_HANDLERS_FOLDER")
    command.add_argument(
        "--package", default="event_handlers", help="package name (default: event_handlers)"
    )
    args = parser.parse_args(argv)
    try:
        target = install(args.dest, args.package)
    except (InstallError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"installed {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
