"""Loading an untrusted checkpoint runs no code: neither a pickle payload nor a crafted class_path."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from seqkit.commands.checkpoint import UntrustedCheckpointError, check_class_path, load_task

REPO = Path(__file__).resolve().parents[2]


class TouchOnUnpickle:
    """Unpickling this calls Path.touch(marker): what a malicious checkpoint would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.fixture
def pickle_bomb(tmp_path: Path) -> tuple[Path, Path]:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {"payload": TouchOnUnpickle(marker)}}, path)
    return path, marker


def test_the_payload_would_run_if_unpickled(pickle_bomb) -> None:
    path, marker = pickle_bomb
    torch.load(path, weights_only=False)  # what seqkit never does
    assert marker.exists()


def test_load_task_refuses_a_pickle_payload(pickle_bomb) -> None:
    path, marker = pickle_bomb
    with pytest.raises(UntrustedCheckpointError, match=r"evil\.ckpt: holds more than tensors and plain data"):
        load_task(path)
    assert not marker.exists()


@pytest.mark.parametrize("command", [["transcribe", "--ckpt", "{ckpt}", "x.wav"],
                                     ["test", "--config", str(REPO / "configs/speech_to_text/digits_bigru.yaml"), "--ckpt_path", "{ckpt}"]])
def test_the_cli_refuses_a_pickle_payload(pickle_bomb, tmp_path: Path, command: list[str]) -> None:
    path, marker = pickle_bomb
    args = [sys.executable, "-m", "seqkit.cli", *(a.format(ckpt=path) for a in command)]
    result = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "Weights only load failed" in result.stderr or "refused" in result.stderr
    assert not marker.exists()


def _fill(value, marker: str):
    """``value`` with every "{marker}" in its strings replaced."""
    if isinstance(value, dict):
        return {k: _fill(v, marker) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, marker) for v in value]
    return value.replace("{marker}", marker) if isinstance(value, str) else value


def _plain_checkpoint(tmp_path: Path, hparams: dict) -> Path:
    path = tmp_path / "crafted.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": hparams}, path)  # plain data: loads with weights_only
    return path


@pytest.mark.parametrize(
    ("hparams", "message"),
    [
        ({"_class_path": "os.system", "command": "touch {marker}"}, "outside the trusted modules"),
        ({"_class_path": "torch.load", "f": "{marker}"}, "is not a LightningModule"),
        ({"_class_path": "seqkit.tasks.speech_to_text.SpeechToText", "tokenizer": {},
          "features": {"class_path": "torch.load", "init_args": {"f": "{marker}"}}}, "is not a seqkit class"),
        ({"_class_path": "seqkit.tasks.speech_to_text.SpeechToText", "tokenizer": {},
          "features": {"class_path": "subprocess.Popen", "init_args": {"args": ["touch", "{marker}"]}}}, "outside the trusted"),
    ],
)
def test_crafted_class_paths_are_refused_before_import(tmp_path: Path, hparams: dict, message: str) -> None:
    marker = tmp_path / "pwned"
    path = _plain_checkpoint(tmp_path, _fill(hparams, str(marker)))
    with pytest.raises(UntrustedCheckpointError, match=message):
        load_task(path)
    assert not marker.exists()


def test_an_untrusted_module_is_never_imported_unless_listed(tmp_path: Path, monkeypatch) -> None:
    marker = tmp_path / "imported"
    (tmp_path / "evil_plugin.py").write_text(f"from pathlib import Path\nPath({str(marker)!r}).touch()\nclass Part: pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(UntrustedCheckpointError, match="outside the trusted modules"):
        check_class_path("evil_plugin.Part")
    assert not marker.exists()
    monkeypatch.setenv("SEQKIT_TRUSTED_MODULES", "my_models, evil_plugin")
    assert check_class_path("evil_plugin.Part").__name__ == "Part"  # the user vouched for it
    assert marker.exists()


def test_seqkit_parts_and_torch_modules_pass() -> None:
    assert check_class_path("seqkit.features.spectral.LogMelFilterbank").__name__ == "LogMelFilterbank"
    assert check_class_path("torch.nn.LSTM") is torch.nn.LSTM
    assert check_class_path("torch.optim.AdamW") is torch.optim.AdamW
