# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# Shared by the real-client tests (test-chromium.sh, test-slowhttptest.sh;
# issue 9): sourced, not run. Starts one preforkd http service of W workers
# on 127.0.0.1 port 0 with its own document root, finds its port and its
# front stage, holds idle keep-alive connections with bash's /dev/tcp, and
# cleans up what it started, by pid.
#
# Environment: PREFORKD_BINARY (the daemon, set by meson); CI (when set, a
# missing tool is a failure, never a skip: CI must run every test);
# CLIENTS_PARK (true, the default; "false" turns the front stage off, the
# negative control: the tests must then fail); KEEP_TMP (keep the logs).
set -u
export LC_ALL=C

BIN=${PREFORKD_BINARY:-}
PASSED=0 FAILED=0
PIDS=()
TMP=
MASTER=
PORT=

pass() { echo "PASS $*"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL $*"; FAILED=$((FAILED + 1)); }

# skip WHY: exit 77 (meson: skipped) on a developer's machine, a failure in
# CI, where every prerequisite is installed by .ci/run.
skip() {
        if [ -n "${CI:-}" ]; then
                echo "FAIL (CI must run this test): $*"
                exit 1
        fi
        echo "SKIP: $*"
        exit 77
}

need_tools() {
        local t
        if [ -z "$BIN" ] || [ ! -x "$BIN" ]; then skip "set PREFORKD_BINARY to the daemon"; fi
        for t in "$@"; do
                command -v "$t" >/dev/null || skip "$t not found (Debian package: $t)"
        done
}

clients_cleanup() {
        local p _
        for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
        for p in "${PIDS[@]}"; do
                for _ in $(seq 50); do
                        kill -0 "$p" 2>/dev/null || break
                        sleep 0.1
                done
                kill -KILL "$p" 2>/dev/null
                wait "$p" 2>/dev/null
        done
        if [ -n "$TMP" ]; then
                if [ "$FAILED" = 0 ] && [ -z "${KEEP_TMP:-}" ]; then
                        rm -rf "$TMP"
                else
                        echo "---- preforkd log (last 30 lines; all of it in $TMP)"
                        tail -30 "$TMP/preforkd.log" 2>/dev/null
                fi
        fi
}

# make_tmp NAME: the test's directory, with an empty document root.
make_tmp() {
        TMP=$(mktemp -d "/tmp/preforkd-$1.XXXXXX") || exit 1
        chmod 755 "$TMP"
        mkdir -p "$TMP/root"
        trap clients_cleanup EXIT
        trap 'exit 130' INT TERM
}

# start_preforkd WORKERS "HTTP SETTINGS": one http service on 127.0.0.1:0
# serving $TMP/root; sets MASTER and PORT once it answers GET /ping.txt.
start_preforkd() {
        local _ park=${CLIENTS_PARK:-true}
        echo "pong" >"$TMP/root/ping.txt"
        cat >"$TMP/preforkd.conf" <<EOF
log_level = "info";
services = ( {
  name = "web";
  listen = [ "127.0.0.1:0" ];
  backlog = 1024;
  workers = $1;
  handler = "http";
  park = { enabled = $park; };
  http = { root = "$TMP/root"; access_log = false; $2 };
} );
EOF
        PREFORKD_LOG_TARGET=stderr "$BIN" -c "$TMP/preforkd.conf" 2>"$TMP/preforkd.log" &
        MASTER=$!
        PIDS+=("$MASTER")
        for _ in $(seq 100); do
                kill -0 "$MASTER" 2>/dev/null || { cat "$TMP/preforkd.log"; fail "preforkd exited at start"; exit 1; }
                PORT=$(sed -n 's/.*Listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$TMP/preforkd.log" | head -1)
                [ -n "$PORT" ] && [ "$(probe /ping.txt)" = 200 ] && return 0
                sleep 0.1
        done
        fail "preforkd did not answer within 10 s"
        exit 1
}

# probe PATH: a fresh curl GET, at most 5 s; prints the status (000: none).
probe() {
        curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$PORT$1" 2>/dev/null
}

# front_pid: the pid of the service's front stage (a child of the master
# named preforkd-front), empty when there is none.
front_pid() {
        local c
        for c in $(cat /proc/"$MASTER"/task/*/children 2>/dev/null | tr -s ' \n' ' '); do
                [ "$(cat /proc/"$c"/comm 2>/dev/null)" = preforkd-front ] && { echo "$c"; return 0; }
        done
}

# front_held: the connections the front stage holds: its sockets less its
# end of the park channel (-1 when there is no front stage).
front_held() {
        local f n=0 l
        f=$(front_pid)
        [ -n "$f" ] || { echo -1; return 0; }
        for l in /proc/"$f"/fd/*; do
                [[ $(readlink "$l" 2>/dev/null) == socket:* ]] && n=$((n + 1))
        done
        echo $((n - 1))
}

# wait_held N: waits (10 s at most) until the front stage holds N or more.
wait_held() {
        local _
        for _ in $(seq 200); do
                [ "$(front_held)" -ge "$1" ] && return 0
                sleep 0.05
        done
        return 1
}

# ---- held keep-alive connections (bash /dev/tcp) -----------------------------
HELD=()

# held_open: one more keep-alive connection to PORT, its fd in HELD.
held_open() {
        local fd
        exec {fd}<>"/dev/tcp/127.0.0.1/$PORT" || return 1
        HELD+=("$fd")
}

# held_get FD PATH BODY: one GET on the open connection FD; succeeds when
# the answer is 200 with exactly BODY and the connection stays open (no
# "Connection: close"). Every read waits at most 10 s.
held_get() {
        local fd=$1 line status len=-1 close=0 body
        printf 'GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' "$2" 2>/dev/null 1>&"$fd" || { echo "  fd $fd: send failed"; return 1; }
        IFS= read -r -t 10 -u "$fd" line || { echo "  fd $fd: no status line"; return 1; }
        status=$(cut -d' ' -f2 <<<"$line")
        while IFS= read -r -t 10 -u "$fd" line; do
                line=${line%$'\r'}
                [ -z "$line" ] && break
                case ${line,,} in
                content-length:*) len=$(tr -dc 0-9 <<<"${line#*:}") ;;
                connection:*close*) close=1 ;;
                esac
        done
        [ "$len" -ge 0 ] || { echo "  fd $fd: status $status, no Content-Length"; return 1; }
        body=
        [ "$len" = 0 ] || IFS= read -r -t 10 -N "$len" -u "$fd" body || { echo "  fd $fd: short body"; return 1; }
        if [ "$status" != 200 ] || [ "$body" != "$3" ] || [ "$close" != 0 ]; then
                echo "  fd $fd: status $status, close $close, body '${body:0:40}'"
                return 1
        fi
}

held_close_all() {
        local fd
        for fd in "${HELD[@]}"; do exec {fd}>&-; done
        HELD=()
}

# stop_and_check: a graceful stop within 40 s with exit status 0, and a
# log without errors: no line at level err or above, no worker or front
# stage killed by a signal, no sanitizer report (the ASan build of CI).
stop_and_check() {
        local rc bad
        kill -TERM "$MASTER"
        if timeout 40 tail --pid="$MASTER" -f /dev/null; then
                wait "$MASTER"
                rc=$?
                if [ "$rc" = 0 ]; then pass "graceful stop"; else fail "preforkd exited with status $rc"; fi
        else
                fail "preforkd did not stop within 40 s"
        fi
        bad=$(grep -E '<(err|crit|alert|emerg)>|killed by signal|AddressSanitizer|LeakSanitizer|runtime error:' \
                "$TMP/preforkd.log" | head -5)
        if [ -z "$bad" ]; then pass "the log has no error"; else fail "the log has errors:"; echo "$bad"; fi
}

# finish: the closing line that meson and CI read; the exit status.
finish() {
        echo "$PASSED passed, $FAILED failed"
        [ "$FAILED" = 0 ]
}
