"""The parts of openpyxl the XLSX renderer uses, imported without Pillow.

openpyxl imports Pillow, when it is installed (reportlab brings it), only to embed images,
which our workbooks never hold; Pillow's import costs each worker process about 2 MB of
memory for nothing. So openpyxl is imported here with Pillow marked absent (a `None` entry
in `sys.modules` makes `import PIL` fail as if it were not installed), and the mark is
removed at once: the PDF renderer can still import Pillow when it needs it.
"""

import sys

_PILLOW = "PIL"
_hide_pillow = _PILLOW not in sys.modules
if _hide_pillow:
    sys.modules[_PILLOW] = None  # type: ignore[assignment]
try:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.writer.excel import ExcelWriter
finally:
    if _hide_pillow:
        del sys.modules[_PILLOW]

__all__ = ["ExcelWriter", "Font", "Workbook", "WriteOnlyCell", "get_column_letter"]
