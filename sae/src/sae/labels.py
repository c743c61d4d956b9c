"""User labels: per-residue and per-sequence labels keyed by FASTA id, aligned to store rows.

Files
-----
Per-position labels (one label per character of the sequence: residue, or nucleotide for DNA/RNA),
in either of two formats, told apart by the first line that is neither blank nor a comment:

* **FASTA-like**: ``>id`` then a label string with one character per residue, e.g.
  ``HHHEEECCC`` (it may wrap over several lines, like FASTA). ``.`` and ``-`` mean "no label".
  Optional ``#legend X=NAME`` lines (anywhere, any number of ``X=NAME`` pairs each) give a
  character a longer name, e.g. ``#legend C=CDR3 1=FR1``; unnamed characters are their own name.
* **TSV**: ``id<TAB>position<TAB>label`` rows, ``position`` 1-based within the sequence; an optional
  header row ``id<TAB>position<TAB>label``. Positions not listed carry no label.

Per-sequence labels: a TSV of ``id<TAB>label`` (optional header ``id<TAB>label``).

Lines starting with ``#`` are comments. The id is the first word of the FASTA header (the text up
to the first whitespace), as in BLAST and samtools. Every problem (unknown id, a label string whose
length differs from its sequence, a bad position, a duplicate) raises :class:`LabelError` naming
the file and line.

Alignment to store rows
-----------------------
An extract step records ``sequence_order.json``: ``[sequence index, tokens]`` per sequence in store
row order, the index counting sequences of the input file from 0, the tokens being the first
``tokens`` units of that sequence (it may have been truncated to the model's context). Token ``t``
of a sequence covers characters ``[start(t), start(t) + size)`` where, per the recipe's
``token_unit``:

* ``aa``: one residue per token (start ``t``, size 1);
* ``nt``: one nucleotide per token (start ``t``, size 1);
* ``codon``: three nucleotides per token (start ``3t``, size 3);
* ``kmer``: ``size`` = ``kmer_size``, start ``t * kmer_stride`` (+ ``kmer_offset``); pass these
  to :func:`token_spans` (the hook for k-mer tokenizers).

A multi-character token takes its label by ``rule``: ``"first"`` (default: the label of its
first character; for a codon, its first nucleotide) or ``"majority"`` (the most common label
among its characters, ties going to the one that comes first in the token). Characters with no
label are ignored by ``majority``; a token whose chosen label is missing has no label (``None``),
and such rows are left out of probing (not counted as negatives).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

TOKEN_UNIT_SIZE = {"aa": 1, "nt": 1, "codon": 3}
NO_LABEL_CHARS = frozenset(".-")
TOKEN_RULES = ("first", "majority")


class LabelError(ValueError):
    """A label file (or its alignment to the sequences) is wrong; the message says where."""


def _open_lines(path: Path, what: str):
    path = Path(path)
    if not path.is_file():  # also refuses FIFOs and devices
        raise LabelError(f"{what} {path}: not a regular file")
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise LabelError(
            f"{what} {path}: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None


def read_fasta(path) -> list[tuple[str, str]]:
    """``[(id, sequence)]`` in file order; the id is the header's first word."""
    records: list[tuple[str, list[str]]] = []
    seen: dict[str, int] = {}
    for lineno, raw in enumerate(_open_lines(path, "FASTA"), 1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith(">"):
            words = line[1:].split()
            if not words:
                raise LabelError(f"{path}:{lineno}: FASTA header without an id")
            if words[0] in seen:
                raise LabelError(
                    f"{path}:{lineno}: duplicate id {words[0]!r} (first at line {seen[words[0]]}); "
                    "ids must be unique to key labels"
                )
            seen[words[0]] = lineno
            records.append((words[0], []))
        elif not records:
            raise LabelError(f"{path}:{lineno}: sequence before the first '>' header")
        else:
            records[-1][1].append(line)
    return [(rid, "".join(parts)) for rid, parts in records]


def _legend(line: str, path, lineno: int) -> dict[str, str]:
    out = {}
    for pair in line[len("#legend") :].split():
        char, sep, name = pair.partition("=")
        if not sep or len(char) != 1 or not name:
            raise LabelError(
                f"{path}:{lineno}: legend entry {pair!r} must be CHAR=NAME, e.g. C=CDR3"
            )
        out[char] = name
    return out


def read_residue_labels(
    path, sequences: dict[str, str] | None = None
) -> dict[str, list[str | None]]:
    """Per-position labels ``{id: [label or None per character]}`` from a FASTA-like or TSV file.

    With ``sequences`` (``{id: sequence}``) every id must be one of them and every FASTA-like
    label string as long as its sequence; TSV positions must lie within the sequence.
    """
    lines = _open_lines(path, "labels")
    first = next(
        (ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")), None
    )
    if first is None:
        raise LabelError(f"labels {path}: no labels in the file")
    if first.startswith(">"):
        labels, where = _read_fasta_like(path, lines)
        if sequences is not None:
            for rid, labs in labels.items():
                _check_id(rid, sequences, path, where[rid])
                if len(labs) != len(sequences[rid]):
                    raise LabelError(
                        f"{path}:{where[rid]}: labels for {rid!r} have {len(labs)} characters but "
                        f"the sequence has {len(sequences[rid])}; give one label per residue"
                    )
        return labels
    return _read_position_tsv(path, lines, sequences)


def _check_id(rid: str, sequences: dict[str, str], path, lineno: int) -> None:
    if rid not in sequences:
        raise LabelError(
            f"{path}:{lineno}: id {rid!r} is not in the sequences (ids are the first word of each "
            "FASTA header)"
        )


def _read_fasta_like(path, lines) -> tuple[dict[str, list[str | None]], dict[str, int]]:
    legend: dict[str, str] = {}
    chunks: dict[str, list[str]] = {}
    where: dict[str, int] = {}
    current = None
    for lineno, raw in enumerate(lines, 1):
        line = raw.strip()
        if line.startswith("#legend"):
            legend.update(_legend(line, path, lineno))
            continue
        if not line or line.startswith("#"):
            continue
        if line.startswith(">"):
            words = line[1:].split()
            if not words:
                raise LabelError(f"{path}:{lineno}: header without an id")
            if words[0] in chunks:
                raise LabelError(
                    f"{path}:{lineno}: duplicate id {words[0]!r} (first at line {where[words[0]]})"
                )
            current = words[0]
            chunks[current], where[current] = [], lineno
        elif current is None:
            raise LabelError(f"{path}:{lineno}: labels before the first '>' header")
        else:
            if any(c.isspace() for c in line):
                raise LabelError(
                    f"{path}:{lineno}: whitespace inside a label string; one character per residue"
                )
            chunks[current].append(line)
    labels = {
        rid: [None if c in NO_LABEL_CHARS else legend.get(c, c) for c in "".join(parts)]
        for rid, parts in chunks.items()
    }
    return labels, where


def _read_position_tsv(path, lines, sequences) -> dict[str, list[str | None]]:
    rows: dict[str, dict[int, str]] = {}
    first_line: dict[str, int] = {}
    for lineno, raw in enumerate(lines, 1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        fields = raw.rstrip("\r\n").split("\t")
        if [f.strip().lower() for f in fields] == ["id", "position", "label"]:
            continue
        if len(fields) != 3:
            raise LabelError(
                f"{path}:{lineno}: expected 3 tab-separated fields id, position, label; got {len(fields)}"
            )
        rid, pos_text, label = (f.strip() for f in fields)
        try:
            pos = int(pos_text)
        except ValueError:
            raise LabelError(
                f"{path}:{lineno}: position {pos_text!r} is not an integer (1-based)"
            ) from None
        if pos < 1:
            raise LabelError(
                f"{path}:{lineno}: position {pos} must be >= 1 (positions are 1-based)"
            )
        if not label:
            raise LabelError(f"{path}:{lineno}: empty label")
        if sequences is not None:
            _check_id(rid, sequences, path, lineno)
            if pos > len(sequences[rid]):
                raise LabelError(
                    f"{path}:{lineno}: position {pos} is past the end of {rid!r} ({len(sequences[rid])} long)"
                )
        per = rows.setdefault(rid, {})
        first_line.setdefault(rid, lineno)
        if pos in per and per[pos] != label:
            raise LabelError(
                f"{path}:{lineno}: position {pos} of {rid!r} labelled twice ({per[pos]!r}, {label!r})"
            )
        per[pos] = label
    out = {}
    for rid, per in rows.items():
        length = len(sequences[rid]) if sequences is not None else max(per)
        labs: list[str | None] = [None] * length
        for pos, label in per.items():
            labs[pos - 1] = label
        out[rid] = labs
    return out


def read_sequence_labels(path, ids: Sequence[str] | None = None) -> dict[str, str]:
    """Per-sequence labels ``{id: label}`` from a TSV of ``id<TAB>label`` rows; with ``ids``,
    every id must be one of them."""
    known = set(ids) if ids is not None else None
    out: dict[str, str] = {}
    for lineno, raw in enumerate(_open_lines(path, "sequence labels"), 1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        fields = [f.strip() for f in raw.rstrip("\r\n").split("\t")]
        if [f.lower() for f in fields] == ["id", "label"]:
            continue
        if len(fields) != 2 or not fields[0] or not fields[1]:
            raise LabelError(f"{path}:{lineno}: expected 2 tab-separated fields id, label")
        rid, label = fields
        if known is not None and rid not in known:
            raise LabelError(f"{path}:{lineno}: id {rid!r} is not in the sequences")
        if rid in out and out[rid] != label:
            raise LabelError(
                f"{path}:{lineno}: id {rid!r} labelled twice ({out[rid]!r}, {label!r})"
            )
        out[rid] = label
    if not out:
        raise LabelError(f"sequence labels {path}: no labels in the file")
    return out


# ---------------------------------------------------------------- alignment
def token_spans(
    token_unit: str,
    n_tokens: int,
    kmer_size: int | None = None,
    kmer_stride: int | None = None,
    kmer_offset: int = 0,
) -> list[tuple[int, int]]:
    """Character span ``(start, end)`` of each of the first ``n_tokens`` tokens of a sequence."""
    if token_unit in TOKEN_UNIT_SIZE:
        size = TOKEN_UNIT_SIZE[token_unit]
        return [(t * size, t * size + size) for t in range(n_tokens)]
    if token_unit == "kmer":
        if not kmer_size or kmer_size < 1:
            raise LabelError("token_unit 'kmer' needs kmer_size >= 1")
        stride = kmer_stride or kmer_size
        return [
            (kmer_offset + t * stride, kmer_offset + t * stride + kmer_size)
            for t in range(n_tokens)
        ]
    raise LabelError(f"token_unit {token_unit!r}: must be one of aa, codon, nt, kmer")


def _token_label(chars: list[str | None], rule: str) -> str | None:
    if rule == "first" or len(chars) == 1:
        return chars[0]
    counts = Counter(c for c in chars if c is not None)
    if not counts:
        return None
    top = max(counts.values())
    return next(c for c in chars if c is not None and counts[c] == top)


def align_residue_labels(
    order: Sequence[Sequence[int]],
    ids: Sequence[str],
    labels: dict[str, list[str | None]],
    token_unit: str = "aa",
    rule: str = "first",
    spans: Callable[[int, int], list[tuple[int, int]]] | None = None,
) -> list[str | None]:
    """One label (or ``None``) per store row.

    ``order``: the store's ``[sequence index, tokens]`` list; ``ids``: FASTA id of each input
    sequence by index (from :func:`read_fasta`); ``labels``: from :func:`read_residue_labels`.
    ``spans(seq_index, n_tokens)`` overrides :func:`token_spans` (e.g. for k-mers). Sequences
    without labels give ``None`` rows.
    """
    if rule not in TOKEN_RULES:
        raise LabelError(f"rule {rule!r}: must be one of {', '.join(TOKEN_RULES)}")
    out: list[str | None] = []
    for entry, (index, n_tok) in enumerate(order):
        if not 0 <= index < len(ids):
            raise LabelError(
                f"sequence order entry {entry}: sequence index {index} but the FASTA has {len(ids)}"
            )
        labs = labels.get(ids[index])
        if labs is None:
            out.extend([None] * n_tok)
            continue
        cuts = spans(index, n_tok) if spans is not None else token_spans(token_unit, n_tok)
        if len(cuts) != n_tok:
            raise LabelError(f"spans() gave {len(cuts)} spans for {n_tok} tokens of {ids[index]!r}")
        if cuts and cuts[-1][1] > len(labs):
            raise LabelError(
                f"{ids[index]!r}: {n_tok} tokens of unit {token_unit!r} need {cuts[-1][1]} characters "
                f"but the labels cover {len(labs)}; wrong token_unit or labels for another sequence?"
            )
        out.extend(_token_label(labs[a:b], rule) for a, b in cuts)
    return out


def align_sequence_labels(
    order: Sequence[Sequence[int]], ids: Sequence[str], labels: dict[str, str]
) -> list[str | None]:
    """Broadcast per-sequence labels to every row of the sequence (``None`` if unlabelled)."""
    out: list[str | None] = []
    for index, n_tok in order:
        out.extend([labels.get(ids[index])] * n_tok)
    return out


def label_matrix(row_labels: Sequence[str | None], names: Sequence[str] | None = None):
    """``(Y [N, L] bool one-hot, names, labelled [N] bool)`` from per-row labels; ``names``
    default to the sorted distinct labels. Rows with ``None`` (or a label not in ``names``) are
    all-False and ``labelled`` False: drop them before probing."""
    names = sorted({lab for lab in row_labels if lab is not None}) if names is None else list(names)
    col = {name: j for j, name in enumerate(names)}
    Y = np.zeros((len(row_labels), len(names)), dtype=bool)
    labelled = np.zeros(len(row_labels), dtype=bool)
    for i, lab in enumerate(row_labels):
        j = col.get(lab) if lab is not None else None
        if j is not None:
            Y[i, j] = True
            labelled[i] = True
    return Y, names, labelled


def read_sequence_order(store_dir) -> list[list[int]]:
    """``[sequence index, tokens]`` per sequence in row order, from a store written by a recipe's
    extract step (``metadata.json`` -> ``sequence_order_file``, else inline ``sequence_order``)."""
    store_dir = Path(store_dir)
    meta_path = store_dir / "metadata.json"
    if not meta_path.is_file():
        raise LabelError(f"{store_dir}: no metadata.json; is this an activation store?")
    meta = json.loads(meta_path.read_text())
    name = meta.get("sequence_order_file")
    if name:
        if Path(name).name != name:
            raise LabelError(
                f"{meta_path}: sequence_order_file {name!r} must be a file name in the store"
            )
        order = json.loads((store_dir / name).read_text())
    else:
        order = meta.get("sequence_order")
    if not order:
        raise LabelError(
            f"{store_dir}: the store records no sequence order (re-extract with a current recipe)"
        )
    return [[int(i), int(n)] for i, n in order]
