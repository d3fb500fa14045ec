"""expset writes only inside a set's own folders: a symbolic link where it writes is refused in one
line naming it, and the place the link points to is left untouched."""

from __future__ import annotations

import pytest

from expset.errors import LinkError
from expset.sets import load_set
from expset.slurm.client import SlurmClient
from expset.submit import submit_set

from fake_slurm import FakeSlurm
from site_helpers import expset


@pytest.fixture
def scaffolded(site):
    set_dir = site.create()
    assert expset("scaffold", str(set_dir)).exit_code == 0
    return set_dir


def swap_for_link(path, tmp_path):
    """Move ``path`` outside the set and leave a link to it in its place."""
    outside = tmp_path / "outside" / path.name
    outside.parent.mkdir(exist_ok=True)
    path.rename(outside)
    path.symlink_to(outside)
    return outside


def snapshot(folder):
    return {path: path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.mark.parametrize("linked", ["1B_rank8", "1B_rank8/evaluations/capitalization", ".expset"])
def test_scaffold_refuses_a_link_where_it_writes_and_writes_nothing_through_it(scaffolded, tmp_path, linked):
    for generated in scaffolded.glob("*/finetune.yaml"):
        generated.unlink()  # so that scaffold has something to write everywhere
    outside = swap_for_link(scaffolded / linked, tmp_path)
    before = snapshot(outside)
    result = expset("scaffold", str(scaffolded))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {scaffolded / linked} is a symbolic link"), result.stderr
    assert result.stderr.count("\nerror") == 0
    assert snapshot(outside) == before


def test_submit_never_appends_to_a_ledger_that_links_elsewhere(scaffolded, tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("one line\n")
    (scaffolded / ".expset").mkdir(exist_ok=True)
    (scaffolded / ".expset" / "jobs.jsonl").symlink_to(victim)
    slurm = FakeSlurm()
    with pytest.raises(LinkError, match=r"jobs\.jsonl is a symbolic link"):
        submit_set(load_set(scaffolded), scaffolded, SlurmClient(slurm))
    assert victim.read_text() == "one line\n" and slurm.jobs == {}


def test_checkpoint_and_log_folders_may_live_on_another_file_system(scaffolded, tmp_path):
    for name in ("logs", "epoch_0"):
        target = tmp_path / "elsewhere" / name
        target.mkdir(parents=True)
        link = scaffolded / "1B_rank8" / name
        if link.exists():
            link.rmdir()
        link.symlink_to(target)
    assert expset("scaffold", str(scaffolded), "--force").exit_code == 0
    assert list((tmp_path / "elsewhere").rglob("*.*")) == []
