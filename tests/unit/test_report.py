"""The report's pure core: training logs parsed, cells expected and missing, epochs chosen, scores laid
out by the varied parameters, replicates taken together. Log parsing runs on captured real outputs."""

from pathlib import Path

import pytest

from expset.core.report import (
    Cell,
    RunInfo,
    Score,
    aggregate,
    choose_epochs,
    expected_cells,
    missing_cells,
    parse_training_log,
    pivot,
    result_rows,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def score(run: str, value: float, epoch: int = 0, task: str = "t") -> Score:
    return Score(Cell(run, task, epoch), "s", "accuracy", value, None, 10, f"{run}/x.eval")


def runs(**varied_by_run: dict) -> dict[str, RunInfo]:
    return {name: RunInfo(name, "fine-tuned", {**varied, "lr": 1e-4}, varied) for name, varied in varied_by_run.items()}


def test_a_real_torchtune_training_log_gives_one_row_per_step_with_its_numbers():
    rows = parse_training_log((FIXTURES / "torchtune_disklogger_log.txt").read_text())
    assert [row["step"] for row in rows] == [1, 2, 3, 4]
    assert set(rows[0]) == {"step", "loss", "lr", "tokens_per_second_per_gpu"}
    assert rows[0]["loss"] == pytest.approx(5.897738933563232)


def test_lines_logged_one_metric_at_a_time_join_their_step_and_other_lines_are_skipped():
    rows = parse_training_log("Step 1 | loss:2.0\nStep 1 | lr:0.1\nwarning: something\nStep 2 | loss:nan loss2:x\n")
    assert rows == [{"step": 1.0, "loss": 2.0, "lr": 0.1}, {"step": 2.0}]


def test_a_real_inspect_log_header_gives_its_scores():
    from inspect_ai.log import read_eval_log

    from expset.report import _header_scores

    log = read_eval_log(str(FIXTURES / "inspect_shout_epoch1.eval"), header_only=True)
    [found] = _header_scores(log, Cell("lr1e-4", "shout", 1), "lr1e-4/x.eval")
    assert (found.scorer, found.metric, found.value, found.stderr, found.samples) == (
        "includes",
        "accuracy",
        0.0,
        0.0,
        1,
    )
    assert log.eval.metadata["expset_epoch"] == 1 and log.eval.metadata["expset_run"] == "lr1e-4"


def test_every_expected_cell_without_a_score_is_named_with_its_reason():
    expected = expected_cells({"a": {"t": [0, 1]}, "b": {"t": [1]}})
    assert expected == [Cell("a", "t", 0), Cell("a", "t", 1), Cell("b", "t", 1)]
    missing = missing_cells(expected, {Cell("a", "t", 1)}, {Cell("b", "t", 1): "evaluation failed (job 7: error)"})
    assert [(m.cell.run, m.cell.epoch, m.reason) for m in missing] == [
        ("a", 0, "no evaluation log yet"),
        ("b", 1, "evaluation failed (job 7: error)"),
    ]


@pytest.mark.parametrize(("choice", "epochs"), [("last", [2]), ("best", [1]), ("all", [0, 1, 2]), (0, [0])])
def test_the_epoch_of_each_run_is_chosen_as_asked(choice, epochs):
    scores = [score("a", 0.1, 0), score("a", 0.9, 1), score("a", 0.5, 2)]
    expected = [Cell("a", "t", epoch) for epoch in (0, 1, 2)]
    assert [s.cell.epoch for s in choose_epochs(scores, choice, expected)] == epochs


def test_the_last_epoch_not_yet_evaluated_is_missing_never_replaced_by_an_earlier_one():
    scores = [score("a", 0.1, 0), score("b", 0.2, 0), score("b", 0.3, 1)]
    expected = [Cell(run, "t", epoch) for run in ("a", "b") for epoch in (0, 1)]
    assert [(s.cell.run, s.cell.epoch) for s in choose_epochs(scores, "last", expected)] == [("b", 1)]


def test_two_varied_parameters_make_a_grid_with_the_best_cell_named():
    info = runs(
        r8_1B={"model": "1B", "lora_rank": 8},
        r16_1B={"model": "1B", "lora_rank": 16},
        r8_3B={"model": "3B", "lora_rank": 8},
        r16_3B={"model": "3B", "lora_rank": 16},
    )
    scores = [score("r8_1B", 0.2), score("r16_1B", 0.4), score("r8_3B", 0.6), score("r16_3B", 0.5)]
    table = pivot(scores, info, "t", ("s", "accuracy"), [], ["model", "lora_rank"])
    assert (table.row_key, table.column_key, table.rows, table.columns) == ("model", "lora_rank", ["1B", "3B"], [8, 16])
    assert table.best == ("3B", 8) and table.cells[("1B", 16)].mean == 0.4


def test_runs_that_differ_only_by_seed_share_a_cell_with_mean_spread_and_interval():
    info = runs(
        a1={"lora_rank": 8, "seed": 1},
        a2={"lora_rank": 8, "seed": 2},
        a3={"lora_rank": 8, "seed": 3},
        b1={"lora_rank": 16, "seed": 1},
        b2={"lora_rank": 16, "seed": 2},
        b3={"lora_rank": 16, "seed": 3},
    )
    values = {"a1": 0.50, "a2": 0.52, "a3": 0.54, "b1": 0.51, "b2": 0.56, "b3": 0.58}
    table = pivot([score(run, v) for run, v in values.items()], info, "t", ("s", "accuracy"), [], ["lora_rank", "seed"])
    rank8, rank16 = table.cells[(8, None)], table.cells[(16, None)]
    assert (rank8.n, rank8.mean, rank8.runs) == (3, pytest.approx(0.52), ("a1", "a2", "a3"))
    assert rank8.low < rank8.mean < rank8.high and rank8.overlaps(rank16)


def test_a_single_run_has_no_interval_and_overlaps_nothing():
    single = aggregate([0.5], ["a"])
    assert single.single and single.low is None and not single.overlaps(aggregate([0.4, 0.6], ["b", "c"]))


def test_results_rows_carry_every_plan_parameter_and_the_runs_kind():
    info = runs(r8={"lora_rank": 8})
    [row] = result_rows([score("r8", 0.3)], info)
    assert row["lora_rank"] == 8 and row["lr"] == 1e-4 and row["kind"] == "fine-tuned" and row["log"] == "r8/x.eval"


def test_replicates_vary_the_seed_last_and_the_report_takes_them_together():
    import datetime as dt

    from expset.core.naming import design_set
    from expset.core.plan import parse_plan

    plan = parse_plan(
        {"purpose": "p", "vary": {"lora_rank": [8, 16]}, "replicates": 3}, today=dt.date(2026, 1, 1), default_author="a"
    )
    experiment_set = design_set(plan)
    assert [run.name for run in experiment_set.runs][:3] == ["rank8_seed1", "rank8_seed2", "rank8_seed3"]
    info = {r.name: RunInfo(r.name, "fine-tuned", dict(r.varied), dict(r.varied)) for r in experiment_set.runs}
    scores = [score(r.name, 0.5 + 0.01 * i) for i, r in enumerate(experiment_set.runs)]
    table = pivot(scores, info, "t", ("s", "accuracy"), [], list(plan.vary))
    assert [cell.n for cell in table.cells.values()] == [3, 3]


def test_replicates_with_seeds_already_set_are_refused():
    import datetime as dt

    from expset.core.plan import parse_plan
    from expset.errors import PlanError

    with pytest.raises(PlanError) as refused:
        parse_plan(
            {"purpose": "p", "vary": {"seed": [1, 2]}, "replicates": 3}, today=dt.date(2026, 1, 1), default_author="a"
        )
    assert refused.value.message.startswith("replicates: vary.seed already sets the seeds")


def test_scores_of_two_scorers_with_the_same_metric_are_never_pooled():
    info = runs(r8={"lora_rank": 8}, r16={"lora_rank": 16})
    scores = [score("r8", 0.2), score("r16", 0.4)]
    scores.append(Score(Cell("r8", "t", 0), "other", "accuracy", 0.9, None, 10, "r8/x.eval"))
    table = pivot(scores, info, "t", ("s", "accuracy"), [], ["lora_rank"])
    assert table.cells[(8, None)].n == 1 and table.cells[(8, None)].mean == 0.2


def test_a_set_record_with_replicates_reads_back_as_the_same_plan():
    import datetime as dt

    from expset.core.plan import parse_plan

    first = parse_plan(
        {"purpose": "p", "vary": {"lr": [1, 2]}, "replicates": 2}, today=dt.date(2026, 1, 1), default_author="a"
    )
    again = parse_plan(first.to_data(), today=dt.date(2026, 1, 1), default_author="a")
    assert again == first and again.vary["seed"] == [1, 2]


def test_a_dollar_in_a_parameter_value_is_drawn_as_text():
    from expset.render.figures import score_figure

    info = runs(a={"dataset": "$DATA/a_$B.jsonl"}, b={"dataset": "$DATA/b.jsonl"})
    table = pivot([score("a", 0.2), score("b", 0.4)], info, "t", ("s", "accuracy"), [], ["dataset"])
    assert score_figure(table).startswith(b"\x89PNG")


def test_a_report_folder_swap_stopped_half_way_leaves_the_old_report_in_place(tmp_path, monkeypatch):
    set_dir = tmp_path / "set"
    set_dir.mkdir()
    import os

    from expset.fs.writer import replace_folder

    (set_dir / "report").mkdir()
    (set_dir / "report" / "report.md").write_text("old")
    real_rename = os.rename

    def rename_then_stop(source, target):
        real_rename(source, target)
        if str(target).endswith(".old"):
            raise KeyboardInterrupt

    monkeypatch.setattr(os, "rename", rename_then_stop)
    with pytest.raises(KeyboardInterrupt):
        replace_folder(set_dir, "report", {"report.md": b"new"})
    assert (set_dir / "report" / "report.md").read_text() == "old"
    assert sorted(p.name for p in set_dir.iterdir()) == ["report"]


def test_a_report_folder_left_aside_by_a_killed_swap_is_put_back_then_replaced(tmp_path):
    set_dir = tmp_path / "set"
    set_dir.mkdir()
    from expset.fs.writer import replace_folder

    (set_dir / ".report.1234abcd.old").mkdir()
    (set_dir / ".report.1234abcd.old" / "report.md").write_text("old")
    (set_dir / ".report.5678abcd.tmp").mkdir()
    replace_folder(set_dir, "report", {"report.md": b"new"})
    assert (set_dir / "report" / "report.md").read_text() == "new"
    assert sorted(p.name for p in set_dir.iterdir()) == ["report"]
