#!/bin/sh
# Builds the learned scorer's training set (docs/detector.md, "The learned
# scorer"): synthetic clips H.264-encoded (crf 20, synth's default) and run
# through `batch` exactly as the pipeline sees them, with FT_CLASSIC_DUMP
# writing each frame's best candidates (features and patches) next to the
# generator's truth. Seeds 20-57 are used nowhere else (the eval suite uses
# 1-3, the tests 2-9); 9-12 stay held out.
#   tools/classic_net/make_dataset.sh BUILD/football-tracker DIR
# Re-running skips the clips already there. About 25 s per clip on the dev VM.
set -eu
bin=$1
dir=$2
mkdir -p "$dir/dump"
clip() { # scenario seed [--overlay]
    name=$1-$2${3:+-ov}
    if [ ! -f "$dir/$name.csv" ]; then
        "$bin" synth --out "$dir/$name.mp4" --truth "$dir/$name.csv.tmp" --seconds 10 \
            --seed "$2" --scenario "$1" ${3:-} >/dev/null 2>&1
        mv "$dir/$name.csv.tmp" "$dir/$name.csv"
    fi
    if [ ! -f "$dir/dump/$name.bin" ]; then
        rm -f "$dir/dump/$name.bin.tmp"
        FT_CLASSIC_DUMP="$dir/dump/$name.bin.tmp" "$bin" batch --input "$dir/$name.mp4" \
            --output "$dir/out.mp4" --no-progress >/dev/null 2>&1
        mv "$dir/dump/$name.bin.tmp" "$dir/dump/$name.bin"
    fi
}
for s in 20 21 22 23 24 25 26 27 28 29; do clip wide $s; done
for s in 30 31 32 33 34 35 36 37 38 39; do clip night $s; done
for s in 40 41 42 43 44 45 46 47; do clip broadcast $s; done
for s in 48 49 50 51 52; do clip cuts $s; done
for s in 53 54 55; do clip broadcast $s --overlay; done
for s in 56 57; do clip wide $s --overlay; done
rm -f "$dir/out.mp4"
echo "training set in $dir"
