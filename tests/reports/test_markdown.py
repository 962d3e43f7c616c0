"""Markdown tables: a pipe in a cell must not split it, and an empty cell is visible."""

from seqkit.reports.markdown import cell, percent, table


def test_cells_escape_pipes_and_show_empty_values():
    assert cell("a|b") == "a\\|b"
    assert cell("") == cell(None) == "∅"
    assert cell(0) == "0"  # a zero is a value, not an empty cell


def test_table_has_one_column_per_header_in_every_row():
    lines = table(["ref", "hyp"], [["yes|no", ""], ["lo", 3]])
    assert lines == ["| ref | hyp |", "|---|---|", "| yes\\|no | ∅ |", "| lo | 3 |"]
    for line in lines[2:]:  # unescaped pipes delimit exactly the header's columns
        assert line.replace("\\|", "").count("|") == 3


def test_percent_keeps_two_decimals():
    assert percent(0.004329) == "0.43%" and percent(1) == "100.00%"
