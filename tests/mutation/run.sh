#!/bin/bash
# Mutation check: does the test suite notice when a documented behaviour
# breaks? Each file in tests/mutation/m/ describes one small, realistic bug
# (a flipped comparison, a dropped call, a wrong constant) and the tests
# that must fail because of it. This script copies the source tree once
# into a scratch directory (the real tree is never touched), configures one
# build there, and for each mutation: applies it, rebuilds incrementally,
# runs only the named tests, records the result and restores the file.
#
#   KILLED         a named test failed (or timed out): the suite noticed
#   BUILD-KILLED   the mutated tree did not build (counts, but says little)
#   SURVIVED       every named test passed: a gap in the tests
#   STALE          the snippet is not in the file exactly once (the code
#                  moved on): update the mutation
#
# It prints one line per mutation, then "N mutations, N killed", and exits
# 0 only when every mutation was killed (1 if any survived or is stale, 2
# when the unmutated tree fails the named tests or cannot be set up).
#
# Usage: tests/mutation/run.sh [-j N] [-t SECONDS] [-m FACTOR] [-k] [--whole-suite]
#                              [--no-baseline] [--list] [NAME...]
#   NAME...        only these mutations (file names in m/ without .mut;
#                  shell patterns allowed, e.g. 'http-*')
#   -j N           N scratch copies, mutations run in parallel (default:
#                  one per CPU, at most 3)
#   -t SECONDS     bound on one meson test run (default 300)
#   -m FACTOR      meson's --timeout-multiplier for each test (default 0.5:
#                  a mutation that makes a test hang costs half its meson
#                  timeout; the unmutated tests take a small part of it)
#   -k             keep the scratch directory (its path is printed)
#   --whole-suite  run every test but e2e against each mutation instead of
#                  the named ones: to find what kills a survivor
#   --no-baseline  skip the check that the named tests pass unmutated
#   --list         print the mutations and exit
# Environment: MUTATION_SCRATCH=DIR puts the scratch copies under DIR
# (default $TMPDIR or /tmp); MUTATION_MESON_ARGS adds to `meson setup`.
#
# A mutation file (tests/mutation/m/NAME.mut):
#
#   what: the documented behaviour this breaks, in one line
#   file: src/core/supervisor.c
#   kill: integration-supervise:test_kill_worker_respawn test-respawn
#   --- find
#   <lines copied verbatim from the file; must occur exactly once>
#   --- replace
#   <what they become>
#   --- end
#
# `kill:` lists meson test names; TEST:CASE runs only that check test case
# (CK_RUN_CASE=CASE; the baseline fails if the case does not exist), and
# suite:NAME runs a whole meson suite. The mutation is killed as soon as one
# of them fails; later ones are not run. Lines before "--- find" that start
# with '#' are comments. The snippet is matched as text, whitespace
# included, wherever it is in the file, so mutations survive unrelated code
# drift and go STALE, loudly, when the code they break is rewritten.
#
# Time: a mutation costs its incremental build (the daemon and the named
# tests only) and the named tests, from 1 s to the test's own timeout when
# the mutation makes it wait for something that never comes (halved by
# -m). With the default -j2 on two cores busy with other work, 85 to 87
# mutations took 7 to 10 minutes (load average 5 to 14): 1 to 2 to set up
# two copies, 1 for the baseline, the rest for the mutations. .ci/run runs
# it after the sanitizer step.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
mdir=$here/m

# One scratch copy per core, at most three: the tests mostly wait.
jobs=$(nproc 2>/dev/null || echo 1)
[ "$jobs" -gt 3 ] && jobs=3
test_timeout=300
multiplier=0.5
keep=false
whole=false
baseline=true
list=false
patterns=()

usage() {
        sed -n '/^# Usage:/,/^# Environment/p' "$0" | sed 's/^# \{0,1\}//'
        exit "${1:-0}"
}

while [ $# -gt 0 ]; do
        case $1 in
        -j) jobs=${2:?-j needs a number}; shift 2 ;;
        -j*) jobs=${1#-j}; shift ;;
        -t) test_timeout=${2:?-t needs seconds}; shift 2 ;;
        -m) multiplier=${2:?-m needs a factor}; shift 2 ;;
        -k) keep=true; shift ;;
        --whole-suite) whole=true; shift ;;
        --no-baseline) baseline=false; shift ;;
        --list) list=true; shift ;;
        -h|--help) usage 0 ;;
        -*) echo "run.sh: unknown option $1" >&2; usage 64 >&2 ;;
        *) patterns+=("$1"); shift ;;
        esac
done
case $jobs in ''|*[!0-9]*|0) echo "run.sh: -j needs a positive number" >&2; exit 64 ;; esac
case $test_timeout in ''|*[!0-9]*|0) echo "run.sh: -t needs a positive number of seconds" >&2; exit 64 ;; esac

# The header field KEY of a mutation file (before the first "--- " line).
field() {
        awk -v key="$2" '/^--- /{exit} index($0, key ": ") == 1 {print substr($0, length(key) + 3); exit}' "$1"
}

mutations=()
for f in "$mdir"/*.mut; do
        [ -e "$f" ] || continue
        name=$(basename "$f" .mut)
        if [ ${#patterns[@]} -gt 0 ]; then
                match=false
                for p in "${patterns[@]}"; do
                        # shellcheck disable=SC2053 # a pattern on purpose
                        [[ $name == $p ]] && match=true
                done
                $match || continue
        fi
        mutations+=("$f")
done
if [ ${#mutations[@]} -eq 0 ]; then
        echo "run.sh: no mutation matches${patterns:+ ${patterns[*]}}" >&2
        exit 64
fi

[ "$jobs" -gt ${#mutations[@]} ] && jobs=${#mutations[@]}

for f in "${mutations[@]}"; do
        for k in what file kill; do
                if [ -z "$(field "$f" "$k")" ]; then
                        echo "run.sh: $f: no \"$k:\" line" >&2
                        exit 64
                fi
        done
done

if $list; then
        for f in "${mutations[@]}"; do
                printf '%-34s %s\n%-34s   %s: %s\n' "$(basename "$f" .mut)" "$(field "$f" what)" "" \
                        "$(field "$f" file)" "$(field "$f" kill)"
        done
        exit 0
fi

# Applies mutation $1 to the tree $2: exactly one occurrence of the find
# block becomes the replace block. Exit 3 (and a reason) when it is stale.
apply_mutation() {
        perl -e '
                my ($mut, $tree) = @ARGV;
                open(my $m, "<", $mut) or die "$mut: $!\n";
                my ($file, $sec, $find, $repl) = (undef, "", "", "");
                while (<$m>) {
                        if (/^--- (find|replace|end)\s*$/) { $sec = $1; next; }
                        if ($sec eq "find") { $find .= $_; }
                        elsif ($sec eq "replace") { $repl .= $_; }
                        elsif ($sec eq "" && /^file:\s*(\S+)/) { $file = $1; }
                }
                close($m);
                chomp $find;
                chomp $repl;
                die "no file\n" unless defined $file;
                if ($find eq "" || $find eq $repl) { print "empty find block, or replace equals find\n"; exit 3; }
                my $path = "$tree/$file";
                open(my $in, "<", $path) or do { print "$file: $!\n"; exit 3; };
                local $/;
                my $src = <$in>;
                close($in);
                my $n = () = $src =~ /\Q$find\E/g;
                if ($n != 1) { print "the find block occurs $n times in $file\n"; exit 3; }
                my $i = index($src, $find);
                substr($src, $i, length($find)) = $repl;
                open(my $out, ">", $path) or die "$path: $!\n";
                print $out $src;
                close($out) or die "$path: $!\n";
        ' "$1" "$2"
}

# Kills what a test run left behind in copy $1: a check test case runs in
# a process group of its own, so when meson kills a test that timed out,
# the case (blocked on what the mutation broke) and any daemon it started
# may live on. They are found by their executable, which is in the copy.
reap_strays() {
        local p exe
        for p in /proc/[0-9]*; do
                exe=$(readlink "$p/exe" 2>/dev/null) || continue
                case $exe in
                "$1"/*) kill -KILL "${p#/proc/}" 2>/dev/null || true ;;
                esac
        done
}

start=$(date +%s)
scratch=$(mktemp -d "${MUTATION_SCRATCH:-${TMPDIR:-/tmp}}/preforkd-mutation.XXXXXX")
cleanup() {
        reap_strays "$scratch"
        if $keep; then
                echo "run.sh: scratch directory kept: $scratch" >&2
        else
                rm -rf "$scratch"
        fi
}
trap cleanup EXIT
jobs_pids=()
trap 'stop_child; kill "${jobs_pids[@]}" 2>/dev/null; wait; exit 130' INT TERM

# A copy of the source as it is checked out, uncommitted changes included
# (tracked and untracked files, not ignored ones such as build/).
copy_tree() {
        mkdir -p "$1"
        if git -C "$root" rev-parse --git-dir >/dev/null 2>&1; then
                (cd "$root" && git ls-files -z --cached --others --exclude-standard |
                        tar --null --ignore-failed-read -T - -cf - 2>/dev/null) | tar -xf - -C "$1"
        else
                (cd "$root" && tar --exclude='./build*' -cf - .) | tar -xf - -C "$1"
        fi
}

# Sets up scratch copy $1: source in $1/src, build in $1/build.
setup_copy() {
        local dir=$scratch/$1
        copy_tree "$dir/src"
        # shellcheck disable=SC2086 # word splitting of the extra arguments on purpose
        if ! meson setup "$dir/build" "$dir/src" -Dtests=enabled ${MUTATION_MESON_ARGS:-} >"$dir/setup.log" 2>&1 ||
           ! ninja -C "$dir/build" >"$dir/build.log" 2>&1; then
                echo "run.sh: the unmutated tree does not build, see:" >&2
                tail -n 30 "$dir/setup.log" "$dir/build.log" >&2 || true
                return 1
        fi
        # What each test runs, for building only that (and the daemon)
        # after a mutation: "NAME TARGET DEPENDS..." lines; a test that
        # runs a script has no target of its own. meson is Python, so python3 is there.
        python3 - "$dir/build" >"$dir/targets" <<'EOF_PY'
import json, os, subprocess, sys
build = os.path.realpath(sys.argv[1])
def introspect(what):
    return json.loads(subprocess.check_output(['meson', 'introspect', what, build]))
def target(path):
    path = os.path.realpath(path)
    return os.path.relpath(path, build) if path.startswith(build + os.sep) else ''
targets = introspect('--targets')
# The daemon, and preforkd-testing (the daemon with the test-only
# handler, tests/meson.build), which the supervision tests run.
for t in targets:
    if t['name'] in ('preforkd', 'preforkd-testing') and t['type'] == 'executable':
        print('preforkd', target(t['filename'][0]))
# A test's own executable and what it depends on (the upgrade tests run
# test builds of the daemon, which a mutation of the core changes too).
files = {t['id']: target(t['filename'][0]) for t in targets if t.get('filename')}
for t in introspect('--tests'):
    deps = [files.get(d, '') for d in t.get('depends', [])]
    print(t['name'], target(t['cmd'][0]), *[d for d in deps if d])
EOF_PY
}

# The ninja targets that the kill specs of mutation $2 need in copy $1:
# the daemon (both builds of it) and each named test's executable, or
# everything ("") when a whole suite is named or --whole-suite is on.
build_targets() {
        local map=$scratch/$1/targets spec t out
        $whole && return 0
        out=$(awk '$1 == "preforkd" { printf "%s ", $2 }' "$map")
        for spec in $(field "$2" kill); do
                if [[ $spec == suite:* ]]; then
                        return 0
                fi
                t=$(awk -v n="${spec%%:*}" '$1 == n { $1 = ""; print }' "$map")
                [ -n "$t" ] && out+=" $t"
        done
        echo "$out"
}

# Runs "$@" bounded by the test timeout, in a process group of its own
# (timeout's), in the background so that a signal to this shell stops it
# at once (see stop_child). Returns its exit status, 124 on timeout.
child=
bounded() {
        timeout --kill-after=20 "$test_timeout" "$@" &
        child=$!
        local rc=0
        wait "$child" || rc=$?
        child=
        return "$rc"
}
stop_child() {
        if [ -n "$child" ]; then
                kill -- "-$child" 2>/dev/null || kill "$child" 2>/dev/null || true
        fi
}

# Runs one test spec (NAME, NAME:CASE or suite:NAME) in build dir $1 with
# log base $3; its output goes to $1/$3.out. Returns its exit status.
run_spec() {
        local build=$1 spec=$2 logbase=$3 case='' args=()
        if [[ $spec == suite:* ]]; then
                args=(--suite "${spec#suite:}")
        elif [[ $spec == *:* ]]; then
                case=${spec#*:}
                args=("${spec%%:*}")
        else
                args=("$spec")
        fi
        # CK_RUN_CASE only when a case is named: set but empty, check
        # would run no test at all (and pass).
        if [ -n "$case" ]; then
                bounded env CK_RUN_CASE="$case" \
                        meson test -C "$build" --no-rebuild --timeout-multiplier "$multiplier" --print-errorlogs --logbase "$logbase" "${args[@]}" \
                        >"$build/$logbase.out" 2>&1
        else
                bounded env -u CK_RUN_CASE \
                        meson test -C "$build" --no-rebuild --timeout-multiplier "$multiplier" --print-errorlogs --logbase "$logbase" "${args[@]}" \
                        >"$build/$logbase.out" 2>&1
        fi
}

whole_suite_spec() {
        bounded env -u CK_RUN_CASE \
                meson test -C "$1" --no-rebuild --timeout-multiplier "$multiplier" --print-errorlogs --no-suite e2e --logbase "$2" \
                >"$1/$2.out" 2>&1
}

# The named tests must pass on the unmutated tree, and a TEST:CASE must run
# at least one check (a misspelt case would run none and pass). Spec i of
# the distinct ones runs in copy (i mod jobs) + 1; each copy prints what
# failed and exits non-zero.
baseline_specs() {
        local seen=" " spec
        for f in "${mutations[@]}"; do
                for spec in $(field "$f" kill); do
                        [[ $seen == *" $spec "* ]] && continue
                        seen+="$spec "
                        echo "$spec"
                done
        done
}

run_baseline() {
        local j=$1 build=$scratch/$1/build spec i=0 rc failed=0
        for spec in $(baseline_specs); do
                i=$((i + 1))
                [ $(((i - 1) % jobs + 1)) -eq "$j" ] || continue
                rc=0
                run_spec "$build" "$spec" "baseline-$i" || rc=$?
                reap_strays "$scratch/$j"
                if [ "$rc" -ne 0 ]; then
                        echo "run.sh: baseline: $spec fails without any mutation (exit $rc):" >&2
                        tail -n 40 "$build/baseline-$i.out" >&2
                        failed=1
                # A skipped test (exit 77) could not kill anything.
                elif grep -qE ' SKIP ' "$build/baseline-$i.out"; then
                        echo "run.sh: baseline: $spec is skipped on this machine (exit 77), so it cannot kill a mutation:" >&2
                        grep -E 'SKIP' "$build/meson-logs/baseline-$i.txt" | head -n 5 >&2
                        failed=1
                # A check test that ran no test case proves nothing.
                elif grep -qE 'Checks: 0,' "$build/meson-logs/baseline-$i.txt"; then
                        echo "run.sh: baseline: $spec runs no check test case (misspelt case name?)" >&2
                        failed=1
                fi
        done
        return "$failed"
}

# Runs mutation $2 in scratch copy $1; prints its result line and stores
# the verdict in $scratch/results/NAME.
run_mutation() {
        local dir=$scratch/$1 f=$2 name file spec rc t0 verdict detail ran=() targets=()
        name=$(basename "$f" .mut)
        file=$(field "$f" file)
        t0=$(date +%s)
        cp "$dir/src/$file" "$dir/orig"
        read -r -a targets <<<"$(build_targets "$1" "$f")"
        if ! detail=$(apply_mutation "$f" "$dir/src"); then
                verdict=STALE
        elif ! ninja -C "$dir/build" "${targets[@]}" >"$dir/build-$name.log" 2>&1; then
                verdict=BUILD-KILLED
                detail="does not compile (see a weaker mutation)"
        else
                verdict=SURVIVED
                if $whole; then
                        rc=0
                        whole_suite_spec "$dir/build" "mut-$name" || rc=$?
                        reap_strays "$dir"
                        if [ "$rc" -ne 0 ]; then
                                verdict=KILLED
                                detail="by $(grep -E ' (FAIL|TIMEOUT|ERROR) ' "$dir/build/mut-$name.out" |
                                        sed -E 's/^ *[0-9]+\/[0-9]+ +[^ ]+ \/ ([^ ]+) .*/\1/' | sort -u | tr '\n' ' ' || true)"
                        else
                                detail="the whole suite passes"
                        fi
                else
                        for spec in $(field "$f" kill); do
                                rc=0
                                run_spec "$dir/build" "$spec" "mut-$name" || rc=$?
                                reap_strays "$dir"
                                ran+=("$spec")
                                if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
                                        verdict=KILLED
                                        detail="by $spec (timed out after ${test_timeout}s)"
                                        break
                                elif [ "$rc" -ne 0 ]; then
                                        verdict=KILLED
                                        detail="by $spec"
                                        break
                                fi
                        done
                        [ "$verdict" = SURVIVED ] && detail="passed: ${ran[*]}"
                fi
        fi
        cp "$dir/orig" "$dir/src/$file"
        printf '%-12s %-38s %s (%ss)\n' "$verdict" "$name" "$detail" "$(($(date +%s) - t0))"
        echo "$verdict" >"$scratch/results/$name"
}

mkdir -p "$scratch/results"
echo "mutation check: ${#mutations[@]} mutations, $jobs scratch cop$([ "$jobs" -eq 1 ] && echo y || echo ies) in $scratch"

for j in $(seq 1 "$jobs"); do
        setup_copy "$j" &
        jobs_pids+=($!)
done
for p in "${jobs_pids[@]}"; do
        wait "$p" || exit 2
done
jobs_pids=()
echo "setup: $jobs build$([ "$jobs" -eq 1 ] || echo s) ready ($(($(date +%s) - start)) s)"
if $baseline && ! $whole; then
        for j in $(seq 1 "$jobs"); do
                (
                        trap 'stop_child; exit 130' INT TERM
                        run_baseline "$j"
                ) &
                jobs_pids+=($!)
        done
        baseline_ok=true
        for p in "${jobs_pids[@]}"; do
                wait "$p" || baseline_ok=false
        done
        jobs_pids=()
        $baseline_ok || exit 2
        echo "baseline: $(baseline_specs | wc -l) test runs pass unmutated ($(($(date +%s) - start)) s so far)"
fi

# Mutation i goes to copy (i mod jobs) + 1; each copy works through its
# share in order.
for j in $(seq 1 "$jobs"); do
        (
                trap 'stop_child; exit 130' INT TERM
                i=0
                for f in "${mutations[@]}"; do
                        if [ $((i % jobs + 1)) -eq "$j" ]; then
                                run_mutation "$j" "$f"
                        fi
                        i=$((i + 1))
                done
        ) &
        jobs_pids+=($!)
done
for p in "${jobs_pids[@]}"; do
        wait "$p"
done
jobs_pids=()

total=${#mutations[@]}
killed=0
survived=0
stale_n=0
for f in "${mutations[@]}"; do
        case $(cat "$scratch/results/$(basename "$f" .mut)" 2>/dev/null || echo MISSING) in
        KILLED|BUILD-KILLED) killed=$((killed + 1)) ;;
        STALE) stale_n=$((stale_n + 1)) ;;
        *) survived=$((survived + 1)) ;;
        esac
done
echo "$total mutations, $killed killed ($survived survived, $stale_n stale; $(($(date +%s) - start)) s)"
[ "$killed" -eq "$total" ]
