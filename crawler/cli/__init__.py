"""The command line, argument parsing only: ``main`` (the parser and dispatch), ``entry`` (the console
script), one ``<name>_flags`` module per command (its ``register(subparsers)``) and ``shared_flags``.
What a command does is ``crawler.app.<name>_command``; a flags module imports only ``crawler.app``.

Nothing is re-exported here: ``entry`` holds SIGINT while ``crawler.cli.main`` loads, and importing it
from this ``__init__`` would load it before that guard.
"""
