#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Side-by-side HTTP benchmark: preforkd's http handler against nginx and
# Apache httpd with the prefork MPM (both from Debian's packages),
# configured alike: same worker count, sendfile on, no access log, same
# files, same keep-alive limits, loopback only. The three servers run side
# by side (an idle one costs nothing) and wrk measures them in turn, row by
# row, REPEAT times with the order rotated; the table shows medians, so a
# burst of noise on a shared machine hits one sample, not one server. Every
# wrk run is bounded by -d and by timeout(1).
#
#   bench/http/run.sh [-w WORKERS] [-d SECONDS] [-r REPEAT] [-k KEEPALIVE_REQUESTS]
#
# PREFORKD=path/to/preforkd selects the binary (default: the first of
# build-release/, build/ below the source tree). Prints the wrk command
# lines and a table of requests/s with the ratios preforkd/nginx and
# preforkd/apache. Needs: wrk, nginx, apache2 (not run in CI).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$here/../lib.sh"

workers=$(nproc)
duration=5
repeat=3
keepalive_requests=1000
while getopts "w:d:r:k:h" opt; do
        case $opt in
        w) workers=$OPTARG ;;
        d) duration=$OPTARG ;;
        r) repeat=$OPTARG ;;
        k) keepalive_requests=$OPTARG ;;
        *) sed -n '3,19p' "$0"; exit 64 ;;
        esac
done

if [[ -z "${PREFORKD:-}" ]]; then
        for b in "$src/build-release" "$src/build"; do
                if [[ -x "$b/src/preforkd" ]]; then PREFORKD=$b/src/preforkd; break; fi
        done
fi
[[ -x "${PREFORKD:-}" ]] || { echo "set PREFORKD=path/to/preforkd (a release build)" >&2; exit 64; }
for t in wrk nginx apache2 curl; do
        command -v "$t" >/dev/null || [[ -x /usr/sbin/$t ]] || { echo "missing: $t" >&2; exit 69; }
done

work=$(mktemp -d /tmp/preforkd-bench-http.XXXXXX)
chmod 755 "$work"
declare -A server_pid=()
cleanup() {
        for s in "${!server_pid[@]}"; do stop_server "$s"; done
        rm -rf "$work"
}
trap cleanup EXIT

# The files: 1 KiB and 1 MiB of bytes, world-readable (nginx and apache
# workers run as an unprivileged user).
http_root "$work/root"

port_preforkd=18180
port_nginx=18181
port_apache=18182

write_preforkd_conf() {
        http_preforkd_conf "$work/preforkd.conf" "$work/root" "127.0.0.1:$port_preforkd" "$workers" "$keepalive_requests"
}

write_nginx_conf() {
        mkdir -p "$work/nginx"
        cat > "$work/nginx/nginx.conf" <<EOF
worker_processes $workers;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
daemon off;
events { worker_connections 4096; }
http {
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  access_log off;
  keepalive_requests $keepalive_requests;
  keepalive_timeout 65s;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  server {
    listen 127.0.0.1:$port_nginx backlog=4096;
    root $work/root;
  }
}
EOF
}

write_apache_conf() {
        mkdir -p "$work/apache"
        cat > "$work/apache/httpd.conf" <<EOF
ServerRoot /etc/apache2
LoadModule mpm_prefork_module /usr/lib/apache2/modules/mod_mpm_prefork.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule mime_module /usr/lib/apache2/modules/mod_mime.so
LoadModule dir_module /usr/lib/apache2/modules/mod_dir.so
ServerName localhost
Listen 127.0.0.1:$port_apache
PidFile $work/apache/httpd.pid
ErrorLog $work/apache/error.log
LogLevel warn
User nobody
Group nogroup
TypesConfig /etc/mime.types
DocumentRoot $work/root
<Directory $work/root>
  Require all granted
</Directory>
EnableSendfile On
EnableMMAP Off
KeepAlive On
MaxKeepAliveRequests $keepalive_requests
KeepAliveTimeout 65
ListenBacklog 4096
StartServers $workers
MinSpareServers $workers
MaxSpareServers $workers
ServerLimit $workers
MaxRequestWorkers $workers
MaxConnectionsPerChild 0
EOF
}

wait_port() {
        http_wait "http://127.0.0.1:$1/1k.bin" || { echo "server on port $1 did not come up" >&2; return 1; }
}

start_server() {
        case $1 in
        preforkd)
                write_preforkd_conf
                "$PREFORKD" -c "$work/preforkd.conf" 2> "$work/preforkd.log" &
                server_pid[$1]=$!
                wait_port $port_preforkd ;;
        nginx)
                write_nginx_conf
                # Both nginx (-e) and the shell only append to error.log.
                # shellcheck disable=SC2094
                nginx -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" 2>> "$work/nginx/error.log" &
                server_pid[$1]=$!
                wait_port $port_nginx ;;
        apache)
                # Its own session: apache signals its whole process group
                # when it stops, which must not include this script. setsid
                # may fork, so the pid comes from apache's pid file.
                write_apache_conf
                setsid apache2 -f "$work/apache/httpd.conf" -DFOREGROUND 2>> "$work/apache/error.log" &
                wait_port $port_apache
                server_pid[$1]=$(cat "$work/apache/httpd.pid") ;;
        esac
}

stop_server() {
        local pid=${server_pid[$1]:-}
        [[ -n "$pid" ]] || return 0
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 100); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        unset "server_pid[$1]"
}

# Rows: name, file, connections (as a multiple of workers), close?
rows=(
        "1KiB keep-alive c=W|1k.bin|1|no"
        "1KiB close c=W|1k.bin|1|yes"
        "1KiB close c=4W|1k.bin|4|yes"
        "1MiB keep-alive c=W (MiB/s)|1m.bin|1|no"
        "1KiB keep-alive c=4W (no target)|1k.bin|4|no"
)

declare -A samples
cpus=$(nproc)
servers=(preforkd nginx apache)
declare -A port=([preforkd]=$port_preforkd [nginx]=$port_nginx [apache]=$port_apache)

# Prints the wrk command line of a row for a server.
wrk_cmd() { # server row-index
        local name file mult close conns threads
        IFS='|' read -r name file mult close <<< "${rows[$2]}"
        conns=$((workers * mult))
        threads=$((conns < cpus ? conns : cpus))
        wrk_argv "$threads" "$conns" "$duration" "$close" "http://127.0.0.1:${port[$1]}/$file"
        local a line=""
        for a in "${WRK_ARGV[@]}"; do
                [[ $a == *" "* ]] && a="'$a'"
                line+="${line:+ }$a"
        done
        echo "$line"
}

run_wrk() { # server row-index
        local name file mult close conns threads out value
        IFS='|' read -r name file mult close <<< "${rows[$2]}"
        conns=$((workers * mult))
        threads=$((conns < cpus ? conns : cpus))
        out=$(wrk_run "$threads" "$conns" "$duration" "$close" "http://127.0.0.1:${port[$1]}/$file")
        echo "$out" >> "$work/wrk-$1-$2.txt"
        if [[ $file == 1m.bin ]]; then
                value=$(wrk_value "$out" mib)
        else
                value=$(wrk_value "$out" req)
        fi
        samples[$1,$2]+="$value "
        local problem
        while IFS= read -r problem; do
                [[ -n "$problem" ]] && echo "    $1: $problem" >&2
        done <<< "$(wrk_problems "$out")"
        return 0
}

# median "N N N": the median of a space-separated list (lib.sh's median
# takes arguments and prints a fixed format).
median_words() {
        tr ' ' '\n' <<< "$1" | awk 'NF' | sort -g | awk '{ v[NR] = $1 } END {
                if (NR == 0) print 0; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

ratio() {
        awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'
}

echo "workers=$workers duration=${duration}s repeat=$repeat keepalive_requests=$keepalive_requests cpus=$cpus" >&2
echo "preforkd: $PREFORKD" >&2
echo "$(nginx -v 2>&1), $(apache2 -v | head -1)" >&2
for s in "${servers[@]}"; do
        start_server "$s"
        # A short warm-up so that page cache and workers are hot.
        timeout 10 wrk -t1 -c1 -d1s "http://127.0.0.1:${port[$s]}/1k.bin" > /dev/null 2>&1 || true
done

echo "wrk command lines (PORT: preforkd $port_preforkd, nginx $port_nginx, apache $port_apache):" >&2
for i in "${!rows[@]}"; do
        echo "  $(wrk_cmd preforkd "$i")" >&2
done
for i in "${!rows[@]}"; do
        IFS='|' read -r name _ <<< "${rows[$i]}"
        echo "== $name" >&2
        for ((rep = 0; rep < repeat; rep++)); do
                for ((k = 0; k < ${#servers[@]}; k++)); do
                        s=${servers[$(((k + rep + i) % ${#servers[@]}))]}
                        run_wrk "$s" "$i"
                done
        done
        for s in "${servers[@]}"; do
                echo "    $s: ${samples[$s,$i]}" >&2
        done
done
for s in "${servers[@]}"; do stop_server "$s"; done

printf '\n| %-34s | %10s | %10s | %10s | %8s | %8s |\n' "row (median req/s unless noted)" preforkd nginx apache \
        "p/nginx" "p/apache"
printf '|%s|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..36})" "------------" "------------" "------------" \
        "----------" "----------"
for i in "${!rows[@]}"; do
        IFS='|' read -r name _ <<< "${rows[$i]}"
        p=$(median_words "${samples[preforkd,$i]}")
        n=$(median_words "${samples[nginx,$i]}")
        a=$(median_words "${samples[apache,$i]}")
        printf '| %-34s | %10s | %10s | %10s | %8s | %8s |\n' "$name" "$p" "$n" "$a" "$(ratio "$p" "$n")" \
                "$(ratio "$p" "$a")"
done
