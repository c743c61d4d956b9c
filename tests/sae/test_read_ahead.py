"""sae.shard_io.read_ahead: order, errors, and no read left in flight once the consumer stops
(a process exiting mid-read inside pyarrow's C++ reader can abort)."""

from __future__ import annotations

import threading
import time

import pytest
from sae.shard_io import read_ahead


def test_yields_in_order_and_surfaces_errors_in_order():
    assert list(read_ahead(range(6), lambda i: i * i)) == [0, 1, 4, 9, 16, 25]

    def fn(i):
        if i == 2:
            raise ValueError("bad shard 2")
        return i

    gen = read_ahead(range(5), fn)
    assert [next(gen), next(gen)] == [0, 1]
    with pytest.raises(ValueError, match="bad shard 2"):
        next(gen)


def test_closing_early_waits_for_the_read_in_flight():
    started, finished = [], []

    def slow(i):
        started.append(i)
        time.sleep(0.3)
        finished.append(i)
        return i

    gen = read_ahead(range(10), slow, depth=1)
    assert next(gen) == 0
    time.sleep(0.05)  # the worker is now inside slow(1)
    assert started == [0, 1] and finished == [0]
    gen.close()
    assert finished == started  # nothing left half-read
    assert not [t for t in threading.enumerate() if t.name == "sae-store-read-ahead"]
    time.sleep(0.4)
    assert started == [0, 1]  # and nothing new was started after the close
