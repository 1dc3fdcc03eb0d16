#!/usr/bin/env python3
"""Fits and checks the answer confidence (src/core/confidence.rs) on labelled question sets.

The confidence is a logistic model of three measures of the best passage: its coverage of the
question, its lead over the second passage (ln(1 + best - second) of the ranking scores) and
the logarithm of its score. This script

1. runs `faqbot ask --json` over the sets with both confidence thresholds at 0, so every
   searched question gets its passages and its confidence;
2. labels each question: an answerable one is right when its first passage contains one of its
   `expect_any` phrases (as ../shared/eval/run_eval.py decides), an off-topic one is never right;
3. with --fit, fits the model's weights (logistic regression, standardised features, a little L2)
   and prints them as confidence.rs writes them;
4. prints, for a range of thresholds, what answering (confidence >= threshold) and suggesting
   would give on these sets: coverage and precision of the answers, questions helped, and
   off-topic questions that would get a passage. With --weights, it scores with those weights
   instead of the binary's confidence (to see a fit before building it in).

Only the standard library is used.

  scripts/calibrate.py --cmd "target/release/faqbot ask --json" --fit eval/questions_A.jsonl tests/quality/holdout.jsonl
  scripts/calibrate.py --cmd "target/release/faqbot ask --json" eval/questions_A.jsonl
  scripts/calibrate.py --fit --fit-on eval/questions_A.jsonl eval/questions_A.jsonl eval/questions_B.jsonl   # fit on A, read B
"""
import argparse
import json
import math
import os
import re
import subprocess
import sys
import unicodedata

_TRANS = str.maketrans({
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2018": "'", "\u2019": "'",
    "\u2014": "-", "\u2013": "-", "\u2012": "-", "\u2212": "-", "\u00a0": " ",
})
FEATURES = ["coverage", "lead", "log_score"]


def norm(s):
    s = unicodedata.normalize("NFKC", s or "").translate(_TRANS).casefold()
    return re.sub(r"\s+", " ", s).strip()


def load(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def run(cmd, items):
    env = dict(os.environ, FAQBOT_SEARCH__ANSWER_CERTAINTY="0", FAQBOT_SEARCH__SUGGEST_CONFIDENCE="0")
    data = "".join(it["q"] + "\n" for it in items).encode("utf-8")
    out = subprocess.run(cmd, shell=True, input=data, env=env, capture_output=True, check=True)
    return [json.loads(line) for line in out.stdout.decode("utf-8").splitlines() if line.strip()]


def features(passages):
    best = passages[0]
    score = max(best["score"], 1e-3)
    second = max(passages[1]["score"], 0.0) if len(passages) > 1 else 0.0
    lead = math.log1p(score - min(second, score))
    return [best["coverage"], lead, math.log(score)]


def rows(cmd, paths):
    """(set name, features, right first, right among the first three, type, confidence) for
    every searched answerable and off-topic question."""
    out = []
    for path in paths:
        items = load(path)
        replies = run(cmd, items)
        if len(replies) != len(items):
            sys.exit(f"{path}: {len(items)} questions but {len(replies)} replies")
        for it, rep in zip(items, replies):
            if it["type"] not in ("answerable", "off_topic"):
                continue
            passages = rep.get("passages") or []
            if rep["outcome"] not in ("answer", "suggest", "no_match"):
                continue  # smalltalk, handoff, ...: decided before any search
            phrases = [norm(p) for p in it.get("expect_any") or []]
            ranks = [i for i, p in enumerate(passages[:3]) if any(x in norm(p["text"]) for x in phrases)]
            right1 = it["type"] == "answerable" and ranks[:1] == [0]
            right3 = it["type"] == "answerable" and bool(ranks)
            feats = features(passages) if passages else None
            out.append((os.path.basename(path), feats, right1, right3, it["type"], rep.get("confidence", 0.0)))
    return out


def sigmoid(z):
    return 1 / (1 + math.exp(-max(min(z, 50), -50)))


def fit(data, l2=0.01, steps=4000, rate=0.5):
    xs = [f for _, f, *_ in data if f]
    ys = [1.0 if r1 else 0.0 for _, f, r1, *_ in data if f]
    d = len(xs[0])
    mu = [sum(x[i] for x in xs) / len(xs) for i in range(d)]
    sd = [max(1e-6, (sum((x[i] - mu[i]) ** 2 for x in xs) / len(xs)) ** 0.5) for i in range(d)]
    zs = [[(x[i] - mu[i]) / sd[i] for i in range(d)] for x in xs]
    w = [0.0] * (d + 1)
    for _ in range(steps):
        g = [0.0] * (d + 1)
        for z, y in zip(zs, ys):
            err = sigmoid(w[0] + sum(a * b for a, b in zip(w[1:], z))) - y
            g[0] += err
            for i in range(d):
                g[i + 1] += err * z[i]
        for i in range(d + 1):
            w[i] -= rate * (g[i] / len(zs) + (l2 * w[i] if i else 0.0))
    bias = w[0] - sum(w[i + 1] * mu[i] / sd[i] for i in range(d))
    return [bias] + [w[i + 1] / sd[i] for i in range(d)]


def auc(pos, neg):
    if not pos or not neg:
        return float("nan")
    wins = sum(1.0 if p > q else 0.5 if p == q else 0.0 for p in pos for q in neg)
    return wins / (len(pos) * len(neg))


def table(data, score, answer=None):
    ans = [r for r in data if r[4] == "answerable"]
    off = [r for r in data if r[4] == "off_topic"]
    if not ans:
        print("off-topic questions at or above each threshold (of", len(off), "that were searched):")
        print("  " + "  ".join(f"{t / 20:.2f}:{sum(score(r) >= t / 20 for r in off)}" for t in range(1, 20)))
        print(f"off-topic confidences: highest {max(score(r) for r in off):.3f}")
        return
    print(f"{'threshold':>9}  {'answered':>8}  {'precision':>9}  {'answered@1':>10}  "
          f"{'helped if rest suggested':>24}  {'off-topic above':>15}")
    for t in [x / 20 for x in range(1, 20)]:
        given = [r for r in ans if score(r) >= t]
        right = sum(r[2] for r in given)
        helped = right + sum(r[3] for r in ans if score(r) < t)
        prec = right / len(given) if given else float("nan")
        print(f"{t:9.2f}  {len(given) / len(ans):8.3f}  {prec:9.3f}  {right / len(ans):10.3f}  "
              f"{helped / len(ans):24.3f}  {sum(score(r) >= t for r in off):8d} of {len(off)}")
    if answer is not None:
        print(f"with answers at {answer:.2f} or above, suggestions at each lower threshold:")
        print(f"{'suggest':>9}  {'helped':>6}  {'no_match':>8}  {'off-topic suggested':>19}")
        for t in [x / 20 for x in range(1, 20) if x / 20 < answer]:
            helped = sum(r[2] if score(r) >= answer else r[3] and score(r) >= t for r in ans)
            nomatch = sum(score(r) < t for r in ans)
            print(f"{t:9.2f}  {helped / len(ans):6.3f}  {nomatch / len(ans):8.3f}  "
                  f"{sum(t <= score(r) < answer for r in off):12d} of {len(off)}")
    print(f"AUC (right first passage vs wrong or off topic): "
          f"{auc([score(r) for r in data if r[2]], [score(r) for r in data if not r[2]]):.3f}")
    lows = sorted(score(r) for r in off)
    if lows:
        print(f"off-topic confidences: highest {lows[-1]:.3f}, median {lows[len(lows) // 2]:.3f}")
    miss3 = sorted(score(r) for r in ans if not r[3])
    if miss3:
        print(f"answerable without the right passage in the first three: {len(miss3)}, "
              f"confidences {', '.join(f'{x:.2f}' for x in miss3)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cmd", default="target/release/faqbot ask --json")
    ap.add_argument("--fit", action="store_true", help="fit the weights on these sets and print them")
    ap.add_argument("--weights", help="bias,coverage,lead,log_score to score with instead of the binary's")
    ap.add_argument("--answer", type=float, help="an answer threshold: also tabulate suggestion thresholds under it")
    ap.add_argument("--fit-on", action="append", default=[], metavar="SET",
                    help="with --fit: fit on these of the sets only (repeatable), and tabulate all: "
                         "fit on A and read B's table for a cross-validation")
    ap.add_argument("sets", nargs="+")
    args = ap.parse_args()
    data = [r for r in rows(args.cmd, args.sets) if r[1]]
    weights = None
    if args.fit:
        fit_on = [os.path.basename(p) for p in args.fit_on] or [os.path.basename(p) for p in args.sets]
        fitted = [r for r in data if r[0] in fit_on]
        weights = fit(fitted)
        names = ["BIAS"] + [f.upper() for f in FEATURES]
        print("fitted on", ", ".join(fit_on), f"({len(fitted)} questions):")
        for n, w in zip(names, weights):
            print(f"  const {n}: f32 = {w:.3f};")
    elif args.weights:
        weights = [float(x) for x in args.weights.split(",")]
    if weights:
        def score(r):
            return sigmoid(weights[0] + sum(a * b for a, b in zip(weights[1:], r[1])))
    else:
        def score(r):
            return r[5]
    for name in sorted({r[0] for r in data}):
        print(f"\n== {name}")
        table([r for r in data if r[0] == name], score, args.answer)
    if len(args.sets) > 1:
        print("\n== all together")
        table(data, score, args.answer)


if __name__ == "__main__":
    main()
