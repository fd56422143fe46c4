#!/bin/bash
# SPDX-License-Identifier: MIT
#
# bench/upgrade.sh: binary upgrade in place under load (issue 13), on
# 127.0.0.1 only. One preforkd (an http service, W workers) runs from a copy
# of the binary in a temporary directory; two wrk clients load it all the
# time, one with keep-alive connections and one with "Connection: close".
# Then, RUNS times each:
#   1. a good upgrade: the other build (the daemon and the test build B of
#      tests/upgrade take turns) is renamed over the binary and the master
#      gets SIGUSR2;
#   2. a rolled-back upgrade: the broken test build C (its workers never
#      get ready) is installed the same way, and the good one put back
#      after.
# For each: the time from SIGUSR2 to the master's "Upgraded from" (or
# "rolled back to") line, seen by this script (polling the log every 2 ms),
# and the duration the master itself logs ("in 0.012s"; good upgrades
# only); and the failed requests of both clients over the whole run
# (socket errors and non-2xx, as wrk counts them). Medians over RUNS.
#
# Knobs (environment): W=4 C=8 (connections per client) RUNS=10 GAP=1
# (seconds of load before each upgrade and after it) UPGRADE_BUILD=dir (a
# build with -Dtests=enabled of its own, default
# /tmp/preforkd-bench-upgrade).
# Prints the figures and a final "SUMMARY ..." line; exits 1 when
# something failed to run.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

W=${W:-4}
C=${C:-8}
RUNS=${RUNS:-10}
GAP=${GAP:-1}
BUILD=${UPGRADE_BUILD:-/tmp/preforkd-bench-upgrade}

command -v wrk >/dev/null || bench_die "wrk is needed (apt-get install wrk)"
command -v curl >/dev/null || bench_die "curl is needed"

TMP=$(mktemp -d /tmp/preforkd-bench.XXXXXX)
trap 'bench_cleanup; rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

# The test builds need -Dtests=enabled, so this build dir is not lib.sh's.
if [ ! -f "$BUILD/build.ninja" ]; then
        meson setup "$BUILD" "$BENCH_SRC" -Dbuildtype=release -Dtests=enabled >"$BUILD.setup.log" 2>&1 ||
                { cat "$BUILD.setup.log" >&2; bench_die "meson setup failed"; }
fi
ninja -C "$BUILD" src/preforkd tests/upgrade/preforkd-test-b tests/upgrade/preforkd-test-c >"$BUILD.ninja.log" 2>&1 ||
        { tail -50 "$BUILD.ninja.log" >&2; bench_die "build failed (full log: $BUILD.ninja.log)"; }
GOOD=("$BUILD/src/preforkd" "$BUILD/tests/upgrade/preforkd-test-b")
BROKEN=$BUILD/tests/upgrade/preforkd-test-c

# install SRC: a new file renamed over the running binary's path.
install_bin() {
        cp "$1" "$TMP/preforkd.new"
        mv "$TMP/preforkd.new" "$TMP/preforkd"
}

# upgrade_once PATTERN: SIGUSR2, then the time (ms) until the log has one
# more line matching PATTERN; 10 s at most.
upgrade_once() {
        local before t0 t1 i
        before=$(grep -c -- "$1" "$LOG" || true)
        t0=$(date +%s%N)
        kill -USR2 "$DAEMON_PID"
        for i in $(seq 5000); do
                [ "$(grep -c -- "$1" "$LOG" || true)" -gt "$before" ] && break
                sleep 0.002
        done
        [ "$i" -lt 5000 ] || { tail -20 "$LOG" >&2; bench_die "no \"$1\" within 10 s of SIGUSR2"; }
        t1=$(date +%s%N)
        echo $(((t1 - t0) / 1000000))
}

echo "== preforkd upgrade benchmark $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "host: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), $(uname -sr), commit $(git -C "$BENCH_SRC" rev-parse --short HEAD 2>/dev/null || echo none)"
echo "http service, W=$W workers; wrk -t1 -c$C keep-alive and wrk -t1 -c$C Connection: close; $RUNS runs each"

http_root "$TMP/root"
install_bin "${GOOD[0]}"
# start_daemon (lib.sh) runs $PREFORKD.
PREFORKD=$TMP/preforkd
export PREFORKD
http_preforkd_conf "$TMP/preforkd.conf" "$TMP/root" "127.0.0.1:0" "$W" 1000 info
start_daemon upgrade "$TMP/preforkd.conf" 1 "$W" /1k.bin
LOG=$TMP/upgrade.log
URL="http://127.0.0.1:${DAEMON_PORTS%% *}/1k.bin"

# run_case good|broken: RUNS upgrades under load; prints the figures.
run_case() {
        local kind=$1 n secs out_k out_c ms=() own=() failed=0 requests=0 next=1 i pat
        secs=$(awk -v g="$GAP" -v r="$RUNS" 'BEGIN { printf "%d", (2 * g + 2) * r + 5 }')
        wrk_argv 1 "$C" "$secs" no "$URL"
        timeout $((secs + 30)) "${WRK_ARGV[@]}" >"$TMP/wrk-keep.$kind" 2>&1 &
        local wk=$!
        wrk_argv 1 "$C" "$secs" yes "$URL"
        timeout $((secs + 30)) "${WRK_ARGV[@]}" >"$TMP/wrk-close.$kind" 2>&1 &
        local wc=$!
        sleep "$GAP"
        for ((i = 0; i < RUNS; i++)); do
                if [ "$kind" = good ]; then
                        install_bin "${GOOD[$next]}"
                        next=$((1 - next))
                        pat="Upgraded from"
                else
                        install_bin "$BROKEN"
                        pat="rolled back to"
                fi
                ms+=("$(upgrade_once "$pat")")
                [ "$kind" = good ] && own+=("$(grep -- "Upgraded from" "$LOG" | tail -n 1 | sed -n 's/.* in \([0-9.]*\)s$/\1/p')")
                # A good binary at the path again for the next turn.
                [ "$kind" = good ] || install_bin "${GOOD[$((1 - next))]}"
                sleep "$GAP"
        done
        wait "$wk" "$wc" || true
        out_k=$(cat "$TMP/wrk-keep.$kind") out_c=$(cat "$TMP/wrk-close.$kind")
        for out in "$out_k" "$out_c"; do
                n=$(awk '/requests in/ { print $1 }' <<<"$out")
                requests=$((requests + ${n:-0}))
                n=$(awk '/Socket errors/ { gsub(",", ""); print $4 + $6 + $8 + $10 } /Non-2xx/ { print $NF }' <<<"$out" |
                        awk '{ s += $1 } END { print s + 0 }')
                failed=$((failed + n))
        done
        echo "-- $kind upgrades: $RUNS"
        echo "   SIGUSR2 to \"$pat\" (ms): median $(MEDIAN_FMT=%.0f median "${ms[@]}"), all: ${ms[*]}"
        [ "$kind" = good ] && echo "   the master's own figure (s): median $(MEDIAN_FMT=%.3f median "${own[@]}"), all: ${own[*]}"
        echo "   requests: $requests, failed: $failed"
        [ -z "$(wrk_problems "$out_k$out_c")" ] || echo "   wrk: $(wrk_problems "$out_k"; wrk_problems "$out_c")"
        SUMMARY+=" ${kind}_ms=$(MEDIAN_FMT=%.0f median "${ms[@]}") ${kind}_failed=$failed ${kind}_requests=$requests"
}

SUMMARY="SUMMARY"
run_case good
run_case broken
grep -q "rolled back to" "$LOG" || bench_die "no rollback happened"
echo "$SUMMARY"
