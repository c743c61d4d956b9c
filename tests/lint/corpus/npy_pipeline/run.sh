#!/bin/bash
set -euo pipefail
OUT=${OUT:-work/acts}
python extract.py --output "$OUT"
