#!/usr/bin/env bash
# Runs each fuzz target for a bounded time (default 600 s each): the content parser, the core's
# reply, and update handling. Needs cargo-fuzz (`cargo install cargo-fuzz`); on a stable
# toolchain RUSTC_BOOTSTRAP lets cargo-fuzz pass its coverage flags, and no sanitizer is used.
# A crash is saved under fuzz/artifacts/<target>/: fix it, then copy the input into
# fuzz/regressions/<target>/ so `cargo test` replays it for ever.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds="${1:-600}"
shift || true
targets=("${@:-content_parser core_reply update_handling}")
for target in ${targets[@]}; do
  echo "== fuzzing $target for ${seconds}s"
  RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none "$target" "corpus/$target" -- \
    -max_total_time="$seconds" -max_len=65536 -print_final_stats=1
done
