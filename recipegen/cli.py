"""The `recipegen` command line: a click group assembled from each area's commands."""

from __future__ import annotations

import click

from recipegen import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="recipegen")
def main() -> None:
    """Generate, check and lint sparse-autoencoder recipes for biological foundation models."""


def _register() -> None:
    from recipegen import demo, skill_install
    from recipegen.generator import commands as generator_commands
    from recipegen.validators import commands as lint_commands

    for module in (generator_commands, lint_commands, skill_install, demo):
        for command in module.COMMANDS:
            main.add_command(command)


_register()
