"""A report as plain blocks, rendered twice: to one self-contained HTML file and to Markdown.

The builders (:mod:`seqkit.reports.sections`) say *what* to show; :mod:`seqkit.reports.html`
and :func:`to_markdown` say how.  Every text in a block is the user's data, unescaped:
each renderer escapes it for its own format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

from seqkit.reports.markdown import table as md_table
from seqkit.reports.wer import format_alignment


@dataclass
class Text:
    text: str
    note: bool = False  # a remark such as "not recorded" (shown muted)


@dataclass
class Table:
    header: list[str]
    rows: list[list[Any]]
    caption: str = ""


@dataclass
class Figure:
    name: str  # file stem for the Markdown copy: letters, digits, '-' and '_'
    png: bytes
    alt: str


@dataclass
class Code:
    text: str
    language: str = "text"


@dataclass
class Alignment:
    """A word alignment (``[{"op": C|S|D|I, "ref", "hyp"}]``) with its title line."""

    title: str
    ops: list[dict]


Block = Union[Text, Table, Figure, Code, Alignment]


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)
    children: list["Section"] = field(default_factory=list)
    anchor: str = ""


@dataclass
class Document:
    title: str
    sections: list[Section]
    subtitle: str = ""


def figures(document: Document) -> list[Figure]:
    found: list[Figure] = []

    def walk(section: Section) -> None:
        found.extend(b for b in section.blocks if isinstance(b, Figure))
        for child in section.children:
            walk(child)

    for section in document.sections:
        walk(section)
    return found


def _md_blocks(blocks: list[Block], image_dir: str) -> list[str]:
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Text):
            out += [f"_{block.text}_" if block.note else block.text, ""]
        elif isinstance(block, Table):
            if block.caption:
                out += [block.caption, ""]
            out += md_table(block.header, block.rows) + [""]
        elif isinstance(block, Figure):
            out += [f"![{block.alt}]({image_dir}/{block.name}.png)", ""]
        elif isinstance(block, Code):
            fence = "````" if "```" in block.text else "```"
            out += [fence + block.language, block.text.rstrip("\n"), fence, ""]
        elif isinstance(block, Alignment):
            out += [f"**{block.title}**", "", "```text", format_alignment(block.ops), "```", ""]
    return out


def to_markdown(document: Document, image_dir: str) -> str:
    """Markdown with figures linked as ``image_dir/NAME.png`` (the caller writes them there)."""
    out = [f"# {document.title}", ""]
    if document.subtitle:
        out += [document.subtitle, ""]

    def walk(section: Section, level: int) -> None:
        out.extend([f"{'#' * level} {section.title}", ""])
        out.extend(_md_blocks(section.blocks, image_dir))
        for child in section.children:
            walk(child, min(level + 1, 6))

    for section in document.sections:
        walk(section, 2)
    return "\n".join(out).rstrip() + "\n"
