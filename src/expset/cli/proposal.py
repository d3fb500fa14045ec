"""The proposal shown before anything is written, as plain data: ``plan --json`` prints exactly this,
and the Rich preview renders it. No Rich import here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from expset.core.layout import FILE_PURPOSES, RUN_FILE, SET_FILES, SetLayout
from expset.core.naming import MAX_NAME_LENGTH, ExperimentSet
from expset.core.values import format_value
from expset.preflight import Preflight


def proposal_data(
    experiment_set: ExperimentSet, layout: SetLayout, root: Path, root_source: str, checked: Preflight
) -> dict[str, Any]:
    """Everything the user approves: where the set goes, the convention, the runs, how long they train,
    the files."""
    plan = experiment_set.plan
    convention = experiment_set.convention
    example = experiment_set.runs[-1]
    return {
        "set_name": experiment_set.set_name,
        "path": str(root / experiment_set.set_name),
        "root": str(root),
        "root_source": root_source,
        "purpose": plan.purpose.strip(),
        "author": plan.author,
        "date": plan.date.isoformat() if plan.date else None,
        "convention": {
            "template": convention.template,
            "custom_template": convention.custom_template,
            "parameters": [
                {
                    "key": p.key,
                    "rule": p.rule,
                    "tokens": [{"value": v, "token": p.token_of(v, convention)} for v in p.values],
                }
                for p in convention.parameters
            ],
            "fixed_not_in_names": list(plan.fixed),
            "example": {"name": example.name, "parameters": example.varied},
            "shortened_names": sum(run.shortened for run in experiment_set.runs),
            "max_name_length": MAX_NAME_LENGTH,
        },
        "fixed": plan.fixed,
        "evaluations": plan.task_names,
        "runs": [{"name": run.name, "parameters": run.varied} for run in experiment_set.runs],
        "controls": [{"name": run.name, "model": run.varied["model"]} for run in experiment_set.controls],
        "evaluation_only": [
            {"name": run.name, "model": run.varied["model"], "source": run.source}
            for run in experiment_set.evaluation_only
        ],
        "training": training_lengths(checked),
        "checkpoints": checkpoint_disk(checked),
        "requested": {
            "gpu_hours": checked.gpu_hours,
            "merged_bytes": sum(
                kept.merged_bytes * kept.epochs
                for kept in checked.checkpoints.values()
                if kept.merged and kept.merged_bytes
            ),
        },
        "warnings": length_warnings(checked),
        "notes": checked.notes,
        "folders": len(layout.directories),
        "files": [{"path": path, "purpose": FILE_PURPOSES[kind]} for path, kind in SET_FILES]
        + [{"path": f"<run>/{RUN_FILE}", "purpose": f"one per run ({len(experiment_set.all_runs)})"}],
    }


def describe_token(parameter: dict[str, Any]) -> str:
    """``1B ← Llama-3.2-1B-Instruct``, one line per value of a parameter."""
    return "\n".join(f"{t['token']} ← {format_value(t['value'])}" for t in parameter["tokens"])


def training_lengths(checked: Preflight) -> list[dict[str, Any]]:
    """The fine-tunes' lengths, one entry per distinct length with the runs that share it."""
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for run, length in checked.lengths.items():
        key = (checked.datasets[run], length.samples, length.steps_per_epoch, length.total_steps, length.warmup)
        group = groups.setdefault(
            key,
            {
                "dataset": checked.datasets[run],
                "samples": length.samples,
                "steps_per_epoch": length.steps_per_epoch,
                "total_steps": length.total_steps,
                "warmup_steps": length.warmup,
                "warmup_planned": length.warmup_planned,
                "runs": [],
            },
        )
        group["runs"].append(run)
    return list(groups.values())


def length_warnings(checked: Preflight) -> list[dict[str, Any]]:
    """Each warning about the runs' lengths, with the runs it concerns."""
    by_text: dict[str, list[str]] = {}
    for run, length in checked.lengths.items():
        for warning in length.warnings():
            by_text.setdefault(warning, []).append(run)
    return [{"warning": text, "runs": runs} for text, runs in by_text.items()]


def checkpoint_disk(checked: Preflight) -> list[dict[str, Any]]:
    """What the fine-tunes keep on disk, one entry per model, epochs and choice, with the runs alike: the
    bytes of one epoch's merged weights, and of a run's, kept or not (adapters are megabytes)."""
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for run, kept in checked.checkpoints.items():
        key = (kept.model, kept.epochs, kept.merged)
        group = groups.setdefault(
            key,
            {
                "model": kept.model,
                "epochs": kept.epochs,
                "merged": kept.merged,
                "merged_bytes_per_epoch": kept.merged_bytes,
                "merged_bytes_per_run": None if kept.merged_bytes is None else kept.merged_bytes * kept.epochs,
                "measured": kept.measured,
                "runs": [],
            },
        )
        group["runs"].append(run)
    return list(groups.values())
