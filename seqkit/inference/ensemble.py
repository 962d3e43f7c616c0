"""Several speech-to-text checkpoints, one transcript: hypothesis selection by agreement.

Each member decodes on its own, and the transcript kept is the one closest to all the
others (least summed word edit distance; a tie goes to the earlier checkpoint): with
three or more members, a word error that only a minority makes is outvoted.
:func:`seqkit.inference.rover.rover` votes word by word instead (``combine``).

Why not average the posteriors, as ``seqkit classify`` does with class probabilities: CTC
models emit each label as a spike at a frame of their own choosing, and models of other
seeds choose other frames.  Averaged frame by frame, the spikes of one word interleave
("ken" read as "keknen"): five yesno models, each under 1.3% WER greedy, gave 93.5%
averaged.
"""

from __future__ import annotations

from typing import Callable

from rapidfuzz.distance import Levenshtein
from torch import Tensor

from seqkit.inference.transcriber import Transcriber


def closest_to_the_others(hypotheses: list[str]) -> str:
    """The hypothesis with the least summed word edit distance to the others; ties: the earliest."""
    words = [h.split() for h in hypotheses]
    costs = [sum(Levenshtein.distance(a, b) for b in words) for a in words]
    return hypotheses[costs.index(min(costs))]


class EnsembleTranscriber:
    """:class:`Transcriber`'s interface over several of them (``task`` is the first one's)."""

    def __init__(self, members: list[Transcriber], names: list[str],
                 combine: Callable[[list[str]], str] = closest_to_the_others) -> None:
        rates = {m.sample_rate for m in members}
        if len(rates) > 1:
            raise ValueError(f"{', '.join(names)}: models of one ensemble must read the same sample rate, got {sorted(rates)}")
        self.members = members
        self.combine = combine  # the members' transcripts of one recording -> one
        self.task = members[0].task
        self.sample_rate = members[0].sample_rate

    def hypotheses(self, waveforms: list[Tensor], speakers: list[str] | None = None) -> list[list[str]]:
        """Every member's transcript of every recording, (recordings, members) in member order."""
        per_member = [member.transcribe(waveforms, speakers) for member in self.members]
        return [list(hypotheses) for hypotheses in zip(*per_member)]

    def transcribe(self, waveforms: list[Tensor], speakers: list[str] | None = None) -> list[str]:
        return [self.combine(hypotheses) for hypotheses in self.hypotheses(waveforms, speakers)]

    def transcribe_long(
        self, reader, chunk_seconds: float, overlap_seconds: float,
        progress: Callable[[int, int], None] | None = None, speaker: str | None = None,
    ) -> str:
        return self.combine(self.long_hypotheses(reader, chunk_seconds, overlap_seconds, progress, speaker))

    def long_hypotheses(
        self, reader, chunk_seconds: float, overlap_seconds: float,
        progress: Callable[[int, int], None] | None = None, speaker: str | None = None,
    ) -> list[str]:
        """Every member's transcript of one long recording, read in windows (member order)."""
        hypotheses = []
        for index, member in enumerate(self.members):  # the reader reads any span again: one pass a member
            def member_progress(done: int, total: int, before: int = index) -> None:
                if progress is not None:
                    progress(before * total + done, len(self.members) * total)

            hypotheses.append(member.transcribe_long(reader, chunk_seconds, overlap_seconds, member_progress, speaker))
        return hypotheses
