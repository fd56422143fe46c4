#!/bin/bash
# check-security.sh MAX_EXPOSURE UNIT_FILE...
#
# Runs `systemd-analyze security --offline=true` on each unit file and
# fails when the "Overall exposure level" is above MAX_EXPOSURE or when
# systemd warns about a setting it does not understand (a misspelled
# hardening directive would silently lower the protection). Exits 77 (meson:
# skipped) when systemd-analyze or its --offline mode is missing.
set -u
max=${1:?usage: check-security.sh MAX_EXPOSURE UNIT_FILE...}; shift
sa=${SYSTEMD_ANALYZE:-systemd-analyze}

command -v "$sa" >/dev/null || { echo "SKIP: $sa not found"; exit 77; }
"$sa" --help 2>/dev/null | grep -q -- '--offline' ||
        { echo "SKIP: $sa has no --offline (systemd < 250)"; exit 77; }

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
rc=0
for unit in "$@"; do
        name=$(basename "$unit")
        # the analyzer resolves the unit by file name; templates get an instance
        case $name in *@.service) name=${name%@.service}@check.service ;; esac
        cp "$unit" "$tmp/$name"
        out=$(cd "$tmp" && SYSTEMD_COLORS=0 SYSTEMD_PAGER='' timeout 60 \
                "$sa" security --offline=true --no-pager "./$name" 2>"$tmp/err")
        st=$?
        err=$(grep -v -E 'Failed to read .container|PR_SET_MM' "$tmp/err")
        line=$(printf '%s\n' "$out" | grep 'Overall exposure level')
        level=$(printf '%s\n' "$line" | sed -nE 's/.*Overall exposure level for [^:]*: ([0-9]+(\.[0-9]+)?).*/\1/p')
        if [ -n "$err" ]; then
                printf '%s\n' "$err" | sed 's/^/  /'
        fi
        if [ -z "$level" ]; then
                echo "FAIL $unit: no exposure level (systemd-analyze exit $st)"
                printf '%s\n' "$out" | tail -5
                rc=1
        elif printf '%s\n' "$err" | grep -q -E 'Unknown (key|section|lvalue)|Failed to parse|Invalid'; then
                echo "FAIL $unit: systemd does not understand a setting (see above); exposure $level"
                rc=1
        elif awk -v l="$level" -v m="$max" 'BEGIN { exit !(l + 0 <= m + 0) }'; then
                echo "PASS $unit: exposure $level <= $max"
        else
                echo "FAIL $unit: exposure $level > $max"
                printf '%s\n' "$out" | grep '✗'
                rc=1
        fi
done
exit $rc
