#!/bin/bash
# Builds one libFuzzer target (with address sanitizer) and runs it:
#
#   bash Tests/Fuzz/run.sh TARGET [SECONDS]      # default 60 s
#
# TARGET is a file Tests/Fuzz/TARGET.swift (entry LLVMFuzzerTestOneInput), compiled with
# the sources it tests (listed below) as one module, without SwiftPM. Seeds come from
# the repository's real files; the corpus libFuzzer grows, and any crash, leak or
# timeout input (crash-*, leak-*, timeout-*), stay in .build/fuzz/TARGET/. A failing
# input becomes a regression test in `swift test` with the input itself.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
target=${1:?usage: Tests/Fuzz/run.sh TARGET [SECONDS]}
seconds=${2:-60}
work="$top/.build/fuzz/$target"
mkdir -p "$work/corpus" "$work/seeds" "$work/artifacts"
configuration="$top/Sources/TributaryCore/Configuration"

case "$target" in
    toml)
        sources=("$configuration"/TOML/*.swift "$configuration/ConfigurationNode.swift"
                 "$configuration/ConfigurationPath.swift" "$configuration/ConfigurationSourceMap.swift"
                 "$configuration/ConfigurationError.swift")
        # Every TOML file of the repository, and the example with its commented tables in.
        cp "$top"/packaging/tributary.toml "$top"/hardware/boards/*.toml "$top"/hardware/profiles/*.toml "$work/seeds/"
        sed 's/^# //' "$top/packaging/tributary.toml" > "$work/seeds/example-uncommented.toml"
        ;;
    *) echo "run.sh: no fuzz target $target (toml)" >&2; exit 2 ;;
esac

swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name "Fuzz_$target" \
    "$top/Tests/Fuzz/$target.swift" "${sources[@]}" -o "$work/fuzz-$target" 2> "$work/build.log" \
    || { cat "$work/build.log" >&2; exit 1; }

dictionary=()
[ -f "$top/Tests/Fuzz/$target.dict" ] && dictionary=(-dict="$top/Tests/Fuzz/$target.dict")
cd "$work"
"./fuzz-$target" "${dictionary[@]}" -max_total_time="$seconds" -max_len=8192 -timeout=5 -rss_limit_mb=2048 \
    -artifact_prefix="$work/artifacts/" -print_final_stats=1 corpus seeds 2>&1 \
    | grep -E "^(Done|stat::number_of_executed_units|stat::peak_rss_mb)|ERROR|SUMMARY|crash-|timeout-|leak-|==[0-9]+=="
