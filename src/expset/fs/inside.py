"""Writing inside an existing set without ever following a symbolic link out of it.

Sets are copied between colleagues and live on shared file systems: a run folder, an
``evaluations/<task>/`` folder or ``.expset/`` replaced by a link to somewhere else must not turn a
``scaffold`` or a ``submit`` into a write outside the set. Every write here walks the path from the
set's folder one component at a time with ``O_NOFOLLOW`` on directory descriptors, so a link is
refused even if it appears between a check and the write. The set folder itself is taken as given
(a path through a link, such as ``/scratch`` → ``/gpfs/…``, is the user's choice).

Links that expset never writes through stay allowed: checkpoint folders (``epoch_N/``, written by
torchtune) and ``logs/`` (written by SLURM and the jobs) may point to another file system.
"""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from expset.errors import LinkError, WriteError

_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def refuse_links(set_dir: Path, relative: str) -> None:
    """Raise ``LinkError`` if any component of ``set_dir/relative`` is a symbolic link (checked before writing)."""
    path = set_dir
    for part in relative.split("/"):
        path = path / part
        if path.is_symlink():
            raise link_error(path)


@contextmanager
def folder(set_dir: Path, relative: str, *, create: bool = True) -> Iterator[int]:
    """A descriptor of the folder ``set_dir/relative``, reached without following links; created if missing."""
    handle = os.open(set_dir, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    path = set_dir
    try:
        for part in [part for part in relative.split("/") if part]:
            path = path / part
            parent, handle = handle, -1  # _step_into closes the parent, whatever happens
            handle = _step_into(parent, part, path, create)
        yield handle
    finally:
        if handle >= 0:
            os.close(handle)


def _step_into(parent: int, name: str, path: Path, create: bool) -> int:
    try:
        try:
            child = os.open(name, _DIRECTORY, dir_fd=parent)
        except FileNotFoundError:
            if not create:
                raise
            with suppress(FileExistsError):
                os.mkdir(name, 0o777, dir_fd=parent)
            child = os.open(name, _DIRECTORY, dir_fd=parent)
    except FileNotFoundError:
        if not create:
            raise
        raise WriteError(f"cannot open {path}: it vanished while being made") from None
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR) and os.path.islink(path):
            raise link_error(path) from None
        raise WriteError(f"cannot open {path}: {error.strerror}") from None
    finally:
        os.close(parent)
    return child


def write_file(set_dir: Path, relative: str, text: str) -> None:
    """Replace ``set_dir/relative`` with ``text`` in one step, never through a link.

    A reader sees the old file or the new one, never half of it; a link at the file's own place is
    refused rather than replaced.
    """
    parent, _, name = relative.rpartition("/")
    with folder(set_dir, parent) as handle:
        if _is_link(name, handle):
            raise link_error(set_dir / relative)
        temporary = f".{name}.{secrets.token_hex(4)}.tmp"
        try:
            file = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666, dir_fd=handle)
            try:
                os.write(file, text.encode("utf-8"))
            finally:
                os.close(file)
            os.replace(temporary, name, src_dir_fd=handle, dst_dir_fd=handle)
        except OSError as error:
            with suppress(OSError):
                os.unlink(temporary, dir_fd=handle)
            raise WriteError(f"cannot write {set_dir / relative}: {error.strerror}") from None


def remove_file(set_dir: Path, relative: str) -> None:
    """Remove the file ``set_dir/relative`` (a link there is removed itself, never what it points to)."""
    parent, _, name = relative.rpartition("/")
    with folder(set_dir, parent, create=False) as handle:
        try:
            os.unlink(name, dir_fd=handle)
        except FileNotFoundError:
            pass
        except OSError as error:
            raise WriteError(f"cannot remove {set_dir / relative}: {error.strerror}") from None


def open_file(set_dir: Path, relative: str, flags: int, *, create: bool = True) -> int:
    """A descriptor of ``set_dir/relative`` opened with ``flags``, neither it nor a folder above it a link.

    With ``create``, missing folders above it are made; without, a missing one is ``FileNotFoundError``.
    """
    parent, _, name = relative.rpartition("/")
    with folder(set_dir, parent, create=create) as handle:
        try:
            return os.open(name, flags | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0), 0o644, dir_fd=handle)
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise link_error(set_dir / relative) from None
            raise


def _is_link(name: str, handle: int) -> bool:
    try:
        os.readlink(name, dir_fd=handle)
    except OSError:  # not there, or not a link
        return False
    return True


def link_error(path: Path) -> LinkError:
    """The one-line refusal of a link at ``path``."""
    return LinkError(
        f"{path} is a symbolic link (to {os.readlink(path)}); expset writes only inside the set's own folders",
        hint="replace the link with a real folder or file (cp -a keeps links; cp -rL copies what they point to)",
    )


def remove_tree(parent: int, name: str) -> None:
    """Remove the folder ``name`` in the folder open as ``parent`` and all below it; links inside are removed
    themselves, never followed (``shutil.rmtree(name, dir_fd=…)``, which Python 3.10 lacks)."""
    handle = os.open(name, _DIRECTORY, dir_fd=parent)
    try:
        with os.scandir(handle) as entries:
            for entry in list(entries):
                if entry.is_dir(follow_symlinks=False):
                    remove_tree(handle, entry.name)
                else:
                    os.unlink(entry.name, dir_fd=handle)
    finally:
        os.close(handle)
    os.rmdir(name, dir_fd=parent)
