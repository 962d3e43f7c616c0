"""Property-based tests (hypothesis) of the parsers, tokenizers, collate functions and CTC decoding.

Every parser must end in a result or its own error naming the file and line, whatever the
input.  The bugs these properties found (a NUL in a path, numbers beyond float range,
pathological JSON, a bare '@' header line, non-ASCII digits, values beyond float32, a file
that is not UTF-8) are fixed and pinned by a test each.
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from seqkit.data.manifest import ManifestError, Utterance, parse_manifest_line, read_manifest, utterance_record, write_manifest
from seqkit.data.sequences import collate_sequences
from seqkit.data.speech import collate_speech
from seqkit.data.text_windows import read_text
from seqkit.data.tokenizer import CharTokenizer, SentencePieceTokenizer, tokenizer_from_state
from seqkit.data.uea import TSData, TSFormatError, read_ts
from seqkit.data.vocabulary import CharVocabulary
from seqkit.decoding.greedy import greedy_decode
from seqkit.masking import padding_mask

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny tensors: no intra-op threads


# CI runs each property on a few hundred inputs; the longer campaign sets this to 10000:
#   SEQKIT_FUZZ_EXAMPLES=10000 python -m pytest tests/fuzz/test_parsers_properties.py
LONG_RUN = int(os.environ.get("SEQKIT_FUZZ_EXAMPLES", "0"))


def _settings(examples: int) -> settings:
    return settings(max_examples=LONG_RUN or examples, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder for the whole module: hypothesis runs many examples per test."""
    return tmp_path_factory.mktemp("properties")


# --------------------------------------------------------------------------- manifest lines

json_scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8)
json_values = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=6
)
AUDIO_PATHS = ["a.wav", "sub/b.flac", "./c.wav", "a/../b.wav", "../x.wav", "sub/../../y.wav", "/abs.wav", "", ".", "sub/"]


@st.composite
def manifest_records(draw: st.DrawFn) -> dict:
    """A well-formed manifest record, then a few fields replaced by any JSON value, removed or added."""
    record = {
        "id": draw(st.text(max_size=6)),
        "audio": draw(st.sampled_from(AUDIO_PATHS) | st.text(max_size=10)),
        "duration": draw(st.floats(0.01, 100.0) | st.sampled_from(["1.5", " 2 ", "1_0", True])),
        "text": draw(st.text(max_size=10)),
        "speaker": draw(st.text(max_size=4)),
    }
    if draw(st.booleans()):
        record["offset"], record["size"] = draw(st.integers(0, 2**40)), draw(st.integers(1, 2**40))
    odd_values = {"duration": st.floats() | st.sampled_from(["nan", "-inf", "1e999", "x", "", 0, -1]),
                  "offset": st.integers(-3, 3), "size": st.integers(-3, 3)}
    for key in draw(st.lists(st.sampled_from([*record, "offset", "size"]), max_size=3)):
        record[key] = draw(odd_values.get(key, st.nothing()) | json_values)
    for key in draw(st.sets(st.sampled_from(sorted(record)), max_size=2)):
        del record[key]
    record.update(draw(st.dictionaries(st.text(max_size=4), json_values, max_size=2)))
    return record


def _check_manifest_line(raw: str, folder: Path, line: int, data_root: Path | None) -> None:
    manifest = folder / "train.jsonl"
    try:
        utt = parse_manifest_line(raw, manifest, line, data_root)
    except ManifestError as err:
        assert str(err).startswith(f"{manifest}:{line}: "), str(err)
        event("ManifestError")
        return
    record = json.loads(raw)
    root = (data_root or folder).resolve()
    assert isinstance(utt, Utterance) and utt.line == line and utt.manifest == str(manifest)
    assert utt.duration > 0 and math.isfinite(utt.duration) and utt.text == record["text"]
    assert utt.id == str(record["id"]) and Path(utt.audio).is_relative_to(root)
    assert (utt.offset is None) == (utt.size is None) and (utt.size is None or utt.size > 0 <= utt.offset)
    event("Utterance")


@_settings(400)
@given(raw=st.text(max_size=40) | st.sampled_from(["{}", "[]", "null", "1", '"x"', "{", '{"id": 1}']), line=st.integers(1, 10**6))
def test_manifest_any_text_line_is_an_utterance_or_a_manifest_error(folder: Path, raw: str, line: int) -> None:
    _check_manifest_line(raw, folder, line, None)


@_settings(500)
@given(record=manifest_records(), line=st.integers(1, 10**6), use_root=st.booleans())
def test_manifest_any_json_object_is_an_utterance_or_a_manifest_error(folder: Path, record: dict, line: int, use_root: bool) -> None:
    _check_manifest_line(json.dumps(record), folder, line, folder / "root" if use_root else None)


path_segments = st.text(st.characters(codec="utf-8", exclude_characters="/\x00"), min_size=1, max_size=6).filter(
    lambda s: s not in (".", "..")
)
valid_records = st.lists(
    st.fixed_dictionaries(
        {
            "id": st.text(max_size=8),
            "audio": st.lists(path_segments, min_size=1, max_size=3).map("/".join),
            "duration": st.floats(min_value=0.0, exclude_min=True, allow_infinity=False),
            "text": st.text(),
            "speaker": st.text(max_size=5),
        },
        optional={"offset": st.integers(0, 2**40)},
    ),
    min_size=1,
    max_size=6,
    unique_by=lambda r: r["id"],
)


@_settings(200)
@given(records=valid_records)
def test_manifest_round_trip_through_write_and_read(folder: Path, records: list[dict]) -> None:
    for record in records:
        if "offset" in record:
            record["size"] = record["offset"] + 1
    path = folder / "round_trip" / "m.jsonl"
    assert write_manifest(path, records) == len(records)
    utterances = read_manifest(path)
    assert [u.line for u in utterances] == list(range(1, len(records) + 1))
    for utt, record in zip(utterances, records):
        assert utt.audio == str((path.parent / record["audio"]).resolve())
        assert utterance_record(utt, path.parent.resolve()) == record


def test_nul_in_manifest_audio_path_is_a_manifest_error(folder: Path) -> None:
    with pytest.raises(ManifestError, match=r"train.jsonl:3: "):
        parse_manifest_line('{"id": "a", "audio": "a\\u0000.wav", "duration": 1, "text": "x"}', folder / "train.jsonl", 3)


def test_manifest_duration_beyond_float_range_is_a_manifest_error(folder: Path) -> None:
    with pytest.raises(ManifestError, match=r"train.jsonl:3: "):
        parse_manifest_line('{"id": "a", "audio": "a.wav", "duration": 1%s, "text": "x"}' % ("0" * 400), folder / "train.jsonl", 3)


@pytest.mark.parametrize("raw", ["1" * 5000, "[" * 100_000], ids=["long-number", "deep-nesting"])
def test_pathological_manifest_json_is_a_manifest_error(folder: Path, raw: str) -> None:
    with pytest.raises(ManifestError, match=r"train.jsonl:3: "):
        parse_manifest_line(raw, folder / "train.jsonl", 3)


# --------------------------------------------------------------------------- .ts reader

VALID_TS = """# a toy problem
@problemName Toy
@timeStamps false
@missing true
@univariate false
@dimensions 2
@equalLength true
@seriesLength 3
@classLabel true a b
@data
1.0,2.0,3.0:4.0,5.0,6.0:a
0.5,?,1:2,NaN,2:b
-1e3,0,1:7,8,9:a
"""
TS_PIECES = [",", ":", "?", "@", "#", " ", "\t", "\r", "0", "1", "9", ".", "e", "-", "+", "nan", "NaN", "inf", "a", "b",
             "c", "true", "false", "@data", "@dimensions ", "@equalLength false", "@classLabel true a", "@univariate true",
             "1e39", "1e400", "_", "\x00", "\u2028", "\xa0", "٣"]
TS_LINES = VALID_TS.splitlines() + ["", "@", "@seriesLength x", "@timeStamps true", "?,?,?:?,?,?:a", "1,2:3,4:b", "1,2,3:a"]


@st.composite
def mutated_ts(draw: st.DrawFn) -> str:
    """The valid document after a few line and character edits."""
    lines = VALID_TS.splitlines()
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["delete", "duplicate", "replace", "swap", "insert", "remove", "change"]))
        if not lines:
            lines = [""]
        i = draw(st.integers(0, len(lines) - 1))
        if op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(draw(st.integers(0, len(lines))), lines[i])
        elif op == "replace":
            lines[i] = draw(st.sampled_from(TS_LINES) | st.text(max_size=12))
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        else:
            at = draw(st.integers(0, len(lines[i])))
            piece = draw(st.sampled_from(TS_PIECES) | st.characters())
            end = at + (op != "insert") * draw(st.integers(1, 3))
            lines[i] = lines[i][:at] + (piece if op != "remove" else "") + lines[i][end:]
    return "\n".join(lines) + draw(st.sampled_from(["\n", "", "\r\n"]))


def _check_ts(folder: Path, text: str) -> None:
    path = folder / "problem.ts"
    path.write_text(text, encoding="utf-8", newline="")
    with open(path, encoding="utf-8") as handle:
        count = len(handle.readlines())  # lines as the reader counts them ('\r' ends one too)
    try:
        data = read_ts(path)
    except TSFormatError as err:
        match = re.match(rf"{re.escape(str(path))}:(\d+): |{re.escape(str(path))}: no (@data line|cases after @data)$", str(err))
        assert match, str(err)
        assert match[1] is None or 1 <= int(match[1]) <= count, str(err)
        event("TSFormatError")
        return
    assert isinstance(data, TSData) and data.series and len(data.series) == len(data.labels) == len(data.lines)
    assert data.lines == sorted(set(data.lines)) and 1 <= data.lines[0] and data.lines[-1] <= count
    assert all(label in data.classes for label in data.labels)
    for case in data.series:
        assert case.dtype == np.float32 and case.ndim == 2 and case.shape[0] >= 1
        assert case.shape[1] == data.num_channels and np.isfinite(case).all()
    event("TSData")


@_settings(500)
@given(text=mutated_ts())
def test_ts_mutated_documents_read_or_raise_ts_format_error(folder: Path, text: str) -> None:
    _check_ts(folder, text)


@_settings(200)
@given(text=st.text(max_size=80))
def test_ts_arbitrary_text_reads_or_raises_ts_format_error(folder: Path, text: str) -> None:
    _check_ts(folder, text)


def test_ts_valid_document_reads(folder: Path) -> None:
    path = folder / "valid.ts"
    path.write_text(VALID_TS, encoding="utf-8")
    data = read_ts(path)
    assert data.classes == ["a", "b"] and data.labels == ["a", "b", "a"] and data.lines == [11, 12, 13]
    np.testing.assert_array_equal(data.series[1], [[0.5, 2], [0.75, 2], [1, 2]])


def test_ts_bare_at_line_is_a_format_error(folder: Path) -> None:
    path = folder / "bare.ts"
    path.write_text(VALID_TS.replace("@missing true", "@"), encoding="utf-8")
    with pytest.raises(TSFormatError, match=r"bare.ts:4: "):
        read_ts(path)


@pytest.mark.parametrize("tag", ["@dimensions 2", "@seriesLength 3"])
def test_ts_non_decimal_digit_counts_are_a_format_error(folder: Path, tag: str) -> None:
    path = folder / "digits.ts"
    path.write_text(VALID_TS.replace(tag, tag[:-1] + "²"), encoding="utf-8")
    with pytest.raises(TSFormatError, match=r"digits.ts:\d+: "):
        read_ts(path)


def test_ts_value_beyond_float32_is_a_format_error(folder: Path) -> None:
    path = folder / "big.ts"
    path.write_text(VALID_TS.replace("-1e3,", "1e39,"), encoding="utf-8")
    with pytest.raises(TSFormatError, match=r"big\.ts:\d+: a value beyond float32"):
        read_ts(path)


def test_ts_not_utf8_is_a_format_error(folder: Path) -> None:
    path = folder / "latin1.ts"
    path.write_bytes(VALID_TS.replace("a toy problem", "caf\xe9").encode("latin-1"))
    with pytest.raises(TSFormatError, match=r"latin1.ts"):
        read_ts(path)


# --------------------------------------------------------------------------- text reader and CharVocabulary

@_settings(300)
@given(text=st.text())
def test_read_text_keeps_every_character(folder: Path, text: str) -> None:
    path = folder / "text.txt"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
    assert read_text(str(path)) == text


@_settings(400)
@given(train=st.text(min_size=1), data=st.data())
def test_char_vocabulary_round_trips_text_over_its_alphabet(train: str, data: st.DataObject) -> None:
    vocab = CharVocabulary.fit(train)
    assert vocab.tokens == sorted(set(train)) and vocab.vocab_size == len(set(train))
    text = data.draw(st.text(st.sampled_from(vocab.tokens)))
    ids = vocab.encode(text)
    assert ids.dtype == torch.int64 and ids.shape == (len(text),)
    assert ((ids >= 0) & (ids < vocab.vocab_size)).all() and vocab.decode(ids) == text
    assert CharVocabulary.from_state(json.loads(json.dumps(vocab.state()))).tokens == vocab.tokens


@_settings(400)
@given(train=st.text(min_size=1), text=st.text())
def test_char_vocabulary_names_the_first_unknown_character(train: str, text: str) -> None:
    vocab = CharVocabulary.fit(train)
    unknown = [i for i, char in enumerate(text) if char not in vocab.tokens]
    if not unknown:
        assert vocab.decode(vocab.encode(text)) == text
        return
    char = text[unknown[0]]
    with pytest.raises(ValueError, match=re.escape(f"where: character {char!r} (U+{ord(char):04X}) at offset {unknown[0]} ")):
        vocab.encode(text, where="where")


# --------------------------------------------------------------------------- tokenizers

@st.composite
def char_tokenizer_and_text(draw: st.DrawFn) -> tuple[CharTokenizer, str]:
    """A CharTokenizer fitted on random texts, and a text mostly over its alphabet."""
    tokenizer = CharTokenizer(lowercase=draw(st.booleans()), strip_punctuation=draw(st.booleans()))
    tokenizer.fit(draw(st.lists(st.text(max_size=20), min_size=1, max_size=5)))
    alphabet = st.sampled_from(tokenizer.tokens[1:] + [" ", "\t", "\n"]) if len(tokenizer.tokens) > 1 else st.characters()
    return tokenizer, draw(st.text(alphabet | st.characters(), max_size=20) | st.text(alphabet, max_size=20))


@_settings(500)
@given(pair=char_tokenizer_and_text())
def test_char_tokenizer_round_trip_and_unknown_characters(pair: tuple[CharTokenizer, str]) -> None:
    tokenizer, text = pair
    ids = tokenizer.encode(text)
    assert tokenizer.blank_id not in ids and all(0 < i < tokenizer.vocab_size for i in ids)
    normal = tokenizer.normalize(text)
    unknown = {c for c in normal if c not in tokenizer.tokens[1:]}
    assert tokenizer.unknown_symbols(text) == unknown
    if not unknown:
        event("text over the alphabet")
        assert tokenizer.decode(ids) == normal
    else:  # documented: unknown characters are dropped
        assert tokenizer.decode(ids) == " ".join("".join(c for c in normal if c not in unknown).split())
    rebuilt = tokenizer_from_state(json.loads(json.dumps(tokenizer.state())))
    assert rebuilt.encode(text) == ids and rebuilt.decode(ids) == tokenizer.decode(ids)


@_settings(400)
@given(pair=char_tokenizer_and_text(), data=st.data())
def test_char_tokenizer_decode_ignores_blanks_and_collapses_spaces(pair: tuple[CharTokenizer, str], data: st.DataObject) -> None:
    tokenizer = pair[0]
    ids = data.draw(st.lists(st.integers(1, tokenizer.vocab_size - 1), max_size=20) if tokenizer.vocab_size > 1 else st.just([]))
    with_blanks = list(ids)
    for _ in range(data.draw(st.integers(0, 6))):
        with_blanks.insert(data.draw(st.integers(0, len(with_blanks))), tokenizer.blank_id)
    out = tokenizer.decode(with_blanks)
    assert out == tokenizer.decode(ids)
    assert out == out.strip() and "  " not in out and out == " ".join(out.split())


SENTENCES = [f"{a} {b} {c}" for a in ("the cat", "a dog", "my bird", "one fish", "two frogs", "her horse")
             for b in ("sat on", "ran to", "looked at", "jumped over") for c in ("the mat", "a tree", "the house")]
WORDS = sorted({w for s in SENTENCES for w in s.split()})


@pytest.fixture(scope="module")
def sentencepiece() -> SentencePieceTokenizer:
    return SentencePieceTokenizer(vocab_size=40).fit(SENTENCES)


@_settings(300)
@given(words=st.lists(st.sampled_from(WORDS) | st.sampled_from(["The", "CAT!", "dog,", "  "]), max_size=8), extra=st.text(max_size=6))
def test_sentencepiece_never_emits_blank_and_round_trips_known_text(
    sentencepiece: SentencePieceTokenizer, words: list[str], extra: str
) -> None:
    text = " ".join(words)
    ids = sentencepiece.encode(text)
    assert sentencepiece.blank_id not in ids and sentencepiece.decode(ids) == sentencepiece.normalize(text)
    assert sentencepiece.decode([0, *[x for i in ids for x in (i, 0)]]) == sentencepiece.decode(ids)
    assert sentencepiece.blank_id not in sentencepiece.encode(text + extra)  # unknown pieces are <unk> (1), never blank


# --------------------------------------------------------------------------- collate and padding

@st.composite
def sequence_items(draw: st.DrawFn) -> list[dict]:
    features = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    dtype = draw(st.sampled_from([torch.float32, torch.int64]))
    generator = torch.Generator().manual_seed(draw(st.integers(0, 2**32)))
    items = []
    for n, length in enumerate(draw(st.lists(st.integers(1, 12), min_size=1, max_size=6))):
        values = torch.randint(-9, 10, (length, *features), generator=generator).to(dtype)
        item = {"id": f"u{n}", "inputs": values, "label": draw(st.integers(0, 9))}
        if draw(st.booleans()):
            item["group"] = f"g{n % 2}"
        items.append(item)
    return items


@_settings(300)
@given(items=sequence_items())
def test_collate_sequences_pads_with_zeros_and_keeps_every_value(items: list[dict]) -> None:
    batch = collate_sequences(items)
    lengths = [item["inputs"].shape[0] for item in items]
    first = items[0]["inputs"]
    assert batch["inputs"].shape == (len(items), max(lengths), *first.shape[1:]) and batch["inputs"].dtype == first.dtype
    assert batch["lengths"].tolist() == lengths and batch["lengths"].dtype == torch.int64
    assert batch["labels"].tolist() == [item["label"] for item in items]
    assert batch["ids"] == [item["id"] for item in items]
    assert batch["groups"] == [item.get("group", item["id"]) for item in items]
    for row, item in enumerate(items):
        assert torch.equal(batch["inputs"][row, : lengths[row]], item["inputs"])
        assert not batch["inputs"][row, lengths[row] :].any()
    mask = padding_mask(batch["lengths"], max(lengths))
    assert mask.sum(dim=1).tolist() == lengths and not batch["inputs"][~mask].any()


@st.composite
def speech_items(draw: st.DrawFn) -> list[dict]:
    generator = torch.Generator().manual_seed(draw(st.integers(0, 2**32)))
    items = []
    for n in range(draw(st.integers(0, 6))):
        if draw(st.integers(0, 3)) == 0:
            items.append({"skipped": f"m.jsonl:{n}: unreadable"})
            continue
        samples, targets = draw(st.integers(1, 50)), draw(st.integers(0, 5))
        waveform, ids = torch.randn(samples, generator=generator), torch.randint(1, 9, (targets,), generator=generator)
        items.append({"waveform": waveform, "targets": ids, "id": f"u{n}", "text": f"t{n}", "speaker": f"s{n % 2}"})
    return items


@_settings(300)
@given(items=speech_items())
def test_collate_speech_pads_waveforms_and_concatenates_targets(items: list[dict]) -> None:
    batch = collate_speech(items)
    kept = [item for item in items if "skipped" not in item]
    assert batch["skipped"] == [item["skipped"] for item in items if "skipped" in item]
    lengths = [item["waveform"].numel() for item in kept]
    assert batch["waveforms"].shape == (len(kept), max(lengths, default=0)) and batch["waveforms"].dtype == torch.float32
    assert batch["lengths"].tolist() == lengths and batch["target_lengths"].tolist() == [item["targets"].numel() for item in kept]
    expected_targets = torch.cat([item["targets"] for item in kept]) if kept else torch.zeros(0, dtype=torch.long)
    assert torch.equal(batch["targets"], expected_targets) and batch["targets"].dtype == torch.int64
    for key in ("id", "text", "speaker"):
        assert batch[f"{key}s"] == [item[key] for item in kept]
    for row, item in enumerate(kept):
        assert torch.equal(batch["waveforms"][row, : lengths[row]], item["waveform"])
    mask = padding_mask(batch["lengths"], batch["waveforms"].shape[1])
    assert not batch["waveforms"][~mask].any()


@_settings(300)
@given(
    lengths=st.lists(st.integers(0, 20), min_size=1, max_size=8),
    max_len=st.integers(0, 25),
    dtype=st.sampled_from([torch.int32, torch.int64]),
)
def test_padding_mask_agrees_with_lengths(lengths: list[int], max_len: int, dtype: torch.dtype) -> None:
    mask = padding_mask(torch.tensor(lengths, dtype=dtype), max_len)
    assert mask.dtype == torch.bool and mask.shape == (len(lengths), max_len)
    assert mask.tolist() == [[t < length for t in range(max_len)] for length in lengths]


# --------------------------------------------------------------------------- CTC greedy decoding

def reference_greedy(scores: list[list[list[float]]], lengths: list[int], blank: int) -> list[list[int]]:
    """Argmax per frame (first on ties) within the length, collapse repeats, drop blanks."""
    out = []
    for frames, length in zip(scores, lengths):
        best = [max(range(len(frame)), key=lambda v, frame=frame: (frame[v], -v)) for frame in frames[:length]]
        out.append([token for t, token in enumerate(best) if token != blank and (t == 0 or best[t - 1] != token)])
    return out


@st.composite
def ctc_batches(draw: st.DrawFn) -> tuple[torch.Tensor, list[int], int]:
    batch, frames, vocab = draw(st.integers(1, 4)), draw(st.integers(0, 12)), draw(st.integers(1, 6))
    # Small integer scores: ties and repeated frames are common.
    values = draw(st.lists(st.integers(-2, 2), min_size=batch * frames * vocab, max_size=batch * frames * vocab))
    lengths = draw(st.lists(st.integers(0, frames), min_size=batch, max_size=batch))
    return torch.tensor(values, dtype=torch.float32).view(batch, frames, vocab), lengths, draw(st.integers(0, vocab - 1))


@_settings(500)
@given(case=ctc_batches(), noise=st.integers(0, 2**32))
def test_greedy_decode_matches_reference_and_ignores_padding_frames(case: tuple[torch.Tensor, list[int], int], noise: int) -> None:
    scores, lengths, blank = case
    out = greedy_decode(scores, torch.tensor(lengths), blank)
    assert out == reference_greedy(scores.tolist(), lengths, blank)
    assert all(blank not in tokens for tokens in out)
    assert all(len(tokens) <= length for tokens, length in zip(out, lengths))
    padded = scores.clone()
    generator = torch.Generator().manual_seed(noise)
    for row, length in enumerate(lengths):
        padded[row, length:] = torch.randn(padded[row, length:].shape, generator=generator) * 10
    assert greedy_decode(padded, torch.tensor(lengths), blank) == out
