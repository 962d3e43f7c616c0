"""The HTML renderer escapes every text from a run and embeds its figures."""

from __future__ import annotations

import base64

from seqkit.reports.document import Alignment, Code, Document, Figure, Section, Table, Text, to_markdown
from seqkit.reports.html import to_html

HOSTILE = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'


def test_user_text_is_escaped_everywhere() -> None:
    doc = Document(HOSTILE, [Section(HOSTILE, [
        Text(HOSTILE), Table([HOSTILE], [[HOSTILE]], caption=HOSTILE), Code(HOSTILE),
        Alignment(HOSTILE, [{"op": "S", "ref": HOSTILE, "hyp": "<em>x</em>"}, {"op": "I", "ref": None, "hyp": "&"}]),
    ])])
    out = to_html(doc)
    assert "<script" not in out and "<img src=x" not in out and "<em>" not in out
    assert out.count("&lt;script&gt;") >= 7  # title, heading, nav, text, header, cell, caption, code, alignment...


def test_figures_are_embedded_and_linked_from_the_markdown() -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 8
    doc = Document("t", [Section("s", [Figure("curve-1", png, "a curve")])])
    out = to_html(doc)
    assert f'src="data:image/png;base64,{base64.b64encode(png).decode()}"' in out
    assert "![a curve](figs/curve-1.png)" in to_markdown(doc, "figs")


def test_alignment_marks_each_operation() -> None:
    ops = [{"op": "C", "ref": "a", "hyp": "a"}, {"op": "S", "ref": "b", "hyp": "c"},
           {"op": "D", "ref": "d", "hyp": None}, {"op": "I", "ref": None, "hyp": "e"}]
    out = to_html(Document("t", [Section("s", [Alignment("u1", ops)])]))
    for kind in "CSDI":
        assert out.count(f'class="w {kind}"') == 1
    markdown = to_markdown(Document("t", [Section("s", [Alignment("u1", ops)])]), "f")
    assert "REF: a b d   ***" in markdown and "HYP: a c *** e" in markdown
