"""Knobs declared once (generator/knobs.py): the schema, train.py, launch.sh, the README and the
skill's specs.md all follow the declarations, and one function checks values for the spec
validator and for train.py."""

from __future__ import annotations

import ast
import re
import runpy
import shlex
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from gen_helpers import MINIMAL_SPEC, MODELS, write_spec
from recipegen.generator import knobcheck, knobs
from recipegen.generator import spec as specs
from recipegen.generator.errors import SpecError
from recipegen.generator.generate import generate
from recipegen.generator.render import TemplateSource, template_hash
from recipegen.generator.schema import SCHEMA

from recipegen.cli import main

SPECS_MD = Path(__file__).resolve().parents[2] / "skill" / "sae-recipe" / "references" / "specs.md"


@pytest.fixture(scope="module")
def rendered() -> dict[str, dict[str, str]]:
    return {model: generate(model).files for model in MODELS}


@pytest.fixture(scope="module")
def train_ns(rendered, tmp_path_factory) -> dict:
    """The rendered esm2 train.py's functions (defining them imports no torch)."""
    path = tmp_path_factory.mktemp("knobs") / "train.py"
    path.write_text(rendered["esm2"]["train.py"], encoding="utf-8")
    return runpy.run_path(str(path))


def add_argument_calls(source: str) -> dict[str, ast.Call]:
    calls = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "add_argument":
            calls[node.args[0].value] = node
    return calls


def keyword(call: ast.Call, name: str):
    for k in call.keywords:
        if k.arg == name:
            return ast.literal_eval(k.value) if name != "action" else ast.unparse(k.value)
    return None


def test_declarations_are_consistent():
    names = [k.name for k in knobs.KNOBS]
    assert len(names) == len(set(names))
    envs = [k.env for k in knobs.KNOBS if k.env]
    assert len(envs) == len(set(envs))
    flags = [k.flag for k in knobs.for_script("train")]
    assert len(flags) == len(set(flags))
    for k in knobs.KNOBS:
        assert k.help and "\n" not in k.help, k.name
        assert k.type in ("int", "float", "bool", "str"), k.name
        assert k.group in knobs.GROUPS, k.name
        assert k.launch in ("flag", "manual", "usage"), k.name
        if k.env:
            assert re.fullmatch(r"[A-Z][A-Z0-9_]*", k.env), k.name


def test_schema_sections_are_the_declared_knobs():
    for section in ("sae", "data", "launch"):
        declared = {k.key: k for k in knobs.in_section(section)}
        assert list(SCHEMA[section]) == list(declared)
        for key, field in SCHEMA[section].items():
            k = declared[key]
            assert (field.type, field.default, field.choices) == (k.type, k.default, k.choices)
            assert (field.min, field.max, field.nullable, field.knob) == (
                k.min,
                k.max,
                k.nullable,
                k.name,
            )
    assert SCHEMA["extraction"]["dtype"].choices == knobs.get("dtype").choices
    smoke = {k.smoke.key: k for k in knobs.smoke_knobs(in_spec=True)}
    assert set(SCHEMA["smoke"]) == set(smoke)
    assert SCHEMA["smoke"]["n_sequences"].nullable is False  # smoke always caps the input
    assert SCHEMA["smoke"]["auxk"].nullable is True


@pytest.mark.parametrize("model", MODELS)
def test_train_py_argparse_is_the_declarations(model, rendered):
    source = rendered[model]["train.py"]
    calls = add_argument_calls(source)
    train = knobs.for_script("train")
    assert list(calls) == [k.flag for group in knobs.train_groups() for k in group[1]]
    raw, spec = specs.load(model)
    context = specs.resolve(spec, raw)
    for k in train:
        call = calls[k.flag]
        assert keyword(call, "help") == k.help, k.flag  # every argument has its help
        if k.required:
            assert keyword(call, "required") is True
        else:
            assert keyword(call, "default") == knobs.value(k, context), k.flag
        if k.choices:
            assert keyword(call, "choices") == k.choices
        if k.type == "bool":
            assert keyword(call, "action") == "bool_flag"


@pytest.mark.parametrize("model", MODELS)
def test_train_py_carries_the_check_function_verbatim(model, rendered):
    source = rendered[model]["train.py"]
    assert knobcheck.source() in source
    tree = ast.parse(source)
    (limits,) = [
        n for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "KNOB_LIMITS"
    ]
    assert ast.literal_eval(limits.value) == knobs.limits(knobs.for_script("train"))


def _spec_problems(tmp_path, text, overrides=()):
    with pytest.raises(SpecError) as info:
        raw, spec = specs.load(spec_path=str(write_spec(tmp_path, text)), overrides=list(overrides))
        specs.resolve(spec, raw)
    return info.value.problems


@pytest.mark.parametrize(
    "override,field,flag_args,runtime",
    [
        ("sae.lr_min=0.5", "sae.lr_min", ["--lr-min", "0.5"], "--lr-min 0.5 exceeds --lr"),
        ("sae.top_k=0", "sae.top_k", ["--top-k", "0"], "--top-k 0 is out of range"),
        ("sae.mix_shards=0", "sae.mix_shards", ["--mix-shards", "0"], "--mix-shards 0 is out"),
        ("sae.auxk_coef=101", "sae.auxk_coef", ["--auxk-coef", "101"], "--auxk-coef 101.0 is"),
    ],
)
def test_spec_validator_and_train_py_apply_the_same_rule(
    tmp_path, train_ns, override, field, flag_args, runtime
):
    (problem,) = _spec_problems(tmp_path, MINIMAL_SPEC, [override])
    assert problem.field == field
    ns = train_ns
    args = ns["parse_args"](["--cache-dir", "c", *flag_args])
    with pytest.raises(SystemExit) as info:
        ns["check_args"](args)
    assert runtime in str(info.value)


def test_latent_rules_at_run_time_and_in_the_spec(tmp_path, train_ns):
    ns = train_ns
    args = ns["parse_args"](["--cache-dir", "c", "--expansion-factor", "3", "--auxk", "16"])
    ns["check_args"](args, 16)  # 48 latents: fine
    args = ns["parse_args"](
        ["--cache-dir", "c", "--expansion-factor", "3", "--auxk", "16", "--tensor-parallel", "5"]
    )
    with pytest.raises(SystemExit, match="--tensor-parallel 5 ranks cannot split the 48 latents"):
        ns["check_args"](args, 16)
    # the smoke values are held to the same rule, against the smoke expansion factor
    text = MINIMAL_SPEC + "smoke: {expansion_factor: 1, top_k: 32}\n"  # 1 x 32 latents
    (problem,) = _spec_problems(tmp_path, text)
    assert problem.field == "smoke.top_k" and "32 = smoke.expansion_factor 1" in problem.message
    assert "for size tiny" in problem.message and "smoke.expansion_factor" in problem.fix


def test_smoke_keys_keep_their_own_bounds(tmp_path):
    problems = _spec_problems(
        tmp_path, MINIMAL_SPEC + "smoke: {n_epochs: 5000, n_sequences: null}\n"
    )
    assert {p.field for p in problems} == {"smoke.n_epochs", "smoke.n_sequences"}


@pytest.mark.parametrize("model", MODELS)
def test_launch_sh_defaults_usage_and_smoke_follow_the_declarations(model, rendered, tmp_path):
    text = rendered[model]["launch.sh"]
    raw, spec = specs.load(model)
    context = specs.resolve(spec, raw)
    script = tmp_path / "launch.sh"
    script.write_text(text)
    usage = subprocess.run(["bash", str(script), "--help"], capture_output=True, text=True).stdout
    for k in knobs.env_knobs():
        assert re.search(rf"^  {k.env} +\S", usage, re.M), k.env
        if k.launch == "usage":
            continue
        default = shlex.quote(knobs.env_value(k, knobs.value(k, context)))
        assert f"\nD_{k.env}={default}\n" in text, k.env
        assert f'{k.env}="${{{k.env}:-$D_{k.env}}}"' in text
    smoke = text[text.index('if [[ "$SMOKE" == 1 ]]; then') :].split("\nfi\n")[0]
    assert {line.split("=")[0].strip() for line in smoke.splitlines()[1:]} == {
        f"D_{k.env}" for k in knobs.smoke_knobs()
    }
    train = text[text.index('"$HERE/train.py"') :].split('"${SWITCHES[@]}"')[0]
    for k in knobs.env_knobs("flag"):
        if k.script == "train" and k.type != "bool":
            assert f'{k.flag} "${k.env}"' in train


def test_readme_lists_every_variable(rendered):
    readme = rendered["evo2"]["README.md"]
    for k in knobs.env_knobs():
        assert f"| `{k.env}` |" in readme
    assert "| `--mix-shards N` | 10 |" in readme
    assert "0 \\| 1 \\| auto" in readme  # a `|` in help text does not split the table


def test_specs_md_knob_reference_is_fresh():
    text = SPECS_MD.read_text(encoding="utf-8")
    assert knobs.with_reference(text) == text, "run `recipegen skill gen-specs`"
    for k in knobs.KNOBS:
        assert k.help.replace("|", "\\|") in text
    result = CliRunner().invoke(main, ["skill", "gen-specs", "--check"])
    assert result.exit_code == 0, result.output


def test_gen_specs_rewrites_a_stale_copy_and_refuses_one_without_markers(tmp_path):
    stale = tmp_path / "specs.md"
    text = SPECS_MD.read_text(encoding="utf-8").replace(
        "| `sae.top_k` | 32 |", "| `sae.top_k` | 31 |"
    )
    stale.write_text(text, encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(main, ["skill", "gen-specs", "--check", "--out", str(stale)])
    assert result.exit_code == 1 and "stale" in result.output
    assert runner.invoke(main, ["skill", "gen-specs", "--out", str(stale)]).exit_code == 0
    assert stale.read_text(encoding="utf-8") == SPECS_MD.read_text(encoding="utf-8")
    bare = tmp_path / "bare.md"
    bare.write_text("# no markers\n", encoding="utf-8")
    result = runner.invoke(main, ["skill", "gen-specs", "--out", str(bare)])
    assert result.exit_code == 2 and "no knob reference" in result.output
    assert bare.read_text(encoding="utf-8") == "# no markers\n"


def test_template_hash_covers_the_declarations(monkeypatch):
    before = template_hash(TemplateSource(), "hf")
    changed = tuple(
        knobs.Knob(**{**k.__dict__, "default": 99}) if k.name == "presample_n" else k
        for k in knobs.KNOBS
    )
    monkeypatch.setattr(knobs, "KNOBS", changed)
    assert template_hash(TemplateSource(), "hf") != before
