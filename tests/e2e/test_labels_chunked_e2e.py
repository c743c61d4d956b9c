"""--labels on a chunked activation cache (evo2: predict_cli, sequences longer than CHUNK_SIZE):
each chunk's rows take the labels of their own place in the whole input sequence."""

from __future__ import annotations

import json

import pytest
from e2e_helpers import render, run_env, run_launch

pytestmark = pytest.mark.e2e
pq = pytest.importorskip("pyarrow.parquet")


def test_evo2_labels_follow_each_chunk_to_its_place(tmp_path, dna_fasta):
    recipe = render("evo2", tmp_path)
    work = tmp_path / "work"
    seqs = dna_fasta.read_text().split("\n")[1::2]
    # position c of sequence i is labelled "abc"[(c // 7 + i) % 3]: a chunk mapped to the wrong
    # place (or the wrong sequence) gets other labels
    names = {"a": "alpha", "b": "beta", "c": "gamma"}
    lines = ["#legend a=alpha b=beta c=gamma"]
    for i, s in enumerate(seqs):
        lines += [f">s{i}", "".join("abc"[(c // 7 + i) % 3] for c in range(len(s)))]
    labels = tmp_path / "labels.fasta"
    labels.write_text("\n".join(lines) + "\n")
    env = run_env(
        MAX_SEQUENCES="24", EVAL_FRACTION="0.5", BATCH_SIZE="256", N_EPOCHS="1",
        INPUT=str(dna_fasta), CHECKPOINT=str(tmp_path), PREDICT_MODULE="evo2_predict",
        PREDICT_ARGS="--hidden-dim 48", LAYER="2", CHUNK_SIZE="128", LABELS=str(labels),
        WORK=str(work),
    )  # fmt: skip
    run_launch(recipe, env, "--smoke")
    meta = json.loads((work / "cache_eval" / "metadata.json").read_text())
    assert meta["chunked_sequences"] > 0  # the case under test
    headers = [h for h in (work / "cache_eval" / meta["sequences_file"]).read_text().split("\n")
               if h.startswith(">")]  # fmt: skip
    sources = [tuple(int(v) for v in h.split("source=")[1].split(":")) for h in headers]
    chunks = (work / "cache_eval" / meta["sequences_file"]).read_text().split("\n")[1::2]
    for (i, start), text in zip(sources, chunks, strict=True):
        assert seqs[i][start : start + len(text)] == text  # the header says where it comes from
    report = json.loads((work / "eval" / "report.json").read_text())
    assert set(report["labels"]["label_names"]) == {"alpha", "beta", "gamma"}
    assert report["labels"]["n_tokens"] == meta["n_samples"]
    examples = pq.read_table(work / "analysis" / "feature_examples.parquet").to_pylist()
    assert examples
    order = json.loads((work / "cache_eval" / meta["sequence_order_file"]).read_text())
    for r in examples:
        chunk, _ = order[r["text_idx"]]
        i, start = sources[chunk]
        tokens = json.loads(r["tokens_json"])
        want = [names["abc"[((start + c) // 7 + i) % 3]]
                for c in range(r["window_start"], r["window_start"] + len(tokens))]  # fmt: skip
        assert [t.get("label") for t in tokens] == want
        # named by FASTA id and where the chunk starts (1-based), not by the chunk's index
        assert r["sequence_name"] == f"s{i}@{start + 1}"
