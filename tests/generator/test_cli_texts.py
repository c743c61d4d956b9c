"""CLI texts a newcomer reads first: nothing cut mid-phrase, usage matching the options."""

from __future__ import annotations

from click.testing import CliRunner

from recipegen.cli import main


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), terminal_width=80)
    assert result.exit_code == 0, result.output
    return result.output


def test_top_level_help_lists_every_command_in_full_sentences():
    out = run("--help")
    commands = out.split("Commands:")[1].strip().splitlines()
    assert len(commands) >= 9
    for line in commands:
        assert not line.rstrip().endswith("..."), line  # click truncated it
        assert "(e.g." not in line, line
    assert "Explain one lint rule" in out


def test_skill_install_usage_matches_its_options():
    out = run("skill", "install", "--help")
    assert "--dest" in out and "DEST/" not in out
    listing = run("skill", "--help").split("Commands:")[1]
    assert "install" in listing and "..." not in listing


def test_show_help_is_not_self_referential_and_explains_config_naming():
    out = run("show", "--help")
    assert "recipegen show" not in out
    assert "model_type" in out and "context_length" in out


def test_new_help_says_what_force_keeps():
    out = run("new", "--help")
    assert "backup" in out and "another model" in out
