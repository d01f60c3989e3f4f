#!/usr/bin/env bash
# Labels cases with event-ruler's verdict: name<TAB>pattern<TAB>event lines on stdin,
# JSONL corpus lines on stdout. Build the oracle first with build.sh (same OUT).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
out="${OUT:-${CARGO_TARGET_DIR:-$root/target}/ruler-oracle}"
java_dir="${JAVA_LIBS:-/usr/share/java}"
if [ ! -d "$out/classes" ]; then
    echo "error: $out/classes is missing; run crates/pattern/oracle/build.sh first" >&2
    exit 1
fi
classpath="$out/classes:$java_dir/jackson-core.jar:$java_dir/jackson-databind.jar:$java_dir/jackson-annotations.jar:$java_dir/jsr305.jar"
exec java -cp "$classpath" eventrail.oracle.RulerOracle
