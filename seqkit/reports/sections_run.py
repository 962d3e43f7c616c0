"""Sections every run gets: summary, training curves, throughput/device/precision, checkpoints, config."""

from __future__ import annotations

import math

from seqkit.reports.document import Code, Figure, Section, Table, Text
from seqkit.reports.markdown import percent
from seqkit.reports.plots import line_plot
from seqkit.reports.run_dir import Run, checkpoint_used

NOT_RECORDED = "not recorded: no run_info.json (seqkit fit / test write it since `seqkit report` exists; this run is older)"


def headline(run: Run) -> dict[str, str]:
    """The few numbers that sum a run up, formatted; what is missing is left out."""
    evaluation = run.evaluation
    out: dict[str, str] = {}
    if evaluation is not None and evaluation.wer is not None:
        t = evaluation.wer["totals"]
        out |= {"WER": percent(t["wer"]), "CER": percent(t["cer"]),
                "sub / del / ins": f"{t['substitutions']} / {t['deletions']} / {t['insertions']}"}
    elif evaluation is not None and evaluation.accuracy is not None:
        t = evaluation.accuracy["totals"]
        out["accuracy"] = percent(t["accuracy"])
        if "top5_accuracy" in t:
            out["top-5"] = percent(t["top5_accuracy"])
        out["mean-class accuracy"] = percent(t["mean_class_accuracy"])
    elif evaluation is not None:
        for stage in ("test", "val"):
            if f"{stage}_loss" in evaluation.metrics:
                loss = evaluation.metrics[f"{stage}_loss"]
                out[f"{evaluation.stage} loss (nats/char)" if run.task == "language_model" else f"{evaluation.stage} loss"] = f"{loss:.4f}"
                if f"{stage}_bpc" in evaluation.metrics:
                    out["bits/char"] = f"{evaluation.metrics[f'{stage}_bpc']:.4f}"
                break
    if not out:  # no evaluation: the best validation value the training logged
        for key, better in (("val_wer", min), ("val_acc", max), ("val_loss", min)):
            values = [row[key] for row in run.metrics if key in row and math.isfinite(row[key])]
            if values:
                value = better(values)
                out[f"best {key} (training log)"] = percent(value) if key != "val_loss" else f"{value:.4f}"
                break
    return out


def _series(run: Run, keys: list[str]) -> dict[str, tuple[list[float], list[float]]]:
    series: dict[str, tuple[list[float], list[float]]] = {}
    for key in keys:
        points = [(row["step"], row[key]) for row in run.metrics if key in row and "step" in row and math.isfinite(row[key])]
        if points:
            series[key] = ([p[0] for p in points], [p[1] for p in points])
    return series


def curves_section(run: Run) -> Section:
    section = Section("Training curves")
    if not run.metrics:
        section.blocks.append(Text(f"no metrics.csv in {run.path}: nothing to plot", note=True))
        return section
    columns = sorted({key for row in run.metrics for key in row})
    slug = _slug(run.name)
    groups = [
        ("loss", [c for c in ("train_loss", "val_loss") if c in columns], "loss", True),
        ("metric", [c for c in columns if c.startswith("val_") and c != "val_loss"], "validation metric", False),
        ("lr", [c for c in columns if c.startswith("lr-")], "learning rate", False),
    ]
    for name, keys, label, log_y in groups:
        series = _series(run, keys)
        if series:
            png = line_plot(series, "step", label, f"{run.name}: {label}", log_y=log_y)
            section.blocks.append(Figure(f"{slug}-{name}", png, f"{label} per step ({', '.join(series)})"))
        else:
            section.blocks.append(Text(f"no {label} in metrics.csv", note=True))
    return section


def _rate(info: dict, name: str, unit: str) -> list[str] | None:
    value = info.get(f"{name}_per_second")
    return None if value is None else [f"{unit} per second", f"{value:,.1f}"]


def _info_rows(info: dict) -> list[list[str]]:
    stage = info.get("stage", "?")
    key = "train" if stage == "fit" else stage
    versions = info.get("versions", {})
    rows = [
        ["device", info.get("device", "?")],
        ["precision", info.get("precision", "?")],
        ["world size (processes) / nodes", f"{info.get('world_size', '?')} / {info.get('num_nodes', '?')}"],
        ["torch / lightning", f"{versions.get('torch', '?')} / {versions.get('lightning', '?')}"],
        ["started (UTC)", info.get("started_at", "?")],
        [f"{stage} wall time", f"{info.get('wall_seconds', 0):,.1f} s"],
    ]
    if stage == "fit":
        rows.append(["training time (without validation)", f"{info.get('train_seconds', 0):,.1f} s"])
        rows.append(["epochs / steps", f"{info.get('epochs', '?')} / {info.get('steps', '?')}"])
    for name, unit in (("examples", "examples"), ("audio_seconds", "audio seconds"), ("characters", "characters")):
        if f"{key}_{name}" in info:
            rows.append([f"{unit} processed", f"{info[f'{key}_{name}']:,.1f}" if name == "audio_seconds" else f"{info[f'{key}_{name}']:,.0f}"])
            rate = _rate(info, name, unit)
            if rate:
                rows.append(rate)
    return rows


def throughput_section(run: Run) -> Section:
    section = Section("Throughput, device and precision")
    trainer = run.config.get("trainer") or {}
    infos = [("training (seqkit fit)", run.run_info)] + [(f"evaluation (seqkit {e.stage})", e.run_info) for e in run.evaluations]
    for title, info in infos:
        if info is None:
            section.blocks.append(Text(f"{title}: {NOT_RECORDED}", note=True))
        else:
            section.blocks.append(Table(["", "value"], _info_rows(info), caption=title))
    if run.run_info is None:  # what the config asked for is still known
        section.blocks.append(Table(["configured", "value"], [
            ["trainer.accelerator", trainer.get("accelerator")], ["trainer.devices", trainer.get("devices")],
            ["trainer.precision", trainer.get("precision") if trainer.get("precision") is not None else "null (32-true)"],
        ], caption="requested in config.yaml"))
    return section


def checkpoints_section(run: Run) -> Section:
    section = Section("Checkpoint")
    used = checkpoint_used(run)
    if run.evaluation is None:
        section.blocks.append(Text("no evaluation in this run (no test/ or validate/ folder): run "
                                   "`seqkit test --config RUN/config.yaml --ckpt_path RUN/checkpoints/X.ckpt`", note=True))
    elif used is None:
        section.blocks.append(Text(f"the {run.evaluation.stage} config records no ckpt_path", note=True))
    else:
        section.blocks.append(Text(f"evaluated ({run.evaluation.stage}): {used}"))
    rows = [[p.name, f"{p.stat().st_size / 1e6:.1f} MB", "yes" if used is not None and p.name == used.name else ""]
            for p in run.checkpoints]
    if rows:
        section.blocks.append(Table(["checkpoint", "size", "used by this report"], rows))
    else:
        section.blocks.append(Text("no checkpoints in checkpoints/", note=True))
    return section


def config_section(run: Run) -> Section:
    return Section("Config", [Text(f"{run.path / 'config.yaml'}, as `seqkit fit` saved it:"), Code(run.config_text, "yaml")])


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in text)
