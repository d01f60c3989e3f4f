#!/usr/bin/env bash
# Regenerates the event-ruler-labelled corpora under crates/pattern/tests/conformance/:
#   ruler-patterns.jsonl  seed 1, the recorded corpus CI runs (with ruler-exceptions.json)
#   ruler-heldout.jsonl   seed 2, generated independently, for the agreement figure
#   ruler-edges.jsonl     seed 3 of the edge kinds (`ruler_cases --edges`), 3,000 cases
# Needs the oracle built by build.sh (Java 17, Debian's Jackson and JSR-305 jars, the
# event-ruler source). CI needs none of this: it reads the checked-in files.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
corpus="$root/crates/pattern/tests/conformance"
count="${COUNT:-3400}"
cd "$root"
cargo build -q -p eventrail-pattern --example ruler_cases
examples="${CARGO_TARGET_DIR:-$root/target}/debug/examples"
for pair in "1 ruler-patterns" "2 ruler-heldout"; do
    set -- $pair
    "$examples/ruler_cases" --seed "$1" --count "$count" | "$here/label.sh" > "$corpus/$2.jsonl"
    echo "wrote $corpus/$2.jsonl (seed $1)"
done
"$examples/ruler_cases" --edges --seed 3 --count "${EDGE_COUNT:-3000}" | "$here/label.sh" > "$corpus/ruler-edges.jsonl"
echo "wrote $corpus/ruler-edges.jsonl (edges, seed 3)"
