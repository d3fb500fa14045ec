"""``expset restore``: an archive back as a set, checked member by member; damaged or unsafe archives leave nothing."""

from __future__ import annotations

import os
import shutil
import tarfile

import pytest

from archive.archived_sets import (
    members,
    rewrite,
    scaffolded_with_epochs,
    tree,
    write_tar,
)
from site_helpers import expset

SET = "scaffold-test_2025-10-18"


@pytest.fixture
def set_dir(site):
    made = scaffolded_with_epochs(site)
    (made / "1B_rank8" / "logs" / "finetune-12.out").write_text("step 1 loss 2.0\n" * 500)
    return made


@pytest.fixture
def archived(set_dir, out):
    result = expset("archive", str(set_dir), "--to", str(out), "--yes", "--checkpoints", "all")
    assert result.exit_code == 0, result.stderr
    return out / f"{SET}.tar.gz"


@pytest.fixture
def root(tmp_path):
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    return folder


def restore(archive, root):
    return expset("restore", str(archive), "--root", str(root))


def without_manifest(found: dict[str, str]) -> dict[str, str]:
    return {path: digest for path, digest in found.items() if path != ".expset/archive-manifest.json"}


def test_a_restored_set_holds_every_file_and_folder_of_the_original_byte_for_byte(set_dir, archived, root):
    result = restore(archived, root)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"{root / SET}\n"
    assert without_manifest(tree(root / SET)) == tree(set_dir)
    assert os.access(root / SET / "1B_rank8" / "finetune.slurm", os.X_OK) == os.access(
        set_dir / "1B_rank8" / "finetune.slurm", os.X_OK
    )
    assert os.listdir(root) == [SET]  # no staging folder or lock file left


def test_file_times_are_kept_so_a_resumed_fine_tune_judges_its_checkpoints_as_before(set_dir, archived, root):
    assert restore(archived, root).exit_code == 0
    for relative in ("1B_rank8/epoch_1/adapter_model.safetensors", "1B_rank8/finetune.yaml"):
        assert int((root / SET / relative).stat().st_mtime) == int((set_dir / relative).stat().st_mtime)


def test_restoring_again_is_refused_and_the_set_is_left_as_it_was(archived, root):
    assert restore(archived, root).exit_code == 0
    before = tree(root / SET)
    again = restore(archived, root)
    assert again.exit_code == 3 and "already exists; nothing was restored" in again.stderr
    assert tree(root / SET) == before and os.listdir(root) == [SET]


def test_a_restored_set_is_read_by_status_which_and_scaffold_and_submit_accepts_it(archived, root, slurm):
    assert restore(archived, root).exit_code == 0
    restored = root / SET
    assert expset("which", str(restored), "1B_rank8").exit_code == 0
    assert expset("status", str(restored), "--json").exit_code in (0, 7)
    refused = expset("submit", str(restored), "--dry-run")
    assert refused.exit_code != 0 and "scaffold" in refused.stderr  # its scripts name the old folder
    assert expset("scaffold", str(restored)).exit_code == 0
    script = (restored / "1B_rank8" / "finetune.slurm").read_text()
    assert f"run_dir={restored / '1B_rank8'}" in script
    submitted = expset("submit", str(restored), "--dry-run", "--no-check")
    assert submitted.exit_code == 0, submitted.stderr


def test_a_run_archive_restores_into_its_set_when_the_run_folder_is_absent(set_dir, tmp_path):
    out = tmp_path / "runs"
    out.mkdir()
    assert expset("archive", str(set_dir), "1B_rank8", "--to", str(out), "--yes").exit_code == 0
    original = tree(set_dir / "1B_rank8")
    shutil.rmtree(set_dir / "1B_rank8")
    records = tree(set_dir)
    result = restore(out / f"{SET}.1B_rank8.tar.gz", set_dir.parent)
    assert result.exit_code == 0, result.stderr
    assert "restored run(s) 1B_rank8 into" in result.stderr
    assert {k: v for k, v in original.items() if not k.startswith("epoch_")} == tree(set_dir / "1B_rank8")
    assert {k: v for k, v in tree(set_dir).items() if not k.startswith("1B_rank8")} == records
    assert not [name for name in os.listdir(set_dir.parent) if name.startswith(".")]


def test_a_run_archive_is_refused_when_its_run_folder_is_there(set_dir, tmp_path):
    out = tmp_path / "runs"
    out.mkdir()
    assert expset("archive", str(set_dir), "1B_rank8", "--to", str(out), "--yes").exit_code == 0
    before = tree(set_dir)
    result = restore(out / f"{SET}.1B_rank8.tar.gz", set_dir.parent)
    assert result.exit_code == 3 and "1B_rank8 already exists" in result.stderr
    assert tree(set_dir) == before


def test_a_run_archive_restores_as_a_set_of_that_run_where_the_set_is_absent(set_dir, tmp_path, root):
    out = tmp_path / "runs"
    out.mkdir()
    assert expset("archive", str(set_dir), "3B_rank16", "--to", str(out), "--yes").exit_code == 0
    assert restore(out / f"{SET}.3B_rank16.tar.gz", root).exit_code == 0
    runs = sorted(name for name in os.listdir(root / SET) if "_rank" in name)
    assert runs == ["3B_rank16"]
    assert expset("which", str(root / SET), "3B_rank16").exit_code == 0


def expect_refused(result, root, *words):
    assert result.exit_code == 2, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error: ") and all(word in lines[0] for word in words), result.stderr
    assert os.listdir(root) == []  # nothing left behind, no staging folder


def test_a_truncated_archive_is_refused_and_leaves_nothing(archived, root):
    data = archived.read_bytes()
    archived.write_bytes(data[: len(data) // 2])
    expect_refused(restore(archived, root), root, str(archived))


def test_an_archive_with_a_flipped_byte_is_refused_and_leaves_nothing(archived, root):
    data = bytearray(archived.read_bytes())
    data[len(data) // 2] ^= 0x01
    archived.write_bytes(bytes(data))
    expect_refused(restore(archived, root), root, str(archived))  # the member it fell in, or the CRC


def test_a_member_whose_bytes_differ_from_the_manifest_is_named(archived, root, tmp_path):
    tampered = tmp_path / "tampered.tar.gz"
    rewrite(archived, tampered, {f"{SET}/1B_rank8/finetune.yaml": b"lr: 1000\n"})
    expect_refused(restore(tampered, root), root, f"member {SET}/1B_rank8/finetune.yaml", "manifest")


def test_a_member_missing_from_the_archive_is_named(archived, root, tmp_path):
    with tarfile.open(archived, "r:gz") as tar:
        kept = [m for m in tar.getmembers() if m.name != f"{SET}/README.md"]
        entries = [(m, tar.extractfile(m).read() if m.isreg() else None) for m in kept]  # type: ignore[union-attr]
    shortened = tmp_path / "short.tar.gz"
    write_tar(shortened, SET, entries)
    expect_refused(restore(shortened, root), root, f"{SET}/README.md", "not in the archive")


@pytest.mark.parametrize(
    ("name", "why"),
    [
        (f"{SET}/../escaped.txt", "climbs out"),
        ("/tmp/absolute.txt", "absolute path"),
        ("other-set/file.txt", "outside the set's folder"),
    ],
)
def test_a_member_outside_the_set_is_refused_before_anything_is_written(tmp_path, root, name, why):
    crafted = tmp_path / "crafted.tar.gz"
    write_tar(crafted, SET, [(tarfile.TarInfo(f"{SET}/README.md"), b"hi\n"), (tarfile.TarInfo(name), b"pwned\n")])
    expect_refused(restore(crafted, root), root, why)
    assert not (tmp_path / "escaped.txt").exists() and not (root.parent / "escaped.txt").exists()


@pytest.mark.parametrize(
    ("kind", "link"),
    [
        (tarfile.SYMTYPE, "/etc/passwd"),
        (tarfile.LNKTYPE, f"{SET}/README.md"),
        (tarfile.CHRTYPE, ""),
        (tarfile.FIFOTYPE, ""),
    ],
)
def test_links_devices_and_fifos_are_refused(tmp_path, root, kind, link):
    crafted = tmp_path / "crafted.tar.gz"
    special = tarfile.TarInfo(f"{SET}/special")
    special.type, special.linkname = kind, link
    write_tar(crafted, SET, [(tarfile.TarInfo(f"{SET}/README.md"), b"hi\n"), (special, None)])
    expect_refused(restore(crafted, root), root, f"member {SET}/special")


def test_a_tar_that_expset_did_not_write_is_refused(tmp_path, root):
    plain = tmp_path / "plain.tar.gz"
    with tarfile.open(plain, "w:gz") as tar:
        tar.add(__file__, arcname="x/test.py")
    expect_refused(restore(plain, root), root, "not an expset archive")


def test_a_file_that_is_not_an_archive_is_refused(tmp_path, root):
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not gzip at all")
    expect_refused(restore(junk, root), root, "not a readable expset archive")


def test_a_missing_archive_is_named(tmp_path, root):
    result = restore(tmp_path / "gone.tar.gz", root)
    assert result.exit_code == 2 and "ARCHIVE" in result.stderr and "no such file" in result.stderr


def test_the_archive_holds_exactly_the_files_the_manifest_lists_and_the_manifest_last(archived):
    from archive.archived_sets import manifest_of

    found = members(archived)
    names = list(found)
    assert names[-1] == f"{SET}/.expset/archive-manifest.json"
    assert names[0] == SET
    manifest = manifest_of(archived)
    files = {f"{SET}/{entry['path']}" for entry in manifest["files"]}
    folders = {f"{SET}/{folder}" for folder in manifest["folders"]}
    assert {name for name, data in found.items() if data is not None} == files | {names[-1]}
    assert {name for name, data in found.items() if data is None} == folders | {SET}
    assert len(names) == len(set(names))


def member(name: str, kind: bytes = tarfile.REGTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    return info


@pytest.mark.parametrize(
    ("entries", "named"),
    [
        ([(member(f"{SET}/x"), b"a"), (member(f"{SET}/x/y"), b"b")], f"{SET}/x/y"),
        ([(member(f"{SET}/x"), b"a"), (member(f"{SET}/x/y", tarfile.DIRTYPE), None)], f"{SET}/x/y"),
        ([(member(f"{SET}/x", tarfile.DIRTYPE), None), (member(f"{SET}/x"), b"a")], f"{SET}/x"),
        ([(member(f"{SET}/x"), b"a"), (member(f"{SET}/x/", tarfile.DIRTYPE), None)], f"{SET}/x"),
        ([(member(SET), b"a")], SET),
        ([(member(f"{SET}/"), b"a")], SET),
        ([(member(f"{SET}/x", tarfile.DIRTYPE), None), (member(f"{SET}/x", tarfile.DIRTYPE), None)], "twice"),
        ([(member(f"{SET}/x"), b"a"), (member(f"{SET}/x"), b"a")], "twice"),
    ],
)
def test_a_member_that_clashes_with_another_is_a_bad_archive_not_a_disk_failure(tmp_path, root, entries, named):
    crafted = tmp_path / "crafted.tar.gz"
    write_tar(crafted, SET, [(member(SET, tarfile.DIRTYPE), None), *entries] if entries[0][0].name != SET else entries)
    expect_refused(restore(crafted, root), root, named)


def test_a_folder_the_manifest_does_not_list_is_refused(archived, root, tmp_path):
    with tarfile.open(archived, "r:gz") as tar:
        entries = [(m, tar.extractfile(m).read() if m.isreg() else None) for m in tar.getmembers()]  # type: ignore[union-attr]
    entries.insert(1, (member(f"{SET}/smuggled", tarfile.DIRTYPE), None))
    longer = tmp_path / "longer.tar.gz"
    write_tar(longer, SET, entries)
    expect_refused(restore(longer, root), root, f"folder {SET}/smuggled", "not in the manifest")


def test_a_restore_is_synced_to_disk_before_it_is_moved_into_place(archived, root, monkeypatch):
    from expset.fs import writer

    order = []
    monkeypatch.setattr(os, "sync", lambda: order.append("sync"))
    move = writer.move_into_place
    monkeypatch.setattr(writer, "move_into_place", lambda *args: (order.append("move"), move(*args))[1])
    assert restore(archived, root).exit_code == 0
    assert order == ["sync", "move"]


def test_ctrl_c_while_restoring_leaves_nothing_behind(archived, root, monkeypatch):
    from expset import restore as restoring

    write = restoring._MemberFile.write
    calls = []

    def interrupted(self, chunk):
        calls.append(len(chunk))
        if len(calls) == 10:
            raise KeyboardInterrupt
        write(self, chunk)

    monkeypatch.setattr(restoring._MemberFile, "write", interrupted)
    result = restore(archived, root)
    assert result.exit_code == 130 and "nothing was restored" in result.stderr
    assert os.listdir(root) == []


def test_a_restored_set_keeps_the_manifest_of_its_archive(archived, root):
    assert restore(archived, root).exit_code == 0
    kept = (root / SET / ".expset" / "archive-manifest.json").read_bytes()
    assert kept == members(archived)[f"{SET}/.expset/archive-manifest.json"]
