"""One module per ``fcaudit`` subcommand; each exposes ``register(subparsers)``."""
