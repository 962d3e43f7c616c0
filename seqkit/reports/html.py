"""Render a :class:`~seqkit.reports.document.Document` as one self-contained HTML file.

No script, no external stylesheet, font or image: figures are ``data:image/png;base64``
URIs, so the file can be mailed or opened offline.  Every text from the run (ids,
transcripts, class names, config) goes through :func:`html.escape`.
"""

from __future__ import annotations

import base64
import html
import re

from seqkit.reports.document import Alignment, Block, Code, Document, Figure, Section, Table, Text

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1100px;
       padding: 0 1em; color: #222; line-height: 1.4; }
h1 { border-bottom: 2px solid #444; padding-bottom: .2em; }
h2 { border-bottom: 1px solid #bbb; margin-top: 2em; }
.scroll { overflow-x: auto; max-width: 100%; }  /* wide tables (config differences) scroll, the page does not */
table { border-collapse: collapse; margin: .6em 0 1.2em; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
caption { caption-side: top; text-align: left; font-weight: 600; padding-bottom: .3em; }
pre { background: #f7f7f7; border: 1px solid #ddd; padding: .8em; overflow-x: auto; font-size: .85em; }
img { max-width: 100%; height: auto; display: block; margin: .5em 0 1.2em; }
p.note { color: #777; font-style: italic; }
nav ul { columns: 2; }
.align { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: .9em; margin: .3em 0 1em;
         display: flex; flex-wrap: wrap; gap: .25em .5em; }
.align .w { display: inline-flex; flex-direction: column; border-radius: 3px; padding: 0 .25em; }
.align .C { color: #333; }
.align .S { background: #fde2a7; }
.align .D { background: #f6b3b3; }
.align .I { background: #b9e4b9; }
.align .D .hyp, .align .I .ref { color: #999; }
.legend span { padding: 0 .4em; margin-right: .6em; border-radius: 3px; }
.legend .S { background: #fde2a7; } .legend .D { background: #f6b3b3; } .legend .I { background: #b9e4b9; }
"""

GAP = "***"


def _is_number(value: object) -> bool:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return True
    return isinstance(value, str) and re.fullmatch(r"-?[\d,.]+ ?%?", value.strip() or "x") is not None


def _table(block: Table) -> str:
    out = ['<div class="scroll"><table>']
    if block.caption:
        out.append(f"<caption>{html.escape(block.caption)}</caption>")
    if any(block.header):  # a key-value table has no header
        out.append("<tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in block.header) + "</tr>")
    for row in block.rows:
        cells = []
        for value in row:
            text = "" if value is None else str(value)
            css = ' class="num"' if _is_number(value) else ""
            cells.append(f"<td{css}>{html.escape(text)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table></div>")
    return "\n".join(out)


def _alignment(block: Alignment) -> str:
    words = []
    for op in block.ops:
        kind = op["op"] if op["op"] in ("C", "S", "D", "I") else "C"
        ref, hyp = op.get("ref") or GAP, op.get("hyp") or GAP
        title = {"S": "substitution", "D": "deletion", "I": "insertion", "C": "correct"}[kind]
        words.append(f'<span class="w {kind}" title="{title}"><span class="ref">{html.escape(ref)}</span>'
                     f'<span class="hyp">{html.escape(hyp)}</span></span>')
    return f"<p><b>{html.escape(block.title)}</b></p>\n<div class=\"align\">{''.join(words)}</div>"


def _block(block: Block) -> str:
    if isinstance(block, Text):
        css = ' class="note"' if block.note else ""
        return f"<p{css}>{html.escape(block.text)}</p>"
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Figure):
        data = base64.b64encode(block.png).decode("ascii")
        return f'<img alt="{html.escape(block.alt, quote=True)}" src="data:image/png;base64,{data}">'
    if isinstance(block, Code):
        return f"<pre><code>{html.escape(block.text)}</code></pre>"
    if isinstance(block, Alignment):
        return _alignment(block)
    raise TypeError(f"unknown block {type(block).__name__}")


def _anchor(title: str, used: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "section"
    anchor, n = base, 1
    while anchor in used:
        n += 1
        anchor = f"{base}-{n}"
    used.add(anchor)
    return anchor


def _section(section: Section, level: int, used: set[str]) -> str:
    section.anchor = section.anchor or _anchor(section.title, used)
    out = [f'<section id="{section.anchor}">', f"<h{level}>{html.escape(section.title)}</h{level}>"]
    out += [_block(b) for b in section.blocks]
    out += [_section(child, min(level + 1, 6), used) for child in section.children]
    out.append("</section>")
    return "\n".join(out)


def to_html(document: Document) -> str:
    used: set[str] = set()
    body = [_section(s, 2, used) for s in document.sections]
    toc = "".join(f'<li><a href="#{s.anchor}">{html.escape(s.title)}</a></li>' for s in document.sections)
    subtitle = f"<p>{html.escape(document.subtitle)}</p>" if document.subtitle else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<link rel="icon" href="data:,">\n'  # no favicon request
        f"<title>{html.escape(document.title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{html.escape(document.title)}</h1>\n{subtitle}\n<nav><ul>{toc}</ul></nav>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )
