#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Builds the libFuzzer targets with clang (ASan + UBSan) in their own build
# directory and runs the HTTP parser, chunked decoder, config, PROXY
# header and control protocol fuzzers, the workers' sd_notify parser and
# the upgrade state for a bounded time on the committed seed corpus. New
# inputs go to a temporary directory, so the tree stays clean; a crash
# leaves its reproducer in the build directory and fails the script.
#
#   tests/fuzz/run-fuzz.sh [SECONDS]      (default 60, or $FUZZ_SECONDS)
#
# $FUZZ_BUILD_DIR overrides the build directory (default build-fuzz).
set -euo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
build=${FUZZ_BUILD_DIR:-$src/build-fuzz}
seconds=${1:-${FUZZ_SECONDS:-60}}

command -v clang >/dev/null || { echo "run-fuzz: clang is needed" >&2; exit 69; }

if [[ ! -f "$build/build.ninja" ]]; then
        CC=clang meson setup "$build" "$src" -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
                --buildtype=debugoptimized >/dev/null
fi
ninja -C "$build" tests/fuzz/fuzz-http-parse tests/fuzz/fuzz-http-chunked tests/fuzz/fuzz-config tests/fuzz/fuzz-proxy \
        tests/fuzz/fuzz-control tests/fuzz/fuzz-notify tests/fuzz/fuzz-state >/dev/null

work=$(mktemp -d "${TMPDIR:-/tmp}/preforkd-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1
export LSAN_OPTIONS=suppressions=$src/tests/lsan.supp
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

# Each target gets its share of the time, in its own fresh corpus dir.
run_target() {
        local target=$1 corpus=$2 secs=$3 max_len=$4 status

        echo "run-fuzz: $target for ${secs}s"
        mkdir -p "$work/$target"
        (cd "$build" && "./tests/fuzz/$target" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
                -max_len="$max_len" -print_final_stats=1 -artifact_prefix="$build/$target-" \
                "$work/$target" "$src/tests/fuzz/corpus/$corpus" 2>&1 | tail -n 25; exit "${PIPESTATUS[0]}")
        status=$?
        if [[ $status -ne 0 ]]; then
                echo "run-fuzz: $target failed (status $status); reproducer in $build/$target-crash-*" >&2
                exit 1
        fi
}

run_target fuzz-http-parse http-parse "$seconds" 16384
run_target fuzz-http-chunked http-chunked $(( (seconds + 1) / 2 )) 8192
run_target fuzz-config config $(( (seconds + 1) / 2 )) 8192
run_target fuzz-control control $(( (seconds + 3) / 4 )) 4096
run_target fuzz-proxy proxy $(( (seconds + 3) / 4 )) 1024
run_target fuzz-notify notify $(( (seconds + 3) / 4 )) 4096
run_target fuzz-state state $(( (seconds + 3) / 4 )) 16384
echo "run-fuzz: no failure"
