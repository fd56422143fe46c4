# shellcheck shell=bash disable=SC2034
# SPDX-License-Identifier: MIT
# Shared helpers for bench/run-*.sh (sourced, not run).

BENCH_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-/tmp/preforkd-bench-build}
BENCH_PIDS=()

bench_log() { printf '%s\n' "$*" >&2; }
bench_die() { bench_log "error: $*"; exit 1; }

# bench_need TOOL...: every TOOL found in PATH or /usr/sbin, else installed
# from Debian's package of the same name when we run as root with apt-get,
# else a clear error naming what is missing.
bench_need() {
        local t need=()
        for t in "$@"; do
                command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] || need+=("$t")
        done
        [ ${#need[@]} -gt 0 ] || return 0
        if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
                bench_die "missing: ${need[*]} (apt-get install ${need[*]})"
        fi
        bench_log "installing ${need[*]} (apt-get)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >&2 ||
                bench_die "apt-get install ${need[*]} failed"
}

# Configures (once) and builds the daemon and the bench programs in a
# release build directory of our own, never the developer's build/.
bench_build() {
        bench_build_targets src/preforkd bench/echoload bench/ceiling bench/respawn
}

# bench_build_targets TARGET...: the same for the ninja targets given only
# (PREFORKD and the other paths are set all the same).
bench_build_targets() {
        if [ ! -f "$BUILD/build.ninja" ]; then
                meson setup "$BUILD" "$BENCH_SRC" -Dbuildtype=release -Dtests=disabled >"$BUILD.setup.log" 2>&1 ||
                        { cat "$BUILD.setup.log" >&2; bench_die "meson setup failed"; }
        fi
        ninja -C "$BUILD" "$@" >"$BUILD.ninja.log" 2>&1 ||
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

# start_daemon NAME CONFIG_FILE N_LISTENERS N_WORKERS [PROBE]: starts
# $PREFORKD in the foreground with stderr to $TMP/NAME.log (the config
# must log at level info or lower, for the "Listening on" lines); sets
# DAEMON_PID and DAEMON_PORTS (the ports it logged, in order). Ready when
# every listener was logged, the master has N_WORKERS children and, on
# every port, an echo goes through (PROBE "echo", the default) or a GET of
# PROBE answers 200 (PROBE a path such as /1k.bin).
start_daemon() {
        local name=$1 conf=$2 nl=$3 nw=$4 probe=${5:-echo} log=$TMP/$1.log ports n i p
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
        if [ "$probe" != echo ]; then
                for p in $ports; do
                        http_wait "http://127.0.0.1:$p$probe" ||
                                { tail -20 "$log" >&2; bench_die "preforkd ($name) does not answer GET $probe on port $p"; }
                done
                return 0
        fi
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

# smaps PID KEY: the KEY field of /proc/PID/smaps_rollup in KiB (0 when
# the process is gone).
smaps() {
        awk -v k="$2:" '$1 == k {print $2}' /proc/"$1"/smaps_rollup 2>/dev/null || echo 0
}

# echo_conf FILE WORKERS [MIN_UPTIME]: a config with one echo service on
# 127.0.0.1:0 at log level info; MIN_UPTIME sets respawn.min_uptime (0 for
# bench/respawn, so that kills 50 ms apart do not count as crashes).
echo_conf() {
        local respawn=""
        [ -z "${3:-}" ] || respawn=" respawn = { min_uptime = $3; };"
        cat >"$1" <<EOC
log_level = "info";
services = ( { name = "echo"; listen = [ "127.0.0.1:0" ]; workers = $2; handler = "echo";$respawn } );
EOC
}

# mem_traffic PORT N_WORKERS: N_WORKERS*50 echo connections of 64 KiB, so
# that every worker has used its whole echo buffer before smaps is read.
mem_traffic() {
        timeout 60 "$ECHOLOAD" -q -c "$2" -t 1 -s 65536 -n $(($2 * 50)) -d 2 "127.0.0.1:$1" >/dev/null || true
}

# percentile P NUMBERS...: nearest rank, as bench_percentile_sorted() in
# benchutil.c (the smallest value with at least P% at or below it).
percentile() {
        local p=$1
        shift
        printf '%s\n' "$@" | sort -g | awk -v p="$p" '{v[NR]=$1} END {
                if (NR == 0) { print "nan"; exit }
                r = p / 100 * NR; i = int(r); if (i < r) i++; if (i < 1) i = 1;
                print v[i] }'
}

# spread NUMBERS...: "median min max", printed with MEDIAN_FMT (%.1f).
spread() {
        printf '%s\n' "$@" | sort -g | awk -v fmt="${MEDIAN_FMT:-%.1f}" '{v[NR]=$1} END {
                if (NR == 0) { print "nan nan nan"; exit }
                if (NR % 2) m = v[(NR+1)/2]; else m = (v[NR/2] + v[NR/2+1]) / 2;
                printf fmt " " fmt " " fmt "\n", m, v[1], v[NR] }'
}

# quotient A B: A/B with 3 decimals, "nan" when B is not positive.
quotient() {
        awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f\n", a / b; else print "nan" }'
}

# ---- HTTP (bench/http/run.sh, bench/compare.sh) -------------------------------

# http_wait URL: waits (10 s at most) until a GET of URL answers 200.
http_wait() {
        local _
        for _ in $(seq 100); do
                [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" 2>/dev/null)" = 200 ] && return 0
                sleep 0.1
        done
        bench_log "no 200 from $1"
        return 1
}

# http_root DIR: the document root of the HTTP benchmarks: 1 KiB and
# 1 MiB of random bytes, world-readable (nginx's and apache's workers run
# as an unprivileged user).
http_root() {
        mkdir -p "$1"
        chmod 755 "$1"
        head -c 1024 /dev/urandom >"$1/1k.bin"
        head -c $((1024 * 1024)) /dev/urandom >"$1/1m.bin"
        chmod -R a+rX "$1"
}

# http_preforkd_conf FILE ROOT LISTEN WORKERS KEEPALIVE_REQUESTS [LOG_LEVEL]
# [SERVICE_SETTINGS] [HTTP_SETTINGS]: preforkd's side of the HTTP
# comparison (one http service, no access log, keep-alive timeout 65 s,
# backlog 4096). LISTEN is ADDR:PORT; SERVICE_SETTINGS (such as "park = {
# delay = 0.01; };") go into the service, HTTP_SETTINGS (such as
# "header_timeout = 60.0;") into its http group, as they are.
http_preforkd_conf() {
        cat >"$1" <<EOC
log_level = "${6:-warning}";
services = ( {
  name = "bench";
  listen = [ "$3" ];
  backlog = 4096;
  workers = $4;
  handler = "http";
  ${7:-}
  http = {
    root = "$2";
    access_log = false;
    keepalive_requests = $5;
    keepalive_timeout = 65.0;
    ${8:-}
  };
} );
EOC
}

# http_lighttpd_conf FILE ROOT PORT WORKERS KEEPALIVE_REQUESTS ERROR_LOG:
# lighttpd configured like http_preforkd_conf: WORKERS processes
# (server.max-worker), sendfile (its default network backend), no access
# log (mod_accesslog not loaded), the same keep-alive limits and backlog,
# on 127.0.0.1:PORT. lighttpd reads port 0 as 80, so PORT must be real.
http_lighttpd_conf() {
        cat >"$1" <<EOC
server.document-root = "$2"
server.bind = "127.0.0.1"
server.port = $3
server.max-worker = $4
server.errorlog = "$6"
server.network-backend = "sendfile"
server.listen-backlog = 4096
server.max-keep-alive-requests = $5
server.max-keep-alive-idle = 65
EOC
}

# http_nginx_conf FILE ROOT PORT WORKERS KEEPALIVE_REQUESTS DIR: nginx
# configured like http_preforkd_conf (WORKERS processes, sendfile, no access
# log, the same keep-alive limits and backlog) on 127.0.0.1:PORT, in the
# foreground, its pid file, error log and temporary paths in DIR; room for
# 16384 connections per worker (the idle-connection benchmarks).
http_nginx_conf() {
        mkdir -p "$6"
        cat >"$1" <<EOC
worker_processes $4;
worker_rlimit_nofile 40000;
pid $6/nginx.pid;
error_log $6/error.log warn;
daemon off;
events { worker_connections 16384; }
http {
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  access_log off;
  keepalive_requests $5;
  keepalive_timeout 65s;
  client_body_temp_path $6/body;
  proxy_temp_path $6/proxy;
  fastcgi_temp_path $6/fastcgi;
  uwsgi_temp_path $6/uwsgi;
  scgi_temp_path $6/scgi;
  server {
    listen 127.0.0.1:$3 backlog=4096;
    root $2;
  }
}
EOC
}

# free_port: a TCP port below the ephemeral range (so that no client's
# connect() picks it meanwhile) that nothing listens on or uses now, drawn
# at random. Racy by nature: the caller retries if its bind fails.
free_port() {
        local low used=" " p _ addr
        low=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
        [ "$low" -gt 20000 ] || bench_die "ip_local_port_range starts at $low: no room below it for a fixed port"
        while read -r _ addr _; do
                [[ $addr == *:* ]] && used+="$((16#${addr##*:})) "
        done < <(cat /proc/net/tcp /proc/net/tcp6 2>/dev/null)
        for _ in $(seq 100); do
                p=$((20000 + RANDOM % (low - 20000)))
                [[ $used == *" $p "* ]] || { echo "$p"; return 0; }
        done
        bench_die "no free port found below $low"
}

# wrk_argv THREADS CONNS SECS CLOSE(yes|no) URL: sets WRK_ARGV to the wrk
# command line (5 s timeout per request; CLOSE adds "Connection: close").
wrk_argv() {
        WRK_ARGV=(wrk "-t$1" "-c$2" "-d${3}s" --timeout 5s)
        [ "$4" != yes ] || WRK_ARGV+=(-H "Connection: close")
        WRK_ARGV+=("$5")
}

# wrk_run THREADS CONNS SECS CLOSE URL: runs wrk_argv's command line,
# bounded by timeout(1), and prints wrk's output (empty on failure).
wrk_run() {
        wrk_argv "$1" "$2" "$3" "$4" "$5"
        timeout $(($3 + 30)) "${WRK_ARGV[@]}" 2>&1 || true
}

# wrk_value OUTPUT UNIT: from wrk's output, requests/s (UNIT req) or the
# transfer rate in MiB/s (UNIT mib); 0 when wrk printed neither.
wrk_value() {
        local v
        if [ "$2" = mib ]; then
                v=$(awk '/^Transfer\/sec:/ { v = $2; u = substr(v, length(v) - 1); n = v + 0;
                        if (u == "GB") n *= 1024; else if (u == "KB") n /= 1024; else if (u ~ /[0-9]B/) n /= 1048576;
                        printf "%.1f", n }' <<<"$1")
        else
                v=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$1")
        fi
        echo "${v:-0}"
}

# wrk_problems OUTPUT: wrk's socket error and non-2xx lines, if any.
wrk_problems() {
        awk '/Socket errors|Non-2xx/ { sub(/^ +/, ""); print }' <<<"$1"
}

# ---- servers for the side-by-side HTTP benchmarks (http/park.sh, http/hotpath.sh) ----
# They use the caller's TMP (a scratch directory), W (workers),
# KEEPALIVE_REQUESTS, NGINX and LIGHTTPD (the binaries), and fill the
# associative arrays PORT[NAME] and MASTER[NAME] (declare -A them first).

stop_pidfile() { # stop_pidfile FILE COMM: TERM to the pid in FILE if it is a COMM
        local p
        p=$(cat "$1" 2>/dev/null) || return 0
        if [ "$(cat /proc/"$p"/comm 2>/dev/null)" = "$2" ]; then kill -TERM "$p" 2>/dev/null || true; fi
}
binary_info() {
        local info src rev
        info=$(dirname "$1")/../meson-info/meson-info.json
        src=$(sed -n 's/.*"source": *"\([^"]*\)".*/\1/p' "$info" 2>/dev/null | head -1)
        if [ -n "$src" ] && rev=$(git -C "$src" describe --always --dirty 2>/dev/null); then
                echo "$1 (built from $src, now at $rev)"
        else
                echo "$1"
        fi
}

# nginx and lighttpd cannot be asked for port 0 and tell: each gets a
# free port below the ephemeral range, another one if it does not come up
# (at most 5 tries). lighttpd runs in a session of its own (its master
# signals its whole process group when it stops); setsid --wait stays
# until it exits, and lighttpd is stopped by the pid from its pid file.
start_nginx() {
        local try port pid
        for try in 1 2 3 4 5; do
                port=$(free_port)
                http_nginx_conf "$TMP/nginx.conf" "$TMP/root" "$port" "$W" "$KEEPALIVE_REQUESTS" "$TMP/nginx"
                "$NGINX" -c "$TMP/nginx.conf" -e "$TMP/nginx/error.log" 2>>"$TMP/nginx/stderr.log" &
                pid=$!
                BENCH_PIDS+=("$pid")
                if http_wait "http://127.0.0.1:$port/1k.bin" 2>/dev/null && kill -0 "$pid" 2>/dev/null; then
                        PORT["nginx"]=$port
                        MASTER["nginx"]=$pid
                        return 0
                fi
                kill -TERM "$pid" 2>/dev/null || true
                wait "$pid" 2>/dev/null || true
                bench_log "nginx on port $port did not come up (try $try): $(tail -2 "$TMP/nginx/error.log" 2>/dev/null)"
        done
        bench_die "nginx did not start"
}
start_lighttpd() {
        local try port waiter i pid
        for try in 1 2 3 4 5; do
                port=$(free_port)
                rm -f "$TMP/lighttpd.pid"
                http_lighttpd_conf "$TMP/lighttpd.conf" "$TMP/root" "$port" "$W" "$KEEPALIVE_REQUESTS" "$TMP/lighttpd.err"
                cat >>"$TMP/lighttpd.conf" <<EOF
server.pid-file = "$TMP/lighttpd.pid"
server.max-fds = 40000
server.max-connections = 16384
EOF
                setsid --wait "$LIGHTTPD" -D -f "$TMP/lighttpd.conf" 2>>"$TMP/lighttpd.log" &
                waiter=$!
                for i in $(seq 100); do
                        kill -0 "$waiter" 2>/dev/null || break
                        if [ -s "$TMP/lighttpd.pid" ] &&
                                [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port/1k.bin")" = 200 ]; then
                                pid=$(cat "$TMP/lighttpd.pid")
                                [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = lighttpd ] || bench_die "lighttpd's pid file names $pid"
                                BENCH_PIDS+=("$pid" "$waiter")
                                PORT["lighttpd"]=$port
                                MASTER["lighttpd"]=$pid
                                return 0
                        fi
                        sleep 0.1
                done
                stop_pidfile "$TMP/lighttpd.pid" lighttpd
                wait "$waiter" 2>/dev/null || true
                bench_log "lighttpd on port $port did not come up (try $try): $(tail -2 "$TMP/lighttpd.err" "$TMP/lighttpd.log" 2>/dev/null)"
        done
        bench_die "lighttpd did not start"
}

