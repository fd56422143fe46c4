#!/bin/bash
# SPDX-License-Identifier: MIT
# The exec handler's benchmarks (issue 12), in one run:
#
#  1. respawn of a pooled program: kill -9 of the only worker of a
#     service, to the replacement's READY=1 (the master's debug line "sent
#     READY=1", millisecond timestamps) and to its first answer (measured by
#     the client, which connects once the old program has exited: the
#     connection waits in the listen queue the master keeps). Median and
#     p99 over KILLS kills, for the C program of tests/exec/apps
#     (sd_notify) and for gunicorn (--workers 1, the WSGI app there).
#  2. connection mode: connections per second of `cat` as an echo server
#     (connect, write 64 bytes, read them back, close) at C = W and C = 4W
#     concurrent clients, next to systemd-socket-activate --accept --inetd running
#     the same cat, in the same run.
#
#   bench/exec.sh [-n KILLS] [-d SECONDS] [-w WORKERS] [-i INTERVAL_MS]
#
# Defaults: 50 kills, 5 s per rate run, W = 4, 200 ms between kills. The
# machine is shared: quote figures with the command and "measured under
# load" unless it was idle. Needs gunicorn, python3 (Debian's), cc,
# libsystemd-dev and systemd-socket-activate (package systemd).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

KILLS=50 SECS=5 W=4 INTERVAL=200
while getopts n:d:w:i: o; do
        case $o in
        n) KILLS=$OPTARG ;;
        d) SECS=$OPTARG ;;
        w) W=$OPTARG ;;
        i) INTERVAL=$OPTARG ;;
        *) bench_die "usage: bench/exec.sh [-n KILLS] [-d SECONDS] [-w WORKERS] [-i INTERVAL_MS]" ;;
        esac
done
for t in gunicorn /usr/bin/python3 cc systemd-socket-activate; do
        command -v "$t" >/dev/null || bench_die "$t is needed"
done

bench_build_targets src/preforkd bench/echoload
TMP=$(mktemp -d "${TMPDIR:-/tmp}/preforkd-bench-exec.XXXXXX")
trap 'bench_cleanup; rm -rf "$TMP"' EXIT
APPS=$BENCH_SRC/tests/exec/apps
# shellcheck disable=SC2046
cc -O2 -D_GNU_SOURCE -o "$TMP/notify-server" "$APPS/notify-server.c" $(pkg-config --cflags --libs libsystemd) ||
        bench_die "cannot build notify-server"

# respawn NAME EXEC_GROUP: one run of KILLS kills; prints one RESULT line.
respawn() {
        local name=$1 group=$2 conf=$TMP/$1.conf port
        cat >"$conf" <<CONF
log_level = "debug";
services = ( { name = "$name"; listen = [ "127.0.0.1:0" ]; workers = 1; handler = "exec";
  respawn = { min_uptime = 0; };
  exec = { $group working_directory = "$APPS"; ready = "notify"; }; } );
CONF
        PREFORKD_LOG_TARGET=stderr "$PREFORKD" -c "$conf" 2>"$TMP/$name.log" &
        DAEMON_PID=$!
        BENCH_PIDS+=("$DAEMON_PID")
        for _ in $(seq 200); do
                grep -q "sent READY=1" "$TMP/$name.log" && break
                sleep 0.05
        done
        port=$(sed -n 's/.*Listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$TMP/$name.log" | head -1)
        [ -n "$port" ] || { cat "$TMP/$name.log" >&2; bench_die "$name did not start"; }
        /usr/bin/python3 - "$DAEMON_PID" "$port" "$TMP/$name.log" "$KILLS" "$INTERVAL" "$name" <<'PY'
import datetime, os, re, select, signal, socket, sys, time

master, port, log, kills, interval, name = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]

def worker():
    kids = []
    for t in os.listdir(f"/proc/{master}/task"):
        kids += open(f"/proc/{master}/task/{t}/children").read().split()
    assert len(kids) == 1, kids
    return int(kids[0])

def get():
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(b"GET / HTTP/1.0\r\nHost: bench\r\n\r\n")
    data = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    s.close()
    m = re.search(rb"pid=(\d+)", data)
    return int(m.group(1)) if m else None

def ready_time(pid, after):
    pat = re.compile(rf"^(\S+) preforkd\[\d+\]: <debug> .*?: worker {pid} sent READY=1")
    for _ in range(3000):
        for line in open(log):
            m = pat.match(line)
            if m:
                t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f").timestamp()
                if t >= after - 0.001:
                    return t
        time.sleep(0.01)
    return None

ready_ms, answer_ms, resets = [], [], 0
for i in range(kills):
    get()
    old = worker()
    fd = os.pidfd_open(old)
    t_wall = time.time()
    t0 = time.monotonic_ns()
    os.kill(old, signal.SIGKILL)
    select.select([fd], [], [], 10)
    os.close(fd)
    # A program's own children (gunicorn's worker) live until the master
    # has killed its group, and may take a connection meanwhile: reset.
    while True:
        try:
            pid = get()
        except ConnectionResetError:
            resets += 1
            continue
        if pid is not None and pid != old:
            break
    t1 = time.monotonic_ns()
    answer_ms.append((t1 - t0) / 1e6)
    new = worker()
    r = ready_time(new, t_wall)
    if r is not None:
        ready_ms.append((r - t_wall) * 1000)
    time.sleep(interval / 1000)

def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))] if v else float("nan")

print(f"RESULT {name} kills={kills} ready_median_ms={pct(ready_ms, 50):.1f} ready_p99_ms={pct(ready_ms, 99):.1f} "
      f"answer_median_ms={pct(answer_ms, 50):.2f} answer_p99_ms={pct(answer_ms, 99):.2f} ready_seen={len(ready_ms)} "
      f"resets={resets}")
PY
        bench_cleanup
}

# rate LABEL PORT C: one echoload run of SECS seconds.
rate() {
        local out warm=1
        [ "$SECS" -ge 3 ] || warm=0
        out=$("$ECHOLOAD" -c "$3" -d "$SECS" -w "$warm" -s 64 -T 10000 "127.0.0.1:$2" 2>&1 | tail -1) || true
        printf '%-34s C=%-3s %s\n' "$1" "$3" "$out"
}

echo "== respawn: kill -9 to READY=1 and to the first answer ($KILLS kills, one worker)"
respawn notify-c "command = [ \"$TMP/notify-server\" ];"
respawn gunicorn "command = [ \"gunicorn\", \"--workers\", \"1\", \"wsgi_app:application\" ];"

echo "== connection mode: cat as an echo server, W = $W, ${SECS}s per run"
cat >"$TMP/cat.conf" <<CONF
log_level = "info";
services = ( { name = "cat"; listen = [ "127.0.0.1:0" ]; workers = $W; handler = "exec";
  exec = { command = [ "cat" ]; mode = "connection"; }; } );
CONF
start_daemon cat "$TMP/cat.conf" 1 "$W"
cat_port=${DAEMON_PORTS%% *}
rate "preforkd exec connection" "$cat_port" "$W"
rate "preforkd exec connection" "$cat_port" $((4 * W))
bench_cleanup

# systemd-socket-activate binds the port itself: take a free one from the
# kernel and hand it over (a race with another program is only a failed run).
sa_port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
systemd-socket-activate --accept --inetd -l "127.0.0.1:$sa_port" cat 2>"$TMP/sa.log" &
BENCH_PIDS+=("$!")
for _ in $(seq 100); do
        "$ECHOLOAD" -q -n 1 -d 0 -T 2000 "127.0.0.1:$sa_port" >/dev/null 2>&1 && break
        sleep 0.05
done
rate "systemd-socket-activate -a --inetd" "$sa_port" "$W"
rate "systemd-socket-activate -a --inetd" "$sa_port" $((4 * W))
bench_cleanup
