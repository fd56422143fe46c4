#!/bin/bash
# socket-activation.sh - preforkd under systemd-socket-activate, no systemd
# needed: for a TCP and a unix socket, the daemon
#   - starts on the first connection and serves it (Accept=no semantics),
#   - binds no listening socket of its own: every listening socket held by
#     the master or its workers is the one that was passed,
#   - sends READY=1 to the NOTIFY_SOCKET the test binds,
#   - keeps the passed socket across a HUP that changes the worker count,
#   - stops gracefully (exit 0, STOPPING=1) on TERM.
# Needs systemd-socket-activate (package systemd), socat and ss (iproute2);
# exits 77 (skipped) without them. PREFORKD_BINARY names the daemon.
set -u
BIN=${PREFORKD_BINARY:-${1:-}}
if [ -z "$BIN" ] || [ ! -x "$BIN" ]; then echo "SKIP: set PREFORKD_BINARY"; exit 77; fi
for t in systemd-socket-activate socat ss pgrep timeout; do
        command -v $t >/dev/null || { echo "SKIP: $t not found"; exit 77; }
done

TMP=$(mktemp -d /tmp/preforkd-sa.XXXXXX) || exit 1
PASSED=0 FAILED=0
PIDS=()
cleanup() {
        local p
        for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
        wait 2>/dev/null
        if [ "$FAILED" = 0 ] && [ -z "${KEEP_TMP:-}" ]; then rm -rf "$TMP"; else echo "logs kept in $TMP"; fi
}
trap cleanup EXIT

pass() { echo "PASS $*"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL $*"; FAILED=$((FAILED + 1)); }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }
# eventually SECONDS CMD...: retries CMD every 0.1s
eventually() {
        local n=$(($1 * 10)); shift
        while [ $n -gt 0 ]; do "$@" && return 0; sleep 0.1; n=$((n - 1)); done
        return 1
}

# echo_rt ADDR MSG: one connection, one line, its echo back
echo_rt() {
        local addr=$1 msg=$2 got
        case $addr in
        unix:*) got=$(printf '%s\n' "$msg" | timeout 10 socat -t 5 - "UNIX-CONNECT:${addr#unix:}" 2>/dev/null | head -n 1) ;;
        *)      got=$(printf '%s\n' "$msg" | timeout 10 socat -t 5 - "TCP:$addr" 2>/dev/null | head -n 1) ;;
        esac
        [ "$got" = "$msg" ] || { echo "  echo via $addr: sent '$msg', got '$got'"; return 1; }
}

count() { grep -o -- "$1" "$2" 2>/dev/null | wc -l; }
# workers only: the front stage names itself preforkd-front
children() { pgrep -x -P "$1" preforkd | wc -l; }
# distinct listening sockets (inode) held by process $1 and its children
listen_inodes() {
        local pids p
        pids=$(echo "$1"; pgrep -P "$1")
        for p in $pids; do
                ss -Hlnpe -A inet,unix_stream,unix_seqpacket 2>/dev/null |
                        grep -E "pid=$p," | grep -oE 'ino:[0-9]+'
        done | sort -u
}

free_port() {
        local p i
        for ((i = 0; i < 50; i++)); do
                p=$((20000 + RANDOM % 30000))
                ss -Htan "sport = :$p" | grep -q . || { echo $p; return 0; }
        done
        return 1
}

write_conf() { # FILE WORKERS
        cat > "$1" <<EOC
log_level = "debug";
shutdown_timeout = 5.0;
services = (
        {
                name = "echo";
                listen = [ "systemd:echo" ];
                workers = $2;
                handler = "echo";
        }
);
EOC
}

run_case() { # KIND ADDR-FOR-ACTIVATE CLIENT-ADDR
        local kind=$1 laddr=$2 caddr=$3 d="$TMP/$1" pid ino1 ino2 st
        mkdir -p "$d"
        write_conf "$d/preforkd.conf" 2
        socat -u "UNIX-RECV:$d/notify" "OPEN:$d/notify.log,creat,append" & PIDS+=($!)
        eventually 5 test -S "$d/notify" || { fail "$kind: notify socket"; return; }
        systemd-socket-activate -l "$laddr" --fdname=echo \
                -E NOTIFY_SOCKET="$d/notify" -E PREFORKD_LOG_TARGET=stderr \
                -- "$BIN" -c "$d/preforkd.conf" > "$d/stdout.log" 2> "$d/stderr.log" &
        pid=$!; PIDS+=("$pid")
        # listening before the daemon runs; the first connection starts it
        if [ "$kind" = tcp ]; then
                eventually 5 bash -c "ss -Htln 'sport = :${laddr##*:}' | grep -q ." || true
        else
                eventually 5 test -S "$laddr" || true
        fi
        check "$kind: first connection starts the daemon and is served" echo_rt "$caddr" "first-$kind"
        check "$kind: READY=1" eventually 10 grep -q READY=1 "$d/notify.log"
        check "$kind: $pid is the daemon (exec'ed by systemd-socket-activate)" \
                eventually 5 bash -c "[ \"\$(cat /proc/$pid/comm 2>/dev/null)\" = preforkd ]"
        check "$kind: 2 workers" eventually 5 bash -c "[ \$(pgrep -x -P $pid preforkd | wc -l) = 2 ]"
        ino1=$(listen_inodes "$pid")
        check "$kind: binds nothing itself (one listening socket: ${ino1//$'\n'/ })" test "$(echo "$ino1" | grep -c .)" = 1
        local i ok=1
        for i in 1 2 3 4 5; do echo_rt "$caddr" "msg-$kind-$i" || ok=0; done
        check "$kind: serves 5 connections on the passed socket" test $ok = 1

        write_conf "$d/preforkd.conf" 3
        kill -HUP "$pid"
        check "$kind: HUP: RELOADING=1 with MONOTONIC_USEC" \
                eventually 10 bash -c "grep -q RELOADING=1 '$d/notify.log' && grep -q MONOTONIC_USEC= '$d/notify.log'"
        check "$kind: HUP: READY=1 again" eventually 10 bash -c "[ \$(grep -o READY=1 '$d/notify.log' | wc -l) -ge 2 ]"
        check "$kind: HUP: 3 workers" eventually 10 bash -c "[ \$(pgrep -x -P $pid preforkd | wc -l) = 3 ]"
        ino2=$(listen_inodes "$pid")
        check "$kind: HUP keeps the passed socket (still one, same inode)" test "$ino1" = "$ino2"
        ok=1
        for i in 1 2 3; do echo_rt "$caddr" "after-hup-$kind-$i" || ok=0; done
        check "$kind: serves after HUP" test $ok = 1

        kill -TERM "$pid"
        if ! timeout 15 tail --pid="$pid" -f /dev/null; then
                fail "$kind: TERM: still running after 15s"; kill -KILL "$pid"
        fi
        wait "$pid"; st=$?
        check "$kind: TERM: exit 0 (got $st)" test "$st" = 0
        check "$kind: TERM: STOPPING=1" grep -q STOPPING=1 "$d/notify.log"
        if [ "$FAILED" != 0 ]; then
                echo "---- $kind: stderr of preforkd (last 30 lines)"; tail -n 30 "$d/stderr.log"
                echo "---- $kind: notify messages"; tr '\n' ' ' < "$d/notify.log"; echo
        fi
}

port=$(free_port) || { echo "no free port"; exit 1; }
run_case tcp "127.0.0.1:$port" "127.0.0.1:$port"
run_case unix "$TMP/echo.sock" "unix:$TMP/echo.sock"

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
