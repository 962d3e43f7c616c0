"""WER report: totals, per-utterance alignments, per-speaker rates and the most common errors.

Alignments come from jiwer (``process_words`` / ``process_characters``, i.e. RapidFuzz
Levenshtein opcodes), so the numbers match what ``jiwer.wer`` prints.  Every rate is
computed from *summed counts* (errors / reference words), never by averaging
per-utterance rates, so long utterances weigh what they should.

With an empty reference a rate is the raw error count (jiwer's convention): 0 when the
hypothesis is empty too, otherwise the number of inserted words.  Nothing divides by zero.

Texts are expected to be normalised already; the only change made here is collapsing
runs of whitespace, so the character error rate counts single spaces between words.
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jiwer

from seqkit.reports.markdown import cell, percent, table

GAP = "***"  # stands for the missing word of an insertion or deletion, as in Kaldi/sclite
OPS = {"equal": "C", "substitute": "S", "delete": "D", "insert": "I"}


@dataclass
class Counts:
    """Edit operations of one alignment (or a sum of them)."""

    hits: int = 0
    substitutions: int = 0
    deletions: int = 0
    insertions: int = 0

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def ref_len(self) -> int:
        return self.hits + self.substitutions + self.deletions

    @property
    def rate(self) -> float:
        return error_rate(self.errors, self.ref_len)

    def __iadd__(self, other: Counts) -> Counts:
        self.hits += other.hits
        self.substitutions += other.substitutions
        self.deletions += other.deletions
        self.insertions += other.insertions
        return self


def error_rate(errors: int, ref_len: int) -> float:
    """``errors / ref_len``; with an empty reference the error count itself (jiwer's rule)."""
    return errors / ref_len if ref_len else float(errors)


def _normalise_space(text: str) -> str:
    return " ".join(text.split())


def _chunks(ref: list[str], hyp: list[str], chunks: list[Any] | None) -> list[tuple[str, int, int, int, int]]:
    """jiwer's alignment chunks as ``(op, i1, i2, j1, j2)``.

    An empty side is aligned here: jiwer 3.x refuses empty references, and the answer
    (all insertions or all deletions) needs no Levenshtein.
    """
    if chunks is None:
        if ref:
            return [("D", 0, len(ref), 0, 0)]
        return [("I", 0, 0, 0, len(hyp))] if hyp else []
    return [(OPS[c.type], c.ref_start_idx, c.ref_end_idx, c.hyp_start_idx, c.hyp_end_idx) for c in chunks]


def _align_all(refs: list[str], hyps: list[str], unit: str) -> list[tuple[list[str], list[str], list]]:
    """Tokens and alignment chunks of every pair; one batched jiwer call for the non-empty pairs."""
    split = (lambda s: s.split()) if unit == "word" else list
    tokens = [(split(r), split(h)) for r, h in zip(refs, hyps)]
    both = [i for i, (r, h) in enumerate(tokens) if r and h]
    chunks: list[Any] = [None] * len(tokens)
    if both:
        process = jiwer.process_words if unit == "word" else jiwer.process_characters
        out = process([refs[i] for i in both], [hyps[i] for i in both])
        for i, alignment in zip(both, out.alignments):
            chunks[i] = alignment
    return [(r, h, _chunks(r, h, c)) for (r, h), c in zip(tokens, chunks)]


def _counts(chunks: list[tuple[str, int, int, int, int]]) -> Counts:
    counts = Counts()
    for op, i1, i2, j1, j2 in chunks:
        if op == "C":
            counts.hits += i2 - i1
        elif op == "S":
            counts.substitutions += i2 - i1
        elif op == "D":
            counts.deletions += i2 - i1
        else:
            counts.insertions += j2 - j1
    return counts


def _ops(ref: list[str], hyp: list[str], chunks: list[tuple[str, int, int, int, int]]) -> list[dict]:
    """One ``{"op", "ref", "hyp"}`` per aligned position; the absent side of D/I is ``None``."""
    ops: list[dict] = []
    for op, i1, i2, j1, j2 in chunks:
        if op in ("C", "S"):
            ops += [{"op": op, "ref": ref[i], "hyp": hyp[j]} for i, j in zip(range(i1, i2), range(j1, j2))]
        elif op == "D":
            ops += [{"op": "D", "ref": ref[i], "hyp": None} for i in range(i1, i2)]
        else:
            ops += [{"op": "I", "ref": None, "hyp": hyp[j]} for j in range(j1, j2)]
    return ops


def _check(records: list[dict]) -> None:
    seen: set[str] = set()
    for index, record in enumerate(records):
        missing = [key for key in ("id", "ref", "hyp") if key not in record]
        if missing:
            raise ValueError(f"record {index} (id={record.get('id')!r}) lacks {', '.join(missing)}")
        if str(record["id"]) in seen:
            raise ValueError(f"record {index}: duplicate id {record['id']!r}")
        seen.add(str(record["id"]))


def _count_fields(counts: Counts, prefix: str = "") -> dict[str, int]:
    return {
        f"{prefix}substitutions": counts.substitutions,
        f"{prefix}deletions": counts.deletions,
        f"{prefix}insertions": counts.insertions,
        f"{prefix}hits": counts.hits,
        f"{prefix}errors": counts.errors,
    }


def _top(counter: Counter, top_n: int) -> list[tuple[Any, int]]:
    # Ties broken by the key so reports are reproducible.
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:top_n]


def build_wer_report(records: list[dict], top_n: int = 20) -> dict:
    """Score ``records`` (``{"id", "speaker", "ref", "hyp", "duration"?}``) into a JSON-ready dict.

    Records of a phoneme model also carry ``ref_phones`` and ``hyp_phones`` (space-separated
    phonemes of the reference and of the model's greedy output); when all do, the totals and
    utterances get a phoneme error rate, ``per``.

    Keys: ``totals``, ``speakers`` (worst WER first), ``worst`` (the ``top_n`` utterances
    with most errors, then highest WER), ``substitutions`` / ``deletions`` /
    ``insertions`` (the ``top_n`` most frequent), and ``utterances`` (input order, each
    with its word alignment as a list of ``{"op": C|S|D|I, "ref", "hyp"}``).
    """
    _check(records)
    refs = [_normalise_space(str(r["ref"])) for r in records]
    hyps = [_normalise_space(str(r["hyp"])) for r in records]
    words = _align_all(refs, hyps, "word")
    chars = _align_all(refs, hyps, "char")
    with_phones = bool(records) and all("ref_phones" in r and "hyp_phones" in r for r in records)
    phones = _align_all([_normalise_space(str(r["ref_phones"])) for r in records],
                        [_normalise_space(str(r["hyp_phones"])) for r in records], "word") if with_phones else None
    total_phones = Counts()

    total, total_chars = Counts(), Counts()
    by_speaker: dict[str, Counts] = defaultdict(Counts)
    speaker_utts: Counter = Counter()
    subs: Counter = Counter()
    dels: Counter = Counter()
    ins: Counter = Counter()
    utterances: list[dict] = []
    duration: float | None = None  # stays None when no record carries a duration
    for index, (record, ref, hyp, (ref_w, hyp_w, w_chunks), (_, _, c_chunks)) in enumerate(
        zip(records, refs, hyps, words, chars)
    ):
        counts, char_counts = _counts(w_chunks), _counts(c_chunks)
        ops = _ops(ref_w, hyp_w, w_chunks)
        speaker = str(record.get("speaker", ""))
        total += counts
        total_chars += char_counts
        by_speaker[speaker] += counts
        speaker_utts[speaker] += 1
        for op in ops:
            if op["op"] == "S":
                subs[(op["ref"], op["hyp"])] += 1
            elif op["op"] == "D":
                dels[op["ref"]] += 1
            elif op["op"] == "I":
                ins[op["hyp"]] += 1
        if record.get("duration") is not None:
            duration = (duration or 0.0) + float(record["duration"])
        utterances.append(
            {
                "id": str(record["id"]),
                "speaker": speaker,
                "duration": record.get("duration"),
                "ref": ref,
                "hyp": hyp,
                "wer": counts.rate,
                "cer": char_counts.rate,
                "ref_words": counts.ref_len,
                "ref_chars": char_counts.ref_len,
                **_count_fields(counts),
                **_count_fields(char_counts, "char_"),
                "alignment": ops,
            }
        )
        if phones is not None:
            ref_p, hyp_p, p_chunks = phones[index]
            phone_counts = _counts(p_chunks)
            total_phones += phone_counts
            utterances[-1].update(ref_phones=" ".join(ref_p), hyp_phones=" ".join(hyp_p), per=phone_counts.rate,
                                  ref_phonemes=phone_counts.ref_len, **_count_fields(phone_counts, "phone_"))

    totals = {
        "wer": total.rate,
        "cer": total_chars.rate,
        **_count_fields(total),
        "utterances": len(records),
        "utterances_with_errors": sum(1 for u in utterances if u["errors"]),
        "sentence_error_rate": error_rate(sum(1 for u in utterances if u["errors"]), len(records)),
        "ref_words": total.ref_len,
        "hyp_words": total.hits + total.substitutions + total.insertions,
        "ref_chars": total_chars.ref_len,
        **_count_fields(total_chars, "char_"),
        "duration": duration,
    }
    if phones is not None:
        totals.update(per=total_phones.rate, ref_phonemes=total_phones.ref_len, **_count_fields(total_phones, "phone_"))
    speakers = [
        {"speaker": spk, "utterances": speaker_utts[spk], "ref_words": c.ref_len, "wer": c.rate, **_count_fields(c)}
        for spk, c in by_speaker.items()
    ]
    speakers.sort(key=lambda s: (-s["wer"], s["speaker"]))
    erroneous = [u for u in utterances if u["errors"]]
    erroneous.sort(key=lambda u: (-u["errors"], -u["wer"], u["id"]))
    worst = [
        {k: u[k] for k in ("id", "speaker", "ref_words", "errors", "substitutions", "deletions", "insertions", "wer")}
        for u in erroneous[:top_n]
    ]
    return {
        "totals": totals,
        "speakers": speakers,
        "worst": worst,
        "substitutions": [{"ref": r, "hyp": h, "count": n} for (r, h), n in _top(subs, top_n)],
        "deletions": [{"word": w, "count": n} for w, n in _top(dels, top_n)],
        "insertions": [{"word": w, "count": n} for w, n in _top(ins, top_n)],
        "utterances": utterances,
    }


# ---------------------------------------------------------------------------- rendering


def _width(text: str) -> int:
    """Terminal columns of ``text``: wide East Asian characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))


def format_alignment(ops: list[dict]) -> str:
    """Kaldi-style aligned ``REF:``/``HYP:`` lines plus an ``OP:`` line marking S/D/I.

    Columns are padded to the wider word; ``***`` fills the gap of a deletion/insertion.
    """
    ref_cells, hyp_cells, op_cells = [], [], []
    for op in ops:
        ref, hyp = op["ref"] or GAP, op["hyp"] or GAP
        width = max(_width(ref), _width(hyp))
        ref_cells.append(_pad(ref, width))
        hyp_cells.append(_pad(hyp, width))
        op_cells.append(_pad("" if op["op"] == "C" else op["op"], width))
    lines = ["REF: " + " ".join(ref_cells), "HYP: " + " ".join(hyp_cells), "OP:  " + " ".join(op_cells)]
    return "\n".join(line.rstrip() for line in lines)


def format_summary(report: dict) -> str:
    """A few console lines: WER and CER with their counts, utterances and words."""
    t = report["totals"]
    lines = [
        f"WER {percent(t['wer'])} [ {t['errors']} / {t['ref_words']} words: "
        f"{t['substitutions']} sub, {t['deletions']} del, {t['insertions']} ins ]",
        f"CER {percent(t['cer'])} [ {t['char_errors']} / {t['ref_chars']} chars ]",
        *([f"PER {percent(t['per'])} [ {t['phone_errors']} / {t['ref_phonemes']} phonemes, greedy output ]"]
          if "per" in t else []),
        f"utterances {t['utterances']} ({t['utterances_with_errors']} with errors, "
        f"SER {percent(t['sentence_error_rate'])}), reference words {t['ref_words']}",
    ]
    return "\n".join(lines)


def format_markdown(report: dict) -> str:
    """The report as Markdown: tables for totals, speakers and errors; alignments in code blocks."""
    t = report["totals"]
    out = ["# WER report", "", "## Totals", ""]
    out += table(
        ["metric", "value"],
        [
            ["WER", f"{percent(t['wer'])} ({t['errors']} / {t['ref_words']})"],
            ["CER", f"{percent(t['cer'])} ({t['char_errors']} / {t['ref_chars']})"],
            *([["PER (greedy phonemes)", f"{percent(t['per'])} ({t['phone_errors']} / {t['ref_phonemes']})"]]
              if "per" in t else []),
            ["substitutions", t["substitutions"]],
            ["deletions", t["deletions"]],
            ["insertions", t["insertions"]],
            ["hits", t["hits"]],
            ["utterances", t["utterances"]],
            ["utterances with errors", f"{t['utterances_with_errors']} (SER {percent(t['sentence_error_rate'])})"],
            ["reference words", t["ref_words"]],
            ["reference chars", t["ref_chars"]],
        ]
        + ([["audio", f"{t['duration'] / 3600:.2f} h"]] if t["duration"] is not None else []),
    )
    out += ["", "## WER per speaker (worst first)", ""]
    out += table(
        ["speaker", "utterances", "words", "sub", "del", "ins", "WER"],
        [
            [s["speaker"], s["utterances"], s["ref_words"], s["substitutions"], s["deletions"], s["insertions"],
             percent(s["wer"])]
            for s in report["speakers"]
        ],
    )
    out += ["", f"## Worst {len(report['worst'])} utterances", ""]
    out += table(
        ["id", "speaker", "words", "sub", "del", "ins", "WER"],
        [
            [u["id"], u["speaker"], u["ref_words"], u["substitutions"], u["deletions"], u["insertions"],
             percent(u["wer"])]
            for u in report["worst"]
        ],
    )
    out += ["", "## Most frequent substitutions", ""]
    out += table(["ref", "hyp", "count"], [[s["ref"], s["hyp"], s["count"]] for s in report["substitutions"]])
    for kind in ("deletions", "insertions"):
        out += ["", f"## Most frequent {kind}", ""]
        out += table(["word", "count"], [[d["word"], d["count"]] for d in report[kind]])
    wrong = [u for u in report["utterances"] if u["errors"]]
    out += [
        "",
        f"## Utterances with errors ({len(wrong)} of {len(report['utterances'])}; "
        "error-free ones are listed only in wer_report.json)",
        "",
    ]
    for u in wrong:
        out += [
            f"### {u['id']} (speaker {cell(u['speaker'])}): WER {percent(u['wer'])}, "
            f"{u['substitutions']} sub, {u['deletions']} del, {u['insertions']} ins",
            "",
            "```text",
            format_alignment(u["alignment"]),
            "```",
            "",
        ]
    return "\n".join(out).rstrip() + "\n"


def write_wer_report(report: dict, out_dir: Path) -> tuple[Path, Path]:
    """Write ``wer_report.json`` and ``wer_report.md`` into ``out_dir``; return both paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "wer_report.json", out_dir / "wer_report.md"
    json_path.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    md_path.write_text(format_markdown(report), encoding="utf-8")
    return json_path, md_path
