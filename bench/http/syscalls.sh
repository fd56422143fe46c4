#!/bin/bash
# SPDX-License-Identifier: MIT
# Syscalls per request on the HTTP hot path, preforkd against lighttpd:
# one worker each, strace -c -f on it (preforkd: every child of the
# master, the worker and the front stage, so that a connection parked
# under strace's slowdown is counted too), a fixed number of requests for
# a 1 KiB file by ab, keep-alive (-k) and with a new connection for each.
#
#   bench/http/syscalls.sh [-n REQUESTS]
#
# PREFORKD=path/to/preforkd compares another build (default: a release
# build of this tree, made by bench/lib.sh). Needs strace, ab, curl and
# lighttpd; ptrace must be allowed (same uid, or ptrace_scope 0).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

N=2000
while getopts n: o; do
        case $o in
        n) N=$OPTARG ;;
        *) bench_die "usage: $0 [-n REQUESTS]" ;;
        esac
done
for t in strace ab curl; do command -v "$t" >/dev/null || bench_die "needs $t"; done
LIGHTTPD=$(command -v lighttpd || echo /usr/sbin/lighttpd)
[ -x "$LIGHTTPD" ] || bench_die "needs lighttpd"
[ -n "${PREFORKD:-}" ] || bench_build_targets src/preforkd

TMP=$(mktemp -d)
LPID=
stop_lighttpd() { if [ -n "$LPID" ]; then kill -TERM "$LPID" 2>/dev/null || true; wait "$LPID" 2>/dev/null || true; fi; }
trap 'stop_lighttpd; bench_cleanup; rm -rf "$TMP"' EXIT
http_root "$TMP/root"
# Files as a server has them: not written in the last second, whose
# contents preforkd's open-file cache keeps (see preforkd.conf(5),
# open_file_cache; it reads a file changed within the second every time).
sleep 1.1

# trace NAME URL MODE(keepalive|close) PID...: runs ab for N requests
# while strace counts the syscalls of PID...; prints "NAME MODE total
# per-request" and the per-request count of each syscall.
trace() {
        local name=$1 url=$2 mode=$3 out=$TMP/strace.$1.$3 args=() p k=()
        shift 3
        for p in "$@"; do args+=(-p "$p"); done
        [ "$mode" = close ] || k=(-k)
        # A warm-up outside the count: files opened, buffers touched.
        ab -q "${k[@]}" -n 100 -c 1 "$url" >/dev/null
        strace -c -f -o "$out" "${args[@]}" 2>/dev/null &
        local spid=$!
        sleep 0.5
        ab -q "${k[@]}" -n "$N" -c 1 "$url" >"$TMP/ab.out" 2>&1 || { cat "$TMP/ab.out" >&2; bench_die "ab failed"; }
        grep -q "^Failed requests: *0" "$TMP/ab.out" || bench_log "$name $mode: $(grep '^Failed' "$TMP/ab.out")"
        sleep 0.3
        kill -INT "$spid"
        wait "$spid" 2>/dev/null || true
        awk -v n="$N" -v name="$name" -v mode="$mode" '
                $1 ~ /^-+$/ { body = !body; next }
                body && NF >= 5 { calls = ($4 ~ /^[0-9]+$/) ? $4 : $5; sc = $NF;
                        if (sc == "total") next; t += calls; per[sc] = calls / n }
                END { printf "%-9s %-9s %6.2f ", name, mode, t / n;
                        for (s in per) if (per[s] >= 0.01) printf " %s=%.2f", s, per[s]; printf "\n" }' "$out"
}

# preforkd: one worker.
http_preforkd_conf "$TMP/preforkd.conf" "$TMP/root" 127.0.0.1:0 1 1000000 info
start_daemon preforkd "$TMP/preforkd.conf" 1 1 /1k.bin
read -r -a KIDS <<<"$(children "$DAEMON_PID")"
PURL="http://127.0.0.1:${DAEMON_PORTS%% *}/1k.bin"

# lighttpd: one process (server.max-worker unset: no fork).
for try in 1 2 3 4 5; do
        port=$(free_port)
        http_lighttpd_conf "$TMP/lighttpd.conf" "$TMP/root" "$port" 0 1000000 "$TMP/lighttpd.err"
        sed -i '/server.max-worker/d' "$TMP/lighttpd.conf"
        "$LIGHTTPD" -D -f "$TMP/lighttpd.conf" 2>>"$TMP/lighttpd.log" &
        LPID=$!
        LURL="http://127.0.0.1:$port/1k.bin"
        http_wait "$LURL" 2>/dev/null && break
        stop_lighttpd
        LPID=
done
[ -n "$LPID" ] || bench_die "lighttpd did not start: $(tail -3 "$TMP/lighttpd.err" 2>/dev/null)"

echo "syscalls per request, $N requests of a 1 KiB file, ab -c 1 (preforkd: $PREFORKD)"
printf '%-9s %-9s %6s  %s\n' server mode total breakdown
for mode in keepalive close; do
        trace preforkd "$PURL" "$mode" "${KIDS[@]}"
        trace lighttpd "$LURL" "$mode" "$LPID"
done
