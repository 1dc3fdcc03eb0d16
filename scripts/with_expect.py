#!/usr/bin/env python3
"""Adds `expect_any` to the answerable items of a question set that name their passage by id
(`section`), so ../shared/eval/run_eval.py can score them.

A set written from the list of topics alone knows which passage answers each question, not the
passage's wording; run_eval.py recognises the right passage by a phrase of its text. This takes,
for each passage of faq/, up to two sentences that occur in no other passage (the longest, as
they are the least likely to be quoted elsewhere) and writes them as the item's `expect_any`.
Items that already have `expect_any`, or have no `section`, are copied unchanged.

Usage: scripts/with_expect.py [--faq faq] IN.jsonl > OUT.jsonl
"""
import argparse
import json
import re
import sys
import unicodedata
from pathlib import Path

META = re.compile(r"^(id|keywords|ask|link):")
_TRANS = str.maketrans({
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u2018": "'", "\u2019": "'",
    "\u2014": "-", "\u2013": "-", "\u2012": "-", "\u2212": "-", "\u00a0": " ",
})


def norm(s):
    """As run_eval.py compares: case-folded, quotes and dashes unified, whitespace collapsed."""
    s = unicodedata.normalize("NFKC", s).translate(_TRANS).casefold()
    return re.sub(r"\s+", " ", s).strip()


def passages(faq_dir):
    """{passage id: body text} of every guide in faq_dir, as the content parser reads them."""
    out = {}
    for path in sorted(Path(faq_dir).glob("*.md")):
        if path.name == "README.md":
            continue
        text = re.sub(r"<!--.*?-->", "", path.read_text(encoding="utf-8"), flags=re.S)
        lines = text.split("\n")
        if lines and lines[0].strip() == "---":  # front matter
            end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
            lines = lines[end + 1:]
        pid, body, in_meta = None, [], False
        for line in lines + ["## end"]:
            if line.startswith("## "):
                if pid:
                    out[pid] = "\n".join(body).strip()
                pid, body, in_meta = None, [], True
                continue
            if in_meta:
                m = META.match(line)
                if m:
                    if m.group(1) == "id":
                        pid = line.split(":", 1)[1].strip()
                    continue
                in_meta = False
            body.append(line)
    return out


def sentences(text):
    parts = re.split(r"(?<=[.!?:])\s+|\n+", text)
    return [p.strip().lstrip("- ").strip() for p in parts if len(p.strip()) >= 25]


def distinctive(bodies):
    """{passage id: up to two sentences found in no other passage}."""
    normed = {pid: norm(b) for pid, b in bodies.items()}
    out = {}
    for pid, body in bodies.items():
        unique = [s for s in sentences(body)
                  if not any(norm(s) in t for other, t in normed.items() if other != pid)]
        unique.sort(key=len, reverse=True)
        out[pid] = unique[:2]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--faq", default="faq", help="the content folder (default: faq)")
    ap.add_argument("set", help="question set (.jsonl)")
    args = ap.parse_args()
    phrases = distinctive(passages(args.faq))
    for n, line in enumerate(open(args.set, encoding="utf-8"), 1):
        if not line.strip():
            continue
        item = json.loads(line)
        section = item.get("section")
        if item.get("type") == "answerable" and section and not item.get("expect_any"):
            if not phrases.get(section):
                sys.exit(f"{args.set}:{n}: no passage {section!r} in {args.faq}")
            item["expect_any"] = phrases[section]
        print(json.dumps(item, ensure_ascii=False))


if __name__ == "__main__":
    main()
