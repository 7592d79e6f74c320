"""HTTP loads for the benchmarks: wrk when it is installed, else an httpx client.

wrk (C) costs this 2-core machine's cores next to nothing; a Python client costs several
milliseconds of CPU per request, taken from the very processes being measured. So every
load that is timed is sent by wrk when it can be, and the httpx fallbacks say that their
figures are not comparable.
"""

import asyncio
import contextlib
import json
import re
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

WRK_THREADS = 2
WRK_CONNECTIONS = 50
WRK_TIMEOUT = "10s"  # wrk's default (2 s) would leave slow requests out of the latencies
QUOTA_MET = "quota met:"
"""What a wrk thread of `counted_posts` prints once every answer to its share came back."""


class MeasuredNothingError(RuntimeError):
    """A figure could not be measured: the benchmark fails rather than print a blank."""


def _lua_string(text: str) -> str:
    # A JSON string literal of ASCII text is a valid Lua one (LuaJIT knows no \u escapes,
    # but the bodies are JSON dumped with ensure_ascii: their \u escapes are only text
    # here, doubled to \\u, for the server to decode).
    return json.dumps(text)


def _lua_specs(requests: Sequence[tuple[dict[str, str], str | None]]) -> str:
    """`requests` (headers, body) as a Lua table of {headers, body} pairs."""
    entries = ",\n".join(
        "  {"
        + "{"
        + ", ".join(f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in headers.items())
        + "}, "
        + ("nil" if body is None else _lua_string(body))
        + "}"
        for headers, body in requests
    )
    return f"{{\n{entries}\n}}"


def lua_script(method: str, requests: Sequence[tuple[dict[str, str], str | None]]) -> str:
    """A wrk script cycling through `requests` (headers, body), formatted once per thread."""
    return f"""local specs = {_lua_specs(requests)}
local formatted = {{}}
local next_index = 0
init = function(args)
  for i, spec in ipairs(specs) do
    formatted[i] = wrk.format("{method}", nil, spec[1], spec[2])
  end
end
request = function()
  next_index = next_index % #formatted + 1
  return formatted[next_index]
end
"""


def _wrk_ms(output: str, label: str) -> float | None:
    match = re.search(rf"^\s+{re.escape(label)}\s+([\d.]+)(us|ms|s|m)\b", output, re.MULTILINE)
    if match is None:
        return None
    return (
        float(match.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[match.group(2)]
    )


def wrk_load(url: str, script: str, seconds: int, scratch: Path) -> dict[str, Any]:
    """`wrk -t2 -c50 -d{seconds}s --latency` with `script`: requests, 2xx/s, p50, p99."""
    wrk = shutil.which("wrk")
    assert wrk is not None
    lua = scratch / f"load-{uuid.uuid4().hex[:6]}.lua"
    lua.write_text(script)
    command = [
        wrk,
        f"-t{WRK_THREADS}",
        f"-c{WRK_CONNECTIONS}",
        f"-d{seconds}s",
        "--latency",
        "--timeout",
        WRK_TIMEOUT,
        "-s",
        str(lua),
        url,
    ]
    try:
        run = subprocess.run(
            command, check=False, capture_output=True, text=True, timeout=seconds + 60
        )
    except subprocess.TimeoutExpired as exc:
        raise MeasuredNothingError(f"wrk did not finish within {seconds + 60}s") from exc
    output = run.stdout
    if run.returncode != 0 or not (total := re.search(r"(\d+) requests in ([\d.]+)(\w+)", output)):
        raise MeasuredNothingError(f"wrk failed (exit {run.returncode}):\n{output}{run.stderr}")
    requests = int(total.group(1))
    elapsed = float(total.group(2)) * {"ms": 0.001, "s": 1.0, "m": 60.0}.get(total.group(3), 1.0)
    non_2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", output)) else 0
    socket_errors = (
        sum(int(n) for n in m.groups())
        if (m := re.search(r"connect (\d+), read (\d+), write (\d+), timeout (\d+)", output))
        else 0
    )
    return {
        "tool": "wrk",
        "command": " ".join(command[1:-3]),
        "seconds": elapsed,
        "requests": requests,
        "non_2xx": non_2xx,
        "socket_errors": socket_errors,
        "ok_per_s": (requests - non_2xx) / elapsed if elapsed else 0.0,
        "p50_ms": _wrk_ms(output, "50%"),
        "p99_ms": _wrk_ms(output, "99%"),
    }


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered)) - 1))
    return ordered[index]


async def python_load(
    url: str, method: str, requests: Sequence[tuple[dict[str, str], str | None]], seconds: int
) -> dict[str, Any]:
    """The same load from an httpx client (50 connections): a fallback costing the server's
    cores far more than wrk does, so its figures are not comparable with wrk's."""
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    limits = httpx.Limits(max_connections=WRK_CONNECTIONS, keepalive_expiry=2)
    deadline = time.perf_counter() + seconds
    async with httpx.AsyncClient(timeout=10, limits=limits) as client:

        async def user(offset: int) -> None:
            index = offset
            while time.perf_counter() < deadline:
                headers, body = requests[index % len(requests)]
                index += 1
                began = time.perf_counter()
                try:
                    response = await client.request(method, url, headers=headers, content=body)
                    outcome = str(response.status_code)
                except httpx.TransportError as exc:
                    outcome = type(exc).__name__
                latencies.append(time.perf_counter() - began)
                statuses[outcome] = statuses.get(outcome, 0) + 1

        began = time.perf_counter()
        await asyncio.gather(*(user(i) for i in range(WRK_CONNECTIONS)))
        elapsed = time.perf_counter() - began
    ok = sum(n for status, n in statuses.items() if status.startswith("2"))
    return {
        "tool": "httpx",
        "seconds": elapsed,
        "requests": len(latencies),
        "non_2xx": len(latencies) - ok,
        "status_codes": statuses,
        "ok_per_s": ok / elapsed,
        "p50_ms": percentile(latencies, 50) * 1000 if latencies else None,
        "p99_ms": percentile(latencies, 99) * 1000 if latencies else None,
    }


@dataclass
class CountedPosts:
    """What `counted_posts` saw: the answers by status, and when."""

    statuses: dict[str, int]
    first_sent: float  # time.time() just before wrk started
    seconds: float  # from then until the last answer came back


def counted_script(requests: Sequence[tuple[dict[str, str], str | None]], total: int) -> str:
    """A wrk script POSTing exactly `total` requests, cycling through `requests`: each
    thread sends its share, prints `QUOTA_MET` with its answers' statuses once all came
    back, and stops. (wrk itself always runs for its whole duration: the caller ends it.)"""
    return f"""local specs = {_lua_specs(requests)}
local total = {total}
local threads_made = 0
setup = function(thread)
  thread:set("quota", math.floor(total / {WRK_THREADS})
    + (threads_made < total % {WRK_THREADS} and 1 or 0))
  -- wrk calls request() once on its first thread to check the script, before the load:
  -- that call must not count as a request sent.
  thread:set("probe_pending", threads_made == 0)
  thread:set("first_index", threads_made)
  threads_made = threads_made + 1
end
local formatted = {{}}
local next_index = 0
local sent, answered = 0, 0
local statuses = {{}}
init = function(args)
  for i, spec in ipairs(specs) do
    formatted[i] = wrk.format("POST", nil, spec[1], spec[2])
  end
  next_index = first_index
end
request = function()
  if probe_pending then
    probe_pending = false
    return formatted[1]
  end
  if sent >= quota then
    return ""  -- nothing more to send: the connection idles until wrk is stopped
  end
  sent = sent + 1
  next_index = next_index % #formatted + 1
  return formatted[next_index]
end
response = function(status, headers, body)
  answered = answered + 1
  statuses[status] = (statuses[status] or 0) + 1
  if answered == quota then
    local parts = {{}}
    for code, n in pairs(statuses) do
      parts[#parts + 1] = code .. "=" .. n
    end
    io.write("{QUOTA_MET} " .. table.concat(parts, " ") .. "\\n")
    io.flush()
    wrk.thread:stop()
  end
end
"""


async def counted_posts(
    url: str,
    requests: Sequence[tuple[dict[str, str], str | None]],
    total: int,
    *,
    connections: int,
    within: float,
    scratch: Path,
) -> CountedPosts:
    """POST `total` requests to `url` with wrk (`WRK_THREADS` threads, `connections`
    connections), cycling through `requests`; returns once every answer came back.

    Raises `MeasuredNothingError` if some never did within `within` seconds (a
    connection error leaves its request unanswered)."""
    wrk = shutil.which("wrk")
    if wrk is None or total < WRK_THREADS or connections % WRK_THREADS:
        raise ValueError("counted_posts needs wrk, a share for every thread, even connections")
    lua = scratch / f"counted-{uuid.uuid4().hex[:6]}.lua"
    lua.write_text(counted_script(requests, total))
    first_sent = time.time()
    began = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        *(wrk, f"-t{WRK_THREADS}", f"-c{connections}", f"-d{int(within) + 1}s"),
        *("--timeout", WRK_TIMEOUT, "-s", str(lua), url),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    statuses: dict[str, int] = {}
    threads_done = 0
    output: list[str] = []
    try:
        async with asyncio.timeout(within):
            while threads_done < WRK_THREADS and (line := await process.stdout.readline()):
                text = line.decode(errors="replace")
                output.append(text)
                if text.startswith(QUOTA_MET):
                    threads_done += 1
                    for part in text.removeprefix(QUOTA_MET).split():
                        code, _, count = part.partition("=")
                        statuses[code] = statuses.get(code, 0) + int(count)
    except TimeoutError:
        pass
    seconds = time.monotonic() - began
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGINT)
    await process.communicate()
    if threads_done < WRK_THREADS:
        raise MeasuredNothingError(
            f"wrk: {WRK_THREADS - threads_done} of its threads still missed answers after"
            f" {within:.0f}s (answers seen: {statuses}):\n{''.join(output)[-2000:]}"
        )
    return CountedPosts(statuses=statuses, first_sent=first_sent, seconds=seconds)
