"""A small PromQL checker for the rule file and the dashboard (promtool is not available):
balanced brackets, closed strings, durations in ranges, known functions and keywords, and
every other name a metric relatoria or RabbitMQ's plugin exports, with labels it has."""

import re

import yaml
from prometheus_client.metrics import MetricWrapperBase

from relatoria_bff.metrics import BffMetrics
from relatoria_worker.metrics import WorkerMetrics

RABBITMQ_METRICS = {
    # rabbitmq_prometheus, per-object metrics of a queue (labels vhost and queue)
    name: {"vhost", "queue"}
    for name in (
        "rabbitmq_queue_messages_ready",
        "rabbitmq_queue_messages_unacked",
        "rabbitmq_queue_messages",
        "rabbitmq_queue_consumers",
    )
}
FUNCTIONS = {
    "rate", "irate", "increase", "histogram_quantile", "abs", "clamp_min", "clamp_max",
    "absent", "absent_over_time", "max_over_time", "min_over_time", "avg_over_time", "time",
    "sum", "max", "min", "avg", "count", "topk", "bottomk", "quantile", "vector", "scalar",
}  # fmt: skip
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
            "unless", "bool", "offset"}  # fmt: skip
GROUPING = {"by", "without", "on", "ignoring", "group_left", "group_right"}
DURATION = re.compile(r"^[0-9]+(ms|s|m|h|d|w|y)$")
TOKEN = re.compile(
    r"""\s+|(?P<string>"(?:[^"\\]|\\.)*")|(?P<number>[0-9]+(?:\.[0-9]+)?(?:ms|s|m|h|d|w|y)?)"""
    r"""|(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)|(?P<op>=~|!~|!=|==|>=|<=|[-+*/%^<>=(){}\[\],])"""
)


def exported_metrics() -> dict[str, set[str]]:
    """Every series name relatoria exports, with its labels (histograms: _bucket adds le)."""
    series: dict[str, set[str]] = {}
    for holder in (BffMetrics(), WorkerMetrics()):
        for metric in vars(holder).values():
            if not isinstance(metric, MetricWrapperBase):
                continue
            name, labels, kind = metric._name, set(metric._labelnames), metric._type
            if kind == "counter":
                series[f"{name}_total"] = labels
            elif kind == "histogram":
                series |= {f"{name}_count": labels, f"{name}_sum": labels}
                series[f"{name}_bucket"] = labels | {"le"}
            else:
                series[name] = labels
    return series


def tokens(expr: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    position = 0
    while position < len(expr):
        match = TOKEN.match(expr, position)
        assert match, f"unexpected character at {expr[position : position + 20]!r}"
        position = match.end()
        if match.lastgroup:
            out.append((match.lastgroup, match.group()))
    return out


def check_expression(expr: str, known: dict[str, set[str]]) -> set[str]:
    """Parse `expr` far enough to reject what promtool would; returns its metric names."""
    toks = tokens(expr)
    pairs = {")": "(", "]": "[", "}": "{"}
    stack: list[str] = []  # open brackets; "g(" is a label list: by (…), on (…)
    metrics: set[str] = set()
    current: str | None = None  # the metric whose {matchers} are being read
    for index, (kind, text) in enumerate(toks):
        following = toks[index + 1][1] if index + 1 < len(toks) else ""
        previous = toks[index - 1][1] if index else ""
        if kind == "op" and text in "([{":
            stack.append("g(" if text == "(" and previous in GROUPING else text)
            if text == "{":
                current = previous if previous in known else None
            continue
        if kind == "op" and text in ")]}":
            assert stack, f"unbalanced {text!r} in {expr}"
            assert stack.pop()[-1] == pairs[text], f"unbalanced {text!r} in {expr}"
            continue
        inside = stack[-1] if stack else ""
        if inside == "[":
            assert kind == "number", f"bad range {text!r}"
            assert DURATION.match(text), f"bad range {text!r}"
        elif inside == "{":
            if kind == "name" and following in {"=", "=~", "!=", "!~"}:
                if current is not None:
                    assert text in known[current], f"{current} has no label {text!r}"
            elif kind == "string" and previous == "=~":
                re.compile(yaml.safe_load(text))  # the regex itself compiles
        elif inside == "g(":
            assert kind == "name" or text == ",", f"not a label list in {expr}"
        elif kind == "name":
            if text in FUNCTIONS:
                assert following == "(" or following in GROUPING, f"{text} not called"
            elif text not in KEYWORDS:
                assert text in known, f"unknown metric {text!r} in {expr}"
                metrics.add(text)
    assert not stack, f"unclosed {stack} in {expr}"
    return metrics
