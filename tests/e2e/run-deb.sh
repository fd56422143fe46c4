#!/bin/bash
# run-deb.sh [BUILD_DIR] - the Debian package end to end under a real systemd 252.
#
# Builds the package twice from temporary copies of this source tree (as it
# is, and again with a bumped version to upgrade to), runs lintian on the
# .deb and the .dsc, then boots Debian bookworm's systemd in a container
# with ../shared/tools/systemd-sandbox.sh and does what an operator does:
# `apt install ./preforkd_*.deb` (the units are enabled and started, the
# shipped config serves HTTP on 127.0.0.1:8080 and echo on 127.0.0.1:7007),
# `systemctl reload`, `journalctl -u preforkd`, an upgrade while a client
# loops over both ports (no connection may fail, the socket units must not
# restart), `apt remove` (stopped, config kept) and `apt purge` (nothing
# left).
#
# The packages are built with nocheck: the test suite of these very sources
# is the rest of `meson test`, and this run tests the packaging.
#
# Prints PASS/FAIL per check and "N passed, N failed"; exits 1 on any
# failure, 77 when it cannot run here (not root, no systemd-sandbox.sh).
# Installs debhelper and lintian when they are missing (as
# systemd-sandbox.sh installs its own tools); the package's build
# dependencies are the project's, checked with dpkg-checkbuilddeps. The
# container's root filesystem is run-e2e.sh's (same packages: libconfig9,
# the daemon's one library beyond libc and libsystemd, and socat), so the
# cached one is shared; it has no network, which apt does not need for a
# local .deb whose dependencies are there.
#
# Environment: DEB_E2E_TIMEOUT (whole run, default 600 s), DEB_E2E_LOG_DIR
# (build logs, lintian output, journal; default BUILD_DIR/deb-logs),
# SANDBOX_NAME (default preforkd-deb), DEB_E2E_KEEP=1 (leave the container
# running: SANDBOX_NAME=preforkd-deb systemd-sandbox.sh shell).
# Single-quoted snippets run in the container or through eval, on purpose.
# shellcheck disable=SC2016
set -euo pipefail

SELF=$(readlink -f "$0")
SRCROOT=$(cd "$(dirname "$SELF")/../.." && pwd)

if [ -z "${DEB_E2E_INNER:-}" ]; then
        if [ "$(id -u)" != 0 ]; then
                if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
                        exec sudo -n --preserve-env "$SELF" "$@"
                fi
                echo "SKIP: run-deb.sh must run as root (it installs packages in a container)"
                exit 77
        fi
        # The whole run is bounded: TERM after DEB_E2E_TIMEOUT (the EXIT
        # trap still stops the container), KILL a minute later.
        DEB_E2E_INNER=1 exec timeout --kill-after=60 "${DEB_E2E_TIMEOUT:-600}" "$SELF" "$@"
fi

exec < /dev/null
BUILD=$(readlink -f "${1:-$SRCROOT/build}")
LOGDIR=${DEB_E2E_LOG_DIR:-$BUILD/deb-logs}
SBX=${SYSTEMD_SANDBOX:-$SRCROOT/../shared/tools/systemd-sandbox.sh}
export SANDBOX_NAME=${SANDBOX_NAME:-preforkd-deb}
# run-e2e.sh's list: the same cached root filesystem serves both.
export SANDBOX_EXTRA_PACKAGES=${SANDBOX_EXTRA_PACKAGES:-libconfig9,socat}
export SANDBOX_RUN_TIMEOUT=${SANDBOX_RUN_TIMEOUT:-120}
export DEBIAN_FRONTEND=noninteractive
IN=/opt/preforkd-deb      # where the container sees $WORK

PASSED=0 FAILED=0 BOOTED=0 WORK=
T0=$SECONDS

say() { echo "-- $* ($((SECONDS - T0))s)"; }
pass() { echo "PASS $*"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL $*"; FAILED=$((FAILED + 1)); }
check() { local what=$1; shift; if "$@"; then pass "$what"; else fail "$what"; fi; }
die() { fail "$*"; exit 1; }
# retry SECONDS CMD...: CMD every 0.2 s until it succeeds
retry() {
        local n=$(($1 * 5)); shift
        until "$@"; do n=$((n - 1)); [ $n -gt 0 ] || return 1; sleep 0.2; done
}

finish() {
        local rc=$?
        trap - EXIT TERM INT
        trap '' PIPE
        if [ "$BOOTED" = 1 ]; then
                timeout 30 "$SBX" run journalctl --no-pager -o short-unix > "$LOGDIR/journal.txt" 2>&1 || true
                if [ "$FAILED" != 0 ]; then
                        echo "---- journalctl -u 'preforkd*' (last 60 lines; all: $LOGDIR/journal.txt)"
                        timeout 30 "$SBX" run journalctl --no-pager -u 'preforkd*' -n 60 2>&1 || true
                fi
                if [ -n "${DEB_E2E_KEEP:-}" ]; then
                        echo "container left running: SANDBOX_NAME=$SANDBOX_NAME $SBX shell"
                else
                        "$SBX" stop >/dev/null 2>&1 || true
                fi
        fi
        [ -z "$WORK" ] || [ -n "${DEB_E2E_KEEP:-}" ] || rm -rf "$WORK"
        echo "$PASSED passed, $FAILED failed ($((SECONDS - T0))s)"
        [ "$FAILED" = 0 ] || exit 1
        exit "$rc"
}
trap finish EXIT
# set -e ends the run on an unexpected failure outside the checks: say where.
trap 'rc=$?; fail "run-deb.sh line $LINENO: $BASH_COMMAND (exit $rc)"' ERR
trap 'fail "interrupted (timeout?)"; exit 124' TERM INT

# ---------------------------------------------------------------- tools
[ -x "$SBX" ] || { echo "SKIP: systemd-sandbox.sh not found at $SBX (set SYSTEMD_SANDBOX)"; exit 77; }
mkdir -p "$LOGDIR"
need=()
command -v dpkg-buildpackage >/dev/null || need+=(dpkg-dev)
command -v dh >/dev/null || need+=(debhelper)
command -v lintian >/dev/null || need+=(lintian)
if [ ${#need[@]} -gt 0 ]; then
        say "installing ${need[*]}"
        { apt-get update -qq && apt-get install -y -q --no-install-recommends "${need[@]}"; } \
                > "$LOGDIR/apt-host.log" 2>&1 || { tail -n 20 "$LOGDIR/apt-host.log"; die "apt-get install ${need[*]}"; }
fi
# The build dependencies are the project's own; nocheck drops check and mandoc.
deps=$(cd "$SRCROOT" && dpkg-checkbuilddeps -P nocheck 2>&1) || die "build dependencies: $deps"

# ---------------------------------------------------------------- build
# copy_tree DEST: the source tree as git sees it (tracked and untracked
# files, not the ignored build directories), or all of it outside git
copy_tree() {
        mkdir -p "$1"
        if git -C "$SRCROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
                git -C "$SRCROOT" ls-files -z -co --exclude-standard |
                        while IFS= read -r -d '' f; do [ -e "$SRCROOT/$f" ] && printf '%s\0' "$f"; done |
                        tar -C "$SRCROOT" --null -T - -cf - | tar -C "$1" -xf -
        else
                tar -C "$SRCROOT" --exclude-vcs --exclude='./build*' --exclude='./obj-*' -cf - . | tar -C "$1" -xf -
        fi
}
# build NAME DIR ARGS...: dpkg-buildpackage in DIR, output next to it
build() {
        local name=$1 dir=$2 t=$SECONDS; shift 2
        if (cd "$dir" && DEB_BUILD_OPTIONS="nocheck ${DEB_BUILD_OPTIONS:-}" \
                        dpkg-buildpackage -us -uc -Pnocheck -Jauto "$@") > "$LOGDIR/build-$name.log" 2>&1; then
                pass "build: dpkg-buildpackage $* of $name ($((SECONDS - t))s)"
        else
                tail -n 30 "$LOGDIR/build-$name.log"
                die "build: dpkg-buildpackage $* of $name (log: $LOGDIR/build-$name.log)"
        fi
}

V1=$(dpkg-parsechangelog -l "$SRCROOT/debian/changelog" -S Version)
V2=$V1+e2e1
WORK=$(mktemp -d /tmp/preforkd-deb.XXXXXX)
chmod 0755 "$WORK"      # apt in the container reads the .debs as user _apt
say "building $V1 (source and binary) and $V2 (binary) in $WORK"
copy_tree "$WORK/1/preforkd-$V1"
copy_tree "$WORK/2/preforkd-$V1"
# The upgrade's version: a changelog entry on top, in the copy only.
cl=$WORK/2/preforkd-$V1/debian/changelog
{
        printf 'preforkd (%s) %s; urgency=medium\n\n' "$V2" "$(dpkg-parsechangelog -l "$cl" -S Distribution)"
        printf '  * Test build of tests/e2e/run-deb.sh, to upgrade to.\n\n'
        printf ' -- %s  %s\n\n' "$(dpkg-parsechangelog -l "$cl" -S Maintainer)" "$(date -R)"
        cat "$cl"
} > "$cl.new"
mv "$cl.new" "$cl"
build "$V1" "$WORK/1/preforkd-$V1" -F
build "$V2" "$WORK/2/preforkd-$V1" -b
arch=$(dpkg --print-architecture)
DEB1=1/preforkd_${V1}_$arch.deb DEB2=2/preforkd_${V2}_$arch.deb DSC=1/preforkd_$V1.dsc
for f in "$DEB1" "$DEB2" "$DSC"; do [ -f "$WORK/$f" ] || die "build: $f was not built"; done

depends=$(dpkg-deb -f "$WORK/$DEB1" Depends)
check "package: shlibs Depends name libconfig9 and libsystemd0 ($depends)" \
        eval '[[ $depends == *libconfig9* && $depends == *libsystemd0* ]]'
conffiles=$(dpkg-deb --ctrl-tarfile "$WORK/$DEB1" | tar -xOf - ./conffiles)
check "package: conffiles: ${conffiles//$'\n'/ }" test "$conffiles" = /etc/preforkd/preforkd.conf

say "lintian"
lint_rc=0
(cd "$WORK" && lintian --fail-on error,warning --display-info --pedantic "$DEB1" "$DSC") \
        > "$LOGDIR/lintian.txt" 2>&1 || lint_rc=$?
lint=$(grep -v 'running with root privileges' "$LOGDIR/lintian.txt" || true)
[ -z "$lint" ] || printf '   %s\n' "${lint//$'\n'/$'\n'   }"
check "lintian: .deb and .dsc: no error, no warning (exit $lint_rc; ${lint:+$(grep -c . <<< "$lint") tags shown}${lint:-silent})" \
        test "$lint_rc" = 0

# ---------------------------------------------------------------- container
say "systemd-sandbox.sh setup and boot"
timeout 900 "$SBX" setup > "$LOGDIR/sandbox-setup.log" 2>&1 ||
        { tail -n 20 "$LOGDIR/sandbox-setup.log"; die "systemd-sandbox.sh setup"; }
"$SBX" stop >/dev/null 2>&1 || true
"$SBX" boot "--bind-ro=$WORK:$IN" > "$LOGDIR/sandbox-boot.log" 2>&1 ||
        { cat "$LOGDIR/sandbox-boot.log"; die "systemd-sandbox.sh boot"; }
BOOTED=1

sx() { "$SBX" run "$@"; }
# sxs SCRIPT ARGS...: a bash script in the container
sxs() { local s=$1; shift; "$SBX" run bash -c "$s" bash "$@"; }
prop() { sx systemctl show -P "$1" "${2:-preforkd.service}"; }
state() { echo "$(prop ActiveState "$1")/$(prop SubState "$1")"; }
version() { sx dpkg-query -W -f '${Status} ${Version}' preforkd 2>/dev/null || true; }
workers() {     # how many workers the main process has (front stages, named preforkd-front, not counted)
        local p; p=$(prop MainPID)
        if [ "$p" -gt 1 ]; then sx pgrep -c -x -P "$p" preforkd || true; else echo 0; fi
}
workers_are() { [ "$(workers)" = "$1" ]; }
# apt_do LOGNAME ARGS...: apt in the container, its output to the log dir
apt_do() {
        local log=$LOGDIR/apt-$1.log; shift
        echo "# apt $*" > "$log"
        sx env DEBIAN_FRONTEND=noninteractive apt -y -o Dpkg::Options::=--force-confold "$@" >> "$log" 2>&1 ||
                { tail -n 15 "$log"; return 1; }
}
echo_ok() {     # one line through the echo service
        sxs 'exec 3<>/dev/tcp/127.0.0.1/7007 && printf "%s\n" "$1" >&3 &&
             IFS= read -r -t 10 l <&3 && [ "$l" = "$1" ]' "$1" 2>/dev/null
}
http_get() {    # PATH: the response, CRs removed
        sxs 'exec 3<>/dev/tcp/127.0.0.1/8080 || exit 1
             printf "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n" "$1" >&3
             timeout 10 cat <&3' "$1" 2>/dev/null | tr -d '\r'
}
# jmark, then jhas REGEX [MATCH...]: a record of preforkd.service since the
# mark (that also has the journalctl MATCHes) has a line of its export
# format (FIELD=value) that matches REGEX
jmark() { JSINCE=$(sx date +%s.%N); }
jhas() {
        local out
        out=$(sx journalctl --no-pager -q -u preforkd.service --since "@$JSINCE" -o export "${@:2}")
        grep -a -q -E -- "$1" <<< "$out"
}

# What the purge must leave nothing of: the package's files, and the
# directories it brings (those that the container does not have yet).
entries=$(dpkg-deb --fsys-tarfile "$WORK/$DEB1" | tar -tf - | sed 's|^\./|/|')
mapfile -t pkg_files < <(grep -v '/$' <<< "$entries")
mapfile -t new_dirs < <(grep '/$' <<< "$entries" |
        sxs 'while IFS= read -r d; do [ -e "$d" ] || echo "$d"; done')

# ---------------------------------------------------------------- install
say "apt install ./preforkd_${V1}_$arch.deb"
jmark
check "install: apt install ./preforkd_${V1}_$arch.deb" apt_do install install "$IN/$DEB1"
v=$(version)
check "install: dpkg: $v" test "$v" = "install ok installed $V1"
for u in preforkd.service preforkd.socket preforkd-web.socket; do
        check "install: $u is enabled ($(sx systemctl is-enabled "$u" 2>&1 || true))" \
                test "$(sx systemctl is-enabled "$u" 2>&1 || true)" = enabled
done
check "install: preforkd.service is active/running ($(state preforkd.service))" \
        retry 10 eval '[ "$(state preforkd.service)" = active/running ]'
check "install: preforkd.socket and preforkd-web.socket are active/running" \
        eval '[ "$(state preforkd.socket) $(state preforkd-web.socket)" = "active/running active/running" ]'
check "install: echo on 127.0.0.1:7007" echo_ok hello
page=$(http_get /)
check "install: HTTP on 127.0.0.1:8080 serves the sample site (${page%%$'\n'*})" \
        eval '[[ $page == "HTTP/1.1 200 OK"* && $page == *"<title>preforkd works</title>"* ]]'
site=$(sx sed -n 's/^ *root = \(.*\);$/\1/p' /etc/preforkd/preforkd.conf)
check "install: the installed config's http.root is $site" test "$site" = '"/usr/share/preforkd/site"'
check "install: 6 workers (web 4, echo 2)" retry 10 workers_are 6

say "journalctl -u preforkd"
check "journal: the daemon's records, through the journal protocol (PREFORKD_SERVICE=web, _TRANSPORT=journal)" \
        retry 5 jhas '^_TRANSPORT=journal$' PREFORKD_SERVICE=web
check "journal: the access record of GET / (PREFORKD_HTTP_STATUS=200 PREFORKD_HTTP_TARGET=/)" \
        retry 5 jhas '^PREFORKD_HTTP_TARGET=/$' PREFORKD_SERVICE=web PREFORKD_HTTP_STATUS=200
check "journal: systemd's record of the start (READY=1 reached)" \
        retry 5 jhas '^MESSAGE=Started preforkd\.service'

# ---------------------------------------------------------------- reload
say "systemctl reload preforkd after an edit of the conffile (echo: 2 -> 3 workers)"
n=$(sx grep -c '^    workers = 2;$' /etc/preforkd/preforkd.conf || true)
check "reload: the shipped config has one 'workers = 2;' line, echo's ($n)" test "$n" = 1
sx sed -i 's/^    workers = 2;$/    workers = 3;/' /etc/preforkd/preforkd.conf
pid0=$(prop MainPID)
jmark
check "reload: systemctl reload preforkd returns 0" sx timeout 60 systemctl reload preforkd
status=$(prop StatusText)
check "reload: same main process ($pid0), STATUS= says it was applied ($status)" \
        eval '[ "$(prop MainPID)" = "$pid0" ] && [[ $status == *"reload #1 applied"* ]]'
check "reload: 7 workers (web 4, echo 3)" retry 10 workers_are 7
check "reload: serves" echo_ok after-reload
check "journal: the reload's record (Reloaded: generation 2 ...)" retry 5 jhas '^MESSAGE=Reloaded: generation 2'

# ---------------------------------------------------------------- upgrade
say "upgrade to $V2 while a client loops over both ports"
# $3 clients, each making one connection after another, alternately to
# echo and HTTP, until /run/deb-loop.stop, $1 connections in all or $2
# seconds; one line per connection in /run/deb-loop.out.CLIENT: "TIME ok"
# or "TIME FAIL why". A connection made while the daemon restarts waits in
# its socket's backlog until the new daemon accepts it, so a client has at
# most one connection in that window: several clients put several there.
# A 5 ms pause between connections (a read that times out on a FIFO
# nobody writes to: no fork) keeps the count to a few thousand.
sx sh -c 'cat > /run/deb-loop.sh' <<'EOF'
#!/bin/bash
max=$1 secs=$2 clients=$3
client() {
        local c=$1 i=0 t l
        exec 9<>/run/deb-loop.fifo
        while [ ! -e /run/deb-loop.stop ] && [ $i -lt $((max / clients)) ] && [ $SECONDS -lt "$secs" ]; do
                t=$EPOCHREALTIME
                if [ $(((i + c) % 2)) = 0 ]; then
                        if ! exec 3<>/dev/tcp/127.0.0.1/7007; then echo "$t FAIL echo: connect"
                        elif ! printf 'c%dl%d\n' $c $i >&3; then echo "$t FAIL echo: write"
                        elif ! IFS= read -r -t 20 l <&3; then echo "$t FAIL echo: no reply"
                        elif [ "$l" != "c${c}l$i" ]; then echo "$t FAIL echo: got '$l'"
                        else echo "$t ok"; fi
                else
                        if ! exec 3<>/dev/tcp/127.0.0.1/8080; then echo "$t FAIL http: connect"
                        elif ! printf 'GET /about.txt HTTP/1.1\r\nHost: l\r\nConnection: close\r\n\r\n' >&3; then
                                echo "$t FAIL http: write"
                        elif ! IFS= read -r -t 20 l <&3; then echo "$t FAIL http: no reply"
                        elif [ "${l%$'\r'}" != "HTTP/1.1 200 OK" ]; then echo "$t FAIL http: got '${l%$'\r'}'"
                        else echo "$t ok"; fi
                fi
                exec 3>&-
                i=$((i + 1))
                read -r -t 0.005 -u 9 || true
        done > "/run/deb-loop.out.$c" 2>&1
}
mkfifo /run/deb-loop.fifo
for ((c = 0; c < clients; c++)); do client $c & done
wait
touch /run/deb-loop.done
EOF
sx sh -c 'rm -f /run/deb-loop.out.* /run/deb-loop.stop /run/deb-loop.done /run/deb-loop.fifo'
sx systemd-run --quiet --unit=deb-loop --collect /bin/bash /run/deb-loop.sh 20000 60 8
loop_out() { sx sh -c 'cat /run/deb-loop.out.* 2>/dev/null' || true; }
loop_ok() { local out; out=$(loop_out); [ "$(grep -c ' ok$' <<< "$out" || true)" -ge "$1" ]; }
check "upgrade: the client loop is served" retry 10 loop_ok 50
pid1=$(prop MainPID)
sock1="$(prop ActiveEnterTimestampMonotonic preforkd.socket) $(prop ActiveEnterTimestampMonotonic preforkd-web.socket)"
jmark
t_apt0=$JSINCE
check "upgrade: apt install ./preforkd_${V2}_$arch.deb" apt_do upgrade install "$IN/$DEB2"
t_apt1=$(sx date +%s.%N)
sleep 1         # and a second of traffic for the new daemon
sx touch /run/deb-loop.stop
check "upgrade: the client loop finished" retry 30 sx test -e /run/deb-loop.done
v=$(version)
check "upgrade: dpkg: $v" test "$v" = "install ok installed $V2"
pid2=$(prop MainPID)
check "upgrade: preforkd.service restarted onto the new binary (main process $pid1 -> $pid2), active/running" \
        eval '[ "$pid2" != "$pid1" ] && [ "$pid2" -gt 1 ] && [ "$(state preforkd.service)" = active/running ]'
sock2="$(prop ActiveEnterTimestampMonotonic preforkd.socket) $(prop ActiveEnterTimestampMonotonic preforkd-web.socket)"
check "upgrade: the socket units were not restarted (active since before: $sock1)" test "$sock2" = "$sock1"
check "upgrade: the edited conffile is kept (echo: workers = 3; 7 workers)" \
        eval 'sx grep -q "^    workers = 3;$" /etc/preforkd/preforkd.conf && retry 10 workers_are 7'
# The restart's window, from systemd's records: "Stopping" to "Started",
# at the times they were sent (_SOURCE_REALTIME_TIMESTAMP): journald, busy
# with the access log, receives them tens of milliseconds later.
window=$(sx journalctl --no-pager -q -u preforkd.service --since "@$t_apt0" -o export \
                --output-fields=MESSAGE,_SOURCE_REALTIME_TIMESTAMP |
        awk '/^__REALTIME_TIMESTAMP=/ { rt = substr($0, 22) }
             /^_SOURCE_REALTIME_TIMESTAMP=/ { src = substr($0, 28) }
             /^MESSAGE=/ { msg = substr($0, 9) }
             /^$/ { t = src ? src : rt
                    if (msg ~ /^Stopping preforkd\.service/ && !a) a = t
                    if (msg ~ /^Started preforkd\.service/ && a && !b) b = t
                    rt = src = msg = "" }
             END { if (b) printf "%.6f %.6f\n", a / 1e6, b / 1e6 }')
read -r r0 r1 <<< "$window"
out=$(loop_out)
printf "%s\n" "$out" | sort -n > "$LOGDIR/upgrade-clients.txt"
total=$(grep -c . <<< "$out" || true)
bad=$(grep -c FAIL <<< "$out" || true)
during_apt=$(awk -v a="$t_apt0" -v b="$t_apt1" '$1 >= a && $1 <= b' <<< "$out" | wc -l)
during_restart=$(awk -v a="${r0:-0}" -v b="${r1:-0}" '$1 >= a && $1 <= b' <<< "$out" | wc -l)
check "upgrade: the client lost no connection ($total connections, $bad failed)" \
        eval '[ "$bad" = 0 ] && [ "$total" -gt 100 ]'
[ "$bad" = 0 ] || grep FAIL <<< "$out" | head -n 5
check "upgrade: connections were made during apt ($during_apt) and while preforkd.service restarted ($during_restart, ${r0:-?} to ${r1:-?})" \
        eval '[ "$during_apt" -gt 0 ] && [ "$during_restart" -gt 0 ]'
check "upgrade: serves" eval 'echo_ok after-upgrade && [[ $(http_get /) == "HTTP/1.1 200 OK"* ]]'

# ---------------------------------------------------------------- remove
say "apt remove preforkd"
check "remove: apt remove preforkd" apt_do remove remove preforkd
for u in preforkd.service preforkd.socket preforkd-web.socket; do
        check "remove: $u is inactive ($(state "$u"))" test "$(prop ActiveState "$u")" = inactive
done
check "remove: nothing answers on 7007 or 8080" \
        eval '! sxs "exec 3<>/dev/tcp/127.0.0.1/7007" 2>/dev/null && ! sxs "exec 3<>/dev/tcp/127.0.0.1/8080" 2>/dev/null'
v=$(version)
check "remove: dpkg: $v; the edited config is kept" \
        eval '[ "$v" = "deinstall ok config-files $V2" ] && sx grep -q "^    workers = 3;$" /etc/preforkd/preforkd.conf'
check "remove: /usr/sbin/preforkd is gone" eval '! sx test -e /usr/sbin/preforkd'

# ---------------------------------------------------------------- purge
say "apt purge preforkd"
check "purge: apt purge preforkd" apt_do purge purge preforkd
v=$(version)
check "purge: dpkg knows no preforkd (${v:-nothing})" eval '[ -z "$v" ] || [[ $v == "unknown ok not-installed"* ]]'
check "purge: /etc/preforkd is gone" eval '! sx test -e /etc/preforkd'
left=$(sxs 'for f; do if [ -e "$f" ] || [ -L "$f" ]; then echo "$f"; fi; done' "${pkg_files[@]}" "${new_dirs[@]}")
check "purge: nothing is left of the package's ${#pkg_files[@]} files and ${#new_dirs[@]} directories${left:+ (left: ${left//$'\n'/ })}" \
        test -z "$left"
state_left=$(sx find /etc/systemd /var/lib/systemd/deb-systemd-helper-enabled /var/lib/systemd/deb-systemd-helper-masked \
        -name '*preforkd*' 2>/dev/null || true)
check "purge: no enablement symlink or deb-systemd-helper state is left${state_left:+ (${state_left//$'\n'/ })}" \
        test -z "$state_left"
