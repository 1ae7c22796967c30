"""What the commands share and each command's run: plans, outputs, exit codes."""
