"""`make run`: a local S3 endpoint (moto server), the BFF and one worker, until Ctrl-C.

Settings come from the environment (`make run` loads .env.dev); PostgreSQL, RabbitMQ and
Redis are the ones already running on this machine.
"""

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from urllib.parse import urlparse

from relatoria_shared.settings import Settings
from relatoria_shared.storage.object_store import ObjectStore


def _wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - local URL
                return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not come up within {timeout}s")


def _spawn(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", *args], env=os.environ.copy())  # noqa: S603


_REQUEST = """{"type": "table", "format": "xlsx", "title": "Vendas de março",
 "parameters": {"columns": [{"key": "city", "label": "Cidade", "type": "string"},
                            {"key": "total", "label": "Total", "type": "number"}],
                "rows": [["São Paulo", 1234.5], ["Lisboa", 987]]}}"""

_EXPORT = (
    '{"type": "transactions", "format": "csv", "title": "Transactions", '
    '"parameters": {"startDate": "2025-07-01", "endDate": "2026-06-30"}}'
)

_JSON_FIELD = "python3 -c 'import json,sys; print(json.load(sys.stdin)[\"requestId\"])'"


def _walkthrough(base: str) -> str:
    s3 = os.environ.get("RELATORIA_S3_ENDPOINT_URL")
    auth = '-H "Authorization: Bearer $TOKEN"'
    return f"""
relatoria is running: BFF {base} (API docs: {base}/docs), one worker, S3 at {s3}

Try it in another terminal, from this folder:
  TOKEN=$(make -s token)          # make -s token SUB=alice for another user
  curl -s {base}/v1/report-types {auth}
  cat > /tmp/relatoria-request.json <<'JSON'
{_REQUEST}
JSON
  ID=$(curl -s -X POST {base}/v1/reports {auth} \\
         -H 'Content-Type: application/json' -d @/tmp/relatoria-request.json | {_JSON_FIELD})
  curl -s {base}/v1/reports/$ID {auth}                  # the status document
  until curl -s {base}/v1/reports/$ID {auth} | grep -q '"status":"done"'; do sleep 0.2; done
  curl -sfL -o report.xlsx {base}/v1/reports/$ID/download {auth}  # the file

  # A data-source export: a year of transactions from the demo reporting database
  ID=$(curl -s -X POST {base}/v1/reports {auth} -H 'Content-Type: application/json' \\
         -d '{_EXPORT}' | {_JSON_FIELD})
  until curl -s {base}/v1/reports/$ID {auth} | grep -q '"status":"done"'; do sleep 0.5; done
  curl -sfL -o transactions.csv {base}/v1/reports/$ID/download {auth}

Ctrl-C stops everything started here.
"""


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> None:
    """Start S3, BFF and worker; stop them all on Ctrl-C, SIGTERM, or when one dies."""
    # SIGTERM (e.g. `timeout make run`, a supervisor) must clean up like Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    settings = Settings()
    endpoint = urlparse(settings.s3_endpoint_url or "http://127.0.0.1:9000")
    children = [
        _spawn(
            "moto.server", "-H", endpoint.hostname or "127.0.0.1", "-p", str(endpoint.port or 9000)
        )
    ]
    try:
        _wait_http(endpoint.geturl())
        ObjectStore(settings).ensure_bucket()
        children.append(_spawn("relatoria_bff.main"))
        children.append(_spawn("relatoria_worker.main"))
        base = f"http://{settings.bff_host}:{settings.bff_port}"
        _wait_http(f"{base}/healthz")
        print(_walkthrough(base), flush=True)
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        print("a process exited; stopping the rest", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    finally:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(20)
            except subprocess.TimeoutExpired:
                child.kill()


if __name__ == "__main__":
    main()
