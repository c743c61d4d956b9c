"""CLI: `recipegen new`, `list`, `show`, `check`, `update`, `diff`."""

from __future__ import annotations

from pathlib import Path

import click
import yaml

from . import provenance as prov
from . import spec as specs
from .check import diff_recipe
from .diff import edits_diff
from .errors import GeneratorError, printable, printable_lines
from .generate import existing_user_files, generate, with_user_files
from .render import TemplateSource
from .update import update as update_recipe
from .write import PartialWriteError, plan, state_problems, write


class CliError(click.ClickException):
    """A user error: message printed as `Error: ...`, exit status 2."""

    exit_code = 2

    def __init__(self, message: str):
        super().__init__(printable_lines(message))


def _spec_options(f):
    f = click.option(
        "--set",
        "overrides",
        multiple=True,
        metavar="KEY=VALUE",
        help="Override a spec key, e.g. --set sae.top_k=64 (repeatable).",
    )(f)
    f = click.option(
        "--spec",
        "spec_path",
        metavar="FILE",
        help="A spec YAML, or an HF config.json: hidden size and layers are read, the "
        "checkpoint is its folder, the context length needs --set sizes.base.context_length=N "
        "(except model_type esm).",
    )(f)
    f = click.option("--layer", type=int, help="Layer to extract (1..n_layers); default per size.")(
        f
    )
    f = click.option("--size", help="Model size label; `recipegen list` shows each model's sizes.")(
        f
    )
    return f


def _p(path) -> str:
    """A path as echoed: control, format (e.g. U+202E) and newline characters escaped."""
    return printable(str(path))


def foreign_recipe(directory: Path, record: prov.Provenance) -> str | None:
    """Why the recipe in `directory` was rendered from another model or spec (None if not)."""
    if not (directory / prov.RECIPE_FILE).is_file():
        return None
    try:
        old = prov.read(directory)
    except GeneratorError:
        return None  # unreadable: the edited-files check refuses it without --force
    if (old.spec_name, old.source) != (record.spec_name, record.source):
        return (
            f"it was rendered from spec {old.spec_name!r} ({old.source}), "
            f"this one is {record.spec_name!r} ({record.source})"
        )
    if old.source != "builtin" and old.overrides == record.overrides:
        if old.spec_sha256 != record.spec_sha256:
            return f"it was rendered from a different {record.source} spec named {old.spec_name!r}"
    return None


@click.command("new", short_help="Render a recipe into <out>/<name>_sae.")
@click.argument("model", required=False)
@_spec_options
@click.option(
    "--out",
    "out",
    default="recipes",
    show_default=True,
    type=click.Path(),
    help="Parent folder; the recipe goes to <out>/<name>_sae.",
)
@click.option("--dry-run", is_flag=True, help="Print what would be written; write nothing.")
@click.option(
    "--force",
    is_flag=True,
    help="Replace files edited since they were generated, or a recipe of another model/spec; "
    "each replaced file is named and copied to <out>/.<name>_sae.backup-<time>/ first.",
)
def new(model, size, layer, spec_path, overrides, out, dry_run, force):
    """Render a recipe into <out>/<name>_sae.

    MODEL is a shipped spec (see `recipegen list`). With --spec FILE.yaml the name comes from
    the file; with --spec config.json (HF shortcut) it is MODEL if given, else the config's
    model_type (`recipegen show` names it the same way). Never writes over a recipe of another
    model or spec, or over edited files, without --force."""
    try:
        rendered = generate(model, size=size, layer=layer, spec_path=spec_path, overrides=overrides)
        directory = Path(out) / rendered.dirname
        rendered = with_user_files(rendered, existing_user_files(directory))
        foreign = foreign_recipe(directory, rendered.provenance)
        if dry_run:
            result = plan(directory, rendered.files)
            click.echo(
                f"would write {_p(directory)} ({rendered.provenance.spec_name} "
                f"{rendered.provenance.size}, layer {rendered.provenance.layer}):"
            )
            for name in sorted(rendered.files):
                n = len(rendered.files[name].encode("utf-8"))
                click.echo(f"  {result.status[name]:9} {name} ({n} bytes)")
            for name, why in sorted(result.blocked.items()):
                never = why.startswith("is a directory")
                click.echo(
                    f"in the way of {name}: {_p(directory / name)} {why} (refused"
                    + ("; move it away" if never else " without --force, which replaces the entry")
                    + ")"
                )
            if result.edited:
                click.echo(
                    "edited since generated (refused without --force): "
                    + printable(", ".join(result.edited))
                )
            if foreign:
                click.echo(f"another recipe is there (refused without --force): {foreign}")
            if directory.is_dir():
                for problem in state_problems(directory):
                    click.echo(f"state folder: {problem}")
            return
        if foreign and not force:
            raise GeneratorError(
                f"{_p(directory)} holds another recipe: {foreign}; nothing was changed (fix: a "
                "different --out or MODEL name, or --force to replace it, keeping a backup)"
            )
        result = write(directory, rendered.files, force=force, keep_all=bool(foreign))
    except GeneratorError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"cannot write the recipe under --out {_p(out)!r}: {exc}") from None
    for name in result.replaced_edits:
        why = result.blocked.get(name)
        what = f" (it {why}: the entry itself was replaced)" if why else ""
        click.echo(f"replaced edited file {_p(directory / name)}{what}", err=True)
    if result.backup is not None:
        click.echo(f"backup of the replaced files: {_p(result.backup)}", err=True)
    if result.noop:
        click.echo(f"{_p(directory)}: up to date, nothing changed")
    else:
        changed = [n for n, s in sorted(result.status.items()) if s != "unchanged"]
        click.echo(f"wrote {_p(directory)}: {', '.join(changed)}")


@click.command("list")
def list_models():
    """List the shipped model specs."""
    for name in specs.builtin_models():
        raw, spec = specs.load(name)
        sizes = ", ".join(
            f"{label}{'*' if label == spec['default_size'] else ''}"
            f" (L{entry['default_layer']}/{entry['n_layers']})"
            for label, entry in spec["sizes"].items()
        )
        click.echo(f"{name:10} {spec['extraction']['kind']:12} {sizes}")
        click.echo(f"{'':10} {spec['description']}")
    click.echo("* default size; (Ldefault layer/n_layers). Your own: recipegen new --spec FILE")


@click.command("show", short_help="Print a model's resolved spec (or, --as-spec, a spec file).")
@click.argument("model", required=False)
@_spec_options
@click.option(
    "--as-spec",
    is_flag=True,
    help="Print the spec itself (every default filled in), a file `new --spec` accepts: the "
    "start of your own model's spec.",
)
def show(model, size, layer, spec_path, overrides, as_spec):
    """Print the resolved spec of MODEL (a shipped spec) or of --spec FILE as YAML: defaults
    filled in, size and layer chosen, checkpoint placeholders substituted. With --spec
    config.json the name is MODEL if given, else the config's model_type, as in `new`.

    The resolved view is for reading; to start a spec of your own, use --as-spec:
    `show esm2 --as-spec > mine.yaml`, edit it, then `new --spec mine.yaml`."""
    try:
        raw, spec = specs.load(model, spec_path, overrides)
        resolved = specs.resolve(spec, raw, size, layer)
    except GeneratorError as exc:
        raise CliError(str(exc)) from None
    if as_spec:
        click.echo(yaml.safe_dump(spec, sort_keys=False, width=100), nl=False)
        return
    click.echo(
        "# Resolved view (size, layer and checkpoint chosen); not a spec file: "
        "`--as-spec` prints one `new --spec` accepts.\n"
        + yaml.safe_dump(resolved, sort_keys=False, width=100),
        nl=False,
    )


@click.command("check", short_help="Re-render recipes and diff: exit 1 on drift.")
@click.argument("dirs", nargs=-1, type=click.Path())
def check(dirs):
    """Re-render each recipe DIR from its recipe.yaml; exit 1 with a diff on drift.

    Without DIR, checks every recipes/*/ that holds a recipe.yaml."""
    if not dirs:
        found = Path("recipes").glob("*/recipe.yaml")
        dirs = sorted(str(p.parent) for p in found if not p.parent.name.startswith("."))
        if not dirs:
            raise CliError("no recipes found under ./recipes (fix: pass recipe directories)")
    drifted = []
    for d in dirs:
        try:
            diff = diff_recipe(d)
        except GeneratorError as exc:
            raise CliError(str(exc)) from None
        except OSError as exc:
            raise CliError(f"{_p(d)}: cannot read the recipe: {exc}") from None
        if diff:
            click.echo(diff, nl=False)
            drifted.append(_p(d))
        else:
            click.echo(f"ok {_p(d)}")
    if drifted:
        one = drifted[0] if len(drifted) == 1 else "DIR"
        click.echo(
            f"drift in {len(drifted)} recipe(s): {', '.join(drifted)} (fix: `recipegen update "
            f"{one}` takes today's render and restores deleted files, keeping your edits "
            f"(`recipegen diff {one}` shows them); or `recipegen new ... --force` replaces "
            "everything, keeping a backup; or move the edit into the spec or --set)",
            err=True,
        )
        raise SystemExit(1)


def _templates_option(f):
    return click.option(
        "--templates",
        "templates_dir",
        type=click.Path(file_okay=False),
        hidden=True,
        help="Render with the templates in this folder instead of the installed ones (tests).",
    )(f)


@click.command("update", short_help="Re-render with new templates, merging your edits 3-way.")
@click.argument("directory", type=click.Path())
@_spec_options
@click.option("--dry-run", is_flag=True, help="Show the diff update would apply; write nothing.")
@_templates_option
def update(directory, size, layer, spec_path, overrides, dry_run, templates_dir):
    """Re-render DIRECTORY with today's templates and spec, merging your edits in (3-way).

    The recorded --set values, size and layer are kept unless given again. Exit 0: updated (or
    up to date); 1: written with conflict blocks (<<<<<<< yours / >>>>>>> new render) in the
    files listed; 2: error: nothing written, unless the message lists what was (a write that
    could not finish stays pending and is finished by the next run). `recipegen check DIRECTORY`
    then shows what still differs from today's render (your edits)."""
    templates = TemplateSource(templates_dir) if templates_dir else None
    try:
        result = update_recipe(
            directory,
            dry_run=dry_run,
            spec_path=spec_path,
            overrides=overrides,
            size=size,
            layer=layer,
            templates=templates,
        )
    except PartialWriteError as exc:
        raise CliError(f"update not finished: {exc}") from None
    except GeneratorError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"{_p(directory)}: cannot update the recipe: {exc}") from None
    shown = _p(directory)
    if result.finished_pending:
        click.echo(f"{shown}: finished an interrupted write first")
    if dry_run:
        click.echo(result.diff(), nl=False)
    notes = {
        "restored": "deleted: restored from the new render",
        "kept": "no longer generated; kept because you edited it",
        "removed": "no longer generated: removed",
        "merged": "your edits merged into the new render",
        "conflict": "CONFLICT",
    }
    for f in result.files:
        if f.action in ("unchanged",):
            continue
        note = notes.get(f.action, f.action)
        if f.action == "conflict":
            note += f" ({f.conflicts} block(s))"
        click.echo(f"  {f.action:9} {f.name}" + (f": {note}" if f.action in notes else ""))
    verb = "would update" if dry_run else "updated"
    if result.noop and not result.finished_pending:
        click.echo(f"{shown}: up to date, nothing changed")
    elif result.conflicts:
        names = ", ".join(f.name for f in result.conflicts)
        click.echo(
            f"{shown}: {verb} with conflicts in {names} (fix: edit each conflict block, "
            "keeping the lines you want, and delete the <<<<<<< ======= >>>>>>> markers)",
            err=True,
        )
        raise SystemExit(1)
    else:
        click.echo(f"{shown}: {verb}")


@click.command("diff", short_help="Show your edits against the recorded render.")
@click.argument("directory", type=click.Path())
@_templates_option
def diff(directory, templates_dir):
    """Show your edits to DIRECTORY: a unified diff against the render recipe.yaml records.

    Exit 0: no edits; 1: edits shown; 2: error (no recipe.yaml, unknown recorded render)."""
    templates = TemplateSource(templates_dir) if templates_dir else None
    try:
        text = edits_diff(directory, templates)
    except GeneratorError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(f"{_p(directory)}: cannot read the recipe: {exc}") from None
    if text:
        click.echo(text, nl=False)
        raise SystemExit(1)
    click.echo(f"{_p(directory)}: no edits")


COMMANDS = [new, list_models, show, check, update, diff]
