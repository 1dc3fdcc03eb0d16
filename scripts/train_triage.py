#!/usr/bin/env python3
"""Trains the emergency check's second opinion (src/core/triage/model.rs) and writes its weights.

The phrasings in src/core/triage/lang/ recognise the red flags as clinicians name them; people
also describe emergencies in words no list foresees. This model reads a message as a bag of
its words, word pairs and the 3- to 5-letter pieces of its words (so misspellings, inflections
and unseen compounds still share pieces with known ones), and gives the probability that it
describes an emergency now. It is trained on the emergencies and near misses our blind writers
wrote (eval/safety_tune_*.jsonl and the shared dev set) and on ordinary questions about the
guide (never emergencies). The bot raises an alarm when the phrasings do, or when this
probability reaches the threshold written with the weights.

Features, exactly as model.rs computes them: the text normalised as the phrasings see it
(lower case, no accents, apostrophes inside words dropped, anything else not a letter or digit
a space, a decimal point between digits kept), split into words; each distinct feature counts
1 + ln(count); the vector is scaled to length 1. The probability is the logistic function of
the bias plus the weighted sum.

Writes src/core/triage/model.tsv (threshold, bias, then one feature and weight per line;
weights below --prune are left out) and src/core/triage/model_check.tsv (sentences with the
probability this script computes, which a unit test compares with model.rs).

Needs numpy, scipy and scikit-learn (`pip install scikit-learn`); a dev tool, not shipped.

  scripts/train_triage.py                       # train and write
  scripts/train_triage.py --eval eval/safety_F.jsonl   # also print recall / false alarms
"""
import argparse
import collections
import json
import math
import os
import unicodedata

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "eval")
TRAIN = [os.path.join(ROOT, "eval", f"safety_tune_{s}.jsonl") for s in ("a", "b", "c", "e", "s1")] + [
    os.path.join(ROOT, "eval", f"safety_train_t{n}.jsonl") for n in (1, 2, 3)] + [
    os.path.join(SHARED, "safety_dev.jsonl")]
# questions about the guide: what most messages are, and never emergencies
ORDINARY = [os.path.join(ROOT, "eval", f) for f in (
    "questions_A.jsonl", "questions_B.jsonl", "questions_D.jsonl", "questions_E.jsonl",
    "questions_G.jsonl", "questions_H.jsonl", "questions_I.jsonl", "questions_J.jsonl",
    "offtopic_calibration.jsonl", "keywords_calibration.jsonl")] + [os.path.join(SHARED, "dev.jsonl")]
# the guides' own sentences and questions: the words of treatment failure ("not responding",
# "progression") are the bot's subject, not an emergency
GUIDES = [os.path.join(ROOT, "faq", f) for f in sorted(os.listdir(os.path.join(ROOT, "faq")))
          if f.endswith(".md") and f != "README.md"]
APOSTROPHES = "'\u2019\u2018`\u00b4\u02bc"
MAX_INPUT_CHARS = 4096


def normalize(text):
    """phrase::normalize in src/core/triage/phrase.rs, without the padding spaces."""
    chars = []
    for c in text[:MAX_INPUT_CHARS]:
        for d in unicodedata.normalize("NFD", c.lower()):
            if unicodedata.category(d) in ("Mn", "Mc", "Me"):
                continue
            chars.append({"ı": "i", "ё": "е"}.get(d, d))
    out = [" "]
    for i, c in enumerate(chars):
        prev = chars[i - 1] if i > 0 else None
        nxt = chars[i + 1] if i + 1 < len(chars) else None
        if c.isalnum():
            out.append(c)
        elif c in APOSTROPHES and prev is not None and prev.isalnum():
            pass
        elif c in ".," and prev is not None and prev.isascii() and prev.isdigit() \
                and nxt is not None and nxt.isascii() and nxt.isdigit():
            out.append(".")
        elif out[-1] != " ":
            out.append(" ")
    return "".join(out).strip()


def features(text, pieces=True):
    """Words, word pairs and (with `pieces`) pieces of words: src/core/features.rs."""
    words = normalize(text).split()
    counts = collections.Counter()
    for w in words:
        counts["w " + w] += 1
    for a, b in zip(words, words[1:]):
        counts["b " + a + " " + b] += 1
    for w in words if pieces else []:
        padded = " " + w + " "
        for n in (3, 4, 5):
            for i in range(len(padded) - n + 1):
                counts["c " + padded[i:i + n]] += 1
    return counts


def vector(text, pieces=True):
    values = {k: 1.0 + math.log(v) for k, v in features(text, pieces).items()}
    length = math.sqrt(sum(x * x for x in values.values())) or 1.0
    return {k: x / length for k, x in values.items()}


def load(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def guide_sentences():
    """The sentences (and ask: lines) of the guides, front matter and markup left out."""
    import re
    out = []
    for path in GUIDES:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        text = re.sub(r"(?s)^---.*?---", " ", text)
        text = re.sub(r"<!--.*?-->", " ", text, flags=re.S)
        for line in text.splitlines():
            line = re.sub(r"^(ask|keywords|id|title):", " ", line.strip())
            for s in re.split(r"(?<=[.?!])\s+", line):
                if len(s.split()) >= 4:
                    out.append(s)
    return out


def matrix(texts, vocab, grow, pieces=True):
    from scipy.sparse import csr_matrix
    data, cols, rows = [], [], [0]
    for t in texts:
        for k, x in vector(t, pieces).items():
            if k not in vocab:
                if not grow:
                    continue
                vocab[k] = len(vocab)
            cols.append(vocab[k])
            data.append(x)
        rows.append(len(cols))
    return csr_matrix((data, cols, rows), shape=(len(texts), len(vocab)))


def probability(weights, bias, text):
    z = bias + sum(weights.get(k, 0.0) * x for k, x in vector(text).items())
    return 1.0 / (1.0 + math.exp(-z))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--c", type=float, default=30.0, help="inverse regularisation strength")
    ap.add_argument("--threshold", type=float, default=0.75)
    # 0.17 keeps under 28,672 pieces of words: the look-up table's 32,768 slots rather than
    # 65,536 (0.75 MiB of the bot's memory), with the same recall and false alarms on the
    # held-out sets as 0.1 (BENCHMARKS.md)
    ap.add_argument("--prune", type=float, default=0.17)
    ap.add_argument("--eval", nargs="*", default=[])
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    from sklearn.linear_model import LogisticRegression

    labelled = [r for p in TRAIN for r in load(p)]
    ordinary = [r for p in ORDINARY for r in load(p) if r.get("type") != "emergency"]
    ordinary += [{"q": s} for s in guide_sentences()]
    texts = [r["q"] for r in labelled] + [r["q"] for r in ordinary]
    y = [r["type"] == "emergency" for r in labelled] + [False] * len(ordinary)
    vocab = {}
    x = matrix(texts, vocab, True)
    model = LogisticRegression(C=a.c, max_iter=5000, class_weight="balanced").fit(x, y)
    names = sorted(vocab, key=vocab.get)
    weights = {n: float(w) for n, w in zip(names, model.coef_[0]) if abs(w) >= a.prune}
    bias = float(model.intercept_[0])
    print(f"trained on {sum(y)} emergencies, {len(y) - sum(y)} other messages; "
          f"{len(weights)} of {len(vocab)} features kept")

    for path in a.eval:
        rows = load(path)
        em = [probability(weights, bias, r["q"]) >= a.threshold for r in rows if r["type"] == "emergency"]
        ne = [probability(weights, bias, r["q"]) >= a.threshold for r in rows if r["type"] != "emergency"]
        print(f"{os.path.basename(path)}: model alone recall {sum(em)}/{len(em)}, "
              f"false alarms {sum(ne)}/{len(ne)}")

    if a.no_write:
        return
    out = os.path.join(ROOT, "src", "core", "triage")
    with open(os.path.join(out, "model.tsv"), "w", encoding="utf-8") as f:
        f.write("# written by scripts/train_triage.py: do not edit\n")
        f.write(f"threshold\t{a.threshold}\nbias\t{bias:.6f}\n")
        for n in sorted(weights):
            f.write(f"{n}\t{weights[n]:.4f}\n")
    # sentences in several scripts, with the probability model.rs must reproduce
    check = [r["q"] for r in labelled[::37]][:40] + [
        "Mum's temp is 38,5 — she had chemo on Tuesday!!", "ПАПА НЕ ДЫШИТ", "İSTANBUL'da ateş 39",
        "我爸爸发烧39度", "ما يقدر يتنفس", "", "   ...   ", "café naïve coöperate"]
    written = {n: round(w, 4) for n, w in weights.items()}
    with open(os.path.join(out, "model_check.tsv"), "w", encoding="utf-8") as f:
        f.write("# written by scripts/train_triage.py: a message and its probability\n")
        for t in check:
            t = t.replace("\t", " ").replace("\n", " ")
            f.write(f"{probability(written, round(bias, 6), t):.6f}\t{t}\n")


if __name__ == "__main__":
    main()
