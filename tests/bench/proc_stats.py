"""A benchmark's view of processes from /proc: CPU seconds, peak memory, liveness, each
counted over a process and its live descendants."""

import os
import re
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state first); None if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text[text.rindex(")") + 2 :].split()


def _descendants(pid: int) -> list[int]:
    """The live descendants of `pid` (a render pool of processes would be counted too)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, pending = [], [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of `pid` (all its threads), its reaped children and its
    live descendants."""
    total = 0
    for each in (pid, *_descendants(pid)):
        fields = _stat(each)
        if fields is not None:
            total += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return total / CLK_TCK


def peak_rss_mb(pid: int) -> float:
    """VmHWM (peak resident set) of `pid` and its live descendants, in MB."""
    total_kb = 0
    for each in (pid, *_descendants(pid)):
        try:
            status = Path(f"/proc/{each}/status").read_text()
        except FileNotFoundError:
            continue
        if match := re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE):
            total_kb += int(match.group(1))
    return total_kb * 1024 / 1e6


def pid_alive(pid: int) -> bool:
    """True while a process `pid` exists (and is not a zombie)."""
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"
