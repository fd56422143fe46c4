# shellcheck shell=bash disable=SC2034
# SPDX-License-Identifier: MIT
# Shared helpers for bench/run-*.sh (sourced, not run).

BENCH_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-/tmp/preforkd-bench-build}
BENCH_PIDS=()

bench_log() { printf '%s\n' "$*" >&2; }
bench_die() { bench_log "error: $*"; exit 1; }

# Configures (once) and builds the daemon and the bench programs in a
# release build directory of our own, never the developer's build/.
bench_build() {
        if [ ! -f "$BUILD/build.ninja" ]; then
                meson setup "$BUILD" "$BENCH_SRC" -Dbuildtype=release -Dtests=disabled >"$BUILD.setup.log" 2>&1 ||
                        { cat "$BUILD.setup.log" >&2; bench_die "meson setup failed"; }
        fi
        ninja -C "$BUILD" src/preforkd bench/echoload bench/ceiling bench/respawn >"$BUILD.ninja.log" 2>&1 ||
                { tail -50 "$BUILD.ninja.log" >&2; bench_die "build failed (full log: $BUILD.ninja.log)"; }
        PREFORKD=$BUILD/src/preforkd
        ECHOLOAD=$BUILD/bench/echoload
        CEILING=$BUILD/bench/ceiling
        RESPAWN=$BUILD/bench/respawn
}

# Kills what we started, by pid only: the daemon gets TERM (graceful
# stop, its workers follow), then KILL if it lingers.
bench_cleanup() {
        local p i
        for p in "${BENCH_PIDS[@]}"; do
                kill -TERM "$p" 2>/dev/null || true
        done
        for p in "${BENCH_PIDS[@]}"; do
                for i in $(seq 50); do
                        kill -0 "$p" 2>/dev/null || break
                        sleep 0.1
                done
                kill -KILL "$p" 2>/dev/null || true
        done
        BENCH_PIDS=()
}

# children PID: the pids of PID's children, space separated.
children() {
        cat /proc/"$1"/task/*/children 2>/dev/null | tr -s ' \n' ' ' || true
}

# start_ceiling VAR_PID VAR_PORT
start_ceiling() {
        local out=$TMP/ceiling.out p port=
        "$CEILING" >"$out" 2>"$TMP/ceiling.err" &
        p=$!
        BENCH_PIDS+=("$p")
        for _ in $(seq 100); do
                port=$(awk '/^PORT /{print $2}' "$out")
                [ -n "$port" ] && break
                sleep 0.05
        done
        [ -n "$port" ] || bench_die "ceiling did not start: $(cat "$TMP/ceiling.err")"
        printf -v "$1" '%s' "$p"
        printf -v "$2" '%s' "$port"
}

# start_daemon NAME CONFIG_FILE N_LISTENERS N_WORKERS: starts preforkd in
# the foreground with stderr to $TMP/NAME.log; sets DAEMON_PID and
# DAEMON_PORTS (the ports it logged, in order). Ready when every listener
# was logged, the master has N_WORKERS children and an echo goes through
# on every port.
start_daemon() {
        local name=$1 conf=$2 nl=$3 nw=$4 log=$TMP/$1.log ports n i p
        PREFORKD_LOG_TARGET=stderr "$PREFORKD" -c "$conf" 2>"$log" &
        DAEMON_PID=$!
        BENCH_PIDS+=("$DAEMON_PID")
        for i in $(seq 200); do
                kill -0 "$DAEMON_PID" 2>/dev/null || { cat "$log" >&2; bench_die "preforkd ($name) exited"; }
                ports=$(sed -n 's/.*Listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$log" | tr '\n' ' ')
                n=$(wc -w <<<"$(children "$DAEMON_PID")")
                if [ "$(wc -w <<<"$ports")" -ge "$nl" ] && [ "$n" -ge "$nw" ]; then
                        break
                fi
                sleep 0.05
        done
        [ "$i" -lt 200 ] || { cat "$log" >&2; bench_die "preforkd ($name) did not come up"; }
        DAEMON_PORTS=$ports
        local out
        for p in $ports; do
                for i in 1 2 3; do
                        out=$("$ECHOLOAD" -q -n 1 -d 0 -T 5000 "127.0.0.1:$p" 2>&1) && break
                        bench_log "probe $i of preforkd ($name) on port $p failed: $out"
                        sleep 0.2
                done
                if [[ $out != *" ok=1 "* ]]; then
                        tail -20 "$log" >&2
                        bench_die "preforkd ($name) does not echo on port $p"
                fi
        done
}

# cpu_ns PID...: the sum of the on-CPU time (ns) of the processes.
cpu_ns() {
        local p s=0 v
        for p in "$@"; do
                v=$(awk '{print $1}' /proc/"$p"/schedstat 2>/dev/null || echo 0)
                s=$((s + ${v:-0}))
        done
        echo "$s"
}

# field LINE KEY: the value of KEY=value in a RESULT line.
field() {
        sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1"
}

# median NUMBERS...: the median (the mean of the middle two for an even
# count), printed with MEDIAN_FMT (default %.1f).
median() {
        printf '%s\n' "$@" | sort -g | awk -v fmt="${MEDIAN_FMT:-%.1f}" '{v[NR]=$1} END {
                if (NR == 0) { print "nan"; exit }
                if (NR % 2) m = v[(NR+1)/2]; else m = (v[NR/2] + v[NR/2+1]) / 2;
                printf fmt "\n", m }'
}
