"""Run `update` or `new` in a real process that interrupts itself between two file moves.

Usage: python interrupt_worker.py update|new RECIPE_DIR TEMPLATES_DIR SIGNAL N
After the N-th move of a staged file over its target (`os.replace` out of
`.recipegen/pending/`), the process sends itself SIGNAL (KILL or INT)."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from recipegen.generator.generate import generate
from recipegen.generator.render import TemplateSource
from recipegen.generator.update import update
from recipegen.generator.write import write

command, recipe, templates, sig, n = sys.argv[1:]
real_replace = os.replace
moves = 0


def interrupting_replace(src, dst, *args, **kwargs):
    global moves
    real_replace(src, dst, *args, **kwargs)
    if f"{os.sep}.recipegen{os.sep}pending{os.sep}" in os.fspath(src):
        moves += 1
        if moves == int(n):
            os.kill(os.getpid(), getattr(signal, f"SIG{sig}"))


os.replace = interrupting_replace
source = TemplateSource(templates)
if command == "update":
    update(recipe, templates=source)
else:
    rendered = generate("esm2", templates=source)
    write(Path(recipe), rendered.files)
print("finished without interruption")
