#!/bin/bash
# SPDX-License-Identifier: MIT
#
# bench/ab.sh: two preforkd daemons, A and B, that differ in their binary
# or in one service setting, measured in alternation on 127.0.0.1: the
# rate, the server's CPU time per request or connection (schedstat of the
# master and all its children), its context switches per request and
# (http) wrk's latency p99. The
# order is swapped every round, so that a burst of noise on a shared
# machine hits a pair, not one side. This is how the defaults of
# park.delay and defer_accept were chosen (bench/README.md, "Defaults
# chosen by A/B runs").
#
#   MODE=http CONF_B='park = { delay = 0.005; };' bench/ab.sh
#   MODE=echo BIN_A=/tmp/old/src/preforkd bench/ab.sh
#
# Knobs (environment), defaults in (): MODE (http: wrk on a 1 KiB file,
# or FILE_KIB KiB of random bytes;
# echo: bench/echoload, one 64-byte exchange per connection), BIN_A and
# BIN_B (a release build of this tree, made by lib.sh), CONF_A and CONF_B
# (extra settings of the service, e.g. "defer_accept = true;"), W (http 2,
# echo 4), C (http 2, echo 8), T (wrk threads: 1), HDR (an extra request
# header, e.g. "Connection: close"), ROUNDS (6), D (2 s per run), BUILD.
# Prints one line per run and a line "MEAN name rate cpu_us switches p99_ms"
# per daemon (p99: the median over the rounds); exits 1 only when
# something failed to run.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
MODE=${MODE:-http}
ROUNDS=${ROUNDS:-6}
D=${D:-2}
T=${T:-1}
case $MODE in
http) W=${W:-2} C=${C:-2} ;;
echo) W=${W:-4} C=${C:-8} ;;
*) bench_die "MODE must be http or echo" ;;
esac
command -v wrk >/dev/null || bench_die "needs wrk"
bench_build_targets src/preforkd bench/echoload
BIN_A=${BIN_A:-$BUILD/src/preforkd}
BIN_B=${BIN_B:-$BUILD/src/preforkd}

TMP=$(mktemp -d)
trap 'bench_cleanup; rm -rf "$TMP"' EXIT
FILE_KIB=${FILE_KIB:-1}
FILE=1k.bin
if [ "$MODE" = http ]; then
        http_root "$TMP/root"
        if [ "$FILE_KIB" != 1 ]; then
                FILE=${FILE_KIB}k.bin
                head -c $((FILE_KIB * 1024)) /dev/urandom >"$TMP/root/$FILE"
                chmod a+r "$TMP/root/$FILE"
        fi
        # Files as a server has them: not written in the last second (the
        # open-file cache reads a file changed within the second anew).
        sleep 1.1
fi

# sched_sum PID FIELD: field FIELD (1: on-CPU ns, 3: times scheduled in)
# of /proc/PID/schedstat, summed over PID and its children.
sched_sum() {
        local p s=0 v
        for p in "$1" $(children "$1"); do
                v=$(awk -v f="$2" '{print $f}' /proc/"$p"/schedstat 2>/dev/null || echo 0)
                s=$((s + ${v:-0}))
        done
        echo "$s"
}

declare -A PORT PID
for b in A B; do
        # shellcheck disable=SC2034 # PREFORKD is start_daemon's (lib.sh)
        if [ $b = A ]; then PREFORKD=$BIN_A extra=${CONF_A:-}; else PREFORKD=$BIN_B extra=${CONF_B:-}; fi
        if [ "$MODE" = http ]; then
                http_preforkd_conf "$TMP/$b.conf" "$TMP/root" 127.0.0.1:0 "$W" 1000 info "$extra"
                start_daemon "$b" "$TMP/$b.conf" 1 "$W" "/$FILE"
        else
                echo_conf "$TMP/$b.conf" "$W"
                sed -i "s|handler = \"echo\";|handler = \"echo\"; $extra|" "$TMP/$b.conf"
                start_daemon "$b" "$TMP/$b.conf" 1 "$W"
        fi
        PORT[$b]=${DAEMON_PORTS%% *}
        PID[$b]=$DAEMON_PID
done
echo "== bench/ab.sh $MODE, W=$W C=$C, $ROUNDS rounds of ${D}s, $(date -u +%Y-%m-%dT%H:%M:%SZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "A: $BIN_A ${CONF_A:-}"
echo "B: $BIN_B ${CONF_B:-}"

# run NAME: one measurement; prints "NAME rate cpu_us switches p99_ms".
run() {
        local b=$1 c0 c1 s0 s1 n rate out p99=nan
        c0=$(sched_sum "${PID[$b]}" 1)
        s0=$(sched_sum "${PID[$b]}" 3)
        if [ "$MODE" = http ]; then
                out=$(timeout $((D + 30)) wrk -t"$T" -c"$C" -d"${D}s" --latency ${HDR:+-H "$HDR"} \
                        "http://127.0.0.1:${PORT[$b]}/$FILE")
                n=$(awk '/requests in/ {print $1}' <<<"$out")
                rate=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
                p99=$(awk '$1 == "99%" { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
                        print (u == "us") ? v / 1000 : (u == "s") ? v * 1000 : v }' <<<"$out")
        else
                out=$(timeout $((D + 30)) "$ECHOLOAD" -q -c "$C" -t 2 -S 16 -s 64 -d "$D" -w 0 "127.0.0.1:${PORT[$b]}" | tail -1)
                n=$(field "$out" ok)
                rate=$(field "$out" rate)
        fi
        c1=$(sched_sum "${PID[$b]}" 1)
        s1=$(sched_sum "${PID[$b]}" 3)
        [ "${n:-0}" -gt 0 ] || bench_die "no request went through $b: $out"
        awk -v b="$b" -v r="$rate" -v c=$((c1 - c0)) -v s=$((s1 - s0)) -v n="$n" -v p="${p99:-nan}" \
                'BEGIN { printf "%s %.0f %.2f %.3f %s\n", b, r, c / n / 1000, s / n, p }'
}

for r in $(seq "$ROUNDS"); do
        if [ $((r % 2)) = 0 ]; then order="B A"; else order="A B"; fi
        for b in $order; do
                line=$(run "$b")
                echo "round $r: $line"
                echo "$line" >>"$TMP/results"
        done
done
echo "name rate cpu_us_per_request switches_per_request (means over the rounds) p99_ms (median)"
for b in A B; do
        p99=-
        # shellcheck disable=SC2046 # one number per line
        [ "$MODE" != http ] ||
                p99=$(MEDIAN_FMT=%.2f median $(awk -v b=$b '$1 == b && $5 != "nan" {print $5}' "$TMP/results"))
        awk -v b=$b -v p="$p99" '$1 == b { r += $2; c += $3; s += $4; n++ }
             END { printf "MEAN %s %.0f %.2f %.3f %s\n", b, r / n, c / n, s / n, p }' "$TMP/results"
done
