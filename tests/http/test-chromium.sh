#!/bin/bash
# SPDX-License-Identifier: MIT
# test-chromium.sh: a real browser against a W = 2 service while another
# client holds 6 idle keep-alive connections (issue 9, "Real clients").
#
# Without the front stage, 2 of the 6 idle connections pin both workers
# for keepalive_timeout (600 s here), and the browser waits. With it, they
# are parked, and headless Chromium (Debian's chromium) loads a page of 40
# images: the page's own script counts the images whose onload fired and
# writes "all 40 loaded" once every one did (an onerror writes "errors N"),
# and --dump-dom prints the document after its load event. What is
# asserted is completion, within a generous bound (CHROMIUM_TIMEOUT,
# default 90 s) that only ends a hang, never a time. Then each of the 6
# held connections still answers, on the same connection.
#
# Environment: see clients-lib.sh (CLIENTS_PARK=false: the negative control,
# which must fail). Exit: 0 all passed, 1 a failure, 77 chromium or curl
# missing outside CI.
# shellcheck source-path=SCRIPTDIR source=clients-lib.sh
. "$(dirname "$0")/clients-lib.sh"

N_IMAGES=40
N_HELD=6
need_tools chromium curl timeout
make_tmp chromium

# The page and its images: small distinct SVG files (6 KiB each, so that
# each is a real transfer), and a text file for the held connections.
for i in $(seq 0 $((N_IMAGES - 1))); do
        printf '<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8"><!-- %s --><rect width="8" height="8" fill="#%02x%02x%02x"/></svg>\n' \
                "$(head -c 6000 /dev/zero | tr '\0' x)" "$i" $((i * 3)) $((255 - i)) >"$TMP/root/img$i.svg"
done
{
        cat <<EOF
<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>preforkd: $N_IMAGES images</title>
<script>
var loaded = 0, failed = 0;
function ok() { loaded++; if (loaded === $N_IMAGES && failed === 0) document.getElementById("r").textContent = "all " + loaded + " loaded"; }
function bad() { failed++; document.getElementById("r").textContent = "errors " + failed; }
</script></head>
<body><p id="r">waiting</p>
EOF
        for i in $(seq 0 $((N_IMAGES - 1))); do
                echo "<img src=\"img$i.svg\" width=\"8\" height=\"8\" onload=\"ok()\" onerror=\"bad()\">"
        done
        echo "</body></html>"
} >"$TMP/root/index.html"
echo "held connection $$" >"$TMP/root/held.txt"
held_body=$(cat "$TMP/root/held.txt")$'\n'

# Timeouts so long that a worker pinned by an idle connection would hang
# the browser until CHROMIUM_TIMEOUT, never let it finish late.
start_preforkd 2 "keepalive_timeout = 600.0; header_timeout = 600.0;"
echo "preforkd $MASTER on 127.0.0.1:$PORT, workers = 2, park ${CLIENTS_PARK:-true}"

ok=1
for i in $(seq "$N_HELD"); do
        held_open && held_get "${HELD[-1]}" /held.txt "$held_body" || ok=0
done
if [ "$ok" = 1 ]; then pass "$N_HELD keep-alive connections opened, one request each"; else fail "$N_HELD keep-alive connections"; fi
if [ "${CLIENTS_PARK:-true}" = false ]; then
        echo "  (park off: the front stage holds nothing)"
elif wait_held "$N_HELD"; then
        pass "the front stage holds the $N_HELD idle connections"
else
        fail "the front stage holds $(front_held) connections, not $N_HELD"
fi

profile=$TMP/chromium-profile
mkdir -p "$profile"
# timeout(1) signals its whole process group, so Chromium's helper
# processes go with it.
HOME=$TMP timeout -k 5 "${CHROMIUM_TIMEOUT:-90}" chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync --disable-dev-shm-usage \
        --user-data-dir="$profile" --dump-dom "http://127.0.0.1:$PORT/index.html" \
        >"$TMP/dom.html" 2>"$TMP/chromium.log" </dev/null
rc=$?
result=$(sed -n 's/.*<p id="r">\([^<]*\)<\/p>.*/\1/p' "$TMP/dom.html" | head -1)
if [ "$rc" = 0 ] && [ "$result" = "all $N_IMAGES loaded" ]; then
        pass "Chromium loaded the page and all $N_IMAGES images"
else
        fail "Chromium: exit $rc (124: timed out), page says '${result:-nothing}'"
        tail -5 "$TMP/chromium.log"
fi

ok=1
for fd in "${HELD[@]}"; do
        held_get "$fd" /held.txt "$held_body" || ok=0
done
if [ "$ok" = 1 ]; then pass "each of the $N_HELD held connections still answers"; else fail "held connections after the page load"; fi
held_close_all

stop_and_check
finish
