#!/bin/bash
# SPDX-License-Identifier: MIT
#
# bench/run-echo.sh: preforkd's echo benchmark (issue 2, item 12), in one
# run, on 127.0.0.1 only:
#   1. new-connection echo rate of preforkd with W workers at C clients,
#      next to bench/ceiling (one process, blocking accept loop) measured
#      in the same run, A/B alternated ROUNDS times, medians and the ratio;
#      also preforkd with 1 worker (same serial shape as the ceiling: its
#      ratio shows the per-connection overhead of the worker loop);
#   2. private dirty memory of each worker and of the master after that
#      traffic (/proc/PID/smaps_rollup);
#   3. respawn latency: kill -9 of the only worker of a workers=1 service
#      to the echo answered by its replacement, KILLS times (bench/respawn).
#
# Knobs (environment): W=4 C=8 T=2 (client threads) S=16 (client source
# addresses) D=3 (seconds per run)
# WARMUP=0.5 ROUNDS=5 SIZE=64 KILLS=100 KILL_INTERVAL_MS=50 BUILD=dir.
# Prints the table and a final "SUMMARY ..." line; exits 0 even when a
# target is missed (it says so), 1 when something failed to run.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

W=${W:-4}
C=${C:-8}
T=${T:-2}
S=${S:-16}
D=${D:-3}
WARMUP=${WARMUP:-0.5}
ROUNDS=${ROUNDS:-5}
SIZE=${SIZE:-64}
KILLS=${KILLS:-100}
KILL_INTERVAL_MS=${KILL_INTERVAL_MS:-50}

START=$(date +%s)
TMP=$(mktemp -d /tmp/preforkd-bench.XXXXXX)
trap 'bench_cleanup; rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

bench_build
exec 3>&1 # rows of the table go to fd 3 from inside $(...)

echo "== preforkd echo benchmark $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "host: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), $(uname -sr), commit $(git -C "$BENCH_SRC" rev-parse --short HEAD 2>/dev/null || echo none)"
echo "client: echoload -c $C -t $T -S $S -s $SIZE -d $D -w $WARMUP; rounds: $ROUNDS (A/B alternated)"

# ---- servers ---------------------------------------------------------------
start_ceiling CEIL_PID CEIL_PORT

# Two daemons, one service each, so that each one's CPU time is its own:
# workers=W (the figure that counts) and workers=1 (same serial shape as
# the ceiling: the ratio shows the cost of the worker loop itself).
echo_conf "$TMP/echo-w$W.conf" "$W"
start_daemon "echo-w$W" "$TMP/echo-w$W.conf" 1 "$W"
MASTER=$DAEMON_PID
PORT_W=${DAEMON_PORTS%% *}
WORKERS_W=$(children "$MASTER")

echo_conf "$TMP/echo-w1.conf" 1
start_daemon echo-w1 "$TMP/echo-w1.conf" 1 1
MASTER_1=$DAEMON_PID
PORT_1=${DAEMON_PORTS%% *}
WORKERS_1=$(children "$MASTER_1")

# ---- 1. rates, A/B alternated ------------------------------------------------
run_load() { # run_load LABEL PORT PIDS...: one echoload run, prints a row
        local label=$1 port=$2 line c0 c1 ok
        shift 2
        c0=$(cpu_ns "$@")
        line=$("$ECHOLOAD" -q -c "$C" -t "$T" -S "$S" -s "$SIZE" -d "$D" -w "$WARMUP" "127.0.0.1:$port" | tail -1)
        c1=$(cpu_ns "$@")
        ok=$(field "$line" ok)
        # server CPU per connection, all connections (warm-up included)
        local cpu_us
        cpu_us=$(awk -v d=$((c1 - c0)) -v n="$ok" -v w="$WARMUP" -v t="$D" \
                'BEGIN { if (n > 0) printf "%.1f", d / 1000 / (n * t / (t - w)); else print "nan" }')
        printf '%-14s %10s %9s %9s %9s %6s %8s\n' "$label" "$(field "$line" rate)" "$(field "$line" p50_us)" \
                "$(field "$line" p99_us)" "$(field "$line" max_us)" "$(field "$line" err)" "$cpu_us" >&3
        if [ "$(field "$line" err)" != 0 ]; then
                echo "   errors: $(grep -o 'refused=.*other=[0-9]*' <<<"$line")" >&3
        fi
        echo "$line cpu_us_per_conn=$cpu_us"
}

echo
printf '%-14s %10s %9s %9s %9s %6s %8s\n' "run" "conn/s" "p50_us" "p99_us" "max_us" "errors" "cpu_us/c"
declare -a R_CEIL=() R_W=() R_1=() RATIO_W=() RATIO_1=() ERRS=() CPU_CEIL=() CPU_W=() CPU_1=()
declare -a P99_CEIL=() P99_W=()
for r in $(seq "$ROUNDS"); do
        a=$(run_load "ceiling#$r" "$CEIL_PORT" "$CEIL_PID")
        # shellcheck disable=SC2086
        b=$(run_load "preforkd-w$W#$r" "$PORT_W" "$MASTER" $WORKERS_W)
        # shellcheck disable=SC2086
        c=$(run_load "preforkd-w1#$r" "$PORT_1" "$MASTER_1" $WORKERS_1)
        R_CEIL+=("$(field "$a" rate)")
        R_W+=("$(field "$b" rate)")
        R_1+=("$(field "$c" rate)")
        P99_CEIL+=("$(field "$a" p99_us)")
        P99_W+=("$(field "$b" p99_us)")
        CPU_CEIL+=("$(field "$a" cpu_us_per_conn)")
        CPU_W+=("$(field "$b" cpu_us_per_conn)")
        CPU_1+=("$(field "$c" cpu_us_per_conn)")
        ERRS+=("$(field "$a" err)" "$(field "$b" err)" "$(field "$c" err)")
        RATIO_W+=("$(awk -v x="$(field "$b" rate)" -v y="$(field "$a" rate)" 'BEGIN{printf "%.3f", (y > 0) ? x / y : 0}')")
        RATIO_1+=("$(awk -v x="$(field "$c" rate)" -v y="$(field "$a" rate)" 'BEGIN{printf "%.3f", (y > 0) ? x / y : 0}')")
done

MED_CEIL=$(median "${R_CEIL[@]}")
MED_W=$(median "${R_W[@]}")
MED_1=$(median "${R_1[@]}")
RATIO=$(awk -v x="$MED_W" -v y="$MED_CEIL" 'BEGIN{printf "%.2f", x / y}')
RATIO1=$(awk -v x="$MED_1" -v y="$MED_CEIL" 'BEGIN{printf "%.2f", x / y}')
PAIR_RATIO=$(MEDIAN_FMT=%.2f median "${RATIO_W[@]}")
TOTAL_ERRS=0
for e in "${ERRS[@]}"; do TOTAL_ERRS=$((TOTAL_ERRS + e)); done

echo
echo "-- 1. new-connection echo rate (payload $SIZE B, $C clients, median of $ROUNDS runs of ${D}s)"
printf '   ceiling (1 process, blocking accept): %9s conn/s  p99 %s us  server CPU %s us/conn\n' \
        "$MED_CEIL" "$(median "${P99_CEIL[@]}")" "$(median "${CPU_CEIL[@]}")"
printf '   preforkd workers=%-3s                : %9s conn/s  p99 %s us  server CPU %s us/conn  ratio %s (per-round median %s)\n' \
        "$W" "$MED_W" "$(median "${P99_W[@]}")" "$(median "${CPU_W[@]}")" "$RATIO" "$PAIR_RATIO"
printf '   preforkd workers=1                  : %9s conn/s  server CPU %s us/conn  ratio %s\n' \
        "$MED_1" "$(median "${CPU_1[@]}")" "$RATIO1"
printf '   errors in all runs: %s\n' "$TOTAL_ERRS"
RATE_OK=$(awk -v r="$RATIO" 'BEGIN{print (r >= 0.9) ? "yes" : "NO"}')
echo "   target >= 0.90x ceiling: $RATE_OK"

# ---- 2. private dirty memory ---------------------------------------------------
# Large payloads too, so that every worker has used its whole echo buffer.
mem_traffic "$PORT_W" "$W"
echo
echo "-- 2. memory after the traffic above and $((W * 50)) connections of 64 KiB (smaps_rollup, KiB)"
printf '   %-16s %8s %13s %8s %8s\n' "process" "pid" "Private_Dirty" "Pss" "Rss"
printf '   %-16s %8s %13s %8s %8s\n' "master" "$MASTER" "$(smaps "$MASTER" Private_Dirty)" "$(smaps "$MASTER" Pss)" "$(smaps "$MASTER" Rss)"
PD=()
for p in $WORKERS_W; do
        v=$(smaps "$p" Private_Dirty)
        PD+=("$v")
        printf '   %-16s %8s %13s %8s %8s\n' "worker (echo)" "$p" "$v" "$(smaps "$p" Pss)" "$(smaps "$p" Rss)"
done
printf '   %-16s %8s %13s %8s %8s\n' "ceiling" "$CEIL_PID" "$(smaps "$CEIL_PID" Private_Dirty)" "$(smaps "$CEIL_PID" Pss)" "$(smaps "$CEIL_PID" Rss)"
PD_MAX=$(printf '%s\n' "${PD[@]}" | sort -n | tail -1)
PD_MED=$(median "${PD[@]}")
MASTER_PD=$(smaps "$MASTER" Private_Dirty)
MEM_OK=$( [ "$PD_MAX" -lt 256 ] && echo yes || echo NO)
echo "   per worker: median $PD_MED KiB, max $PD_MAX KiB; master $MASTER_PD KiB; target < 256 KiB per worker: $MEM_OK"

# ---- 3. respawn latency ---------------------------------------------------------
echo_conf "$TMP/respawn.conf" 1 0.0
start_daemon respawn "$TMP/respawn.conf" 1 1
RS_MASTER=$DAEMON_PID
RS_PORT=${DAEMON_PORTS%% *}
RS_LINE=$("$RESPAWN" -p "$RS_MASTER" -a "127.0.0.1:$RS_PORT" -n "$KILLS" -i "$KILL_INTERVAL_MS" | tail -1)
[[ $RS_LINE == RESULT* ]] || bench_die "respawn measurement failed: $RS_LINE"
RS_MED=$(field "$RS_LINE" median_us)
RS_P99=$(field "$RS_LINE" p99_us)
echo
echo "-- 3. respawn latency: kill -9 of the only worker -> echo answered by the new one ($KILLS kills, respawn.min_uptime = 0)"
echo "   median $RS_MED us, p90 $(field "$RS_LINE" p90_us) us, p99 $RS_P99 us, max $(field "$RS_LINE" max_us) us, min $(field "$RS_LINE" min_us) us; failed $(field "$RS_LINE" failed)"
echo "   of which kill -> old worker exited: median $(field "$RS_LINE" exit_median_us) us; baseline echo rtt (connect included): median $(field "$RS_LINE" rtt_median_us) us"
RS_OK=$(awk -v m="$RS_MED" 'BEGIN{print (m < 2000) ? "yes" : "NO"}')
echo "   target median < 2 ms: $RS_OK"

END=$(date +%s)
echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (on $(nproc) CPUs: above that, other work shared the machine)"
echo "SUMMARY date=$(date -u +%Y-%m-%dT%H:%M:%SZ) W=$W C=$C T=$T size=$SIZE rounds=$ROUNDS secs=$D" \
        "ceiling_rate=$MED_CEIL preforkd_rate=$MED_W ratio=$RATIO ratio_w1=$RATIO1 errors=$TOTAL_ERRS" \
        "respawn_median_us=$RS_MED respawn_p99_us=$RS_P99 worker_private_dirty_kib_max=$PD_MAX" \
        "master_private_dirty_kib=$MASTER_PD elapsed_s=$((END - START))"
