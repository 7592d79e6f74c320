"""What a worker process loads at start-up: every module is memory each replica pays for."""

import subprocess
import sys

_PROBE = """
import sys
import relatoria_worker.main
import relatoria_worker.worker
from relatoria_worker.renderers.registry import Renderers
import relatoria_worker.renderers.xlsx  # openpyxl itself, however the registry loads it
print("PIL" in sys.modules)
"""


def test_a_worker_does_not_load_pillow_for_its_xlsx_renderer() -> None:
    """openpyxl would import Pillow (about 2 MB a process) for images no workbook holds."""
    probe = subprocess.run(
        [sys.executable, "-c", _PROBE], check=True, capture_output=True, text=True
    )
    assert probe.stdout.strip() == "False"


def test_pillow_is_still_importable_after_the_xlsx_renderer() -> None:
    """Hiding Pillow from openpyxl must not hide it from anything imported later."""
    probe = "import relatoria_worker.renderers.xlsx, PIL.Image; print(PIL.Image.__name__)"
    result = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True
    )
    assert result.stdout.strip() == "PIL.Image"
