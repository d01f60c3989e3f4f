#!/usr/bin/env bash
# Builds the event-ruler oracle (RulerOracle) from event-ruler's source, pinned below, with
# javac and the Jackson and JSR-305 jars of Debian's packages:
#   apt-get install openjdk-17-jdk-headless libjackson2-databind-java libjsr305-java
# event-ruler's source comes from a git repository: EVENT_RULER_GIT (a clone or a bare git
# directory holding the pinned commit), or else a fresh clone of
# https://github.com/aws/event-ruler. Nothing of event-ruler is kept in this repository.
# Output: $OUT (default: $CARGO_TARGET_DIR or target/, then ruler-oracle/), holding
# classes/; run it with crates/pattern/oracle/label.sh.
set -euo pipefail

# event-ruler v2.0.1
RULER_COMMIT=13297de440df1ab19c0c491e5874399b05dd00fa

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
out="${OUT:-${CARGO_TARGET_DIR:-$root/target}/ruler-oracle}"
java_dir="${JAVA_LIBS:-/usr/share/java}"

for jar in jackson-core jackson-databind jackson-annotations jsr305; do
    if [ ! -f "$java_dir/$jar.jar" ]; then
        echo "error: $java_dir/$jar.jar is missing; install libjackson2-databind-java and libjsr305-java (or set JAVA_LIBS)" >&2
        exit 1
    fi
done

git_dir="${EVENT_RULER_GIT:-}"
if [ -z "$git_dir" ]; then
    git_dir="$out/event-ruler.git"
    if [ ! -d "$git_dir" ]; then
        git clone --bare https://github.com/aws/event-ruler "$git_dir"
    fi
fi
if ! git --git-dir="$git_dir" cat-file -e "$RULER_COMMIT^{commit}" 2>/dev/null; then
    git_dir="$(cd "$git_dir" && git rev-parse --absolute-git-dir)"
fi
git --git-dir="$git_dir" cat-file -e "$RULER_COMMIT^{commit}" || {
    echo "error: $git_dir does not hold event-ruler commit $RULER_COMMIT (v2.0.1); fetch it or point EVENT_RULER_GIT at a clone that does" >&2
    exit 1
}

rm -rf "$out/src" "$out/classes"
mkdir -p "$out/src" "$out/classes"
# File by file (not `git archive`): a partial clone may lack blobs outside src/main.
git --git-dir="$git_dir" ls-tree -r --name-only "$RULER_COMMIT" src/main | while read -r file; do
    mkdir -p "$out/src/$(dirname "$file")"
    git --git-dir="$git_dir" show "$RULER_COMMIT:$file" > "$out/src/$file"
done
classpath="$java_dir/jackson-core.jar:$java_dir/jackson-databind.jar:$java_dir/jackson-annotations.jar:$java_dir/jsr305.jar"
find "$out/src/src/main" "$here/src" -name '*.java' > "$out/sources.txt"
javac -nowarn -encoding UTF-8 --release 17 -cp "$classpath" -d "$out/classes" @"$out/sources.txt"
echo "$RULER_COMMIT" > "$out/classes/RULER_COMMIT"
echo "built the event-ruler oracle ($RULER_COMMIT) into $out/classes"
