"""The `recipegen` command line: a click group assembled from each area's commands.

Commands are imported only when run (or when their full help is asked for): `recipegen --help`,
`--version` and `recipegen lint` never import the generator, Jinja or YAML. `COMMANDS` names
where each one lives and its one-line help (a test checks the line against the command's own).
"""

from __future__ import annotations

import gc
import importlib
import os
import sys

# Start-up allocates some 100k objects that all stay alive (modules, classes, functions): the
# default threshold (700) would run a young collection every 700 allocations during the imports.
# The console script keeps the larger batches for its run; a program importing this module gets
# its own thresholds back.
_THRESHOLDS = gc.get_threshold()
_BATCHED = (max(_THRESHOLDS[0], 50_000), *_THRESHOLDS[1:])
gc.set_threshold(*_BATCHED)

import click  # noqa: E402

from recipegen import __version__  # noqa: E402

gc.set_threshold(*_THRESHOLDS)

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
    "skill": (
        "recipegen.skill_install",
        "skill",
        "Agent skill: `skill show` prints it, `skill install` copies it.",
    ),
    "demo": ("recipegen.demo", "demo", "Smoke a shipped recipe offline on a tiny stand-in."),
}


def load_command(name: str) -> click.Command:
    """The real click command `name` (imports its module)."""
    module, attr, _ = COMMANDS[name]
    return getattr(importlib.import_module(module), attr)


# Commands that write nothing but their output: when run from the console script they end the
# process at once (output flushed) instead of tearing the interpreter down object by object.
_FAST_EXIT = {None, "lint", "rule", "rules"}


def _command_word(argv: list[str]) -> str | None:
    return next((a for a in argv if not a.startswith("-")), None)


def _flush_and_exit(code: int) -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`| head`): what Python's own exit does
            code = 120
    os._exit(code)


class _LazyGroup(click.Group):
    def __call__(self, *args, **kwargs):
        if args or kwargs or _command_word(sys.argv[1:]) not in _FAST_EXIT:
            return super().__call__(*args, **kwargs)
        gc.set_threshold(*_BATCHED)
        try:
            return super().__call__()
        except SystemExit as exc:
            if exc.code is None or isinstance(exc.code, int):
                _flush_and_exit(exc.code or 0)
            raise

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
