"""WER report: hand-computed counts, speaker breakdown, error tables and the written files."""

from __future__ import annotations

import json

import jiwer
import pytest

from seqkit.reports.wer import build_wer_report, format_alignment, format_summary, write_wer_report


def rec(utt: str, ref: str, hyp: str, speaker: str = "s1", duration: float | None = None) -> dict:
    record = {"id": utt, "speaker": speaker, "ref": ref, "hyp": hyp}
    if duration is not None:
        record["duration"] = duration
    return record


def test_one_substitution_one_insertion() -> None:
    report = build_wer_report([rec("u1", "a b c", "a x c d")])
    t = report["totals"]
    assert (t["substitutions"], t["deletions"], t["insertions"], t["hits"]) == (1, 0, 1, 2)
    assert t["ref_words"] == 3 and t["hyp_words"] == 4 and t["utterances"] == 1
    assert t["wer"] == pytest.approx(2 / 3)
    # chars "a b c" vs "a x c d": b->x, then " d" inserted: 1 sub + 2 ins over 5 chars.
    assert (t["char_substitutions"], t["char_insertions"], t["ref_chars"]) == (1, 2, 5)
    assert t["cer"] == pytest.approx(3 / 5)
    ops = [(o["op"], o["ref"], o["hyp"]) for o in report["utterances"][0]["alignment"]]
    assert ops == [("C", "a", "a"), ("S", "b", "x"), ("C", "c", "c"), ("I", None, "d")]


def test_totals_are_summed_counts_not_mean_of_rates() -> None:
    records = [rec("u1", "a b c d", "a b c d"), rec("u2", "e", "f")]
    t = build_wer_report(records)["totals"]
    assert t["wer"] == pytest.approx(1 / 5)  # the mean of rates would say 0.5
    assert t["utterances_with_errors"] == 1 and t["sentence_error_rate"] == pytest.approx(0.5)


def test_agrees_with_jiwer_on_a_batch() -> None:
    refs = ["the cat sat on the mat", "hello world", "one two three four", "a"]
    hyps = ["the cat sat on mat", "hello there world", "one too three for five", "b c"]
    report = build_wer_report([rec(f"u{i}", r, h) for i, (r, h) in enumerate(zip(refs, hyps))])
    assert report["totals"]["wer"] == pytest.approx(jiwer.wer(refs, hyps))
    assert report["totals"]["cer"] == pytest.approx(jiwer.cer(refs, hyps))


def test_empty_reference_and_hypothesis_do_not_crash() -> None:
    report = build_wer_report([rec("silent", "", ""), rec("noise", "", "uh um"), rec("mute", "a b", "")])
    by_id = {u["id"]: u for u in report["utterances"]}
    assert by_id["silent"]["errors"] == 0 and by_id["silent"]["wer"] == 0.0
    assert by_id["noise"]["insertions"] == 2 and by_id["noise"]["wer"] == 2.0  # count, not a ratio
    assert by_id["mute"]["deletions"] == 2 and by_id["mute"]["wer"] == 1.0
    t = report["totals"]
    assert (t["errors"], t["ref_words"]) == (4, 2) and t["wer"] == pytest.approx(2.0)
    only_empty = build_wer_report([rec("x", "", "")])["totals"]
    assert only_empty["wer"] == 0.0 and only_empty["cer"] == 0.0


def test_whitespace_is_collapsed() -> None:
    t = build_wer_report([rec("u", "  a   b ", "a b")])["totals"]
    assert t["errors"] == 0 and t["char_errors"] == 0 and t["ref_chars"] == 3


def test_speaker_breakdown_sums_counts_and_sorts_worst_first() -> None:
    records = [
        rec("a1", "one two", "one two", speaker="alice"),
        rec("a2", "three four", "three", speaker="alice"),  # 1 del over 4 words
        rec("b1", "five six", "fix sex", speaker="bob"),  # 2 sub over 2 words
        rec("c1", "seven", "seven", speaker="carol"),
    ]
    speakers = build_wer_report(records)["speakers"]
    assert [s["speaker"] for s in speakers] == ["bob", "alice", "carol"]
    alice = speakers[1]
    assert (alice["utterances"], alice["ref_words"], alice["deletions"]) == (2, 4, 1)
    assert alice["wer"] == pytest.approx(0.25)
    assert speakers[0]["wer"] == pytest.approx(1.0) and speakers[2]["wer"] == 0.0


def test_substitution_deletion_insertion_tables() -> None:
    records = [
        rec("u1", "ken lo ken", "ken ken ken"),  # lo->ken
        rec("u2", "lo lo", "ken ken"),  # lo->ken twice
        rec("u3", "yes no", "yes know"),  # no->know
        rec("u4", "a b c", "a c"),  # b deleted
        rec("u5", "x", "x y y"),  # y inserted twice
    ]
    report = build_wer_report(records, top_n=1)
    assert report["substitutions"] == [{"ref": "lo", "hyp": "ken", "count": 3}]
    full = build_wer_report(records)
    assert full["substitutions"][1] == {"ref": "no", "hyp": "know", "count": 1}
    assert full["deletions"] == [{"word": "b", "count": 1}]
    assert full["insertions"] == [{"word": "y", "count": 2}]


def test_worst_utterances_by_errors_then_wer() -> None:
    records = [
        rec("short", "a", "b"),  # 1 error, WER 1.0
        rec("long", "a b c d", "a b c e"),  # 1 error, WER 0.25
        rec("bad", "a b c d", "e f g"),  # 4 errors
        rec("ok", "a", "a"),
    ]
    report = build_wer_report(records, top_n=2)
    assert [u["id"] for u in report["worst"]] == ["bad", "short"]
    assert [u["id"] for u in build_wer_report(records)["worst"]] == ["bad", "short", "long"]  # no error-free ones


def test_alignment_columns_line_up() -> None:
    ops = build_wer_report([rec("u", "the cat sat", "a cat sat down")])["utterances"][0]["alignment"]
    ref, hyp, op = format_alignment(ops).splitlines()
    assert ref == "REF: the cat sat ***"
    assert hyp == "HYP: a   cat sat down"
    assert op == "OP:  S           I"


def test_phoneme_error_rate_when_every_record_carries_phonemes() -> None:
    records = [
        {**rec("u1", "the cat", "the mat"), "ref_phones": "DH AH K AE T", "hyp_phones": "DH AH M AE T"},
        {**rec("u2", "two", "two"), "ref_phones": "T UW", "hyp_phones": "T UW UW"},
    ]
    report = build_wer_report(records)
    t = report["totals"]
    assert (t["phone_substitutions"], t["phone_insertions"], t["ref_phonemes"]) == (1, 1, 7)
    assert t["per"] == pytest.approx(2 / 7)
    assert [u["per"] for u in report["utterances"]] == pytest.approx([1 / 5, 1 / 2])
    assert "PER 28.57% [ 2 / 7 phonemes, greedy output ]" in format_summary(report)
    # Without phonemes on every record, no PER at all (not one computed from some of them).
    report = build_wer_report([records[0], rec("u3", "a", "a")])
    assert "per" not in report["totals"] and "PER" not in format_summary(report)


def test_bad_records_are_rejected() -> None:
    with pytest.raises(ValueError, match="lacks hyp"):
        build_wer_report([{"id": "u", "ref": "a"}])
    with pytest.raises(ValueError, match="duplicate id"):
        build_wer_report([rec("u", "a", "a"), rec("u", "b", "b")])


def test_files_written(tmp_path) -> None:
    records = [rec("u1", "a b c", "a x c d", speaker="s|1", duration=1.5), rec("u2", "d e", "d e", duration=2.0)]
    report = build_wer_report(records)
    json_path, md_path = write_wer_report(report, tmp_path / "out")
    assert json_path.name == "wer_report.json" and md_path.name == "wer_report.md"
    loaded = json.loads(json_path.read_text(encoding="utf-8"))
    assert loaded["totals"]["insertions"] == 1 and loaded["totals"]["duration"] == pytest.approx(3.5)
    assert loaded["utterances"][0]["alignment"][1] == {"op": "S", "ref": "b", "hyp": "x"}
    md = md_path.read_text(encoding="utf-8")
    assert "| WER | 40.00% (2 / 5) |" in md
    assert "s\\|1" in md  # a pipe in a cell is escaped
    assert "REF: a b c ***" in md and "### u2" not in md  # error-free utterances stay in the JSON only
    summary = format_summary(report)
    assert "WER 40.00%" in summary and "1 sub, 0 del, 1 ins" in summary and "utterances 2" in summary
