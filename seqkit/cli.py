"""The ``seqkit`` command.

``seqkit fit|validate|test|predict --config FILE.yaml`` runs Lightning's CLI, where the
model and data are any classes named by ``class_path``.  Other subcommands
(``transcribe``, ``check-data``) are plain argparse programs in :mod:`seqkit.commands`.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from lightning.pytorch import Trainer
from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

COMMANDS = {
    "transcribe": "seqkit.commands.transcribe",
    "check-data": "seqkit.commands.check_data",
}


class SeqkitCLI(LightningCLI):
    def add_arguments_to_parser(self, parser) -> None:
        # Sizes that follow from the data are linked, never typed twice.
        # The model owns its sample rate (it is saved with the checkpoint); the data resamples to it.
        parser.link_arguments("model.init_args.features.init_args.sample_rate", "data.init_args.sample_rate")
        parser.link_arguments("data.tokenizer_state", "model.init_args.tokenizer", apply_on="instantiate")
        # The duration sampler shards batches across ranks itself.
        parser.set_defaults({"trainer.use_distributed_sampler": False})

    def _parse_ckpt_path(self) -> None:
        # Lightning rebuilds the model from the checkpoint's hyper-parameters; the decoder
        # is an evaluation choice, so one given for this run (config or flag) still applies.
        key = f"{self.config.get('subcommand')}.model.init_args.decoder"
        decoder = self.config.get(key) if self.config.get("subcommand") else None
        super()._parse_ckpt_path()
        if decoder is not None:
            self.config[key] = decoder

    def instantiate_trainer(self, **kwargs) -> Trainer:
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


def lightning_main(args: list[str] | None = None) -> SeqkitCLI:
    return SeqkitCLI(
        subclass_mode_model=True,
        subclass_mode_data=True,
        save_config_kwargs={"overwrite": True},
        parser_kwargs={"parser_mode": "yaml"},
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
