"""Per-speaker normalisation for any task: one unaugmented pass over each stage's data first.

A normalizer that ``needs_speakers`` (:class:`~seqkit.features.cmvn.SpeakerCMVN`) is not
learned: before fit, validate, test or predict runs, the task passes that stage's
recordings through its features once, in the data module's ``statistics_loader`` order
(unaugmented, no shuffling), and the normalizer turns the sums into each speaker's
statistics.  A task mixes :class:`SpeakerStatistics` in and says how a batch becomes
features (:meth:`SpeakerStatistics.statistics_features`).
"""

from __future__ import annotations

import torch
from lightning.pytorch.trainer.states import TrainerFn
from torch import Tensor, nn
from tqdm import tqdm

from seqkit.features.cmvn import normalizes_by_speaker


class SpeakerStatistics:
    """LightningModule mixin: fills a per-speaker normalizer's statistics before each stage."""

    normalizer: nn.Module | None

    def statistics_features(self, batch: dict) -> tuple[Tensor, Tensor]:
        """A batch's features before normalisation, on the model's device.  # (B, T, F), (B,)"""
        raise NotImplementedError

    def normalize(self, feats: Tensor, frames: Tensor, speakers: list[str] | None) -> Tensor:
        """The normalizer (if any) on features; ``speakers`` names each row's speaker.  # (B, T, F), (B,)"""
        if self.normalizer is None:
            return feats
        if normalizes_by_speaker(self.normalizer):
            return self.normalizer(feats, frames, speakers)
        return self.normalizer(feats, frames)

    @torch.no_grad()
    def collect_speaker_statistics(self, splits: list[str]) -> None:
        """Pass ``splits`` through the features once, unaugmented, for the normalizer's statistics."""
        if not normalizes_by_speaker(self.normalizer):
            return
        datamodule = self.trainer.datamodule
        name = type(self.normalizer).__name__
        if not hasattr(datamodule, "statistics_loader"):
            raise TypeError(f"{name} needs a data module whose examples name their speaker "
                            f"({type(datamodule).__name__} has no statistics_loader)")
        self.normalizer.reset()
        was_training = self.training
        self.eval()  # no feature-level augmentation (VTLP, SpecAugment)
        quiet = self.global_rank != 0 or self.trainer.progress_bar_callback is None  # --trainer.enable_progress_bar false
        for split in splits:
            for batch in tqdm(datamodule.statistics_loader(split), desc=f"speaker statistics ({split})",
                              leave=False, disable=quiet):
                if "speakers" not in batch:
                    raise ValueError(f"{type(datamodule).__name__}'s {split} examples name no speaker: {name} needs them")
                unnamed = [utt for utt, speaker in zip(batch["ids"], batch["speakers"]) if not speaker]
                if unnamed:  # pooled under "", unrelated recordings would share one speaker's statistics
                    raise ValueError(f"{name}: utterance {unnamed[0]!r} of the {split} data names no speaker "
                                     "(empty 'speaker' in its manifest line)")
                if batch["speakers"]:  # empty when every recording of the batch was skipped as unreadable
                    self.normalizer.accumulate(*self.statistics_features(batch), batch["speakers"])
        self.normalizer.finish()
        self.train(was_training)

    def speaker_statistics_for_fit(self) -> None:
        """Training and (when there is one) validation speakers, from ``on_fit_start``."""
        if normalizes_by_speaker(self.normalizer):
            has_validation = self.trainer.datamodule.has_split("validate")
            self.collect_speaker_statistics(["fit", "validate"] if has_validation else ["fit"])

    def on_fit_start(self) -> None:
        self.speaker_statistics_for_fit()

    def on_validation_start(self) -> None:
        if self.trainer.state.fn == TrainerFn.VALIDATING:  # fit's validation has its statistics from on_fit_start
            self.collect_speaker_statistics(["validate"])

    def on_test_start(self) -> None:
        self.collect_speaker_statistics(["test"])

    def on_predict_start(self) -> None:
        self.collect_speaker_statistics(["predict"])
