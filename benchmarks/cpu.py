"""CPU seconds from /proc (Linux): of one process, of a process and all its descendants, of the whole machine,
so a benchmark can say where the cores went during what it timed, its own processes and everyone else's."""

from __future__ import annotations

import os
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    # The command name (field 2) may hold spaces and parentheses: split after its closing one.
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def process_seconds(pid: int) -> float:
    """User and system CPU seconds of one live process (0 once it is gone)."""
    try:
        fields = _stat_fields(pid)
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime: fields 14 and 15 of the whole line


def _parents() -> dict[int, int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(_stat_fields(int(entry.name))[1])
            except (FileNotFoundError, ProcessLookupError, ValueError):
                continue
    return parents


def tree_seconds(pid: int) -> float:
    """CPU seconds of a process and its live descendants (PostgreSQL's postmaster and its backends)."""
    parents, tree = _parents(), {pid}
    grew = True
    while grew:
        children = {p for p, parent in parents.items() if parent in tree} - tree
        tree |= children
        grew = bool(children)
    return sum(process_seconds(p) for p in tree)


def find_pid(*words: str) -> int | None:
    """The oldest live process whose command line holds every one of `words` (e.g. a listener address)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if all(w in cmdline for w in words):
            found.append(int(entry.name))
    return min(found) if found else None


def machine_seconds() -> float:
    """Busy CPU seconds of every core since boot: all but idle and iowait, from /proc/stat."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / TICK


class Meter:
    """CPU seconds of named processes (pid, whole tree or not) and of the machine, between two readings."""

    def __init__(self, processes: dict[str, tuple[int, bool]]):
        self.processes = processes
        self.start = self.read()

    def read(self) -> dict[str, float]:
        seconds = {n: (tree_seconds if tree else process_seconds)(pid) for n, (pid, tree) in self.processes.items()}
        seconds["machine"] = machine_seconds()
        return seconds

    def since_start(self) -> dict[str, float]:
        """Each one's CPU seconds since the meter was made; `others`: the machine's not counted among them."""
        now = self.read()
        spent = {n: now[n] - self.start[n] for n in now}
        spent["others"] = spent["machine"] - sum(v for n, v in spent.items() if n != "machine")
        return spent


def cpu_line(cpu: dict[str, float], seconds: float) -> str:
    """Each process's CPU seconds and its share of one core over `seconds`; the machine's of its cores."""
    named = [f"{n} {s:.1f} ({s / seconds:.0%})" for n, s in cpu.items() if n != "machine"]
    return ", ".join(named) + f"; machine {cpu['machine']:.1f} of {seconds * os.cpu_count():.1f}"
