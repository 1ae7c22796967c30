"""The command line, argument parsing only: ``main`` (the parser and dispatch), ``entry`` (the console
script), one ``<name>_flags`` module per command (its ``register(subparsers)``) and ``shared_flags``.
What a command does is ``crawler.app.<name>_command``; a flags module imports only ``crawler.app``."""
