"""The commands about plans and sets: ``plan``, ``create``, ``new``, ``which`` and ``schema``.

``plan`` and ``create`` take the same plan flags, declared once in ``PlanFlags``.
"""

from __future__ import annotations

import functools
import inspect
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from expset.cli import completion
from expset.cli.support import SetDirArgument, reporting
from expset.errors import DeclinedError, ExpsetError, UsageError

if TYPE_CHECKING:
    from expset.core.naming import ExperimentSet
    from expset.site import RootChoice

PlanArgument = Annotated[
    Path | None, typer.Argument(metavar="PLAN", help="Plan file (YAML). Omit to describe the plan with flags.")
]
ExampleOption = Annotated[
    str | None,
    typer.Option(
        "--example",
        metavar="NAME",
        help="Use a bundled example plan, e.g. size-rank.",
        autocompletion=completion.example_names,
    ),
]
PurposeOption = Annotated[str | None, typer.Option("--purpose", metavar="TEXT", help="Why this set exists.")]
NameOption = Annotated[
    str | None, typer.Option("--name", metavar="TEXT", help="Short description; names the set folder.")
]
VaryOption = Annotated[
    list[str] | None,
    typer.Option(
        "--vary",
        metavar="KEY=V1,V2",
        help="A parameter and its values; repeat for each parameter.",
        autocompletion=completion.parameter_values,
    ),
]
FixedOption = Annotated[
    list[str] | None,
    typer.Option(
        "--fixed",
        metavar="KEY=VALUE",
        help="A parameter shared by all runs; repeatable.",
        autocompletion=completion.parameter_values,
    ),
]
EvalOption = Annotated[
    list[str] | None,
    typer.Option(
        "--eval",
        metavar="NAME=FILE.py@TASK,…",
        help="Evaluations: an inspect task file and task, or a bundled task's name (e.g. arithmetic); repeatable.",
    ),
]
NotesOption = Annotated[str | None, typer.Option("--notes", metavar="TEXT", help="Other context for the README.")]
AuthorOption = Annotated[
    str | None, typer.Option("--author", metavar="NAME", help="Default: git user.name, else $USER.")
]
DateOption = Annotated[str | None, typer.Option("--date", metavar="YYYY-MM-DD", help="Creation date. Default: today.")]
TemplateOption = Annotated[
    str | None, typer.Option("--template", metavar="TEMPLATE", help='Run-name template, e.g. "{model}_r{lora_rank}".')
]
RootOption = Annotated[
    Path | None,
    typer.Option(
        "--root", metavar="DIR", help="Folder to create the set in. Default: plan root, $EXPSET_ROOT, profile, cwd."
    ),
]
MaxRunsOption = Annotated[
    int | None,
    typer.Option("--max-runs", metavar="N", min=1, help="Refuse plans of more runs than this. Default: 10000."),
]


@dataclass(frozen=True)
class PlanFlags:
    """Where a plan comes from and what the command line changes in it: the flags of ``plan`` and ``create``.

    Each field's annotation is its Typer option; ``takes_plan_flags`` puts them on a command.
    """

    plan_file: PlanArgument = None
    example: ExampleOption = None
    purpose: PurposeOption = None
    name: NameOption = None
    vary: VaryOption = None
    fixed: FixedOption = None
    evaluation: EvalOption = None
    notes: NotesOption = None
    author: AuthorOption = None
    date: DateOption = None
    template: TemplateOption = None
    root: RootOption = None
    max_runs: MaxRunsOption = None


def takes_plan_flags(command: Callable[..., None]) -> Callable[..., None]:
    """``command`` with its ``flags: PlanFlags`` parameter spread into the plan flags on the command line.

    Typer reads a command's options from its signature: the one given here lists the plan flags (with
    their defaults) where ``flags`` stood, then the command's own options.
    """
    signature = inspect.signature(command, eval_str=True)
    own = [parameter for name, parameter in signature.parameters.items() if name != "flags"]
    hints = inspect.get_annotations(PlanFlags, eval_str=True)
    keyword = inspect.Parameter.KEYWORD_ONLY
    flag_parameters = [
        inspect.Parameter(field.name, keyword, default=field.default, annotation=hints[field.name])
        for field in fields(PlanFlags)
    ]
    clashes = {parameter.name for parameter in own} & {parameter.name for parameter in flag_parameters}
    if "flags" not in signature.parameters or clashes:
        raise TypeError(f"{command.__name__}: needs a flags parameter and no option named as a plan flag {clashes}")
    own = [parameter.replace(kind=keyword) for parameter in own]

    @functools.wraps(command)
    def with_flags(**arguments: Any) -> None:
        flags = PlanFlags(**{field.name: arguments.pop(field.name) for field in fields(PlanFlags)})
        command(flags=flags, **arguments)

    with_flags.__signature__ = signature.replace(parameters=flag_parameters + own)  # type: ignore[attr-defined]
    with_flags.__annotations__ = {parameter.name: parameter.annotation for parameter in flag_parameters + own}
    del with_flags.__wrapped__  # Typer must read the signature above, not the command's own
    return with_flags


def _plan_data(flags: PlanFlags) -> Any:
    """The plan from a file or a bundled example, with the plan flags applied on top.

    Relative paths are read from the folder of the file they are written in: the plan file's, the
    bundled examples' folder, or the current folder for flags.
    """
    from expset.plan_file import (
        examples_folder,
        overlay,
        plan_data_from_flags,
        read_example_data,
        read_plan_data,
        resolve_plan_paths,
    )

    overrides = plan_data_from_flags(
        purpose=flags.purpose,
        name=flags.name,
        vary=flags.vary or [],
        fixed=flags.fixed or [],
        evaluations=flags.evaluation or [],
        notes=flags.notes,
        author=flags.author,
        date=flags.date,
        template=flags.template,
    )
    overrides = resolve_plan_paths(overrides, Path.cwd())
    plan_file, example = flags.plan_file, flags.example
    if plan_file is not None and example is not None:
        raise UsageError("give a plan file or --example, not both")
    if plan_file is not None:
        return overlay(resolve_plan_paths(read_plan_data(plan_file), plan_file.absolute().parent), overrides)
    if example is not None:
        return overlay(resolve_plan_paths(read_example_data(example), examples_folder()), overrides)
    if "purpose" not in overrides:
        raise UsageError(
            "no plan: give a plan file, --example NAME, or --purpose with --vary",
            hint='e.g. expset plan --purpose "…" --vary lora_rank=8,16 --eval arithmetic',
        )
    return overrides


def _design(data: Any, max_runs: int | None = None) -> ExperimentSet:
    from expset.core.limits import DEFAULT_MAX_RUNS
    from expset.core.naming import design_set
    from expset.core.plan import parse_plan
    from expset.site import default_author, today

    author = data.get("author") if isinstance(data, dict) else None
    plan = parse_plan(data, today=today(), default_author=author or default_author())
    return design_set(plan, max_runs=max_runs or DEFAULT_MAX_RUNS)


def _proposal(experiment_set: ExperimentSet, root: RootChoice) -> dict[str, Any]:
    from expset.cli.proposal import proposal_data
    from expset.core.layout import plan_layout
    from expset.preflight import preflight, read_profile_quietly

    profile, problem = read_profile_quietly()
    checked = preflight(experiment_set, profile)
    if problem is not None:
        checked.notes.append(problem)
    return proposal_data(experiment_set, plan_layout(experiment_set), root.path, root.source, checked)


@takes_plan_flags
def plan_command(
    flags: PlanFlags,
    as_json: Annotated[bool, typer.Option("--json", help="Print the proposal as JSON.")] = False,
) -> None:
    """Preview the set a plan proposes; writes nothing.

    Shows the set's path, the naming convention token by token, the runs, the tree and the files.
    """
    from expset.site import choose_root

    with reporting():
        experiment_set = _design(_plan_data(flags), flags.max_runs)
        root = choose_root(str(flags.root) if flags.root else None, experiment_set.plan.root)
        proposal = _proposal(experiment_set, root)
        if as_json:
            sys.stdout.write(json.dumps(proposal, indent=2, default=str) + "\n")
        else:
            from expset.cli.console import show_proposal

            show_proposal(proposal)


@takes_plan_flags
def create_command(
    flags: PlanFlags,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Approve the proposal without asking.")] = False,
) -> None:
    """Create the set a plan proposes, after your approval, in one atomic step.

    Asks to approve, rename the set, change the naming template, or cancel; --yes approves.
    """
    with reporting():
        _create_flow(_plan_data(flags), root=flags.root, yes=yes, max_runs=flags.max_runs)


def _create_flow(data: dict[str, Any], *, root: Path | None, yes: bool, max_runs: int | None = None) -> None:
    """Design, preview, ask (approve / rename / change template / cancel), then write."""
    from expset.cli import prompts
    from expset.cli.console import report_error, show_proposal, status
    from expset.create import Outcome, compare_existing, create_set
    from expset.site import CURRENT_FOLDER, check_root, choose_root

    experiment_set = _design(data, max_runs)
    while True:
        root_choice = choose_root(str(root) if root else None, experiment_set.plan.root)
        check_root(root_choice)
        show_proposal(_proposal(experiment_set, root_choice))
        target = root_choice.path / experiment_set.set_name
        if target.exists() and compare_existing(experiment_set, target) is Outcome.UP_TO_DATE:
            status("[green]up to date[/]: {} already holds this set; nothing was changed", target)
            _say_next(experiment_set, target)
            return
        if yes:
            break
        prompts.require_terminal("for approval", hint="re-run with --yes to approve the proposal shown above")
        choice = prompts.ask_approval()
        if choice is prompts.Choice.APPROVE:
            break
        if choice is prompts.Choice.CANCEL:
            raise DeclinedError("cancelled; nothing was written")
        if choice is prompts.Choice.RENAME:
            current = experiment_set.plan.name or experiment_set.set_name.rsplit("_", 1)[0]
            changed = {**data, "name": prompts.ask_text("New short name for the set:", default=current)}
        else:
            template = prompts.ask_text("Naming template:", default=experiment_set.convention.template)
            changed = {**data, "naming": {**data.get("naming", {}), "template": template}}
        try:
            experiment_set, data = _design(changed, max_runs), changed
        except ExpsetError as error:  # say why, then ask again about the last plan that worked
            report_error(error)
    result = create_set(experiment_set, root_choice.path)
    if result.outcome is Outcome.UP_TO_DATE:
        status("[green]up to date[/]: {} already holds this set (made by another process just now)", result.path)
        _say_next(experiment_set, result.path)
        return
    where = " in the current folder (--root DIR, or root in the profile, chooses another)"
    status(
        "[green]created[/] {} ({} runs){}",
        result.path,
        len(experiment_set.runs),
        where if root_choice.source == CURRENT_FOLDER else "",
    )
    _say_next(experiment_set, result.path)


def _say_next(experiment_set: ExperimentSet, set_dir: Path) -> None:
    """The steps from a set on disk to its jobs, each checked against this machine's settings."""
    import shlex

    from expset.cli.console import status
    from expset.next_steps import before_scaffold, tasks_missing
    from expset.site import profile_path, read_profile

    note = tasks_missing(experiment_set)
    if note:
        status("[yellow]note:[/] {}", note)
    try:
        steps = before_scaffold(experiment_set, read_profile(profile_path()), profile_path())
    except ExpsetError as error:
        steps = [f"fix the profile: {error.message}"]
    for step in steps:
        status("next: {}", step)
    status(
        "{}: generate each run's torchtune config and SLURM jobs with [bold]expset scaffold {}[/]",
        "then" if steps else "next",
        shlex.quote(str(set_dir)),
    )


def new_command(
    output: Annotated[
        Path, typer.Option("--output", "-o", metavar="FILE", help="Where to write the plan file.")
    ] = Path("expset.yaml"),
    root: RootOption = None,
) -> None:
    """Write a plan file by answering questions, then offer to create the set."""
    import shlex

    from expset.cli import prompts
    from expset.cli.console import status
    from expset.plan_file import bundled_datasets, bundled_tasks, resolve_plan_paths
    from expset.render.yaml_text import to_yaml
    from expset.site import default_author, profile_path, read_profile

    with reporting():
        if output.exists():
            raise UsageError(
                f"{output} already exists", hint="choose another --output, or edit that plan and run create"
            )
        prompts.require_terminal("questions", hint="write a plan file (see `expset schema` and examples/), then create")
        data = prompts.ask_plan_questions(
            default_author(),
            tasks=bundled_tasks(),
            datasets=bundled_datasets(),
            data_folder=read_profile(profile_path()).data_folder,
        )
        data = resolve_plan_paths(data, Path.cwd())  # e.g. a fixed dataset=./train.json: from here
        _design(data)  # validate before writing the plan file
        output.write_text(to_yaml(data), encoding="utf-8")
        status("[green]wrote[/] {}", output)
        if prompts.ask_confirm("Create the set now?"):
            _create_flow(data, root=root, yes=False)
        else:
            status("create it later with [bold]expset create {}[/]", shlex.quote(str(output)))


def which_command(
    set_dir: SetDirArgument,
    run_name: Annotated[
        str, typer.Argument(metavar="RUN", help="A run folder name in that set.", autocompletion=completion.run_names)
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the parameters as JSON.")] = False,
) -> None:
    """Print a run's parameters, decoded from its name."""
    from expset.cli.console import visible
    from expset.core.naming import decode_run_name
    from expset.core.values import format_value
    from expset.sets import load_set

    with reporting():
        experiment_set = load_set(set_dir)
        run_name = run_name.rstrip("/").rsplit("/", 1)[-1]
        evaluated = [*experiment_set.controls, *experiment_set.evaluation_only]
        other = next((run for run in evaluated if run.name == run_name), None)
        if other is not None:
            if as_json:
                document = {"run": run_name, "kind": other.kind, "varied": other.varied, "source": other.source}
                sys.stdout.write(json.dumps(document) + "\n")
                return
            what = "the untuned base model" if other.source is None else f"the checkpoint {other.source}"
            model = format_value(other.varied["model"])
            sys.stdout.write(f"model  {model}  ({other.kind}: {visible(what)}, evaluated only)\n")
            return
        varied = decode_run_name(experiment_set.convention, run_name)
        gone = [*experiment_set.removed, *(run.name for run in experiment_set.missing)]
        if varied is not None and run_name in gone:
            from expset.cli.console import status

            status("[yellow]note:[/] {} was removed from the set; these were its parameters", run_name)
        if varied is None:
            examples = ", ".join(run.name for run in experiment_set.runs[:3])
            raise UsageError(
                f"run {run_name!r} is not in set {experiment_set.set_name}", hint=f"runs look like: {examples}"
            )
        parameters = {**varied, **experiment_set.plan.fixed}
        if as_json:
            document = {"run": run_name, "kind": "fine-tuned", "varied": varied, "fixed": experiment_set.plan.fixed}
            sys.stdout.write(json.dumps(document) + "\n")
            return
        width = max(len(key) for key in parameters)
        for key, value in parameters.items():
            kind = "varied" if key in varied else "fixed"
            shown = " ".join(map(format_value, value)) if isinstance(value, list) else format_value(value)
            sys.stdout.write(f"{key.ljust(width)}  {shown}  ({kind})\n")


def schema_command(
    setup: Annotated[
        bool, typer.Option("--setup", help="The schema of a run's setup_finetune.yaml instead of the plan's.")
    ] = False,
) -> None:
    """Print the plan file's JSON Schema (for editors)."""
    if setup:
        from expset.core.run_setup import RunSetup

        sys.stdout.write(json.dumps(RunSetup.model_json_schema(), indent=2) + "\n")
        return
    from expset.core.plan import Plan

    sys.stdout.write(json.dumps(Plan.model_json_schema(), indent=2) + "\n")
