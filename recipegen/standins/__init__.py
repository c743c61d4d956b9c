"""Tiny randomly initialised stand-in models and inputs, for offline smoke runs of any recipe.

Nothing is downloaded: each model is built from a config and written the way a real checkpoint
folder is (`save_pretrained`, or the reference adapter's layout), then used exactly like one.

- kind `hf`: a tiny ESM2 (EsmForMaskedLM + the 33-token ESM vocabulary), or with `spaced=True` a
  tiny ProtBert-style BERT (BertForMaskedLM + a BertTokenizer whose vocabulary is upper-case
  residues read one per space-separated word, rare residues U Z O B written as X);
- kind `custom`: a tiny CodonFM Encodon checkpoint for `recipegen.adapters.codonfm:EncodonAdapter`;
- kind `predict_cli`: no checkpoint; the stand-in predict module `recipegen.standins.evo2_predict`.

`python -m recipegen.standins KIND --out DIR` writes DIR/input.fasta and DIR/model (launch.sh
--smoke does this when INPUT is not set). torch and transformers are imported lazily.
"""

from __future__ import annotations

import random
from importlib import resources
from pathlib import Path

DEMO_FASTA = "demo_proteins.fasta"
EVO2_PREDICT = "recipegen.standins.evo2_predict"
ENCODON_ADAPTER = "recipegen.adapters.codonfm:EncodonAdapter"
ESM_VOCAB = (
    "<cls> <pad> <eos> <unk> L A G V S E R T I D P K Q N F Y M H W C X B U Z O . - <null_1> <mask>"
).split()
# ProtBert-style vocabulary: specials, the 20 standard residues and X (rare U Z O B map to X).
BERT_VOCAB = "[PAD] [UNK] [CLS] [SEP] [MASK] L A G V E S I K R D T P N Q F Y M H C W X".split()
KINDS = ("hf", "custom", "predict_cli")


def write_tiny_esm2(directory: Path, seed: int = 0, n_layers: int = 6) -> Path:
    """A randomly initialised ESM2 (hidden 64) and its tokenizer, via save_pretrained."""
    import torch
    from transformers import EsmConfig, EsmForMaskedLM, EsmTokenizer

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    vocab = directory / "vocab.txt"
    vocab.write_text("\n".join(ESM_VOCAB) + "\n")
    tokenizer = EsmTokenizer(str(vocab))
    torch.manual_seed(seed)
    config = EsmConfig(
        vocab_size=len(ESM_VOCAB),
        hidden_size=64,
        num_hidden_layers=n_layers,
        num_attention_heads=4,
        intermediate_size=128,
        max_position_embeddings=1026,
        position_embedding_type="rotary",
        pad_token_id=ESM_VOCAB.index("<pad>"),
        mask_token_id=ESM_VOCAB.index("<mask>"),
        token_dropout=True,
        emb_layer_norm_before=False,
    )
    EsmForMaskedLM(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def write_tiny_spaced_bert(directory: Path, seed: int = 0, n_layers: int = 4) -> Path:
    """A ProtBert-style BertForMaskedLM (hidden 32) whose tokenizer needs spaced upper-case
    residues: unformatted text ("MKTAYIAK") is one unknown word, i.e. `[CLS] [UNK] [SEP]`."""
    import torch
    from transformers import BertConfig, BertForMaskedLM, BertTokenizer

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    vocab = directory / "vocab.txt"
    vocab.write_text("\n".join(BERT_VOCAB) + "\n")
    tokenizer = BertTokenizer(str(vocab), do_lower_case=False)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(BERT_VOCAB),
        hidden_size=32,
        num_hidden_layers=n_layers,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=40000,  # as ProtBert: far above the length it was trained at
        pad_token_id=0,
    )
    BertForMaskedLM(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def write_tiny_encodon(directory: Path, seed: int = 0, n_layers: int = 4, context: int = 256):
    """A randomly initialised checkpoint for the reference CodonFM adapter."""
    from recipegen.adapters.codonfm import EncodonAdapter

    return EncodonAdapter.create(directory, seed, num_layers=n_layers, context_length=context)


def protein_fasta_text() -> str:
    """The protein FASTA shipped in the package."""
    return resources.files("recipegen").joinpath("data", DEMO_FASTA).read_text()


def cds_fasta_text(n: int = 160, seed: int = 0) -> str:
    """Coding sequences (ATG ... stop, whole codons), fixed seed."""
    rng = random.Random(seed)
    records = [
        "ATG" + "".join(rng.choice("ACGT") for _ in range(3 * rng.randint(30, 90))) + "TAA"
        for _ in range(n)
    ]
    return "".join(f">cds_{i}\n{r}\n" for i, r in enumerate(records))


def dna_fasta_text(n: int = 120, seed: int = 1) -> str:
    """Genomic-like DNA records of 100-400 nt, fixed seed."""
    rng = random.Random(seed)
    records = ["".join(rng.choice("ACGT") for _ in range(rng.randint(100, 400))) for _ in range(n)]
    return "".join(f">dna_{i}\n{r}\n" for i, r in enumerate(records))


def write_standin(
    kind: str, out: Path, *, n_layers: int, context: int = 256, spaced: bool = False
) -> tuple[Path, Path]:
    """Write `out/input.fasta` and `out/model` for an extraction kind; (input, checkpoint)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    fasta, model = out / "input.fasta", out / "model"
    if kind == "hf":
        fasta.write_text(protein_fasta_text())
        if not (model / "config.json").is_file():
            writer = write_tiny_spaced_bert if spaced else write_tiny_esm2
            writer(model, n_layers=n_layers)
    elif kind == "custom":
        fasta.write_text(cds_fasta_text())
        if not (model / "weights.pt").is_file():
            write_tiny_encodon(model, n_layers=n_layers, context=context)
    elif kind == "predict_cli":
        fasta.write_text(dna_fasta_text())
        model.mkdir(exist_ok=True)  # the stand-in predict module builds its model in memory
    else:
        raise ValueError(f"unknown extraction kind {kind!r}; use one of {', '.join(KINDS)}")
    return fasta, model
