"""The user profile: this cluster's folders and SLURM settings, in TOML under the platform's config
folder (or ``$EXPSET_PROFILE``). Its keys are those of a plan's ``site:``, which overrides them."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from expset.errors import PlanError

PROFILE_VARIABLE = "EXPSET_PROFILE"
PROFILE_FILE = "profile.toml"


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
        raise PlanError([f"{path}: {error}"], hint="fix the profile, or point EXPSET_PROFILE elsewhere") from None


def read_profile(path: Path) -> Any:
    """The profile as validated site settings (``expset.core.plan.Site``)."""
    from pydantic import ValidationError

    from expset.core.sections import Site

    try:
        return Site.model_validate(read_profile_data(path))
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise PlanError(
            [f"{path}: {field}: {first['msg']}"], hint="see `expset profile show` for the keys a profile takes"
        ) from None


def render_profile_reference(site: Any, meanings: Mapping[str, str]) -> str:
    """TOML text with every key a profile takes (``meanings``: key → meaning, in order), each under
    its meaning: the ones ``site`` sets with their value, the others commented out. Saved as the
    profile, with the keys that apply uncommented and filled in, it is a valid profile."""
    import json

    from expset.core.sections import Site

    values = site.model_dump(exclude_none=True)
    lines = [
        "# expset user profile: this cluster's folders and SLURM settings. Every key is optional;",
        "# uncomment the ones that apply and fill them in. A plan's site: section overrides them.",
    ]
    for key, meaning in meanings.items():
        lines += ["", f"# {meaning}"]
        if key in values:
            lines.append(f"{key} = {json.dumps(values[key], ensure_ascii=False)}")
        else:
            lines.append(f"# {key} = {_placeholder(Site.model_fields[key].annotation)}")
    return "\n".join(lines) + "\n"


def _placeholder(annotation: Any) -> str:
    """A TOML value to replace: a list of text for list settings, else a text."""
    import typing

    kinds = {typing.get_origin(kind) or kind for kind in typing.get_args(annotation) or (annotation,)}
    return '["…"]' if list in kinds else '"…"'


def render_profile(site: Any) -> str:
    """TOML text for site settings (TOML basic strings take JSON string escapes)."""
    import json

    lines = ["# expset user profile: this cluster's folders and SLURM settings.", ""]
    for key, value in site.model_dump(exclude_none=True).items():
        lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"
