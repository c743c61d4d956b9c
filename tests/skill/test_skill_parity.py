"""The skill and the lint rule registry say the same thing: rules.md is generated and fresh, every
registry code is named by the hand-written pages, and no page names a code that does not exist."""

from __future__ import annotations

from types import SimpleNamespace

from click.testing import CliRunner
from recipegen.validators.registry import all_rules
from skill_pages import CODE_RE, REFERENCES, hand_written_pages, skill_pages

from recipegen import skill_docs
from recipegen.cli import main

RULES_MD = REFERENCES / "rules.md"


def _registry_codes() -> set[str]:
    return {rule.code for rule in all_rules()}


def test_registry_is_not_empty():
    assert len(_registry_codes()) >= 20


def test_rules_md_is_fresh():
    fresh = skill_docs.render_rules_markdown()
    assert RULES_MD.read_text(encoding="utf-8") == fresh, (
        "skill/sae-recipe/references/rules.md is stale: run `recipegen skill gen-rules`"
    )


def test_gen_rules_check_command_agrees():
    result = CliRunner().invoke(main, ["skill", "gen-rules", "--check"])
    assert result.exit_code == 0, result.output


def test_gen_rules_check_flags_a_stale_page(tmp_path):
    stale = tmp_path / "rules.md"
    stale.write_text(RULES_MD.read_text(encoding="utf-8").replace("SAE101", "SAE1O1", 1))
    runner = CliRunner()
    result = runner.invoke(main, ["skill", "gen-rules", "--check", "--out", str(stale)])
    assert result.exit_code == 1
    assert "stale" in result.output
    assert runner.invoke(main, ["skill", "gen-rules", "--out", str(stale)]).exit_code == 0
    assert stale.read_text(encoding="utf-8") == skill_docs.render_rules_markdown()


def test_rules_md_documents_every_rule():
    text = RULES_MD.read_text(encoding="utf-8")
    for rule in all_rules():
        assert f"## {rule.code}\n" in text, rule.code
        assert f"`{rule.name}`" in text, rule.code


def test_every_registry_code_is_named_by_the_hand_written_skill():
    named = set()
    for page in hand_written_pages():
        named |= set(CODE_RE.findall(page.read_text(encoding="utf-8")))
    missing = sorted(_registry_codes() - named)
    assert not missing, f"add these codes to SKILL.md or troubleshooting.md: {missing}"


def test_skill_names_no_code_that_does_not_exist():
    codes = _registry_codes()
    for page in skill_pages():
        unknown = sorted(set(CODE_RE.findall(page.read_text(encoding="utf-8"))) - codes)
        assert not unknown, f"{page.name} names codes the registry does not have: {unknown}"


def test_every_registry_code_has_a_troubleshooting_row():
    text = (REFERENCES / "troubleshooting.md").read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    for code in sorted(_registry_codes()):
        assert any(code in row for row in rows), f"troubleshooting.md: no symptom row for {code}"


def _rule(code, doc="## What it does\nChecks.\n```python\n# not a heading\n```", **kw):
    fields = dict(name=f"name-{code}", severity="warning", summary="A | <b>", gotchas=(1, 5))
    fields.update(kw)
    return SimpleNamespace(code=code, doc=doc, **fields)


def test_render_is_sorted_escaped_and_demotes_doc_headings():
    text = skill_docs.render_rules_markdown([_rule("SAE202"), _rule("SAE101", gotchas=())])
    assert text.index("## SAE101") < text.index("## SAE202")
    assert "| A \\| \\<b> |" in text
    assert "### What it does" in text
    assert "\n# not a heading\n" in text
    assert "Gotchas: 1, 5" in text
    assert text.count("Gotchas:") == 1
    assert text.endswith("\n") and not text.endswith("\n\n")


def test_render_changes_when_the_registry_changes():
    base = [_rule("SAE101"), _rule("SAE102")]
    # the page depends on the rules, not on the order the registry lists them in
    assert skill_docs.render_rules_markdown(base) == skill_docs.render_rules_markdown(base[::-1])
    renamed = [_rule("SAE101"), _rule("SAE102", summary="Another summary")]
    assert skill_docs.render_rules_markdown(base) != skill_docs.render_rules_markdown(renamed)
    extra = [*base, _rule("SAE103")]
    assert "## SAE103" in skill_docs.render_rules_markdown(extra)


def test_every_generated_page_is_fresh():
    """rules.md, gotchas.md (both copies), troubleshooting.md and the SKILL.md rule table are
    rendered from the rule modules; `python -m recipegen.skill_docs --write` regenerates them."""
    stale = skill_docs.stale_pages(skill_docs.checkout_pages())
    assert not stale, f"stale: {stale}; run `recipegen skill gen-rules`"


def test_every_rule_module_carries_its_skill_row_symptom_and_facts():
    owned = skill_docs.all_facts()
    in_rows = {code for rule in all_rules() for sym in rule.symptoms for code in sym.codes}
    for rule in all_rules():
        assert rule.skill_row, f"{rule.code}: no SKILL_ROW"
        assert rule.code in in_rows, f"{rule.code}: no SYMPTOMS (troubleshooting row) names it"
        for number in rule.gotchas:
            assert number in owned, f"{rule.code} cites fact {number}, which no module defines"
            assert f"**{rule.code}**" in owned[number].text, f"fact {number} omits {rule.code}"


def test_a_fact_defined_twice_is_refused():
    from recipegen.validators.model import Fact

    fact = Fact("Evaluation and sanity", "t", "x")
    twice = [
        SimpleNamespace(code="SAE998", facts={1: fact}),
        SimpleNamespace(code="SAE999", facts={1: fact}),
    ]
    try:
        skill_docs.all_facts(twice)
    except ValueError as exc:
        assert "defined twice" in str(exc)
    else:
        raise AssertionError("two modules claimed fact 1 and nothing complained")


def test_a_rule_change_reaches_every_page(tmp_path, monkeypatch):
    """Editing one rule module's row/symptom changes the SKILL table and troubleshooting page."""
    import dataclasses

    from recipegen.validators.model import Symptom

    rules = all_rules()
    first = dataclasses.replace(
        rules[0],
        skill_row="ROW-CHANGED",
        symptoms=(Symptom("Evaluation", "SYMPTOM-CHANGED", "FIX", (rules[0].code,)),),
    )
    changed = [first, *rules[1:]]
    assert "| SAE101 | ROW-CHANGED |" in skill_docs.render_skill_table(changed)
    page = skill_docs.render_troubleshooting_markdown(changed)
    assert "| SYMPTOM-CHANGED | SAE101 | FIX |" in page
    assert page.index("## Evaluation") < page.index("SYMPTOM-CHANGED")


def test_gen_rules_check_flags_a_stale_troubleshooting_page(tmp_path):
    import shutil

    skill = tmp_path / "skill" / "sae-recipe"
    shutil.copytree(REFERENCES.parent, skill)
    page = skill / "references" / "troubleshooting.md"
    page.write_text(page.read_text(encoding="utf-8").replace("SAE201", "SAE2O1"), encoding="utf-8")
    pages = skill_docs.generated_pages(skill)
    assert skill_docs.stale_pages(pages) == [page]
    assert skill_docs.main(["--check"]) == 0  # the checkout itself is fresh
