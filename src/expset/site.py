"""This machine and this user: today's date, the author, where sets go, and the user profile.

The pure core is handed these facts; this module is where they are read. The profile holds the
cluster's folders and SLURM settings in TOML under the platform's config folder (or
``$EXPSET_PROFILE``); its keys are those of a plan's ``site:``, which overrides them.
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from expset.errors import ProfileError, WriteError

ROOT_VARIABLE = "EXPSET_ROOT"
CURRENT_FOLDER = "the current folder"  # the root when nothing else chooses one
PROFILE_VARIABLE = "EXPSET_PROFILE"
PROFILE_FILE = "profile.toml"


def today() -> dt.date:
    """Today's date, for a plan that gives none."""
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


def profile_path(environ: Mapping[str, str] = os.environ) -> Path:
    """Where the user profile lives: ``$EXPSET_PROFILE``, else the platform's config folder."""
    if environ.get(PROFILE_VARIABLE):
        return Path(environ[PROFILE_VARIABLE]).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("expset")) / PROFILE_FILE


def read_profile_data(path: Path) -> dict[str, Any]:
    """The profile file's content; empty when there is none."""
    if not path.is_file():
        return {}
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ProfileError(f"{path}: {error}", hint="fix the profile, or point EXPSET_PROFILE elsewhere") from None


def read_profile(path: Path) -> Any:
    """The profile as validated site settings (``expset.core.site_settings.Site``)."""
    return validate_profile(read_profile_data(path), path)


def validate_profile(data: Any, path: Path) -> Any:
    """``data`` as site settings, or a ``ProfileError`` naming the file, the key and the problem."""
    from pydantic import ValidationError

    from expset.core.site_settings import Site

    try:
        return Site.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        raise ProfileError(
            f"{path}: {field}: {message}", hint="fix it there (see `expset profile show` for the keys a profile takes)"
        ) from None


def render_profile_reference(site: Any) -> str:
    """TOML text with every key a profile takes, each under its meaning: the ones ``site`` sets with their
    value, the others commented out with an example. Saved as the profile, with the keys that apply
    uncommented and filled in, it is a valid profile."""
    import json

    from expset.core.site_settings import SITE_SETTINGS

    values = site.model_dump(exclude_none=True)
    lines = [
        "# expset user profile: this cluster's folders and SLURM settings. Every key is optional;",
        "# uncomment the ones that apply and fill them in. A plan's site: section overrides them.",
    ]
    for setting in SITE_SETTINGS:
        lines += ["", f"# {setting.question.replace('(blank: ', '(unset: ')}"]
        if setting.field in values:
            lines.append(f"{setting.field} = {json.dumps(values[setting.field], ensure_ascii=False)}")
        else:
            lines.append(f"# {setting.field} = {json.dumps(setting.example, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


def render_profile(site: Any) -> str:
    """TOML text for site settings (TOML basic strings take JSON string escapes)."""
    import json

    lines = ["# expset user profile: this cluster's folders and SLURM settings.", ""]
    for key, value in site.model_dump(exclude_none=True).items():
        lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"
