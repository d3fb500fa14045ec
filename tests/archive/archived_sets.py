"""A scaffolded set with checkpoints and evaluation records on disk, as the jobs would have left them."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from pathlib import Path
from typing import Any

ADAPTER_BYTES = 3000
MERGED_BYTES = 40000


def scaffolded_with_epochs(site: Any) -> Path:
    """The site's set, scaffolded, with two epochs of 1B_rank8 on disk and the second evaluated."""
    from site_helpers import expset

    made = site.create()
    assert expset("scaffold", str(made)).exit_code == 0
    add_epochs(made / "1B_rank8", [0, 1])
    record_evaluation(made / "1B_rank8", "capitalization", 1, "12")
    return made


def link_logs_elsewhere(run_dir: Path, elsewhere: Path) -> None:
    """Replace the run's ``logs/`` with a link to ``elsewhere`` (another file system), holding one SLURM output."""
    elsewhere.mkdir()
    (elsewhere / "finetune-99.out").write_text("loss 1.0\n")
    (run_dir / "logs").rmdir()
    os.symlink(elsewhere, run_dir / "logs")


def add_epochs(run_dir: Path, epochs: list[int], *, merged: bool = True) -> None:
    """Checkpoint folders as torchtune writes them: the adapter, its config, merged weights when saved."""
    for epoch in epochs:
        folder = run_dir / f"epoch_{epoch}"
        folder.mkdir(parents=True)
        (folder / "adapter_model.safetensors").write_bytes(os.urandom(ADAPTER_BYTES - 2))
        (folder / "adapter_config.json").write_text("{}")
        if merged:
            (folder / "model-00001-of-00001.safetensors").write_bytes(os.urandom(MERGED_BYTES))


def record_evaluation(run_dir: Path, task: str, epoch: int, job: str, status: str = "success") -> None:
    """The record an evaluation job leaves when it ends."""
    folder = run_dir / "evaluations" / task
    folder.mkdir(parents=True, exist_ok=True)
    record = {"exit_code": 0 if status == "success" else 1, "status": status, "log": f"evaluations/{task}/x.eval"}
    (folder / f"result_epoch_{epoch}.job{job}.json").write_text(json.dumps(record))


LOCK = ".expset/submit.lock"
"""The set's lock file: every command that takes the lock makes it; never archived, never compared."""


def tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (relative path → SHA-256), and every folder (relative path/ → ""), but
    the set's lock file."""
    found = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder).as_posix()
        if relative == LOCK:
            continue
        found[relative + "/" if path.is_dir() else relative] = (
            "" if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
        )
    return found


def members(archive: Path) -> dict[str, bytes | None]:
    """Every member of ``archive``: its bytes, or None for a folder."""
    with tarfile.open(archive, "r:gz") as tar:
        return {
            member.name: (tar.extractfile(member).read() if member.isreg() else None)  # type: ignore[union-attr]
            for member in tar.getmembers()
        }


def manifest_of(archive: Path) -> dict:
    (name,) = [name for name in members(archive) if name.endswith(".expset/archive-manifest.json")]
    return json.loads(members(archive)[name])  # type: ignore[arg-type]


def write_tar(path: Path, set_name: str, entries: list[tuple[tarfile.TarInfo, bytes | None]], runs: str = "") -> None:
    """An archive written by hand, with expset's header: to hand restore what expset never writes."""
    headers = {"expset.set": set_name, "expset.runs": runs}
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT, pax_headers=headers) as tar:
        for info, data in entries:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)


def rewrite(archive: Path, target: Path, change: dict[str, bytes]) -> None:
    """A copy of ``archive`` with the members named in ``change`` holding other bytes, headers and manifest kept."""
    with tarfile.open(archive, "r:gz") as source:
        headers = dict(source.pax_headers)
        entries = []
        for member in source.getmembers():
            data = source.extractfile(member).read() if member.isreg() else None  # type: ignore[union-attr]
            entries.append((member, change.get(member.name, data)))
    with tarfile.open(target, "w:gz", format=tarfile.PAX_FORMAT, pax_headers=headers) as tar:
        for info, data in entries:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
