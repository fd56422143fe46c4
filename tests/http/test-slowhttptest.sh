#!/bin/bash
# SPDX-License-Identifier: MIT
# test-slowhttptest.sh MODE: slowhttptest (Debian's package) against a
# W = 2 service; the service must stay available throughout (issue 9,
# "Real clients"). MODE is one of
#   slowloris  (-H) SLOW_CONNS connections each trickling a request head,
#              one header line every 5 s; header_timeout is 30 s, so none
#              of them ends before the test does;
#   slowbody   (-B) SLOW_CONNS POSTs announcing 4096 bytes of body and
#              sending a few bytes every 5 s (slowhttptest sends
#              "Connection: close", so a static server answers 405 at once
#              and the attack ends early; what is asserted is availability);
#   slowread   (-X) SLOW_READ_CONNS GETs of a 4 MiB file (more than the
#              kernel queues on a socket, so a worker that sends it to a
#              slow reader is held until the front stage takes the
#              remainder), each client advertising a 1..512 byte window and
#              reading 5 bytes a second.
# Each runs SLOW_SECS (20) seconds. Two verdicts must agree:
#   - slowhttptest's own: its CSV (-g) has one row per second whose
#     "Service Available" column is non-zero when its probe connection got
#     an answer within 5 s (-p 5); every row must say available, and (for
#     slowloris and slowread) the rows must cover the whole test with the
#     connections established;
#   - an independent probe: curl, every 0.5 s during the whole run, a fresh
#     connection that must get 200 within 5 s, every time.
# Afterwards the service answers and stops gracefully.
#
# Environment: SLOW_CONNS (300), SLOW_READ_CONNS (200: each holds up to
# ~1.6 MB of kernel send queue), SLOW_SECS (20), and clients-lib.sh's
# (CLIENTS_PARK=false is the negative control). Exit: 0 passed, 1 failed,
# 77 slowhttptest or curl missing outside CI.
# shellcheck source-path=SCRIPTDIR source=clients-lib.sh
. "$(dirname "$0")/clients-lib.sh"

MODE=${1:-}
SECS=${SLOW_SECS:-20}
case $MODE in
slowloris) flag=-H conns=${SLOW_CONNS:-300} path=/index.html extra=(-i 5) ;;
slowbody) flag=-B conns=${SLOW_CONNS:-300} path=/index.html extra=(-i 5 -s 4096) ;;
slowread) flag=-X conns=${SLOW_READ_CONNS:-200} path=/big.bin extra=(-k 1 -n 1 -w 1 -y 512 -z 5) ;;
*) echo "usage: $0 slowloris|slowbody|slowread"; exit 64 ;;
esac
need_tools slowhttptest curl timeout
make_tmp "slowhttptest-$MODE"

echo "<html><body>index</body></html>" >"$TMP/root/index.html"
head -c $((4 * 1024 * 1024)) /dev/urandom >"$TMP/root/big.bin"
# header_timeout longer than the test: no slow head ends before it does.
start_preforkd 2 "header_timeout = 30.0;"
echo "preforkd $MASTER on 127.0.0.1:$PORT, workers = 2, park ${CLIENTS_PARK:-true}"

cmd=(slowhttptest "$flag" -c "$conns" -r 100 -l "$SECS" -p 5 "${extra[@]}" -g -o "$TMP/slow"
        -u "http://127.0.0.1:$PORT$path")
echo "${cmd[*]}"
timeout -k 5 $((SECS + 60)) "${cmd[@]}" >"$TMP/slowhttptest.out" 2>&1 </dev/null &
slow=$!
PIDS+=("$slow")

# The independent probe: bounded by the run's length, not only by its end.
probes=0 bad=0 worst=0
: >"$TMP/probes.txt"
for _ in $(seq $((2 * (SECS + 70)))); do
        kill -0 "$slow" 2>/dev/null || break
        out=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 5 "http://127.0.0.1:$PORT/ping.txt" 2>/dev/null)
        echo "$(date +%T.%N | cut -c1-12) $out" >>"$TMP/probes.txt"
        probes=$((probes + 1))
        [ "${out%% *}" = 200 ] || bad=$((bad + 1))
        worst=$(awk -v a="$worst" -v b="${out#* }" 'BEGIN { print (b > a ? b : a) }')
        sleep 0.5
done
wait "$slow"
rc=$?
tr -d '\033' <"$TMP/slowhttptest.out" | sed 's/\[[0-9;]*m//g' >"$TMP/slowhttptest.txt"
status=$(sed -n 's/^Exit status: *//p' "$TMP/slowhttptest.txt" | tail -1)
echo "slowhttptest exited $rc: ${status:-no exit status}"

csv=$TMP/slow.csv
if [ ! -s "$csv" ]; then
        fail "slowhttptest wrote no CSV"
        tail -20 "$TMP/slowhttptest.txt"
else
        # Seconds,Closed,Pending,Connected,Service Available
        read -r rows unavail last maxconn endconn <<<"$(awk -F, 'NR > 1 && NF >= 5 {
                n++; if ($5 + 0 == 0) u++; last = $1; if ($4 + 0 > m) m = $4 + 0; e = $4 + 0 }
                END { printf "%d %d %d %d %d\n", n, u, last, m, e }' "$csv")"
        echo "CSV: $rows rows, last second $last, at most $maxconn connected at once, $endconn at the end, unavailable in $unavail"
        if [ "$rows" -gt 0 ] && [ "$unavail" = 0 ]; then
                pass "slowhttptest $flag: service available in each of its $rows seconds"
        else
                fail "slowhttptest $flag: service unavailable in $unavail of $rows seconds"
                awk -F, 'NR > 1 && $5 + 0 == 0' "$csv" | head -5 | sed 's/^/  unavailable: /'
        fi
        if [ "$MODE" != slowbody ]; then
                # The attack really ran: most connections up, to the end.
                if [ "$last" -ge "$SECS" ] && [ "$endconn" -ge $((conns * 9 / 10)) ]; then
                        pass "the attack held $endconn of $conns connections open to its end ($last s)"
                else
                        fail "the attack did not run as meant: $endconn of $conns connected at its end, $last s ($status)"
                fi
        fi
fi
# slowbody ends as soon as every POST was answered: a probe or more.
min_probes=$SECS
[ "$MODE" != slowbody ] || min_probes=1
if [ "$probes" -ge "$min_probes" ] && [ "$bad" = 0 ]; then
        pass "curl probe: $probes of $probes answered 200 within 5 s (slowest $worst s)"
else
        fail "curl probe: $bad of $probes not answered 200 within 5 s"
        grep -v ' 200 ' "$TMP/probes.txt" | head -5 | sed 's/^/  /'
fi

if [ "$(probe /index.html)" = 200 ]; then pass "answers after the attack"; else fail "no answer after the attack"; fi
stop_and_check
finish
