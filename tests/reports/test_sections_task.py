"""Task sections: speech (from wer_report.json), classification (accuracy_report.json), language model (losses)."""

from __future__ import annotations

from pathlib import Path

import pytest

from seqkit.reports.document import Alignment, Code, Text
from seqkit.reports.plots import bar_plot
from seqkit.reports.run_dir import load_run
from seqkit.reports.sections_task import classification_sections, language_model_sections, length_bins, speech_sections
from seqkit.reports.wer import build_wer_report


def rec(utt: str, ref: str, hyp: str, speaker: str = "s1", duration: float | None = None) -> dict:
    return {"id": utt, "speaker": speaker, "ref": ref, "hyp": hyp, **({} if duration is None else {"duration": duration})}


# 4 errors in 9 words, 6 in 14 characters; speaker "" is a corpus without speakers.
SPEECH = [rec("u1", "a b c", "a x c d", duration=6.0), rec("u2", "d e", "d e", duration=7.0),
          rec("u3", "f g h", "f h", "s2", 8.0), rec("u4", "i", "j", "", 9.0)]
BY_LENGTH = [rec("u1", "a", "b", duration=1.0), rec("u2", "a b c d", "a b c d", duration=2.0),  # 1 error / 5 words
             rec("u3", "a b", "a b", duration=3.0), rec("u4", "a b", "a", duration=4.0),  # 1 / 4
             rec("u5", "a b c", "x y z", duration=5.0), rec("u6", "a", "a", duration=6.0)]  # 3 / 4


def utterances(records: list[dict]) -> list[dict]:
    return build_wer_report(records)["utterances"]


def test_length_bins_hold_equal_numbers_and_sum_errors_over_words() -> None:
    unit, bins = length_bins(utterances(BY_LENGTH), bins=3)
    assert unit == "duration"
    assert bins == [  # the longest utterance is in the last bin, not past it
        {"bin": "1.0-2.0 s", "utterances": 2, "ref_words": 5, "errors": 1, "wer": 0.2},  # not the mean of 100% and 0%
        {"bin": "3.0-4.0 s", "utterances": 2, "ref_words": 4, "errors": 1, "wer": 0.25},
        {"bin": "5.0-6.0 s", "utterances": 2, "ref_words": 4, "errors": 3, "wer": 0.75},
    ]


def test_length_bins_count_words_when_a_duration_is_missing() -> None:
    records = BY_LENGTH[:5] + [rec("u6", "a", "a")]
    unit, bins = length_bins(utterances(records), bins=2)  # 1, 4, 2, 2, 3, 1 words: edges 1, 2, 4
    assert unit == "reference words"
    assert [(b["bin"], b["utterances"], b["errors"], b["ref_words"]) for b in bins] == [("1 word", 2, 1, 2),
                                                                                        ("2-4 words", 4, 4, 11)]


def test_length_bins_of_equal_lengths_are_one_bin() -> None:
    assert length_bins(utterances([rec("u1", "a", "b", duration=2.0), rec("u2", "c", "c", duration=2.0)]))[1] == [
        {"bin": "2.0 s", "utterances": 2, "ref_words": 2, "errors": 1, "wer": 0.5}]
    assert [b["bin"] for b in length_bins(utterances([rec("u1", "a", "b"), rec("u2", "c", "c")]))[1]] == ["1 word"]


@pytest.fixture(scope="module")
def speech(tmp_path_factory, make_run, evaluate):
    run = make_run(tmp_path_factory.mktemp("speech") / "digits")
    evaluate(run, wer=SPEECH)
    run = load_run(run)
    return run, run.evaluation.wer, speech_sections(run)


def test_speech_totals(speech) -> None:
    _, _, (totals, *_) = speech
    assert totals.title == "Word and character error rates"
    assert totals.blocks[0].rows == [
        ["WER", "44.44% (4 / 9 words)"], ["CER", "42.86% (6 / 14 characters)"],
        ["substitutions", 2], ["deletions", 1], ["insertions", 1], ["correct words", 6],
        ["utterances (with errors)", "4 (3, SER 75.00%)"], ["audio", "0.5 min"]]


def test_speech_per_speaker_worst_first(speech) -> None:
    _, _, (_, per_speaker, *_) = speech
    figure, table = per_speaker.blocks
    assert figure.name == "digits-wer-speaker"
    assert figure.png == bar_plot(["(none)", "s1", "s2"], [1.0, 0.4, 1 / 3], "WER (%)", "WER per speaker", counts=[1, 5, 3])
    assert table.rows == [["", 1, 1, 1, 0, 0, "100.00%"], ["s1", 2, 5, 1, 0, 1, "40.00%"], ["s2", 1, 3, 0, 1, 0, "33.33%"]]


def test_speech_by_length_shows_the_bins(speech) -> None:
    _, report, (_, _, by_length, *_) = speech
    unit, bins = length_bins(report["utterances"])
    figure, table = by_length.blocks  # durations recorded: no note
    assert figure.png == bar_plot([b["bin"] for b in bins], [b["wer"] for b in bins], "WER (%)", "WER by duration",
                                  counts=[b["utterances"] for b in bins], horizontal=False)
    assert table.header[0] == "duration" and [r[0] for r in table.rows] == ["6.0 s", "7.0 s", "8.0 s", "9.0 s"]


def test_speech_worst_utterances_and_confusions(speech) -> None:
    _, report, (*_, worst, confusions) = speech
    assert worst.title == "Worst 3 utterances"
    alignments = worst.blocks[1:]
    assert [a.title for a in alignments] == ["u1 (speaker s1): WER 66.67%, 1 sub, 0 del, 1 ins",
                                             "u4 (speaker -): WER 100.00%, 1 sub, 0 del, 0 ins",
                                             "u3 (speaker s2): WER 33.33%, 0 sub, 1 del, 0 ins"]
    assert alignments[0].ops == report["utterances"][0]["alignment"]
    subs, dels, ins = confusions.blocks
    assert (subs.rows, dels.rows, ins.rows) == ([["b", "x", 1], ["i", "j", 1]], [["g", 1]], [["d", 1]])


def test_speech_sections_of_many_speakers_and_errors_are_capped(tmp_path: Path, make_run, evaluate) -> None:
    # 45 speakers of one wrong word each, without durations.
    run = make_run(tmp_path / "big")
    evaluate(run, wer=[rec(f"u{i:02}", f"w{i}", f"v{i}", f"s{i:02}") for i in range(45)])
    _, per_speaker, by_length, worst, _ = speech_sections(load_run(run))
    figure, table = per_speaker.blocks
    assert figure.png[16:24] == (675).to_bytes(4, "big") + (1098).to_bytes(4, "big")  # 40 bars tall, not 45
    assert len(table.rows) == 45  # the table lists them all
    assert by_length.blocks[0] == Text("the report records no durations: utterances are grouped by reference words", note=True)
    assert worst.title == "Worst 10 utterances" and sum(isinstance(b, Alignment) for b in worst.blocks) == 10


def test_speech_without_errors_or_report(tmp_path: Path, make_run, evaluate) -> None:
    perfect = make_run(tmp_path / "perfect")
    evaluate(perfect, wer=[rec("u1", "a b", "a b", duration=1.0)])
    worst = speech_sections(load_run(perfect))[3]
    assert worst.title == "Worst 0 utterances" and worst.blocks[-1] == Text("no utterance has an error", note=True)
    for stage in (None, "validate"):  # where the report should be: RUN/test, or the evaluation that has none
        run = make_run(tmp_path / f"none-{stage}")
        if stage:
            evaluate(run, stage=stage)
        (section,) = speech_sections(load_run(run))
        assert section.blocks == [Text(f"no wer_report.json in {run / (stage or 'test')}: run `seqkit test --config "
                                       f"{run}/config.yaml --ckpt_path {run}/checkpoints/CKPT` to write it", note=True)]


CLASSES = ["a", "b", "c"]
PREDICTIONS = [{"id": "1", "label": 0, "probs": [0.8, 0.1, 0.1]}, {"id": "2", "label": 0, "probs": [0.2, 0.7, 0.1]},
               {"id": "3", "label": 1, "probs": [0.1, 0.8, 0.1]}, {"id": "4", "label": 2, "probs": [0.1, 0.6, 0.3]}]


def test_classification_sections(tmp_path: Path, make_run, evaluate) -> None:
    run = make_run(tmp_path / "gunpoint", task="classification")
    evaluate(run, accuracy=(PREDICTIONS, CLASSES))
    accuracy, confusion, per_class, misclassified = classification_sections(load_run(run))
    assert accuracy.blocks[0].rows == [["top-1 accuracy", "50.00% (2 / 4)"],
                                       ["top-5 accuracy", "not applicable: 3 classes (top-5 needs more than 5)"],
                                       ["mean-class accuracy", "50.00%"]]
    figure, pairs = confusion.blocks
    assert figure.name == "gunpoint-confusion"
    assert figure.png == (run / "test" / "confusion_matrix.png").read_bytes()  # the figure seqkit test saved
    assert pairs.rows == [["a", "b", 1], ["c", "b", 1]]
    assert per_class.blocks[0].rows == [["a", "1.000", "0.500", "0.667", 2], ["b", "0.333", "1.000", "0.500", 1],
                                        ["c", "0.000", "0.000", "0.000", 1]]
    assert misclassified.title == "Misclassified examples (2 of 4)"
    assert misclassified.blocks[0].rows == [["2", "a", "b 0.70, a 0.20, c 0.10"], ["4", "c", "b 0.60, c 0.30, a 0.10"]]


def test_classification_top5_groups_and_no_mistakes(tmp_path: Path, make_run, evaluate) -> None:
    run = make_run(tmp_path / "r", task="classification")
    clips = [{"id": f"v1-{i}", "group": "v1", "label": 0, "probs": [0.6, 0.4, 0, 0, 0, 0, 0]} for i in range(2)]
    evaluate(run, accuracy=(clips, list("abcdefg")))
    accuracy, *_, misclassified = classification_sections(load_run(run))
    rows = dict(accuracy.blocks[0].rows)
    assert rows["top-5 accuracy"] == "100.00%"
    assert rows["group-level accuracy (clip probabilities averaged)"] == "100.00% (1 / 1)"
    assert misclassified.blocks == [Text("none: every example is classified correctly", note=True)]


def test_classification_lists_at_most_50_misclassified(tmp_path: Path, make_run, evaluate) -> None:
    run = make_run(tmp_path / "r", task="classification")
    evaluate(run, accuracy=([{"id": f"x{i}", "label": 1, "probs": [0.9, 0.1]} for i in range(55)], ["no", "yes"]))
    *_, misclassified = classification_sections(load_run(run))
    table, more = misclassified.blocks
    assert misclassified.title == "Misclassified examples (55 of 55)" and len(table.rows) == 50
    assert more == Text(f"... and 5 more in {run / 'test' / 'accuracy_report.json'}", note=True)
    (section,) = classification_sections(load_run(make_run(tmp_path / "untested", task="classification")))
    assert section.blocks[0].text.startswith(f"no accuracy_report.json in {tmp_path / 'untested' / 'test'}: ")


def test_language_model_losses_of_each_evaluation_and_of_training(tmp_path: Path, make_run, evaluate) -> None:
    rows = [{"epoch": e, "step": s, "val_loss": v, "val_bpc": v / 0.6931}
            for e, s, v in ((0, 9, 2.0), (1, 19, 1.5), (2, 29, 1.75))]
    run = make_run(tmp_path / "lm", task="language_model", metrics=rows)
    evaluate(run, metrics={"test_loss": 1.4})  # no bits logged: computed from nats
    evaluate(run, stage="validate", metrics={"val_loss": 1.45, "val_bpc": 2.0925})  # logged: shown, not recomputed
    loss, samples = language_model_sections(load_run(run))
    assert loss.blocks[0].rows == [["seqkit test", "1.4000", "2.0198", "4.055"],
                                   ["seqkit validate", "1.4500", "2.0925", "4.263"],
                                   ["best validation in training (step 19)", "1.5000", "2.1640", "4.482"]]
    assert samples.blocks[0].note and "`seqkit report RUN --samples N`" in samples.blocks[0].text


def test_a_nan_validation_loss_is_not_the_best(tmp_path: Path, make_run) -> None:
    rows = [{"epoch": e, "step": s, "val_loss": v} for e, s, v in ((0, 9, float("nan")), (1, 19, 1.5), (2, 29, 1.75))]
    loss, _ = language_model_sections(load_run(make_run(tmp_path / "lm", task="language_model", metrics=rows)))
    assert loss.blocks[0].rows == [["best validation in training (step 19)", "1.5000", "2.1640", "4.482"]]


def test_language_model_samples_and_missing_losses(tmp_path: Path, make_run) -> None:
    run = load_run(make_run(tmp_path / "lm", task="language_model"))
    sample = {"prompt": "\n", "temperature": 0.8, "seed": 0, "checkpoint": "last.ckpt", "text": "to be"}
    loss, samples = language_model_sections(run, [sample])
    assert loss.blocks == [Text("no validation or test loss recorded", note=True)]
    assert samples.blocks == [Text("prompt '\\n', temperature 0.8, seed 0:"), Code("\nto be")]  # the prompt starts the text
