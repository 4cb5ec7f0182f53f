"""``python -m vidgate`` is the ``vidgate`` command."""

from vidgate.cli import main

main()
