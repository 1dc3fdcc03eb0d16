#!/usr/bin/env python3
"""Trains the question model (src/core/ranking/): which passage a caregiver's question is about,
learned from how people ask, and the answer confidence built on it.

The search ranks passages by the words they share with the question. Between sibling passages
on one subject (another immunotherapy vs. resistance vs. newer therapies) the shared words are
much the same, and what tells them apart is how people ask for each: "worth switching to
opdivo" is one passage, "why did it stop working" another. This model learns that from
questions written by people who never saw the guide, and from the guide's own `ask:` lines,
titles, keywords and sentences. The bot reorders the search's candidates by

    ln(score / best score) + LAMBDA * ln(probability + 0.0001)

and how sure it is of the first passage (its certainty) is a logistic model of the logarithm
of that passage's probability and of its lead over the second in that order. The certainty
decides between giving the answer and offering the first passages to choose from. Off-topic
questions are a class of the model's own, "(none)", and whether a question is about the guide
at all (its relevance) is a logistic model of the search's confidence (src/core/confidence.rs)
and the logarithm of that class's probability: under the threshold, "nothing found".

Features are the emergency model's (scripts/train_triage.py, src/core/features.rs) without the
pieces of words: the words and word pairs of the normalised text, each 1 + ln(count), scaled to
length 1. Each set predicted by a model trained without it, pieces gained nothing (mean hit@1
93.1% with them, 93.6% without) and cost most of the model's time and weights.

What it does:
1. the passages of faq/ and the labelled question sets (each answerable question names its
   passage by `section`, or its `expect_any` phrases are found in exactly one passage);
2. runs `faqbot ask --json` over the sets with the thresholds at 0, for each question's
   candidate passages with their scores and coverage, and the search's confidence;
3. for each set, a model trained on the guide and the other sets predicts it (so every
   probability used below comes from a model that never saw the question): the hit@1 of
   search alone and reordered, for each LAMBDA tried; the relevance's fit, with what
   suggesting at each threshold would let through; and the certainty's fit, with what
   answering at each threshold would give;
4. trains the model on everything, drops weights under --prune (they change no ranking
   measured, and make the file and the bot's memory several times smaller), and writes
   model.tsv, with LAMBDA and the certainty's and relevance's weights, and model_check.tsv (probabilities that
   src/core/ranking must reproduce).

Only sets that are not held out belong here: eval/questions_C.jsonl, questions_F.jsonl and questions_K.jsonl are
measured, never trained on. Retrain after the content's passages change (`faqbot check` names passages the model does
not know) or the question sets grow.

  scripts/train_ranker.py --cmd "target/release/faqbot ask --json"
"""
import argparse
import json
import math
import os
import re
import shlex
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_triage  # noqa: E402  the features, exactly as the emergency model computes them
from with_expect import norm  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "eval")
OUT = os.path.join(ROOT, "src", "core", "ranking")
# labelled sets trained on; C, F and K (eval/questions_C.jsonl, questions_F.jsonl, questions_K.jsonl) are held out
SETS = [os.path.join(SHARED, "dev.jsonl")] + [
    os.path.join(ROOT, "eval", f"questions_{s}.jsonl") for s in "ABDEGHIJLM"]
OFF_TOPIC = [os.path.join(ROOT, "eval", "offtopic_calibration.jsonl")]
FLOOR = 1e-4
# pieces of words as features (see above)
PIECES = False
# the lead of a passage found alone
LONE_LEAD = 10.0
MIN_SCORE = 1e-3
LAMBDAS = [0.3, 0.5, 0.7, 1.0, 1.5]
CERTAINTY = ["log_probability", "lead"]
RELEVANCE = ["confidence", "none"]
# the class of questions about no passage: the off-topic questions of the sets
NONE = "(none)"
# the relevance under which a question is about nothing in the guide (config.toml's
# search.suggest_confidence, chosen from this script's table): "nothing found"
RELATED = 0.55


def passages():
    """{id: {title, ask, keywords, body}} of every passage in faq/, as the content parser reads
    them (a `##` heading, then id:/ask:/keywords:/link: lines, then the text)."""
    out = {}
    faq = os.path.join(ROOT, "faq")
    for name in sorted(os.listdir(faq)):
        if not name.endswith(".md") or name == "README.md":
            continue
        with open(os.path.join(faq, name), encoding="utf-8") as f:
            text = re.sub(r"<!--.*?-->", "", f.read(), flags=re.S)
        text = re.sub(r"(?s)^---\n.*?\n---\n", "", text)
        cur = None
        for line in text.split("\n") + ["## end"]:
            if line.startswith("## "):
                if cur and cur["id"]:
                    out[cur["id"]] = cur
                cur = {"title": line[3:].strip(), "id": None, "ask": [], "keywords": [],
                       "body": [], "meta": True}
                continue
            if cur is None:
                continue
            m = re.match(r"^(id|keywords|ask|link):(.*)", line) if cur["meta"] else None
            if m:
                key, value = m.group(1), m.group(2).strip()
                if key == "id":
                    cur["id"] = value
                elif key == "ask":
                    cur["ask"].append(value)
                elif key == "keywords":
                    cur["keywords"] += [k.strip() for k in value.split(",") if k.strip()]
                continue
            cur["meta"] = False
            cur["body"].append(line)
    for p in out.values():
        p["body"] = "\n".join(p["body"]).strip()
    return out


def guide_examples(ps):
    """The guide's own words for each passage: ask: lines, title, keywords, sentences."""
    x, y = [], []
    for pid, p in ps.items():
        for t in p["ask"] + [p["title"]] + p["keywords"]:
            x.append(t)
            y.append(pid)
        for s in re.split(r"(?<=[.!?])\s+|\n", p["body"]):
            if len(s.split()) >= 4:
                x.append(s)
                y.append(pid)
    return x, y


def label(item, ps):
    """The passage an answerable question is about (NONE for an off-topic one), or None when it
    cannot be told."""
    if item["type"] == "off_topic":
        return NONE
    # the passage the evaluation counts as right: the shared dev set names sections of another
    # split of the article, which are not always ours
    found = sorted(right(item, ps))
    if len(found) == 1:
        return found[0]
    return item["section"] if item.get("section") in ps else None


def right(item, ps):
    """Every passage run_eval.py would count as right for the question."""
    phrases = [norm(x) for x in item.get("expect_any", [])]
    return {pid for pid, p in ps.items() if any(x in norm(p["body"]) for x in phrases)}


def search(cmd, questions):
    env = dict(os.environ, FAQBOT_SEARCH__ANSWER_CERTAINTY="0",
               FAQBOT_SEARCH__SUGGEST_CONFIDENCE="0")
    proc = subprocess.run(shlex.split(cmd), input="".join(q + "\n" for q in questions).encode(),
                          stdout=subprocess.PIPE, env=env, cwd=ROOT, check=True)
    rows = [json.loads(line) for line in proc.stdout.decode().splitlines() if line.strip()]
    if len(rows) != len(questions):
        sys.exit(f"{cmd}: {len(rows)} replies to {len(questions)} questions")
    return rows


def fit(x_texts, labels, c):
    from sklearn.linear_model import LogisticRegression
    vocab = {}
    m = train_triage.matrix(x_texts, vocab, True, PIECES)
    model = LogisticRegression(C=c, max_iter=5000).fit(m, labels)
    return model, vocab


def probabilities(model, vocab, texts):
    """{passage id: probability} for each text."""
    p = model.predict_proba(train_triage.matrix(texts, vocab, False, PIECES))
    return [dict(zip(model.classes_, row)) for row in p]


def reorder(cands, probs, lam, known):
    """The candidates in the bot's order, each with its ranking value."""
    if not cands:
        return []
    top = max(c["score"] for c in cands)
    unknown = 1.0 / max(known, 1)

    def value(c):
        p = probs.get(c["id"], unknown)
        return math.log(max(c["score"], MIN_SCORE) / max(top, MIN_SCORE)) + lam * math.log(p + FLOOR)
    return sorted(((value(c), c) for c in cands), key=lambda vc: -vc[0])


def certainty_features(ranked, probs, known):
    """The first passage's probability and its lead over the second in the bot's order."""
    (v1, best) = ranked[0]
    v2 = ranked[1][0] if len(ranked) > 1 else v1 - LONE_LEAD
    p = probs.get(best["id"], 1.0 / max(known, 1))
    return [math.log(p + FLOOR), math.log1p(v1 - v2)]


def relevance_features(row):
    """The search's confidence (as a logit) and the logarithm of the model's probability that
    the question is about no passage."""
    c = min(max(row["search"], FLOOR), 1.0 - FLOOR)
    return [math.log(c / (1.0 - c)), math.log(row["none"] + FLOOR)]


def logistic_fit(rows, ys, balanced=False):
    """Weights of a logistic regression on standardised features, as raw-feature weights."""
    from sklearn.linear_model import LogisticRegression
    import numpy as np
    x = np.array(rows)
    mean, std = x.mean(0), x.std(0) + 1e-9
    m = LogisticRegression(C=1.0, max_iter=5000, class_weight="balanced" if balanced else None)
    m = m.fit((x - mean) / std, ys)
    w = m.coef_[0] / std
    return float(m.intercept_[0] - (m.coef_[0] * mean / std).sum()), [float(v) for v in w]


def logistic(bias, weights, f):
    z = bias + sum(w * v for w, v in zip(weights, f))
    return 1.0 / (1.0 + math.exp(-z))


def table(bias, weights, rows):
    """What the sets would get when answering at each certainty, suggesting below it, and
    saying "nothing found" below RELATED."""
    ans = [r for r in rows if r["kind"] == "answerable"]
    off = [r for r in rows if r["kind"] == "off_topic"]
    print(f"  off-topic questions offered passages (search confidence >= {RELATED}): "
          f"{sum(r['related'] >= RELATED for r in off)}/{len(off)}")
    print("  answer at  answered  answered@1  precision  helped")
    for t in [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9]:
        sure = [r["related"] >= RELATED and logistic(bias, weights, r["f"]) >= t for r in ans]
        given = [r for r, s in zip(ans, sure) if s]
        ok = sum(r["right1"] for r in given)
        helped = sum((s and r["right1"]) or (not s and r["related"] >= RELATED and r["right3"])
                     for r, s in zip(ans, sure))
        precision = ok / max(len(given), 1)
        print(f"  {t:8.2f}  {len(given) / len(ans):8.1%}  {ok / len(ans):9.1%}  "
              f"{precision:9.1%}  {helped / len(ans):6.1%}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cmd", default="target/release/faqbot ask --json")
    ap.add_argument("--c", type=float, default=30.0, help="inverse regularisation strength")
    # 0.3: 26,880 of 37,222 weights at 0.2, the same held-out figures (C, F, K) and 0.3 MiB
    # less of the bot's peak memory (BENCHMARKS.md)
    ap.add_argument("--prune", type=float, default=0.3, help="drop weights smaller than this")
    ap.add_argument("--lambda", dest="lam", type=float, help="keep this LAMBDA instead of choosing")
    ap.add_argument("--dry-run", action="store_true", help="report, write nothing")
    a = ap.parse_args()

    ps = passages()
    gx, gy = guide_examples(ps)
    items = []  # (set name, item)
    for path in SETS + OFF_TOPIC:
        name = os.path.basename(path)
        for it in train_triage.load(path):
            if it["type"] in ("answerable", "off_topic"):
                items.append((name, it))
    replies = search(a.cmd, [it["q"] for _, it in items])
    known = len(ps)

    # every question's probabilities from a model that did not see it
    oof = [None] * len(items)
    for path in SETS + OFF_TOPIC:
        held = os.path.basename(path)
        x, y = list(gx), list(gy)
        for name, it in items:
            lab = label(it, ps)
            if lab and name != held:
                x.append(it["q"])
                y.append(lab)
        model, vocab = fit(x, y, a.c)
        todo = [i for i, (name, it) in enumerate(items) if name == held]
        for i, p in zip(todo, probabilities(model, vocab, [items[i][1]["q"] for i in todo])):
            oof[i] = p

    def rows_for(lam):
        rows = []
        for (name, it), reply, probs in zip(items, replies, oof):
            if reply.get("confidence") is None or not reply.get("passages"):
                continue  # answered before the search: smalltalk, a handoff, another language
            cands = [{"id": p["id"], "score": p["score"], "coverage": p["coverage"]}
                     for p in reply["passages"]]
            ranked = reorder(cands, probs, lam, known)
            ok = right(it, ps) if it["type"] == "answerable" else set()
            rows.append({
                "set": name, "kind": it["type"],
                # the search's own first (the bot's JSON is already in the model's order)
                "search1": max(cands, key=lambda c: c["score"])["id"] in ok,
                "right1": ranked[0][1]["id"] in ok,
                "right3": any(c["id"] in ok for _, c in ranked[:3]),
                "f": certainty_features(ranked, probs, known),
                "search": reply["confidence"],
                "none": probs.get(NONE, 0.0),
            })
        return rows

    print("hit@1 of the answerable questions, each set predicted by a model that never saw it")
    print("  lambda  " + "  ".join(f"{os.path.basename(s)[:14]:>14}" for s in SETS))
    best = None
    for lam in ([a.lam] if a.lam is not None else LAMBDAS):
        rows = rows_for(lam)
        per = []
        for s in SETS:
            r = [x for x in rows if x["set"] == os.path.basename(s) and x["kind"] == "answerable"]
            per.append((sum(x["search1"] for x in r) / len(r), sum(x["right1"] for x in r) / len(r)))
        mean = sum(p[1] for p in per) / len(per)
        print(f"  {lam:6.2f}  " + "  ".join(f"{p[0]:6.1%}->{p[1]:6.1%}" for p in per) + f"   mean {mean:.1%}")
        if best is None or mean > best[0] + 1e-9:
            best = (mean, lam, rows)
    _, lam, rows = best
    print(f"LAMBDA {lam}")

    rbias, rweights = logistic_fit([relevance_features(r) for r in rows],
                                   [int(r["kind"] == "answerable") for r in rows], balanced=True)
    print("relevance: bias %.3f, %s" % (rbias, ", ".join(f"{n} {w:.3f}" for n, w in zip(RELEVANCE, rweights))))
    for r in rows:
        r["related"] = logistic(rbias, rweights, relevance_features(r))
    off = sorted((r["related"] for r in rows if r["kind"] == "off_topic"), reverse=True)
    ans = [r for r in rows if r["kind"] == "answerable"]
    print(f"  the most relevant off-topic questions: {', '.join(f'{v:.3f}' for v in off[:4])}")
    for t in (0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75):
        print(f"  suggest at {t:.2f}: off-topic offered passages {sum(v >= t for v in off)}/{len(off)}, "
              f"answerable {sum(r['related'] >= t for r in ans)}/{len(ans)} "
              f"(the search's confidence alone: {sum(r['search'] >= t for r in ans)}, "
              f"off-topic {sum(r['search'] >= t for r in rows if r['kind'] == 'off_topic')})")
    related = [r for r in rows if r["related"] >= RELATED]
    fit_rows = [r for r in related if r["kind"] == "answerable"]
    cbias, cweights = logistic_fit([r["f"] for r in fit_rows], [int(r["right1"]) for r in fit_rows])
    print("certainty: bias %.3f, %s" % (cbias, ", ".join(f"{n} {w:.3f}" for n, w in zip(CERTAINTY, cweights))))
    table(cbias, cweights, rows)
    print("config.toml's search.answer_certainty is chosen from this table (README, \"Answer quality\")")

    x, y = list(gx), list(gy)
    for _, it in items:
        lab = label(it, ps)
        if lab:
            x.append(it["q"])
            y.append(lab)
    model, vocab = fit(x, y, a.c)
    import numpy as np
    coef = model.coef_.copy()
    coef[np.abs(coef) < a.prune] = 0.0
    model.coef_ = coef
    kept = int((coef != 0).sum())
    print(f"model: {len(model.classes_)} passages, {len(x)} examples, {kept} weights kept of {coef.size}")
    if a.dry_run:
        return
    os.makedirs(OUT, exist_ok=True)
    features = sorted(vocab, key=vocab.get)
    with open(os.path.join(OUT, "model.tsv"), "w", encoding="utf-8") as f:
        f.write("# written by scripts/train_ranker.py: do not edit\n")
        f.write(f"# {len(x)} examples: the guide's ask lines, titles, keywords and sentences, and "
                f"the answerable and off-topic questions of "
                f"{', '.join(os.path.basename(s) for s in SETS + OFF_TOPIC)}\n")
        f.write(f"lambda\t{lam:.3f}\n")
        f.write(f"certainty bias\t{cbias:.4f}\n")
        for n, w in zip(CERTAINTY, cweights):
            f.write(f"certainty {n}\t{w:.4f}\n")
        f.write(f"relevance bias\t{rbias:.4f}\n")
        for n, w in zip(RELEVANCE, rweights):
            f.write(f"relevance {n}\t{w:.4f}\n")
        # the passages, numbered in this order, then each feature's passage:weight pairs
        for cls, b in zip(model.classes_, model.intercept_):
            f.write(f"bias {cls}\t{b:.4f}\n")
        for j, feat in enumerate(features):
            pairs = [f"{k}:{coef[k, j]:.4g}" for k in range(len(model.classes_)) if coef[k, j] != 0.0]
            if pairs:
                f.write(f"{feat}\t{' '.join(pairs)}\n")
    texts = [it["q"] for _, it in items[::20]] + gx[::40]
    with open(os.path.join(OUT, "model_check.tsv"), "w", encoding="utf-8") as f:
        f.write("# written by scripts/train_ranker.py: probability of the passage, passage, text\n")
        for t, p in zip(texts, probabilities(model, vocab, texts)):
            cls = max(p, key=p.get)
            f.write(f"{p[cls]:.5f}\t{cls}\t{t}\n")
    print(f"wrote {OUT}/model.tsv and model_check.tsv")


if __name__ == "__main__":
    main()
