"""``seqkit transcribe --ckpt CKPT FILE... | --manifest M``: one transcript per recording.

The checkpoint carries the model's config, weights and tokenizer, so nothing else is needed.
Short recordings run in batches of similar length; one longer than ``--chunk-seconds`` runs
alone, in overlapping windows read from disk one batch at a time (any length fits in memory).
Output: ``PATH<TAB>TEXT`` lines (default), or JSONL with timings (``--format jsonl`` or
``--output FILE.jsonl``); a summary of the real-time factor goes to stderr.  ``--timestamps``
adds each word's start, end and confidence (:mod:`seqkit.decoding.alignment`).

Several ``--ckpt`` (``--ckpt A --ckpt B --ckpt C``) make an ensemble: every model
decodes every recording, and the transcript closest to the others is kept
(:mod:`seqkit.inference.ensemble`: why not averaged posteriors), or with ``--combine rover``
the words that most members put in each place (:mod:`seqkit.inference.rover`), or with
``--combine rescore`` (beam search with a lexicon) the best of all members' ``--nbest`` lists by
the members' mean CTC log-likelihood and the LM (:mod:`seqkit.inference.rescoring`).  Beam search
options apply to every model.  JSONL records of an ensemble also hold each member's transcript (``members``, in
``--ckpt`` order), and ``--wer`` scores each member beside the combination.

A model trained with per-speaker CMVN (``SpeakerCMVN``) first reads the inputs once for each
speaker's statistics (:mod:`seqkit.inference.speaker_statistics`): ``--speaker NAME`` makes
all inputs one speaker, a manifest's ``speaker`` field groups its lines, and otherwise each
recording is its own speaker.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import soundfile
from tqdm import tqdm

from seqkit.commands.checkpoint import load_task
from seqkit.data.audio import AudioError, load_audio
from seqkit.decoding.beam import BeamSearchDecoder, read_lm_text
from seqkit.inference.chunking import model_geometry, plan_windows
from seqkit.inference.ensemble import EnsembleTranscriber, closest_to_the_others
from seqkit.inference.inputs import InputItem, add_input_arguments, read_inputs, reorder
from seqkit.inference.reader import open_reader
from seqkit.inference.rescoring import RescoringEnsemble
from seqkit.inference.rover import rover
from seqkit.inference.speaker_statistics import prepare_speaker_statistics
from seqkit.inference.transcriber import Transcriber


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seqkit transcribe", description=__doc__.splitlines()[0])
    add_input_arguments(parser, "audio files (any format libsndfile reads)",
                        "JSONL manifest (the training format); its text is the reference for --wer")
    parser.add_argument("--ckpt", required=True, action="append",
                        help="checkpoint written by `seqkit fit`; repeated (--ckpt A --ckpt B --ckpt C): an "
                             "ensemble, the transcript that agrees most with the others' is kept")
    parser.add_argument("--combine", choices=["closest", "rover", "rescore"], default="closest",
                        help="an ensemble's transcripts: keep the one closest to the others, or vote word by word "
                             "(ROVER), which can mend each member's errors with the others' words, or pool every "
                             "member's --nbest transcripts and keep the one all members' acoustic scores and the LM "
                             "rate best (needs --decoder beam with --lm-text)")
    parser.add_argument("--nbest", type=int, default=16,
                        help="with --combine rescore: transcripts each member's beam search proposes")
    parser.add_argument("--decoder", choices=["greedy", "beam"], default="greedy")
    parser.add_argument("--beam-size", type=int, help="beam width (default: the checkpoint's decoder's, else 32)")
    parser.add_argument("--lm-text", help="word lexicon and n-gram LM from these transcripts: a JSONL manifest "
                        "(its text fields) or a text file (one sentence a line); default: the checkpoint's decoder's lm_text, "
                        "else none, and beam search is lexicon-free")
    parser.add_argument("--lexicon-free", action="store_true",
                        help="with --lm-text: no lexicon, a character (token) n-gram LM instead of a word one, so "
                             "words the transcripts lack can be written (use --ngram-order 6, the most KenLM reads)")
    parser.add_argument("--extra-words", help="with --lm-text: a text file whose words join the lexicon though the "
                        "transcripts lack them; the LM gives each only its share of the unknown-word mass")
    parser.add_argument("--lm-weight", type=float, help="n-gram LM weight (default: the checkpoint's decoder's, else 0)")
    parser.add_argument("--word-score", type=float, help="score per emitted word (default: the checkpoint's, else 0)")
    parser.add_argument("--ngram-order", type=int, help="order of the n-gram LM, 2 to 6 (default: the checkpoint's, else 3)")
    parser.add_argument("--batch-size", type=int, default=8, help="recordings (or windows of a long one) per forward pass")
    parser.add_argument("--chunk-seconds", type=float, default=30.0, help="longer recordings run in windows of this length; 0: never")
    parser.add_argument("--overlap-seconds", type=float, default=2.0, help="overlap of consecutive windows")
    parser.add_argument("--timestamps", action="store_true",
                        help="JSONL records get `words`: each word with its start and end in seconds, from the frames "
                             "its CTC tokens were emitted on, and its confidence (one model; implies --format jsonl)")
    parser.add_argument("--wer", action="store_true", help="print the WER against the manifest's text on stderr "
                        "(a single phoneme model: also the PER of its greedy output, and each record's `phones`)")
    return parser


def _beam_decoder(args: argparse.Namespace, task) -> BeamSearchDecoder:
    """Beam search as ``seqkit test`` configures it: the checkpoint's settings, then the flags."""
    stored = task.beam_decoder or BeamSearchDecoder(lexicon_free=args.lm_text is None)
    lm_text = args.lm_text if args.lm_text is not None else stored.lm_text
    texts = read_lm_text(lm_text) if lm_text is not None else None
    configured_free = task.beam_decoder is not None and task.beam_decoder.lexicon_free  # as `seqkit test` decodes
    lexicon_free = texts is None or args.lexicon_free or configured_free
    lm_weight = args.lm_weight if args.lm_weight is not None else (0.0 if texts is None else stored.lm_weight)
    if lm_weight > 0 and texts is None:
        raise ValueError("--lm-weight needs --lm-text: the transcripts the n-gram LM is estimated from")
    beam = BeamSearchDecoder(
        beam_size=args.beam_size if args.beam_size is not None else stored.beam_size,
        lm_weight=lm_weight,
        word_score=args.word_score if args.word_score is not None else stored.word_score,
        ngram_order=args.ngram_order if args.ngram_order is not None else stored.ngram_order,
        lexicon_free=lexicon_free,
        extra_words=args.extra_words if args.extra_words is not None else (None if lexicon_free else stored.extra_words),
    )
    beam.prepare(task.tokenizer, texts, Path(tempfile.mkdtemp(prefix="seqkit-beam-")))
    return beam


def load_speech_tasks(paths: list[str], device: str) -> list:
    """The tasks of ``paths``; an error names a checkpoint that is no speech-to-text model."""
    tasks = []
    for path in paths:
        task = load_task(path, device)
        if not hasattr(task, "tokenizer") or not hasattr(task, "beam_decoder"):
            raise ValueError(f"{path} is a {type(task).__name__}, not a speech-to-text model (use `seqkit classify`?)")
        tasks.append(task)
    return tasks


def _duration(item: InputItem) -> float:
    """Seconds, from the file's header (a manifest's figure may be wrong; a shard member has
    only the manifest's).  0 when unreadable: the read then reports why."""
    if item.offset is not None:
        return item.duration or 0.0
    try:
        info = soundfile.info(item.path)
        return info.frames / info.samplerate
    except Exception:  # noqa: BLE001 -- any failure is reported by the real read
        return 0.0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        items, fmt = read_inputs(args, "audio")
        if args.timestamps:
            if len(args.ckpt) > 1:
                raise ValueError("--timestamps needs one --ckpt: an ensemble's combined transcript has no frames of its own")
            if args.format == "tsv":
                raise ValueError("--timestamps writes each record's `words` in JSONL; drop --format tsv")
            fmt = "jsonl"
        members = []
        for task in load_speech_tasks(args.ckpt, args.device):
            beam = _beam_decoder(args, task) if args.decoder == "beam" else None
            members.append(Transcriber(task, beam, args.batch_size, keep_log_probs=args.timestamps))
            if args.chunk_seconds > 0:  # refuse bad window sizes now, not after the short files ran
                rate = members[-1].sample_rate
                plan_windows(int(3 * args.chunk_seconds * rate), int(args.chunk_seconds * rate),
                             int(args.overlap_seconds * rate), model_geometry(task))
        if args.combine == "rescore" and args.decoder != "beam":
            raise ValueError("--combine rescore rescores beam search's N-best lists: add --decoder beam --lm-text ...")
        if len(members) == 1:
            transcriber = members[0]
        elif args.combine == "rescore":
            transcriber = RescoringEnsemble(members, args.ckpt, args.nbest)
        else:
            transcriber = EnsembleTranscriber(members, args.ckpt, rover if args.combine == "rover" else closest_to_the_others)
        speakers = prepare_speaker_statistics([m.task for m in members], items, args.speaker)
    except (FileNotFoundError, ValueError) as err:  # ManifestError, UntrustedCheckpointError are ValueErrors
        print(f"error: {err}", file=sys.stderr)
        return 2
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout
    try:
        records, failures = _run(items, speakers, transcriber, args, fmt, out)
    finally:
        if args.output:
            out.close()
    _summary(records, failures)
    if args.wer:
        _print_wer(records, transcriber.task.tokenizer, args.ckpt)
    return 1 if failures else 0


def _run(items: list[InputItem], speakers: list[str] | None, transcriber: Transcriber | EnsembleTranscriber,
         args: argparse.Namespace, fmt: str, out) -> tuple[list[dict], int]:
    durations = [_duration(item) for item in items]
    chunked = lambda d: args.chunk_seconds > 0 and d > args.chunk_seconds  # noqa: E731
    # Shortest first, so a batch pads little; long recordings alone, in windows.
    order = sorted(range(len(items)), key=lambda i: durations[i])
    short = [i for i in order if not chunked(durations[i])]
    long = [i for i in order if chunked(durations[i])]
    results: dict[int, dict | None] = {}
    written, records, failures = 0, [], 0
    # A single phoneme model scored with --wer also reports the phoneme error rate of its greedy output.
    with_phones = args.wer and isinstance(transcriber, Transcriber) and transcriber.reads_phonemes
    ensemble = isinstance(transcriber, EnsembleTranscriber)
    bar = tqdm(total=len(items), desc="transcribing", unit="file", disable=len(items) < 10, file=sys.stderr)

    def emit() -> None:
        nonlocal written, failures
        ready, written = reorder(results, written)
        for record in ready:
            if record is None:
                failures += 1
                continue
            records.append(record)
            line = json.dumps(record, ensure_ascii=False) if fmt == "jsonl" else f"{record['path']}\t{record['text']}"
            print(line, file=out, flush=True)

    for first in range(0, len(short), args.batch_size):
        group = short[first : first + args.batch_size]
        start = time.perf_counter()
        waves, kept = [], []
        for i in group:
            try:
                waves.append(load_audio(items[i].path, transcriber.sample_rate, items[i].where, items[i].offset, items[i].size))
                kept.append(i)
            except AudioError as err:
                bar.write(f"error: {err}", file=sys.stderr)
                results[i] = None
        texts, phones, members, words = [], [], [], None
        if waves:
            group_speakers = None if speakers is None else [speakers[i] for i in kept]
            if with_phones or args.timestamps:
                frames = transcriber.frames(waves, group_speakers)
                texts, words = _decode(transcriber, frames, args.timestamps)
                phones = transcriber.phonemes(frames) if with_phones else []
            elif ensemble:
                texts, members = _combined(transcriber, waves, group_speakers, [items[i] for i in kept], bar)
            else:
                texts = transcriber.transcribe(waves, group_speakers)
        seconds = time.perf_counter() - start
        audio = sum(w.numel() for w in waves) / transcriber.sample_rate
        for index, (i, wave, text) in enumerate(zip(kept, waves, texts)):
            if text is None:  # refused by the combination, reported by _combined
                results[i] = None
                continue
            duration = wave.numel() / transcriber.sample_rate
            # The batch's time, shared by audio duration (each item's share of the work).
            results[i] = _record(items[i], text, duration, seconds * duration / audio if audio else 0.0,
                                 phones[index] if with_phones else None, members[index] if ensemble else None,
                                 None if words is None else words[index])
        bar.update(len(group))
        emit()
    for i in long:
        start = time.perf_counter()
        try:
            reader = open_reader(items[i], transcriber.sample_rate)
            windows = tqdm(desc=f"windows of {os.path.basename(items[i].path)}", unit="window", leave=False,
                           disable=len(items) >= 10, file=sys.stderr)  # one long file: show its progress

            def progress(done: int, total: int) -> None:
                windows.total = total
                windows.update(done - windows.n)

            try:
                speaker = None if speakers is None else speakers[i]
                phone, members, words = None, None, None
                if with_phones or args.timestamps:
                    frames = [transcriber.long_frames(reader, args.chunk_seconds, args.overlap_seconds, progress, speaker)]
                    texts, timed = _decode(transcriber, frames, args.timestamps)
                    text, words = texts[0], None if timed is None else timed[0]
                    phone = transcriber.phonemes(frames)[0] if with_phones else None
                elif ensemble:
                    text, members = transcriber.combined_long(reader, args.chunk_seconds, args.overlap_seconds, progress, speaker)
                else:
                    text = transcriber.transcribe_long(reader, args.chunk_seconds, args.overlap_seconds, progress, speaker)
            finally:
                reader.close()
                windows.close()
            results[i] = _record(items[i], text, reader.seconds, time.perf_counter() - start, phone, members, words)
        except AudioError as err:  # names the file itself
            bar.write(f"error: {err}", file=sys.stderr)
            results[i] = None
        except ValueError as err:
            bar.write(f"error: {items[i].label}: {err}", file=sys.stderr)
            results[i] = None
        bar.update(1)
        emit()
    bar.close()
    return records, failures


def _combined(ensemble: EnsembleTranscriber, waves: list, speakers: list[str] | None, items: list[InputItem],
              bar: tqdm) -> tuple[list[str | None], list[list[str] | None]]:
    """An ensemble's texts and members' texts of one batch; a recording the combination refuses
    (too long to rescore whole) is named and gets None, and the others still run."""
    try:
        return ensemble.combined(waves, speakers)
    except ValueError:
        texts, members = [], []
        for index, item in enumerate(items):  # again one by one, to find the one refused
            try:
                (text,), (hypotheses,) = ensemble.combined(waves[index : index + 1],
                                                          None if speakers is None else speakers[index : index + 1])
            except ValueError as err:
                bar.write(f"error: {item.label}: {err}", file=sys.stderr)
                text, hypotheses = None, None
            texts.append(text)
            members.append(hypotheses)
        return texts, members


def _decode(transcriber: Transcriber, frames: list, timestamps: bool) -> tuple[list[str], list[list[dict]] | None]:
    """The texts of :meth:`Transcriber.frames`' outputs; with ``timestamps`` also each text's
    words in seconds (an output frame's start; a word ends where its last frame does)."""
    if not timestamps:
        return transcriber.decode(frames), None
    texts, spans = transcriber.decode_words(frames)
    step = transcriber.seconds_per_frame
    return texts, [[{"word": w.word, "start": round(w.start * step, 3), "end": round(w.end * step, 3),
                     "confidence": round(w.confidence, 4)} for w in words] for words in spans]


def _record(item: InputItem, text: str, duration: float, seconds: float, phones: str | None = None,
            members: list[str] | None = None, words: list[dict] | None = None) -> dict:
    record = {"id": item.id, "path": item.path, "text": text, "duration": round(duration, 4),
              "processing_seconds": round(seconds, 5), "rtf": round(seconds / duration, 6) if duration else None}
    if phones is not None:
        record["phones"] = phones
    if members is not None:
        record["members"] = members
    if words is not None:
        record["words"] = words
    if item.text is not None:
        record["ref"] = item.text
    return record


def _summary(records: list[dict], failures: int) -> None:
    audio = sum(r["duration"] for r in records)
    seconds = sum(r["processing_seconds"] for r in records)
    rtf = seconds / audio if audio else float("nan")
    failed = f", {failures} failed" if failures else ""
    print(f"transcribed {len(records)} recording(s){failed}: {audio:.2f} s of audio in {seconds:.2f} s, "
          f"RTF {rtf:.4f} ({1 / rtf if rtf else float('inf'):.1f}x real time)", file=sys.stderr)


def _print_wer(records: list[dict], tokenizer, checkpoints: list[str]) -> None:
    """The WER (and CER, PER) summary on stderr; for an ensemble, each member's too."""
    scored, members = [], []
    for r in records:
        if not r.get("ref"):
            continue
        # References normalised as in training and `seqkit test` (case, punctuation), as the model writes.
        record = {"id": r["id"], "speaker": "", "ref": tokenizer.normalize(r["ref"]), "hyp": r["text"]}
        if "phones" in r:  # the target phonemes as training spells them (words it cannot spell dropped)
            record.update(ref_phones=tokenizer.phones(tokenizer.encode(r["ref"])), hyp_phones=r["phones"])
        scored.append(record)
        members.append(r.get("members"))
    if not scored:
        print("no reference text (give a --manifest with text) to score a WER", file=sys.stderr)
        return
    from seqkit.reports.wer import build_wer_report, format_summary

    print(format_summary(build_wer_report(scored)), file=sys.stderr)
    if members[0] is None:
        return
    print("each member alone:", file=sys.stderr)
    for index, checkpoint in enumerate(checkpoints):
        alone = build_wer_report([{**r, "hyp": hyps[index]} for r, hyps in zip(scored, members)])["totals"]
        print(f"  {index + 1}. WER {100 * alone['wer']:.2f}%  CER {100 * alone['cer']:.2f}%  {checkpoint}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
