"""A gzip file written as a series of gzip members, each compressed at its own level.

Model weights do not compress: deflate spends as long on them at level 1 as at level 6 (about 30 MB/s here)
and saves nothing. gzip allows a file to be several members one after the other, and every reader (Python's
``gzip``, ``gunzip``, ``tar -xz``) reads them as one stream; so an archive stores checkpoints at level 0 (at
disk speed) and compresses everything else, by starting a new member whenever the level changes.
"""

from __future__ import annotations

import struct
import zlib
from typing import BinaryIO

_HEADER = b"\x1f\x8b\x08\x00" + struct.pack("<I", 0) + b"\x00\xff"  # deflate, no name, no time, unknown OS


class GzipMembers:
    """A writable gzip stream over ``raw``; ``level`` switches the compression level of what is written next."""

    def __init__(self, raw: BinaryIO, level: int) -> None:
        self.raw = raw
        self._level = level
        self._compressor: zlib._Compress | None = None
        self._crc = 0
        self._size = 0
        self._written = 0

    def level(self, level: int) -> None:
        """Compress what is written from now on at ``level`` (a new gzip member when it changes)."""
        if level != self._level:
            self._finish()
            self._level = level

    def write(self, data: bytes) -> int:
        if self._compressor is None:
            self.raw.write(_HEADER)
            self._compressor = zlib.compressobj(self._level, zlib.DEFLATED, -zlib.MAX_WBITS)
            self._crc, self._size = 0, 0
        self.raw.write(self._compressor.compress(data))
        self._crc = zlib.crc32(data, self._crc)
        self._size += len(data)
        self._written += len(data)
        return len(data)

    def tell(self) -> int:
        """Bytes written so far, before compression (tarfile counts its offset with it)."""
        return self._written

    def _finish(self) -> None:
        if self._compressor is not None:
            self.raw.write(self._compressor.flush())
            self.raw.write(struct.pack("<II", self._crc, self._size & 0xFFFFFFFF))
            self._compressor = None

    def close(self) -> None:
        """End the last member; an empty stream still gets one, so the file is valid gzip."""
        if self._compressor is None:
            self.write(b"")
        self._finish()
