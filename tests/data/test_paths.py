"""Configs name shared corpora as ${SEQKIT_DATA}/...: the variable, else ../shared/data beside the repo."""

from pathlib import Path

from seqkit.data.paths import REPO_ROOT, default_data_dir, expand_data_path, expand_data_paths


def test_environment_variable_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("SEQKIT_DATA", str(tmp_path))
    assert default_data_dir() == tmp_path
    assert expand_data_path("${SEQKIT_DATA}/yesno/waves") == f"{tmp_path}/yesno/waves"


def test_fallback_is_shared_data_beside_the_repository(monkeypatch):
    monkeypatch.delenv("SEQKIT_DATA", raising=False)
    assert default_data_dir() == REPO_ROOT.parent / "shared" / "data"
    assert (REPO_ROOT / "pyproject.toml").is_file()  # REPO_ROOT really is the checkout


def test_paths_without_the_placeholder_are_left_alone():
    assert expand_data_path("data/speechocean762/train.jsonl") == "data/speechocean762/train.jsonl"
    assert Path(expand_data_path("/abs/x")) == Path("/abs/x")


def test_one_path_or_a_list_of_paths(monkeypatch, tmp_path):
    monkeypatch.setenv("SEQKIT_DATA", str(tmp_path))
    assert expand_data_paths("${SEQKIT_DATA}/a.jsonl") == [f"{tmp_path}/a.jsonl"]
    assert expand_data_paths(["x.jsonl", "${SEQKIT_DATA}/b.jsonl"]) == ["x.jsonl", f"{tmp_path}/b.jsonl"]
    assert expand_data_paths(None) == []
    assert expand_data_paths([]) == []
