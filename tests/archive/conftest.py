"""What the archive tests share: a folder for the archives they write."""

from __future__ import annotations

import pytest


@pytest.fixture
def out(tmp_path):
    folder = tmp_path / "archives"
    folder.mkdir()
    return folder
