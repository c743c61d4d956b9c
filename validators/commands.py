"""CLI: `recipegen lint`, `recipegen rule CODE`, `recipegen rules`."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from recipegen.validators import reporters

from recipegen.textsafe import printable

# Each command imports what it needs when it runs: `recipegen rules` never loads the engine,
# `recipegen lint` never loads JSON unless it prints JSON.


def _codes(value: str | None, where: str) -> list[str]:
    from recipegen.validators.config import check_prefixes

    if not value:
        return []
    return check_prefixes([v for v in value.replace(" ", ",").split(",") if v], where)


@click.command(short_help="Lint recipe scripts for flag drift and SAE pitfalls.")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--select", help="Comma-separated rule codes or prefixes to enable (e.g. SAE2).")
@click.option("--ignore", help="Comma-separated rule codes or prefixes to disable.")
@click.option("--extend-select", help="Codes or prefixes to enable on top of the selection.")
@click.option(
    "--output-format", type=click.Choice(reporters.FORMATS), default="text", show_default=True
)
@click.option("--statistics", is_flag=True, help="Print counts per rule instead of findings.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="TOML file with [tool.recipegen.lint] (default: nearest pyproject.toml).",
)
@click.option(
    "--force-exclude",
    is_flag=True,
    help="Apply `exclude` to paths named on the command line too (for pre-commit hooks).",
)
def lint(
    paths, select, ignore, extend_select, output_format, statistics, config_path, force_exclude
):
    """Lint recipe scripts (.py, .sh, bash shebang) for flag drift and known SAE gotchas.

    Exit status: 0 clean, 1 findings, 2 usage or tool error.
    """
    from recipegen.validators.config import ConfigError, load_config
    from recipegen.validators.engine import NothingToLint, lint_paths

    try:
        roots = list(paths) or [Path(".")]
        config = load_config(config_path, start=roots[0] if roots[0].is_dir() else roots[0].parent)
        if select:
            config.select = _codes(select, "--select")
        if ignore:
            config.ignore += _codes(ignore, "--ignore")
        if extend_select:
            config.extend_select += _codes(extend_select, "--extend-select")
        config.force_exclude = force_exclude
        result = lint_paths(roots, config)
    except (ConfigError, FileNotFoundError, NothingToLint) as exc:
        click.echo(printable(f"error: {exc}"), err=True)
        sys.exit(2)
    except OSError as exc:  # e.g. a path that cannot be listed: a named error, not a traceback
        click.echo(printable(f"error: {exc.filename or ''}: {exc.strerror or exc}"), err=True)
        sys.exit(2)
    if statistics:
        if result.findings:
            click.echo(reporters.statistics(result.findings))
    else:
        out = reporters.RENDER[output_format](result.findings, result.files)
        if out:
            click.echo(out)
    for err in result.errors:
        click.echo(printable(f"error: {err}"), err=True)
    sys.exit(2 if result.errors else 1 if result.findings else 0)


@click.command(short_help="Explain one lint rule, for example SAE102.")
@click.argument("code")
def rule(code):
    """Explain one rule CODE: what it checks, why, and the domain facts behind it.

    Example: recipegen rule SAE102. The facts are numbered in docs/gotchas.md (the installed
    skill's references/gotchas.md)."""
    from recipegen.validators.registry import get_rule

    try:
        r = get_rule(code)
    except KeyError as exc:
        click.echo(f"error: {exc.args[0]}", err=True)
        sys.exit(2)
    facts = ", ".join(str(g) for g in r.gotchas) or "-"
    click.echo(
        f"# {r.code} ({r.name})\n\nSeverity: {r.severity}\nDomain facts: {facts} "
        "(docs/gotchas.md; in the installed skill: references/gotchas.md)\n\n"
        f"{r.summary}.\n\n{r.doc}"
    )


def markdown_reference() -> str:
    """The rule reference page (every rule: code, name, severity, summary, facts, doc)."""
    from recipegen.validators.registry import all_rules

    out = [
        "# recipegen lint rules",
        "",
        "| code | name | severity | domain facts (docs/gotchas.md) | summary |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in all_rules():
        facts = ", ".join(str(g) for g in r.gotchas) or "-"
        out.append(f"| {r.code} | {r.name} | {r.severity} | {facts} | {r.summary} |")
    for r in all_rules():
        facts = ", ".join(str(g) for g in r.gotchas) or "-"
        doc = r.doc.replace("\n## ", "\n#### ")
        if doc.startswith("## "):
            doc = "#" * 2 + doc
        out += [
            "",
            f"## {r.code} {r.name}",
            "",
            f"Severity: **{r.severity}**. Domain facts: {facts}. {r.summary}.",
            "",
            doc,
        ]
    return "\n".join(out) + "\n"


@click.command()
@click.option(
    "--output-format",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
)
def rules(output_format):
    """List every lint rule."""
    from recipegen.validators.registry import all_rules

    if output_format == "json":
        import json

        click.echo(
            json.dumps(
                [
                    {
                        "code": r.code,
                        "name": r.name,
                        "severity": r.severity,
                        "summary": r.summary,
                        "gotchas": list(r.gotchas),
                        "doc": r.doc,
                    }
                    for r in all_rules()
                ],
                indent=2,
            )
        )
    elif output_format == "markdown":
        click.echo(markdown_reference(), nl=False)
    else:
        for r in all_rules():
            click.echo(f"{r.code}  {r.name:<34} {r.severity:<8} {r.summary}")


COMMANDS = [lint, rule, rules]
