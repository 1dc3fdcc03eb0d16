#!/usr/bin/env bash
# Side by side: faqbot (`faqbot ask --json`) against the Python BM25 baseline of ../shared/eval,
# on the same question file in one run: questions per second (process start-up included, and a
# larger repeated batch for steady-state throughput), the ratio faqbot/baseline, and the quality
# tables of ../shared/eval/run_eval.py for both.
#
#   scripts/compare.sh                               # ../shared/eval/dev.jsonl
#   scripts/compare.sh tests/quality/holdout.jsonl   # another question set (.jsonl with "q")
#
# Environment (all optional):
#   COMPARE_SHARED    the shared folder (default: ../shared next to the repository)
#   COMPARE_REPEAT    how many times the questions are concatenated for the batch (default 20)
#   COMPARE_RUNS      timed runs per measurement, faqbot and baseline alternating; the median
#                     is reported (default 5)
#   BASELINE_PYTHON   a python that already has requirements-baseline.txt installed (skips the
#                     temporary venv and the pip install)
#
# Target: faqbot answers at least 10x the baseline's questions per second on the question set,
# one `ask --json` batch each with process start-up included (what run_eval.py's throughput line
# measures). The repeated batch and the figure without start-up are printed for the record.
set -euo pipefail

die() {
    echo "compare.sh: $*" >&2
    exit 1
}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

shared=${COMPARE_SHARED:-$root/../shared}
eval_dir=$shared/eval
if [[ ! -d $shared ]]; then
    die "the shared folder $shared is missing. It holds eval/ (run_eval.py, baseline_bm25.py,
requirements-baseline.txt, dev.jsonl) and sits next to the repository; set COMPARE_SHARED to
point elsewhere."
fi
for f in run_eval.py baseline_bm25.py baseline_common.py requirements-baseline.txt; do
    [[ -f $eval_dir/$f ]] || die "$eval_dir/$f is missing (is $shared the right shared folder?)"
done

set_file=${1:-$eval_dir/dev.jsonl}
[[ -f $set_file && -r $set_file ]] || die "question file $set_file not found or not readable"
set_file=$(cd "$(dirname "$set_file")" && pwd)/$(basename "$set_file")
repeat=${COMPARE_REPEAT:-20}
runs=${COMPARE_RUNS:-5}
[[ $repeat =~ ^[1-9][0-9]*$ ]] || die "COMPARE_REPEAT must be a positive integer"
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "COMPARE_RUNS must be a positive integer"
command -v python3 >/dev/null || die "python3 is needed"
command -v cargo >/dev/null || die "cargo is needed"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/faqbot-compare.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo "== building faqbot (cargo build --release)"
cargo build --release --quiet
target_dir=$(cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
faqbot=$target_dir/release/faqbot
[[ -x $faqbot ]] || die "$faqbot was not built"

# The index goes to a temporary folder: never the project's index/, which a running bot may use.
export FAQBOT_INDEX__DIR=$tmp/index
"$faqbot" index

if [[ -n ${BASELINE_PYTHON:-} ]]; then
    python=$BASELINE_PYTHON
    echo "== baseline python: $python (BASELINE_PYTHON)"
else
    echo "== creating a venv for the baseline in $tmp/venv"
    python3 -m venv "$tmp/venv" || die "python3 -m venv failed (on Debian/Ubuntu: apt-get install python3-venv)"
    "$tmp/venv/bin/pip" install --quiet --disable-pip-version-check \
        -r "$eval_dir/requirements-baseline.txt" ||
        die "pip install -r $eval_dir/requirements-baseline.txt failed"
    python=$tmp/venv/bin/python
fi
"$python" -c 'import bm25s, Stemmer, numpy' 2>/dev/null ||
    die "$python cannot import bm25s, Stemmer and numpy (see $eval_dir/requirements-baseline.txt)"

faqbot_cmd="$faqbot ask --json"
baseline_cmd="$python $eval_dir/baseline_bm25.py"

# The questions, one per line; the batch is the same questions concatenated $repeat times.
python3 - "$set_file" "$tmp/questions.txt" "$tmp/one.txt" <<'EOF'
import json, sys
qs = [json.loads(l)["q"] for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
if not qs:
    sys.exit(f"compare.sh: {sys.argv[1]} has no questions")
open(sys.argv[2], "w", encoding="utf-8").write("".join(q + "\n" for q in qs))
open(sys.argv[3], "w", encoding="utf-8").write(qs[0] + "\n")
EOF
for ((i = 0; i < repeat; i++)); do cat "$tmp/questions.txt"; done >"$tmp/batch.txt"
n=$(wc -l <"$tmp/questions.txt")
nb=$(wc -l <"$tmp/batch.txt")

# Median wall-clock seconds of faqbot and of the baseline on one input file: one untimed warm-up
# run of each (file caches), then $runs timed runs of each, alternating, so that load from other
# processes on the machine falls on both alike. Fails when a command fails or misses lines.
timed_pair() {
    python3 - "$faqbot_cmd" "$baseline_cmd" "$1" "$runs" <<'EOF'
import statistics, subprocess, sys, time
cmds, path, runs = sys.argv[1:3], sys.argv[3], int(sys.argv[4])
data = open(path, "rb").read()
want = data.count(b"\n")
def once(cmd):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, shell=True, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        sys.stderr.write(p.stderr.decode(errors="replace")[-2000:])
        sys.exit(f"compare.sh: `{cmd}` exited with status {p.returncode}")
    got = sum(1 for l in p.stdout.splitlines() if l.strip())
    if got != want:
        sys.exit(f"compare.sh: `{cmd}` printed {got} lines for {want} questions")
    return wall
for c in cmds:
    once(c)
times = [[], []]
for _ in range(runs):
    for i, c in enumerate(cmds):
        times[i].append(once(c))
print(" ".join(f"{statistics.median(t):.4f}" for t in times))
EOF
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a; }
echo "== timing: $n questions from $set_file; batch = $repeat x $n = $nb; median of $runs runs each,"
echo "   faqbot and baseline alternating (load average before: $(loadavg))"
pair=$(timed_pair "$tmp/one.txt")
read -r f_one b_one <<<"$pair"
pair=$(timed_pair "$tmp/questions.txt")
read -r f_set b_set <<<"$pair"
pair=$(timed_pair "$tmp/batch.txt")
read -r f_batch b_batch <<<"$pair"
echo "   (load average after: $(loadavg))"

python3 - "$n" "$nb" "$repeat" "$f_one" "$b_one" "$f_set" "$b_set" "$f_batch" "$b_batch" <<'EOF'
import sys
n, nb, rep = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
f1, b1, fs, bs, fb, bb = map(float, sys.argv[4:10])
def qps(k, s): return k / s if s > 0 else float("inf")
def steady(k, s, s1):  # batch throughput with one start-up taken out
    return (k - 1) / (s - s1) if s > s1 else float("nan")
rows = [
    ("start-up + 1 question (s)", f"{f1:.3f}", f"{b1:.3f}", f"{b1 / f1:.1f}x faster" if f1 > 0 else "-"),
    (f"q/s, one pass of {n} (start-up incl.)", f"{qps(n, fs):,.0f}", f"{qps(n, bs):,.0f}", f"{qps(n, fs) / qps(n, bs):.1f}"),
    (f"q/s, batch {rep} x {n} = {nb} (start-up incl.)", f"{qps(nb, fb):,.0f}", f"{qps(nb, bb):,.0f}", f"{qps(nb, fb) / qps(nb, bb):.1f}"),
    (f"q/s, batch without start-up", f"{steady(nb, fb, f1):,.0f}", f"{steady(nb, bb, b1):,.0f}",
     f"{steady(nb, fb, f1) / steady(nb, bb, b1):.1f}"),
]
print()
print("| measurement | faqbot | baseline | faqbot/baseline |")
print("|---|---:|---:|---:|")
for r in rows:
    print("| " + " | ".join(r) + " |")
ratio = qps(n, fs) / qps(n, bs)
verdict = "MET" if ratio >= 10 else "MISSED"
print()
print(f"target faqbot >= 10x the baseline's questions per second, on the question set as one "
      f"`ask --json` batch each, start-up included (as run_eval.py's throughput line): "
      f"{verdict} ({ratio:.1f}x)")
print(f"not a target, for the record: the set repeated {rep} times {qps(nb, fb) / qps(nb, bb):.1f}x, "
      f"without start-up {steady(nb, fb, f1) / steady(nb, bb, b1):.1f}x (per question faqbot does "
      f"more: intents, typo correction, synonyms, coverage, an excerpt)")
EOF

echo
echo "== quality: faqbot"
python3 "$eval_dir/run_eval.py" --set "$set_file" --cmd "$faqbot_cmd"
echo
echo "== quality: baseline (BM25)"
python3 "$eval_dir/run_eval.py" --set "$set_file" --cmd "$baseline_cmd"
