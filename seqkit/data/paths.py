"""Where shared corpora live: ``$SEQKIT_DATA``, else ``../shared/data`` beside the repository."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
_PLACEHOLDER = "${SEQKIT_DATA}"


def default_data_dir() -> Path:
    env = os.environ.get("SEQKIT_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


def expand_data_path(path: str) -> str:
    """Replace ``${SEQKIT_DATA}`` in a config path with :func:`default_data_dir`."""
    return path.replace(_PLACEHOLDER, str(default_data_dir()))


def expand_data_paths(paths: list[str] | str | None) -> list[str]:
    """:func:`expand_data_path` over one path or a list of them (a config may give either)."""
    if paths is None:
        return []
    return [expand_data_path(p) for p in ([paths] if isinstance(paths, str) else paths)]
