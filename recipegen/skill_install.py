"""`recipegen skill`: install the sae-recipe agent skill into a project, show it, regenerate it.

An installed copy carries a manifest of its files' SHA-256 hashes, so a later install can tell an
unedited copy (safe to replace) from one a person or an agent has changed (kept unless --force).
The copy is written to a temporary sibling directory and renamed into place, so a failed install
never leaves a half-written skill behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

import click

from recipegen import __version__

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

SKILL_NAME = "sae-recipe"
MANIFEST = ".recipegen-skill.json"
DEFAULT_DEST = Path(".agents") / "skills"


class EditedCopyError(click.ClickException):
    """The installed copy differs from what recipegen wrote there; it is kept."""

    def __init__(self, target: Path, edits: list[str]) -> None:
        listing = "\n".join(f"  {edit}" for edit in edits)
        super().__init__(
            f"{target} was edited since recipegen installed it:\n{listing}\n"
            "Keep your edits (move them elsewhere first) or overwrite them with --force."
        )


@dataclass(frozen=True)
class InstallResult:
    """What `install_skill` did: status is installed, updated or unchanged."""

    path: Path
    status: str


def skill_source() -> Traversable:
    """The skill folder shipped inside the installed `recipegen` package."""
    return files("recipegen.skill") / SKILL_NAME


def packaged_files(
    root: Traversable | None = None, prefix: str = ""
) -> Iterator[tuple[str, bytes]]:
    """Yield (relative posix path, content) for every Markdown file of the packaged skill."""
    root = skill_source() if root is None else root
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        rel = f"{prefix}{entry.name}"
        if entry.is_dir():
            yield from packaged_files(entry, f"{rel}/")
        elif entry.name.endswith(".md"):
            yield rel, entry.read_bytes()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tree_hashes(directory: Path) -> dict[str, str]:
    """SHA-256 of every file under `directory` (relative posix paths), the manifest excluded."""
    hashes = {}
    for path in sorted(directory.rglob("*")):
        rel = path.relative_to(directory).as_posix()
        if rel != MANIFEST and (path.is_file() or path.is_symlink()):
            hashes[rel] = _sha256(path.read_bytes()) if path.is_file() else "symlink"
    return hashes


def find_edits(target: Path) -> list[str]:
    """Differences between an installed copy and its manifest; empty when unedited."""
    manifest_path = target / MANIFEST
    try:
        recorded = json.loads(manifest_path.read_text(encoding="utf-8"))["files"]
        if not isinstance(recorded, dict):
            raise TypeError("files is not a mapping")
    except FileNotFoundError:
        return [f"no {MANIFEST}: not installed by `recipegen skill install`"]
    except (ValueError, KeyError, TypeError) as exc:
        return [f"{MANIFEST} unreadable ({exc})"]
    current = tree_hashes(target)
    edits = [
        f"modified: {rel}"
        for rel in sorted(current.keys() & recorded.keys())
        if current[rel] != recorded[rel]
    ]
    edits += [f"deleted: {rel}" for rel in sorted(recorded.keys() - current.keys())]
    edits += [f"added: {rel}" for rel in sorted(current.keys() - recorded.keys())]
    return edits


def _write_copy(directory: Path, content: dict[str, bytes]) -> None:
    for rel, data in content.items():
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    manifest = {
        "skill": SKILL_NAME,
        "recipegen_version": __version__,
        "files": {rel: _sha256(data) for rel, data in content.items()},
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def install_skill(dest: Path = DEFAULT_DEST, force: bool = False) -> InstallResult:
    """Copy the packaged skill to `<dest>/sae-recipe`; refuse to replace an edited copy."""
    content = dict(packaged_files())
    if "SKILL.md" not in content:
        raise click.ClickException(
            f"the packaged skill has no SKILL.md ({skill_source()}): reinstall recipegen"
        )
    target = Path(dest) / SKILL_NAME
    existed = target.exists() or target.is_symlink()
    if existed:
        if not target.is_dir():
            raise click.ClickException(f"{target} exists and is not a directory; remove it first")
        edits = find_edits(target)
        if edits and not force:
            raise EditedCopyError(target, edits)
        if not edits and tree_hashes(target) == {r: _sha256(d) for r, d in content.items()}:
            return InstallResult(target, "unchanged")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{SKILL_NAME}.tmp-", dir=target.parent))
    try:
        staging.chmod(_default_dir_mode())  # mkdtemp makes it 0700; a skill folder is shared
        _write_copy(staging, content)
        if existed:
            backup = target.with_name(f".{SKILL_NAME}.old-{uuid.uuid4().hex[:8]}")
            os.replace(target, backup)
            try:
                os.replace(staging, target)
            except OSError:
                os.replace(backup, target)
                raise
            _remove(backup)
        else:
            os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return InstallResult(target, "updated" if existed else "installed")


def _default_dir_mode() -> int:
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o777 & ~umask


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


@click.group("skill", short_help="Agent skill: `skill show` prints it, `skill install` copies it.")
def skill() -> None:
    """The sae-recipe agent skill: install it into a project for coding agents."""


@skill.command("install", short_help="Copy the skill into --dest/sae-recipe.")
@click.option(
    "--dest",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_DEST,
    show_default=True,
    help="Agent skills folder; the skill lands in <this folder>/sae-recipe.",
)
@click.option("--force", is_flag=True, help="Overwrite a copy that was edited after installing.")
def install(dest: Path, force: bool) -> None:
    """Copy the sae-recipe skill into <--dest>/sae-recipe; refuses to overwrite a copy edited
    since it was installed unless --force."""
    result = install_skill(dest, force=force)
    click.echo(f"{result.status}: {result.path}")


@skill.command("path")
def path() -> None:
    """Print the folder of the packaged skill."""
    click.echo(str(skill_source()))


@skill.command("show", short_help="Print SKILL.md or a reference page.")
@click.argument("name", default="SKILL.md")
def show(name: str) -> None:
    """Print SKILL.md, or the reference page NAME, for example `troubleshooting`, `gotchas` or
    `rules.md`."""
    content = dict(packaged_files())
    candidates = [name, f"references/{name}", f"references/{name}.md"]
    for rel in candidates:
        if rel in content:
            click.echo(content[rel].decode("utf-8"), nl=False)
            return
    choices = ", ".join(sorted(content))
    raise click.BadParameter(f"no skill page {name!r}; choose one of: {choices}", param_hint="NAME")


@skill.command("gen-rules", short_help="Regenerate the skill pages made from the lint rules.")
@click.option(
    "--check", is_flag=True, help="Exit 1 if a generated page is stale instead of writing."
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write only references/rules.md, here (default: every generated page of the skill).",
)
def gen_rules(check: bool, out: Path | None) -> None:
    """Regenerate the pages made from the lint rule modules: references/rules.md,
    references/gotchas.md (and docs/gotchas.md in a source checkout), references/troubleshooting.md
    and the rule table of SKILL.md."""
    from recipegen import skill_docs

    if out is not None:
        pages = {out: skill_docs.render_rules_markdown()}
    else:
        skill_dir = Path(str(skill_source()))
        root = skill_dir.parent.parent
        pages = skill_docs.generated_pages(skill_dir, root if (root / "docs").is_dir() else None)
    stale = skill_docs.stale_pages(pages)
    if check:
        if stale:
            names = ", ".join(str(p) for p in stale)
            raise click.ClickException(
                f"{names} is stale: run `recipegen skill gen-rules` and commit the result"
            )
        click.echo("up to date: " + ", ".join(str(p) for p in pages))
        return
    for target in pages:
        if target not in stale:
            click.echo(f"unchanged: {target}")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(pages[target], encoding="utf-8")
        click.echo(f"wrote: {target}")


@skill.command("gen-specs", short_help="Regenerate the knob reference in specs.md.")
@click.option(
    "--check", is_flag=True, help="Exit 1 if references/specs.md is stale instead of writing it."
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Rewrite this copy of specs.md instead of the skill's references/specs.md.",
)
def gen_specs(check: bool, out: Path | None) -> None:
    """Regenerate the knob reference in references/specs.md from the knob declarations."""
    from recipegen.generator import knobs

    target = out if out is not None else Path(str(skill_source())) / "references" / "specs.md"
    try:
        current = target.read_text(encoding="utf-8")
        fresh = knobs.with_reference(current)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        click.echo(f"Error: {target}: {exc}", err=True)
        raise SystemExit(2) from None
    if check:
        if current != fresh:
            raise click.ClickException(
                f"{target} is stale: run `recipegen skill gen-specs` and commit the result"
            )
        click.echo(f"up to date: {target}")
        return
    if current == fresh:
        click.echo(f"unchanged: {target}")
        return
    target.write_text(fresh, encoding="utf-8")
    click.echo(f"wrote: {target}")


COMMANDS = [skill]
