#!/usr/bin/env bash
# Builds and runs the libFuzzer targets (docs/FUZZING.md):
#   Tools/fuzz.sh TARGET SECONDS [libFuzzer options…]   TARGET: http, json, track, wal or segment
#   Tools/fuzz.sh all SECONDS [libFuzzer options…]      every target, one after the other
# Each target starts from its seeds in Fuzz/Corpus/TARGET and keeps what it finds in .build-fuzz/corpus/TARGET
# (git-ignored); a crashing input is written to Fuzz/Artifacts/ (git-ignored). Exits non-zero on a crash, an
# AddressSanitizer report, a leak, an input slower than 10 s or an allocation over 256 MiB.
set -euo pipefail
cd "$(dirname "$0")/.."
targets=(http json track wal segment)
usage="usage: Tools/fuzz.sh TARGET|all SECONDS [libFuzzer options…] (targets: ${targets[*]})"
target=${1:?$usage}
seconds=${2:?$usage}
shift 2
if [[ $target == all ]]; then
    selected=("${targets[@]}")
elif [[ " ${targets[*]} " == *" $target "* ]]; then
    selected=("$target")
else
    echo "$usage" >&2
    exit 2
fi

Tools/setup.sh
mkdir -p .build-fuzz Fuzz/Artifacts
for name in "${selected[@]}"; do
    # --sanitize=fuzzer makes SwiftPM link libFuzzer's main instead of the target's; -Xswiftc adds ASan to it
    # (the driver keeps only the last -sanitize flag). SwiftPM also compiles the EmbedAssets plugin's tool this
    # way, which fails harmlessly: the fuzz targets do not use it, so the log is shown only when the build fails.
    echo "== building fuzz-$name"
    if ! CLARM_FUZZ=1 swift build -c release --scratch-path .build-fuzz --product "fuzz-$name" \
        --sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address -Xswiftc -enable-testing > .build-fuzz/build.log 2>&1; then
        cat .build-fuzz/build.log >&2
        exit 1
    fi
done

for name in "${selected[@]}"; do
    corpus=.build-fuzz/corpus/$name
    mkdir -p "$corpus"
    options=(-max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=256 -timeout=10
             -artifact_prefix="Fuzz/Artifacts/$name-" -print_final_stats=1)
    [[ -f Fuzz/Dictionaries/$name.dict ]] && options+=(-dict="Fuzz/Dictionaries/$name.dict")
    echo "== fuzz-$name for $seconds s"
    # Swift's own crash reporter would race libFuzzer's and AddressSanitizer's; theirs name the input.
    SWIFT_BACKTRACE=enable=no .build-fuzz/release/fuzz-"$name" "${options[@]}" "$@" "$corpus" "Fuzz/Corpus/$name" 2>&1 \
        | grep -v -e '^#[0-9]*[[:space:]]*\(NEW\|REDUCE\|pulse\)' -e '^	NEW_FUNC'
done
