"""The streaming scan against brute force on dense codes of a real TopK SAE."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from sae.analysis import Segments, scan_activations  # noqa: E402
from sae.analysis.scan import HIST_BINS, HIST_BINS_PER_DECADE, HIST_LOG10_MIN  # noqa: E402
from sae.architectures import TopKSAE  # noqa: E402

N_LATENTS = 48


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    sae = TopKSAE(12, N_LATENTS, 5).eval()
    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 40, size=23)
    x = torch.randn(int(lengths.sum()), 12)
    labels = rng.integers(-1, 6, size=len(x))  # -1: unlabelled token
    with torch.no_grad():
        codes = sae.encode(x).numpy()
    return sae, lengths, x, labels, codes


def run(setup, shard_rows=37, batch_size=16, top_k=4, window=3):
    sae, lengths, x, labels, _ = setup
    arr = x.numpy()

    def shards():  # shards cut across sequence boundaries on purpose
        return (arr[i : i + shard_rows] for i in range(0, len(arr), shard_rows))

    seg = Segments(lengths, np.arange(len(lengths)) * 10 + 1)
    return scan_activations(
        sae.encode,
        N_LATENTS,
        shards,
        seg,
        row_labels=lambda a, b: labels[a:b],
        label_names=[f"L{i}" for i in range(6)],
        top_k=top_k,
        window=window,
        batch_size=batch_size,
        show_progress=False,
    )


def brute_top(codes, lengths, f, top_k):
    """Per latent: strongest row of each sequence, then the top_k sequences."""
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    best = []
    for s in range(len(lengths)):
        col = codes[offsets[s] : offsets[s + 1], f]
        if col.max() > 0:
            r = int(col.argmax())
            best.append((float(col[r]), offsets[s] + r))
    best.sort(key=lambda e: (-e[0], e[1]))
    return best[:top_k]


def test_stats_match_dense_codes(setup):
    codes = setup[4]
    res = run(setup)
    active = codes > 0
    for f, s in enumerate(res.stats):
        vals = codes[active[:, f], f]
        assert s.total_activations == len(vals)
        assert s.activation_freq == pytest.approx(len(vals) / len(codes))
        if len(vals):
            assert s.mean_activation == pytest.approx(vals.mean(), rel=1e-5)
            assert s.std_activation == pytest.approx(vals.std(), rel=1e-3, abs=1e-6)
            assert s.max_activation == pytest.approx(vals.max(), rel=1e-6)
    assert sum(s.total_activations for s in res.stats) == int(active.sum())


def test_top_examples_one_per_sequence_and_windows(setup):
    _, lengths, _, _, codes = setup
    res = run(setup)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    checked = 0
    for f in range(N_LATENTS):
        want = brute_top(codes, lengths, f, 4)
        got = [
            (float(v), int(r))
            for v, r in zip(res.top_values[f], res.top_rows[f], strict=True)
            if r >= 0
        ]
        assert [r for _, r in got] == [r for _, r in want]
        np.testing.assert_allclose([v for v, _ in got], [v for v, _ in want], rtol=1e-6)
        for rank, (_, row) in enumerate(got):
            seg = int(np.searchsorted(offsets, row, side="right") - 1)
            pos = row - offsets[seg]
            start = int(res.window_start[f, rank])
            assert start == max(0, pos - 3)
            end = min(pos + 4, lengths[seg])
            window = res.windows[f][rank]
            np.testing.assert_allclose(
                window, codes[offsets[seg] + start : offsets[seg] + end, f], rtol=1e-6
            )
            assert window[pos - start] == pytest.approx(codes[row, f])
            checked += 1
    assert checked > N_LATENTS  # most latents have several examples


def test_histogram_and_label_hits(setup):
    _, _, _, labels, codes = setup
    res = run(setup)
    active = codes > 0
    np.testing.assert_array_equal(res.histogram.sum(1), active.sum(0))
    f = int(active.sum(0).argmax())
    vals = codes[active[:, f], f]
    bins = np.clip(
        np.floor((np.log10(vals) - HIST_LOG10_MIN) * HIST_BINS_PER_DECADE), 0, HIST_BINS - 1
    )
    np.testing.assert_array_equal(
        res.histogram[f], np.bincount(bins.astype(int), minlength=HIST_BINS)
    )
    for lab in range(6):
        assert res.label_counts[lab] == int((labels == lab).sum())
        np.testing.assert_array_equal(
            res.label_hits[:, lab], (active & (labels == lab)[:, None]).sum(0)
        )
    names, f1 = res.best_labels()
    fires = active.sum(0)
    for g in range(N_LATENTS):
        scores = [2 * res.label_hits[g, j] / (fires[g] + res.label_counts[j]) for j in range(6)]
        assert f1[g] == pytest.approx(max(scores), rel=1e-6)
        assert names[g] == (f"L{int(np.argmax(scores))}" if max(scores) > 0 else None)


def test_result_does_not_depend_on_shard_or_batch_size(setup):
    a = run(setup, shard_rows=37, batch_size=16)
    b = run(setup, shard_rows=500, batch_size=1000)
    np.testing.assert_array_equal(a.top_rows, b.top_rows)
    np.testing.assert_array_equal(a.histogram, b.histogram)
    np.testing.assert_array_equal(a.label_hits, b.label_hits)


def test_order_that_does_not_describe_the_store_is_refused(setup):
    sae, lengths, x, _, _ = setup
    seg = Segments(lengths[:-1], np.arange(len(lengths) - 1))
    with pytest.raises(ValueError, match="sequence order accounts for"):
        scan_activations(sae.encode, N_LATENTS, lambda: [x.numpy()], seg, show_progress=False)
