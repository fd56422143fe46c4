#!/bin/bash
# SPDX-License-Identifier: MIT
#
# bench/run-multilisten.sh: fairness across workers and spurious wakeups
# for a service with several listeners (issue 2, item 5), next to the same
# service with one listener.
#
#   multi:  L listeners, W workers. Each worker waits in its own epoll set
#           holding every listener with EPOLLEXCLUSIVE, then accept4() on
#           the ready one (non-blocking).
#   single: 1 listener, W workers, each blocking in accept4().
#
# For every load level (C connections in flight) the two cases run A/B
# alternated ROUNDS times; each run starts a fresh daemon (log_level debug),
# drives echoload over all its listeners round-robin for D seconds, stops
# the daemon with SIGTERM and reads each worker's own counters from its
# exit line ("worker leaving after N connections, W wakeups, S spurious").
# Reported per run: rate, per-worker connections (min/max), coefficient of
# variation, Jain's fairness index J = (sum x)^2 / (n * sum x^2) (1: even,
# 1/n: one worker took everything), wakeups per connection, spurious
# wakeups (accept4 -> EAGAIN after a wakeup) per 1000 connections.
#
# With STRACE=1 one more run per case is done under strace (-f -ff,
# seccomp-bpf, accept4 and epoll_pwait only) to cross-check the daemon's
# counters from outside: accept4 successes vs EAGAIN per worker. strace
# stops every traced call, so it slows the workers and shifts the
# distribution; its counts check the counters, not the fairness.
#
# Knobs: W=4 L=2 LOADS="1 4 16" D=3 ROUNDS=2 T=2 S=16 STRACE=0 BUILD=dir.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

W=${W:-4}
L=${L:-2}
LOADS=${LOADS:-1 4 16}
D=${D:-3}
ROUNDS=${ROUNDS:-2}
T=${T:-2}
S=${S:-16}
STRACE=${STRACE:-0}

START=$(date +%s)
TMP=$(mktemp -d /tmp/preforkd-mlbench.XXXXXX)
trap 'bench_cleanup; rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

bench_build

echo "== preforkd multi-listener fairness $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "host: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), $(uname -sr), commit $(git -C "$BENCH_SRC" rev-parse --short HEAD 2>/dev/null || echo none)"
echo "workers: $W; multi: $L listeners (epoll + EPOLLEXCLUSIVE); single: 1 listener (blocking accept)"
echo "client: echoload -t $T -S $S -d $D per run, loads (connections in flight): $LOADS; rounds: $ROUNDS (A/B alternated)"

conf() { # conf FILE N_LISTENERS
        local i l=""
        for i in $(seq "$2"); do
                l+="${l:+, }\"127.0.0.1:0\""
        done
        cat >"$1" <<EOF
log_level = "debug";
services = ( { name = "ml"; listen = [ $l ]; workers = $W; handler = "echo"; } );
EOF
}
conf "$TMP/multi.conf" "$L"
conf "$TMP/single.conf" 1

# stop_daemon: graceful stop of $DAEMON_PID, waits for it to exit.
stop_daemon() {
        kill -TERM "$DAEMON_PID" 2>/dev/null || true
        for _ in $(seq 100); do
                kill -0 "$DAEMON_PID" 2>/dev/null || break
                sleep 0.05
        done
        wait "$DAEMON_PID" 2>/dev/null || true
        # shellcheck disable=SC2034 # used by bench_cleanup in lib.sh
        BENCH_PIDS=()
}

# stats LOGFILE: from the workers' exit lines, prints
# "n=.. total=.. min=.. max=.. cv=.. jain=.. wake_per_conn=.. spurious=.. spur_per_k=.. counts=a,b,c"
stats() {
        sed -n 's/.*worker leaving after \([0-9]*\) connections, \([0-9]*\) wakeups, \([0-9]*\) spurious.*/\1 \2 \3/p' "$1" |
                awk '{ c[NR] = $1; s += $1; q += $1 * $1; wk += $2; sp += $3 }
                END {
                        n = NR
                        if (n == 0 || s == 0) { print "n=" n " total=0"; exit }
                        m = s / n; var = q / n - m * m; if (var < 0) var = 0
                        mn = c[1]; mx = c[1]; list = c[1]
                        for (i = 2; i <= n; i++) { if (c[i] < mn) mn = c[i]; if (c[i] > mx) mx = c[i]; list = list "," c[i] }
                        printf "n=%d total=%d min=%d max=%d cv=%.3f jain=%.3f wake_per_conn=%.3f spurious=%d spur_per_k=%.2f counts=%s\n",
                                n, s, mn, mx, sqrt(var) / m, s * s / (n * q), wk / s, sp, 1000 * sp / s, list
                }'
}

# one_run CASE CONF NL C: sets RUN_LINE="CASE c=C rate=.. <stats>". Not
# run in a subshell, so that the daemon it starts is always cleaned up.
one_run() {
        local case=$1 cf=$2 nl=$3 c=$4 addrs=() p line st
        start_daemon "$case" "$cf" "$nl" "$W"
        for p in $DAEMON_PORTS; do
                addrs+=("127.0.0.1:$p")
        done
        # A moment for every worker to reach its wait (the probe in
        # start_daemon proves one of them did).
        sleep 0.2
        line=$("$ECHOLOAD" -q -c "$c" -t "$T" -S "$S" -d "$D" "${addrs[@]}" | tail -1)
        stop_daemon
        st=$(stats "$TMP/$case.log")
        RUN_LINE="$case c=$c rate=$(field "$line" rate) err=$(field "$line" err) $st"
}

printf '\n%-7s %4s %9s %5s %7s %7s %6s %6s %8s %9s  %s\n' case C conn/s err min max cv jain wake/conn spur/1k per-worker
declare -A JAIN=() SPUR=() RATE=() CV=() WPC=()
row() { # row LINE
        local l=$1 case c
        case=${l%% *}
        c=$(field "$l" c)
        printf '%-7s %4s %9s %5s %7s %7s %6s %6s %8s %9s  %s\n' "$case" "$c" "$(field "$l" rate)" "$(field "$l" err)" \
                "$(field "$l" min)" "$(field "$l" max)" "$(field "$l" cv)" "$(field "$l" jain)" \
                "$(field "$l" wake_per_conn)" "$(field "$l" spur_per_k)" "$(field "$l" counts)"
        JAIN[$case,$c]+="$(field "$l" jain) "
        SPUR[$case,$c]+="$(field "$l" spur_per_k) "
        RATE[$case,$c]+="$(field "$l" rate) "
        CV[$case,$c]+="$(field "$l" cv) "
        WPC[$case,$c]+="$(field "$l" wake_per_conn) "
}

for c in $LOADS; do
        for _ in $(seq "$ROUNDS"); do
                one_run multi "$TMP/multi.conf" "$L" "$c"
                row "$RUN_LINE"
                one_run single "$TMP/single.conf" 1 "$c"
                row "$RUN_LINE"
        done
done

echo
echo "-- medians over $ROUNDS rounds (Jain: 1.000 = even, $(awk -v w="$W" 'BEGIN{printf "%.3f", 1 / w}') = one worker took all)"
printf '%-7s %4s %9s %6s %6s %9s %9s\n' case C conn/s cv jain wake/conn spur/1k
SUMMARY=""
for c in $LOADS; do
        for case in multi single; do
                # shellcheck disable=SC2086
                {
                        rate=$(median ${RATE[$case,$c]})
                        cv=$(MEDIAN_FMT=%.3f median ${CV[$case,$c]})
                        jain=$(MEDIAN_FMT=%.3f median ${JAIN[$case,$c]})
                        wpc=$(MEDIAN_FMT=%.3f median ${WPC[$case,$c]})
                        spur=$(MEDIAN_FMT=%.2f median ${SPUR[$case,$c]})
                }
                printf '%-7s %4s %9s %6s %6s %9s %9s\n' "$case" "$c" "$rate" "$cv" "$jain" "$wpc" "$spur"
                SUMMARY+=" ${case}_c${c}_jain=$jain ${case}_c${c}_spur_per_k=$spur ${case}_c${c}_rate=$rate"
        done
done

if [ "$STRACE" = 1 ]; then
        command -v strace >/dev/null || bench_die "STRACE=1 needs strace"
        c=$(wc -w <<<"$LOADS")
        c=$(cut -d' ' -f"$(( (c + 1) / 2 ))" <<<"$LOADS")
        echo
        echo "-- cross-check under strace (C=$c): accept4 per worker, ok / EAGAIN; epoll_pwait returns"
        for case in multi single; do
                nl=1
                [ "$case" = multi ] && nl=$L
                mkdir -p "$TMP/st-$case"
                PREFORKD_REAL=$PREFORKD
                # start_daemon runs $PREFORKD; wrap it in strace for this run.
                PREFORKD="$TMP/st-wrap.sh"
                # -D: strace runs as a detached grandchild, so the daemon
                # keeps the pid that start_daemon knows.
                printf '#!/bin/sh\nexec strace -D -f -ff --seccomp-bpf -e trace=accept4,epoll_pwait -o %s/st-%s/t %s "$@"\n' \
                        "$TMP" "$case" "$PREFORKD_REAL" >"$PREFORKD"
                chmod +x "$PREFORKD"
                one_run "$case" "$TMP/$case.conf" "$nl" "$c"
                PREFORKD=$PREFORKD_REAL
                echo "   daemon counters: $RUN_LINE"
                for f in "$TMP/st-$case"/t.*; do
                        awk -v pid="${f##*.}" '
                                /^accept4\(/ { if ($0 ~ /= -1 EAGAIN/) ea++; else if ($0 ~ /= [0-9]+$/) ok++; else other++ }
                                /^epoll_pwait\(/ { if ($0 ~ /= [1-9][0-9]*$/) ew++ }
                                END { if (ok + ea + ew > 0) printf "   pid %s: accept4 ok=%d EAGAIN=%d other=%d; epoll_pwait returned events %d times\n", pid, ok, ea, other, ew }' "$f"
                done
        done
fi

END=$(date +%s)
echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (on $(nproc) CPUs: above that, other work shared the machine)"
echo "SUMMARY date=$(date -u +%Y-%m-%dT%H:%M:%SZ) W=$W L=$L secs=$D rounds=$ROUNDS$SUMMARY elapsed_s=$((END - START))"
