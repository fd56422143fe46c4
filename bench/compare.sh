#!/bin/bash
# SPDX-License-Identifier: MIT
#
# bench/compare.sh: two preforkd binaries, OLD and NEW, measured side by
# side in one run on 127.0.0.1, for "the bench figures must not regress"
# (issue 7). Each round measures both binaries (and the HTTP peer) back to
# back, so that a burst of noise on a shared machine hits a pair, not one
# side; the order is swapped every round. Reported per metric: OLD and NEW
# (medians over the rounds) and the per-round ratio NEW/OLD as median and
# min-max over the rounds.
#
#   1. respawn latency (bench/respawn): kill -9 of the only worker of a
#      workers=1 echo service to the echo answered by its replacement,
#      KILLS kills per binary per round; median and p99 per round, and
#      both again over all the kills of the run;
#   2. Private_Dirty (smaps_rollup) of each worker (max and median), of
#      the master and of the front stage (0 for a binary without one) of
#      the workers=W echo daemon, after that round's rate run and W*50
#      echo connections of 64 KiB;
#   3. new-connection echo rate (bench/echoload) at W workers, C clients;
#   4. the c = W rows of bench/http/run.sh (1 KiB keep-alive, 1 KiB
#      Connection: close, 1 MiB keep-alive in MiB/s) against OLD, NEW and
#      PEER (lighttpd, configured alike), once per wrk thread count in
#      WRK_THREADS, the server order rotated.
#
#   OLD=/path/old/src/preforkd NEW=/path/new/src/preforkd bench/compare.sh
#
# OLD and NEW must be release builds. echoload and respawn are built from
# this tree into BUILD (see lib.sh). Knobs (environment), defaults in ():
# ROUNDS (4), MAX_SECS (600: no new round starts after that), KILLS (30 per
# binary per round), KILL_INTERVAL_MS (50), W (4), C (8), T (2), S (16),
# D (2 s per echoload run), WARMUP (0.5), SIZE (64), HW (nproc: workers of
# the HTTP servers), HD (2 s per wrk run), WRK_THREADS ("1 2"),
# KEEPALIVE_REQUESTS (1000), PEER (lighttpd, or none), BUILD.
# The defaults take 3-4 minutes on 2 CPUs (a round is 45-60 s). Prints a
# line per round and metric, the summary table and a final "SUMMARY
# key=value ..." line; exits 1 only when something failed to run.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

OLD=${OLD:-}
NEW=${NEW:-}
ROUNDS=${ROUNDS:-4}
MAX_SECS=${MAX_SECS:-600}
KILLS=${KILLS:-30}
KILL_INTERVAL_MS=${KILL_INTERVAL_MS:-50}
W=${W:-4}
C=${C:-8}
T=${T:-2}
S=${S:-16}
D=${D:-2}
WARMUP=${WARMUP:-0.5}
SIZE=${SIZE:-64}
HW=${HW:-$(nproc)}
HD=${HD:-2}
WRK_THREADS=${WRK_THREADS:-1 2}
KEEPALIVE_REQUESTS=${KEEPALIVE_REQUESTS:-1000}
PEER=${PEER:-lighttpd}

if [ ! -x "$OLD" ] || [ ! -x "$NEW" ]; then
        bench_die "usage: OLD=path/to/old/preforkd NEW=path/to/new/preforkd $0 (both release builds; see the header for knobs)"
fi
case $PEER in lighttpd | none) ;; *) bench_die "PEER must be lighttpd or none" ;; esac

# Tools: installed from Debian's packages when missing and we may.
bench_need wrk curl
[ "$PEER" = none ] || bench_need lighttpd
LIGHTTPD=$(command -v lighttpd || echo /usr/sbin/lighttpd)

START=$(date +%s)
TMP=$(mktemp -d /tmp/preforkd-compare.XXXXXX)
chmod 755 "$TMP"
trap 'stop_pidfile "$TMP/lighttpd.pid" lighttpd; bench_cleanup; rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

bench_build_targets bench/echoload bench/respawn

declare -A BIN=([old]=$OLD [new]=$NEW)
NAMES=(old new)
SERVERS=(old new)
[ "$PEER" = none ] || SERVERS+=(peer)
declare -A LABEL=([old]=OLD [new]=NEW [peer]=$PEER)

echo "== preforkd OLD/NEW comparison $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "host: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), $(uname -sr)"
echo "OLD: $(binary_info "$OLD")"
echo "NEW: $(binary_info "$NEW")"
echo "rounds: $ROUNDS (order swapped every round), respawn: $KILLS kills per binary per round, ${KILL_INTERVAL_MS} ms apart"
echo "echo: workers=$W, echoload -c $C -t $T -S $S -s $SIZE -d $D -w $WARMUP"
[ "$PEER" = none ] || echo "peer: $("$LIGHTTPD" -v 2>&1 | head -1)"
echo "http: workers=$HW, wrk -d${HD}s --timeout 5s, threads: $WRK_THREADS, keepalive_requests $KEEPALIVE_REQUESTS"

# ---- servers -----------------------------------------------------------------
# Per binary: an echo daemon with W workers (rate, memory), an echo daemon
# with one worker and respawn.min_uptime = 0 (respawn), an http daemon with
# HW workers. Idle ones cost nothing; each has its own processes.
http_root "$TMP/root"
declare -A ECHO_PID ECHO_PORT RS_PID RS_PORT PORT
for b in "${NAMES[@]}"; do
        PREFORKD=${BIN[$b]}
        echo_conf "$TMP/echo-$b.conf" "$W"
        start_daemon "echo-$b" "$TMP/echo-$b.conf" 1 "$W"
        ECHO_PID[$b]=$DAEMON_PID
        ECHO_PORT[$b]=${DAEMON_PORTS%% *}
        echo_conf "$TMP/respawn-$b.conf" 1 0.0
        start_daemon "respawn-$b" "$TMP/respawn-$b.conf" 1 1
        RS_PID[$b]=$DAEMON_PID
        RS_PORT[$b]=${DAEMON_PORTS%% *}
        http_preforkd_conf "$TMP/http-$b.conf" "$TMP/root" 127.0.0.1:0 "$HW" "$KEEPALIVE_REQUESTS" info
        start_daemon "http-$b" "$TMP/http-$b.conf" 1 "$HW" /1k.bin
        PORT[$b]=${DAEMON_PORTS%% *}
done

# The peer: lib.sh's lighttpd, with as many workers as preforkd's http
# daemons (HW).
# shellcheck disable=SC2034 # filled by start_lighttpd (lib.sh)
declare -A MASTER
start_peer() {
        local W=$HW
        start_lighttpd
        PORT[peer]=${PORT[lighttpd]}
}
[ "$PEER" = none ] || start_peer

# Warm-up: page cache, workers, echo buffers.
for s in "${SERVERS[@]}"; do
        timeout 10 wrk -t1 -c1 -d1s "http://127.0.0.1:${PORT[$s]}/1k.bin" >/dev/null 2>&1 || true
done
for b in "${NAMES[@]}"; do mem_traffic "${ECHO_PORT[$b]}" "$W"; done

# ---- measurements ----------------------------------------------------------------
# V[METRIC,SERVER]: the per-round values, space separated, in round order.
declare -A V=()
METRICS=()
declare -A MLABEL=() MBETTER=()
metric() { # metric KEY LABEL lower|higher
        METRICS+=("$1")
        MLABEL[$1]=$2
        MBETTER[$1]=$3
}
metric rs_med "respawn median (us)" lower
metric rs_p99 "respawn p99 (us)" lower
metric pd_wmax "worker Private_Dirty, max (KiB)" lower
metric pd_wmed "worker Private_Dirty, median (KiB)" lower
metric pd_master "master Private_Dirty (KiB)" lower
metric pd_front "front stage Private_Dirty (KiB; 0: none)" lower
metric echo "echo W=$W C=$C (conn/s)" higher

# The c = W rows of bench/http/run.sh, once per wrk thread count:
# key|name|file|Connection: close?|unit.
HTTP_ROWS=(
        "ka1k|1KiB keep-alive c=W|1k.bin|no|req"
        "close1k|1KiB close c=W|1k.bin|yes|req"
        "ka1m|1MiB keep-alive c=W|1m.bin|no|mib"
)
for i in "${!HTTP_ROWS[@]}"; do
        IFS='|' read -r key name file close unit <<<"${HTTP_ROWS[$i]}"
        for t in $WRK_THREADS; do
                th=$((t < HW ? t : HW)) # wrk needs connections >= threads
                metric "http_$key.t$t" "${name/c=W/c=$HW} -t$th ($([ "$unit" = mib ] && echo MiB/s || echo req/s))" higher
        done
done

PROBLEMS=()
row() { # row ROUND KEY: prints the round's values of KEY and NEW/OLD
        local r=$1 k=$2 s line v o n
        line=$(printf 'r%-3s %-40s' "$r" "${MLABEL[$k]}")
        for s in "${SERVERS[@]}"; do
                [[ $k == http_* ]] || [ "$s" != peer ] || continue
                v=$(awk -v i="$r" '{print $i}' <<<"${V[$k,$s]}")
                line+=$(printf ' %s=%-9s' "${LABEL[$s]}" "$v")
        done
        o=$(awk -v i="$r" '{print $i}' <<<"${V[$k,old]}")
        n=$(awk -v i="$r" '{print $i}' <<<"${V[$k,new]}")
        echo "$line NEW/OLD $(quotient "$n" "$o")"
}

run_respawn() { # run_respawn BINARY
        local b=$1 out res
        out=$(timeout $((KILLS * (KILL_INTERVAL_MS + 10000) / 1000 + 30)) "$RESPAWN" -v -p "${RS_PID[$b]}" \
                -a "127.0.0.1:${RS_PORT[$b]}" -n "$KILLS" -i "$KILL_INTERVAL_MS" 2>"$TMP/respawn-$b.err") || true
        res=$(grep '^RESULT' <<<"$out" || true)
        [ -n "$res" ] || bench_die "respawn ($b) failed: $(tail -3 "$TMP/respawn-$b.err")"
        sed -n 's/.* echo after \([0-9.]*\) us.*/\1/p' <<<"$out" >>"$TMP/respawn-$b.us"
        V[rs_med,$b]+="$(field "$res" median_us) "
        V[rs_p99,$b]+="$(field "$res" p99_us) "
        if [ "$(field "$res" failed)" != 0 ]; then
                PROBLEMS+=("round $r: respawn $b: $(field "$res" failed) of $KILLS kills failed: $(head -1 "$TMP/respawn-$b.err")")
        fi
}

run_echo() { # run_echo BINARY
        local b=$1 line
        line=$(timeout $((${D%.*} + 30)) "$ECHOLOAD" -q -c "$C" -t "$T" -S "$S" -s "$SIZE" -d "$D" -w "$WARMUP" \
                "127.0.0.1:${ECHO_PORT[$b]}" | tail -1) || true
        [[ $line == RESULT* ]] || bench_die "echoload ($b) failed: $line"
        V[echo,$b]+="$(field "$line" rate) "
        if [ "$(field "$line" err)" != 0 ]; then
                PROBLEMS+=("round $r: echo $b: $(field "$line" err) errors ($(grep -o 'refused=.*other=[0-9]*' <<<"$line"))")
        fi
}

# The workers' Private_Dirty, and apart from them the master's and, for a
# binary with one, the front stage's (a child of the master, but not a
# worker: preforkd-front in /proc/PID/comm).
run_memory() { # run_memory BINARY
        local b=$1 p pd=() front=0
        mem_traffic "${ECHO_PORT[$b]}" "$W"
        for p in $(children "${ECHO_PID[$b]}"); do
                if [ "$(cat /proc/"$p"/comm 2>/dev/null)" = preforkd-front ]; then
                        front=$(smaps "$p" Private_Dirty)
                        continue
                fi
                pd+=("$(smaps "$p" Private_Dirty)")
        done
        [ ${#pd[@]} -eq "$W" ] || PROBLEMS+=("round $r: $b: ${#pd[@]} workers instead of $W")
        V[pd_wmax,$b]+="$(printf '%s\n' "${pd[@]}" | sort -n | tail -1) "
        V[pd_wmed,$b]+="$(MEDIAN_FMT=%.0f median "${pd[@]}") "
        V[pd_master,$b]+="$(smaps "${ECHO_PID[$b]}" Private_Dirty) "
        V[pd_front,$b]+="$front "
}

run_http() { # run_http SERVER ROW THREADS
        local s=$1 i=$2 t=$3 key name file close unit conns th out p
        IFS='|' read -r key name file close unit <<<"${HTTP_ROWS[$i]}"
        conns=$HW
        th=$((t < conns ? t : conns))
        out=$(wrk_run "$th" "$conns" "$HD" "$close" "http://127.0.0.1:${PORT[$s]}/$file")
        V[http_$key.t$t,$s]+="$(wrk_value "$out" "$unit") "
        while IFS= read -r p; do
                [ -z "$p" ] || PROBLEMS+=("round $r: ${LABEL[$s]} $name -t$th: $p")
        done <<<"$(wrk_problems "$out")"
}

echo
echo "-- per round (OLD, NEW$([ "$PEER" = none ] || echo ", $PEER"); NEW/OLD)"
DONE=0
for r in $(seq "$ROUNDS"); do
        if [ $(($(date +%s) - START)) -ge "$MAX_SECS" ]; then
                bench_log "MAX_SECS=$MAX_SECS reached: stopping after $DONE rounds"
                break
        fi
        if [ $((r % 2)) = 1 ]; then order=(old new); else order=(new old); fi
        for b in "${order[@]}"; do run_respawn "$b"; done
        for b in "${order[@]}"; do run_echo "$b"; done
        for b in "${order[@]}"; do run_memory "$b"; done
        n=${#SERVERS[@]}
        for i in "${!HTTP_ROWS[@]}"; do
                for t in $WRK_THREADS; do
                        for ((k = 0; k < n; k++)); do
                                run_http "${SERVERS[$(((k + r + i + t) % n))]}" "$i" "$t"
                        done
                done
        done
        DONE=$r
        for k in "${METRICS[@]}"; do row "$r" "$k"; done
done
[ "$DONE" -gt 0 ] || bench_die "no round completed"

# ---- summary ------------------------------------------------------------------------
# ratios KEY A B: the per-round ratios V[KEY,A] / V[KEY,B], one per line.
ratios() {
        paste -d' ' <(tr -s ' ' '\n' <<<"${V[$1,$2]}") <(tr -s ' ' '\n' <<<"${V[$1,$3]}") |
                awk 'NF == 2 { if ($2 > 0) printf "%.3f\n", $1 / $2; else print "nan" }'
}
# verdict KEY: whether every round agrees on the side of 1.
verdict() {
        local lo hi rs
        mapfile -t rs < <(ratios "$1" new old)
        read -r _ lo hi <<<"$(MEDIAN_FMT=%.3f spread "${rs[@]}")"
        awk -v lo="$lo" -v hi="$hi" -v b="${MBETTER[$1]}" 'BEGIN {
                if (lo == "nan") print "-";
                else if (lo == 1 && hi == 1) print "same";
                else if ((b == "lower" && hi <= 1) || (b == "higher" && lo >= 1)) print "NEW better or same in every round";
                else if ((b == "lower" && lo >= 1) || (b == "higher" && hi <= 1)) print "NEW WORSE in every round";
                else print "mixed" }'
}

END=$(date +%s)
echo
echo "-- summary over $DONE rounds: OLD and NEW are medians of the per-round values; NEW/OLD is the median of the"
echo "   per-round ratios [min-max over rounds]; 'better' is lower for times and memory, higher for rates"
hdr=$(printf '%-40s %10s %10s  %-22s' "metric" OLD NEW "NEW/OLD [min-max]")
[ "$PEER" = none ] || hdr+=$(printf ' %10s %9s %9s' "$PEER" "NEW/peer" "OLD/peer")
echo "$hdr  verdict"
SUMMARY="SUMMARY date=$(date -u +%Y-%m-%dT%H:%M:%SZ) rounds=$DONE"
for k in "${METRICS[@]}"; do
        # shellcheck disable=SC2086 # the per-round values are words
        o=$(MEDIAN_FMT=%.1f median ${V[$k,old]})
        # shellcheck disable=SC2086
        n=$(MEDIAN_FMT=%.1f median ${V[$k,new]})
        mapfile -t rs < <(ratios "$k" new old)
        read -r rm rlo rhi <<<"$(MEDIAN_FMT=%.3f spread "${rs[@]}")"
        line=$(printf '%-40s %10s %10s  %-22s' "${MLABEL[$k]}" "$o" "$n" "$rm [$rlo-$rhi]")
        SUMMARY+=" $k.old=$o $k.new=$n $k.ratio=$rm $k.ratio_min=$rlo $k.ratio_max=$rhi"
        if [ "$PEER" != none ] && [[ $k == http_* ]]; then
                # shellcheck disable=SC2086
                p=$(MEDIAN_FMT=%.1f median ${V[$k,peer]})
                # shellcheck disable=SC2046
                np=$(MEDIAN_FMT=%.3f median $(ratios "$k" new peer))
                # shellcheck disable=SC2046
                op=$(MEDIAN_FMT=%.3f median $(ratios "$k" old peer))
                line+=$(printf ' %10s %9s %9s' "$p" "$np" "$op")
                SUMMARY+=" $k.peer=$p $k.new_per_peer=$np $k.old_per_peer=$op"
        elif [ "$PEER" != none ]; then
                line+=$(printf ' %10s %9s %9s' "" "" "")
        fi
        echo "$line  $(verdict "$k")"
done

# Respawn over all kills of the run (more samples for the tail than a round).
echo
for b in "${NAMES[@]}"; do
        mapfile -t us <"$TMP/respawn-$b.us"
        med=$(MEDIAN_FMT=%.1f median "${us[@]}")
        p99=$(percentile 99 "${us[@]}")
        printf 'respawn, all %s kills of %s: median %s us, p99 %s us, max %s us\n' "${#us[@]}" "${LABEL[$b]}" \
                "$med" "$p99" "$(percentile 100 "${us[@]}")"
        SUMMARY+=" rs_all_med.$b=$med rs_all_p99.$b=$p99"
done

echo
if [ ${#PROBLEMS[@]} -gt 0 ]; then
        echo "problems (${#PROBLEMS[@]}):"
        printf '  %s\n' "${PROBLEMS[@]}"
else
        echo "problems: none (no failed kill, no echo error, no wrk socket error or non-2xx)"
fi
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (on $(nproc) CPUs: above that, other work shared the machine)"
echo "$SUMMARY problems=${#PROBLEMS[@]} elapsed_s=$((END - START))"
