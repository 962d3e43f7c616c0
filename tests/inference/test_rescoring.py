"""RescoringEnsemble: the members' N-best lists pooled, rescored by every member's CTC log-likelihood."""

from __future__ import annotations

import itertools
import math
from functools import partial
from pathlib import Path

import pytest
import torch

pytest.importorskip("torchaudio.models.decoder")

from seqkit.data.tokenizer import CharTokenizer  # noqa: E402
from seqkit.decoding.beam import BeamSearchDecoder  # noqa: E402
from seqkit.encoders.rnn import RNNEncoder  # noqa: E402
from seqkit.features.cmvn import UtteranceCMVN  # noqa: E402
from seqkit.features.spectral import LogMelFilterbank  # noqa: E402
from seqkit.inference.rescoring import RescoringEnsemble, ctc_log_likelihoods  # noqa: E402
from seqkit.inference.rover import rover  # noqa: E402
from seqkit.inference.transcriber import Transcriber  # noqa: E402
from seqkit.tasks.speech_to_text import SpeechToText  # noqa: E402

TEXTS = ["the cat sat on the mat", "the cat ran home", "a bat flew home", "the dog sat down", "a cat and a dog"]


def test_ctc_log_likelihood_sums_every_alignment() -> None:
    torch.manual_seed(0)
    log_probs = torch.randn(5, 3).log_softmax(dim=-1)  # (T, V), blank 0

    def collapse(path: tuple[int, ...]) -> list[int]:
        return [label for label, _ in itertools.groupby(path) if label != 0]

    def brute_force(target: list[int]) -> float:
        total = sum(math.exp(sum(log_probs[t, label] for t, label in enumerate(path)))
                    for path in itertools.product(range(3), repeat=5) if collapse(path) == target)
        return math.log(total)

    targets = [[1], [1, 2], [2, 2], [1, 1, 2], [], None, [1, 1, 2, 1, 1]]
    scores = ctc_log_likelihoods(log_probs, targets, blank=0)
    for target, score in zip(targets[:5], scores[:5].tolist()):
        assert score == pytest.approx(brute_force(target), abs=1e-6)
    assert scores[5] == float("-inf")  # a transcript the member cannot spell
    assert scores[6] == float("-inf")  # two repeats: seven frames at least
    # In groups of one transcript (a long recording's memory budget): the same scores.
    assert torch.equal(ctc_log_likelihoods(log_probs, targets, blank=0, batch_bytes=1), scores)


def test_a_recording_too_long_to_rescore_is_refused() -> None:
    log_probs = torch.zeros(40_000, 2).log_softmax(dim=-1)  # about half an hour at 40 ms a frame
    with pytest.raises(ValueError, match=r"rescoring 40000 frames needs 4\.5 GiB a transcript; use --combine rover"):
        ctc_log_likelihoods(log_probs, [[1] * 7_500], blank=0)


def member(tokenizer: CharTokenizer, tmp_path: Path, **beam_options) -> Transcriber:
    """A transcriber whose task carries ``tokenizer``; the tests hand ``rescore`` the frames."""
    task = SpeechToText(tokenizer=tokenizer.state(), features=LogMelFilterbank(sample_rate=8000, n_mels=16),
                        normalizer=UtteranceCMVN(), encoder=partial(RNNEncoder, hidden_size=8, num_layers=1)).eval()
    beam = BeamSearchDecoder(beam_size=16, **beam_options)
    beam.prepare(task.tokenizer, TEXTS, tmp_path)
    return Transcriber(task, beam)


def emissions(tokenizer: CharTokenizer, text: str, delay: int = 0, **changes: dict[int, float]) -> torch.Tensor:
    """(T, V) log-probs: ``delay`` blank frames, then each token (0.9) and a blank; ``changes``
    replaces the distribution of frame ``f{N}`` (counted after the delay), the rest spread evenly."""
    frames = [{tokenizer.blank_id: 0.9}] * delay
    for token in tokenizer.encode(text):
        frames += [{token: 0.9}, {tokenizer.blank_id: 0.9}]
    for name, peaks in changes.items():
        frames[delay + int(name[1:])] = peaks
    probs = torch.empty(len(frames), tokenizer.vocab_size)
    for t, peaks in enumerate(frames):
        probs[t] = (1.0 - sum(peaks.values())) / (tokenizer.vocab_size - len(peaks))
        for token, p in peaks.items():
            probs[t, token] = p
    return probs.log()


@pytest.fixture(scope="module")
def tokenizer() -> CharTokenizer:
    return CharTokenizer().fit(TEXTS)


def test_a_sure_member_outweighs_two_that_lean_the_other_way(tokenizer: CharTokenizer, tmp_path: Path) -> None:
    c, b = tokenizer.encode("c")[0], tokenizer.encode("b")[0]
    members = [member(tokenizer, tmp_path / str(k)) for k in range(3)]  # no LM: the acoustics decide
    leaning = emissions(tokenizer, "the cat ran home", f8={c: 0.45, b: 0.40})
    sure = emissions(tokenizer, "the cat ran home", f8={b: 0.90, c: 0.02})
    text, tops = RescoringEnsemble(members, ["a", "b", "c"]).rescore([leaning, leaning, sure])
    assert tops == ["the cat ran home", "the cat ran home", "the bat ran home"]
    assert rover(tops) == "the cat ran home"  # a vote counts heads
    # log .40 + log .40 + log .90 > log .45 + log .45 + log .02: the product of the members' probabilities
    assert text == "the bat ran home"


def test_members_may_spike_at_different_frames(tokenizer: CharTokenizer, tmp_path: Path) -> None:
    c, b = tokenizer.encode("c")[0], tokenizer.encode("b")[0]
    members = [member(tokenizer, tmp_path / str(k)) for k in range(3)]
    # Each member hears "the cat sat down" on frames of its own (delays 0, 1, 3), the first unclearly.
    frames = [emissions(tokenizer, "the cat sat down", delay=0, f8={b: 0.5, c: 0.4}),
              emissions(tokenizer, "the cat sat down", delay=1),
              emissions(tokenizer, "the cat sat down", delay=3)]
    text, tops = RescoringEnsemble(members, ["a", "b", "c"]).rescore(frames)
    assert tops == ["the bat sat down"] + ["the cat sat down"] * 2
    assert text == "the cat sat down"
    # Averaged frame by frame, the same posteriors read as something else.
    frames_n = min(f.shape[0] for f in frames)
    averaged = torch.stack([f[:frames_n].exp() for f in frames]).mean(dim=0).log()[None]
    assert members[0].beam.decode(averaged, torch.tensor([frames_n])) != ["the dog sat down"]


def test_the_lm_weighs_in_as_in_the_search(tokenizer: CharTokenizer, tmp_path: Path) -> None:
    c, b = tokenizer.encode("c")[0], tokenizer.encode("b")[0]
    # Acoustics favour "bat" a little in a context where only "cat" was seen.
    frames = [emissions(tokenizer, "the cat ran home", f8={b: 0.48, c: 0.45})] * 2
    plain = RescoringEnsemble([member(tokenizer, tmp_path / str(k)) for k in range(2)], ["a", "b"])
    assert plain.rescore(frames)[0] == "the bat ran home"
    with_lm = RescoringEnsemble([member(tokenizer, tmp_path / f"lm{k}", lm_weight=1.0) for k in range(2)], ["a", "b"])
    assert with_lm.rescore(frames)[0] == "the cat ran home"


def test_a_transcript_a_member_cannot_spell_is_out(tokenizer: CharTokenizer, tmp_path: Path) -> None:
    no_d = CharTokenizer().fit([t for t in TEXTS if "d" not in t] + ["the cat sat on the mat"])
    assert no_d.unknown_symbols("dog") == {"d", "g"}
    # The first member, who knows every letter, hears "a cat and a dog" with its "dog" clear.
    knows = emissions(tokenizer, "a cat and a dog")
    lacks = emissions(no_d, "a cat sat on the mat")
    text, tops = RescoringEnsemble([member(tokenizer, tmp_path / "all"), member(no_d, tmp_path / "no_d")],
                                   ["all", "no_d"]).rescore([knows, lacks])
    assert tops == ["a cat and a dog", "a cat sat on the mat"]
    assert "d" not in text  # every transcript with a "d" is out: the second member cannot read it


def test_members_need_a_lexicon_beam_search(tokenizer: CharTokenizer, tmp_path: Path) -> None:
    with_lexicon = member(tokenizer, tmp_path / "lex")
    greedy = Transcriber(with_lexicon.task)
    with pytest.raises(ValueError, match="b.ckpt: rescoring needs every member's beam search with a lexicon"):
        RescoringEnsemble([with_lexicon, greedy], ["a.ckpt", "b.ckpt"])
    free = member(tokenizer, tmp_path / "free", lexicon_free=True)
    with pytest.raises(ValueError, match="c.ckpt: rescoring needs"):
        RescoringEnsemble([with_lexicon, free], ["a.ckpt", "c.ckpt"])
    with pytest.raises(ValueError, match="nbest must be >= 1"):
        RescoringEnsemble([with_lexicon, with_lexicon], ["a", "b"], nbest=0)


def test_members_transcripts_are_each_members_own_best(tokenizer: CharTokenizer, tmp_path: Path) -> None:
    torch.manual_seed(0)
    members = [member(tokenizer, tmp_path / str(k)) for k in range(2)]  # untrained: real frames, differing
    waves = [torch.randn(n) for n in (4000, 7000)]
    ensemble = RescoringEnsemble(members, ["a", "b"], nbest=4)
    texts, tops = ensemble.combined(waves)
    assert tops == ensemble.hypotheses(waves) == [list(h) for h in zip(*(m.transcribe(waves) for m in members))]
    assert ensemble.transcribe(waves) == texts
