#!/bin/bash
# check-includes.sh SRC_DIR
#
# No two modules include each other (a module is NAME.c with NAME.h), and
# the core includes no handler's header. Layers that reach up do not even
# build (each layer is compiled with its own and lower include
# directories only, see src/meson.build); this catches cycles within one
# layer, which the compiler allows.
set -euo pipefail
src=${1:?usage: check-includes.sh SRC_DIR}
declare -A deps=()
for f in "$src"/*/*.[ch]; do
        m=$(basename "${f%.*}")
        while IFS= read -r inc; do
                [ "$inc" = "$m" ] || deps["$m"]+=" $inc "
        done < <(sed -n 's/^#include "\([^"]*\)\.h".*/\1/p' "$f")
done
rc=0
for a in "${!deps[@]}"; do
        for b in ${deps[$a]}; do
                if [[ "$a" < "$b" && "${deps[$b]:-}" == *" $a "* ]]; then
                        echo "FAIL: $a and $b include each other"
                        rc=1
                fi
        done
done
for f in "$src"/core/*.[ch]; do
        if grep -nE '^#include "(http_[a-z_]*|echo|exec)\.h"' "$f"; then
                echo "FAIL: $f includes a handler's header"
                rc=1
        fi
done
[ $rc = 0 ] && echo "ok: no include cycles, the core includes no handler"
exit $rc
