"""seqkit/cli.py: how a checkpoint's hyper-parameters and this run's config combine, and the help.

Parsing only: the CLI stops before it builds anything, and the config it would build from
is inspected.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from seqkit.cli import COMMANDS, SeqkitCLI, lightning_main, main

REPO = Path(__file__).resolve().parents[1]
CONFIG = str(REPO / "configs" / "speech_to_text" / "digits_bigru.yaml")
DECODER = "model.init_args.decoder"
BEAM = "seqkit.decoding.beam.BeamSearchDecoder"


class Parsed(Exception):
    def __init__(self, config) -> None:
        self.config = config


@pytest.fixture
def parse(monkeypatch):
    """The ``test`` subcommand's config after the checkpoint is read, for these arguments."""

    def stop(cli: SeqkitCLI) -> None:
        raise Parsed(cli.config["test"])

    monkeypatch.setattr(SeqkitCLI, "before_instantiate_classes", stop)

    def run(*args: str):
        with pytest.raises(Parsed) as parsed:
            lightning_main(["test", "--config", CONFIG, *args])
        return parsed.value.config

    return run


@pytest.fixture
def checkpoint(parse, tmp_path: Path) -> Path:
    """A checkpoint whose task was trained with a word-LM beam decoder and 96 GRU units (the config says 128)."""
    init_args = parse()["model"]["init_args"].as_dict()
    init_args["decoder"] = {"class_path": BEAM, "init_args": {"beam_size": 8, "lm_weight": 1.5}}
    init_args["encoder"]["init_args"]["hidden_size"] = 96
    path = tmp_path / "trained.ckpt"
    torch.save({"hyper_parameters": {"_class_path": "seqkit.tasks.speech_to_text.SpeechToText", **init_args}}, path)
    return path


def test_the_model_is_rebuilt_as_the_checkpoint_says(parse, checkpoint: Path) -> None:
    config = parse("--ckpt_path", str(checkpoint), "--model.init_args.encoder.init_args.hidden_size", "64")
    assert config["model.init_args.encoder.init_args.hidden_size"] == 96  # the weights' shape wins over both


def test_null_on_the_command_line_decodes_greedily(parse, checkpoint: Path) -> None:
    assert parse("--ckpt_path", str(checkpoint), "--model.init_args.decoder", "null")[DECODER] is None


def test_a_config_without_a_decoder_decodes_greedily(parse, checkpoint: Path) -> None:
    assert parse("--ckpt_path", str(checkpoint))[DECODER] is None  # the digits config has none


def test_a_decoder_given_for_this_run_applies(parse, checkpoint: Path) -> None:
    config = parse("--ckpt_path", str(checkpoint), "--model.init_args.decoder", BEAM,
                   "--model.init_args.decoder.init_args.lm_weight", "2")
    assert config[DECODER].class_path == BEAM and config[DECODER].init_args.lm_weight == 2.0
    assert config[DECODER].init_args.beam_size == 32  # the class default, not the checkpoint's 8


def test_help_lists_the_commands_outside_lightnings(capsys) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    after = capsys.readouterr().out.split("other commands")[1].splitlines()[1:]
    listed = {line.split()[0]: line for line in after if line.strip()}
    assert list(listed) == list(COMMANDS)
    assert "one transcript per recording" in listed["transcribe"]  # the first line of its module's docstring
