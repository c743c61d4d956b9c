"""AntiBERTy as a plain Hugging Face masked-LM folder, built offline from the ``antiberty`` wheel.

PyPI ``antiberty==0.1.3`` (MIT; Ruffolo et al. 2021, arXiv:2112.07782; install with
``pip install 'sae[antiberty]'``) ships its trained weights inside the wheel:
``antiberty/trained_models/AntiBERTy_md_smooth/`` (a BERT masked LM, 8 layers, hidden 512, 8 heads,
trained on 558M natural antibody sequences) and ``trained_models/vocab.txt`` (25 tokens: 5 special
tokens and the 20 amino acids). Later releases dropped the weights.

:func:`build_antiberty_folder` writes a folder that ``transformers.AutoModelForMaskedLM`` and
``AutoTokenizer`` load with no network: the BERT encoder and its masked-LM head as
``BertForMaskedLM`` (the species/chain/graft heads and the pooler are dropped), and a fast WordPiece
tokenizer built from the vocabulary. Input is upper-case residues separated by spaces
(``"E V Q L"``), one token per residue, wrapped in ``[CLS]`` ... ``[SEP]``.

The tokenizer is checked after writing: some transformers versions silently ignore
``BertTokenizer(vocab_file=...)`` and build a 5-token vocabulary that maps every residue to
``[UNK]``; here the folder is re-read and must have the 25 tokens and tokenize ``"E V Q L"`` to the
residues' own ids, or :class:`AntibertyError` is raised.

``random_init=True`` writes the control: the same config and tokenizer with freshly initialised
weights (seeded), for "does the SAE learn anything beyond plumbing?" comparisons.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import tempfile
from pathlib import Path

ANTIBERTY_VERSION = "0.1.3"
CHECKPOINT_SUBDIR = ("trained_models", "AntiBERTy_md_smooth")
VOCAB_SUBPATH = ("trained_models", "vocab.txt")
VOCAB_SIZE = 25
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"
CHECK_TEXT = "E V Q L"


class AntibertyError(RuntimeError):
    """The antiberty wheel is missing or unusable, or the built folder fails its checks."""


def antiberty_package_dir() -> Path:
    """Directory of the installed ``antiberty`` package (not imported: only its files are read)."""
    spec = importlib.util.find_spec("antiberty")
    if spec is None or not spec.submodule_search_locations:
        raise AntibertyError(
            f"the antiberty package is not installed; pip install 'antiberty=={ANTIBERTY_VERSION}' "
            "(or the sae extra: pip install 'sae[antiberty]'), the release that ships the weights"
        )
    root = Path(next(iter(spec.submodule_search_locations)))
    ckpt = root.joinpath(*CHECKPOINT_SUBDIR)
    if not (ckpt / "pytorch_model.bin").is_file() or not root.joinpath(*VOCAB_SUBPATH).is_file():
        raise AntibertyError(
            f"{root}: no trained weights in this antiberty install (expected {ckpt}/pytorch_model.bin); "
            f"install antiberty=={ANTIBERTY_VERSION}, later releases do not ship them"
        )
    return root


def _read_vocab(path: Path) -> list[str]:
    tokens = [
        line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    if (
        len(tokens) != VOCAB_SIZE
        or tuple(tokens[:5]) != SPECIAL_TOKENS
        or set(tokens[5:]) != set(AMINO_ACIDS)
    ):
        raise AntibertyError(
            f"{path}: expected the {VOCAB_SIZE}-token AntiBERTy vocabulary (5 special tokens + 20 amino acids)"
        )
    return tokens


def _make_tokenizer(tokens: list[str]):
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate(tokens)}
    core = Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    core.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=510,
    )


def check_tokenizer(folder) -> None:
    """Re-read the folder's tokenizer with ``AutoTokenizer`` and check the 25-token vocabulary and
    that ``"E V Q L"`` maps to ``[CLS] E V Q L [SEP]`` ids; raise :class:`AntibertyError` if not."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(folder))
    vocab = tok.get_vocab()
    if len(tok) != VOCAB_SIZE or any(aa not in vocab for aa in AMINO_ACIDS):
        raise AntibertyError(
            f"{folder}: tokenizer has {len(tok)} tokens, expected the {VOCAB_SIZE}-token AntiBERTy vocabulary "
            "(this transformers version may ignore the vocabulary file)"
        )
    ids = tok(CHECK_TEXT)["input_ids"]
    want = [vocab["[CLS]"]] + [vocab[c] for c in CHECK_TEXT.split()] + [vocab["[SEP]"]]
    if ids != want:
        raise AntibertyError(
            f"{folder}: tokenizer maps {CHECK_TEXT!r} to {ids}, expected {want}; residues must get their own ids"
        )


def antiberty_config():
    """The ``BertConfig`` of the shipped checkpoint (masked LM, no pooler)."""
    from transformers import BertConfig

    raw = json.loads(
        (antiberty_package_dir().joinpath(*CHECKPOINT_SUBDIR) / "config.json").read_text()
    )
    keep = {
        k: raw[k]
        for k in (
            "attention_probs_dropout_prob",
            "hidden_act",
            "hidden_dropout_prob",
            "hidden_size",
            "initializer_range",
            "intermediate_size",
            "layer_norm_eps",
            "max_position_embeddings",
            "num_attention_heads",
            "num_hidden_layers",
            "pad_token_id",
            "type_vocab_size",
            "vocab_size",
        )
    }
    return BertConfig(**keep, architectures=["BertForMaskedLM"])


def build_antiberty_folder(
    out, random_init: bool = False, seed: int = 0, overwrite: bool = False
) -> Path:
    """Write an HF folder (``config.json``, weights, tokenizer) for AntiBERTy to ``out``.

    The folder is written to a temporary sibling and renamed into place only after the checks
    pass, so a failure leaves nothing behind. ``random_init`` gives the seeded random control.
    Returns ``out``.
    """
    import torch
    from transformers import BertForMaskedLM

    out = Path(out)
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise AntibertyError(f"{out}: exists and is not a directory")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise AntibertyError(f"{out}: directory is not empty; pass overwrite=True to replace it")
    root = antiberty_package_dir()
    tokens = _read_vocab(root.joinpath(*VOCAB_SUBPATH))
    config = antiberty_config()
    torch.manual_seed(seed)
    model = BertForMaskedLM(config)
    if not random_init:
        state = torch.load(
            root.joinpath(*CHECKPOINT_SUBDIR) / "pytorch_model.bin",
            map_location="cpu",
            weights_only=True,
        )
        wanted = model.state_dict()
        mapped = {k: v for k, v in state.items() if k in wanted}
        missing = [k for k in wanted if k not in mapped and not k.endswith("position_ids")]
        if "cls.predictions.decoder.bias" in missing and "cls.predictions.bias" in mapped:
            mapped["cls.predictions.decoder.bias"] = mapped["cls.predictions.bias"]
            missing.remove("cls.predictions.decoder.bias")
        if missing:
            raise AntibertyError(
                f"antiberty checkpoint lacks {len(missing)} weights, e.g. {missing[:3]}"
            )
        model.load_state_dict(mapped, strict=False)
    model.eval()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        model.save_pretrained(tmp)
        _make_tokenizer(tokens).save_pretrained(tmp)
        (tmp / "ANTIBERTY_SOURCE.json").write_text(
            json.dumps(
                {
                    "package": f"antiberty=={ANTIBERTY_VERSION}",
                    "licence": "MIT",
                    "citation": "Ruffolo JA, Gray JJ, Sulam J. Deciphering antibody affinity maturation with "
                    "language models and weakly supervised learning. arXiv:2112.07782 (2021)",
                    "weights": f"random init (seed {seed})"
                    if random_init
                    else "/".join(CHECKPOINT_SUBDIR),
                },
                indent=2,
            )
            + "\n"
        )
        check_tokenizer(tmp)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
