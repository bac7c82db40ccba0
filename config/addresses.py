"""The address file a running `redwall demo` leaves in its working directory, `redwall-demo.env`: its
broker, database, ports and generated config files as `VARIABLE=value` lines, so that every other
`redwall` command run there reaches it without hand-set variables.

Variables set in the environment win over the file. The demo removes it when it stops; one left behind
by a demo that was killed names a process that is gone, and is ignored as stale.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from config.errors import ConfigError

FILE_NAME = "redwall-demo.env"
_PID = re.compile(r"#\s*pid\s+(\d+)\b")
_LINE = re.compile(r"([A-Z][A-Z0-9_]*)=(.*)")


class AlreadyRunning(ConfigError):
    """A demo runs from this directory already: a second one here would take its file (and its ports)."""


@dataclass(frozen=True)
class DemoAddresses:
    path: Path
    pid: int | None  # the demo process that wrote the file
    values: Mapping[str, str] = field(default_factory=dict)

    @property
    def live(self) -> bool:
        """Whether the demo that wrote the file still runs."""
        return self.pid is not None and _running(self.pid)

    def supplies(self, environ: Mapping[str, str]) -> list[str]:
        """The variables the file gives that the environment does not set itself."""
        return [name for name in self.values if name not in environ]


def in_directory(directory: Path | None = None) -> DemoAddresses | None:
    """The address file of `directory` (default: the working directory), if there is one."""
    return read((directory or Path.cwd()) / FILE_NAME)


def read(path: Path) -> DemoAddresses | None:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError):
        return None
    pid = next((int(m.group(1)) for m in map(_PID.match, text.splitlines()) if m), None)
    values = dict(m.groups() for m in map(_LINE.fullmatch, text.splitlines()) if m)
    return DemoAddresses(Path(path), pid, values)


def write(path: Path, values: Mapping[str, str], header: str) -> Path:
    """The file for this process (0600: a DATABASE_URL may hold a password), replaced in one step so a
    command never reads half of it."""
    lines = [f"# pid {os.getpid()}: {header}"] + [f"{name}={value}" for name, value in values.items()]
    if any("\n" in str(v) for v in values.values()):
        raise ValueError("a value of the address file spans lines")
    partial = Path(path).with_name(f".{Path(path).name}.{os.getpid()}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")
    os.replace(partial, path)
    return Path(path)


def remove(path: Path) -> None:
    """Removes the file if this process wrote it (a demo started later may have replaced it)."""
    found = read(path)
    if found is not None and found.pid == os.getpid():
        Path(path).unlink(missing_ok=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True
