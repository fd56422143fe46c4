#!/bin/bash
# SPDX-License-Identifier: MIT
#
# bench/http/park.sh: the benchmarks of issue 9 (the front stage), in one
# run on 127.0.0.1, side by side with nginx and lighttpd (Debian's
# packages, configured alike: W worker processes, sendfile, no access log,
# the same keep-alive limits and backlog; see lib.sh) and with the build
# before the front stage (MAIN). Sections (SECTIONS, all by default):
#
#   ka        keep-alive 1 KiB at C = W, 4W, 64, 256, 1024, wrk -t1 and -t2:
#             PARK, nginx, lighttpd; the ratio PARK / max(nginx, lighttpd)
#             per round, its median and min-max over the rounds, and each
#             server's latency p99 (wrk --latency);
#   close     Connection: close and keep-alive 1 KiB at C = W, -t1 and -t2:
#             PARK / MAIN per round (the hand-off must cost normal clients
#             nothing);
#   idle      IDLE_N idle keep-alive connections held (bench/idlehold) plus
#             a fresh client: its latency median and p99 over IDLE_PROBES
#             sequential requests (and the same with none held just before,
#             the machine's own tail), every held connection checked afterwards,
#             and the front stage's private memory (smaps_rollup
#             Private_Clean + Private_Dirty of preforkd-front) with them
#             held minus before, per connection; nginx and lighttpd for
#             scale (all their processes' private memory);
#   slowloris slowhttptest -H with SL_CONNS connections for SL_SECS s per
#             server (PARK; PARK with header_timeout 60 s, nginx's and
#             lighttpd's limit, so that its slow heads last the whole
#             attack; nginx, lighttpd): seconds its probe found the service
#             available, and a curl probe every second;
#   reload    RELOADS reloads in RELOAD_SECS s under wrk -t2 -cRELOAD_CONNS
#             keep-alive: failed requests (wrk's socket errors and non-2xx)
#             for PARK (SIGHUP), MAIN (SIGHUP) and nginx (nginx -s reload);
#   delay     park.delay DELAYS at C = W and 64, wrk -t1 and -t2, each
#             delay its own PARK daemon; and the time to open BURST_N
#             keep-alive connections that then go idle (each costs its
#             worker park.delay before it is parked).
#
#   PARK=/tmp/park-rel/src/preforkd MAIN=/tmp/main-rel/src/preforkd bench/http/park.sh
#
# Knobs (environment), defaults in (): SECTIONS ("ka close idle slowloris
# reload delay"), ROUNDS (3), D (2: seconds per wrk run), W (2), CS ("W 4W
# 64 256 1024"), WRK_THREADS ("1 2"), KEEPALIVE_REQUESTS (1000), IDLE_N
# (10000), IDLE_PROBES (1000), IDLE_ROUNDS (ROUNDS), SL_CONNS (1000),
# SL_SECS (30), SL_ROUNDS (1), RELOADS (5), RELOAD_SECS (10), RELOAD_CONNS
# (16), DELAYS ("0 0.002 0.005 0.01"), BURST_N (1000), MAX_SECS (1500: no new
# round starts after that), BUILD (where bench/idlehold is built from this
# tree; /tmp/preforkd-bench-build). PARK and MAIN must be release builds.
# Needs wrk, curl, nginx, lighttpd, slowhttptest (installed with apt-get
# when missing and run as root). All on 127.0.0.1; every client run is
# bounded by its own duration and timeout(1); what was started is stopped
# by pid. Prints each measurement as it goes, then the tables (markdown)
# and a last line "SUMMARY key=value ...". Exits 1 only when something
# failed to run. The default run takes about 11 minutes on 2 CPUs; one
# section alone 1-4 minutes.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$here/../lib.sh"

PARK=${PARK:-}
MAIN=${MAIN:-}
SECTIONS=${SECTIONS:-ka close idle slowloris reload delay}
ROUNDS=${ROUNDS:-3}
D=${D:-2}
W=${W:-2}
CS=${CS:-W 4W 64 256 1024}
WRK_THREADS=${WRK_THREADS:-1 2}
KEEPALIVE_REQUESTS=${KEEPALIVE_REQUESTS:-1000}
IDLE_N=${IDLE_N:-10000}
IDLE_PROBES=${IDLE_PROBES:-1000}
IDLE_ROUNDS=${IDLE_ROUNDS:-$ROUNDS}
SL_CONNS=${SL_CONNS:-1000}
SL_SECS=${SL_SECS:-30}
SL_ROUNDS=${SL_ROUNDS:-1}
RELOADS=${RELOADS:-5}
RELOAD_SECS=${RELOAD_SECS:-10}
RELOAD_CONNS=${RELOAD_CONNS:-16}
DELAYS=${DELAYS:-0 0.002 0.005 0.01}
BURST_N=${BURST_N:-1000}
MAX_SECS=${MAX_SECS:-1500}

has() { [[ " $SECTIONS " == *" $1 "* ]]; }
[ -x "$PARK" ] || bench_die "usage: PARK=path/to/preforkd [MAIN=path/to/preforkd-before] $0 (see the header)"
if has close || has reload; then
        [ -x "$MAIN" ] || bench_die "sections close and reload need MAIN=path/to/the build before the front stage"
fi

bench_need wrk curl nginx lighttpd slowhttptest
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
LIGHTTPD=$(command -v lighttpd || echo /usr/sbin/lighttpd)
# 1024 wrk connections, 10,000 held ones, 1000 slowloris ones.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

START=$(date +%s)
TMP=$(mktemp -d /tmp/preforkd-park-bench.XXXXXX)
chmod 755 "$TMP"
trap 'stop_pidfile "$TMP/lighttpd.pid" lighttpd; bench_cleanup; rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM

bench_build_targets bench/idlehold
IDLEHOLD=$BUILD/bench/idlehold

echo "== preforkd front stage benchmarks (issue 9) $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "host: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), $(uname -sr)"
echo "PARK: $(binary_info "$PARK")"
[ -z "$MAIN" ] || echo "MAIN: $(binary_info "$MAIN")"
echo "peers: $("$NGINX" -v 2>&1 | head -1), $("$LIGHTTPD" -v 2>&1 | head -1)"
echo "sections: $SECTIONS; rounds $ROUNDS, wrk -d${D}s --timeout 5s, W=$W, keepalive_requests $KEEPALIVE_REQUESTS"

# ---- servers ----------------------------------------------------------------------
http_root "$TMP/root"
declare -A PORT=() MASTER=()
start_preforkd() { # start_preforkd NAME BINARY [SERVICE_SETTINGS] [HTTP_SETTINGS]
        PREFORKD=$2 # read by start_daemon (lib.sh)
        http_preforkd_conf "$TMP/$1.conf" "$TMP/root" 127.0.0.1:0 "$W" "$KEEPALIVE_REQUESTS" info "${3:-}" "${4:-}"
        start_daemon "$1" "$TMP/$1.conf" 1 "$W" /1k.bin
        PORT[$1]=${DAEMON_PORTS%% *}
        MASTER[$1]=$DAEMON_PID
}

start_preforkd park "$PARK"
if has close || has reload; then start_preforkd main "$MAIN"; fi
if has ka || has idle || has slowloris || has reload; then start_nginx; fi
if has ka || has idle || has slowloris; then start_lighttpd; fi
if has idle; then
        # Its own daemon, so that its front stage's idle memory is its own;
        # room for all the held connections and the fresh client's.
        start_preforkd idle "$PARK" "park = { max_parked = $((IDLE_N * 2)); };"
fi
if has slowloris; then
        # header_timeout 60 s as nginx's client_header_timeout and
        # lighttpd's server.max-read-idle: the slow heads stay for the
        # whole attack instead of getting 408 after 10 s.
        start_preforkd park60 "$PARK" "" "header_timeout = 60.0;"
fi
if has delay; then
        for d in $DELAYS; do start_preforkd "delay$d" "$PARK" "park = { delay = $d; };"; done
fi
for s in "${!PORT[@]}"; do
        timeout 10 wrk -t1 -c2 -d1s "http://127.0.0.1:${PORT[$s]}/1k.bin" >/dev/null 2>&1 || true
done

# V[KEY,SERVER]: the per-round values, space separated, in round order.
declare -A V=()
PROBLEMS=()
elapsed() { echo $(($(date +%s) - START)); }
out_of_time() {
        if [ "$(elapsed)" -ge "$MAX_SECS" ]; then
                bench_log "MAX_SECS=$MAX_SECS reached: skipping the rest of the section"
                return 0
        fi
        return 1
}
conns_of() { # C as written in CS: W, 4W or a number
        case $1 in W) echo "$W" ;; *W) echo $((${1%W} * W)) ;; *) echo "$1" ;; esac
}
# wrk_cell SERVER THREADS CONNS CLOSE(yes|no) KEY: one wrk run, its req/s
# appended to V[KEY,SERVER].
# Also its latency p99 in ms to V[KEY.p99,SERVER] (wrk --latency).
wrk_cell() {
        local s=$1 t=$2 c=$3 out p v l
        [ "$t" -le "$c" ] || t=$c
        wrk_argv "$t" "$c" "$D" "$4" "http://127.0.0.1:${PORT[$s]}/1k.bin"
        out=$(timeout $((D + 30)) "${WRK_ARGV[@]:0:1}" --latency "${WRK_ARGV[@]:1}" 2>&1 || true)
        v=$(wrk_value "$out" req)
        # "99%  2.29s", "99%  10.79ms", "99%  81.00us"
        l=$(awk '$1 == "99%" { v = $2 + 0; if ($2 ~ /us$/) v /= 1000; else if ($2 ~ /ms$/) v *= 1;
                else if ($2 ~ /m$/) v *= 60000; else if ($2 ~ /s$/) v *= 1000; printf "%.2f", v }' <<<"$out")
        V[$5,$s]+="$v "
        V[$5.p99,$s]+="${l:-0} "
        while IFS= read -r p; do
                [ -z "$p" ] || PROBLEMS+=("$5 $s: $p")
        done <<<"$(wrk_problems "$out")"
        printf '  %-22s %-10s %10s req/s  p99 %s ms\n' "$5" "$s" "$v" "${l:-?}"
}
nth() { awk -v i="$2" '{print $i}' <<<"$1"; }
# ratios KEY A B: the per-round ratios V[KEY,A] / V[KEY,B], one per line.
ratios() {
        paste -d' ' <(tr -s ' ' '\n' <<<"${V[$1,$2]}") <(tr -s ' ' '\n' <<<"${V[$1,$3]}") |
                awk 'NF == 2 { if ($2 > 0) printf "%.3f\n", $1 / $2; else print "nan" }'
}
# rspread KEY A B: "median [min-max]" of ratios KEY A B.
rspread() {
        local m lo hi
        # shellcheck disable=SC2046 # one ratio per word
        read -r m lo hi <<<"$(MEDIAN_FMT=%.2f spread $(ratios "$1" "$2" "$3"))"
        echo "$m [$lo-$hi]"
}
med() { # med KEY SERVER: the median of the per-round values
        # shellcheck disable=SC2086
        MEDIAN_FMT=%.0f median ${V[$1,$2]:-}
}
# words "A B C ": "A, B, C" (a cell with one value per round).
words() { awk '{ $1 = $1; gsub(/ /, ", "); print }' <<<"$1"; }
p99s() { # p99s KEY: the medians of the p99s of PARK, nginx, lighttpd
        local s out=""
        for s in park nginx lighttpd; do
                # shellcheck disable=SC2086
                out+="${out:+, }$(MEDIAN_FMT=%.1f median ${V[$1.p99,$s]:-})"
        done
        echo "$out"
}
SUMMARY="SUMMARY date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
TABLES=""
table() { TABLES+="$*"$'\n'; }

# ---- ka --------------------------------------------------------------------------------
if has ka; then
        echo
        echo "-- ka: keep-alive 1 KiB, PARK vs nginx vs lighttpd"
        servers=(park nginx lighttpd)
        for r in $(seq "$ROUNDS"); do
                out_of_time && break
                echo " round $r"
                i=0
                for cw in $CS; do
                        c=$(conns_of "$cw")
                        for t in $WRK_THREADS; do
                                for k in 0 1 2; do
                                        wrk_cell "${servers[$(((k + r + i) % 3))]}" "$t" "$c" no "ka.c$c.t$t"
                                done
                                i=$((i + 1))
                                key="ka.c$c.t$t"
                                n=$(nth "${V[$key,nginx]}" "$r")
                                l=$(nth "${V[$key,lighttpd]}" "$r")
                                V[$key,best]+="$(awk -v a="$n" -v b="$l" 'BEGIN { print (a > b ? a : b) }') "
                        done
                done
        done
        table ""
        table "keep-alive 1 KiB, W = $W (req/s: medians over the rounds; ratios: median [min-max] of the per-round ratios)"
        table ""
        table "| C | wrk | PARK | nginx | lighttpd | PARK / best peer | PARK / nginx | PARK / lighttpd | latency p99 (ms): PARK, nginx, lighttpd |"
        table "|---|---|---|---|---|---|---|---|---|"
        for cw in $CS; do
                c=$(conns_of "$cw")
                for t in $WRK_THREADS; do
                        key="ka.c$c.t$t"
                        th=$((t < c ? t : c))
                        table "| $c ($cw) | -t$th | $(med "$key" park) | $(med "$key" nginx) | $(med "$key" lighttpd) | $(rspread "$key" park best) | $(rspread "$key" park nginx) | $(rspread "$key" park lighttpd) | $(p99s "$key") |"
                        SUMMARY+=" $key.park=$(med "$key" park) $key.per_best=$(rspread "$key" park best | tr -d ' ')"
                done
        done
fi

# ---- close -----------------------------------------------------------------------------
if has close; then
        echo
        echo "-- close: PARK vs MAIN at C = W"
        for r in $(seq "$ROUNDS"); do
                out_of_time && break
                echo " round $r"
                if [ $((r % 2)) = 1 ]; then order=(park main); else order=(main park); fi
                for row in close ka; do
                        cl=no
                        [ "$row" = ka ] || cl=yes
                        for t in $WRK_THREADS; do
                                for s in "${order[@]}"; do wrk_cell "$s" "$t" "$W" "$cl" "$row.cW.t$t"; done
                        done
                done
        done
        table ""
        table "PARK vs MAIN (the build before the front stage), 1 KiB, C = W = $W"
        table ""
        table "| row | wrk | PARK | MAIN | PARK / MAIN |"
        table "|---|---|---|---|---|"
        for row in close ka; do
                for t in $WRK_THREADS; do
                        key="$row.cW.t$t"
                        th=$((t < W ? t : W))
                        name="Connection: close"
                        [ "$row" = close ] || name="keep-alive"
                        table "| $name | -t$th | $(med "$key" park) | $(med "$key" main) | $(rspread "$key" park main) |"
                        SUMMARY+=" $key.park=$(med "$key" park) $key.main=$(med "$key" main) $key.ratio=$(rspread "$key" park main | tr -d ' ')"
                done
        done
fi

# ---- idle ------------------------------------------------------------------------------
# private_kib PID...: Private_Clean + Private_Dirty of the processes (KiB).
private_kib() {
        local p s=0
        for p in "$@"; do s=$((s + $(smaps "$p" Private_Clean) + $(smaps "$p" Private_Dirty))); done
        echo "$s"
}
front_of() { # the preforkd-front child of a master
        local c
        for c in $(children "$1"); do
                [ "$(cat /proc/"$c"/comm 2>/dev/null)" = preforkd-front ] && { echo "$c"; return 0; }
        done
        return 0
}
held_by() { find /proc/"$1"/fd -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
procs_of() { echo "$1 $(children "$1")"; }

idle_round() { # idle_round SERVER ROUND
        local s=$1 fp="" before after n lines res h i fdbase heldline base
        # The same probes with nothing held first: the machine's own tail.
        base=$(timeout 120 "$IDLEHOLD" -g -n 0 -p "$IDLE_PROBES" -m 100 "127.0.0.1:${PORT[$s]}" 2>&1 | grep '^RESULT' || true)
        [ -n "$base" ] || bench_die "idlehold -n 0 ($s) failed"
        V[idle.base_p50,$s]+="$(field "$base" p50_us) "
        V[idle.base_p99,$s]+="$(field "$base" p99_us) "
        if [ "$s" = idle ]; then
                fp=$(front_of "${MASTER[idle]}")
                [ -n "$fp" ] || bench_die "no front stage for the idle daemon"
                before=$(private_kib "$fp")
                fdbase=$(held_by "$fp")
        else
                # shellcheck disable=SC2046
                before=$(private_kib $(procs_of "${MASTER[$s]}"))
        fi
        coproc HOLD { exec timeout 300 "$IDLEHOLD" -n "$IDLE_N" -p "$IDLE_PROBES" -m 240 "127.0.0.1:${PORT[$s]}" 2>&1; }
        # shellcheck disable=SC2153 # set by coproc
        local hold_pid=$HOLD_PID
        BENCH_PIDS+=("$hold_pid")
        IFS= read -r -t 200 -u "${HOLD[0]}" heldline || bench_die "idlehold ($s) said nothing"
        [[ $heldline == HELD* ]] || bench_die "idlehold ($s): $heldline"
        n=$(field "$heldline" held)
        if [ -n "$fp" ]; then
                # Wait until the front stage holds them all (30 s at most).
                for i in $(seq 300); do
                        [ "$(($(held_by "$fp") - fdbase))" -ge "$n" ] && break
                        sleep 0.1
                done
                [ "$i" -lt 300 ] || PROBLEMS+=("idle round $2: the front stage holds $(($(held_by "$fp") - fdbase)) of $n")
                after=$(private_kib "$fp")
        else
                sleep 1
                # shellcheck disable=SC2046
                after=$(private_kib $(procs_of "${MASTER[$s]}"))
        fi
        echo go >&"${HOLD[1]}"
        lines=""
        while IFS= read -r -t 120 -u "${HOLD[0]}" h; do lines+="$h"$'\n'; done
        wait "$hold_pid" 2>/dev/null || true
        res=$(grep '^RESULT' <<<"$lines" || true)
        [ -n "$res" ] || bench_die "idlehold ($s) failed: $lines"
        V[idle.held,$s]+="$n "
        V[idle.open_s,$s]+="$(field "$heldline" secs) "
        V[idle.p50,$s]+="$(field "$res" p50_us) "
        V[idle.p99,$s]+="$(field "$res" p99_us) "
        V[idle.max,$s]+="$(field "$res" max_us) "
        V[idle.check_failed,$s]+="$(field "$res" check_failed) "
        V[idle.mem_before,$s]+="$before "
        V[idle.mem_after,$s]+="$after "
        V[idle.bytes_per,$s]+="$(awk -v a="$after" -v b="$before" -v n="$n" 'BEGIN { printf "%.0f", (n > 0 ? (a - b) * 1024 / n : 0) }') "
        for k in failed close probe_failed check_failed; do
                [ "$(field "$res" "$k")" = 0 ] || PROBLEMS+=("idle round $2 $s: $k=$(field "$res" "$k")")
        done
        printf '  %-9s none held: p50 %s us p99 %s us; held %s (opened in %s s), fresh client p50 %s us p99 %s us max %s us, private %s -> %s KiB, check failed %s\n' \
                "$s" "$(field "$base" p50_us)" "$(field "$base" p99_us)" "$n" "$(field "$heldline" secs)" "$(field "$res" p50_us)" "$(field "$res" p99_us)" "$(field "$res" max_us)" \
                "$before" "$after" "$(field "$res" check_failed)"
}
if has idle; then
        echo
        echo "-- idle: $IDLE_N idle keep-alive connections held, $IDLE_PROBES fresh requests"
        for r in $(seq "$IDLE_ROUNDS"); do
                out_of_time && break
                echo " round $r"
                for s in idle nginx lighttpd; do
                        idle_round "$s" "$r"
                        # Let the closed connections' TIME_WAITs settle a little.
                        sleep 1
                done
        done
        table ""
        table "$IDLE_N idle keep-alive connections held + a fresh client ($IDLE_PROBES sequential requests, Connection: close, 2 ms apart): medians over the rounds [min-max]"
        table ""
        table "| server | none held: p50 (us) | none held: p99 (us) | opened in (s) | held: fresh p50 (us) | held: fresh p99 (us) | held: max (us) | private KiB before -> held | bytes per held connection | held ones failing afterwards |"
        table "|---|---|---|---|---|---|---|---|---|---|"
        for s in idle nginx lighttpd; do
                row="| $([ "$s" = idle ] && echo "PARK (front stage)" || echo "$s (all processes)")"
                for k in base_p50 base_p99 open_s p50 p99 max; do
                        fmt=%.0f
                        [ "$k" != open_s ] || fmt=%.1f
                        # shellcheck disable=SC2086
                        read -r m lo hi <<<"$(MEDIAN_FMT=$fmt spread ${V[idle.$k,$s]:-})"
                        row+=" | $m [$lo-$hi]"
                done
                row+=" | $(med idle.mem_before "$s") -> $(med idle.mem_after "$s")"
                # shellcheck disable=SC2086
                read -r m lo hi <<<"$(MEDIAN_FMT=%.0f spread ${V[idle.bytes_per,$s]:-})"
                row+=" | $m [$lo-$hi] | $(tr -s ' ' '+' <<<"${V[idle.check_failed,$s]:-}" | sed 's/+$//') |"
                table "$row"
                SUMMARY+=" idle.$s.base_p99=$(med idle.base_p99 "$s") idle.$s.p50=$(med idle.p50 "$s") idle.$s.p99=$(med idle.p99 "$s") idle.$s.bytes_per=$m"
        done
fi

# ---- slowloris -------------------------------------------------------------------------
sl_round() { # sl_round SERVER ROUND
        local s=$1 slow probes=0 okp=0 out csv rows avail peak closed status
        csv=$TMP/sl-$s-$2
        timeout -k 5 $((SL_SECS + 60)) slowhttptest -H -c "$SL_CONNS" -r 200 -i 10 -p 5 -l "$SL_SECS" -g -o "$csv" \
                -u "http://127.0.0.1:${PORT[$s]}/1k.bin" >"$csv.out" 2>&1 </dev/null &
        slow=$!
        BENCH_PIDS+=("$slow")
        for _ in $(seq $((SL_SECS + 70))); do
                kill -0 "$slow" 2>/dev/null || break
                out=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:${PORT[$s]}/1k.bin" 2>/dev/null || true)
                probes=$((probes + 1))
                [ "$out" != 200 ] || okp=$((okp + 1))
                sleep 1
        done
        wait "$slow" 2>/dev/null || true
        [ -s "$csv.csv" ] || bench_die "slowhttptest ($s) wrote no CSV: $(tail -3 "$csv.out")"
        read -r rows avail peak closed <<<"$(awk -F, 'NR > 1 && NF >= 5 { n++; if ($5 + 0 > 0) a++; if ($4 + 0 > m) m = $4 + 0; c = $2 }
                END { printf "%d %d %d %d\n", n, a, m, c }' "$csv.csv")"
        status=$(tr -d '\033' <"$csv.out" | sed 's/\[[0-9;]*m//g' | sed -n 's/^Exit status: *//p' | tail -1)
        V[sl.avail,$s]+="$avail/$rows "
        V[sl.status,$s]+="${status// /_} "
        V[sl.peak,$s]+="$peak "
        V[sl.closed,$s]+="$closed "
        V[sl.curl,$s]+="$okp/$probes "
        printf '  %-9s available %s of %s s, peak %s connected, %s closed by the end (%s); curl %s of %s\n' \
                "$s" "$avail" "$rows" "$peak" "$closed" "$status" "$okp" "$probes"
}
if has slowloris; then
        echo
        echo "-- slowloris: slowhttptest -H -c $SL_CONNS -r 200 -i 10 -p 5 -l $SL_SECS"
        for r in $(seq "$SL_ROUNDS"); do
                out_of_time && break
                echo " round $r"
                for s in park park60 nginx lighttpd; do sl_round "$s" "$r"; done
        done
        table ""
        table "slowloris: slowhttptest -H -c $SL_CONNS -r 200 -i 10 -p 5 -l $SL_SECS (per round; park60: PARK with header_timeout = 60)"
        table ""
        table "| server | seconds available / seconds of the attack (slowhttptest) | peak connected | closed (its last row) | curl probes answered (1/s, 5 s timeout) | how the attack ended |"
        table "|---|---|---|---|---|---|"
        for s in park park60 nginx lighttpd; do
                table "| $s | $(words "${V[sl.avail,$s]:-}") | $(words "${V[sl.peak,$s]:-}") | $(words "${V[sl.closed,$s]:-}") | $(words "${V[sl.curl,$s]:-}") | $(words "${V[sl.status,$s]:-}" | tr _ ' ') |"
                SUMMARY+=" sl.$s.avail=$(tr -s ' ' ',' <<<"${V[sl.avail,$s]:-}" | sed 's/,$//')"
        done
fi

# ---- reload ----------------------------------------------------------------------------
reload_round() { # reload_round SERVER ROUND
        local s=$1 wpid out before after failed errs non2xx gap i
        before=0
        [ "$s" = nginx ] || before=$(grep -c 'Reloaded: generation' "$TMP/$s.log" || true)
        timeout $((RELOAD_SECS + 30)) wrk -t2 -c"$RELOAD_CONNS" -d"${RELOAD_SECS}s" --timeout 5s \
                "http://127.0.0.1:${PORT[$s]}/1k.bin" >"$TMP/reload-$s-$2.txt" 2>&1 &
        wpid=$!
        BENCH_PIDS+=("$wpid")
        gap=$(awk -v s="$RELOAD_SECS" -v n="$RELOADS" 'BEGIN { printf "%.3f", s / n }')
        sleep "$(awk -v g="$gap" 'BEGIN { printf "%.3f", g / 2 }')"
        for i in $(seq "$RELOADS"); do
                if [ "$s" = nginx ]; then
                        "$NGINX" -c "$TMP/nginx.conf" -s reload 2>>"$TMP/nginx/stderr.log" || PROBLEMS+=("reload $s: nginx -s reload failed")
                else
                        kill -HUP "${MASTER[$s]}"
                fi
                [ "$i" = "$RELOADS" ] || sleep "$gap"
        done
        wait "$wpid" 2>/dev/null || true
        out=$(cat "$TMP/reload-$s-$2.txt")
        errs=$(awk '/Socket errors/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' <<<"$out")
        non2xx=$(awk '/Non-2xx/ { print $NF }' <<<"$out")
        failed=$((${errs:-0} + ${non2xx:-0}))
        after=$RELOADS
        if [ "$s" != nginx ]; then
                sleep 0.5
                after=$(($(grep -c 'Reloaded: generation' "$TMP/$s.log" || true) - before))
        fi
        V[reload.failed,$s]+="$failed "
        V[reload.done,$s]+="$after "
        V[reload.rate,$s]+="$(wrk_value "$out" req) "
        printf '  %-9s %s failed requests (%s), %s of %s reloads done, %s req/s\n' "$s" "$failed" \
                "$(grep -E 'Socket errors|Non-2xx' <<<"$out" | sed 's/^ *//' | tr '\n' ';')" "$after" "$RELOADS" "$(wrk_value "$out" req)"
}
if has reload; then
        echo
        echo "-- reload: $RELOADS reloads in $RELOAD_SECS s under wrk -t2 -c$RELOAD_CONNS keep-alive"
        for r in $(seq "$ROUNDS"); do
                out_of_time && break
                echo " round $r"
                for s in park main nginx; do reload_round "$s" "$r"; done
        done
        table ""
        table "reload: $RELOADS reloads in $RELOAD_SECS s under wrk -t2 -c$RELOAD_CONNS -d${RELOAD_SECS}s keep-alive 1 KiB (per round)"
        table ""
        table "| server | failed requests | reloads done | req/s |"
        table "|---|---|---|---|"
        for s in park main nginx; do
                table "| $s | $(words "${V[reload.failed,$s]:-}") | $(words "${V[reload.done,$s]:-}") | $(words "${V[reload.rate,$s]:-}") |"
                SUMMARY+=" reload.$s.failed=$(tr -s ' ' ',' <<<"${V[reload.failed,$s]:-}" | sed 's/,$//')"
        done
fi

# ---- delay -----------------------------------------------------------------------------
if has delay; then
        echo
        echo "-- delay: park.delay $DELAYS"
        read -ra dl <<<"$DELAYS"
        nd=${#dl[@]}
        for r in $(seq "$ROUNDS"); do
                out_of_time && break
                echo " round $r"
                i=0
                for c in "$W" 64; do
                        for t in $WRK_THREADS; do
                                for ((k = 0; k < nd; k++)); do
                                        wrk_cell "delay${dl[$(((k + r + i) % nd))]}" "$t" "$c" no "delay.c$c.t$t"
                                done
                                i=$((i + 1))
                        done
                done
                for d in "${dl[@]}"; do
                        h=$(timeout 120 "$IDLEHOLD" -g -n "$BURST_N" -p 0 -m 100 "127.0.0.1:${PORT[delay$d]}" 2>&1 | grep '^HELD' || true)
                        V[burst,delay$d]+="$(field "$h" secs) "
                        printf '  %-22s %-10s %s\n' "burst of $BURST_N" "delay$d" "$h"
                        sleep 1
                done
        done
        ref=${dl[0]}
        for d in "${dl[@]}"; do [ "$d" != 0.002 ] || ref=0.002; done
        table ""
        table "park.delay: keep-alive 1 KiB req/s (medians; ratio to delay = $ref, median [min-max] per round), and the seconds to open $BURST_N keep-alive connections that then go idle (at most 256 opening at once)"
        table ""
        hdr="| C | wrk"
        sep="|---|---"
        for d in "${dl[@]}"; do hdr+=" | delay $d"; sep+="|---"; done
        table "$hdr |"
        table "$sep|"
        for c in "$W" 64; do
                for t in $WRK_THREADS; do
                        key="delay.c$c.t$t"
                        th=$((t < c ? t : c))
                        row="| $c | -t$th"
                        for d in "${dl[@]}"; do
                                row+=" | $(med "$key" "delay$d")"
                                [ "$d" = "$ref" ] || row+=" ($(rspread "$key" "delay$d" "delay$ref"))"
                                SUMMARY+=" $key.$d=$(med "$key" "delay$d")"
                        done
                        table "$row |"
                done
        done
        row="| burst of $BURST_N | (s)"
        for d in "${dl[@]}"; do
                # shellcheck disable=SC2086
                read -r m lo hi <<<"$(MEDIAN_FMT=%.2f spread ${V[burst,delay$d]:-})"
                row+=" | $m [$lo-$hi]"
                SUMMARY+=" burst.$d=$m"
        done
        table "$row |"
fi

END=$(date +%s)
echo
echo "== tables (load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs; $((END - START)) s)"
printf '%s' "$TABLES"
echo
if [ ${#PROBLEMS[@]} -gt 0 ]; then
        echo "problems (${#PROBLEMS[@]}):"
        printf '  %s\n' "${PROBLEMS[@]}"
else
        echo "problems: none (no wrk socket error or non-2xx outside the reload rows, no idlehold failure)"
fi
echo "$SUMMARY problems=${#PROBLEMS[@]} elapsed_s=$((END - START))"
