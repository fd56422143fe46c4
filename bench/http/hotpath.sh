#!/bin/bash
# SPDX-License-Identifier: MIT
#
# bench/http/hotpath.sh: the benchmarks of issue 10 (the HTTP hot path), in
# one run on 127.0.0.1, side by side with lighttpd and nginx (Debian's
# packages, configured alike by lib.sh: W worker processes, sendfile, no
# access log, the same keep-alive limits and backlog) and, when OLD is
# given, with an older preforkd build. Sections (SECTIONS, both by
# default):
#
#   rows   wrk -tT -cC -d D s, T in WRK_THREADS (at most C), the order of
#          the servers rotated by round and row:
#            ka1k     1 KiB keep-alive, C = W    (target >= 1.0x lighttpd)
#            close1k  1 KiB Connection: close, C = W  (>= 1.1x the best peer)
#            close4w  1 KiB Connection: close, C = 4W (>= 1.1x the best peer)
#            ka64k    64 KiB keep-alive, C = W, MiB/s (NEW no worse than OLD)
#            ka1m     1 MiB keep-alive, C = W, MiB/s  (NEW no worse than OLD)
#          For each run also the server's CPU time per request (µs, from
#          /proc/PID/schedstat of all its processes): on a shared machine
#          steadier than the rate, which the other load moves.
#          Reported: medians over the rounds, and per-round ratios NEW /
#          lighttpd, NEW / best peer, NEW / OLD as median [min-max].
#   cache  the open-file cache's memory: a W = 1 daemon with the default
#          http.open_file_cache and one with open_file_cache = 0 each get
#          CACHE_FILES distinct 1 KiB files requested once on one
#          keep-alive connection (curl); the worker's Private_Clean +
#          Private_Dirty after minus before, for each; the cache's own
#          memory is the difference, per cached file.
#
#   NEW=/tmp/new-rel/src/preforkd [OLD=/tmp/old-rel/src/preforkd] bench/http/hotpath.sh
#
# Knobs (environment), defaults in (): SECTIONS ("rows cache"), ROUNDS (3),
# D (2), W (2), WRK_THREADS ("1 2"), ONLY (every row; or some of the row
# keys above, such as "ka64k ka1m"), KEEPALIVE_REQUESTS (1000),
# CACHE_FILES (1000), MAX_SECS (900: no new round starts after that).
# NEW and OLD must be release builds. Needs wrk, curl, nginx, lighttpd
# (installed with apt-get when missing and run as root). Every wrk run is
# bounded by its duration and timeout(1); what was started is stopped by
# pid. Prints each measurement as it goes, then markdown tables and a last
# line "SUMMARY key=value ...". Exits 1 only when something failed to run.
# The default run takes about 5 minutes on 2 CPUs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$here/../lib.sh"

NEW=${NEW:-}
OLD=${OLD:-}
SECTIONS=${SECTIONS:-rows cache}
ROUNDS=${ROUNDS:-3}
D=${D:-2}
W=${W:-2}
WRK_THREADS=${WRK_THREADS:-1 2}
KEEPALIVE_REQUESTS=${KEEPALIVE_REQUESTS:-1000}
CACHE_FILES=${CACHE_FILES:-1000}
MAX_SECS=${MAX_SECS:-900}

has() { [[ " $SECTIONS " == *" $1 "* ]]; }
[ -x "$NEW" ] || bench_die "usage: NEW=path/to/preforkd [OLD=path/to/older/preforkd] $0 (see the header)"
[ -z "$OLD" ] || [ -x "$OLD" ] || bench_die "OLD=$OLD is not an executable"

bench_need wrk curl nginx lighttpd
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
LIGHTTPD=$(command -v lighttpd || echo /usr/sbin/lighttpd)

# row_conns CW: a row's client count, from its spec ("W" or "4W").
row_conns() { if [ "$1" = W ]; then echo "$W"; else echo $((${1%W} * W)); fi; }

START=$(date +%s)
TMP=$(mktemp -d /tmp/preforkd-hotpath-bench.XXXXXX)
chmod 755 "$TMP"
trap 'stop_pidfile "$TMP/lighttpd.pid" lighttpd; bench_cleanup; rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

echo "== preforkd HTTP hot path benchmarks (issue 10) $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "host: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), $(uname -sr)"
echo "NEW: $(binary_info "$NEW")"
[ -z "$OLD" ] || echo "OLD: $(binary_info "$OLD")"
echo "peers: $("$NGINX" -v 2>&1 | head -1), $("$LIGHTTPD" -v 2>&1 | head -1)"
echo "sections: $SECTIONS; rounds $ROUNDS, wrk -d${D}s --timeout 5s, W=$W, keepalive_requests $KEEPALIVE_REQUESTS"

http_root "$TMP/root"
head -c $((64 * 1024)) /dev/urandom >"$TMP/root/64k.bin"
chmod a+r "$TMP/root/64k.bin"
declare -A PORT=() MASTER=()
start_preforkd() { # start_preforkd NAME BINARY WORKERS ROOT [HTTP_SETTINGS]
        PREFORKD=$2 # read by start_daemon (lib.sh)
        http_preforkd_conf "$TMP/$1.conf" "$4" 127.0.0.1:0 "$3" "$KEEPALIVE_REQUESTS" info "" "${5:-}"
        start_daemon "$1" "$TMP/$1.conf" 1 "$3" /1k.bin
        PORT[$1]=${DAEMON_PORTS%% *}
        MASTER[$1]=$DAEMON_PID
}

SUMMARY="SUMMARY date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
TABLES=""
table() { TABLES+="$*"$'\n'; }
PROBLEMS=()
declare -A V=()
elapsed() { echo $(($(date +%s) - START)); }
med() { # med KEY,SERVER [FORMAT]: the median of the per-round values (%.0f)
        # shellcheck disable=SC2086
        MEDIAN_FMT=${2:-%.0f} median ${V[$1]:-}
}
ratios() { # ratios KEY A B: the per-round ratios V[KEY,A] / V[KEY,B]
        paste -d' ' <(tr -s ' ' '\n' <<<"${V[$1,$2]}") <(tr -s ' ' '\n' <<<"${V[$1,$3]}") |
                awk 'NF == 2 { if ($2 > 0) printf "%.3f\n", $1 / $2; else print "nan" }'
}
rspread() { # rspread KEY A B: "median [min-max]" of the per-round ratios
        local m lo hi
        # shellcheck disable=SC2046 # one ratio per word
        read -r m lo hi <<<"$(MEDIAN_FMT=%.2f spread $(ratios "$1" "$2" "$3"))"
        echo "$m [$lo-$hi]"
}
nth() { awk -v i="$2" '{print $i}' <<<"$1"; }

# ---- rows ------------------------------------------------------------------------------
# key|name|file|close|conns (W or 4W)|unit
ROWS=(
        "ka1k|1 KiB keep-alive|1k.bin|no|W|req"
        "close1k|1 KiB Connection: close|1k.bin|yes|W|req"
        "close4w|1 KiB Connection: close|1k.bin|yes|4W|req"
        "ka64k|64 KiB keep-alive|64k.bin|no|W|mib"
        "ka1m|1 MiB keep-alive|1m.bin|no|W|mib"
)
if [ -n "${ONLY:-}" ]; then
        kept=()
        for row in "${ROWS[@]}"; do
                [[ " $ONLY " != *" ${row%%|*} "* ]] || kept+=("$row")
        done
        [ ${#kept[@]} -gt 0 ] || bench_die "ONLY=\"$ONLY\" names no row (ka1k close1k close4w ka64k ka1m)"
        ROWS=("${kept[@]}")
fi
if has rows; then
        SERVERS=(new)
        start_preforkd new "$NEW" "$W" "$TMP/root"
        if [ -n "$OLD" ]; then
                start_preforkd old "$OLD" "$W" "$TMP/root"
                SERVERS+=(old)
        fi
        start_nginx
        start_lighttpd
        SERVERS+=(nginx lighttpd)
        for s in "${SERVERS[@]}"; do
                timeout 10 wrk -t1 -c2 -d1s "http://127.0.0.1:${PORT[$s]}/1k.bin" >/dev/null 2>&1 || true
        done

        # cell SERVER KEY FILE CLOSE CONNS THREADS UNIT: one wrk run; its rate
        # to V[KEY,SERVER], the server's CPU µs per request to V[KEY.cpu,SERVER].
        cell() {
                local s=$1 key=$2 out v n c0 c1 cpu p procs
                read -r -a procs <<<"${MASTER[$s]} $(children "${MASTER[$s]}")"
                wrk_argv "$6" "$5" "$D" "$4" "http://127.0.0.1:${PORT[$s]}/$3"
                c0=$(cpu_ns "${procs[@]}")
                out=$(timeout $((D + 30)) "${WRK_ARGV[@]}" 2>&1 || true)
                c1=$(cpu_ns "${procs[@]}")
                v=$(wrk_value "$out" "$7")
                n=$(awk '/requests in/ { print $1 }' <<<"$out")
                cpu=$(awk -v a="$c0" -v b="$c1" -v n="${n:-0}" 'BEGIN { if (n > 0) printf "%.2f", (b - a) / 1000 / n; else print "nan" }')
                V[$key,$s]+="$v "
                V[$key.cpu,$s]+="$cpu "
                while IFS= read -r p; do
                        [ -z "$p" ] || PROBLEMS+=("$key $s: $p")
                done <<<"$(wrk_problems "$out")"
                printf '  %-16s %-9s %10s %s  %8s us/req\n' "$key" "$s" "$v" "$([ "$7" = mib ] && echo MiB/s || echo req/s)" "$cpu"
        }

        echo
        echo "-- rows: ${SERVERS[*]}"
        n=${#SERVERS[@]}
        for r in $(seq "$ROUNDS"); do
                if [ "$(elapsed)" -ge "$MAX_SECS" ]; then
                        bench_log "MAX_SECS=$MAX_SECS reached: stopping after $((r - 1)) rounds"
                        break
                fi
                echo " round $r"
                i=0
                for row in "${ROWS[@]}"; do
                        IFS='|' read -r key name file close cw unit <<<"$row"
                        c=$(row_conns "$cw")
                        for t in $WRK_THREADS; do
                                th=$((t < c ? t : c))
                                k="$key.t$t"
                                for ((j = 0; j < n; j++)); do
                                        cell "${SERVERS[$(((j + r + i) % n))]}" "$k" "$file" "$close" "$c" "$th" "$unit"
                                done
                                i=$((i + 1))
                                a=$(nth "${V[$k,nginx]}" "$r")
                                b=$(nth "${V[$k,lighttpd]}" "$r")
                                V[$k,best]+="$(awk -v a="$a" -v b="$b" 'BEGIN { print (a > b ? a : b) }') "
                        done
                done
        done

        table ""
        table "HTTP hot path, W = $W (medians over the rounds; ratios: median [min-max] of the per-round ratios; CPU: the server's on-CPU time per request, all its processes)"
        table ""
        hdr="| row | C | wrk | NEW |"
        sep="|---|---|---|---|"
        [ -z "$OLD" ] || { hdr+=" OLD |"; sep+="---|"; }
        hdr+=" nginx | lighttpd | NEW / lighttpd | NEW / best peer |"
        sep+="---|---|---|---|"
        [ -z "$OLD" ] || { hdr+=" NEW / OLD |"; sep+="---|"; }
        hdr+=" CPU µs/req: NEW$([ -z "$OLD" ] || echo ", OLD"), nginx, lighttpd |"
        sep+="---|"
        table "$hdr"
        table "$sep"
        for row in "${ROWS[@]}"; do
                IFS='|' read -r key name file close cw unit <<<"$row"
                c=$(row_conns "$cw")
                for t in $WRK_THREADS; do
                        th=$((t < c ? t : c))
                        k="$key.t$t"
                        fmt=%.0f
                        [ "$unit" != mib ] || fmt=%.1f
                        line="| $name$([ "$unit" = mib ] && echo " (MiB/s)") | $c ($cw) | -t$th | $(med "$k,new" $fmt)"
                        [ -z "$OLD" ] || line+=" | $(med "$k,old" $fmt)"
                        line+=" | $(med "$k,nginx" $fmt) | $(med "$k,lighttpd" $fmt) | $(rspread "$k" new lighttpd) | $(rspread "$k" new best)"
                        [ -z "$OLD" ] || line+=" | $(rspread "$k" new old)"
                        cpus=""
                        for s in "${SERVERS[@]}"; do cpus+="${cpus:+, }$(med "$k.cpu,$s" %.1f)"; done
                        table "$line | $cpus |"
                        SUMMARY+=" $k.new=$(med "$k,new" $fmt) $k.per_lighttpd=$(rspread "$k" new lighttpd | tr -d ' ') $k.per_best=$(rspread "$k" new best | tr -d ' ')"
                        [ -z "$OLD" ] || SUMMARY+=" $k.per_old=$(rspread "$k" new old | tr -d ' ')"
                        SUMMARY+=" $k.cpu_new=$(med "$k.cpu,new" %.1f)"
                done
        done
fi

# ---- cache -----------------------------------------------------------------------------
# private_kib PID: Private_Clean + Private_Dirty of the process (KiB).
private_kib() { echo $(($(smaps "$1" Private_Clean) + $(smaps "$1" Private_Dirty))); }
if has cache; then
        echo
        echo "-- cache: $CACHE_FILES files of 1 KiB, one worker, open_file_cache default vs 0"
        mkdir -p "$TMP/many"
        chmod 755 "$TMP/many"
        for i in $(seq "$CACHE_FILES"); do head -c 1024 /dev/urandom >"$TMP/many/f$i.bin"; done
        cp "$TMP/root/1k.bin" "$TMP/many/1k.bin"
        chmod -R a+rX "$TMP/many"
        # curl's own config: every URL on one keep-alive connection.
        for i in $(seq "$CACHE_FILES"); do
                printf 'url = "http://127.0.0.1:PORT/f%s.bin"\noutput = "/dev/null"\n' "$i"
        done >"$TMP/urls.template"
        for v in on off; do
                extra=""
                [ "$v" = on ] || extra="open_file_cache = 0;"
                start_preforkd "cache$v" "$NEW" 1 "$TMP/many" "$extra"
                wk=$(children "${MASTER[cache$v]}" | tr ' ' '\n' | while read -r p; do
                        [ "$(cat /proc/"$p"/comm 2>/dev/null)" = preforkd ] && echo "$p"
                done | head -1)
                [ -n "$wk" ] || bench_die "no worker for cache$v"
                sed "s/PORT/${PORT[cache$v]}/" "$TMP/urls.template" >"$TMP/urls.$v"
                # One warm-up request: buffers touched, nothing cached yet.
                curl -s -o /dev/null "http://127.0.0.1:${PORT[cache$v]}/1k.bin"
                before=$(private_kib "$wk")
                timeout 120 curl -s -K "$TMP/urls.$v" -w '%{http_code}\n' >"$TMP/codes.$v" ||
                        bench_die "curl for cache$v failed"
                ok=$(grep -c '^200$' "$TMP/codes.$v" || true)
                [ "$ok" = "$CACHE_FILES" ] || PROBLEMS+=("cache $v: $ok of $CACHE_FILES answered 200")
                after=$(private_kib "$wk")
                fds=$(find /proc/"$wk"/fd -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
                V[cache.$v]="$before $after $fds"
                echo "  open_file_cache $v: worker private memory $before -> $after KiB, $fds fds open"
        done
        read -r b1 a1 f1 <<<"${V[cache.on]}"
        read -r b0 a0 f0 <<<"${V[cache.off]}"
        per=$(awk -v a="$((a1 - b1 - (a0 - b0)))" -v n="$CACHE_FILES" 'BEGIN { printf "%.0f", a * 1024 / n }')
        table ""
        table "open-file cache: $CACHE_FILES files of 1 KiB requested once each by one worker (private memory: Private_Clean + Private_Dirty)"
        table ""
        table "| open_file_cache | worker private KiB before -> after | grown | fds open after |"
        table "|---|---|---|---|"
        table "| default (4096) | $b1 -> $a1 | $((a1 - b1)) KiB | $f1 |"
        table "| 0 (off) | $b0 -> $a0 | $((a0 - b0)) KiB | $f0 |"
        table ""
        table "The cache's own memory: $((a1 - b1 - (a0 - b0))) KiB for $CACHE_FILES files, about $per bytes per cached file (and one fd each)."
        SUMMARY+=" cache.kib_on=$((a1 - b1)) cache.kib_off=$((a0 - b0)) cache.bytes_per_file=$per"
fi

echo
printf '%s' "$TABLES"
echo
if [ ${#PROBLEMS[@]} -gt 0 ]; then
        echo "problems (${#PROBLEMS[@]}):"
        printf '  %s\n' "${PROBLEMS[@]}"
else
        echo "problems: none"
fi
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (on $(nproc) CPUs)"
echo "$SUMMARY problems=${#PROBLEMS[@]} elapsed_s=$(elapsed)"
