#!/usr/bin/env bash
# Rebuild splade-lite-search.jar from the .java files here against Pyserini's Anserini jar.
# Needs a JDK 21+ (javac; JAVAC=... to choose one) and the Python that has pyserini
# (PYTHON=...); the jar is committed, so users never run this.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
javac=${JAVAC:-$(ls /usr/lib/jvm/*/bin/javac 2>/dev/null | sort -V | tail -1)}
jar_tool=$(dirname "$javac")/jar
anserini=$("${PYTHON:-python3}" -c "import importlib.util, pathlib; s = importlib.util.find_spec('pyserini'); print(next((pathlib.Path(s.origin).parent / 'resources' / 'jars').glob('anserini-*-fatjar.jar')))")
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
"$javac" --release 21 -cp "$anserini" -d "$build" "$here"/*.java
# written beside and renamed: a JVM running from the old jar keeps reading the old file
"$jar_tool" --create --date=2026-01-01T00:00:00Z --file "$here/.splade-lite-search.jar.tmp" -C "$build" splade_lite
mv "$here/.splade-lite-search.jar.tmp" "$here/splade-lite-search.jar"
echo "built $here/splade-lite-search.jar"
