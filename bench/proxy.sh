#!/bin/bash
# SPDX-License-Identifier: MIT
#
# bench/proxy.sh: the benchmarks of issue 14 (PROXY protocol, a fleet
# behind HAProxy), in one run on loopback. Sections (SECTIONS, both by
# default):
#
#   parse   the cost of parsing a PROXY v2 header: HTTP "Connection: close"
#           GETs of 1 KiB (bench/proxyload, C clients, D seconds) to two
#           services of one daemon, W workers each, alike but for
#           proxy_protocol: "off" (no header sent) and "v2" (every
#           connection begins with a v2 header). ROUNDS rounds, the order
#           alternating; the ratio v2/off per round, its median and range.
#   fleet   requests per second through HAProxy (Debian's package) to 1, 2
#           and 3 preforkd hosts (127.0.1.1-3, W workers each,
#           send-proxy-v2, health and agent checks as in
#           conf/examples/haproxy-fleet), keep-alive and close clients. On
#           a machine with few CPUs (all of them shared by the hosts,
#           HAProxy and the client) this measures the overhead of the
#           extra hops, not scale.
#
#   bench/proxy.sh                       # the defaults, about 2 minutes
#   ROUNDS=1 D=0.5 bench/proxy.sh        # a quick check that it runs
#
# Knobs (environment), defaults in (): SECTIONS ("parse fleet"), ROUNDS
# (5), D (3: seconds per client run), C (8: clients), W (2: workers per
# service or host), BUILD (/tmp/preforkd-bench-build: the release build
# made from this tree). The failed-request counts of the fleet's drain,
# reload and kill steps come from its test: meson test -C build fleet -v.
# Needs haproxy (apt-get install haproxy) for "fleet". Everything listens
# on loopback; every client run is bounded by its duration and timeout(1);
# what was started is stopped by pid. Prints each measurement as it goes,
# then the tables (markdown) and a last line "SUMMARY key=value ...".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

SECTIONS=${SECTIONS:-parse fleet}
ROUNDS=${ROUNDS:-5}
D=${D:-3}
C=${C:-8}
W=${W:-2}

TMP=$(mktemp -d /tmp/preforkd-bench-proxy.XXXXXX)
cleanup() {
        bench_cleanup
        rm -rf "$TMP"
}
trap cleanup EXIT

bench_build_targets src/preforkd bench/proxyload
PROXYLOAD=$BUILD/bench/proxyload
http_root "$TMP/root"
printf 'ok\n' >"$TMP/root/id.txt"
SUMMARY=""

# load ARGS...: one bounded proxyload run; prints its RESULT line.
load() {
        timeout "$(awk -v d="$D" 'BEGIN { printf "%d", d + 30 }')" "$PROXYLOAD" -q -c "$C" -d "$D" "$@" |
                grep '^RESULT' || echo "RESULT ok=0 rate=0 err=1"
}

# start_logged NAME CONF: preforkd in the background, log in $TMP/NAME.log;
# waits for its "Ready" line. Sets DAEMON_PID.
start_logged() {
        local log=$TMP/$1.log i
        PREFORKD_LOG_TARGET=stderr "$PREFORKD" -c "$2" 2>"$log" &
        DAEMON_PID=$!
        BENCH_PIDS+=("$DAEMON_PID")
        for i in $(seq 200); do
                grep -q "Ready: generation 1" "$log" && return 0
                kill -0 "$DAEMON_PID" 2>/dev/null || break
                sleep 0.05
        done
        cat "$log" >&2
        bench_die "preforkd ($1) did not come up"
}

# port_of NAME SERVICE: the port service SERVICE of daemon NAME listens on.
port_of() {
        sed -n "s/.*Listening on [0-9.]*:\([0-9][0-9]*\) (service $2)\$/\1/p" "$TMP/$1.log" | head -1
}

# ---- parse --------------------------------------------------------------

section_parse() {
        local conf=$TMP/parse.conf p_off p_v2 r off v2 ratios=() offs=() v2s=() first
        cat >"$conf" <<EOC
log_level = "info";
services = (
  { name = "off"; listen = [ "127.0.0.1:0" ]; workers = $W; handler = "http"; backlog = 4096;
    http = { root = "$TMP/root"; access_log = false; }; },
  { name = "v2"; listen = [ "127.0.0.1:0" ]; workers = $W; handler = "http"; backlog = 4096;
    proxy_protocol = "v2";
    http = { root = "$TMP/root"; access_log = false; }; } );
EOC
        start_logged parse "$conf"
        p_off=$(port_of parse off)
        p_v2=$(port_of parse v2)
        [[ $(load -n 1 "127.0.0.1:$p_off") == *" err=0 "* ]] || bench_die "service off does not answer"
        [[ $(load -2 -n 1 "127.0.0.1:$p_v2") == *" err=0 "* ]] || bench_die "service v2 does not answer"
        for r in $(seq "$ROUNDS"); do
                # Alternate which goes first, against drift.
                first=$((r % 2))
                if [ "$first" = 1 ]; then
                        off=$(load "127.0.0.1:$p_off")
                        v2=$(load -2 "127.0.0.1:$p_v2")
                else
                        v2=$(load -2 "127.0.0.1:$p_v2")
                        off=$(load "127.0.0.1:$p_off")
                fi
                offs+=("$(field "$off" rate)")
                v2s+=("$(field "$v2" rate)")
                ratios+=("$(quotient "$(field "$v2" rate)" "$(field "$off" rate)")")
                bench_log "parse round $r: off $(field "$off" rate)/s (err $(field "$off" err)), v2 $(field "$v2" rate)/s (err $(field "$v2" err)), v2/off ${ratios[-1]}"
        done
        bench_cleanup
        PARSE_TABLE=$(
                echo "| Connection: close, 1 KiB, C=$C, W=$W | req/s (median, min-max of $ROUNDS) |"
                echo "|---|---|"
                echo "| proxy_protocol off, no header | $(MEDIAN_FMT=%.0f spread "${offs[@]}") |"
                echo "| proxy_protocol v2, v2 header | $(MEDIAN_FMT=%.0f spread "${v2s[@]}") |"
                echo "| ratio v2/off | $(MEDIAN_FMT=%.3f spread "${ratios[@]}") |"
        )
        SUMMARY+=" parse_ratio=$(MEDIAN_FMT=%.3f median "${ratios[@]}")"
}

# ---- fleet --------------------------------------------------------------

section_fleet() {
        local n i conf cfg fe=() hp rows="" ka cl
        command -v haproxy >/dev/null || bench_die "haproxy is not installed (apt-get install haproxy)"
        for n in 1 2 3; do
                conf=$TMP/h$n.conf
                cat >"$conf" <<EOC
log_level = "info";
services = ( { name = "web"; listen = [ "127.0.1.$n:0" ]; workers = $W; handler = "http"; backlog = 4096;
  proxy_protocol = "v2"; proxy_from = [ "127.0.0.1" ]; agent_listen = "127.0.1.$n:0";
  http = { root = "$TMP/root"; access_log = false; }; } );
EOC
                start_logged "h$n" "$conf"
        done
        cfg=$TMP/haproxy.cfg
        {
                printf 'global\n    maxconn 4000\n    nbthread 1\n'
                printf 'defaults\n    mode http\n    timeout connect 2s\n    timeout client 30s\n'
                printf '    timeout server 30s\n    retries 3\n    option redispatch 1\n'
                printf '    retry-on conn-failure empty-response\n'
                for n in 1 2 3; do
                        fe[n]=$(free_port)
                        printf 'frontend fe%s\n    bind 127.0.0.1:%s\n    default_backend be%s\n' "$n" "${fe[n]}" "$n"
                        printf 'backend be%s\n    balance roundrobin\n    option httpchk GET /id.txt\n' "$n"
                        printf '    default-server send-proxy-v2 check check-send-proxy inter 1s weight 100 agent-inter 1s source 127.0.0.1\n'
                        for i in $(seq "$n"); do
                                printf '    server h%s 127.0.1.%s:%s agent-check agent-port %s\n' "$i" "$i" \
                                        "$(port_of "h$i" web)" "$(port_of "h$i" "web agent check")"
                        done
                done
        } >"$cfg"
        haproxy -f "$cfg" -db >"$TMP/haproxy.log" 2>&1 &
        hp=$!
        BENCH_PIDS+=("$hp")
        for n in 1 2 3; do
                http_wait "http://127.0.0.1:${fe[n]}/id.txt" || { cat "$TMP/haproxy.log" >&2; bench_die "haproxy fe$n"; }
        done
        declare -A kas=() cls=()
        for i in $(seq "$ROUNDS"); do
                for n in 1 2 3; do
                        ka=$(load -k "127.0.0.1:${fe[n]}")
                        cl=$(load "127.0.0.1:${fe[n]}")
                        kas[$n]+=" $(field "$ka" rate)"
                        cls[$n]+=" $(field "$cl" rate)"
                        bench_log "fleet round $i, $n host(s): keep-alive $(field "$ka" rate)/s (err $(field "$ka" err)), close $(field "$cl" rate)/s (err $(field "$cl" err))"
                done
        done
        bench_cleanup
        for n in 1 2 3; do
                # shellcheck disable=SC2086
                rows+="| $n | $(MEDIAN_FMT=%.0f spread ${kas[$n]}) | $(MEDIAN_FMT=%.0f spread ${cls[$n]}) |"$'\n'
                # shellcheck disable=SC2086
                SUMMARY+=" fleet${n}_keepalive=$(MEDIAN_FMT=%.0f median ${kas[$n]}) fleet${n}_close=$(MEDIAN_FMT=%.0f median ${cls[$n]})"
        done
        FLEET_TABLE=$(
                echo "| hosts behind HAProxy (W=$W each, C=$C) | keep-alive req/s (median, min-max) | close req/s |"
                echo "|---|---|---|"
                printf '%s' "$rows"
        )
}

PARSE_TABLE=""
FLEET_TABLE=""
for s in $SECTIONS; do
        case $s in
        parse) section_parse ;;
        fleet) section_fleet ;;
        *) bench_die "unknown section $s" ;;
        esac
done
[ -z "$PARSE_TABLE" ] || printf '\n%s\n' "$PARSE_TABLE"
[ -z "$FLEET_TABLE" ] || printf '\n%s\n' "$FLEET_TABLE"
echo
echo "SUMMARY rounds=$ROUNDS d=$D c=$C w=$W$SUMMARY"
