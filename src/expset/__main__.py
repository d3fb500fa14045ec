"""``python -m expset``."""

from expset.entry import main

main()
