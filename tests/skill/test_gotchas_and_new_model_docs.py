"""docs/gotchas.md is self-contained and linked to the rules; the skill and README tell a new
model's author what the product actually does (offline smoke per kind, opt-in table, tokenizer)."""

from __future__ import annotations

import re
import subprocess

from click.testing import CliRunner
from recipegen.validators.registry import all_rules
from skill_pages import REFERENCES, REPO_ROOT, SKILL_DIR

from recipegen.cli import main

GOTCHAS = REPO_ROOT / "docs" / "gotchas.md"


def fact_sections() -> dict[int, str]:
    text = GOTCHAS.read_text(encoding="utf-8")
    parts = re.split(r"^### (\d+)\. ", text, flags=re.M)
    return {int(n): body for n, body in zip(parts[1::2], parts[2::2], strict=True)}


def test_every_rule_is_linked_from_each_fact_it_cites():
    facts = fact_sections()
    assert sorted(facts) == list(range(1, len(facts) + 1)) and len(facts) >= 20
    cited = 0
    for rule in all_rules():
        for fact in rule.gotchas:
            assert f"**{rule.code}**" in facts[fact], f"fact {fact} does not name {rule.code}"
            cited += 1
    assert cited >= 25
    assert "input_format" in facts[21] and "[UNK]" in facts[21]


def test_the_skill_ships_the_same_page():
    assert (REFERENCES / "gotchas.md").read_bytes() == GOTCHAS.read_bytes()


def test_rule_points_at_the_gotchas_page():
    result = CliRunner().invoke(main, ["rule", "SAE102"])
    assert result.exit_code == 0
    assert (
        "Domain facts: 1, 22 (docs/gotchas.md" in result.output and "GOTCHAS" not in result.output
    )


def test_nothing_shipped_names_files_users_do_not_have():
    proc = subprocess.run(
        ["git", "grep", "-n", "-I", "-E", r"\.\./shared|GOTCHAS\.md|DESIGN\.md|design notes",
         "--", ".", ":!tests", ":!.ci", ":!scripts", ":!bench"],
        cwd=REPO_ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 1 and not proc.stdout, proc.stdout  # 1 = no match


def test_skill_covers_the_new_model_path():
    skill = (SKILL_DIR / "SKILL.md").read_text(encoding="utf-8")
    # the tokenizer check is a prerequisite
    prereq = skill[skill.index("## Prerequisites") : skill.index("## Workflow")]
    assert "tokenizer input text" in prereq and "input_format" in prereq
    # an offline smoke line per extraction kind
    for needle in ("| `hf` |", "| `custom` |", "PYTHONPATH=", "| `predict_cli` |",
                   "PREDICT_MODULE=evo2_predict", "CHECKPOINT="):  # fmt: skip
        assert needle in skill, needle
    # which opt-in flags for a new model, and why
    table = skill[skill.index("Opt-in flags for a new model") :]
    for flag in ("normalize_input", "dead_count_global", "mix_shards", "presample_shards"):
        assert flag in table[:2000]
    specs = (REFERENCES / "specs.md").read_text(encoding="utf-8")
    assert "extraction.checkpoint" in specs.split("## A full spec")[1][:600]  # required keys
    assert "not guessed" in specs and "input_format" in specs


def test_readme_commands_and_times_tell_the_truth():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert "bash recipes/esm2_sae/launch.sh --smoke" in readme
    assert "2-core CPU" in readme and "about a minute on 2 CPU cores" not in readme
    assert "docs/gotchas.md" in readme and "context_length" in readme


def test_rendered_readmes_give_the_offline_smoke_line_per_kind():
    from recipegen.generator.generate import generate

    lines = {
        "esm2": "INPUT=sequences.fasta CHECKPOINT=path/to/model_dir bash launch.sh --smoke",
        "codonfm": "PYTHONPATH=path/to/adapter_pkg INPUT=cds.fasta CHECKPOINT=path/to/checkpoint",
        "evo2": "PREDICT_MODULE=evo2_predict INPUT=genome.fasta",
    }
    for model, line in lines.items():
        readme = generate(model).files["README.md"]
        assert "\nbash launch.sh --smoke\n" in readme and line in readme, model
        assert "--no-token-check" in readme
