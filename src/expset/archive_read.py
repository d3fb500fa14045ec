"""Reading an expset archive member by member, checking every one against its manifest.

One reader serves both the check after ``expset archive`` writes an archive and ``expset restore``: it streams
each member once, hashes it, and hands its bytes to an optional sink (restore writes them into its staging
folder). Members are refused before a byte of them is handed on when their name leaves the set's folder
(absolute, ``..``) or they are anything but a plain file or folder (links, devices, FIFOs): tarfile's own
``filter="data"`` would do this, but it only exists from Python 3.12.

A damaged archive — cut short, a flipped byte, a member whose bytes differ from the manifest — raises
``ArchiveError`` naming the member: the hash of every member, the gzip stream's own CRC and the tar headers'
checksums are all checked.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import tarfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

from expset.core.archive_members import HEADER_PREFIX, MANIFEST_MEMBER, Manifest, member_problem, parse_manifest
from expset.core.values import is_safe_name
from expset.errors import ArchiveError

CHUNK = 1 << 20
MANIFEST_LIMIT = 256 << 20
"""A manifest larger than this is not one expset wrote (a million files take about 150 MB)."""


class MemberWriter(Protocol):
    """Where a member's bytes go, chunk by chunk; closed when the member ends, however it ends."""

    def write(self, chunk: bytes) -> None: ...

    def close(self) -> None: ...


Sink = Callable[[str, tarfile.TarInfo], MemberWriter]
"""Called with a file member's path (relative to the set) and header; returns where its bytes go."""
FolderSink = Callable[[str], None]


@dataclass(frozen=True)
class Header:
    """What the archive's PAX global header says: the set's name and, for a per-run archive, its runs."""

    set_name: str
    runs: tuple[str, ...] | None


@dataclass
class ReadArchive:
    """What reading an archive found: its header, manifest, and every file's size and SHA-256."""

    header: Header
    manifest: Manifest
    files: dict[str, tuple[int, str]] = field(default_factory=dict)
    folders: list[str] = field(default_factory=list)
    trailer: str | None = None  # what was wrong at the end of the compressed stream (a CRC that does not match)


_READ_ERRORS = (tarfile.TarError, EOFError, zlib.error, OSError)


def read_header(path: Path) -> Header:
    """The header of the archive at ``path``, read from its first block only."""
    with _Opened(path) as (_, tar):
        return _header(path, tar)


def read_archive(
    path: Path,
    sink: Sink | None = None,
    on_folder: FolderSink | None = None,
    progress: Callable[[int], None] | None = None,
) -> ReadArchive:
    """Read every member of the archive at ``path`` and check it against the manifest; ``ArchiveError``
    names the first member that is unsafe, damaged or not as the manifest says. ``progress`` gets the
    number of compressed bytes read since it was last called."""
    with _Opened(path, progress) as (compressed, tar):
        header = _header(path, tar)
        found = _read_members(path, compressed, tar, header, sink, on_folder)
    check_against_manifest(path, found)  # first: it names the member a changed byte fell in
    if found.trailer is not None:
        raise ArchiveError(found.trailer, hint=_DAMAGED)
    return found


class _Counting:
    """The archive file, telling ``progress`` how many bytes were read."""

    def __init__(self, raw: BinaryIO, progress: Callable[[int], None] | None) -> None:
        self.raw = raw
        self.progress = progress

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        if self.progress is not None and data:
            self.progress(len(data))
        return data

    def __getattr__(self, name: str) -> object:
        return getattr(self.raw, name)


class _Opened:
    """The archive opened for reading: the gzip stream and a tar reader over it, closed together."""

    def __init__(self, path: Path, progress: Callable[[int], None] | None = None) -> None:
        self.path = path
        self.progress = progress

    def __enter__(self) -> tuple[gzip.GzipFile, tarfile.TarFile]:
        try:
            self.raw = open(self.path, "rb")
        except OSError as error:
            raise ArchiveError(f"cannot read {self.path}: {error.strerror}") from None
        try:
            self.compressed = gzip.GzipFile(fileobj=_Counting(self.raw, self.progress), mode="rb")  # type: ignore[arg-type]
            self.tar = tarfile.TarFile(fileobj=self.compressed, mode="r")  # type: ignore[arg-type]
        except _READ_ERRORS as error:
            self.raw.close()
            raise ArchiveError(f"{self.path}: not a readable expset archive ({_why(error)})") from None
        return self.compressed, self.tar

    def __exit__(self, *_: object) -> None:
        self.tar.close()
        self.compressed.close()
        self.raw.close()


def _why(error: BaseException) -> str:
    if isinstance(error, EOFError):
        return "it ends early: cut short"
    return str(error) or type(error).__name__


def _header(path: Path, tar: tarfile.TarFile) -> Header:
    headers = tar.pax_headers
    set_name = headers.get(f"{HEADER_PREFIX}set")
    if not set_name or not is_safe_name(set_name):
        raise ArchiveError(f"{path}: not an expset archive (no set named in its header)")
    runs = headers.get(f"{HEADER_PREFIX}runs")
    return Header(set_name, tuple(runs.split(",")) if runs else None)


def _read_members(
    path: Path,
    compressed: gzip.GzipFile,
    tar: tarfile.TarFile,
    header: Header,
    sink: Sink | None,
    on_folder: FolderSink | None,
) -> ReadArchive:
    manifest_name = f"{header.set_name}/{MANIFEST_MEMBER}"
    manifest: Manifest | None = None
    files: dict[str, tuple[int, str]] = {}
    folders: list[str] = []
    kinds: dict[str, bool | None] = {}  # relative path → a folder, a file, or a folder only implied
    last = "(the first)"
    while True:
        try:
            member = tar.next()
        except _READ_ERRORS as error:
            raise ArchiveError(f"{path}: damaged near member {last} ({_why(error)})", hint=_DAMAGED) from None
        if member is None:
            break
        name = member.name
        problem = member_problem(name, header.set_name)
        if problem is not None:
            raise ArchiveError(f"{path}: member {name!r} {problem}; nothing was written", hint=_UNSAFE)
        if not (member.isdir() or member.isreg()):
            raise ArchiveError(
                f"{path}: member {name} is a {_kind(member)}; expset archives hold only files and folders",
                hint=_UNSAFE,
            )
        if manifest is not None:
            raise ArchiveError(f"{path}: member {name} follows the manifest", hint=_UNSAFE)
        relative = name.rstrip("/").partition("/")[2]
        last = name
        _refuse_clash(path, name, relative, member.isdir(), kinds)
        if member.isdir():
            if relative:
                folders.append(relative)
                if on_folder is not None:
                    on_folder(relative)
            continue
        if name == manifest_name:
            manifest, document = _read_manifest(path, tar, member)
            if sink is not None:  # kept in the restored set: the record of what its archive held
                writer = sink(relative, member)
                try:
                    writer.write(document)
                finally:
                    writer.close()
            continue
        files[relative] = _stream(path, tar, member, sink(relative, member) if sink is not None else None)
    trailer = None
    try:
        while compressed.read(CHUNK):  # to the gzip trailer: its CRC and length are checked there
            pass
    except _READ_ERRORS as error:
        trailer = f"{path}: damaged ({_why(error)})"
    if manifest is None:
        raise ArchiveError(
            trailer or f"{path}: no manifest ({manifest_name}): cut short, or not an expset archive", hint=_DAMAGED
        )
    return ReadArchive(header, manifest, files, folders, trailer)


def _refuse_clash(path: Path, name: str, relative: str, is_folder: bool, kinds: dict[str, bool | None]) -> None:
    """``ArchiveError`` when the member ``relative`` was listed before, or it or a folder above it is both a
    file and a folder: writing it would fail on the disk, and the disk is not what is wrong.

    ``kinds``: each path seen → True for a folder member, False for a file, None for a folder only implied
    (above a member: an archive may list a folder after what it holds)."""
    if not relative and not is_folder:
        raise ArchiveError(f"{path}: member {name} is a file named as the set; the set is a folder", hint=_UNSAFE)
    if relative in kinds:
        seen = kinds[relative]
        if seen is None and is_folder:
            kinds[relative] = True
            return
        if seen is is_folder:
            raise ArchiveError(f"{path}: member {name} appears twice", hint=_UNSAFE)
        raise ArchiveError(f"{path}: member {name} is both a file and a folder", hint=_UNSAFE)
    parent = ""
    for part in relative.split("/")[:-1] if relative else []:
        parent = f"{parent}/{part}" if parent else part
        if kinds.setdefault(parent, None) is False:
            raise ArchiveError(f"{path}: member {name} is inside {parent}, which is a file", hint=_UNSAFE)
    kinds[relative] = is_folder


_DAMAGED = "the archive is damaged: use another copy of it"
_UNSAFE = "this archive was not written by expset archive: extract it by hand after checking it"


def _kind(member: tarfile.TarInfo) -> str:
    if member.issym():
        return f"symbolic link to {member.linkname}"
    if member.islnk():
        return f"hard link to {member.linkname}"
    if member.isdev():
        return "device or FIFO"
    return "special member"


def _stream(path: Path, tar: tarfile.TarFile, member: tarfile.TarInfo, writer: MemberWriter | None) -> tuple[int, str]:
    try:
        return _copy(path, tar, member, writer)
    finally:
        if writer is not None:
            writer.close()


def _copy(path: Path, tar: tarfile.TarFile, member: tarfile.TarInfo, writer: MemberWriter | None) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    try:
        handle = tar.extractfile(member)
    except _READ_ERRORS as error:
        raise ArchiveError(f"{path}: member {member.name} is damaged ({_why(error)})", hint=_DAMAGED) from None
    assert handle is not None  # a regular file
    while True:
        try:
            chunk = handle.read(CHUNK)
        except _READ_ERRORS as error:
            raise ArchiveError(f"{path}: member {member.name} is damaged ({_why(error)})", hint=_DAMAGED) from None
        if not chunk:
            break
        digest.update(chunk)
        size += len(chunk)
        if writer is not None:
            writer.write(chunk)  # the disk's refusal is the sink's to report, not the archive's
    return size, digest.hexdigest()


def _read_manifest(path: Path, tar: tarfile.TarFile, member: tarfile.TarInfo) -> tuple[Manifest, bytes]:
    if member.size > MANIFEST_LIMIT:
        raise ArchiveError(f"{path}: its manifest is {member.size} bytes: not one expset wrote")
    try:
        handle = tar.extractfile(member)
        assert handle is not None
        document = handle.read()
    except _READ_ERRORS as error:
        raise ArchiveError(f"{path}: its manifest is damaged ({_why(error)})", hint=_DAMAGED) from None
    try:
        return parse_manifest(json.loads(document)), document
    except ValueError as error:
        raise ArchiveError(f"{path}: its manifest is damaged ({error})", hint=_DAMAGED) from None
    except ArchiveError as error:
        raise ArchiveError(f"{path}: {error.message}", hint=error.hint or _DAMAGED) from None


def check_against_manifest(path: Path, found: ReadArchive) -> None:
    """``ArchiveError`` naming the first member whose size or SHA-256 differs from the manifest, or that one
    of them lists and the other does not."""
    manifest, header = found.manifest, found.header
    if manifest.set_name != header.set_name or manifest.runs != header.runs:
        raise ArchiveError(f"{path}: its manifest and its header name different sets or runs", hint=_DAMAGED)
    listed = {file.path: file for file in manifest.files}
    for relative, (size, sha256) in found.files.items():
        entry = listed.get(relative)
        if entry is None:
            raise ArchiveError(f"{path}: member {header.set_name}/{relative} is not in the manifest", hint=_DAMAGED)
        if entry.size != size:
            raise ArchiveError(
                f"{path}: member {header.set_name}/{relative} is {size} bytes; the manifest says {entry.size}",
                hint=_DAMAGED,
            )
        if entry.sha256 != sha256:
            raise ArchiveError(
                f"{path}: member {header.set_name}/{relative} differs from the manifest (SHA-256)", hint=_DAMAGED
            )
    missing = sorted(set(listed) - set(found.files))
    if missing:
        raise ArchiveError(
            f"{path}: member {header.set_name}/{missing[0]} is in the manifest but not in the archive"
            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""),
            hint=_DAMAGED,
        )
    folders = set(found.folders)
    unlisted = sorted(folders - set(manifest.folders))
    if unlisted:
        raise ArchiveError(f"{path}: folder {header.set_name}/{unlisted[0]} is not in the manifest", hint=_DAMAGED)
    absent = sorted(folder for folder in manifest.folders if folder not in folders)
    if absent:
        raise ArchiveError(f"{path}: folder {header.set_name}/{absent[0]} is in the manifest but not in the archive")
