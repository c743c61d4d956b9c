"""Python facts: argparse flags, data flow of args.<dest> into library calls, casts, masks."""

from __future__ import annotations

import ast

from recipegen.validators.facts_python import build
from recipegen.validators.rules.SAE301 import cast_kind
from recipegen.validators.rules.SAE302 import is_selected

SRC = """
import argparse
import torch
from sae.architectures import TopKSAE

BOOL = argparse.BooleanOptionalAction


def parse():
    p = argparse.ArgumentParser()
    p.add_argument("--normalize-input", action=BOOL, default=False)
    p.add_argument("--mix-shards", dest="mix", type=int, default=1)
    p.add_argument("--cache-dir", required=True)
    return p.parse_args()


def make(norm, dim):
    return TopKSAE(dim, dim * 8, 32, norm)


def loader(store, n):
    return store.get_streaming_dataloader(8, True, 0, 0, 1, None, n)


def main():
    args = parse()
    model = make(args.normalize_input, 16)
    loader(store, args.mix)
    h = model(tokens)
    sel = h[valid_mask]
    store.append(sel.to(torch.float16))
    store.append(h.bfloat16())
"""


def _facts():
    return build("train.py", SRC)


def test_flags():
    f = _facts()
    by_opt = {fl.options[0]: fl for fl in f.flags}
    assert by_opt["--normalize-input"].boolean_optional  # resolved through the BOOL alias
    assert by_opt["--mix-shards"].dest == "mix" and by_opt["--mix-shards"].type == "int"
    assert by_opt["--cache-dir"].required
    assert f.parse_known_args is False


def test_flow_through_parameters_and_positional_args():
    f = _facts()
    assert f.reaches("normalize_input", "TopKSAE", "normalize_input")  # via make(norm, ...)
    assert f.reaches("mix", "get_streaming_dataloader", "mix_shards")  # 7th positional
    assert not f.reaches("mix", "TopKSAE", "normalize_input")


def test_casts_and_selection():
    f = _facts()
    first, second = f.store_appends
    assert cast_kind(f, first.node.args[0], first.scope) == "cast"
    assert is_selected(f, first.node.args[0], first.scope)
    assert cast_kind(f, second.node.args[0], second.scope) == "bf16"
    assert not is_selected(f, second.node.args[0], second.scope)


def test_deep_trees_do_not_recurse():
    src = "x = 1\n" + "".join("    " * i + "if x:\n" for i in range(90)) + "    " * 90 + "y = 2\n"
    f = build("deep.py", src)
    assert ("y" in {name for (_, name) in f.assigns}) and isinstance(f.tree, ast.Module)
