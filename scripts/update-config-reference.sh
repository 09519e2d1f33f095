#!/bin/sh
# Regenerates the configuration reference in README.md (between the
# config-reference markers) from the option tables compiled into the program.
# usage: scripts/update-config-reference.sh [path/to/football-tracker]
set -eu
cd "$(dirname "$0")/.."
bin=${1:-build/football-tracker}
tmp=$(mktemp)
trap 'rm -f "$tmp" "$tmp.ref"' EXIT
"$bin" config --reference > "$tmp.ref"
awk -v ref="$tmp.ref" '
    /<!-- config-reference:begin -->/ { print; while ((getline l < ref) > 0) print l; skip = 1; next }
    /<!-- config-reference:end -->/ { skip = 0 }
    !skip { print }
' README.md > "$tmp"
cp "$tmp" README.md
echo "README.md: configuration reference updated"
