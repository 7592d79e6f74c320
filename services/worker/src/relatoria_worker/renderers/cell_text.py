"""Untrusted cell text made safe for spreadsheet formats.

Report cells carry text that clients sent; a spreadsheet application opening the file
must show that text, never act on it. Two hazards are handled here, as small pure
functions shared by the CSV and XLSX renderers (no spreadsheet library is imported, so
the rules can be tested and reused on their own):

* formula injection (OWASP "CSV injection"): text that a spreadsheet would read as a
  formula is prefixed with a single quote, which makes it plain text;
* characters XML 1.0 cannot hold, which would make an XLSX file unreadable.
"""

import re
from collections.abc import Iterable
from operator import itemgetter

FORMULA_PREFIX = "'"
"""What is put in front of text that would otherwise be read as a formula."""

FORMULA_TRIGGERS = frozenset(
    {"=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20"}
)
"""First characters that make a spreadsheet treat a CSV field as a formula: the OWASP list,
and the fullwidth `＝ ＋ － ＠`, which spreadsheet applications with East Asian input may
read as their ASCII forms."""

# Everything outside XML 1.0's `Char` production: C0 controls except TAB, LF and CR,
# lone UTF-16 surrogates (they cannot even be encoded as UTF-8) and the two
# non-characters U+FFFE and U+FFFF.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_FORMULA_START = re.compile("[" + re.escape("".join(sorted(FORMULA_TRIGGERS))) + "]")
_FIRST_CHARACTER = itemgetter(0)


def starts_like_formula(text: str) -> bool:
    """Whether a spreadsheet would read `text` as a formula rather than as text."""
    return text[:1] in FORMULA_TRIGGERS


def neutralise_formula(text: str) -> str:
    """Return `text` made inert for CSV: quote-prefixed if it starts like a formula.

    Only text is ever passed here; numbers, booleans and dates are written as they
    are, so a negative number stays a number. Text that does not start like a formula
    is returned unchanged.
    """
    if starts_like_formula(text):
        return FORMULA_PREFIX + text
    return text


def any_starts_like_formula(texts: Iterable[str | None]) -> bool:
    """Whether any of `texts` (None and empty strings ignored) starts like a formula.

    The batch form of `starts_like_formula`: one C-level pass over the first
    characters, so a renderer can let a whole column of harmless text through as is.
    """
    firsts = "".join(map(_FIRST_CHARACTER, filter(None, texts)))
    return _FORMULA_START.search(firsts) is not None


def any_xml_illegal(texts: Iterable[str | None]) -> bool:
    """Whether any of `texts` (None ignored) holds a character `strip_xml_illegal` removes."""
    joined = "".join(filter(None, texts))
    # Printable text holds no control character, surrogate or non-character: the
    # (much faster) `isprintable` settles almost every batch without the regex.
    return not joined.isprintable() and _XML_ILLEGAL.search(joined) is not None


def strip_xml_illegal(text: str) -> str:
    """Return `text` without the characters XML 1.0 (and so XLSX) cannot hold.

    TAB, LF and CR are kept; other control characters, lone surrogates and
    U+FFFE/U+FFFF are removed. Everything else, any script included, is untouched.
    """
    # Fast path: almost all text is clean, and `search` does not build a new string.
    if _XML_ILLEGAL.search(text) is None:
        return text
    return _XML_ILLEGAL.sub("", text)
