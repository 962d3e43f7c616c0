"""Every shipped config parses against the classes it names (a misspelt key fails here, not mid-run)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from seqkit.cli import lightning_main

REPO = Path(__file__).resolve().parents[1]
CONFIGS = sorted((REPO / "configs").rglob("*.yaml"))


def test_configs_are_found() -> None:
    assert len(CONFIGS) >= 10


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: str(p.relative_to(REPO / "configs")))
def test_config_parses_and_prints_the_same_parts(config: Path, capsys) -> None:
    with pytest.raises(SystemExit) as done:
        lightning_main(["fit", "--config", str(config), "--print_config"])
    assert done.value.code in (None, 0)
    printed = yaml.safe_load(capsys.readouterr().out)
    written = yaml.safe_load(config.read_text())
    assert printed["model"]["class_path"] == written["model"]["class_path"]
    assert printed["data"]["class_path"] == written["data"]["class_path"]
    for part in ("features", "encoder", "head"):
        if part in written["model"]["init_args"]:
            assert printed["model"]["init_args"][part]["class_path"] == written["model"]["init_args"][part]["class_path"]
