"""``python -m expset``."""

from expset.cli.main import main

main()
