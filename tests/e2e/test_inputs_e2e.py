"""Inputs the extractor must get right for model families it has never seen (issue 20), with
tiny random models built here from a config (never downloaded):

- a DNABERT-style BERT over overlapping 6-mers (vocab.txt: 5 specials + 4^6 k-mers): raw DNA
  stops before the store with the k-mer fix found by trying it; with `token_unit: kmer` it runs
  extract -> train -> eval, one row per k-mer, and sequences longer than the context are chunked
  into overlapping windows (rows stored = rows expected, each row equal to the model's output in
  the window where the position is most central);
- a ProtT5-style encoder-decoder (T5 + a word-level tokenizer over spaced residues, `<unk>` and
  `</s>`): encoder only (T5EncoderModel), rows = residues, rare letters counted as unknown;
- a tokenizer whose vocabulary is only its special tokens is refused.
"""

from __future__ import annotations

import itertools
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from e2e_helpers import check_artifacts, run_env, run_launch, write_fasta

from recipegen.cli import main

pytestmark = pytest.mark.e2e

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
AMINO = "ACDEFGHIKLMNPQRSTVWY"


def new_recipe(tmp_path: Path, *args: str) -> Path:
    result = CliRunner().invoke(main, ["new", *args, "--out", str(tmp_path / "recipes")])
    assert result.exit_code == 0, result.output
    return next((tmp_path / "recipes").glob("*_sae"))


def run_extract(recipe: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(recipe / "extract.py"), *args, "--device", "cpu"],
        env=run_env(), capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def store_rows(store: Path):
    from sae.activation_store import ActivationStore

    return ActivationStore(str(store)).load_all()


def sequences_of(fasta: Path) -> list[str]:
    return [line for line in fasta.read_text().splitlines() if line[:1] != ">"]


@pytest.fixture(scope="module")
def dnabert(tmp_path_factory) -> Path:
    """BertForMaskedLM from a config + vocab.txt of [PAD] [UNK] [CLS] [SEP] [MASK] and 4^6 6-mers
    (DNABERT-1 layout), loaded back by AutoTokenizer as BertTokenizer(Fast)."""
    from transformers import AutoTokenizer, BertConfig, BertForMaskedLM

    out = tmp_path_factory.mktemp("models") / "dnabert6"
    out.mkdir()
    kmers = ["".join(p) for p in itertools.product("ACGT", repeat=6)]
    (out / "vocab.txt").write_text("\n".join(SPECIALS + kmers) + "\n")
    (out / "tokenizer_config.json").write_text(
        json.dumps({"tokenizer_class": "BertTokenizer", "do_lower_case": False})
    )
    config = BertConfig(
        vocab_size=len(SPECIALS) + len(kmers), hidden_size=32, num_hidden_layers=3,
        num_attention_heads=2, intermediate_size=64, max_position_embeddings=512,
    )  # fmt: skip
    BertForMaskedLM(config).save_pretrained(out)
    tok = AutoTokenizer.from_pretrained(out)
    assert len(tok) == 4096 + 5 and tok.tokenize("ACGTAC CGTACG") == ["ACGTAC", "CGTACG"]
    assert tok.tokenize("ACGTACGTACGT") == ["[UNK]"]  # raw DNA is one unknown word
    return out


def test_raw_dna_stops_before_the_store_with_the_kmer_fix_it_tried(tmp_path, dnabert, dna_fasta):
    recipe = new_recipe(tmp_path, "dnabert", "--spec", str(dnabert / "config.json"),
                        "--set", "sizes.base.context_length=510")  # fmt: skip
    out = tmp_path / "cache"
    proc = run_extract(recipe, "--input", str(dna_fasta), "--output", str(out),
                       "--checkpoint", str(dnabert))  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr
    assert "token check" in err and "Traceback" not in err and "nothing was stored" in err
    assert err.count("1 tokens kept [[CLS] [UNK] [SEP] ...], 1 unknown ([UNK])") == 3
    fix = err.split("likely fix:")[1]
    assert "`token_unit: kmer`" in fix and "kmer: {k: 6, stride: 1}" in fix
    assert "0.0% unknown" in fix and "separator: ' '" not in fix  # not the protein fix
    assert not (out / "metadata.json").exists() and not list(out.glob("shard_*"))


def test_spaced_residues_on_a_kmer_model_are_unknown_and_refused(tmp_path, dnabert, dna_fasta):
    """Following the protein fix on a k-mer model: every token unknown -> stop (not 100% [UNK])."""
    spec = tmp_path / "spaced.yaml"
    spec.write_text(
        f"name: dnabert\nextraction:\n  kind: hf\n  checkpoint: {dnabert}\n  token_unit: nt\n"
        "  input_format: {separator: ' '}\n"
        "sizes:\n  base: {n_layers: 3, hidden_dim: 32, context_length: 510}\n"
    )
    recipe = new_recipe(tmp_path, "--spec", str(spec))
    proc = run_extract(recipe, "--input", str(dna_fasta), "--output", str(tmp_path / "c"))
    assert proc.returncode == 2
    assert "are the unknown token [UNK]" in proc.stderr and "kmer: {k: 6" in proc.stderr


def kmer_recipe(tmp_path: Path, dnabert: Path, context: int, stride: int = 1) -> Path:
    return new_recipe(
        tmp_path, "dnabert", "--spec", str(dnabert / "config.json"),
        "--set", f"sizes.base.context_length={context}",
        "--set", "extraction.token_unit=kmer",
        "--set", "extraction.input_format.kmer.k=6",
        "--set", f"extraction.input_format.kmer.stride={stride}",
        "--set", "extraction.input_format.case=upper",
    )  # fmt: skip


def test_dnabert_kmers_end_to_end_with_long_sequences_chunked(tmp_path, dnabert, dna_fasta):
    import torch
    from transformers import AutoModel, AutoTokenizer

    recipe = kmer_recipe(tmp_path, dnabert, context=64)  # 150-600 nt: every sequence chunked
    work = tmp_path / "work"
    env = run_env(INPUT=str(dna_fasta), CHECKPOINT=str(dnabert), WORK=str(work),
                  EVAL_FRACTION="0.25", BATCH_SIZE="128")  # fmt: skip
    proc = run_launch(recipe, env, "--smoke")
    report = check_artifacts(work, expansion=4)
    seqs = sequences_of(dna_fasta)
    expected_rows = {}
    for split in ("train", "eval"):
        meta = json.loads((work / f"cache_{split}" / "metadata.json").read_text())
        order = json.loads((work / f"cache_{split}" / "sequence_order.json").read_text())
        assert all(n == len(seqs[i]) - 5 for i, n in order)  # one row per overlapping 6-mer
        expected_rows[split] = sum(len(seqs[i]) - 5 for i, _ in order)
        assert len(store_rows(work / f"cache_{split}")) == expected_rows[split]
        assert meta["chunked_sequences"] == len(order) and meta["unknown_tokens"] == 0
        assert meta["position_map"] == {
            "unit": "kmer",
            "k": 6,
            "stride": 1,
            "row_start": "j * stride",
        }
        assert meta["context_windows"] > len(order)
    assert "were chunked into overlapping windows" in proc.stderr
    # loss recovered scores exactly the stored rows of the held-out sequences (same windows)
    assert report["loss_recovered"]["n_tokens"] == expected_rows["eval"]

    # every stored row is the layer output of the window where its position is most central
    extract = _load(recipe / "extract.py")
    tok = AutoTokenizer.from_pretrained(dnabert)
    model = AutoModel.from_pretrained(dnabert).eval()
    layer = json.loads((work / "cache_train" / "metadata.json").read_text())["layer"]
    order = json.loads((work / "cache_train" / "sequence_order.json").read_text())
    rows = store_rows(work / "cache_train").float()
    i, n = order[0]
    got = rows[:n]
    windows = extract.sequence_windows(seqs[i], 64)
    assert len(windows) > 1
    want = []
    for text, lo, hi in windows:
        enc = tok(text, return_tensors="pt")
        with torch.no_grad():
            hidden = model(**enc, output_hidden_states=True).hidden_states[layer][0, 1:-1]
        assert hidden.shape[0] == 64  # a full window: the context, never cut
        want.append(hidden[lo:hi])
    want = torch.cat(want)
    assert want.shape == got.shape
    assert torch.allclose(got, want, atol=2e-2), (got - want).abs().max()


def test_non_overlapping_kmers_give_one_row_per_k_letters(tmp_path, dnabert, dna_fasta):
    recipe = kmer_recipe(tmp_path, dnabert, context=510, stride=6)
    out = tmp_path / "cache"
    proc = run_extract(recipe, "--input", str(dna_fasta), "--output", str(out),
                       "--checkpoint", str(dnabert))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    seqs = sequences_of(dna_fasta)
    order = json.loads((out / "sequence_order.json").read_text())
    assert all(n == (len(seqs[i]) - 6) // 6 + 1 for i, n in order)
    assert len(store_rows(out)) == sum(n for _, n in order)
    assert json.loads((out / "metadata.json").read_text())["chunked_sequences"] == 0


def _load(path: Path):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"rendered_{path.parent.name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def prot_t5(tmp_path_factory) -> Path:
    """A T5 encoder-decoder + a word-level tokenizer over spaced residues (ProtT5 layout: rare
    U Z O B unknown, `<unk>` and `</s>` its unknown and end tokens, X known)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast, T5Config, T5ForConditionalGeneration

    out = tmp_path_factory.mktemp("models") / "prot_t5"
    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2, **{c: i + 3 for i, c in enumerate(AMINO + "X")}}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    core.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", 1)]
    )
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core, unk_token="<unk>", eos_token="</s>", pad_token="<pad>"
    )
    tok.save_pretrained(out)
    config = T5Config(
        vocab_size=len(vocab), d_model=32, d_ff=64, num_layers=3, num_decoder_layers=2,
        num_heads=2, d_kv=16, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0,
    )  # fmt: skip
    T5ForConditionalGeneration(config).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def proteins(tmp_path_factory) -> Path:
    rng = random.Random(3)
    records = [
        "M" + "".join(rng.choice(AMINO) for _ in range(rng.randint(40, 160))) for _ in range(30)
    ]
    records[4] = records[4][:20] + "U" + records[4][21:]  # one selenocysteine: rare, unknown
    return write_fasta(tmp_path_factory.mktemp("inputs") / "proteins.fasta", records)


def t5_spec(tmp_path: Path, prot_t5: Path, replace: bool, context: int = 512) -> Path:
    mapping = "{U: X, Z: X, O: X, B: X}" if replace else "{}"
    spec = tmp_path / "prott5.yaml"
    spec.write_text(
        f"name: prott5\nextraction:\n  kind: hf\n  checkpoint: {prot_t5}\n  token_unit: aa\n"
        f"  input_format: {{separator: ' ', case: upper, replace: {mapping}}}\n"
        f"sizes:\n  base: {{n_layers: 3, hidden_dim: 32, context_length: {context}}}\n"
    )
    return spec


def test_t5_config_shortcut_and_unformatted_input_gets_the_spaced_fix(tmp_path, prot_t5, proteins):
    recipe = new_recipe(tmp_path, "prott5", "--spec", str(prot_t5 / "config.json"),
                        "--set", "sizes.base.context_length=512")  # fmt: skip
    proc = run_extract(recipe, "--input", str(proteins), "--output", str(tmp_path / "c"),
                       "--checkpoint", str(prot_t5))  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr
    assert err.count("1 tokens kept [<unk> </s> ...], 1 unknown (<unk>)") == 3
    fix = err.split("likely fix:")[1]
    assert "separator: ' '" in fix and "0.0% unknown" in fix and "kmer" not in fix


def test_t5_encoder_only_rows_equal_residues_and_chunks_long_proteins(tmp_path, prot_t5, proteins):
    import torch
    from transformers import T5EncoderModel

    recipe = new_recipe(tmp_path, "--spec", str(t5_spec(tmp_path, prot_t5, True, context=64)))
    out = tmp_path / "cache"
    proc = run_extract(recipe, "--input", str(proteins), "--output", str(out),
                       "--checkpoint", str(prot_t5), "--layer", "3")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["model_class"] == "T5EncoderModel" and meta["unknown_tokens"] == 0
    seqs = sequences_of(proteins)
    order = json.loads((out / "sequence_order.json").read_text())
    assert all(n == len(seqs[i]) for i, n in order)  # U -> X: one row per residue
    rows = store_rows(out).float()
    assert len(rows) == sum(len(seqs[i]) for i, _ in order)
    assert meta["chunked_sequences"] == sum(len(seqs[i]) > 64 for i, _ in order) > 0
    # a short protein's rows are the encoder's final output (layer 3 of 3)
    i, n = next((i, n) for i, n in order if n <= 64)
    start = sum(m for _, m in order[: [j for j, _ in order].index(i)])
    model = T5EncoderModel.from_pretrained(prot_t5).eval()
    ids = torch.tensor([[3 + (AMINO + "X").index(c) for c in seqs[i]] + [1]])
    with torch.no_grad():
        want = model(input_ids=ids).last_hidden_state[0, :-1]
    assert torch.allclose(rows[start : start + n], want, atol=2e-2)


def test_rare_unknowns_are_stored_but_counted_in_the_report_and_metadata(
    tmp_path, prot_t5, proteins
):
    recipe = new_recipe(tmp_path, "--spec", str(t5_spec(tmp_path, prot_t5, False)))
    out = tmp_path / "cache"
    proc = run_extract(recipe, "--input", str(proteins), "--output", str(out),
                       "--checkpoint", str(prot_t5))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["unknown_tokens"] == 1 and meta["unknown_token"] == "<unk>"
    assert "1 unknown tokens (<unk>) of" in proc.stderr and "replace" in proc.stderr


def test_a_tokenizer_holding_only_special_tokens_is_refused(tmp_path, protein_fasta):
    from transformers import BertConfig, BertForMaskedLM

    out = tmp_path / "bare"
    out.mkdir()
    (out / "vocab.txt").write_text("\n".join(SPECIALS) + "\n")
    (out / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "BertTokenizer"}))
    config = BertConfig(vocab_size=5, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=32)  # fmt: skip
    BertForMaskedLM(config).save_pretrained(out)
    recipe = new_recipe(tmp_path, "bare", "--spec", str(out / "config.json"),
                        "--set", "sizes.base.context_length=256")  # fmt: skip
    proc = run_extract(recipe, "--input", str(protein_fasta), "--output", str(tmp_path / "c"),
                       "--checkpoint", str(out))  # fmt: skip
    assert proc.returncode == 2
    assert (
        "the tokenizer has only 5 tokens" in proc.stderr and "0 of them not special" in proc.stderr
    )
    assert "BertTokenizer(vocab_file=...)" in proc.stderr and "Traceback" not in proc.stderr
