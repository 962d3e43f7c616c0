"""Markdown helpers shared by the reports."""

from __future__ import annotations

from typing import Any, Iterable


def percent(rate: float) -> str:
    return f"{100 * rate:.2f}%"


def cell(value: Any) -> str:
    # A pipe inside a cell would end it; an empty cell is shown explicitly.
    text = "" if value is None else str(value)
    return text.replace("|", "\\|") if text else "∅"


def table(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> list[str]:
    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return lines
