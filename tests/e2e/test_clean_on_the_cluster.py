"""``expset clean`` on a real SLURM cluster: a run whose fine-tune job is queued or running is refused, and
nothing of the set is removed; once the job is cancelled, the same command cleans it."""

from __future__ import annotations

import subprocess
import time

from site_helpers import expset


def queued(job_id: str) -> str:
    listed = subprocess.run(["squeue", "--noheader", "--format=%T", f"--jobs={job_id}"], capture_output=True, text=True)
    return listed.stdout.strip()


def test_a_run_whose_job_is_running_is_refused_on_the_cluster(slurm_cluster, site):
    set_dir = site.create(vary={"lora_rank": [8, 16]}, fixed={"model": "Llama-3.2-1B-Instruct", "dataset": "words"})
    assert expset("scaffold", str(set_dir)).exit_code == 0
    run_dir = set_dir / "rank8"
    script = run_dir / "finetune.slurm"
    kept = [line for line in script.read_text().splitlines() if line.startswith(("#!", "#SBATCH", "run_dir="))]
    script.write_text("\n".join([*kept, "sleep 600"]) + "\n")  # the job runs long enough to be seen running
    for epoch in (0, 1):
        (run_dir / f"epoch_{epoch}").mkdir()
        (run_dir / f"epoch_{epoch}" / "adapter_model.safetensors").write_bytes(b"w" * 1000)
    submitted = expset("submit", str(set_dir), "--runs", "rank8", "--no-check")
    assert submitted.exit_code == 0, submitted.stderr
    job_id = submitted.stderr.split("submitted rank8: finetune ")[1].split(",")[0]
    try:
        deadline = time.monotonic() + 60
        while queued(job_id) not in ("RUNNING", "PENDING"):
            assert time.monotonic() < deadline, queued(job_id)
            time.sleep(0.5)
        refused = expset("clean", str(set_dir), "--checkpoints", "all", "--yes")
        assert refused.exit_code == 75, refused.stderr
        assert "rank8; nothing was removed" in refused.stderr
        assert sorted(path.name for path in run_dir.glob("epoch_*")) == ["epoch_0", "epoch_1"]
        assert not (set_dir / ".expset" / "cleaned.jsonl").exists()
    finally:
        assert expset("cancel", str(set_dir), "--yes").exit_code == 0
    deadline = time.monotonic() + 60
    while queued(job_id) not in ("", "CANCELLED"):
        assert time.monotonic() < deadline, queued(job_id)
        time.sleep(0.5)
    cleaned = expset("clean", str(set_dir), "--checkpoints", "all", "--yes")
    assert cleaned.exit_code == 0, cleaned.stderr
    assert not list(run_dir.glob("epoch_*"))
    assert "rank8: its fine-tune has not finished" in cleaned.stderr
