"""``expset models``: a plain-text table on stdout, a header row, then one aligned row per model."""

import re

from expset.core.models import MODELS

from helpers import run_expset

HEADER = ["MODEL", "LABEL", "TORCHTUNE BUILDER", "GPUS", "GPU MEMORY", "TIME"]


def column_starts(header: str) -> list[int]:
    return [header.index(title) for title in HEADER]


def test_the_first_line_names_the_columns():
    result = run_expset("models")
    assert result.returncode == 0, result.stderr
    header = result.stdout.splitlines()[0]
    assert re.split(r"\s{2,}", header) == HEADER


def test_every_model_has_one_row_with_each_value_under_its_column():
    lines = run_expset("models").stdout.splitlines()
    starts = column_starts(lines[0])
    rows = lines[1:]
    assert len(rows) == len(MODELS)
    for (name, model), row in zip(MODELS.items(), rows, strict=True):
        cells = [row[start:end].strip() for start, end in zip(starts, [*starts[1:], None], strict=True)]
        assert cells == [name, model.label, model.builder, str(model.gpus), f"{model.gpu_memory_gb}G", model.time]


def test_the_table_is_plain_text_without_trailing_spaces():
    output = run_expset("models").stdout
    assert "\x1b" not in output
    assert all(line == line.rstrip() for line in output.splitlines())
