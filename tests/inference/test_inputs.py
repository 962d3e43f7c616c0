"""What the inference commands read: files or a manifest, the output format, input-order writing."""

import argparse
import json

import numpy as np
import pytest
import soundfile as sf

from seqkit.data.manifest import ManifestError
from seqkit.inference.inputs import add_input_arguments, read_inputs, reorder


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_input_arguments(parser, "audio files", "a JSONL manifest")
    return parser.parse_args(argv)


@pytest.fixture
def manifest(tmp_path):
    audio = tmp_path / "corpus" / "a.wav"
    audio.parent.mkdir()
    sf.write(audio, np.zeros(1600, dtype=np.float32), 16000)
    lines = [{"id": "u1", "audio": "a.wav", "duration": 0.1, "text": "yes", "speaker": "s1"}]
    path = tmp_path / "corpus" / "dev.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_files_are_their_own_ids_and_the_format_defaults_to_tsv():
    items, fmt = read_inputs(_parse(["x.wav", "y.flac"]), "audio")
    assert [(i.id, i.path, i.label) for i in items] == [("x.wav", "x.wav", "x.wav"), ("y.flac", "y.flac", "y.flac")]
    assert fmt == "tsv"


def test_manifest_items_carry_reference_speaker_and_their_line(manifest):
    items, fmt = read_inputs(_parse(["--manifest", str(manifest), "--output", "out.jsonl"]), "audio")
    (item,) = items
    assert (item.id, item.text, item.speaker, item.duration) == ("u1", "yes", "s1", 0.1)
    assert item.path == str(manifest.parent / "a.wav")
    assert item.label.startswith(f"{manifest}:1") and item.label.endswith("a.wav")
    assert fmt == "jsonl"  # from the output's suffix


@pytest.mark.parametrize("argv", [[], ["x.wav", "--manifest", "m.jsonl"]])
def test_exactly_one_source_is_required(argv):
    with pytest.raises(ValueError, match="give audio files or --manifest"):
        read_inputs(_parse(argv), "audio")


def test_a_bad_manifest_line_is_named(manifest):
    manifest.write_text(manifest.read_text() + '{"id": "u2", "audio": "../escape.wav", "duration": 1, "text": "no"}\n')
    with pytest.raises(ManifestError, match=r"dev.jsonl:2"):
        read_inputs(_parse(["--manifest", str(manifest)]), "audio")


def test_reorder_releases_results_only_without_a_gap():
    results = {2: "c", 0: "a", 3: "d"}
    ready, next_index = reorder(results, 0)
    assert (ready, next_index, results) == (["a"], 1, {2: "c", 3: "d"})
    results[1] = "b"
    assert reorder(results, next_index) == (["b", "c", "d"], 4) and results == {}
