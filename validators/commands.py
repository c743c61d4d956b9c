"""Placeholder: commands are added by their owner."""

COMMANDS: list = []
