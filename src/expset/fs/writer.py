"""The only code that creates experiment sets on disk: all of a set appears at once, or nothing does.
Beside it, the two whole replacements a set lives with: a file (``write_atomically``) and a folder
inside a set (``replace_folder``, the report).

The set is built in a hidden sibling folder inside the root (same file system, so the final rename
is atomic) and renamed into place without ever replacing an existing folder. On any failure,
Ctrl-C included, the staging folder is removed.

A process killed outright (``kill -9``, a node lost) cannot clean up, so the next create of the same
set removes what it left. That must never touch a staging folder still being written, on this host
or another one sharing the file system. Each writer holds an exclusive ``flock`` on a lock file
beside its staging folder for as long as the folder exists; the kernel releases the lock when the
process dies, however it dies. A later create removes a staging folder of its own target only when
it can take that lock, and only one made on its own host, since some parallel file systems keep
``flock`` local to a node. The lock is taken before the staging folder exists and released after it
is gone, so no staging folder is ever unguarded while its writer lives.

Large sets are written by a few threads, each owning whole run folders: on parallel file systems
(GPFS, Lustre) a metadata operation waits on the network, and concurrent creates in different
folders overlap those waits. The caller's iterator renders files in the calling thread meanwhile.
Paths are opened relative to the staging folder's descriptor, so long paths are not resolved again
for each of many thousand folders.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import shutil
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager, suppress
from pathlib import Path

from expset.errors import TargetExistsError, WriteError

STAGING_MARK = ".expset-staging-"
LOCK_SUFFIX = ".lock"
WRITER_THREADS = 4
CHUNK = 256  # folders or files per unit of work
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
_LOCK_FLAGS = os.O_RDWR | getattr(os, "O_CLOEXEC", 0)
_RENAME_NOREPLACE = 1
_AT_FDCWD = -100
_STAGING_ID = re.compile(r"(?P<host>[A-Za-z0-9-]+)-(?P<pid>[0-9]+)-[0-9a-f]{8}")


def this_host() -> str:
    """This host's short name as it appears in staging folder names: letters, digits and ``-``."""
    name = os.uname().nodename.split(".", 1)[0]
    return re.sub(r"[^A-Za-z0-9-]", "-", name) or "localhost"


def staging_path(target: Path) -> Path:
    """A fresh hidden sibling of ``target`` to build it in, named after this host and process."""
    return target.parent / f".{target.name}{STAGING_MARK}{this_host()}-{os.getpid()}-{secrets.token_hex(4)}"


def lock_path(stage: Path) -> Path:
    """The lock file that guards the staging folder ``stage`` while its writer lives."""
    return stage.with_name(stage.name + LOCK_SUFFIX)


def write_tree(target: Path, directories: Iterable[str], files: Iterable[tuple[str, str]]) -> None:
    """Create ``target`` holding ``directories`` (parents first) and ``files`` (relative path, text).

    Staging folders that earlier, dead creates of ``target`` left on this host are removed first.
    Raise ``TargetExistsError`` if ``target`` exists, now or by the time the rename happens.
    """
    remove_stale_staging(target)
    if os.path.lexists(target):
        raise TargetExistsError(f"{target} already exists")
    with _staging(target) as stage:
        try:
            _fill(stage, directories, files)
            _rename_no_replace(stage, target)
        except OSError as error:
            raise WriteError(
                f"writing {target} failed: {error}", hint="nothing was left behind; fix and retry"
            ) from None


@contextmanager
def staging_folder(target: Path) -> Iterator[Path]:
    """A new, empty hidden folder beside ``target`` to build it in, locked for this process and removed on the way
    out with whatever it still holds (``move_into_place`` takes it, or a folder in it, to its place first).
    Staging folders that dead writers of ``target`` left on this host are removed first."""
    remove_stale_staging(target)
    with _staging(target) as stage:
        yield stage


def move_into_place(source: Path, target: Path) -> None:
    """Rename ``source`` (a file or folder) to ``target``, never replacing anything: ``TargetExistsError`` if
    ``target`` exists by then, ``WriteError`` if the file system refuses."""
    try:
        _rename_no_replace(source, target)
    except OSError as error:
        raise WriteError(f"cannot move {target.name} into {target.parent}: {error.strerror}") from None


@contextmanager
def _staging(target: Path) -> Iterator[Path]:
    """A new, empty staging folder for ``target``, locked for this process; removed on the way out."""
    stage, handle = _claim(target)
    try:
        try:
            os.mkdir(stage)
        except OSError as error:
            raise WriteError(
                f"cannot create {stage.parent}/…: {error.strerror}", hint="check the root folder"
            ) from None
        yield stage
    finally:
        try:
            if os.path.lexists(stage):
                shutil.rmtree(stage, ignore_errors=True)
            if not os.path.lexists(stage):  # else keep the lock file, so a later create finishes the job
                _unlink_quietly(lock_path(stage))
        finally:
            os.close(handle)


def _claim(target: Path) -> tuple[Path, int]:
    """A staging path whose lock file this process created and holds (the descriptor keeps the lock)."""
    while True:
        stage = staging_path(target)
        lock = lock_path(stage)
        try:
            handle = os.open(lock, _LOCK_FLAGS | os.O_CREAT | os.O_EXCL, 0o666)
        except OSError as error:
            raise WriteError(f"cannot create {lock.parent}/…: {error.strerror}", hint="check the root folder") from None
        try:
            with suppress(OSError):  # no flock on this file system: nothing is ever proved dead, so never removed
                _lock(handle, wait=True)
            if _is_same_file(handle, lock):
                return stage, handle
        except BaseException:  # interrupted while waiting for the lock
            _unlink_quietly(lock)
            os.close(handle)
            raise
        os.close(handle)  # a cleaner took the brand-new lock file for a dead one's: choose another name


def remove_stale_staging(target: Path) -> list[Path]:
    """Remove staging folders of ``target`` whose writers are dead; return the ones removed.

    Only folders made on this host are candidates, and of those only the ones whose lock can be
    taken now: a live writer holds its lock until its staging folder is gone. Staging folders of
    other targets, of other hosts, or without a lock file are left alone.
    """
    prefix = f".{target.name}{STAGING_MARK}"
    host = this_host()
    try:
        names = os.listdir(target.parent)
    except OSError:
        return []
    removed = []
    for name in sorted(names):
        if not (name.startswith(prefix) and name.endswith(LOCK_SUFFIX)):
            continue
        match = _STAGING_ID.fullmatch(name[len(prefix) : -len(LOCK_SUFFIX)])
        if match is None or match["host"] != host:
            continue
        stage = target.parent / name[: -len(LOCK_SUFFIX)]
        if _remove_if_abandoned(stage):
            removed.append(stage)
    return removed


def _remove_if_abandoned(stage: Path) -> bool:
    """Remove ``stage`` and its lock file if no process holds the lock; True if a folder went."""
    lock = lock_path(stage)
    try:
        handle = os.open(lock, _LOCK_FLAGS)
    except OSError:
        return False  # gone meanwhile (its writer finished), or not ours to open
    try:
        try:
            _lock(handle, wait=False)
        except OSError:
            return False  # held by a live writer, or locks do not work here: leave it
        if not _is_same_file(handle, lock):
            return False
        existed = os.path.lexists(stage)
        if existed:
            shutil.rmtree(stage, ignore_errors=True)
        if os.path.lexists(stage):
            return False
        _unlink_quietly(lock)
        return existed
    finally:
        os.close(handle)


def _lock(handle: int, *, wait: bool) -> None:
    import fcntl

    fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)


def _is_same_file(handle: int, path: Path) -> bool:
    """Whether ``path`` still names the file open as ``handle``."""
    try:
        on_disk = os.stat(path)
    except OSError:
        return False
    held = os.fstat(handle)
    return (on_disk.st_dev, on_disk.st_ino) == (held.st_dev, held.st_ino)


def _unlink_quietly(path: Path) -> None:
    with suppress(OSError):
        os.unlink(path)


def _fill(stage: Path, directories: Iterable[str], files: Iterable[tuple[str, str]]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    stage_fd = os.open(stage, os.O_RDONLY | os.O_DIRECTORY)
    pool = ThreadPoolExecutor(max_workers=WRITER_THREADS, thread_name_prefix="expset-writer")
    pending = []
    try:
        for chunk in _chunks_by_top_folder(directories):
            pending.append(pool.submit(_make_directories, stage_fd, chunk))
        _wait(pending)  # every folder exists before any file is written into one
        pending = []
        batch: list[tuple[str, str]] = []
        for item in files:
            batch.append(item)
            if len(batch) == CHUNK:
                pending.append(pool.submit(_write_files, stage_fd, batch))
                batch = []
        pending.append(pool.submit(_write_files, stage_fd, batch))
        _wait(pending)
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True)
        os.close(stage_fd)


def _wait(futures: list[Future[None]]) -> None:
    for future in futures:
        future.result()  # re-raises a worker's OSError here


def _chunks_by_top_folder(directories: Iterable[str]) -> Iterator[list[str]]:
    """Runs of ``directories`` that never split one top-level folder, so parents precede children."""
    chunk: list[str] = []
    top = None
    for directory in directories:
        head = directory.split("/", 1)[0]
        if head != top and len(chunk) >= CHUNK:
            yield chunk
            chunk = []
        top = head
        chunk.append(directory)
    if chunk:
        yield chunk


def _make_directories(stage_fd: int, directories: list[str]) -> None:
    for directory in directories:
        os.mkdir(directory, dir_fd=stage_fd)


def _write_files(stage_fd: int, files: list[tuple[str, str]]) -> None:
    for path, text in files:
        handle = os.open(path, _FILE_FLAGS, 0o666, dir_fd=stage_fd)
        try:
            os.write(handle, text.encode("utf-8"))
        finally:
            os.close(handle)


def _rename_no_replace(source: Path, target: Path) -> None:
    """Rename ``source`` to ``target``, failing with ``TargetExistsError`` if ``target`` exists.

    ``renameat2(RENAME_NOREPLACE)`` closes the race between two processes creating one set; where
    the kernel or file system lacks it, a folder is renamed (a rename refuses non-empty targets, and an
    empty target folder was checked for just before) and a file is hard-linked to its target, which fails
    rather than replace a file that appeared meanwhile, then unlinked from its temporary name.
    """
    result = _renameat2(source, target)
    if result == 0:
        return
    if result in (errno.EEXIST, errno.ENOTEMPTY):
        raise TargetExistsError(f"{target} was created by another process while this one was writing")
    if os.path.lexists(target):
        raise TargetExistsError(f"{target} was created by another process while this one was writing")
    try:
        if os.path.isdir(source) and not os.path.islink(source):
            os.rename(source, target)
        else:  # a rename would replace a file that appeared meanwhile; a hard link never replaces
            os.link(source, target, follow_symlinks=False)
            os.unlink(source)
    except OSError as error:
        if error.errno in (errno.EEXIST, errno.ENOTEMPTY):
            raise TargetExistsError(f"{target} was created by another process while this one was writing") from None
        raise


def _renameat2(source: Path, target: Path) -> int:
    """0 on success, else the errno (``ENOSYS`` where renameat2 is unavailable)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return errno.ENOSYS
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(source), _AT_FDCWD, os.fsencode(target), _RENAME_NOREPLACE) == 0:
        return 0
    code = ctypes.get_errno()
    return errno.ENOSYS if code == errno.EINVAL else code


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step: a reader sees the old file or the new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise WriteError(f"cannot write {path}: {error.strerror}") from None


def replace_folder(set_dir: Path, name: str, files: dict[str, bytes]) -> Path:
    """Write ``files`` into ``set_dir/name`` as a whole: built beside it, then swapped in; the old folder
    is removed only once the new one is in place. Whatever stops it (an error, Ctrl-C), the old folder
    is back in place; one left aside by a process killed outright is put back or cleared the next time.
    Refuses a link in its place."""
    from expset.fs.inside import refuse_links

    refuse_links(set_dir, name)
    target = set_dir / name
    for leftover in sorted(set_dir.glob(f".{name}.*.old")):  # a swap killed half-way
        if target.exists():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            os.rename(leftover, target)
    for leftover in set_dir.glob(f".{name}.*.tmp"):
        shutil.rmtree(leftover, ignore_errors=True)
    stage = set_dir / f".{name}.{secrets.token_hex(4)}.tmp"
    old = set_dir / f".{name}.{secrets.token_hex(4)}.old"
    try:
        stage.mkdir()
        for relative, content in files.items():
            (stage / relative).write_bytes(content)
        if target.exists():
            os.rename(target, old)
        os.rename(stage, target)
    except BaseException as error:
        if old.exists() and not target.exists():
            os.rename(old, target)
        shutil.rmtree(stage, ignore_errors=True)
        if isinstance(error, OSError):
            raise WriteError(f"cannot write {target}: {error.strerror}") from None
        raise
    shutil.rmtree(old, ignore_errors=True)
    return target
