"""The set's lock: one expset command at a time changes a set's jobs or shape (submit, cancel, clean,
extend, remove, an archive's removal).

An ``flock`` on ``.expset/submit.lock``, a file opened for writing (NFS emulates ``flock`` with POSIX
locks, which need one): the kernel releases it when the holder ends, however it ends, so a killed
command never leaves the set locked. The file names the command holding it, for the one refused.
"""

from __future__ import annotations

import fcntl
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from expset.core.layout import SUBMIT_LOCK
from expset.errors import BusyError, RecordError


@contextmanager
def set_lock(set_dir: Path) -> Iterator[None]:
    """Hold the set's lock, or raise ``BusyError`` naming who holds it (``RecordError`` where the file
    system cannot lock: two commands could not be kept apart)."""
    handle = _open(set_dir)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if not isinstance(error, BlockingIOError):
                raise RecordError(
                    f"{set_dir / SUBMIT_LOCK}: this file system cannot lock files ({error.strerror}), so two expset "
                    "commands on the set could not be kept apart",
                    hint="keep the set on a file system with flock support (GPFS, local disk, NFS with locking)",
                ) from None
            holder = os.pread(handle, 200, 0).decode("utf-8", "replace").strip() or "another process"
            raise BusyError(
                f"another expset command is working on {set_dir} ({holder}); nothing was done",
                hint="wait for it to finish, then run this again: a submit submits only what is left",
            ) from None
        os.ftruncate(handle, 0)
        command = f"expset {sys.argv[1]}" if len(sys.argv) > 1 else "expset"
        os.pwrite(handle, f"{command}, pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)
        yield
    finally:
        os.close(handle)


@contextmanager
def lock_if_free(set_dir: Path) -> Iterator[bool]:
    """The set's lock when no one holds it and the file system can lock, without waiting: yields whether it is
    held. For readers that repair what a dead command left, never beside a live one."""
    try:
        handle = _open(set_dir)
    except RecordError:
        yield False
        return
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        yield True
    finally:
        os.close(handle)


def _open(set_dir: Path) -> int:
    from expset.fs.inside import open_file

    try:
        return open_file(set_dir, SUBMIT_LOCK, os.O_RDWR | os.O_CREAT)
    except OSError as error:
        raise RecordError(f"{set_dir / SUBMIT_LOCK}: cannot open the set's lock: {error.strerror}") from None
