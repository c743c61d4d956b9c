"""Extraction kinds are folders (templates/kinds/<kind>/), found by listing: every folder is
complete, no shared template names a kind, and a copied folder is a working new kind."""

from __future__ import annotations

import re
import shutil
from importlib import resources
from pathlib import Path

import pytest
from gen_helpers import KINDS
from recipegen.generator import spec as specs
from recipegen.generator.errors import GeneratorError, SpecError
from recipegen.generator.render import (
    KIND_REQUIRED,
    KINDS_DIR,
    TemplateSource,
    kind_files,
    kinds,
    render,
    template_names,
)
from recipegen.generator.schema import KIND_KEYS, SCHEMA

from recipegen import __version__

TEMPLATES = Path(str(resources.files("recipegen.templates")))
# The macros each hook file must define (docs/contracts.md, "Extraction kinds").
MACROS = {
    "_launch.sh.j2": "pipeline usage defaults standin_args smoke_env env extract_args eval_args",
    "_eval.py.j2": "doc constants args loss_recovered prepare_call",
    "_steer.py.j2": "doc constants args runner",
    "_input.py.j2": "compressed compressed_message after_reader",
    "_readme.md.j2": (
        "summary run token_check_fix input_note first_step knobs loss_recovered_note sections"
    ),
}


def test_kinds_are_the_folders():
    folders = sorted(p.name for p in (TEMPLATES / KINDS_DIR).iterdir() if p.is_dir())
    assert kinds() == tuple(
        f for f in folders if (TEMPLATES / KINDS_DIR / f / "extract.py.j2").is_file()
    )
    assert set(KINDS.values()) <= set(kinds())  # the shipped specs' kinds
    assert SCHEMA["extraction"]["kind"].choices == kinds() == tuple(KIND_KEYS)


@pytest.mark.parametrize("kind", kinds())
def test_every_kind_folder_is_complete(kind):
    folder = TEMPLATES / KINDS_DIR / kind
    for name in KIND_REQUIRED:
        assert (folder / name).is_file(), f"{kind}: {name} missing"
    for name, macros in MACROS.items():
        text = (folder / name).read_text()
        defined = set(re.findall(r"\{%-?\s*macro\s+(\w+)\(", text))
        assert defined == set(macros.split()), f"{kind}/{name}: {sorted(defined)}"
    # every kind renders extract.py and standin.py into the recipe
    assert {"extract.py", "standin.py"} <= set(template_names(kind))


def test_no_shared_template_names_a_kind():
    for path in TEMPLATES.glob("*.j2"):
        text = path.read_text()
        assert "extraction.kind ==" not in text and "kind ==" not in text, path.name
        for kind in kinds():
            assert f'"{kind}"' not in text, f"{path.name} names kind {kind}"


def test_an_unknown_kind_is_a_clear_error():
    with pytest.raises(GeneratorError, match=rf"kinds/toy/.*known kinds: {', '.join(kinds())}"):
        template_names("toy")


def test_spec_keys_come_from_the_kind_folders(tmp_path):
    assert set(KIND_KEYS["custom"]) == {"adapter"}
    assert set(KIND_KEYS["predict_cli"]) == {"predict_module"}
    assert set(KIND_KEYS["hf"]) == {"input_format"}
    # a kind's required key is required for that kind only, and refused by the others
    with pytest.raises(SpecError, match=r"extraction\.adapter.*required for kind custom"):
        specs.load("codonfm", overrides=["extraction.adapter=null"])
    with pytest.raises(SpecError, match=r"extraction\.adapter.*only used by kind custom"):
        specs.load("esm2", overrides=["extraction.adapter=pkg.mod:Cls"])


def test_a_copied_folder_is_a_new_kind(tmp_path):
    """Adding a kind needs no edit outside its folder: a copy of `hf` named `toy` renders the
    same recipe as `hf` (with `toy` where the kind is named)."""
    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES, templates, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    shutil.copytree(templates / KINDS_DIR / "hf", templates / KINDS_DIR / "toy")
    source = TemplateSource(templates)
    assert "toy" in kinds(source)
    raw, spec = specs.load("esm2")
    context = specs.resolve(spec, raw)
    hf = render(context, source)
    context["extraction"]["kind"] = "toy"
    toy = render(context, source)
    assert set(toy) == set(hf)
    own = set(kind_files("toy", source))  # the copied folder's files: identical
    for name, text in hf.items():
        expected = text if name in own else text.replace("`hf`", "`toy`").replace('"hf"', '"toy"')
        assert toy[name] == expected, name
    assert __version__ in toy["extract.py"]
