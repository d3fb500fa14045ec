"""Benchmark: recording a set's inputs — the SHA-256 of a large data file, then the cached digest.

``scaffold`` records the SHA-256 of every data and task file the runs read, and ``check`` (so ``submit``)
compares the files with that record. The first digest of a file reads all of it; later ones come from the
cache in ``.expset/input_hashes.json`` while the file's size and modification time are unchanged. The file
is written fresh, so the first figure is with the file in the page cache (a cold read from a parallel file
system adds the read time itself, at its bandwidth).

    python bench/input_hashes.py [--size-mb 1000] [--root DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from expset.inputs import DigestCache


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1000)
    parser.add_argument("--root", type=Path, default=None)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="expset-bench-", dir=args.root))
    try:
        data = root / "train.jsonl"
        chunk = os.urandom(1 << 20)
        with open(data, "wb") as file:
            for _ in range(args.size_mb):
                file.write(chunk)
        (root / ".expset").mkdir()
        cache = DigestCache(root)
        start = time.perf_counter()
        cache.digest(str(data))
        first = time.perf_counter() - start
        cache.save()
        start = time.perf_counter()
        DigestCache(root).digest(str(data))  # as the next scaffold or check: the cache read from disk
        again = time.perf_counter() - start
        size = data.stat().st_size / 1e6
        print(f"sha256 of a {size:,.0f} MB data file: first {first:6.2f} s ({size / first:,.0f} MB/s)")
        print(f"sha256 of a {size:,.0f} MB data file: cached {again * 1000:6.2f} ms")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
