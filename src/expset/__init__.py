"""expset: experiment sets for fine-tuning sweeps — names, folders, READMEs, configs and jobs.

The public library is re-exported lazily (PEP 562) so that ``expset --help`` stays fast.
"""

from __future__ import annotations

__version__ = "0.1.0"

_EXPORTS = {
    "parse_plan": "expset.core.plan",
    "Plan": "expset.core.plan",
    "design_set": "expset.core.naming",
    "derive_runs": "expset.core.naming",
    "decode_run_name": "expset.core.naming",
    "ExperimentSet": "expset.core.naming",
    "plan_layout": "expset.core.layout",
    "create_set": "expset.create",
    "load_set": "expset.sets",
    "scaffold_set": "expset.scaffold",
    "submit_set": "expset.submit",
    "set_status": "expset.status",
    "ExpsetError": "expset.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> object:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'expset' has no attribute {name!r}")
