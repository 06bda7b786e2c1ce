#!/usr/bin/env bash
# The public API of a workspace crate, one item a line (see
# scripts/public-api.py), from rustdoc's JSON output.
#
#   scripts/public-api.sh lava-pipeline > lava-pipeline/public-api.txt
#
# rustdoc's JSON output is an unstable rustdoc option: it is enabled on the
# stable toolchain with RUSTC_BOOTSTRAP=1 (only for this listing; nothing
# is built with it). Default features unless CARGO ARGS say otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
crate="${1:?usage: scripts/public-api.sh CRATE}"
shift
RUSTC_BOOTSTRAP=1 cargo rustdoc -q -p "$crate" --lib "$@" -- -Z unstable-options --output-format json
python3 scripts/public-api.py "target/doc/${crate//-/_}.json"
