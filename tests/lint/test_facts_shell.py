"""Shell facts: statements, words, variables, guards, arrays, functions, background jobs."""

from __future__ import annotations

import pytest
from recipegen.validators.facts_shell import build
from recipegen.validators.shell_scan import ShellSyntaxError, scan

LAUNCH = r"""#!/usr/bin/env bash
# header comment
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NPROC="${NPROC:-2}"
DP=$NPROC
CACHE="$HERE/cache"
case "${1:-}" in
  --smoke) SMOKE=1 ;;
  *) ;;
esac
[[ -f "$CACHE/metadata.json" ]] || python "$HERE/extract.py" \
    --output "$CACHE"   # trailing comment
args=(--cache-dir "$CACHE")
if (( NPROC > 1 )); then
  args+=(--dead-count-global)
fi
cat <<'EOF'
torchrun --not-a-command inside a heredoc
EOF
if [[ ! -f "$CACHE/eval/metadata.json" ]]; then
  python extract.py --output "$CACHE/eval"
else
  echo skip
fi
run() {
  torchrun --nproc_per_node "$NPROC" train.py --dp-size "$DP" "${args[@]}" 2>&1 | tee log &
}
unset WANDB_API_KEY
export WANDB_ENTITY=team
"""


@pytest.fixture(scope="module")
def facts():
    return build("launch.sh", LAUNCH)


def test_invocations_and_words(facts):
    progs = [(i.program, i.script.raw if i.script else None, i.line) for i in facts.invocations]
    assert ("python", "$HERE/extract.py", 12) in progs
    assert ("python", "extract.py", 22) in progs
    assert ("torchrun", "train.py", 27) in progs
    assert not any("--not-a-command" in c.text for c in facts.commands)  # heredoc body skipped


def test_continuation_and_comments(facts):
    inv = next(i for i in facts.invocations if i.line == 12 and i.program == "python")
    assert [(u.name, u.value.raw) for u in inv.flags()] == [("--output", "$CACHE")]
    assert inv.command.end_line == 13
    texts = [c.text for c in facts.comments]
    assert "header comment" in texts and "trailing comment" in texts


def test_variables_defaults_and_aliases(facts):
    assert facts.resolve_var("NPROC") == ("2", True)  # env-overridable default
    w = next(i for i in facts.invocations if i.program == "torchrun")
    assert facts.variable_of(w.launcher_opts["--nproc-per-node"]) == "NPROC"
    assert facts.variable_of(w.flag("--dp-size").value) == "NPROC"  # DP=$NPROC alias
    assert facts.exports == {"WANDB_ENTITY": 30} and facts.unsets == {"WANDB_API_KEY": 29}


def test_guards_from_or_chain_and_if_blocks(facts):
    by_line = {i.line: i for i in facts.invocations if i.program in ("python", "torchrun")}
    assert [g.path.raw for g in by_line[12].command.guards] == ["$CACHE/metadata.json"]
    assert [g.path.raw for g in by_line[22].command.guards] == ["$CACHE/eval/metadata.json"]
    assert by_line[27].command.guards == []


def test_arrays_functions_and_background(facts):
    inv = next(i for i in facts.invocations if i.program == "torchrun")
    flags = {u.name: u for u in inv.flags()}
    assert flags["--cache-dir"].conditional is False
    assert flags["--dead-count-global"].conditional is True
    assert inv.command.function == "run"
    assert inv.command.background is True  # the `&` after the pipeline, not the 2>&1


def test_redirect_ampersand_is_not_background():
    f = build("x.sh", "python train.py 2>&1 >log\n")
    assert f.invocations[0].command.background is False


def test_opaque_forwarding():
    f = build("x.sh", 'python train.py "$@"\n')
    assert f.invocations[0].opaque


@pytest.mark.parametrize("src", ["echo 'open\n", 'echo "$(date\n', "x=$(echo (\n"])
def test_unbalanced_input_raises_with_line(src):
    with pytest.raises(ShellSyntaxError) as exc:
        scan(src)
    assert exc.value.line == 1


def test_crlf_is_tolerated():
    f = build("x.sh", "NPROC=4\r\ntorchrun --nproc_per_node $NPROC train.py\r\n")
    inv = f.invocations[0]
    assert inv.program == "torchrun" and inv.script.raw == "train.py"
