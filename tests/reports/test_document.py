"""The report's blocks: finding its figures, and rendering the whole document to Markdown."""

from __future__ import annotations

from seqkit.reports.document import Alignment, Code, Document, Figure, Section, Table, Text, figures, to_markdown

PNG = b"\x89PNG\r\n\x1a\n"  # the renderers only pass the bytes on


def test_figures_are_found_in_nested_sections_in_reading_order() -> None:
    a, b, c, d = (Figure(name, PNG, name) for name in "abcd")
    doc = Document("t", [
        Section("one", [Text("x"), a], children=[Section("one.1", [b], children=[Section("one.1.1", [c])])]),
        Section("two", [Table(["k"], [["v"]]), d]),
    ])
    found = figures(doc)
    assert [f.name for f in found] == ["a", "b", "c", "d"]
    assert found[0] is a  # the document's own blocks: write_report renames them in place


def test_markdown_renders_every_kind_of_block() -> None:
    ops = [{"op": "C", "ref": "a", "hyp": "a"}, {"op": "S", "ref": "b", "hyp": "x"}, {"op": "I", "ref": None, "hyp": "d"}]
    doc = Document("seqkit report: r", [Section("Summary", [
        Text("plain"),
        Text("not recorded", note=True),
        Table(["key", "value"], [["a|b", None], ["n", 3]], caption="totals"),
        Table(["k"], [["v"]]),
        Figure("r-loss", PNG, "loss per step"),
        Code("seed: 0\n\n", "yaml"),
        Alignment("u1 (speaker s): WER 66.67%", ops),
    ])], subtitle="/runs/r")
    assert to_markdown(doc, "report_figures") == "\n".join([
        "# seqkit report: r", "", "/runs/r", "",
        "## Summary", "",
        "plain", "",
        "_not recorded_", "",
        "totals", "", "| key | value |", "|---|---|", "| a\\|b | ∅ |", "| n | 3 |", "",
        "| k |", "|---|", "| v |", "",  # no caption, no caption line
        "![loss per step](report_figures/r-loss.png)", "",
        "```yaml", "seed: 0", "```", "",  # the code's trailing newlines do not reach the fence
        "**u1 (speaker s): WER 66.67%**", "", "```text", "REF: a b ***", "HYP: a x d", "OP:    S I", "```",
    ]) + "\n"


def test_subsections_go_one_level_deeper_down_to_level_six() -> None:
    deepest = Section("level 7")
    for level in range(6, 1, -1):
        deepest = Section(f"level {level}", children=[deepest])
    headings = [line for line in to_markdown(Document("t", [deepest]), "f").splitlines() if line.startswith("#")]
    assert headings == ["# t", "## level 2", "### level 3", "#### level 4", "##### level 5", "###### level 6",
                        "###### level 7"]  # Markdown has no seventh level


def test_code_holding_a_fence_gets_a_longer_one() -> None:
    text = "notes:\n```\nnot the end\n```"
    out = to_markdown(Document("t", [Section("s", [Code(text)])]), "f")
    assert f"````text\n{text}\n````\n" in out  # the inner ``` cannot close the block early


def test_markdown_ends_in_exactly_one_newline() -> None:
    assert to_markdown(Document("empty", []), "f") == "# empty\n"  # no subtitle, no sections: the title alone
    assert to_markdown(Document("t", [Section("s")]), "f") == "# t\n\n## s\n"
    assert to_markdown(Document("t", [Section("s", [Text("last line\n\n")])]), "f").endswith("\nlast line\n")
