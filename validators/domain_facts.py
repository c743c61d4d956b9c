"""Domain facts no lint rule enforces (a runtime check or none), and the pages' fixed text.

Every other numbered fact of docs/gotchas.md lives in the rule module that enforces it (`FACTS`).
"""

from recipegen.validators.model import Fact

GOTCHAS_INTRO = """\
What goes wrong when training sparse autoencoders on the activations of protein, codon and DNA
language models, why, and which `recipegen lint` rule (or runtime check) catches it. The numbers
are stable: `recipegen rule CODE` prints "Domain facts: N" pointing at the entries below, and the
installed skill carries this page as `references/gotchas.md`.
"""
SECTIONS = (
    "Training script (`train.py`)",
    "Launch script (`launch.sh` and other orchestrators)",
    "Extractor (`extract.py`)",
    "Evaluation and sanity",
)
FACTS = {
    21: Fact(
        "Evaluation and sanity",
        "Tokenizers want different input text",
        """\
ProtBert/ProtT5-style models expect upper-case residues separated by single spaces, with the rare
residues U, Z, O and B written as X; DNABERT-style models expect overlapping k-mers (`ACGTAC
CGTACG ...`). Given unspaced text their tokenizer returns one unknown token for a whole sequence
and no error; the unknown and special tokens differ by family: BERT (ProtBert, DNABERT)
`[CLS] [UNK] [SEP]`, T5 (ProtT5) `<unk> </s>`, ESM `<cls> <unk> <eos>`. A tokenizer built as
`BertTokenizer(vocab_file=...)` can silently hold only its 5 special tokens, so every residue is
unknown. Runtime check: every `extract.py` compares the tokens kept per sequence with the count
the token unit predicts and, for kind `hf`, counts unknown tokens; it stops before writing the
store when many sequences are far off or more than 2% of the kept tokens are unknown, printing
the `extraction.input_format` (separator, case, replace, kmer) it tried on the sample that fixes
it. Rare unknowns are stored but counted (metadata.json `unknown_tokens`). No lint rule: only running the tokenizer shows it.
""",
    ),
    24: Fact(
        "Evaluation and sanity",
        "The checkpoint format is part of the contract",
        """\
The shared library saves a TopK SAE with `decoder.weight [input, hidden]`, `latent_bias` and
`stats_last_nonzero`, and its eval, analysis and dashboard code load checkpoints by those keys;
recipegen's runtime writes the same keys (tested against the reference library).
""",
    ),
}
TROUBLESHOOTING_SECTIONS = (
    "Training quality",
    "Launch and environment",
    "Extraction",
    "Evaluation",
    "Linter messages about the linter",
    "Failures with no rule code",
)
TROUBLESHOOTING_INTRO = """\
Run `recipegen lint` on the recipe first: most of these are visible statically, before any GPU
time. `recipegen rule CODE` prints the full explanation of a code ([rules.md](rules.md) has all).

```bash
recipegen lint recipes/esm2_sae --statistics
recipegen rule SAE201
```
"""
# rows for failures no rule reports (after the per-rule sections)
NO_RULE_SECTION = "Failures with no rule code"
NO_RULE_TABLE = """\
| symptom | likely cause | fix |
| --- | --- | --- |
| out of memory on long sequences (any model) | inputs longer than the trained context | chunk to `sizes.<size>.context_length`; lower `MAX_TOKENS_PER_BATCH` |
| DDP training hangs at the end of an epoch | ranks with uneven batch counts | use the rendered `train.py` (it caps batches after the process group exists) |
| `recipegen check` exits 1 | a rendered file was edited | move the change into the spec and re-render, or accept the drift knowingly |
| `extract.py: error: token check: N of M sequences do not give about one token per ...` or `... kept tokens (P%) are the unknown token ...` | the tokenizer, adapter or predict module does not give one token per `token_unit`, or most tokens are unknown (e.g. ProtBert sees one `[UNK]` per unspaced protein, ProtT5 one `<unk>`, DNABERT wants k-mers) | read the three examples and the `likely fix` (a format tried on your sequences); kind `hf`: set `extraction.input_format` (separator, case, replace, kmer) and `token_unit` and re-render; otherwise fix the adapter's `valid_mask` / the predict module, or `token_unit` |
| training says it has fewer rows than `batch_size` | extraction kept far too few tokens | check the token counts (`sequence_order.json` in the cache: [index, tokens] per sequence) before lowering the batch size |
| `launch.sh: CHECKPOINT=...: no such file or directory` | a local-looking path (`/`, `./`, `../`, `a/b/c`) that does not exist | fix the path; hub ids look like `org/name` |
| `launch.sh --smoke` without `INPUT` says it needs the recipegen package | the offline stand-ins ship with recipegen | `pip install recipegen` next to the runtime, or set `INPUT=...` and `CHECKPOINT=...` |
| `recipegen new` says the folder "holds another recipe" | it was rendered from another model or spec (e.g. `new esm2 --spec config.json` over the shipped esm2) | pick another MODEL name or `--out`; `--force` replaces it and keeps a backup in `<out>/.<name>_sae.backup-<time>/` |
| the training curve's dead % is 0 while eval reports more | different definitions: the curve plots the trainer's counter (its panel title says which), eval counts latents that never fire on the held-out cache | compare like with like: `report.json` dead % for the held-out figure |
"""
