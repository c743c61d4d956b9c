"""One module per rule (SAE101.py ...), everything about the rule in one file.

A rule module holds: its docs (the module docstring, ruff-style sections), `CODE`, `NAME`,
`SEVERITY`, `SUMMARY`, `GOTCHAS` (numbers of the domain facts it enforces), `KIND`, `VALID` and
`INVALID` examples (`Invalid(source, line, message)` pins the finding), `check(ctx)`, and what
the generated pages say about it: `SKILL_ROW` (its line in SKILL.md's rule table), `SYMPTOMS`
(troubleshooting rows) and `FACTS` (the numbered facts of docs/gotchas.md it owns). Queries only
one rule needs live in its module; queries several share live in `_helpers.py` / `_values.py`.

Adding a rule: write `SAEnnn.py`, then run `recipegen skill gen-rules` (or
`python -m recipegen.skill_docs --write`) to regenerate references/rules.md, docs/gotchas.md and
its skill copy, references/troubleshooting.md and the SKILL.md table; tests check them fresh.
"""
