"""``python -m remem``: the same as the ``remem`` script, for environments without it on PATH."""

from remem.interfaces.cli import main

main()
