"""Several CTC models, one transcript: every member's N-best list, rescored by all of them.

Each member's beam search (lexicon and word LM) proposes its ``nbest`` transcripts; the
proposals of all members are pooled, and each is scored by every member's CTC
log-likelihood of it: the forward algorithm sums over all alignments, so it does not matter
at which frames each model puts its spikes (the reason frame-averaged posteriors fail,
:mod:`seqkit.inference.ensemble`).  The transcript kept has the highest mean log-likelihood
over the members plus what the search itself adds to a transcript: the LM and word scores
(:meth:`~seqkit.decoding.beam.BeamSearchDecoder.text_score`, the first member's decoder).
A product of the members' sequence probabilities, so a member sure of a word outweighs two
that lean the other way a little, which a word vote (ROVER) cannot weigh.

Members may read different units (characters, phonemes, SentencePiece): each scores a
transcript in its own tokens; a transcript with a word a member cannot spell is out.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from seqkit.inference.ensemble import EnsembleTranscriber
from seqkit.inference.transcriber import Transcriber


# The CTC forward pass keeps frames x (2 x labels + 1) float64 values per transcript, so its
# memory grows with the square of a recording's length: transcripts go through in groups of
# at most BATCH_BYTES, and a recording whose single transcript needs over MAX_BYTES is refused.
BATCH_BYTES = 256 * 2**20
MAX_BYTES = 4 * 2**30


def ctc_log_likelihoods(log_probs: Tensor, targets: list[list[int] | None], blank: int,
                        batch_bytes: int = BATCH_BYTES) -> Tensor:
    """log P(target | frames) summed over all CTC alignments, per target; -inf for None or one
    too long for the frames.  log_probs: (T, V); returns (H,) float64."""
    scores = torch.full((len(targets),), float("-inf"), dtype=torch.float64)
    spelled = [h for h, target in enumerate(targets) if target is not None]
    if not spelled or log_probs.shape[0] == 0:
        return scores
    frames = log_probs.shape[0]
    per_target = 8 * frames * (2 * max(len(targets[h]) for h in spelled) + 1)
    if per_target > MAX_BYTES:
        raise ValueError(f"rescoring {frames} frames needs {per_target / 2**30:.1f} GiB a transcript; "
                         "use --combine rover for recordings this long")
    group = max(1, batch_bytes // per_target)
    # float64: the sums of a long utterance differ in their last digits between transcripts.
    emissions = log_probs.double()
    with torch.no_grad():
        for first in range(0, len(spelled), group):
            ids = spelled[first : first + group]
            batch = emissions[:, None, :].expand(frames, len(ids), emissions.shape[1])  # (T, H', V)
            flat = torch.tensor([i for h in ids for i in targets[h]], dtype=torch.long)
            target_lengths = torch.tensor([len(targets[h]) for h in ids], dtype=torch.long)
            nll = F.ctc_loss(batch, flat, torch.full((len(ids),), frames, dtype=torch.long), target_lengths,
                             blank=blank, reduction="none", zero_infinity=False)  # inf where impossible
            scores[ids] = -nll
    return scores


class RescoringEnsemble(EnsembleTranscriber):
    """:class:`EnsembleTranscriber` whose members' N-best lists are pooled and rescored.

    Every member needs a lexicon beam decoder (``Transcriber.beam``); ``nbest``: the
    proposals each member adds to the pool.  :meth:`hypotheses` stays the base class's: each
    member's own best, the first of its N-best list."""

    def __init__(self, members: list[Transcriber], names: list[str], nbest: int = 16) -> None:
        for member, name in zip(members, names):
            if member.beam is None or member.beam.lexicon_free:
                raise ValueError(f"{name}: rescoring needs every member's beam search with a lexicon "
                                 "(--decoder beam --lm-text ...)")
        if nbest < 1:
            raise ValueError(f"nbest must be >= 1, got {nbest}")
        super().__init__(members, names)
        self.nbest = nbest

    def combined(self, waveforms: list[Tensor], speakers: list[str] | None = None) -> tuple[list[str], list[list[str]]]:
        per_member = [member.frames(waveforms, speakers) for member in self.members]  # members x B x (T, V)
        results = [self.rescore([frames[i] for frames in per_member]) for i in range(len(waveforms))]
        return [text for text, _ in results], [tops for _, tops in results]

    def combined_long(
        self, reader, chunk_seconds: float, overlap_seconds: float,
        progress: Callable[[int, int], None] | None = None, speaker: str | None = None,
    ) -> tuple[str, list[str]]:
        frames = self.each_member(lambda member, member_progress: member.long_frames(
            reader, chunk_seconds, overlap_seconds, member_progress, speaker), progress)
        return self.rescore(frames)

    def rescore(self, frames: list[Tensor]) -> tuple[str, list[str]]:
        """The best pooled transcript of one recording, and each member's own best.

        frames: each member's (T_k, V_k) log-probs of the recording, in member order."""
        proposals: dict[str, None] = {}
        tops = []
        for member, log_probs in zip(self.members, frames):
            texts = member.beam.nbest(log_probs[None], torch.tensor([log_probs.shape[0]]), self.nbest)[0]
            tops.append(texts[0] if texts else "")
            proposals.update(dict.fromkeys(texts))
        candidates = list(proposals)
        if not candidates:
            return "", tops
        acoustic = torch.stack([
            ctc_log_likelihoods(log_probs, [_targets(member, text) for text in candidates], member.task.tokenizer.blank_id)
            for member, log_probs in zip(self.members, frames)
        ]).mean(dim=0)  # (H,); -inf where a member cannot spell or fit a candidate
        totals = torch.tensor([score + self.members[0].beam.text_score(text.split()) if score > float("-inf") else score
                               for text, score in zip(candidates, acoustic.tolist())], dtype=torch.float64)
        if not torch.isfinite(totals).any():
            return tops[0], tops  # no candidate every member can read: the first member's own
        return candidates[int(torch.argmax(totals))], tops


def _targets(member: Transcriber, text: str) -> list[int] | None:
    """``text`` in the member's tokens, as its training targets spell it; None if it cannot."""
    tokenizer = member.task.tokenizer
    if tokenizer.unknown_symbols(text):
        return None
    return tokenizer.encode(text)
