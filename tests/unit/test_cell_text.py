"""Unit tests for the spreadsheet cell-text rules (formula neutralisation, XML-illegal chars)."""

import pytest

from relatoria_worker.renderers.cell_text import (
    FORMULA_PREFIX,
    FORMULA_TRIGGERS,
    any_starts_like_formula,
    any_xml_illegal,
    neutralise_formula,
    starts_like_formula,
    strip_xml_illegal,
)


@pytest.mark.unit
@pytest.mark.parametrize(
    "text",
    [
        "=1+1",
        "+1",
        "-5",
        "@SUM(A1:A2)",
        "\tleading tab",
        "\rleading cr",
        "=cmd|' /C calc'!A0",
        '=HYPERLINK("http://x")',
        "\uff1dcmd|' /C calc'!A0",  # fullwidth ＝
        "\uff0b1",  # ＋
        "\uff0d5",  # －
        "\uff20SUM(A1:A2)",  # ＠
    ],
)
def test_formula_like_text_is_quote_prefixed(text: str) -> None:
    assert starts_like_formula(text)
    assert neutralise_formula(text) == "'" + text


@pytest.mark.unit
@pytest.mark.parametrize(
    "text",
    ["", "plain", "1+1", " =leading space", "a=b", "'already quoted", "\nleading lf", "Ação"],
)
def test_other_text_is_unchanged(text: str) -> None:
    assert not starts_like_formula(text)
    assert neutralise_formula(text) is text


@pytest.mark.unit
def test_trigger_set_is_the_owasp_list_and_its_fullwidth_forms() -> None:
    owasp = {"=", "+", "-", "@", "\t", "\r"}
    fullwidth = {"\uff1d", "\uff0b", "\uff0d", "\uff20"}
    assert frozenset(owasp | fullwidth) == FORMULA_TRIGGERS
    assert FORMULA_PREFIX == "'"


@pytest.mark.unit
def test_neutralising_twice_does_not_stack_prefixes() -> None:
    once = neutralise_formula("=1+1")
    assert neutralise_formula(once) == once


@pytest.mark.unit
def test_strip_removes_control_characters_but_keeps_tab_lf_cr() -> None:
    controls = "".join(chr(c) for c in range(0x20))
    assert strip_xml_illegal(f"a{controls}b") == "a\t\n\rb"


@pytest.mark.unit
def test_strip_removes_surrogates_and_non_characters() -> None:
    assert strip_xml_illegal("x\ud800y\udfffz\ufffe\uffff!") == "xyz!"


@pytest.mark.unit
@pytest.mark.parametrize(
    "text",
    ["", "plain", "Ação", "Ελληνικά", "Кириллица", "日本語", "emoji 😀", "\x7f\x85\xa0", "\ufffd"],
)
def test_strip_keeps_legal_text_as_is(text: str) -> None:
    assert strip_xml_illegal(text) is text


@pytest.mark.unit
def test_strip_does_not_neutralise_formulas() -> None:
    assert strip_xml_illegal("=1+1\x00") == "=1+1"


@pytest.mark.unit
def test_any_starts_like_formula_looks_at_first_characters_only() -> None:
    assert not any_starts_like_formula([])
    assert not any_starts_like_formula(["plain", "", None, "a=b", " =x", "1-2"])
    for trigger in sorted(FORMULA_TRIGGERS):
        assert any_starts_like_formula(["plain", None, f"{trigger}x", "more"])
    assert any_starts_like_formula(["-"])


@pytest.mark.unit
def test_any_starts_like_formula_agrees_with_the_single_text_rule() -> None:
    texts = ["=1", "+", "x-", "@a", "\tb", "\rc", "\nd", "'e", "", "Ação", "😀"]
    for text in texts:
        assert any_starts_like_formula([text]) == starts_like_formula(text)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        ([], False),
        (["plain", None, "", "Ação", "tab\tlf\ncr\r", "\xa0nbsp", "\u200bzero width"], False),
        (["ok", "nul\x00"], True),
        (["ok", "lone \ud800 surrogate"], True),
        (["non-character \uffff"], True),
        (["\x1f"], True),
        (["\x7f\x85 legal in XML"], False),
    ],
)
def test_any_xml_illegal(texts: list[str | None], expected: bool) -> None:
    assert any_xml_illegal(texts) is expected
    assert expected == any(t is not None and strip_xml_illegal(t) != t for t in texts)
