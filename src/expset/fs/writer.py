"""The only code that creates experiment sets on disk: all of a set appears at once, or nothing does.

The set is built in a hidden sibling folder inside the root (same file system, so the final rename
is atomic) and renamed into place without ever replacing an existing folder. On any failure,
Ctrl-C included, the staging folder is removed.

Large sets are written by a few threads, each owning whole run folders: on parallel file systems
(GPFS, Lustre) a metadata operation waits on the network, and concurrent creates in different
folders overlap those waits. The caller's iterator renders files in the calling thread meanwhile.
Paths are opened relative to the staging folder's descriptor, so long paths are not resolved again
for each of many thousand folders.
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from pathlib import Path

from expset.errors import TargetExistsError, WriteError

STAGING_MARK = ".expset-staging-"
WRITER_THREADS = 4
CHUNK = 256  # folders or files per unit of work
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
_RENAME_NOREPLACE = 1
_AT_FDCWD = -100


def staging_path(target: Path) -> Path:
    """A fresh hidden sibling of ``target`` to build it in."""
    return target.parent / f".{target.name}{STAGING_MARK}{os.getpid()}-{secrets.token_hex(4)}"


def write_tree(target: Path, directories: Iterable[str], files: Iterable[tuple[str, str]]) -> None:
    """Create ``target`` holding ``directories`` (parents first) and ``files`` (relative path, text).

    Raise ``TargetExistsError`` if ``target`` exists, now or by the time the rename happens.
    """
    if os.path.lexists(target):
        raise TargetExistsError(f"{target} already exists")
    stage = staging_path(target)
    try:
        os.mkdir(stage)
    except OSError as error:
        raise WriteError(f"cannot create {stage.parent}/…: {error.strerror}", hint="check the root folder") from None
    try:
        _fill(stage, directories, files)
        _rename_no_replace(stage, target)
    except OSError as error:
        raise WriteError(f"writing {target} failed: {error}", hint="nothing was left behind; fix and retry") from None
    finally:
        if os.path.lexists(stage):
            shutil.rmtree(stage, ignore_errors=True)


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
    the kernel or file system lacks it, a plain rename refuses non-empty targets, and an empty
    target folder was checked for just before.
    """
    result = _renameat2(source, target)
    if result == 0:
        return
    if result in (errno.EEXIST, errno.ENOTEMPTY):
        raise TargetExistsError(f"{target} was created by another process while this one was writing")
    if os.path.lexists(target):
        raise TargetExistsError(f"{target} was created by another process while this one was writing")
    try:
        os.rename(source, target)
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
