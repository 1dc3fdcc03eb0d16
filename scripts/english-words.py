#!/usr/bin/env python3
"""Regenerates src/search/english_words.txt from wordfreq (pip install wordfreq==3.1.1)."""
import re
from pathlib import Path

from wordfreq import top_n_list

HEADER = """# The 30,000 most frequent English words, from wordfreq 3.1 (https://github.com/rspeer/wordfreq),
# whose data is licensed CC BY-SA 4.0; this derived list is under the same licence.
# Used to tell real English words (never 'corrected', and a sign of an off-topic question when
# the guide does not use them) from typos and names. Regenerate with scripts/english-words.py.
"""

words, seen = [], set()
for w in top_n_list("en", 60000):
    w = w.replace("'", "").replace("\u2019", "")
    if re.fullmatch(r"[a-z]+", w) and w not in seen:
        seen.add(w)
        words.append(w)
    if len(words) >= 30000:
        break
out = Path(__file__).resolve().parent.parent / "src" / "search" / "english_words.txt"
out.write_text(HEADER + "\n".join(words) + "\n", encoding="utf-8")
print(f"{len(words)} words -> {out}")
