#!/bin/bash
# SPDX-License-Identifier: MIT
#
# bench/ctl.sh: what observing preforkd costs (issue 11).
#
#   1. `preforkctl status` (and --json) latency against a daemon with
#      WORKERS (1000) workers: N (200) calls one after the other, each timed
#      from exec to exit; median and p99.
#   2. The master's CPU while preforkctl status polls it every second for
#      POLL_SECS (30), against the same time idle before it: CPU time of
#      the master (schedstat) over the wall time, in percent.
#   3. The scoreboard's hot-path cost: bench/compare.sh (its HTTP
#      keep-alive and Connection: close rows, and the rest it measures)
#      with OLD built from BEFORE (f1cd42a: the commit before the
#      scoreboard) and NEW from this tree, interleaved round by round as
#      compare.sh does. Skipped with HOTPATH=0.
#
#   bench/ctl.sh                      (defaults: a few minutes on 2 CPUs)
#   WORKERS=50 N=20 POLL_SECS=3 HOTPATH=0 bench/ctl.sh      (a quick check)
#
# Knobs (environment), defaults in (): WORKERS (1000), N (200), POLL_SECS
# (30), HOTPATH (1), BEFORE (f1cd42a), and compare.sh's own (ROUNDS,
# MAX_SECS, PEER, ...; PEER defaults to none here), BUILD. Prints a line
# per measurement and a final "SUMMARY key=value ..." line.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

WORKERS=${WORKERS:-1000}
N=${N:-200}
POLL_SECS=${POLL_SECS:-30}
HOTPATH=${HOTPATH:-1}
BEFORE=${BEFORE:-f1cd42a}

TMP=$(mktemp -d /tmp/preforkd-ctlbench.XXXXXX)
chmod 755 "$TMP"
OLDSRC=
cleanup() {
        bench_cleanup
        [ -z "$OLDSRC" ] || git -C "$BENCH_SRC" worktree remove --force "$OLDSRC" 2>/dev/null || true
        rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bench_build_targets src/preforkd src/ctl/preforkctl bench/echoload
PREFORKCTL=$BUILD/src/ctl/preforkctl

echo "== preforkctl and metrics cost $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "host: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), $(uname -sr)"
echo "daemon: $PREFORKD ($(git -C "$BENCH_SRC" describe --always --dirty 2>/dev/null || echo '?'))"

# ---- 1. status latency with WORKERS workers ------------------------------------
cat >"$TMP/big.conf" <<EOC
log_level = "notice";
control_socket = "$TMP/control";
services = ( { name = "echo"; listen = [ "127.0.0.1:0" ]; workers = $WORKERS; handler = "echo";
               park = { enabled = false; }; } );
EOC
start_daemon big "$TMP/big.conf" 0 "$WORKERS"
MASTER=$DAEMON_PID
"$PREFORKCTL" -s "$TMP/control" status >"$TMP/status.txt" || bench_die "preforkctl status failed"
lines=$(grep -c '^echo ' "$TMP/status.txt")
[ "$lines" -gt "$WORKERS" ] || bench_die "status shows $lines lines for $WORKERS workers"
echo "status: $(wc -c <"$TMP/status.txt") bytes of text, $("$PREFORKCTL" -s "$TMP/control" --json status | wc -c) bytes of JSON"

# time_calls ARGS...: N calls, each in ns, one per line.
time_calls() {
        local i t0 t1
        for i in $(seq "$N"); do
                t0=$(date +%s%N)
                "$PREFORKCTL" -s "$TMP/control" "$@" >/dev/null || bench_die "preforkctl $* failed"
                t1=$(date +%s%N)
                echo $(((t1 - t0) / 1000))
        done
}
declare -A LAT=()
for mode in text json; do
        if [ $mode = json ]; then args=(--json status); else args=(status); fi
        mapfile -t us < <(time_calls "${args[@]}")
        LAT[$mode.med]=$(percentile 50 "${us[@]}")
        LAT[$mode.p99]=$(percentile 99 "${us[@]}")
        echo "status ($mode), $WORKERS workers, $N calls: median ${LAT[$mode.med]} us, p99 ${LAT[$mode.p99]} us"
done

# ---- 2. the master's CPU, idle and polled every second -------------------------
# master_cpu SECONDS POLL: the master's CPU share in percent over SECONDS,
# with a preforkctl status every second when POLL is 1.
master_cpu() {
        local secs=$1 poll=$2 c0 c1 t0 t1 i
        c0=$(cpu_ns "$MASTER")
        t0=$(date +%s%N)
        for i in $(seq "$secs"); do
                [ "$poll" = 0 ] || "$PREFORKCTL" -s "$TMP/control" status >/dev/null
                sleep 1
        done
        c1=$(cpu_ns "$MASTER")
        t1=$(date +%s%N)
        awk -v c=$((c1 - c0)) -v t=$((t1 - t0)) 'BEGIN { printf "%.3f", 100 * c / t }'
}
CPU_IDLE=$(master_cpu "$POLL_SECS" 0)
CPU_POLL=$(master_cpu "$POLL_SECS" 1)
echo "master CPU over ${POLL_SECS}s, $WORKERS workers: idle $CPU_IDLE %, polled every second $CPU_POLL %"
bench_cleanup

# ---- 3. the scoreboard's hot-path cost -----------------------------------------
HOT=skipped
if [ "$HOTPATH" = 1 ]; then
        OLDSRC=$TMP/before-src
        git -C "$BENCH_SRC" worktree add --detach "$OLDSRC" "$BEFORE" >/dev/null 2>&1 ||
                bench_die "cannot check out $BEFORE"
        if ! { meson setup "$TMP/before-build" "$OLDSRC" -Dbuildtype=release -Dtests=disabled &&
                ninja -C "$TMP/before-build" src/preforkd; } >"$TMP/before.log" 2>&1; then
                tail -20 "$TMP/before.log" >&2
                bench_die "cannot build $BEFORE"
        fi
        echo "hot path: OLD = $BEFORE (before the scoreboard), NEW = this tree; bench/compare.sh follows"
        OLD=$TMP/before-build/src/preforkd NEW=$PREFORKD PEER=${PEER:-none} BUILD=$BUILD \
                "$BENCH_SRC/bench/compare.sh" | tee "$TMP/compare.out"
        # The HTTP rows (compare.sh's SUMMARY has every metric).
        HOT=$(sed -n 's/^SUMMARY //p' "$TMP/compare.out" | tr ' ' '\n' | grep -E '^http_.*\.(old|new|ratio)=' |
                paste -sd, -)
fi

echo "SUMMARY workers=$WORKERS calls=$N status_text_med_us=${LAT[text.med]} status_text_p99_us=${LAT[text.p99]}" \
        "status_json_med_us=${LAT[json.med]} status_json_p99_us=${LAT[json.p99]}" \
        "master_cpu_idle_pct=$CPU_IDLE master_cpu_polled_pct=$CPU_POLL hotpath=$HOT"
