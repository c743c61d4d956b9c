"""Reference CodonFM (Encodon) adapter for extraction kind `custom`: 1 token per codon.

The shipped `codonfm` spec names `recipegen.adapters.codonfm:EncodonAdapter`, so a rendered
codonfm recipe runs as soon as recipegen and torch are installed. It loads a local checkpoint
folder in this layout:

    config.json   {"hidden_dim": H, "num_layers": L, "num_heads": A, "context_length": C}
    weights.pt    a state dict of `EncodonModel` (loaded with weights_only=True)

`EncodonModel` is a bidirectional pre-norm transformer encoder over a 68-token vocabulary
(<pad> <cls> <eos> <unk> + the 64 codons) with an MLM head. To run released weights of another
layout, write an adapter with the same five members (see the docstring of the rendered
extract.py) and point the spec at it: `--set extraction.adapter=my_pkg.encodon:MyAdapter`.
`EncodonAdapter.create(folder)` writes a small randomly initialised checkpoint (offline smoke).
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import torch
from torch import nn

SPECIALS = ["<pad>", "<cls>", "<eos>", "<unk>"]
CODONS = ["".join(c) for c in itertools.product("ACGT", repeat=3)]
VOCAB = {tok: i for i, tok in enumerate(SPECIALS + CODONS)}
PAD, CLS, EOS, UNK = (VOCAB[t] for t in SPECIALS)
CONFIG_KEYS = ("hidden_dim", "num_layers", "num_heads", "context_length")
SMALL_CONFIG = {"hidden_dim": 32, "num_layers": 4, "num_heads": 4, "context_length": 256}


class EncodonModel(nn.Module):
    """Codon embedding + learned positions + pre-norm encoder blocks + LM head."""

    def __init__(self, hidden_dim: int, num_layers: int, num_heads: int, context_length: int):
        super().__init__()
        self.embed = nn.Embedding(len(VOCAB), hidden_dim, padding_idx=PAD)
        self.pos = nn.Embedding(context_length, hidden_dim)
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(
                hidden_dim, num_heads, 2 * hidden_dim, dropout=0.0, batch_first=True
            )
            for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(hidden_dim)
        self.head = nn.Linear(hidden_dim, len(VOCAB))

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, upto: int | None = None
    ):
        """Output of block `upto` (1-based), or LM logits when `upto` is None."""
        pos = torch.arange(input_ids.shape[1], device=input_ids.device)
        h = self.embed(input_ids) + self.pos(pos)
        pad = ~attention_mask.bool()
        for i, block in enumerate(self.blocks, start=1):
            h = block(h, src_key_padding_mask=pad)
            if upto == i:
                return h
        return self.head(self.norm(h))


class EncodonAdapter:
    """The adapter protocol of the `custom` extraction kind (see the rendered extract.py)."""

    def __init__(self, model: EncodonModel, config: dict, device: str):
        self.model, self.config, self.device = model, config, torch.device(device)
        self.num_layers = config["num_layers"]
        self.hidden_dim = config["hidden_dim"]

    @staticmethod
    def create(directory: str | Path, seed: int = 0, **overrides) -> Path:
        """Write a randomly initialised checkpoint (fixed seed) into `directory`."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        config = dict(SMALL_CONFIG, **overrides)
        torch.manual_seed(seed)
        model = EncodonModel(**config)
        (directory / "config.json").write_text(json.dumps(config, indent=2))
        torch.save(model.state_dict(), directory / "weights.pt")
        return directory

    @classmethod
    def load(cls, checkpoint: str, device: str = "cpu") -> EncodonAdapter:
        directory = Path(checkpoint).expanduser()
        if not (directory / "config.json").is_file() or not (directory / "weights.pt").is_file():
            raise SystemExit(
                f"EncodonAdapter: --checkpoint {checkpoint}: not a local checkpoint folder with "
                "config.json and weights.pt (fix: give that folder; for another weight layout "
                "use your own adapter, --set extraction.adapter=module:Class)"
            )
        config = json.loads((directory / "config.json").read_text())
        missing = [k for k in CONFIG_KEYS if not isinstance(config.get(k), int)]
        if missing:
            raise SystemExit(f"EncodonAdapter: {directory}/config.json lacks integer {missing}")
        model = EncodonModel(**{k: config[k] for k in CONFIG_KEYS})
        state = torch.load(directory / "weights.pt", map_location="cpu", weights_only=True)
        model.load_state_dict(state)
        return cls(model.to(device).eval(), config, device)

    def tokenize(self, sequences: list[str]) -> dict:
        """CLS + one token per codon (RNA U read as T; truncated to the context) + EOS."""
        room = self.config["context_length"] - 2
        rows = []
        for seq in sequences:
            seq = seq.strip().upper().replace("U", "T")
            codons = [seq[i : i + 3] for i in range(0, len(seq) - len(seq) % 3, 3)][:room]
            rows.append([CLS] + [VOCAB.get(c, UNK) for c in codons] + [EOS])
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), PAD, dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.tensor(r)
        attention = ids != PAD
        valid = attention & (ids != CLS) & (ids != EOS)
        return {"input_ids": ids, "attention_mask": attention, "valid_mask": valid}

    def _inputs(self, batch: dict):
        return batch["input_ids"].to(self.device), batch["attention_mask"].to(self.device)

    @torch.inference_mode()
    def hidden_states(self, batch: dict, layer: int) -> torch.Tensor:
        if not 1 <= layer <= self.num_layers:
            raise ValueError(f"layer {layer} out of range 1..{self.num_layers}")
        return self.model(*self._inputs(batch), upto=layer)

    def layer_module(self, layer: int) -> nn.Module:
        return self.model.blocks[layer - 1]

    @torch.inference_mode()
    def token_loss(self, batch: dict) -> torch.Tensor:
        """Mean cross-entropy of predicting each valid codon token (unmasked MLM head)."""
        ids, attention = self._inputs(batch)
        logits = self.model(ids, attention)
        valid = batch["valid_mask"].to(self.device)
        return nn.functional.cross_entropy(logits[valid].float(), ids[valid])
