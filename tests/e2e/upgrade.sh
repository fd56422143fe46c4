#!/bin/bash
# upgrade.sh [BUILD_DIR] - binary upgrade in place and restarts through the
# fd store, under a real systemd 252 (../shared/tools/systemd-sandbox.sh).
#
# Installs BUILD_DIR (meson install --destdir) in a container, and the test
# builds of tests/upgrade next to it: B (VERSION+b) and C (VERSION+c, whose
# workers never get ready). The shipped preforkd.service runs without its
# socket units (a drop-in drops Requires=), on an address preforkd binds
# itself, so its listener lives in systemd's fd store. Then, while a client
# loops over connections and a keep-alive client talks on one connection,
# and `systemctl is-active` is sampled all along:
#   - B is installed over the binary, `preforkctl upgrade` exits 0: same
#     MAINPID, workers of B serve, the journal has
#     PREFORKD_UPGRADE_RESULT=done;
#   - C the same way, but with SIGUSR2 (systemctl kill -s USR2
#     --kill-whom=main): it rolls back, B serves on, the same MAINPID,
#     PREFORKD_UPGRADE_RESULT=rolled-back; `preforkctl upgrade` with C
#     again exits 1 with the reason;
#   - not one connection failed, the unit was active throughout;
# and finally, with the client loop alone: `systemctl restart preforkd`
# twice, which refuses no connection (the listener comes back from the fd
# store).
#
# Prints PASS/FAIL per check and "N passed, N failed"; exits 1 on any
# failure, 77 when it cannot run (not root, no sandbox, no test builds).
# Environment: E2E_TIMEOUT (default 600 s), E2E_LOG_DIR (default
# BUILD_DIR/e2e-upgrade-logs), SANDBOX_NAME (default preforkd-e2e-upgrade),
# E2E_KEEP=1 (leave the container running).
# Single-quoted snippets run in the container or through eval, on purpose.
# shellcheck disable=SC2016
set -u

SELF=$(readlink -f "$0")
SRCROOT=$(cd "$(dirname "$SELF")/../.." && pwd)

if [ -z "${E2E_INNER:-}" ]; then
        if [ "$(id -u)" != 0 ]; then
                if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
                        exec sudo -n --preserve-env "$SELF" "$@"
                fi
                echo "SKIP: upgrade.sh must run as root (it boots a container)"
                exit 77
        fi
        E2E_INNER=1 exec timeout --kill-after=60 "${E2E_TIMEOUT:-600}" "$SELF" "$@"
fi

exec < /dev/null
BUILD=$(readlink -f "${1:-${PREFORKD_BUILD_DIR:-$SRCROOT/build}}")
SBX=${SYSTEMD_SANDBOX:-$SRCROOT/../shared/tools/systemd-sandbox.sh}
export SANDBOX_NAME=${SANDBOX_NAME:-preforkd-e2e-upgrade}
export SANDBOX_EXTRA_PACKAGES=${SANDBOX_EXTRA_PACKAGES:-libconfig9,socat}
export SANDBOX_RUN_TIMEOUT=${SANDBOX_RUN_TIMEOUT:-120}
LOGDIR=${E2E_LOG_DIR:-$BUILD/e2e-upgrade-logs}
VARIANT_B=$BUILD/tests/upgrade/preforkd-test-b
VARIANT_C=$BUILD/tests/upgrade/preforkd-test-c

PASSED=0 FAILED=0 BOOTED=0
STAGE=
T0=$SECONDS

say() { echo "-- $*"; }
pass() { echo "PASS $*"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL $*"; FAILED=$((FAILED + 1)); }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }
die() { echo "FAIL $*"; FAILED=$((FAILED + 1)); exit 1; }
# eventually SECONDS CMD...: retry CMD every 0.2 s; only for the state
# systemd keeps of a unit (systemctl show), which nothing here can wait on.
eventually() {
        local n=$(($1 * 5)); shift
        while [ $n -gt 0 ]; do "$@" && return 0; sleep 0.2; n=$((n - 1)); done
        return 1
}

cleanup() {
        local rc=$?
        trap - EXIT TERM INT
        trap '' PIPE
        if [ "$BOOTED" = 1 ]; then
                mkdir -p "$LOGDIR" 2>/dev/null &&
                        timeout 30 "$SBX" run journalctl --no-pager -o short-monotonic > "$LOGDIR/journal.txt" 2>&1
                if [ "$FAILED" != 0 ]; then
                        echo "---- journalctl -u preforkd (last 60 lines; whole journal: $LOGDIR/journal.txt)"
                        timeout 30 "$SBX" run journalctl --no-pager -u preforkd -n 60 2>&1
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

sx() { "$SBX" run "$@"; }
sxs() { local s=$1; shift; "$SBX" run bash -c "$s" bash "$@"; }
prop() { sx systemctl show -P "$1" "${2:-preforkd.service}"; }
mainpid() { prop MainPID; }
status_has() { [[ "$(prop StatusText)" == *"$1"* ]]; }
# the binaries the master's live children run, one per line
worker_exes() {
        sxs 'for c in $(pgrep -x -P "$1" preforkd); do readlink "/proc/$c/exe"; done' "$(mainpid)"
}
# journal since the last mark (see run-e2e.sh: --cursor, inclusive)
jmark() {
        local tag="e2e-mark-$RANDOM$RANDOM"
        sx systemd-cat -t e2e-mark echo "$tag"
        CURSOR=$(sxs 'grep -a -m 1 "^__CURSOR=" < <(exec timeout 30 journalctl -q -f -n all -t e2e-mark \
                      MESSAGE="$1" -o export)' "$tag" | sed 's/^__CURSOR=//')
}
jgrep() { local pat=$1; shift; sx journalctl --no-pager -q --cursor="$CURSOR" "$@" | grep -a -q -E -- "$pat"; }
# install SRC: a new file renamed over the binary, as a package upgrade does
install_bin() { sx sh -c "cp '$1' '$BIN.e2e-new' && mv '$BIN.e2e-new' '$BIN'"; }
# usr2_until TEXT: SIGUSR2 to the master, then wait for TEXT in STATUS=
usr2_until() {
        sx systemctl kill -s USR2 --kill-whom=main preforkd.service &&
                eventually 60 status_has "$1"
}

# ---------------------------------------------------------------- install
[ -x "$SBX" ] || { echo "SKIP: systemd-sandbox.sh not found at $SBX (set SYSTEMD_SANDBOX)"; exit 77; }
[ -f "$BUILD/build.ninja" ] || die "no meson build directory at $BUILD"
if [ ! -x "$VARIANT_B" ] || [ ! -x "$VARIANT_C" ]; then
        echo "SKIP: no test builds in $BUILD/tests/upgrade (meson setup -Dtests=enabled)"
        exit 77
fi
say "installing $BUILD into a staging directory"
STAGE=$(mktemp -d /tmp/preforkd-e2e-upgrade.XXXXXX)
mkdir -p "$LOGDIR"
timeout 600 meson install -C "$BUILD" --destdir "$STAGE" > "$LOGDIR/meson-install.log" 2>&1 ||
        die "meson install --destdir (log: $LOGDIR/meson-install.log)"
UNIT_FILE=$(find "$STAGE" -path '*/system/preforkd.service' | head -n 1)
[ -n "$UNIT_FILE" ] || die "no preforkd.service in the install"
BIN=$(sed -n 's/^ExecStart=\([^ ]*\) .*/\1/p' "$UNIT_FILE")
CONF=$(sed -n 's/^ExecStart=.* -c \([^ ]*\).*/\1/p' "$UNIT_FILE")
mkdir -p "$STAGE/root/e2e"
cp "$STAGE$BIN" "$STAGE/root/e2e/preforkd-a"
cp "$VARIANT_B" "$STAGE/root/e2e/preforkd-b"
cp "$VARIANT_C" "$STAGE/root/e2e/preforkd-c"

timeout 900 "$SBX" setup > "$LOGDIR/sandbox-setup.log" 2>&1 || die "systemd-sandbox.sh setup"
"$SBX" stop >/dev/null 2>&1 || true
"$SBX" boot > "$LOGDIR/sandbox-boot.log" 2>&1 || { cat "$LOGDIR/sandbox-boot.log"; die "systemd-sandbox.sh boot"; }
BOOTED=1
chmod 0755 "$STAGE"
tar -C "$STAGE" -cf - . | sx tar -C / -xf - --keep-directory-symlink --no-overwrite-dir --no-same-owner ||
        die "copying the install into the container"
VERSION=$(sx /root/e2e/preforkd-a -V | sed 's/^preforkd //')
say "binary $BIN ($VERSION), config $CONF"

# No socket units: preforkd binds 127.0.0.1:7008 itself.
sx mkdir -p /run/systemd/system/preforkd.service.d
sx sh -c 'cat > /run/systemd/system/preforkd.service.d/50-e2e-no-sockets.conf' <<'EOF'
[Unit]
Requires=
After=network.target
EOF
sx sh -c "cat > '$CONF'" <<'EOF'
shutdown_timeout = 10.0;
services = ( { name = "echo"; listen = [ "127.0.0.1:7008" ]; workers = 2; handler = "echo";
               idle_timeout = 120.0; park = { enabled = false; }; } );
EOF
sx systemctl daemon-reload

# ---------------------------------------------------------------- start
say "start A without socket units"
jmark
check "start: systemctl start preforkd" sx timeout 60 systemctl start preforkd
check "start: active" eval '[ "$(prop ActiveState)" = active ]'
check "start: the listener went to the fd store (NFileDescriptorStore=1)" \
        eventually 10 eval '[ "$(prop NFileDescriptorStore)" = 1 ]'
pid0=$(mainpid)

# The clients, in the container: a loop of connections, a keep-alive
# connection that sends a line every 20 ms, and a sampler of is-active.
sx sh -c 'cat > /run/e2e-loop.sh' <<'EOF'
#!/bin/bash
i=0
while [ ! -e /run/e2e-loop.stop ] && [ $SECONDS -lt 240 ]; do
        t=$EPOCHREALTIME
        if ! exec 3<>/dev/tcp/127.0.0.1/7008; then echo "$t FAIL connect"
        elif ! printf 'l%d\n' $i >&3; then echo "$t FAIL write"
        elif ! IFS= read -r -t 20 l <&3; then echo "$t FAIL no reply"
        elif [ "$l" != "l$i" ]; then echo "$t FAIL got '$l'"
        else echo "$t ok"; fi
        exec 3>&-
        i=$((i + 1))
done > /run/e2e-loop.out 2>&1
EOF
sx sh -c 'cat > /run/e2e-keepalive.sh' <<'EOF'
#!/bin/bash
exec 3<>/dev/tcp/127.0.0.1/7008 || { echo "FAIL connect" > /run/e2e-keepalive.out; exit 1; }
i=0
while [ ! -e /run/e2e-loop.stop ] && [ $SECONDS -lt 240 ]; do
        if ! printf 'k%d\n' $i >&3; then echo "FAIL write $i"; break
        elif ! IFS= read -r -t 20 l <&3; then echo "FAIL no reply $i"; break
        elif [ "$l" != "k$i" ]; then echo "FAIL got '$l' for $i"; break
        else echo ok; fi
        i=$((i + 1))
        sleep 0.02
done > /run/e2e-keepalive.out 2>&1
EOF
sx sh -c 'cat > /run/e2e-active.sh' <<'EOF'
#!/bin/bash
while [ ! -e /run/e2e-loop.stop ] && [ $SECONDS -lt 240 ]; do
        systemctl is-active --quiet preforkd.service && echo active || echo "NOT $(systemctl is-active preforkd.service)"
        sleep 0.05
done > /run/e2e-active.out 2>&1
EOF
start_clients() {
        sx rm -f /run/e2e-loop.stop /run/e2e-loop.out /run/e2e-keepalive.out /run/e2e-active.out
        sx systemd-run --quiet --unit=e2e-loop --collect /bin/bash /run/e2e-loop.sh
        [ "${1:-}" = loop-only ] && return 0
        sx systemd-run --quiet --unit=e2e-keepalive --collect /bin/bash /run/e2e-keepalive.sh
        sx systemd-run --quiet --unit=e2e-active --collect /bin/bash /run/e2e-active.sh
}
oks() { sx grep -c ' ok$' /run/e2e-loop.out 2>/dev/null || echo 0; }
kas() { sx grep -c '^ok$' /run/e2e-keepalive.out 2>/dev/null || echo 0; }
more_served() { local n; n=$(oks); eventually 30 eval "[ \$(oks) -ge $((n + 20)) ]"; }
stop_clients() {
        sx touch /run/e2e-loop.stop
        eventually 30 eval '! sx systemctl -q is-active e2e-loop e2e-keepalive e2e-active'
}

start_clients
check "load: the client loop is served" eventually 30 eval '[ $(oks) -ge 20 ]'
check "load: the keep-alive client is served" eventually 30 eval '[ $(kas) -ge 20 ]'

# ---------------------------------------------------------------- upgrade to B
say "upgrade to B ($VERSION+b)"
jmark
install_bin /root/e2e/preforkd-b
out=$(sx timeout 120 preforkctl upgrade 2>&1); rc=$?
check "upgrade: preforkctl upgrade exits 0 ($out)" eval '[ $rc = 0 ] && [[ $out == *"upgraded from $VERSION to $VERSION+b"* ]]'
check "upgrade: STATUS= says upgrade #1 done" status_has "upgrade #1 done: $VERSION -> $VERSION+b"
check "upgrade: same MAINPID ($pid0)" test "$(mainpid)" = "$pid0"
check "upgrade: journal record PREFORKD_UPGRADE_RESULT=done with both identities" \
        eval 'sx journalctl -q --cursor="$CURSOR" -u preforkd PREFORKD_UPGRADE_RESULT=done -o export |
              grep -a -q -E "^PREFORKD_UPGRADE=$VERSION \(build-id [0-9a-f]+\) -> $VERSION\+b \(build-id [0-9a-f]+\)$"'
check "upgrade: new workers run B (the binary now at $BIN)" \
        eventually 30 eval '[ "$(worker_exes | grep -c -x "$BIN")" = 2 ]'
check "upgrade: the client loop is served by B" more_served
check "upgrade: the listener is still the stored one (NFileDescriptorStore=1)" \
        test "$(prop NFileDescriptorStore)" = 1

# ---------------------------------------------------------------- broken C
say "upgrade to the broken C ($VERSION+c): rolled back"
jmark
install_bin /root/e2e/preforkd-c
check "rollback: SIGUSR2 -> STATUS= says upgrade #2 refused" usr2_until "upgrade #2 refused: a new worker"
check "rollback: same MAINPID ($pid0)" test "$(mainpid)" = "$pid0"
check "rollback: journal record PREFORKD_UPGRADE_RESULT=rolled-back, back to B" \
        eval 'jgrep "rolled back to $VERSION\+b" -u preforkd PREFORKD_UPGRADE_RESULT=rolled-back'
check "rollback: B's workers serve on (no worker runs C)" \
        eval 'ex=$(worker_exes); ! grep -q -x "$BIN" <<<"$ex" && [ "$(grep -c "(deleted)" <<<"$ex")" -ge 2 ]'
check "rollback: the client loop is served" more_served
ka=$(kas)
check "rollback: the keep-alive connection is served on" eventually 30 eval "[ \$(kas) -ge $((ka + 20)) ]"
out=$(sx timeout 120 preforkctl upgrade 2>&1); rc=$?
check "rollback: preforkctl upgrade with C again exits 1 with the reason ($out)" \
        eval '[ $rc = 1 ] && [[ $out == *"refused: a new worker of service echo"* ]]'
check "rollback: same MAINPID after the second rollback" test "$(mainpid)" = "$pid0"
stop_clients
total=$(sx grep -c . /run/e2e-loop.out) bad=$(sx grep -c FAIL /run/e2e-loop.out)
check "upgrades: no connection of the loop failed ($total connections, $bad failed)" test "$bad" = 0 -a "$total" -gt 0
[ "$bad" = 0 ] || sx grep FAIL /run/e2e-loop.out | head -n 5
check "upgrades: the keep-alive connection never failed ($(kas) exchanges)" \
        eval '! sx grep -q FAIL /run/e2e-keepalive.out'
samples=$(sx grep -c . /run/e2e-active.out) inactive=$(sx grep -c NOT /run/e2e-active.out)
check "upgrades: systemctl is-active all along ($samples samples, $inactive not active)" \
        test "$inactive" = 0 -a "$samples" -gt 0

# ---------------------------------------------------------------- restart
say "systemctl restart without socket units, under load (the fd store)"
install_bin /root/e2e/preforkd-a
jmark
start_clients loop-only
check "restart: the client loop is served" more_served
check "restart: systemctl restart preforkd" sx timeout 60 systemctl restart preforkd
check "restart: new main process" eval '[ "$(mainpid)" != "$pid0" ] && [ "$(prop ActiveState)" = active ]'
check "restart: the listener came back from the fd store" \
        jgrep 'Listening on 127\.0\.0\.1:7008 \(service echo\), kept in systemd.s fd store' -u preforkd
check "restart: served after the restart" more_served
check "restart: a second systemctl restart" sx timeout 60 systemctl restart preforkd
check "restart: served after the second restart" more_served
stop_clients
total=$(sx grep -c . /run/e2e-loop.out) bad=$(sx grep -c FAIL /run/e2e-loop.out)
check "restart: no connection refused or dropped ($total connections, $bad failed)" test "$bad" = 0 -a "$total" -gt 0
[ "$bad" = 0 ] || sx grep FAIL /run/e2e-loop.out | head -n 5
check "stop: systemctl stop preforkd" sx timeout 60 systemctl stop preforkd
check "stop: Result=success" test "$(prop Result)" = success
