"""The `recipegen` command line: a click group assembled from each area's commands.

Commands are imported only when run (or when their full help is asked for): `recipegen --help`,
`--version` and `recipegen lint` never import the generator, Jinja or YAML. `COMMANDS` names
where each one lives and its one-line help (a test checks the line against the command's own).
"""

from __future__ import annotations

import importlib

import click

from recipegen import __version__

# name -> (module, attribute, the command's short help as `recipegen --help` lists it)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "new": ("recipegen.generator.commands", "new", "Render a recipe into <out>/<name>_sae."),
    "list": ("recipegen.generator.commands", "list_models", "List the shipped model specs."),
    "show": (
        "recipegen.generator.commands",
        "show",
        "Print a model's resolved spec (or, --as-spec, a spec file).",
    ),
    "check": (
        "recipegen.generator.commands",
        "check",
        "Re-render recipes and diff: exit 1 on drift.",
    ),
    "update": (
        "recipegen.generator.commands",
        "update",
        "Re-render with new templates, merging your edits 3-way.",
    ),
    "diff": (
        "recipegen.generator.commands",
        "diff",
        "Show your edits against the recorded render.",
    ),
    "lint": (
        "recipegen.validators.commands",
        "lint",
        "Lint recipe scripts for flag drift and SAE pitfalls.",
    ),
    "rule": ("recipegen.validators.commands", "rule", "Explain one lint rule, for example SAE102."),
    "rules": ("recipegen.validators.commands", "rules", "List every lint rule."),
    "skill": ("recipegen.skill_install", "skill", "Install or print the sae-recipe agent skill."),
    "demo": ("recipegen.demo", "demo", "Smoke a shipped recipe offline on a tiny stand-in."),
}


def load_command(name: str) -> click.Command:
    """The real click command `name` (imports its module)."""
    module, attr, _ = COMMANDS[name]
    return getattr(importlib.import_module(module), attr)


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return load_command(name) if name in COMMANDS else None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in sorted(COMMANDS)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="recipegen")
def main() -> None:
    """Generate, check and lint sparse-autoencoder recipes for biological foundation models."""
