#!/usr/bin/env bash
# The README's two commands on fresh clones of one or more revisions: `cargo build --release`
# (what `cargo run --release` builds), then the test build of `.ci/run`
# (`cargo test --release --workspace --locked --no-run`); prints each step's wall time and the
# crates the second step compiles. Usage: engine/bench/two_commands_build.sh REV [REV ...]
set -u
repo=$(git rev-parse --show-toplevel)
for rev in "$@"; do
    d=$(mktemp -d)
    git clone -q "$repo" "$d/src" && git -C "$d/src" checkout -q "$rev" || exit 1
    cd "$d/src" || exit 1
    s=$(date +%s.%N); cargo build --release >"$d/build.log" 2>&1; e=$(date +%s.%N)
    echo "$rev first: $(echo "$e - $s" | bc) s, $(grep -c Compiling "$d/build.log") crates"
    s=$(date +%s.%N); cargo test --release --workspace --locked --no-run >"$d/test.log" 2>&1; e=$(date +%s.%N)
    echo "$rev second: $(echo "$e - $s" | bc) s, $(grep -c Compiling "$d/test.log") crates:" \
        "$(grep Compiling "$d/test.log" | awk '{print $2}' | tr '\n' ' ')"
    cd "$repo" && rm -rf "$d"
done
