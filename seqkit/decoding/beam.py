"""CTC beam search with an optional word lexicon and n-gram LM (flashlight via torchaudio).

Two kinds of LM, both estimated from the training transcripts (or ``lm_text``): with a
lexicon, a word n-gram LM; lexicon-free, a *token* n-gram LM (characters, with ``|`` between
words, or SentencePiece pieces), which can also spell words the training text never had.

The decoder is built empty from YAML, then :meth:`BeamSearchDecoder.prepare` writes the
files flashlight reads (tokens, lexicon, ARPA LM) from the fitted tokenizer and the training
transcripts, and builds ``torchaudio.models.decoder.ctc_decoder``.

Mapping our tokenizers onto flashlight's conventions:

* Flashlight needs a word-boundary ("silence") token. For the char and phoneme tokenizers that
  is the space character, renamed ``|`` (whitespace cannot appear in flashlight's token files).
  SentencePiece marks word starts inside the pieces and has no such token, so a silence column
  is appended to the emissions: lexicon-free, with a score it can never win with; with a
  lexicon, a copy of the blank's, so a blank frame after a word is its boundary.
* Lexicon spellings end with ``|``: flashlight completes a word on the first frame of its final
  token and cannot repeat that token afterwards, so a SentencePiece word ending on its last
  piece could not span frames ("▁ken ▁ken" was read as two words).  SentencePiece words are
  also spelt without the ``|``, for a next word that follows with no blank between; a last
  piece that both spans frames and is followed that way is still out of reach (flashlight
  drops one of the two words).  Our targets have no boundary after the last word; one extra
  frame that emits ``|`` is appended to every sequence so the last word can be completed.
* KenLM scores are log10 while emissions are natural-log; ``lm_weight`` absorbs the factor.
* Homophones of a phoneme lexicon tie exactly where the LM cannot tell them apart, and
  flashlight's tie-breaking varies between runs; :func:`~seqkit.decoding.ngram.homophone_ranks`
  makes the more frequent word win, so a transcript is the same every run.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import Tensor

from seqkit.data.manifest import read_manifest
from seqkit.data.paths import expand_data_path
from seqkit.data.tokenizer import Tokenizer
from seqkit.decoding.alignment import TokenSpan, spans_from_starts
from seqkit.decoding.ngram import BOUNDARY_KINDS, estimate_ngram_lm, homophone_ranks, write_lexicon

log = logging.getLogger(__name__)

# Score of frames/columns the decoder must never choose: finite (not -inf) so flashlight's
# beam arithmetic stays well-defined, yet far below any real log-probability.
_NEVER = -1.0e5
_SIL_CANDIDATES = ("|", "<sil>", "<space>", "<wb>")
# KenLM (inside torchaudio's and flashlight-text's wheels) reads bigram models up to its
# KENLM_MAX_ORDER; it refuses a unigram ARPA ("assumes at least a bigram model").
MIN_NGRAM_ORDER, MAX_NGRAM_ORDER = 2, 6


def read_lm_text(path: str) -> list[str]:
    """Sentences for a lexicon and LM: a JSONL manifest's transcripts, or a text file's lines."""
    path = Path(expand_data_path(path))
    if path.suffix == ".jsonl":
        return [u.text for u in read_manifest(path)]
    if not path.is_file():
        raise FileNotFoundError(f"LM text {path} not found")
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


class BeamSearchDecoder:
    """Flashlight CTC beam search; lexicon-constrained (optionally with a word LM) or lexicon-free.

    Args:
        beam_size: hypotheses kept per frame.
        lm_weight: weight of the n-gram LM (log10 scores); 0 disables the LM.
        word_score: score added per emitted word (positive favours more words); lexicon-free,
            per emitted word boundary (flashlight's ``sil_score``: it has no words there).
        ngram_order: order of the n-gram LM estimated from the training transcripts (words;
            lexicon-free, tokens: a character LM wants the most, 6).
        lexicon_free: decode token sequences without a lexicon; the LM, if any, is over tokens.
        extra_words: a text file whose words (after the tokenizer's normalisation) join the
            lexicon though the training transcripts lack them, so the decoder can write them;
            with an LM, each takes only the uniform share of its unigram level (as ``<unk>``),
            so it wins only where the audio outweighs that.
        lm_text: a JSONL manifest (its transcripts) or a text file (one sentence a line) whose
            text builds the lexicon and the LM instead of the training transcripts: for example
            the real corpus's alone, when extra training manifests hold synthetic speech of
            outside text (which ``seqkit test`` would otherwise count into the LM too).
    """

    def __init__(
        self,
        beam_size: int = 32,
        lm_weight: float = 0.0,
        word_score: float = 0.0,
        ngram_order: int = 3,
        lexicon_free: bool = False,
        extra_words: str | None = None,
        lm_text: str | None = None,
    ) -> None:
        if beam_size < 1:
            raise ValueError(f"beam_size must be >= 1, got {beam_size}")
        if not MIN_NGRAM_ORDER <= ngram_order <= MAX_NGRAM_ORDER:
            raise ValueError(f"ngram_order must be {MIN_NGRAM_ORDER} to {MAX_NGRAM_ORDER} "
                             f"(the n-gram orders flashlight's KenLM reads), got {ngram_order}")
        self.beam_size = beam_size
        self.lm_weight = lm_weight
        self.word_score = word_score
        self.ngram_order = ngram_order
        if extra_words is not None and lexicon_free:
            raise ValueError("extra_words join the lexicon; lexicon-free decoding has none")
        self.lexicon_free = lexicon_free
        self.extra_words = extra_words
        if lm_text is not None and lexicon_free and lm_weight <= 0:
            raise ValueError("lm_text builds the lexicon and the LM; lexicon-free decoding with lm_weight 0 uses neither")
        self.lm_text = lm_text
        self._decoder = None
        self._tokenizer: Tokenizer | None = None
        self._extra_sil_column = False  # append a silence column to the emissions
        self._sil_copies_blank = False  # ... scored as the blank (SentencePiece lexicon decoding)
        self._final_sil_frame = False  # append one silence frame to every sequence
        self._sil_id = -1

    @property
    def prepared(self) -> bool:
        return self._decoder is not None

    def prepare(self, tokenizer: Tokenizer, train_texts: list[str] | None, workdir: Path) -> None:
        """Write tokens/lexicon/LM files into ``workdir`` and build the flashlight decoder.

        The lexicon is every word of ``train_texts`` the tokenizer can spell; the LM is
        estimated from the same texts when ``lm_weight > 0``.  Lexicon decoding, and any LM,
        needs texts.  ``lm_text``, when set, is read in their place.
        """
        from torchaudio.models.decoder import ctc_decoder

        workdir = Path(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        if not tokenizer.fitted:
            raise ValueError("the tokenizer must be fitted before preparing the decoder")
        if self.lm_text is not None:
            train_texts = read_lm_text(self.lm_text)
        if not self.lexicon_free and not train_texts:
            raise ValueError("lexicon decoding needs train_texts to build the lexicon")
        if self.lm_weight > 0 and not train_texts:
            raise ValueError("an n-gram LM needs train_texts to be estimated from")

        tokens = list(tokenizer.tokens)
        sil = next(s for s in _SIL_CANDIDATES if s not in tokens)
        has_boundary = tokenizer.kind in BOUNDARY_KINDS and " " in tokens
        if has_boundary:
            self._sil_id = tokens.index(" ")
            tokens[self._sil_id] = sil
        else:
            self._sil_id = len(tokens)
            tokens.append(sil)
        self._extra_sil_column = not has_boundary
        # Only SentencePiece has no boundary in its targets by kind; chars of a corpus of single
        # words (no space token) keep one word per utterance, as their targets do.
        self._sil_copies_blank = not self.lexicon_free and tokenizer.kind not in BOUNDARY_KINDS
        self._final_sil_frame = not self.lexicon_free  # lexicon spellings end with the boundary
        tokens_path = workdir / "tokens.txt"
        tokens_path.write_text("".join(f"{t}\n" for t in tokens), encoding="utf-8")

        lexicon_path = lm_path = None
        if not self.lexicon_free:
            sentences = [tokenizer.normalize(text).split() for text in train_texts]
            words = [w for s in sentences for w in s]
            extra = self._extra_words(tokenizer, set(words))
            ranks = homophone_ranks(words, tokenizer, sil, unseen=extra)
            extra = [w for w in extra if w in ranks]  # the ranks hold only spellable words
            if self.lm_weight <= 0:  # nothing tells homophones apart: keep the most frequent of each
                words = [w for w in words if ranks.get(w, 0) == 0]
                extra = [w for w in extra if ranks.get(w, 0) == 0]
            lexicon_path = workdir / "lexicon.txt"
            n_words = write_lexicon(words + extra, tokenizer, lexicon_path, sil)
            if n_words == 0:
                raise ValueError("no training word could be spelled with the tokenizer")
            if self.lm_weight > 0:
                lm = estimate_ngram_lm(sentences, self.ngram_order, vocabulary=extra)
                lm.break_ties(ranks)
                lm_path = lm.write_arpa(workdir / "lm.arpa")
            log.info("beam search: lexicon of %d words, LM %s", n_words, lm_path or "off")
        elif self.lm_weight > 0:
            # Token strings as flashlight names them (the space is the silence token).
            sentences = [[tokens[i] for i in tokenizer.encode(text)] for text in train_texts]
            lm_path = estimate_ngram_lm(sentences, self.ngram_order).write_arpa(workdir / "token_lm.arpa")
            log.info("beam search: lexicon-free, %d-gram token LM %s", self.ngram_order, lm_path)

        self._decoder = ctc_decoder(
            lexicon=str(lexicon_path) if lexicon_path else None,
            tokens=str(tokens_path),
            lm=str(lm_path) if lm_path else None,
            # Lexicon-free, flashlight scores token ids with the LM, so the LM's dictionary must be
            # the token list in id order; torchaudio's own (built via a hash map) is not, and would
            # score other tokens than the ones emitted.
            lm_dict=str(tokens_path) if self.lexicon_free and lm_path else None,
            nbest=1,
            beam_size=self.beam_size,
            lm_weight=self.lm_weight,
            word_score=self.word_score,
            sil_score=self.word_score if self.lexicon_free else 0.0,  # lexicon-free ignores word_score
            blank_token=tokens[tokenizer.blank_id],
            sil_token=sil,
            unk_word="<unk>",
        )
        self._tokenizer = tokenizer

    def _extra_words(self, tokenizer: Tokenizer, known: set[str]) -> list[str]:
        """The words of ``extra_words`` the training transcripts lack, in file order."""
        if self.extra_words is None:
            return []
        path = Path(expand_data_path(self.extra_words))
        if not path.is_file():
            raise FileNotFoundError(f"extra_words {path} not found")
        extra: dict[str, None] = {}
        with path.open(encoding="utf-8") as f:
            for line in f:
                extra.update((w, None) for w in tokenizer.normalize(line).split() if w not in known)
        return list(extra)

    def _emissions(self, log_probs: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Float32, contiguous CPU emissions in flashlight's layout; (B, T', V') and (B,)."""
        emissions = log_probs.detach().to(device="cpu", dtype=torch.float32)  # (B, T, V)
        lengths = lengths.detach().to(device="cpu", dtype=torch.long).clamp(max=emissions.shape[1])
        batch, frames, vocab = emissions.shape
        if self._extra_sil_column:
            if self._sil_copies_blank:  # a word boundary wherever a blank could be (see module docstring)
                sil = emissions[:, :, self._tokenizer.blank_id : self._tokenizer.blank_id + 1]
            else:
                sil = emissions.new_full((batch, frames, 1), _NEVER)
            emissions = torch.cat([emissions, sil], dim=2)  # (B, T, V + 1)
            vocab += 1
        if self._final_sil_frame:
            padded = emissions.new_full((batch, frames + 1, vocab), _NEVER)  # (B, T + 1, V')
            padded[:, :frames] = emissions
            # The extra frame goes right after each sequence's last valid frame.
            padded[torch.arange(batch), lengths] = _NEVER
            padded[torch.arange(batch), lengths, self._sil_id] = 0.0
            emissions, lengths = padded, lengths + 1
        return emissions.contiguous(), lengths

    def decode(self, log_probs: Tensor, lengths: Tensor) -> list[str]:
        """Best transcript per sequence.

        Args:
            log_probs: (B, T, V) log-probabilities over the tokenizer's vocabulary.
            lengths: (B,) valid frames per sequence.
        """
        return [self._text(hypo) if hypo else "" for hypo in self._best(log_probs, lengths)]

    def decode_aligned(self, log_probs: Tensor, lengths: Tensor) -> list[tuple[str, list[TokenSpan]]]:
        """Best transcript per sequence, with its tokens' frames (:mod:`seqkit.decoding.alignment`).
        Shapes as :meth:`decode`."""
        results = []
        for b, hypo in enumerate(self._best(log_probs, lengths)):
            if not hypo:
                results.append(("", []))
                continue
            frames = int(min(lengths[b], log_probs.shape[1]))
            # Flashlight's path opens with a silence before frame 0, so its timestep t is frame
            # t - 1; the silence column and the appended final frame are ours, not the model's.
            kept = [(int(token), int(step) - 1) for token, step in zip(hypo.tokens, hypo.timesteps)
                    if 0 < step <= frames and token < self._tokenizer.vocab_size]
            best = log_probs[b, :frames].argmax(dim=-1)  # (T,)
            results.append((self._text(hypo), spans_from_starts([t for t, _ in kept], [f for _, f in kept], best)))
        return results

    def nbest(self, log_probs: Tensor, lengths: Tensor, n: int) -> list[list[str]]:
        """Up to ``n`` different transcripts per sequence, best first (none for an empty one).
        Shapes as :meth:`decode`.

        They come from the final beam, so ``n`` above ``beam_size`` adds nothing; hypotheses
        that differ only in their path (the frames, a homophone's spelling) count once."""
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        texts = []
        for hypos in self._hypotheses(log_probs, lengths, n):
            distinct = dict.fromkeys(self._text(hypo) for hypo in hypos)
            texts.append(list(distinct))
        return texts

    def text_score(self, words: list[str]) -> float:
        """What the search adds to a transcript's acoustic score (emission log-probs): the LM's
        log10 probability of ``words``, end of sentence included, times ``lm_weight``, plus
        ``word_score`` per word.  Lexicon decoding only; every word must be in the lexicon."""
        if self._decoder is None:
            raise RuntimeError("call prepare() before text_score()")
        if self.lexicon_free:
            raise ValueError("text_score is for lexicon decoding: lexicon-free, the LM scores tokens, not words")
        score = self.word_score * len(words)
        if self.lm_weight <= 0:
            return score
        lm, vocabulary = self._decoder.lm, self._decoder.word_dict
        state, total = lm.start(False), 0.0
        for word in words:
            if not vocabulary.contains(word):
                raise ValueError(f"{word!r} is not in the decoder's lexicon")
            state, log10_prob = lm.score(state, vocabulary.get_index(word))
            total += log10_prob
        return score + self.lm_weight * (total + lm.finish(state)[1])

    def _best(self, log_probs: Tensor, lengths: Tensor) -> list:
        """Flashlight's best hypothesis per sequence (None for an empty one)."""
        return [hypos[0] if hypos else None for hypos in self._hypotheses(log_probs, lengths, 1)]

    def _hypotheses(self, log_probs: Tensor, lengths: Tensor, n: int) -> list[list]:
        """Flashlight's ``n`` best hypotheses per sequence, best first ([] for an empty one)."""
        if self._decoder is None or self._tokenizer is None:
            raise RuntimeError("call prepare() before decode()")
        if log_probs.dim() != 3 or log_probs.shape[2] != self._tokenizer.vocab_size:
            raise ValueError(
                f"log_probs must be (B, T, {self._tokenizer.vocab_size}), got {tuple(log_probs.shape)}"
            )
        emissions, lengths = self._emissions(log_probs, lengths)
        self._decoder.nbest = n  # torchaudio's decoder keeps this many of flashlight's final beam
        hypotheses = []
        for b in range(emissions.shape[0]):
            if lengths[b] == 0:
                hypotheses.append([])  # flashlight returns no hypothesis for an empty input
                continue
            # One sequence at a time so empty inputs never reach flashlight.
            hypotheses.append(list(self._decoder(emissions[b : b + 1], lengths[b : b + 1])[0]))
        return hypotheses

    def _text(self, hypo) -> str:
        if not self.lexicon_free:
            return " ".join(hypo.words)
        # Lexicon-free: map token ids back through the tokenizer (drops the extra silence id).
        vocab = self._tokenizer.vocab_size
        ids = [i for i in hypo.tokens.tolist() if 0 <= i < vocab and i != self._tokenizer.blank_id]
        return " ".join(self._tokenizer.decode(ids).split())
