#!/bin/bash
# socket-activation.sh - preforkd under systemd-socket-activate, no systemd
# needed: for a TCP and a unix socket, the daemon
#   - starts on the first connection and serves it (Accept=no semantics),
#   - binds no listening socket of its own: every listening socket held by
#     the master or its workers is the one that was passed,
#   - sends READY=1 to the NOTIFY_SOCKET the test binds,
#   - keeps the passed socket across a HUP that changes the worker count,
#   - stops gracefully (exit 0, STOPPING=1) on TERM.
#
# The TCP port is fixed (7007): systemd-socket-activate binds the address it
# is given and cannot take port 0. So that no parallel test can take the
# port first, the script runs in a network namespace of its own (unshare -n
# as root, unshare -rn otherwise), where nothing else listens.
#
# Every wait is for the event itself: a line in a log (tail -F follows a
# file through inotify), the exit of a process (wait). Counts of processes
# are read once the daemon has said they are settled.
#
# Needs systemd-socket-activate (package systemd), socat, ss and ip
# (iproute2), unshare (util-linux) and python3 (the notify socket; meson
# needs it anyway); exits 77 (skipped) without them or without a network
# namespace. PREFORKD_BINARY names the daemon.
set -u
SELF=$(readlink -f "$0")
BIN=${PREFORKD_BINARY:-${1:-}}
if [ -z "$BIN" ] || [ ! -x "$BIN" ]; then echo "SKIP: set PREFORKD_BINARY"; exit 77; fi
for t in systemd-socket-activate socat ss ip pgrep timeout tail unshare python3; do
        command -v $t >/dev/null || { echo "SKIP: $t not found"; exit 77; }
done

if [ -z "${SA_NETNS:-}" ]; then
        export SA_NETNS=1
        for u in "unshare -n" "unshare -rn"; do
                # shellcheck disable=SC2086 # the options are meant to split
                if $u true 2>/dev/null; then exec $u "$SELF" "$@"; fi
        done
        echo "SKIP: no network namespace of our own (unshare -n, unshare -rn)"
        exit 77
fi
ip link set lo up || { echo "cannot set up the loopback interface"; exit 1; }

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
trap 'echo "FAIL interrupted (timeout?)"; FAILED=$((FAILED + 1)); exit 1' TERM INT

pass() { echo "PASS $*"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL $*"; FAILED=$((FAILED + 1)); }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }

# wait_for FILE REGEX [N]: until FILE has N (default 1) lines matching the
# extended REGEX. tail -F reads what is there and follows the file through
# inotify; the 30 s only bound a hang.
wait_for() {
        local file=$1 re=$2 n=${3:-1} fifo=$TMP/wait_for.fifo tpid rc
        rm -f "$fifo" && mkfifo "$fifo" || return 1
        timeout 30 tail -n +1 -F "$file" > "$fifo" 2>/dev/null &
        tpid=$!
        [ "$(grep -c -m "$n" -E -- "$re" < "$fifo")" -ge "$n" ]
        rc=$?
        kill "$tpid" 2>/dev/null
        rm -f "$fifo"
        return "$rc"
}

# wait_all FILE REGEX...: wait_for each in turn; "REGEX N" for N lines
wait_all() {
        local f=$1 re
        shift
        for re in "$@"; do
                if [[ $re == *" "[0-9] ]]; then
                        wait_for "$f" "${re% *}" "${re##* }" || return 1
                else
                        wait_for "$f" "$re" || return 1
                fi
        done
}
# wait_then FILE REGEX CMD...: CMD once FILE has a line matching REGEX
wait_then() { local f=$1 re=$2; shift 2; wait_for "$f" "$re" && "$@"; }

# echo_rt ADDR MSG: one connection, one line, its echo back
echo_rt() {
        local addr=$1 msg=$2 got
        case $addr in
        unix:*) got=$(printf '%s\n' "$msg" | timeout 10 socat -t 5 - "UNIX-CONNECT:${addr#unix:}" 2>/dev/null | head -n 1) ;;
        *)      got=$(printf '%s\n' "$msg" | timeout 10 socat -t 5 - "TCP:$addr" 2>/dev/null | head -n 1) ;;
        esac
        [ "$got" = "$msg" ] || { echo "  echo via $addr: sent '$msg', got '$got'"; return 1; }
}

# workers only: the front stage names itself preforkd-front
children() { pgrep -x -P "$1" preforkd | wc -l; }
children_are() { [ "$(children "$1")" = "$2" ]; }
# distinct listening sockets (inode) held by process $1 and its children
listen_inodes() {
        local pids p
        pids=$(echo "$1"; pgrep -P "$1")
        for p in $pids; do
                ss -Hlnpe -A inet,unix_stream,unix_seqpacket 2>/dev/null |
                        grep -E "pid=$p," | grep -oE 'ino:[0-9]+'
        done | sort -u
}

# No control socket: the checks count the daemon's listening sockets, and
# only the passed one may be among them.
write_conf() { # FILE WORKERS
        cat > "$1" <<EOC
log_level = "debug";
shutdown_timeout = 5.0;
control_socket = "";
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

# A NOTIFY_SOCKET that writes each datagram as a line of FILE, after a
# first line "bound" once it can receive.
notify_receiver() { # SOCKET FILE
        python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("bound", flush=True)
while True:
    print(s.recv(65536).decode(errors="replace"), flush=True)
' "$1" > "$2" 2>&1 &
        PIDS+=($!)
        disown $!
}

run_case() { # KIND ADDR-FOR-ACTIVATE CLIENT-ADDR
        local kind=$1 laddr=$2 caddr=$3 d="$TMP/$1" pid ino1 ino2 st
        mkdir -p "$d"
        write_conf "$d/preforkd.conf" 2
        notify_receiver "$d/notify" "$d/notify.log"
        wait_for "$d/notify.log" '^bound$' || { fail "$kind: notify socket"; return; }
        systemd-socket-activate -l "$laddr" --fdname=echo \
                -E NOTIFY_SOCKET="$d/notify" -E PREFORKD_LOG_TARGET=stderr \
                -- "$BIN" -c "$d/preforkd.conf" > "$d/stdout.log" 2> "$d/stderr.log" &
        pid=$!; PIDS+=("$pid")
        # listening before the daemon runs; the first connection starts it
        check "$kind: systemd-socket-activate listens on $laddr" wait_for "$d/stderr.log" "^Listening on "
        check "$kind: first connection starts the daemon and is served" echo_rt "$caddr" "first-$kind"
        check "$kind: READY=1" wait_for "$d/notify.log" '^READY=1$'
        check "$kind: $pid is the daemon (exec'ed by systemd-socket-activate)" \
                test "$(cat "/proc/$pid/comm" 2>/dev/null)" = preforkd
        # READY=1 comes once every worker has reported for duty
        check "$kind: 2 workers" children_are "$pid" 2
        ino1=$(listen_inodes "$pid")
        check "$kind: binds nothing itself (one listening socket: ${ino1//$'\n'/ })" test "$(echo "$ino1" | grep -c .)" = 1
        local i ok=1
        for i in 1 2 3 4 5; do echo_rt "$caddr" "msg-$kind-$i" || ok=0; done
        check "$kind: serves 5 connections on the passed socket" test $ok = 1

        write_conf "$d/preforkd.conf" 3
        kill -HUP "$pid"
        check "$kind: HUP: RELOADING=1 with MONOTONIC_USEC" \
                wait_all "$d/notify.log" "^RELOADING=1$" "^MONOTONIC_USEC=[0-9]+$"
        check "$kind: HUP: READY=1 again, reload applied" \
                wait_all "$d/notify.log" "^READY=1$ 2" "reload #1 applied"
        # the old generation is gone once the master says so (debug level)
        check "$kind: HUP: 3 workers" \
                wait_then "$d/stderr.log" "Generation 1 has finished" children_are "$pid" 3
        ino2=$(listen_inodes "$pid")
        check "$kind: HUP keeps the passed socket (still one, same inode)" test "$ino1" = "$ino2"
        ok=1
        for i in 1 2 3; do echo_rt "$caddr" "after-hup-$kind-$i" || ok=0; done
        check "$kind: serves after HUP" test $ok = 1

        kill -TERM "$pid"
        # a hang is bounded by the test's timeout (meson), after which the
        # TERM trap still cleans up
        wait "$pid"; st=$?
        check "$kind: TERM: exit 0 (got $st)" test "$st" = 0
        check "$kind: TERM: STOPPING=1" wait_for "$d/notify.log" '^STOPPING=1$'
        if [ "$FAILED" != 0 ]; then
                echo "---- $kind: stderr of preforkd (last 30 lines)"; tail -n 30 "$d/stderr.log"
                echo "---- $kind: notify messages"; tr '\n' ' ' < "$d/notify.log"; echo
        fi
}

run_case tcp "127.0.0.1:7007" "127.0.0.1:7007"
run_case unix "$TMP/echo.sock" "unix:$TMP/echo.sock"

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
