#!/bin/bash
# run-e2e.sh [BUILD_DIR] - preforkd end to end under a real systemd 252.
#
# Installs BUILD_DIR (default: ./build of the source tree) with
# `meson install --destdir` into a staging directory, boots Debian bookworm's
# systemd in a container with ../shared/tools/systemd-sandbox.sh (relative to
# the source tree; override with SYSTEMD_SANDBOX=), copies the staged files
# in, and drives the shipped units with systemctl and journalctl: start
# (Type=notify), traffic, reload (good and broken config), journal fields of
# a killed worker, the watchdog, a restart that refuses no connection while
# preforkd.socket holds the listener, graceful stop, socket activation on
# demand and the preforkd@.service template.
#
# Prints PASS/FAIL per check and "N passed, N failed"; exits 1 on any
# failure, 77 when it cannot run here (not root). Needs root, bash, tar and
# meson on the host; systemd-sandbox.sh installs systemd-container,
# debootstrap and zstd when they are missing. The container's root
# filesystem gets libconfig9 (the daemon's runtime library) and socat (a
# unix socket client); the first setup takes about 45 s, then it is cached.
#
# Environment: E2E_TIMEOUT (whole run, default 900 s), E2E_LOG_DIR (journal
# and console log are saved there, default BUILD_DIR/e2e-logs),
# SANDBOX_NAME (default preforkd-e2e), E2E_KEEP=1 (leave the container
# running for a look: systemd-sandbox.sh shell).
# Single-quoted snippets run in the container or through eval, on purpose.
# shellcheck disable=SC2016,SC2034
set -u

SELF=$(readlink -f "$0")
SRCROOT=$(cd "$(dirname "$SELF")/../.." && pwd)

if [ -z "${E2E_INNER:-}" ]; then
        if [ "$(id -u)" != 0 ]; then
                if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
                        exec sudo -n --preserve-env "$SELF" "$@"
                fi
                echo "SKIP: run-e2e.sh must run as root (it boots a container)"
                exit 77
        fi
        # Bound everything: TERM after E2E_TIMEOUT, the trap below still
        # stops the container; KILL a minute later.
        E2E_INNER=1 exec timeout --kill-after=60 "${E2E_TIMEOUT:-900}" "$SELF" "$@"
fi

exec < /dev/null
BUILD=$(readlink -f "${1:-${PREFORKD_BUILD_DIR:-$SRCROOT/build}}")
SBX=${SYSTEMD_SANDBOX:-$SRCROOT/../shared/tools/systemd-sandbox.sh}
export SANDBOX_NAME=${SANDBOX_NAME:-preforkd-e2e}
export SANDBOX_EXTRA_PACKAGES=${SANDBOX_EXTRA_PACKAGES:-libconfig9,socat}
export SANDBOX_RUN_TIMEOUT=${SANDBOX_RUN_TIMEOUT:-120}
LOGDIR=${E2E_LOG_DIR:-$BUILD/e2e-logs}

PASSED=0 FAILED=0 BOOTED=0
STAGE=
T0=$SECONDS

say() { echo "-- $*"; }
pass() { echo "PASS $*"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL $*"; FAILED=$((FAILED + 1)); }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }
# eventually SECONDS CMD...: retry CMD every 0.2 s. Only for what nothing
# here can wait on: the state systemd keeps of a unit (systemctl show: its
# changes are D-Bus signals, which no tool in the container follows) and
# the processes of a unit (/proc). Journal lines are waited for with
# jwait, lines of a file with fwait, FIFOs are read: events, no polling.
eventually() {
        local n=$(($1 * 5)); shift
        while [ $n -gt 0 ]; do "$@" && return 0; sleep 0.2; n=$((n - 1)); done
        return 1
}
die() { echo "FAIL $*"; FAILED=$((FAILED + 1)); exit 1; }

cleanup() {
        local rc=$?
        trap - EXIT TERM INT
        trap '' PIPE    # stop the container even when our stdout is gone
        if [ "$BOOTED" = 1 ]; then
                mkdir -p "$LOGDIR" 2>/dev/null &&
                        timeout 30 "$SBX" run journalctl --no-pager -o short-monotonic > "$LOGDIR/journal.txt" 2>&1
                if [ "$FAILED" != 0 ]; then
                        echo "---- journalctl -u preforkd* (last 80 lines; whole journal: $LOGDIR/journal.txt)"
                        timeout 30 "$SBX" run journalctl --no-pager -u 'preforkd*' -n 80 2>&1
                fi
                if [ -n "${E2E_KEEP:-}" ]; then
                        echo "container left running: SANDBOX_NAME=$SANDBOX_NAME $SBX shell"
                else
                        "$SBX" stop >/dev/null 2>&1 || true
                fi
        fi
        [ -n "$STAGE" ] && rm -rf "$STAGE"
        echo "$PASSED passed, $FAILED failed ($((SECONDS - T0))s)"
        if [ "$FAILED" != 0 ]; then exit 1; fi
        exit "$rc"
}
trap cleanup EXIT
trap 'echo "FAIL interrupted (timeout?)"; FAILED=$((FAILED + 1)); exit 124' TERM INT

# ---------------------------------------------------------------- helpers
# sx CMD...: run in the container; sxs SCRIPT ARGS...: bash script from $1
sx() { "$SBX" run "$@"; }
sxs() { local s=$1; shift; "$SBX" run bash -c "$s" bash "$@"; }
prop() { sx systemctl show -P "$1" "${2:-preforkd.service}"; }
state_is() { [ "$(prop ActiveState "${2:-preforkd.service}")" = "$1" ]; }
mainpid() { prop MainPID; }
# a real process: never signal 0 (our group) or 1 (the container's init)
valid_pid() { [ "${1:-0}" -gt 1 ] 2>/dev/null; }
workers() { local p; p=$(mainpid); valid_pid "$p" || { echo 0; return; }; sx pgrep -x -P "$p" preforkd | wc -l; }
# sig SIGNAL PID: signal a process in the container, if it is one
sig() { if valid_pid "$2"; then sx kill "-$1" "$2"; else echo "  no process to send SIG$1 to"; return 1; fi; }
workers_are() { [ "$(workers)" = "$1" ]; }

# echo_rt PORT MSG: one TCP connection inside the container, one line echoed
echo_rt() {
        sxs 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 2
             printf "%s\n" "$2" >&3
             IFS= read -r -t 10 l <&3 || { echo "  no echo for \"$2\" on port $1"; exit 3; }
             [ "$l" = "$2" ] || { echo "  sent \"$2\", got \"$l\""; exit 4; }' "$1" "$2"
}
echo_n() { # PORT N: N round trips
        sxs 'for ((i = 0; i < $2; i++)); do
                exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 2
                printf "m%d\n" $i >&3
                IFS= read -r -t 10 l <&3 || { echo "  no echo #$i"; exit 3; }
                [ "$l" = "m$i" ] || { echo "  echo #$i: got \"$l\""; exit 4; }
                exec 3>&-
             done' "$1" "$2"
}
# echo over a unix socket (socat is in the container)
echo_unix() {
        local got
        got=$(printf '%s\n' "$2" | sx timeout 10 socat -t 5 - "UNIX-CONNECT:$1" | head -n 1)
        [ "$got" = "$2" ] || { echo "  unix $1: sent \"$2\", got \"$got\""; return 1; }
}

# follow PATTERN N CMD...: the first N lines of CMD's output (run in the
# container) matching the extended regex PATTERN. CMD follows something
# (journalctl -f, tail -F), woken by journald or inotify: no polling. The
# 30 s only bound a hang; the follower is left to end on its next write
# or its timeout.
follow() {
        sxs 're=$1 n=$2; shift 2
             grep -a -m "$n" -E -- "$re" < <(exec timeout 30 "$@" 2>/dev/null)' "$@"
}
# fwait FILE PATTERN [N]: waits until FILE in the container has N (default
# 1) lines matching the extended regex PATTERN
fwait() {
        local n=${3:-1}
        [ "$(follow "$2" "$n" tail -n +1 -F "$1" | wc -l)" -ge "$n" ]
}

# journal since the last mark. jmark logs a marker and keeps its cursor;
# jsince starts at the marker (--cursor, inclusive: the marker never matches
# -u preforkd). Not --after-cursor: journalctl 252 combined with matches
# skips the first matching entry after the cursor when the cursor's own
# entry does not match.
jmark() {
        local tag="e2e-mark-$RANDOM$RANDOM"
        sx systemd-cat -t e2e-mark echo "$tag"
        CURSOR=$(follow '^__CURSOR=' 1 journalctl -q -f -n all -t e2e-mark MESSAGE="$tag" -o export |
                sed 's/^__CURSOR=//')
        [ -n "$CURSOR" ] || echo "  journal marker $tag did not show up"
}
jsince() { sx journalctl --no-pager -q --cursor="$CURSOR" "$@"; }
# jwait [-n N] PATTERN JOURNALCTL-ARGS...: waits until the journal since the
# mark has N (default 1) lines matching the extended regex PATTERN
jwait() {
        local n=1 re
        if [ "$1" = -n ]; then n=$2; shift 2; fi
        re=$1; shift
        # -n all: with -f, journalctl would start at most 10 entries back
        [ "$(follow "$re" "$n" journalctl --no-pager -q --cursor="$CURSOR" -f -n all "$@" | wc -l)" -ge "$n" ]
}
jgrep() { local pat=$1; shift; jsince "$@" | grep -a -q -E -- "$pat"; }
# systemd had to SIGKILL something of the unit, or the daemon did (the
# worker exit records of the journal)
killed() {
        jgrep 'Killing process [0-9]+ .*with signal SIGKILL|[Tt]imed out\. Killing|Processes still around' -u "$1" ||
                jgrep '^PREFORKD_EXIT_SIGNAL=(SIG)?KILL$' -u "$1" -o export
}

# write_conf WORKERS [LINE8]: the test config; line 8 is the workers line,
# so that the broken variant's error is reported at preforkd.conf:8
write_conf() {
        local w8=${2:-"                workers = $1;"}
        sx sh -c "cat > '$CONF'" <<EOF
# preforkd end-to-end test config (tests/e2e/run-e2e.sh)
log_level = "info";
shutdown_timeout = 10.0;
services = (
        {
                name = "echo";
                listen = [ "systemd:echo" ];
$w8
                handler = "echo";
        }
);
EOF
}

# ---------------------------------------------------------------- install
[ -x "$SBX" ] || { echo "SKIP: systemd-sandbox.sh not found at $SBX (set SYSTEMD_SANDBOX)"; exit 77; }
[ -f "$BUILD/build.ninja" ] || die "no meson build directory at $BUILD (meson setup $BUILD)"
command -v meson >/dev/null || die "meson not found"

say "installing $BUILD into a staging directory"
STAGE=$(mktemp -d /tmp/preforkd-e2e-stage.XXXXXX)
mkdir -p "$LOGDIR"
if ! timeout 600 meson install -C "$BUILD" --destdir "$STAGE" > "$LOGDIR/meson-install.log" 2>&1; then
        tail -n 20 "$LOGDIR/meson-install.log"
        die "meson install --destdir (log: $LOGDIR/meson-install.log)"
fi
UNIT_FILE=$(find "$STAGE" -path '*/system/preforkd.service' | head -n 1)
[ -n "$UNIT_FILE" ] || die "meson install put no preforkd.service into $STAGE (-Dsystemdsystemunitdir=no?)"
UNITDIR=${UNIT_FILE#"$STAGE"}; UNITDIR=${UNITDIR%/preforkd.service}
BIN=$(sed -n 's/^ExecStart=\([^ ]*\) .*/\1/p' "$UNIT_FILE")
CTL=$(sed -n 's/^ExecReload=\([^ ]*\) .*/\1/p' "$UNIT_FILE")
CONF=$(sed -n 's/^ExecStart=.* -c \([^ ]*\).*/\1/p' "$UNIT_FILE")
CONFDIR=$(dirname "$CONF")
[ -x "$STAGE$BIN" ] || die "the unit's ExecStart $BIN is not in the install"
[ -x "$STAGE$CTL" ] || die "the unit's ExecReload $CTL is not in the install"
say "binary $BIN, config $CONF, units in $UNITDIR"

say "systemd-sandbox.sh setup (cached after the first run)"
timeout 900 "$SBX" setup > "$LOGDIR/sandbox-setup.log" 2>&1 ||
        { tail -n 20 "$LOGDIR/sandbox-setup.log"; die "systemd-sandbox.sh setup"; }
"$SBX" stop >/dev/null 2>&1 || true
"$SBX" boot > "$LOGDIR/sandbox-boot.log" 2>&1 || { cat "$LOGDIR/sandbox-boot.log"; die "systemd-sandbox.sh boot"; }
BOOTED=1
say "$(tail -n 1 "$LOGDIR/sandbox-boot.log")"

# merged /usr: keep /lib etc. as the symlinks they are in the container, and
# leave the modes of existing directories (/ above all) alone
chmod 0755 "$STAGE"
tar -C "$STAGE" -cf - . | sx tar -C / -xf - --keep-directory-symlink --no-overwrite-dir --no-same-owner ||
        die "copying the install into the container"
missing=$(sx ldd "$BIN" 2>&1 | grep 'not found')
check "install: $BIN runs in the container (libraries: ${missing:-all found})" test -z "$missing"
check "install: systemctl daemon-reload" sx systemctl daemon-reload
STAGE_CONF_COPY=/root/preforkd.conf.shipped
sx cp "$CONF" "$STAGE_CONF_COPY" 2>/dev/null
verify=$(sx systemd-analyze verify --man=no "$UNITDIR/preforkd.service" "$UNITDIR/preforkd.socket" \
        "$UNITDIR/preforkd-web.socket" 2>&1)
check "units: systemd-analyze verify is silent${verify:+ ($verify)}" test -z "$verify"

# ---------------------------------------------------------------- start
say "start with the test config (echo, 2 workers)"
write_conf 2
jmark
check "start: systemctl start preforkd returns 0" sx timeout 60 systemctl start preforkd
check "start: active (running) after READY=1" \
        eval '[ "$(prop ActiveState)/$(prop SubState)" = active/running ]'
check "start: ExecStartPre=preforkd -t ran" \
        eventually 5 bash -c "[ \"\$('$SBX' run systemctl show -P ExecStartPre preforkd.service | grep -o 'status=[0-9]*')\" = status=0 ]"
check "start: first connection after start is served" echo_rt 7007 hello
check "start: no warning that the passed socket \"echo\" is unused (it is)" \
        eval '! jgrep "Socket \"echo\" passed by systemd .*not used" -u preforkd' 
# READY=1, which systemctl start waited for, means every worker is up
check "start: 2 workers" workers_are 2
status=$(prop StatusText)
check "start: STATUS= is set (\"$status\")" test -n "$status"
check "start: logs through the journal protocol, not as stderr lines (_TRANSPORT=journal)" \
        jwait '^_TRANSPORT=journal$' -u preforkd _PID="$(mainpid)" -o export
uid=$(p=$(mainpid); valid_pid "$p" && sx ps -o uid= -p "$p" | tr -d " ")
check "start: runs as a dynamic user (User=$(prop User), uid $uid)" \
        eval '[ "$(prop User)" = preforkd ] && [ "$uid" -ge 61184 ] && [ "$uid" -le 65519 ]' 

say "traffic"
check "traffic: 50 echo round trips" echo_n 7007 50

# ---------------------------------------------------------------- reload
say "reload with a good config (2 -> 3 workers)"
pid0=$(mainpid)
write_conf 3
jmark
# (a reload that timed out would make systemctl reload fail)
check "reload: systemctl reload preforkd returns 0" sx timeout 90 systemctl reload preforkd
check "reload: the unit is active right after (the reload had finished)" state_is active
check "reload: same main process" test "$(mainpid)" = "$pid0"
# the old workers are gone (reaped) once the master has logged both exits
check "reload: 3 workers" eval 'jwait -n 2 "worker [0-9]+ of generation 1 exited" -u preforkd && workers_are 3'
check "reload: serves" echo_n 7007 10
# A barrier: the master handles SIGUSR1 (logs it and ignores it) after
# whatever it was doing; a late RELOADING=1 would come with a second
# "Reloading configuration" before it.
sig USR1 "$pid0"
check "reload: still active after the master's next event (no late RELOADING=1)" \
        eval 'jwait "Ignoring SIGUSR1" -u preforkd && state_is active &&
              [ "$(jsince -u preforkd | grep -c "Reloading configuration from")" = 1 ]'

say "reload with a broken config (workers = 0 on line 8)"
write_conf 3 "                workers = 0;"
jmark
rc=0; sx timeout 90 systemctl reload preforkd >/dev/null 2>&1 || rc=$?
check "broken reload: systemctl reload reports the refusal (exit $rc)" test "$rc" != 0
# refused by the daemon, as ExecReload's preforkctl reload was told
check "broken reload: preforkctl reload got the refusal with the error" \
        eval 'jwait "preforkctl: refused: the configuration has an error" -u preforkd &&
              jwait "preforkd\\.conf:8: .*workers" -u preforkd'
check "preforkctl status over \$RUNTIME_DIRECTORY/control: 3 echo workers" \
        eval 'sx "$CTL" status > "$LOGDIR/preforkctl-status.txt" &&
              grep -qE "^echo +[a-z]+ +[0-9]+ +3/3" "$LOGDIR/preforkctl-status.txt"'
check "broken reload: the unit stays active" state_is active
check "broken reload: same main process" test "$(mainpid)" = "$pid0"
check "broken reload: the old config keeps serving (3 workers)" workers_are 3
check "broken reload: serves" echo_n 7007 10
check "broken reload: journalctl -u preforkd shows the error with its line (preforkd.conf:8:)" \
        jwait 'preforkd\.conf:8:.*workers' -u preforkd
write_conf 3
check "reload after a refused one: systemctl reload returns 0" sx timeout 90 systemctl reload preforkd
check "reload after a refused one: 3 workers, serving" \
        eval 'jwait -n 3 "worker [0-9]+ of generation [0-9]+ exited" -u preforkd && workers_are 3 && echo_n 7007 5'

# ---------------------------------------------------------------- killed worker
say "kill -9 of a worker"
wpid=0; p=$(mainpid); valid_pid "$p" && wpid=$(sx pgrep -x -P "$p" preforkd | head -n 1)
jmark
sig KILL "$wpid"
check "killed worker: journalctl -u preforkd PREFORKD_SERVICE=echo PREFORKD_WORKER_PID=$wpid has PREFORKD_EXIT_SIGNAL=SIGKILL" \
        jwait '^PREFORKD_EXIT_SIGNAL=(SIG)?KILL$' -u preforkd PREFORKD_SERVICE=echo \
        PREFORKD_WORKER_PID="$wpid" -o export
rec=$(jsince -u preforkd PREFORKD_WORKER_PID="$wpid" -o export | grep -E '^(MESSAGE|PREFORKD_[A-Z_]+)=' | tr '\n' ' ')
echo "   record: $rec"
check "killed worker: the record names slot and generation" \
        eval '[[ $rec == *PREFORKD_SLOT=* && $rec == *PREFORKD_GENERATION=* ]]'
check "killed worker: journalctl -o json shows the fields" \
        eval "sx journalctl -q -u preforkd PREFORKD_WORKER_PID=$wpid -o json | grep -q '\"PREFORKD_SERVICE\" *: *\"echo\"'"
check "killed worker: respawned (3 workers, $wpid gone)" \
        eventually 10 eval 'workers_are 3 && ! sx pgrep -x -P "$(mainpid)" preforkd | grep -qx "$wpid"'
check "killed worker: serves" echo_n 7007 5

# ---------------------------------------------------------------- watchdog
say "watchdog (WatchdogSec=2s by a drop-in), master wedged with SIGSTOP"
sx mkdir -p /run/systemd/system/preforkd.service.d
sx sh -c 'cat > /run/systemd/system/preforkd.service.d/50-e2e-watchdog.conf' <<'EOF'
[Service]
WatchdogSec=2s
TimeoutAbortSec=5s
EOF
sx systemctl daemon-reload
sx timeout 60 systemctl restart preforkd
check "watchdog: WatchdogUSec=2s" test "$(prop WatchdogUSec)" = 2s
pid1=$(mainpid); n0=$(prop NRestarts)
jmark
# systemd stamps every WATCHDOG=1 it gets (WatchdogTimestampMonotonic): by
# its own clock, the pings must span 2.5 periods (5 s) without a timeout
watchdog_span() {
        local first t i
        first=$(prop WatchdogTimestampMonotonic)
        t=$first
        # a poll of systemd's state (see eventually), at most 30 s
        for ((i = 0; i < 150 && t - first < 5000000; i++)); do
                sleep 0.2
                t=$(prop WatchdogTimestampMonotonic)
        done
        [ $((t - first)) -ge 5000000 ]
}
check "watchdog: a healthy master keeps it fed for 2.5 periods (systemd's stamps of its pings)" \
        eval 'watchdog_span && [ "$(mainpid)" = "$pid1" ] && ! jgrep "[Ww]atchdog timeout" -u preforkd'
sig STOP "$pid1"
check "watchdog: systemd notices the wedged master (Watchdog timeout)" \
        jwait '[Ww]atchdog timeout' -u preforkd
check "watchdog: restarted with a new main process, active" \
        eventually 30 eval 'p=$(mainpid); [ "$p" != "$pid1" ] && [ "$p" != 0 ] && state_is active'
check "watchdog: NRestarts went up ($n0 -> $(prop NRestarts))" test "$(prop NRestarts)" -gt "$n0"
check "watchdog: serves after the restart" echo_n 7007 5
sx rm -f /run/systemd/system/preforkd.service.d/50-e2e-watchdog.conf
sx systemctl daemon-reload

# ---------------------------------------------------------------- restart under load
say "systemctl restart while a client loops (preforkd.socket holds the listener)"
sx sh -c 'cat > /run/e2e-loop.sh' <<'EOF'
#!/bin/bash
# one connection after another; logs "TIME ok" or "TIME FAIL why"
i=0
while [ ! -e /run/e2e-loop.stop ] && [ $SECONDS -lt 90 ]; do
        t=$EPOCHREALTIME
        if ! exec 3<>/dev/tcp/127.0.0.1/7007; then echo "$t FAIL connect"
        elif ! printf 'l%d\n' $i >&3; then echo "$t FAIL write"
        elif ! IFS= read -r -t 20 l <&3; then echo "$t FAIL no reply"
        elif [ "$l" != "l$i" ]; then echo "$t FAIL got '$l'"
        else echo "$t ok"; fi
        exec 3>&-
        i=$((i + 1))
done > /run/e2e-loop.out 2>&1
echo done > /run/e2e-loop.done
EOF
sx rm -f /run/e2e-loop.stop /run/e2e-loop.done /run/e2e-loop.out
sx mkfifo /run/e2e-loop.done
sx systemd-run --quiet --unit=e2e-loop --collect /bin/bash /run/e2e-loop.sh
oks() { sx grep -c ' ok$' /run/e2e-loop.out 2>/dev/null; }
check "restart: the client loop is served" fwait /run/e2e-loop.out ' ok$' 20
pid2=$(mainpid)
check "restart: systemctl restart preforkd returns 0" sx timeout 60 systemctl restart preforkd
check "restart: new main process" eval '[ "$(mainpid)" != "$pid2" ] && state_is active'
n1=$(oks)
check "restart: the loop is served by the new process ($n1 connections before)" fwait /run/e2e-loop.out ' ok$' $((n1 + 20))
check "restart: second systemctl restart returns 0" sx timeout 60 systemctl restart preforkd
n2=$(oks)
check "restart: the loop is served after the second restart ($n2 connections before)" \
        fwait /run/e2e-loop.out ' ok$' $((n2 + 20))
sx touch /run/e2e-loop.stop
check "restart: client loop finished" eval '[ "$(sx timeout 30 cat /run/e2e-loop.done)" = done ]'
total=$(sx grep -c . /run/e2e-loop.out)
bad=$(sx grep -c FAIL /run/e2e-loop.out)
check "restart: no connection refused or dropped ($total connections, $bad failed)" \
        test "$bad" = 0 -a "$total" -gt 0
[ "$bad" = 0 ] || sx grep FAIL /run/e2e-loop.out | head -n 5

# ---------------------------------------------------------------- stop
say "graceful stop: SIGTERM to the master while a client holds a connection"
sx sh -c 'cat > /run/e2e-hold.sh' <<'EOF'
#!/bin/bash
# connects, echoes "a", says so on the FIFO /run/e2e-hold.up, waits for a
# line on the FIFO /run/e2e-hold.go, echoes "b", writes the result to the
# FIFO /run/e2e-hold.out (each open blocks until the test opens its end)
exec 3<>/dev/tcp/127.0.0.1/7007 || { echo "connect failed" > /run/e2e-hold.up; exit 1; }
printf 'a\n' >&3; IFS= read -r -t 10 a <&3
echo up > /run/e2e-hold.up
read -r _ < /run/e2e-hold.go
printf 'b\n' >&3; IFS= read -r -t 10 b <&3
echo "$a$b" > /run/e2e-hold.out
EOF
sx rm -f /run/e2e-hold.up /run/e2e-hold.go /run/e2e-hold.out
sx mkfifo /run/e2e-hold.up /run/e2e-hold.go /run/e2e-hold.out
n0=$(prop NRestarts)
sx systemd-run --quiet --unit=e2e-hold --collect /bin/bash /run/e2e-hold.sh
check "stop: client holds a connection" eval '[ "$(sx timeout 30 cat /run/e2e-hold.up)" = up ]'
pid3=$(mainpid)
jmark
sig TERM "$pid3"
check "stop: STOPPING=1 puts the unit in deactivating while the connection is open" \
        eventually 5 state_is deactivating
sx timeout 30 sh -c 'echo go > /run/e2e-hold.go'
check "stop: the open connection is served to its end" eval '[ "$(sx timeout 30 cat /run/e2e-hold.out)" = ab ]'
check "stop: the unit becomes inactive" eventually 15 state_is inactive
check "stop: Result=success, main exited with 0" \
        eval '[ "$(prop Result)/$(prop ExecMainCode)/$(prop ExecMainStatus)" = success/1/0 ]'
check "stop: not restarted (NRestarts $n0)" test "$(prop NRestarts)" = "$n0"
check "stop: nothing was SIGKILLed" eval '! killed preforkd'

say "socket activation on demand, then systemctl stop"
check "on demand: preforkd.socket is listening while the service is inactive" \
        eval 'state_is active preforkd.socket && state_is inactive'
check "on demand: a connection starts preforkd.service and is served" echo_rt 7007 wake-up
check "on demand: preforkd.service is active" eventually 10 state_is active
jmark
# (one that waited for TimeoutStopSec would end in SIGKILL, Result=timeout)
check "stop: systemctl stop preforkd returns 0" sx timeout 60 systemctl stop preforkd
check "stop: Result=success, main exited with 0" \
        eval '[ "$(prop Result)/$(prop ExecMainCode)/$(prop ExecMainStatus)" = success/1/0 ]'
check "stop: nothing was SIGKILLed" eval '! killed preforkd'

# ---------------------------------------------------------------- broken config at start
say "start with a broken config"
write_conf 3 "                workers = 0;"
jmark
rc=0; sx timeout 60 systemctl start preforkd >/dev/null 2>&1 || rc=$?
check "broken start: systemctl start fails (exit $rc)" test "$rc" != 0
check "broken start: ExecStartPre=preforkd -t exits 78 (EX_CONFIG)" \
        eval "sx systemctl show -P ExecStartPre preforkd.service | grep -q 'status=78'"
check "broken start: journal shows preforkd.conf:8:" jwait 'preforkd\.conf:8:.*workers' -u preforkd
sx systemctl stop preforkd >/dev/null 2>&1
sx systemctl reset-failed preforkd >/dev/null 2>&1

# ---------------------------------------------------------------- template
say "preforkd@demo.service + preforkd@demo.socket (unix socket /run/preforkd-demo.sock)"
sx sh -c "cat > '$CONFDIR/demo.conf'" <<'EOF'
services = (
        {
                name = "demo";
                listen = [ "systemd:main" ];
                workers = 2;
                handler = "echo";
        }
);
EOF
check "template: systemctl start preforkd@demo.socket preforkd@demo.service" \
        sx timeout 60 systemctl start preforkd@demo.socket preforkd@demo.service
check "template: active" state_is active preforkd@demo.service
check "template: echo over /run/preforkd-demo.sock" echo_unix /run/preforkd-demo.sock hello-demo
sx sed -i 's/workers = 2/workers = 1/' "$CONFDIR/demo.conf"
check "template: systemctl reload preforkd@demo" sx timeout 90 systemctl reload preforkd@demo.service
check "template: 1 worker after the reload" \
        eventually 10 eval '[ "$(sx pgrep -x -P "$(prop MainPID preforkd@demo.service)" preforkd | wc -l)" = 1 ]'
check "template: serves after the reload" echo_unix /run/preforkd-demo.sock again
check "template: systemctl stop" sx timeout 60 systemctl stop preforkd@demo.service
check "template: Result=success" test "$(prop Result preforkd@demo.service)" = success

# ---------------------------------------------------------------- exec handler
say "preforkd@exec: a program pooled by handler exec, its output in the journal"
sx sh -c "cat > '$CONFDIR/exec.conf'" <<'EOF'
services = (
        {
                name = "app";
                listen = [ "systemd:main" ];
                workers = 2;
                handler = "exec";
                exec = {
                        command = [ "/bin/sh", "-c", "echo \"hello from slot $PREFORKD_SLOT of $LISTEN_FDNAMES\"; echo \"<3>trouble in slot $PREFORKD_SLOT\" >&2; exec sleep 1000" ];
                };
        }
);
EOF
jmark
check "exec: systemctl start preforkd@exec.socket preforkd@exec.service" \
        sx timeout 60 systemctl start preforkd@exec.socket preforkd@exec.service
check "exec: journalctl -u preforkd@exec PREFORKD_SERVICE=app SYSLOG_IDENTIFIER=sh has the program's stdout" \
        jwait '^hello from slot 0 of main$' -u preforkd@exec PREFORKD_SERVICE=app SYSLOG_IDENTIFIER=sh -o cat
rec=$(jsince -u preforkd@exec SYSLOG_IDENTIFIER=sh -o export | grep -a -E '^(MESSAGE|PRIORITY|SYSLOG_PID|_TRANSPORT|PREFORKD_[A-Z_]+)=' | tr '\n' ' ')
echo "   records: $rec"
check "exec: its line carries slot, worker pid, generation and its pid" \
        eval '[[ $rec == *"MESSAGE=hello from slot 0 of main"* && $rec == *PRIORITY=6* && $rec == *PREFORKD_SLOT=0* &&
                 $rec == *PREFORKD_GENERATION=1* && $rec == *PREFORKD_WORKER_PID=* && $rec == *SYSLOG_PID=* &&
                 $rec == *_TRANSPORT=journal* ]]'
check "exec: a \"<3>\" line of its stderr is at priority err" \
        jwait '^trouble in slot 1$' -u preforkd@exec SYSLOG_IDENTIFIER=sh -p err..err -o cat
# The guards start inside the unit's sandbox (pidfd_open, close_range and
# fork pass its system call filter), one per program.
check "exec: a preforkd-guard per program, and no warning about one" \
        eval '[ "$(sx pgrep -x preforkd-guard | wc -l)" = 2 ] && ! jgrep "cannot start the guard" -u preforkd@exec'
check "exec: systemctl stop preforkd@exec" sx timeout 60 systemctl stop preforkd@exec.service
check "exec: Result=success, no program or guard left" \
        eval '[ "$(prop Result preforkd@exec.service)" = success ] && ! sx pgrep -x sleep && ! sx pgrep -x preforkd-guard'

# ---------------------------------------------------------------- shipped config
# last, so that a broken shipped config cannot spoil the checks above
say "the shipped config $CONF with the shipped units"
sx systemctl stop preforkd >/dev/null 2>&1
sx systemctl reset-failed preforkd preforkd.socket preforkd-web.socket >/dev/null 2>&1
sx systemctl start preforkd.socket >/dev/null 2>&1
if sx test -f "$STAGE_CONF_COPY"; then
        sx cp "$STAGE_CONF_COPY" "$CONF"
        jmark
        check "shipped config: systemctl start preforkd (Type=notify) succeeds" sx timeout 60 systemctl start preforkd
        check "shipped config: preforkd.service is active" state_is active
        check "shipped config: echo on 127.0.0.1:7007" echo_rt 7007 shipped-echo
        http=$(sxs 'exec 3<>/dev/tcp/127.0.0.1/8080 || exit 2
                    printf "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n" >&3
                    IFS= read -r -t 10 l <&3; printf "%s" "$l"' | tr -d '\r')
        check "shipped config: HTTP on 127.0.0.1:8080 answers (${http:-nothing})" \
                eval '[[ $http == HTTP/1.[01]\ [1-5][0-9][0-9]* ]]'
        # The access log: one journal record per request, with its fields.
        check "shipped config: journalctl -u preforkd PREFORKD_SERVICE=web PREFORKD_HTTP_STATUS=200 has the request" \
                jwait '"PREFORKD_HTTP_TARGET" *: *"/"' -u preforkd PREFORKD_SERVICE=web \
                PREFORKD_HTTP_STATUS=200 PREFORKD_HTTP_METHOD=GET -o json
        check "shipped config: the access record has remote, bytes and duration" \
                eval "jsince -u preforkd PREFORKD_HTTP_STATUS=200 -o json | grep -a '\"PREFORKD_HTTP_BYTES\"' |
                      grep -a '\"PREFORKD_HTTP_DURATION_US\"' | grep -a -q '\"PREFORKD_REMOTE\" *: *\"127.0.0.1:'"
        check "shipped config: no warning about a passed socket that it uses" \
                eval '! jgrep "Socket \"(echo|web)\" passed by systemd .*not used" -u preforkd'
        check "shipped config: systemctl stop preforkd" sx timeout 60 systemctl stop preforkd
else
        fail "shipped config: $CONF was not installed"
fi

