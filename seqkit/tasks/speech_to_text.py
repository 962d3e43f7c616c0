"""Speech-to-text task: features -> (CMVN, SpecAugment) -> recurrent encoder -> CTC head.

Every part is built from YAML (``class_path``/``init_args``).  Sizes that follow from the
data are never typed: the encoder gets the feature size and the head gets the encoder's
output size and the tokenizer's vocabulary (linked from the data module), which is how
``encoder`` and ``head`` are callables of those sizes.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor, nn
from torchmetrics.text import CharErrorRate, WordErrorRate

from seqkit.data.checks import check_ctc_length, check_transcript
from seqkit.data.tokenizer import tokenizer_from_state
from seqkit.decoding.beam import BeamSearchDecoder
from seqkit.decoding.greedy import greedy_decode
from seqkit.encoders.rnn import RNNEncoder
from seqkit.heads.ctc import CTCHead
from seqkit.tasks.base import SeqkitTask
from seqkit.tasks.optim import Decay
from seqkit.tasks.speaker_statistics import SpeakerStatistics

log = logging.getLogger(__name__)


def consistency_loss(log_probs: Tensor, lengths: Tensor) -> Tensor:
    """CR-CTC's consistency term for a batch holding two views of the same utterances.

    log_probs: (2B, T, V) fp32, view 1 in rows 0..B-1 and view 2 in rows B..2B-1; lengths: (2B,).
    Returns the mean over the 2B rows of KL(other view, detached || this view), summed over
    valid frames and the vocabulary.
    """
    first, second = log_probs.detach().chunk(2)
    other = torch.cat([second, first])  # each row's partner view, as a fixed target
    kl = torch.nn.functional.kl_div(log_probs, other, reduction="none", log_target=True).sum(-1)  # (2B, T)
    valid = torch.arange(log_probs.shape[1], device=log_probs.device) < lengths.to(log_probs.device)[:, None]
    return (kl * valid).sum() / log_probs.shape[0]


class SpeechToText(SpeakerStatistics, SeqkitTask):
    def __init__(
        self,
        tokenizer: dict,
        features: nn.Module,
        encoder: Callable[[int], RNNEncoder],
        head: Callable[[int, int], CTCHead] = CTCHead,
        normalizer: nn.Module | None = None,
        augment: nn.Module | None = None,
        decoder: BeamSearchDecoder | None = None,
        optimizer: OptimizerCallable = torch.optim.AdamW,
        warmup_steps: int = 300,
        lr_decay: Decay = "cosine",
        max_skipped_steps: int = 10,
        intermediate_ctc_layer: int | None = None,
        intermediate_ctc_weight: float = 0.3,
        consistency_weight: float = 0.0,
    ) -> None:
        """``tokenizer`` is the data module's plain-data tokenizer state (linked, not typed).

        ``decoder``: beam search for ``seqkit test`` (validation always decodes greedily);
        its lexicon and n-gram LM come from the training transcripts.
        ``normalizer``: per-utterance, global or per-speaker CMVN (``SpeakerCMVN``: statistics
        from each stage's recordings, so ``seqkit transcribe`` of loose files refuses it).
        ``intermediate_ctc_layer`` (Lee & Watanabe 2021): in training, the same CTC head also
        reads that encoder layer's output, and the loss is ``(1 - w) x final + w x intermediate``
        with ``w = intermediate_ctc_weight``: the lower layers get a short gradient path of
        their own.  No parameters are added, and inference is unchanged.
        ``consistency_weight`` > 0: consistency-regularised CTC (CR-CTC, Yao et al. 2025).  Each
        training batch goes through the model twice, with independent SpecAugment masks and
        dropout; the loss is the two views' mean CTC loss plus ``consistency_weight`` x the KL
        divergence from each view's frame posteriors (held fixed) to the other's, summed over
        frames and vocabulary, per utterance.  A training step costs about twice as much;
        inference is unchanged.
        """
        super().__init__(optimizer, warmup_steps, lr_decay, max_skipped_steps)
        self.save_hyperparameters()
        self.tokenizer = tokenizer_from_state(tokenizer)
        self.features = features
        self.normalizer = normalizer
        self.augment = augment
        self.beam_decoder = decoder
        self.encoder = encoder(features.output_size)
        self.head = head(self.encoder.output_size, self.tokenizer.vocab_size)
        if intermediate_ctc_layer is not None:
            layers = len(getattr(self.encoder, "layers", ()))
            if not 1 <= intermediate_ctc_layer < layers:
                raise ValueError(f"intermediate_ctc_layer must be 1 .. {layers - 1} (a layer below the encoder's last), "
                                 f"got {intermediate_ctc_layer}")
            if not 0 < intermediate_ctc_weight < 1:
                raise ValueError(f"intermediate_ctc_weight must be in (0, 1), got {intermediate_ctc_weight}")
        self.intermediate_ctc_layer = intermediate_ctc_layer
        self.intermediate_ctc_weight = intermediate_ctc_weight
        if consistency_weight < 0:
            raise ValueError(f"consistency_weight must be >= 0, got {consistency_weight}")
        self.consistency_weight = consistency_weight
        self.val_wer, self.val_cer = WordErrorRate(), CharErrorRate()
        self.test_wer, self.test_cer = WordErrorRate(), CharErrorRate()
        # Phoneme targets: also the phoneme error rate of the model's own (greedy) output, the
        # acoustic model's score before phoneme groups are read back as whole words.
        phonemes = self.tokenizer.kind == "phoneme"
        self.val_per, self.test_per = (WordErrorRate(), WordErrorRate()) if phonemes else (None, None)
        self.skipped: list[str] = []

    # ---- model ----------------------------------------------------------------------
    def forward(self, waveforms: Tensor, lengths: Tensor, speakers: list[str] | None = None) -> tuple[Tensor, Tensor]:
        # waveforms: (B, S), lengths: (B,) -> log-probs (B, T', V) fp32, output lengths (B,); speakers: for SpeakerCMVN
        encoded, out_lengths = self.encoder(*self._encoder_inputs(waveforms, lengths, speakers))  # (B, T', D)
        return self.head(encoded), out_lengths

    def _encoder_inputs(self, waveforms: Tensor, lengths: Tensor, speakers: list[str] | None) -> tuple[Tensor, Tensor]:
        feats, frames = self.features(waveforms, lengths)  # (B, T, F)
        feats = self.normalize(feats, frames, speakers)
        if self.augment is not None:
            feats = self.augment(feats, frames)
        return feats, frames

    def statistics_features(self, batch: dict) -> tuple[Tensor, Tensor]:
        return self.features(batch["waveforms"].to(self.device), batch["lengths"].to(self.device))

    def output_frames(self, seconds: float) -> int:
        """Encoder output frames for ``seconds`` of audio (for the CTC length check)."""
        return self.output_frames_of([seconds])[0]

    def output_frames_of(self, seconds: list[float]) -> list[int]:
        """:meth:`output_frames` of many durations in one tensor operation."""
        samples = torch.tensor([int(round(s * self.features.sample_rate)) for s in seconds], dtype=torch.long)
        return self.encoder.output_lengths(self.features.frame_lengths(samples)).tolist()

    # ---- data checks ------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        datamodule = getattr(self.trainer, "datamodule", None) if self._trainer else None
        if datamodule is None or not hasattr(datamodule, "utterances"):
            return
        splits = {"fit": ["fit", "validate"], "validate": ["validate"], "test": ["test"]}.get(stage, [])
        # predict: transcripts may be absent or placeholders, so only audio errors apply.
        for split in splits:
            if datamodule.manifests.get(split) is not None:
                self._check_split(datamodule, split)
        if stage in ("test", "predict") and self.beam_decoder is not None and not self.beam_decoder.prepared:
            texts = [u.text for u in datamodule.utterances("fit")] if datamodule.manifests.get("fit") else None
            self.beam_decoder.prepare(self.tokenizer, texts, (self.run_dir() or Path.cwd()) / "decoder")

    def _check_split(self, datamodule, split: str) -> None:
        kept, fatal, warnings = [], [], []
        utterances = datamodule.utterances(split)
        # One tensor operation for the split: one per utterance took ~60 us (17 s for 281k).
        frames = dict(zip((u.duration for u in utterances), self.output_frames_of([u.duration for u in utterances])))
        for utt in utterances:
            problems = check_transcript(utt, self.tokenizer) + check_ctc_length(utt, self.tokenizer, frames.__getitem__)
            warnings.extend(p for p in problems if not p.fatal)
            problems = [p for p in problems if p.fatal]
            fatal.extend(problems)
            if not problems:
                kept.append(utt)
        if warnings and self.global_rank == 0:
            # Usable utterances whose target lost a symbol or word: said once, not silently.
            shown = "\n  ".join(str(p) for p in warnings[:5])
            more = f"\n  ... and {len(warnings) - 5} more (`seqkit check-data` lists all)" if len(warnings) > 5 else ""
            log.warning("%d utterance(s) of the %s manifest train or score on part of their transcript:\n  %s%s",
                        len(warnings), split, shown, more)
        if not fatal:
            return
        if datamodule.on_bad == "error":
            shown = "\n  ".join(str(p) for p in fatal[:20])
            more = f"\n  ... and {len(fatal) - 20} more" if len(fatal) > 20 else ""
            raise ValueError(
                f"{len(fatal)} problem(s) in the {split} manifest (run `seqkit check-data`, "
                f"or set data.on_bad=skip to skip bad utterances):\n  {shown}{more}"
            )
        log.warning("skipping %d bad utterance(s) of the %s manifest", len(fatal), split)
        self.skipped.extend(str(p) for p in fatal)
        datamodule.set_utterances(split, kept)
        self._write_skipped()

    def _write_skipped(self) -> None:
        run_dir = self.run_dir()
        if run_dir is not None and self.global_rank == 0:
            run_dir.mkdir(parents=True, exist_ok=True)
            (run_dir / "skipped_utterances.txt").write_text("\n".join(self.skipped) + "\n")

    def _note_skipped(self, batch: dict) -> None:
        # Unreadable audio under on_bad=skip: counted, logged and listed, never silent.
        if batch["skipped"]:
            self.skipped.extend(batch["skipped"])
            self.log("skipped_utterances", float(len(self.skipped)), reduce_fx="max")
            self._write_skipped()

    def batch_amounts(self, batch: dict) -> dict[str, float | Tensor]:
        return {"examples": float(len(batch["ids"])), "audio_seconds": batch["lengths"].sum() / self.features.sample_rate}

    # ---- steps ------------------------------------------------------------------------
    def train_loss(self, batch: dict) -> Tensor | None:
        self._note_skipped(batch)
        if not batch["ids"]:
            return None
        waveforms, lengths, speakers = batch["waveforms"], batch["lengths"], batch["speakers"]
        targets, target_lengths = batch["targets"], batch["target_lengths"]
        if self.consistency_weight:
            # Two views in one batch: augmentation masks and dropout are drawn per utterance.
            waveforms, lengths, speakers = waveforms.repeat(2, 1), lengths.repeat(2), speakers * 2
            targets, target_lengths = targets.repeat(2), target_lengths.repeat(2)
        if self.intermediate_ctc_layer is None:
            log_probs, out_lengths = self(waveforms, lengths, speakers)  # (B, T', V) fp32
            loss = self.head.loss(log_probs, out_lengths, targets, target_lengths)
        else:
            inputs = self._encoder_inputs(waveforms, lengths, speakers)
            encoded, out_lengths, tapped = self.encoder(*inputs, tap_layer=self.intermediate_ctc_layer)  # (B, T', D) x 2
            weight = self.intermediate_ctc_weight
            log_probs = self.head(encoded)
            loss = ((1 - weight) * self.head.loss(log_probs, out_lengths, targets, target_lengths)
                    + weight * self.head.loss(self.head(tapped), out_lengths, targets, target_lengths))
        if self.consistency_weight:
            loss = loss + self.consistency_weight * consistency_loss(log_probs, out_lengths)
        batch_size = len(batch["ids"])
        # One self.log a step: each call costs ~1 ms of host time.  Audio seconds seen are
        # counted by the RunInfo callback (run_info.json, from batch_amounts), without a metric.
        self.log("train_loss", loss, prog_bar=True, batch_size=batch_size)
        return loss

    def _evaluate(self, batch: dict, stage: str) -> tuple[list[str], list[tuple[str, str]] | None]:
        """Hypotheses, and with phoneme targets the (reference, greedy output) phoneme strings."""
        self._note_skipped(batch)
        if not batch["ids"]:
            return [], None
        log_probs, out_lengths = self(batch["waveforms"], batch["lengths"], batch["speakers"])
        loss = self.head.loss(log_probs, out_lengths, batch["targets"], batch["target_lengths"])
        beam = self.beam_decoder if stage == "test" else None
        per = self.val_per if stage == "val" else self.test_per
        # Greedy ids only when used: for the hypotheses, or for the phoneme error rate.
        best = greedy_decode(log_probs, out_lengths, self.tokenizer.blank_id) if beam is None or per is not None else []
        hyps = beam.decode(log_probs, out_lengths) if beam is not None else [self.tokenizer.decode(s) for s in best]
        wer, cer = (self.val_wer, self.val_cer) if stage == "val" else (self.test_wer, self.test_cer)
        wer.update(hyps, batch["texts"])
        cer.update(hyps, batch["texts"])
        batch_size = len(batch["ids"])
        self.log(f"{stage}_loss", loss, batch_size=batch_size, sync_dist=True)
        self.log(f"{stage}_wer", wer, prog_bar=True, batch_size=batch_size)
        self.log(f"{stage}_cer", cer, batch_size=batch_size)
        if per is None:
            return hyps, None
        targets = batch["targets"].split(batch["target_lengths"].tolist())
        phones = [(self.tokenizer.phones(t.tolist()), self.tokenizer.phones(h)) for t, h in zip(targets, best)]
        per.update([hyp for _, hyp in phones], [ref for ref, _ in phones])
        self.log(f"{stage}_per", per, batch_size=batch_size)
        return hyps, phones

    def decode(self, log_probs: Tensor, lengths: Tensor) -> list[str]:
        """Greedy CTC decoding to text."""
        ids = greedy_decode(log_probs, lengths, self.tokenizer.blank_id)
        return [self.tokenizer.decode(seq) for seq in ids]

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: dict, batch_idx: int) -> None:
        hyps, phones = self._evaluate(batch, "test")
        seconds = (batch["lengths"].float() / self.features.sample_rate).tolist()  # (B,): WER by length in reports
        fields = zip(batch["ids"], batch["speakers"], batch["texts"], hyps, seconds)
        for i, (utt_id, speaker, ref, hyp, duration) in enumerate(fields):
            record = {"id": utt_id, "speaker": speaker, "ref": ref, "hyp": hyp, "duration": round(duration, 3)}
            if phones is not None:
                record["ref_phones"], record["hyp_phones"] = phones[i]
            self._records.append(record)

    def predict_step(self, batch: dict, batch_idx: int) -> list[dict]:
        """Transcripts of the predict manifest; also written to ``predictions.jsonl`` in the run directory."""
        self._note_skipped(batch)
        if not batch["ids"]:
            return []
        log_probs, out_lengths = self(batch["waveforms"], batch["lengths"], batch["speakers"])
        hyps = self.beam_decoder.decode(log_probs, out_lengths) if self.beam_decoder else self.decode(log_probs, out_lengths)
        records = [{"id": utt_id, "text": hyp} for utt_id, hyp in zip(batch["ids"], hyps)]
        self._records.extend(records)
        return records

    def on_test_epoch_end(self) -> None:
        records = self.gather_records()
        if self.global_rank != 0 or not records:
            return
        from seqkit.reports.wer import build_wer_report, format_summary, write_wer_report

        report = build_wer_report(sorted(records, key=lambda r: r["id"]))
        out_dir = self.run_dir() or Path.cwd()
        json_path, md_path = write_wer_report(report, out_dir)
        print("\n" + format_summary(report))  # below the progress bar, not on its line
        print(f"WER report: {md_path} and {json_path}")

    def configure_callbacks(self) -> list:
        datamodule = getattr(self.trainer, "datamodule", None)
        has_validation = datamodule is None or bool(datamodule.manifests.get("validate"))
        return self.checkpoint_callbacks(has_validation, monitor="val_wer", mode="min")
