"""What runs: each command's ``<name>_command.run(args)``, and what every command that audits shares.

``outputs`` is the one application layer: the ``[audit]`` policy of ``--config`` (read one way), the
fail threshold, the audit outputs (``--summary``, ``--findings``, ``--report``, ``--metrics``, opened into
one ``ExitStack``) and the exit code; ``output_paths`` checks every output before anything is opened;
``commands`` names the commands and their exit codes; ``emulated_role`` is ``--role`` of the commands
that serve an emulated account (``demo``, ``emulator``). Argument parsing is ``crawler.cli``'s.

Nothing is re-exported here: ``fcaudit --version`` imports this package, and only the command being run
is imported.
"""
