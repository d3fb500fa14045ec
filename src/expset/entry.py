"""The ``expset`` console script."""

from __future__ import annotations


def main() -> None:
    from expset.cli import app

    app(prog_name="expset")
