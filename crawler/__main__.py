"""``python -m crawler`` runs the same command line as the ``fcaudit`` console script."""

from crawler.cli.entry import main

main()
