"""A new model that the tokenizer check must catch: a tiny ProtBert-style BERT (BertForMaskedLM +
a BertTokenizer over upper-case residues read one per space-separated word, rare U Z O B -> X),
built from a config, never downloaded. Without `extraction.input_format` every protein is one
`[UNK]`; the extractor must stop before writing the store. With it, the recipe runs end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from e2e_helpers import (
    check_artifacts,
    render,
    run_env,
    run_launch,
    write_fasta,
    write_standin,
)

from recipegen.cli import main

pytestmark = pytest.mark.e2e

PROTBERT_FORMAT = """\
  input_format:
    separator: " "
    case: upper
    replace: {U: X, Z: X, O: X, B: X}
"""


@pytest.fixture(scope="module")
def spaced_bert(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("models") / "prot_bert"
    return write_standin("esm2", out, "--spaced", "--n-layers", "4")


def new_recipe(tmp_path: Path, *args: str) -> Path:
    result = CliRunner().invoke(main, ["new", *args, "--out", str(tmp_path / "recipes")])
    assert result.exit_code == 0, result.output
    return next((tmp_path / "recipes").glob("*_sae"))


def run_extract(recipe: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(recipe / "extract.py"), *args],
        env=run_env(), capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def test_the_tokenizer_really_needs_spaces(spaced_bert):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(spaced_bert)
    assert tok.tokenize("MKTAYIAK") == ["[UNK]"]
    assert tok.tokenize("M K T A Y I A K") == list("MKTAYIAK")


def test_unformatted_input_stops_before_the_store_with_examples_and_the_fix(
    tmp_path, spaced_bert, protein_fasta
):
    recipe = new_recipe(
        tmp_path, "protbert", "--spec", str(spaced_bert / "config.json"),
        "--set", "sizes.base.context_length=512",
    )  # fmt: skip
    out = tmp_path / "cache"
    proc = run_extract(recipe, "--input", str(protein_fasta), "--output", str(out),
                       "--checkpoint", str(spaced_bert), "--device", "cpu")  # fmt: skip
    assert proc.returncode != 0
    err = proc.stderr
    assert "token check" in err and "Traceback" not in err
    assert err.count("1 tokens kept [[CLS] [UNK] [SEP]") == 3  # three examples with their tokens
    assert "expected" in err and "input_format" in err and "separator" in err
    first = next(line for line in (protein_fasta.read_text().splitlines()) if line[:1] != ">")
    assert repr(first[:24]) in err  # the sequence head is shown
    assert not out.exists() or not any(out.glob("shard_*")) and not (out / "metadata.json").exists()
    # the bypass is named and works
    assert "--no-token-check" in err
    ok = run_extract(recipe, "--input", str(protein_fasta), "--output", str(tmp_path / "c2"),
                     "--checkpoint", str(spaced_bert), "--device", "cpu", "--max-sequences", "8",
                     "--no-token-check")  # fmt: skip
    assert ok.returncode == 0, ok.stderr[-2000:]


def test_protbert_style_model_runs_end_to_end_with_input_format(
    tmp_path, spaced_bert, protein_fasta
):
    spec = tmp_path / "protbert.yaml"
    spec.write_text(
        "name: protbert\nextraction:\n  kind: hf\n"
        f"  checkpoint: {json.dumps(str(spaced_bert))}\n{PROTBERT_FORMAT}"
        "sizes:\n  base: {n_layers: 4, hidden_dim: 32, context_length: 512, default_layer: 3}\n"
    )
    recipe = new_recipe(tmp_path, "--spec", str(spec))
    # rare residues must reach the tokenizer as X, lower case as upper case
    fasta = write_fasta(
        tmp_path / "in.fasta",
        [line for line in protein_fasta.read_text().splitlines() if line[:1] != ">"][:60]
        + ["mkuzobacdefghik" * 4] * 4,
    )
    work = tmp_path / "work"
    env = run_env(INPUT=str(fasta), CHECKPOINT=str(spaced_bert), WORK=str(work),
                  MAX_SEQUENCES="64", EVAL_FRACTION="0.25", BATCH_SIZE="128")  # fmt: skip
    run_launch(recipe, env, "--smoke")
    report = check_artifacts(work, expansion=4)
    meta = json.loads((work / "cache_train" / "metadata.json").read_text())
    assert meta["input_format"] == {
        "separator": " ", "case": "upper", "replace": {"U": "X", "Z": "X", "O": "X", "B": "X"},
        "kmer": {"k": None, "stride": 1},
    }  # fmt: skip
    assert meta["unknown_tokens"] == 0 and meta["chunked_sequences"] == 0
    order = json.loads((work / "cache_train" / "sequence_order.json").read_text())
    seqs = [line for line in fasta.read_text().splitlines() if line[:1] != ">"]
    assert all(n == len(seqs[i]) for i, n in order)  # one token per residue, none lost
    assert report["eval"]["fvu"] < 1
    lr = report["loss_recovered"]
    assert "skipped" not in lr and lr["n_tokens"] > 0  # eval tokenized with the same format


def test_a_local_checkpoint_path_that_does_not_exist_fails_at_once(tmp_path, protein_fasta):
    recipe = render("esm2", tmp_path)
    missing = tmp_path / "models" / "esm2_typo"
    start = time.monotonic()
    proc = subprocess.run(
        ["bash", str(recipe / "launch.sh"), "--smoke"],
        env=run_env(INPUT=str(protein_fasta), CHECKPOINT=str(missing), WORK=str(tmp_path / "w")),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 2
    assert str(missing) in proc.stderr and "no such file or directory" in proc.stderr
    assert time.monotonic() - start < 30
    direct = run_extract(recipe, "--input", str(protein_fasta), "--output", str(tmp_path / "c"),
                         "--checkpoint", "./esm2_typo/model")  # fmt: skip
    assert direct.returncode != 0 and "./esm2_typo/model: no such directory" in direct.stderr


def test_readme_smoke_command_runs_without_input_or_checkpoint(tmp_path):
    """`bash recipes/esm2_sae/launch.sh --smoke`, exactly: the recipe's own standin.py writes a
    generated input and a tiny model; the recipe is self-contained (recipegen not importable)."""
    recipe = render("esm2", tmp_path)
    site = tmp_path / "no_recipegen"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import sys\n\n\nclass _Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'recipegen':\n"
        "            raise ModuleNotFoundError('recipegen blocked by the test')\n\n\n"
        "sys.meta_path.insert(0, _Block())\n"
    )
    env = run_env()
    env["PYTHONPATH"] = os.pathsep.join([str(site), env["PYTHONPATH"]])
    for var in ("INPUT", "CHECKPOINT", "WORK"):
        env.pop(var, None)
    proc = run_launch(recipe, env, "--smoke")
    assert "a generated input and a tiny random stand-in model" in proc.stdout
    work = recipe / "work"
    assert (work / "standin" / "model" / "config.json").is_file()
    check_artifacts(work, expansion=4)
    assert (recipe / ".gitignore").read_text().splitlines()[-1] == "work/"


def test_custom_and_predict_cli_extractors_check_tokens_too(tmp_path, cds_fasta, dna_fasta):
    """token_unit disagreeing with what the adapter / predict module emits stops extraction."""
    # codon adapter read as 1 token per nucleotide: a third of the expected count
    codon = new_recipe(tmp_path / "c", "codonfm", "--set", "extraction.token_unit=nt")
    ckpt = write_standin("codonfm", tmp_path / "encodon")
    out = tmp_path / "cache_c"
    proc = run_extract(codon, "--input", str(cds_fasta), "--output", str(out),
                       "--checkpoint", str(ckpt), "--device", "cpu")  # fmt: skip
    assert proc.returncode != 0 and "token check" in proc.stderr
    assert "valid_mask" in proc.stderr and "expected" in proc.stderr
    assert not any(out.glob("shard_*")) and not (out / "metadata.json").exists()
    # predict module emitting 1 token per nt, spec saying codon: three times too many
    dna = new_recipe(tmp_path / "d", "evo2", "--set", "extraction.token_unit=codon")
    out = tmp_path / "cache_d"
    proc = run_extract(dna, "--input", str(dna_fasta), "--output", str(out),
                       "--checkpoint", str(tmp_path), "--layer", "2", "--max-sequences", "8",
                       "--predict-module", "evo2_predict")  # fmt: skip
    assert proc.returncode != 0 and "token check" in proc.stderr, proc.stderr[-2000:]
    assert "pad_mask" in proc.stderr
    assert not any(out.glob("shard_*")) and not (out / "metadata.json").exists()
