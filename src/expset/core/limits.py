"""How large a set may be: a plan whose values multiply to millions of runs, or whose values are
repeated into gigabytes of files, is refused in a moment instead of filling memory and disk. Pure."""

from __future__ import annotations

import math

from expset.core.plan import Plan
from expset.core.values import Scalar
from expset.errors import PlanError

DEFAULT_MAX_RUNS = 10_000
"""The most runs ``plan`` and ``create`` build unless told otherwise (``--max-runs``): a plan whose
values multiply to millions of runs is refused in a moment instead of filling memory and disk."""

MAX_SET_TEXT = 100_000_000
"""At most this many characters of parameter values across all runs: every run's ``run.yaml`` and row
of ``runs.csv`` repeat its parameters, so a 100,000-character value in a plan of 10,000 runs would
otherwise write gigabytes."""


def count_runs(plan: Plan) -> int:
    """How many runs ``plan`` makes: the product of the number of values of each varied parameter."""
    return math.prod(len(values) for values in plan.vary.values())


def check_run_count(plan: Plan, max_runs: int) -> None:
    """Raise ``PlanError`` when ``plan`` makes more than ``max_runs`` runs, or runs whose files would repeat
    more than ``MAX_SET_TEXT`` characters of parameter values; counts, never builds them."""
    count = count_runs(plan)
    if count > max_runs:
        sizes = [f"{len(values):,} {key}" for key, values in plan.vary.items() if len(values) > 1]
        shown = " × ".join(sizes[:8]) + (f" × … ({len(sizes) - 8} more)" if len(sizes) > 8 else "")
        raise PlanError(
            [f"vary: {shown} make {_amount(count)} runs, more than the limit of {max_runs:,}"],
            hint=f"vary fewer values, or raise the limit with --max-runs {count}"
            if count < 10**15
            else "vary fewer values",
        )
    lengths = {f"fixed.{key}": _text_length(value) for key, value in plan.fixed.items()}
    lengths |= {f"vary.{key}": max(map(_text_length, values), default=0) for key, values in plan.vary.items()}
    if count * sum(lengths.values()) > MAX_SET_TEXT:
        longest = max(lengths, key=lengths.__getitem__)
        raise PlanError(
            [
                f"{longest}: {lengths[longest]:,} characters, written into each of the {count:,} runs' files, "
                f"make the set too large ({_amount(count * sum(lengths.values()))} characters of parameter values, "
                f"at most {MAX_SET_TEXT:,})"
            ],
            hint="shorten the longest values (a parameter value is a name, a number or a path), or make fewer runs",
        )


def _text_length(value: Scalar | list[Scalar]) -> int:
    items = value if isinstance(value, list) else [value]
    return sum(len(item) if isinstance(item, str) else 24 for item in items)


def _amount(count: int) -> str:
    """``1,000,000``, or ``about 10^4000`` for counts too long to print."""
    return f"{count:,}" if count < 10**15 else f"about 10^{int(math.log10(count))}"
