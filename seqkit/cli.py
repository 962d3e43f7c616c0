"""The ``seqkit`` command.

``seqkit fit|validate|test|predict --config FILE.yaml`` runs Lightning's CLI, where the
model and data are any classes named by ``class_path``.  Other subcommands
(``transcribe``, ``classify``, ``check-data``, ``generate``, ``report``, ``export``) are
plain argparse programs in :mod:`seqkit.commands`.
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import os
import re
import sys
import warnings
from pathlib import Path

import torch
from jsonargparse import DefaultHelpFormatter
from lightning.pytorch import Trainer
from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from seqkit.commands.checkpoint import task_hparams

COMMANDS = {
    "transcribe": "seqkit.commands.transcribe",
    "classify": "seqkit.commands.classify",
    "check-data": "seqkit.commands.check_data",
    "generate": "seqkit.commands.generate",
    "report": "seqkit.commands.report",
    "export": "seqkit.commands.export",
}


# What the data module knows -> the model argument it fills.  A link whose target the chosen
# model does not have is ignored, so every task takes what it needs.  (Targets inside a part,
# such as the features' input size, are not linked: jsonargparse's nested links fail.)
DATA_TO_MODEL = {
    "tokenizer_state": "model.init_args.tokenizer",  # plain-data tokenizer, saved in the checkpoint
    "labels": "model.init_args.labels",  # class names of a classifier
    "input_size": "model.init_args.input_size",  # feature size, vocabulary size or channels, for the features
    "carry_state": "model.init_args.carry_state",  # language model windows in stream order
    "vocabulary_state": "model.init_args.vocabulary",  # a text classifier's words (plain data)
    "input_stats": "model.init_args.input_stats",  # per-channel mean and std of series inputs (plain data)
}


def _data_attribute(name: str):
    def get(datamodule):
        return getattr(datamodule, name, None)

    get.__name__ = f"datamodule.{name}"
    return get


class SeqkitCLI(LightningCLI):
    def add_arguments_to_parser(self, parser) -> None:
        # Sizes that follow from the data are linked, never typed twice.
        # The model owns its sample rate (it is saved with the checkpoint); the data resamples to it.
        parser.link_arguments("model.init_args.features.init_args.sample_rate", "data.init_args.sample_rate")
        for attribute, target in DATA_TO_MODEL.items():
            parser.link_arguments("data", target, compute_fn=_data_attribute(attribute), apply_on="instantiate")
        # The duration sampler shards batches across ranks itself.
        parser.set_defaults({"trainer.use_distributed_sampler": False})

    def _parse_ckpt_path(self) -> None:
        """Rebuild the model config from the checkpoint's hyper-parameters (as Lightning does).

        Two differences: hyper-parameters the task's constructor does not take are dropped
        (links that only other tasks take are stored as None), and the decoder is an
        evaluation choice: this run's config and flags decide it, ``null`` (greedy) included.
        (Lightning lets every checkpoint hyper-parameter win over the command line, so
        ``--model.init_args.decoder null`` decoded with the LM the model was trained beside.)
        """
        subcommand = self.config.get("subcommand")
        ckpt_path = self.config[subcommand].get("ckpt_path") if subcommand else None
        if ckpt_path == "last":
            root = self.config[subcommand].get("trainer", {}).get("default_root_dir") or os.getcwd()
            ckpt_path = latest_checkpoint(root)
            print(f"--ckpt_path last: {ckpt_path or f'no checkpoint under {root}, starting from scratch'}", file=sys.stderr)
            self.config[subcommand]["ckpt_path"] = ckpt_path
        if not ckpt_path or not Path(ckpt_path).is_file():
            return
        class_path, init_args = task_hparams(torch.load(ckpt_path, weights_only=True, map_location="cpu"))
        if class_path is None:
            return
        key = f"{subcommand}.model.init_args.decoder"
        decides_decoder = key in self.config  # only tasks that decode have the key
        decoder = self.config.get(key)
        self.config = self.parser.parse_object({subcommand: {"model": {"class_path": class_path, "dict_kwargs": init_args}}}, self.config)
        if decides_decoder:
            self.config[key] = decoder

    def instantiate_trainer(self, **kwargs) -> Trainer:
        if self.subcommand != "fit":
            # Evaluation adds no checkpoint callbacks on purpose (SeqkitTask.configure_callbacks):
            # their state in the checkpoint only matters to resume a fit, so Lightning's advice
            # to add them back is noise here.
            warnings.filterwarnings("ignore", message=r"Be aware that when using `ckpt_path`, callbacks used to create")
        trainer_config = self._get(self.config_init, "trainer", default={})
        if trainer_config.get("logger") in (None, True):
            root, version = run_directory(
                self.subcommand,
                trainer_config.get("default_root_dir") or os.getcwd(),
                self.config.get(self.subcommand, {}).get("ckpt_path"),
            )
            kwargs["logger"] = [CSVLogger(root, name="", version=version), TensorBoardLogger(root, name="", version=version)]
        return super().instantiate_trainer(**kwargs)


def run_directory(subcommand: str | None, root: str | Path, ckpt_path: str | None) -> tuple[Path, str]:
    """Where a run's logs and reports go, as (parent, name).

    ``fit`` starts ``ROOT/version_N`` (N = next free).  Evaluating a checkpoint of a run
    (``RUN/checkpoints/x.ckpt``) writes into ``RUN/<subcommand>``, beside what trained it.
    """
    if subcommand != "fit" and ckpt_path and Path(ckpt_path).parent.name == "checkpoints":
        return Path(ckpt_path).parent.parent, str(subcommand)
    root = Path(root)
    taken = [int(m.group(1)) for p in root.glob("version_*") if (m := re.fullmatch(r"version_(\d+)", p.name))]
    return root, f"version_{max(taken, default=-1) + 1}"


def latest_checkpoint(root: str | Path) -> str | None:
    """The newest checkpoint of the runs under ``root`` (``ROOT/version_*/checkpoints/*.ckpt``).

    Newest by modification time, so a step checkpoint written after the epoch's ``last.ckpt``
    wins: ``seqkit fit --config C --ckpt_path last`` goes on from the latest saved state, and
    the same command restarts a preempted job (or starts it, when nothing was saved yet).
    """
    found = sorted(Path(root).glob("version_*/checkpoints/*.ckpt"), key=lambda p: p.stat().st_mtime_ns)
    return str(found[-1]) if found else None


class _HelpFormatter(argparse.RawDescriptionHelpFormatter, DefaultHelpFormatter):
    """Lightning's help, with the epilog's lines kept as written."""


def other_commands_help() -> str:
    """``seqkit --help``'s list of the commands outside Lightning's, each with the first line
    of its module's docstring (read from the source: nothing is imported for the help)."""
    lines = ["other commands (seqkit COMMAND --help):"]
    for name, module in COMMANDS.items():
        source = Path(importlib.util.find_spec(module).origin).read_text()
        summary = (ast.get_docstring(ast.parse(source)) or "").splitlines()[0]
        lines.append(f"  {name:<12}{summary.split(': ', 1)[-1]}")
    return "\n".join(lines)


def lightning_main(args: list[str] | None = None) -> SeqkitCLI:
    return SeqkitCLI(
        subclass_mode_model=True,
        subclass_mode_data=True,
        save_config_kwargs={"overwrite": True},
        parser_kwargs={
            "parser_mode": "yaml",
            "description": "Train and evaluate seqkit tasks (seqkit fit|validate|test|predict --config FILE.yaml).",
            "epilog": other_commands_help(),
            "formatter_class": _HelpFormatter,
        },
        args=args,
    )


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in COMMANDS:
        import importlib

        sys.exit(importlib.import_module(COMMANDS[args[0]]).main(args[1:]))
    lightning_main(argv)  # None: Lightning reads sys.argv itself


if __name__ == "__main__":
    main()
