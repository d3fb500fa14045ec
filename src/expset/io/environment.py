"""Facts the pure core must be handed: today's date, the author, where sets go, the user profile."""

from __future__ import annotations

import datetime as dt
import getpass
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from expset.errors import WriteError

ROOT_VARIABLE = "EXPSET_ROOT"
CURRENT_FOLDER = "the current folder"  # the root when nothing else chooses one


def today() -> dt.date:
    return dt.date.today()


def default_author() -> str:
    """``git config user.name``, else the login name, else ``unknown``."""
    try:
        completed = subprocess.run(
            ["git", "config", "user.name"], capture_output=True, text=True, timeout=5, check=False
        )
        if completed.returncode == 0 and completed.stdout.strip():
            return completed.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        return os.environ.get("USER") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@dataclass(frozen=True)
class RootChoice:
    """The folder sets are created in, and which source chose it (shown in the preview)."""

    path: Path
    source: str


def choose_root(flag: str | None, plan_root: str | None, environ: Mapping[str, str] = os.environ) -> RootChoice:
    """``--root`` > plan ``root`` > ``$EXPSET_ROOT`` > profile ``root`` > the current folder."""
    if flag:
        return RootChoice(_absolute(flag), "--root")
    if plan_root:
        return RootChoice(_absolute(plan_root), "the plan's root")
    if environ.get(ROOT_VARIABLE):
        return RootChoice(_absolute(environ[ROOT_VARIABLE]), f"${ROOT_VARIABLE}")
    from expset.io.profile import profile_path, read_profile

    path = profile_path(environ)
    profile_root = read_profile(path).root
    if profile_root:
        return RootChoice(_absolute(str(profile_root)), f"the profile ({path})")
    return RootChoice(Path.cwd(), CURRENT_FOLDER)


def check_root(root: RootChoice) -> None:
    """Raise ``WriteError`` unless the root is an existing folder this user can create sets in."""
    if not root.path.exists():
        raise WriteError(
            f"root {root.path} (from {root.source}) does not exist",
            hint=f"create it (mkdir -p {root.path}) or pass --root",
        )
    if not root.path.is_dir():
        raise WriteError(f"root {root.path} (from {root.source}) is not a folder", hint="pass --root")
    if not os.access(root.path, os.W_OK | os.X_OK):
        raise WriteError(
            f"root {root.path} (from {root.source}) is not writable by you", hint="pass --root with a folder you own"
        )


def _absolute(path: str) -> Path:
    return Path(os.path.expandvars(path)).expanduser().absolute()
