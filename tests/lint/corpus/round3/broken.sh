#!/bin/bash
# a reserved word where a command belongs: bash -n rejects it
set -euo pipefail
if then fi
echo done
