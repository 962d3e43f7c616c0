"""Assemble the report of one run or several, and write it as HTML and Markdown."""

from __future__ import annotations

from pathlib import Path, PurePath

import yaml

from seqkit.reports.document import Document, Section, Table, Text, figures, to_markdown
from seqkit.reports.html import to_html
from seqkit.reports.run_dir import Run, checkpoint_used, flatten
from seqkit.reports.sections_run import checkpoints_section, config_section, curves_section, headline, throughput_section
from seqkit.reports.sections_task import classification_sections, language_model_sections, speech_sections

TASK_NAMES = {"speech": "speech-to-text", "classification": "sequence classification",
              "language_model": "character language model", "unknown": "unknown task"}


def summary_section(run: Run) -> Section:
    used = checkpoint_used(run)
    rows = [["run directory", str(run.path)], ["task", f"{TASK_NAMES[run.task]} ({run.class_path or 'no model.class_path'})"],
            ["checkpoint used", str(used) if used else "none (no evaluation recorded)"]]
    rows += [[name, value] for name, value in headline(run).items()]
    return Section("Summary", [Table(["", ""], rows)])


def run_sections(run: Run, samples: list[dict] | None = None) -> list[Section]:
    """Every section of one run, in reading order."""
    if run.task == "speech":
        task = speech_sections(run)
    elif run.task == "classification":
        task = classification_sections(run)
    elif run.task == "language_model":
        task = language_model_sections(run, samples)
    else:
        task = [Section("Evaluation", [Text(f"model class {run.class_path!r} is not a seqkit task: no task sections", note=True)])]
    return [summary_section(run), *task, curves_section(run), throughput_section(run), checkpoints_section(run), config_section(run)]


def yaml_value(value: object) -> str:
    """A config value as config.yaml writes it (null, true), not as Python prints it."""
    if value is None or isinstance(value, (bool, dict, list)):
        return yaml.safe_dump(value, default_flow_style=True, width=10**6).strip().removesuffix("\n...").strip()
    return str(value)


def config_differences(runs: list[Run]) -> tuple[list[str], list[list[str]]]:
    """Dotted config keys whose values differ between the runs (a missing key counts as a difference)."""
    flat = [flatten(run.config) for run in runs]
    keys = sorted(set().union(*flat))
    missing = object()
    rows = []
    for key in keys:
        values = [f.get(key, missing) for f in flat]
        if any(v != values[0] for v in values[1:]):
            rows.append([key, *("(absent)" if v is missing else yaml_value(v) for v in values)])
    return ["config key", *(run.name for run in runs)], rows


def comparison_section(runs: list[Run]) -> Section:
    metrics = [headline(run) for run in runs]
    names = list(dict.fromkeys(name for m in metrics for name in m))
    rows = []
    for run, m in zip(runs, metrics):
        info = run.run_info or {}
        rate = info.get("audio_seconds_per_second") or info.get("examples_per_second")
        unit = "audio s/s" if info.get("audio_seconds_per_second") else "examples/s"
        used = checkpoint_used(run)
        rows.append([run.name, TASK_NAMES[run.task], *(m.get(n, "-") for n in names),
                     used.name if used else "-", f"{rate:,.1f} {unit}" if rate else "not recorded"])
    header, diff_rows = config_differences(runs)
    section = Section("Comparison", [Table(["run", "task", *names, "checkpoint", "training throughput"], rows, caption="headline metrics")])
    if diff_rows:
        section.blocks.append(Table(header, diff_rows, caption=f"config differences ({len(diff_rows)} keys)"))
    else:
        section.blocks.append(Text("the configs are identical", note=True))
    return section


def unique_names(runs: list[Run]) -> None:
    """Name runs of the same name by as many trailing path parts as tell them apart (``a/runs/version_0``)."""
    if len({run.name for run in runs}) == len(runs):
        return
    parts = [run.path.resolve().parts for run in runs]
    for depth in range(2, max(len(p) for p in parts) + 1):
        names = [PurePath(*p[-depth:]).as_posix() for p in parts]  # the root part "/" joins without doubling
        if len(set(names)) == len(names):
            break
    for run, name in zip(runs, names):
        run.name = name


def build_document(runs: list[Run], samples: dict[str, list[dict]] | None = None) -> Document:
    samples = samples or {}
    if len(runs) == 1:
        run = runs[0]
        return Document(f"seqkit report: {run.name}", run_sections(run, samples.get(str(run.path))), subtitle=str(run.path))
    unique_names(runs)
    sections = [comparison_section(runs)]
    for run in runs:
        sections.append(Section(f"Run {run.name}", children=run_sections(run, samples.get(str(run.path)))))
    return Document(f"seqkit report: {len(runs)} runs", sections, subtitle=", ".join(str(r.path) for r in runs))


def write_report(document: Document, html_path: Path) -> tuple[Path, Path]:
    """``html_path`` (self-contained) and the Markdown beside it, whose figures go to ``<stem>_figures/``."""
    html_path = Path(html_path)
    if html_path.suffix.lower() == ".md":  # the Markdown would overwrite the HTML
        raise ValueError(f"{html_path}: name the HTML file (e.g. report.html); the .md is written beside it")
    html_path.parent.mkdir(parents=True, exist_ok=True)
    md_path = html_path.with_suffix(".md")
    image_dir = html_path.parent / f"{html_path.stem}_figures"
    found = figures(document)
    taken: set[str] = set()  # the figure files this report writes
    if found:
        image_dir.mkdir(exist_ok=True)
        for figure in found:
            base, n = figure.name, 1
            while figure.name in taken:  # two runs of the same name
                n += 1
                figure.name = f"{base}-{n}"
            taken.add(figure.name)
            (image_dir / f"{figure.name}.png").write_bytes(figure.png)
    # Figures of an earlier report of this name that this one no longer has would look current.
    for stale in image_dir.glob("*.png") if image_dir.is_dir() else []:
        if stale.stem not in taken:
            stale.unlink()
    html_path.write_text(to_html(document), encoding="utf-8")
    md_path.write_text(to_markdown(document, image_dir.name), encoding="utf-8")
    return html_path, md_path
