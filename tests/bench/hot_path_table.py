"""The table `bench_hot_path` prints: each figure beside its baseline, the ratio, the
target and the verdict (PASS, MISS, or FAIL when it was not measured)."""

from collections.abc import Callable
from typing import Any

from tests.bench.http_load import WRK_CONNECTIONS

Row = tuple[str, str, str, str, str, str]
_HEADER: Row = ("figure", "relatoria", "baseline", "ratio", "target", "verdict")


def _get(results: dict[str, Any], *path: str) -> Any:
    value: Any = results
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _ratio(a: Any, b: Any) -> float | None:
    numbers = isinstance(a, int | float) and isinstance(b, int | float)
    return a / b if numbers and b else None


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _verdict(value: float | None, ok: Callable[[float], bool]) -> str:
    if value is None:
        return "FAIL (not measured)"
    return "PASS" if ok(value) else "MISS"


def _row(
    label: str,
    mine: Any,
    base: Any = None,
    *,
    digits: int = 1,
    target: str = "",
    check: Callable[[float], bool] | None = None,
    on_ratio: bool = False,
) -> Row:
    """A figure's row; `check` judges the ratio (`on_ratio`) or relatoria's figure."""
    ratio = _ratio(mine, base)
    judged = ratio if on_ratio else mine
    verdict = "" if check is None else _verdict(judged, check)
    return (label, _fmt(mine, digits), _fmt(base, digits), _fmt(ratio, 2), target, verdict)


def _title(text: str) -> Row:
    return (text, "", "", "", "", "")


def _http_rows(results: dict[str, Any], section: str, title: str) -> list[Row]:
    mine, base = _get(results, section, "relatoria"), _get(results, section, "baseline")
    tool = (mine or base or {}).get("tool", "?")

    def both(key: str) -> tuple[Any, Any]:
        return _get(results, section, "relatoria", key), _get(results, section, "baseline", key)

    post = section == "post"
    return [
        _title(f"{title} ({tool}, {WRK_CONNECTIONS} connections)"),
        _row(
            "  2xx requests/s",
            *both("ok_per_s"),
            digits=0,
            target="ratio >= 0.5",
            check=lambda r: r >= 0.5,
            on_ratio=True,
        ),
        _row("  latency p50 (ms)", *both("p50_ms")),
        _row(
            "  latency p99 (ms)",
            *both("p99_ms"),
            target="<= 2x baseline" if post else "",
            check=(lambda r: r <= 2.0) if post else None,
            on_ratio=True,
        ),
        _row(
            "  server CPU per request (ms)",
            *both("cpu_ms_per_request"),
            digits=3,
            target="relatoria <= 0.6 ms" if post else "",
            check=(lambda c: c <= 0.6) if post else None,
        ),
        *(_scaled_cpu_row(*both("cpu_ms_per_request")) if post else []),
        ("  requests (non-2xx)", _requests(mine), _requests(base), "", "", ""),
    ]


# The issue set two of its targets in absolute figures, measured beside baselines in one
# run: 0.6 ms of BFF CPU per POST when the bare endpoint took 0.3 ms, and 75 reports/s
# online when the bare loop drained 96/s. This machine's speed varies by a third within
# an hour (the bare loop drained 56-85/s on the same day), so each is also judged as the
# ratio it implied, against the baseline measured in the same run.
CPU_PER_POST_RATIO = 0.6 / 0.3
ONLINE_TO_BARE_DRAIN = 75 / 96


def _online_to_bare_row(results: dict[str, Any]) -> list[Row]:
    bare = _get(results, "drain", "baseline", "reports_per_s")
    if bare is None:  # the drain did not run: nothing to scale by
        return []
    return [
        _row(
            "  reports/s against the bare loop's drain",
            _get(results, "online", "reports_per_s"),
            bare,
            target=f"ratio >= {ONLINE_TO_BARE_DRAIN:.2f} (75/s : 96/s)",
            check=lambda r: r >= ONLINE_TO_BARE_DRAIN,
            on_ratio=True,
        )
    ]


def _scaled_cpu_row(mine: Any, base: Any) -> list[Row]:
    return [
        _row(
            "  server CPU per request, as a ratio",
            mine,
            base,
            digits=3,
            target=f"ratio <= {CPU_PER_POST_RATIO:g} (0.6 ms : 0.3 ms)",
            check=lambda r: r <= CPU_PER_POST_RATIO,
            on_ratio=True,
        )
    ]


def _requests(load: dict[str, Any] | None) -> str:
    return "-" if load is None else f"{load['requests']} ({load['non_2xx']})"


def table(results: dict[str, Any]) -> list[str]:
    """The figures of the sections that ran, one line each: figure, relatoria, baseline,
    ratio, target, verdict."""
    rows: list[Row] = []
    n = _get(results, "reports")
    if "post" in results:
        rows += _http_rows(results, "post", "POST /v1/reports")
    if "get" in results:
        rows += _http_rows(results, "get", "GET /v1/reports/{id} (queued, cached)")
    if "drain" in results:

        def drained(key: str) -> tuple[Any, Any]:
            return _get(results, "drain", "relatoria", key), _get(results, "drain", "baseline", key)

        rows += [
            _title(f"Drain: {n} queued 100x5 XLSX, then 2 workers"),
            _row(
                "  reports/s (first started to last finished)",
                *drained("reports_per_s"),
                target="ratio >= 1.0 (aim 1.2)",
                check=lambda r: r >= 1.0,
                on_ratio=True,
            ),
            _row(
                "  worker CPU per report (ms)",
                *drained("cpu_ms_per_report"),
                target="ratio <= 1.25",
                check=lambda r: r <= 1.25,
                on_ratio=True,
            ),
            _row(
                "  peak RSS of the 2 workers (MB)",
                *drained("peak_rss_mb"),
                target="relatoria <= 200 MB",
                check=lambda mb: mb <= 200,
            ),
        ]
    if "online" in results:
        rows += [
            _title(f"Online: {n} 100x5 XLSX POSTed while 2 workers run"),
            _row(
                "  reports/s (first POST to last finished)",
                _get(results, "online", "reports_per_s"),
                target=">= 75/s",
                check=lambda r: r >= 75,
            ),
            *_online_to_bare_row(results),
            _row("  seconds spent posting", _get(results, "online", "posting_seconds")),
        ]
    if "fair_share" in results:
        fair = results["fair_share"]
        timed_out = fair.get("b_status") not in (None, "done")
        b_row = _row(
            "  B: created to finished (s)",
            fair.get("b_seconds"),
            digits=2,
            target="< 2 s",
            check=lambda s: s < 2,
        )
        if timed_out:
            b_row = (*b_row[:5], f"FAIL (timed out, still {fair['b_status']})")
        rows += [
            _title(f"Fair share: owner A's burst of {n}, then owner B's one"),
            b_row,
            _row("  A's jobs still queued when B posted", fair.get("a_queued_at_b")),
            _row("  A: first POST to last finished (s)", fair.get("a_finished_seconds")),
            _row("  B finished before A's last by (s)", fair.get("b_before_a_end_seconds")),
        ]
    if "recovery" in results:
        recovery = results["recovery"]
        trials = len(recovery.get("pickup_seconds") or [])
        rows += [
            _title(f"Recovery: SIGKILL to claimed again ({trials} trials)"),
            _row(
                "  p50 (s)",
                recovery.get("p50_seconds"),
                digits=2,
                target="<= 3 s",
                check=lambda s: s <= 3,
            ),
            _row("  max (s)", recovery.get("max_seconds"), digits=2),
        ]
    widths = [max(len(row[i]) for row in [_HEADER, *rows]) for i in range(6)]
    lines = []
    for row in [_HEADER, *rows]:
        cells = [row[0].ljust(widths[0]), *(row[i].rjust(widths[i]) for i in (1, 2, 3))]
        cells += [row[4].ljust(widths[4]), row[5]]
        lines.append("  ".join(cells).rstrip())
    return lines
