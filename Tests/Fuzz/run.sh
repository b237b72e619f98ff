#!/bin/bash
# Builds one libFuzzer target (with address sanitizer) and runs it:
#
#   bash Tests/Fuzz/run.sh TARGET [SECONDS [RUNS]]   # default 60 s; stop after RUNS inputs
#   bash Tests/Fuzz/run.sh --list
#
# A target is a type in Tests/Fuzz/Targets/ (its `name` is TARGET): a check that
# any input must pass and seeds made by the real encoders. The modules it tests
# are built once by SwiftPM with coverage, address sanitizer and testable imports
# (in .build/fuzz/spm); Entry.swift, FuzzTarget.swift and the target's file are
# linked against them. The corpus libFuzzer grows, and any crash, leak or timeout
# input (crash-*, leak-*, timeout-*), stay in .build/fuzz/TARGET/. A failing input
# goes into Tests/Fuzz/Regressions/TARGET/, where `swift test` runs it again.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
fuzz="$top/Tests/Fuzz"
# name, type, file, longest input
targets="
toml            TOMLFuzz            TOMLFuzz             8192
batch           BatchFuzz           BatchFuzz            8192
segment         SegmentFuzz         SegmentFuzz          16384
index           IndexFuzz           IndexFuzz            4096
offsets         OffsetsFuzz         OffsetsFuzz          64
append          AppendFuzz          AppendFuzz           4096
mqtt            PayloadFuzz         PayloadFuzz          8192
line-protocol   LineProtocolFuzz    LineProtocolFuzz     8192
serial-csv      SerialCSVFuzz       SerialLineFuzz       4096
serial-kv       SerialKeyValueFuzz  SerialLineFuzz       4096
serial-json     SerialJSONFuzz      SerialLineFuzz       4096
serial-nmea     SerialNMEAFuzz      SerialLineFuzz       4096
"
if [ "${1:-}" = "--list" ]; then echo "$targets" | awk 'NF { print $1 }'; exit 0; fi
target=${1:?usage: Tests/Fuzz/run.sh TARGET [SECONDS [RUNS]] (--list names them)}
seconds=${2:-60}
runs=${3:--1}
read -r _ type file max_len < <(echo "$targets" | awk -v t="$target" '$1 == t') \
    || { echo "run.sh: no fuzz target $target; --list names them" >&2; exit 2; }

spm="$top/.build/fuzz/spm"
work="$top/.build/fuzz/$target"
rm -rf "$work/seeds"
mkdir -p "$work/corpus" "$work/seeds" "$work/artifacts"

# The decoders' modules (TributaryHardware brings TributaryCore and TributaryLog).
swift build --package-path "$top" --scratch-path "$spm" -c release --target TributaryHardware \
    --sanitize address -Xswiftc -sanitize=fuzzer -Xswiftc -enable-testing > "$work/build.log" 2>&1 \
    || { cat "$work/build.log" >&2; exit 1; }
modules="$spm/release"
mapfile -d '' objects < <(find -H "$modules" -path '*.build/*.o' -print0)
echo "typealias Target = $type" > "$work/target.swift"
swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name FuzzTarget \
    -I "$modules/Modules" -I "$top/Sources/CTributaryShims/include" \
    -Xcc -fmodule-map-file="$modules/CTributaryShims.build/module.modulemap" \
    -Xcc -fmodule-map-file="$top/Sources/CModbus/module.modulemap" \
    -Xcc -fmodule-map-file="$spm/checkouts/swift-system/Sources/CSystem/include/module.modulemap" \
    "$fuzz/Entry.swift" "$fuzz/Targets/FuzzTarget.swift" "$fuzz/Targets/$file.swift" "$work/target.swift" \
    "${objects[@]}" -lmodbus -o "$work/fuzz-$target" >> "$work/build.log" 2>&1 \
    || { cat "$work/build.log" >&2; exit 1; }

dictionary=()
[ -f "$fuzz/Dictionaries/$target.dict" ] && dictionary=(-dict="$fuzz/Dictionaries/$target.dict")
cd "$work"
# Swift's own crash handler would fight libFuzzer's (and hang in ASan): libFuzzer reports.
SWIFT_BACKTRACE=enable=no TRIBUTARY_FUZZ_SEEDS="$work/seeds" "./fuzz-$target" "${dictionary[@]}" -max_total_time="$seconds" -runs="$runs" \
    -max_len="$max_len" -timeout=5 -rss_limit_mb=2048 -artifact_prefix="$work/artifacts/" \
    -print_final_stats=1 corpus seeds 2>&1 \
    | grep -E "^(Done|stat::number_of_executed_units|stat::peak_rss_mb)|ERROR|SUMMARY|crash-|timeout-|leak-|==[0-9]+==|Fatal error|Precondition"
