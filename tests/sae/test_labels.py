"""sae.labels: reading and validating user labels, and aligning them to store rows by token unit
(aa, codon, nt, k-mer), checked against rows written out by hand."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sae.labels import (
    LabelError,
    align_residue_labels,
    align_sequence_labels,
    label_matrix,
    read_fasta,
    read_residue_labels,
    read_sequence_labels,
    read_sequence_order,
    token_spans,
)

REPO = Path(__file__).resolve().parents[2]


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_fasta_like_labels_with_legend_wrap_and_no_label(tmp_path):
    fa = read_fasta(_write(tmp_path, "s.fasta", ">p1 some protein\nMKV\nLA\n>p2\nGG\n"))
    assert fa == [("p1", "MKVLA"), ("p2", "GG")]
    labels = read_residue_labels(
        _write(tmp_path, "l.fasta", "#legend H=helix E=strand\n>p1\nHHE\n.E\n>p2\nCC\n"), dict(fa)
    )
    assert labels == {"p1": ["helix", "helix", "strand", None, "strand"], "p2": ["C", "C"]}


def test_tsv_position_labels(tmp_path):
    fa = dict(read_fasta(_write(tmp_path, "s.fasta", ">a\nMKVL\n>b\nGGG\n")))
    path = _write(
        tmp_path, "l.tsv", "id\tposition\tlabel\na\t1\tsignal\na\t2\tsignal\nb\t3\tsite\n"
    )
    assert read_residue_labels(path, fa) == {
        "a": ["signal", "signal", None, None],
        "b": [None, None, "site"],
    }


@pytest.mark.parametrize(
    "text,needle",
    [
        (">a\nHHH\n", "have 3 characters but the sequence has 4"),
        (">zz\nHHHH\n", "id 'zz' is not in the sequences"),
        (">a\nHHHH\n>a\nHHHH\n", "duplicate id 'a'"),
        ("HHHH\n", "expected 3 tab-separated fields"),
        ("a\t0\tx\n", "position 0 must be >= 1"),
        ("a\t9\tx\n", "position 9 is past the end of 'a'"),
        ("a\tone\tx\n", "is not an integer"),
        ("a\t1\tx\na\t1\ty\n", "labelled twice"),
        ("#legend C\n>a\nCCCC\n", "must be CHAR=NAME"),
    ],
)
def test_bad_label_files_name_file_and_line(tmp_path, text, needle):
    fa = {"a": "MKVL"}
    path = _write(tmp_path, "bad.txt", text)
    with pytest.raises(LabelError) as err:
        read_residue_labels(path, fa)
    assert needle in str(err.value) and f"{path}:" in str(err.value)  # file and line


def test_sequence_labels(tmp_path):
    path = _write(tmp_path, "s.tsv", "id\tlabel\na\tkinase\nb\tprotease\n")
    assert read_sequence_labels(path, ["a", "b", "c"]) == {"a": "kinase", "b": "protease"}
    with pytest.raises(LabelError, match=r"s\.tsv:3: id 'b' is not in the sequences"):
        read_sequence_labels(path, ["a"])
    with pytest.raises(LabelError, match="not a regular file"):
        read_sequence_labels(tmp_path / "missing.tsv")


def test_aa_alignment_follows_sequence_order_and_truncation():
    ids = ["s0", "s1", "s2"]
    labels = {"s0": list("AABB"), "s1": list("CCD"), "s2": list("EE")}
    order = [[1, 3], [0, 2], [2, 2]]  # s1 first; s0 truncated to 2 tokens
    rows = align_residue_labels(order, ids, labels, "aa")
    assert rows == ["C", "C", "D", "A", "A", "E", "E"]
    assert align_residue_labels([[0, 4]], ids, {}, "aa") == [None] * 4  # unlabelled sequence


def test_codon_alignment_first_and_majority():
    # 9 nt = 3 codons; per-nt labels
    labels = {"g": list("EEIIIEEEI")}
    assert align_residue_labels([[0, 3]], ["g"], labels, "codon") == ["E", "I", "E"]
    assert align_residue_labels([[0, 3]], ["g"], labels, "codon", rule="majority") == [
        "E",
        "I",
        "E",
    ]
    labels = {"g": list("EII") + ["I", None, None] + [None, "X", "Y"]}
    assert align_residue_labels([[0, 3]], ["g"], labels, "codon", rule="majority") == [
        "I",
        "I",
        "X",
    ]
    assert align_residue_labels([[0, 3]], ["g"], labels, "codon", rule="first") == ["E", "I", None]
    with pytest.raises(LabelError, match="need 12 characters but the labels cover 9"):
        align_residue_labels([[0, 4]], ["g"], labels, "codon")


def test_nt_and_kmer_alignment():
    labels = {"d": list("exxeeiii")}
    assert align_residue_labels([[0, 8]], ["d"], labels, "nt") == list("exxeeiii")
    assert token_spans("kmer", 3, kmer_size=3, kmer_stride=2, kmer_offset=1) == [
        (1, 4),
        (3, 6),
        (5, 8),
    ]
    rows = align_residue_labels(
        [[0, 3]],
        ["d"],
        labels,
        "kmer",
        rule="majority",
        spans=lambda i, n: token_spans("kmer", n, 3, 2, 1),
    )
    assert rows == ["x", "e", "i"]
    with pytest.raises(LabelError, match="must be one of aa, codon, nt, kmer"):
        token_spans("word", 2)


def test_sequence_labels_broadcast_and_label_matrix():
    rows = align_sequence_labels([[1, 2], [0, 1]], ["a", "b"], {"b": "kinase"})
    assert rows == ["kinase", "kinase", None]
    Y, names, labelled = label_matrix(["CDR3", None, "FR1", "CDR3"])
    assert names == ["CDR3", "FR1"]
    np.testing.assert_array_equal(Y, [[1, 0], [0, 0], [0, 1], [1, 0]])
    np.testing.assert_array_equal(labelled, [True, False, True, True])


def test_read_sequence_order_from_a_store(tmp_path):
    (tmp_path / "metadata.json").write_text(
        json.dumps({"sequence_order_file": "sequence_order.json"})
    )
    (tmp_path / "sequence_order.json").write_text("[[2, 5], [0, 3]]")
    assert read_sequence_order(tmp_path) == [[2, 5], [0, 3]]
    (tmp_path / "metadata.json").write_text(json.dumps({"sequence_order_file": "../x.json"}))
    with pytest.raises(LabelError, match="must be a file name"):
        read_sequence_order(tmp_path)


def test_shipped_antibody_set_labels_align_one_region_per_residue():
    fasta = REPO / "recipegen" / "data" / "antibody_heavy.fasta"
    regions = REPO / "recipegen" / "data" / "antibody_heavy.regions.fasta"
    records = read_fasta(fasta)
    labels = read_residue_labels(regions, dict(records))
    assert len(records) == len(labels) >= 1000
    order = [[i, len(seq)] for i, (_, seq) in enumerate(records)]
    rows = align_residue_labels(order, [r for r, _ in records], labels, "aa")
    Y, names, labelled = label_matrix(rows)
    assert names == sorted(["FR1", "CDR1", "FR2", "CDR2", "FR3", "CDR3", "FR4"]) and labelled.all()
    # every chain reads FR1 CDR1 FR2 CDR2 FR3 CDR3 FR4 in order, and ends with the J motif
    for rid, seq in records[:50]:
        runs = [lab for i, lab in enumerate(labels[rid]) if i == 0 or labels[rid][i - 1] != lab]
        assert runs == ["FR1", "CDR1", "FR2", "CDR2", "FR3", "CDR3", "FR4"]
        assert seq[labels[rid].index("FR4")] == "W"
