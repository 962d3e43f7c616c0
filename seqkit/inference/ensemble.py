"""Several speech-to-text checkpoints, one transcript: hypothesis selection by agreement.

Each member decodes on its own, and the transcript kept is the one closest to all the
others (least summed word edit distance; a tie goes to the earlier checkpoint): with
three or more members, a word error that only a minority makes is outvoted.
:func:`seqkit.inference.rover.rover` votes word by word instead (``combine``), and
:class:`seqkit.inference.rescoring.RescoringEnsemble` rescores the members' N-best lists.

Why not average the posteriors, as ``seqkit classify`` does with class probabilities: CTC
models emit each label as a spike at a frame of their own choosing, and models of other
seeds choose other frames.  Averaged frame by frame, the spikes of one word interleave
("ken" read as "keknen"): five yesno models, each under 1.3% WER greedy, gave 93.5%
averaged.
"""

from __future__ import annotations

from typing import Callable, TypeVar

from rapidfuzz.distance import Levenshtein
from torch import Tensor

from seqkit.inference.transcriber import Transcriber

T = TypeVar("T")


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

    def combined(self, waveforms: list[Tensor], speakers: list[str] | None = None) -> tuple[list[str], list[list[str]]]:
        """The combined transcript of every recording, and the members' ones (as :meth:`hypotheses`)."""
        hypotheses = self.hypotheses(waveforms, speakers)
        return [self.combine(h) for h in hypotheses], hypotheses

    def transcribe(self, waveforms: list[Tensor], speakers: list[str] | None = None) -> list[str]:
        return self.combined(waveforms, speakers)[0]

    def combined_long(
        self, reader, chunk_seconds: float, overlap_seconds: float,
        progress: Callable[[int, int], None] | None = None, speaker: str | None = None,
    ) -> tuple[str, list[str]]:
        """One long recording's combined transcript, and the members' ones."""
        hypotheses = self.long_hypotheses(reader, chunk_seconds, overlap_seconds, progress, speaker)
        return self.combine(hypotheses), hypotheses

    def transcribe_long(
        self, reader, chunk_seconds: float, overlap_seconds: float,
        progress: Callable[[int, int], None] | None = None, speaker: str | None = None,
    ) -> str:
        return self.combined_long(reader, chunk_seconds, overlap_seconds, progress, speaker)[0]

    def long_hypotheses(
        self, reader, chunk_seconds: float, overlap_seconds: float,
        progress: Callable[[int, int], None] | None = None, speaker: str | None = None,
    ) -> list[str]:
        """Every member's transcript of one long recording, read in windows (member order)."""
        return self.each_member(lambda member, member_progress: member.transcribe_long(
            reader, chunk_seconds, overlap_seconds, member_progress, speaker), progress)

    def each_member(self, run: Callable[[Transcriber, Callable[[int, int], None]], T],
                    progress: Callable[[int, int], None] | None = None) -> list[T]:
        """``run(member, member_progress)`` for each member in turn (one pass over a long
        recording a member: the reader reads any span again), with ``progress`` over all."""
        results = []
        for index, member in enumerate(self.members):
            def member_progress(done: int, total: int, before: int = index) -> None:
                if progress is not None:
                    progress(before * total + done, len(self.members) * total)

            results.append(run(member, member_progress))
        return results
