"""``python -m remem.interfaces.cli``: the same as the ``remem`` script."""

from remem.interfaces.cli import main

main()
