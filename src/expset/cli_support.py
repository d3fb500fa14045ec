"""What every command shares: one place that turns expset errors and Ctrl-C into a message and an
exit code. Library code never raises ``typer.Exit``; only this does."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import typer

from expset.errors import ExitCode, ExpsetError


@contextmanager
def reporting() -> Iterator[None]:
    """Turn expset errors and Ctrl-C into one message on stderr and the right exit code."""
    from expset.ui.console import report_error

    try:
        yield
    except ExpsetError as error:
        report_error(error)
        raise typer.Exit(error.exit_code) from None
    except KeyboardInterrupt:
        sys.stderr.write("interrupted; nothing was written\n")
        raise typer.Exit(ExitCode.INTERRUPTED) from None
