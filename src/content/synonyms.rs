//! `synonyms.txt`: query-side synonyms in the Solr format editors may already know.
//! `a, b, c` makes the terms equivalent; `a, b => x, y` makes a question with `a` or `b` also
//! search `x` and `y`. Terms may have several words; case and hyphens do not matter.

use rustc_hash::FxHashMap;

use crate::text::words;

/// Parsed synonym rules, keyed by the normalised words of the left-hand term.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Synonyms {
    rules: FxHashMap<String, Vec<String>>,
    max_words: usize,
}

/// A synonym rule that applies to part of a question.
#[derive(Debug, Clone, PartialEq)]
pub struct SynonymMatch<'a> {
    /// Index of the first word matched, and how many words.
    pub start: usize,
    pub len: usize,
    /// Terms to search as well; each may have several space-separated words.
    pub expansions: &'a [String],
}

impl Synonyms {
    /// Parses the file's text; errors are `(line, message)`.
    pub fn parse(text: &str) -> Result<Synonyms, Vec<(usize, String)>> {
        let mut syn = Synonyms::default();
        let mut errors = Vec::new();
        for (n, raw) in text.lines().enumerate() {
            let lineno = n + 1;
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let terms = |side: &str| -> Option<Vec<String>> {
                let ts: Vec<String> = side.split(',').map(|t| words(t).join(" ")).collect();
                (!ts.iter().any(String::is_empty)).then_some(ts)
            };
            let rule = match line.split_once("=>") {
                Some((lhs, rhs)) => terms(lhs).zip(terms(rhs)),
                None => terms(line).filter(|t| t.len() >= 2).map(|t| (t.clone(), t)),
            };
            match rule {
                Some((lhs, rhs)) => {
                    for l in &lhs {
                        for r in rhs.iter().filter(|r| *r != l) {
                            syn.add(l, r);
                        }
                    }
                }
                None => errors.push((
                    lineno,
                    "not a synonym rule: write at least two terms separated by commas (`keytruda, pembrolizumab`) or a one-way rule (`chemo => chemotherapy`)".into(),
                )),
            }
        }
        if errors.is_empty() {
            Ok(syn)
        } else {
            Err(errors)
        }
    }

    fn add(&mut self, from: &str, to: &str) {
        let list = self.rules.entry(from.to_string()).or_default();
        if !list.iter().any(|t| t == to) {
            list.push(to.to_string());
        }
        self.max_words = self.max_words.max(from.split(' ').count());
    }

    /// Number of left-hand terms with rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Every word that appears in a rule, for typo correction of brand names and abbreviations.
    pub fn vocabulary(&self) -> impl Iterator<Item = &str> {
        self.rules
            .iter()
            .flat_map(|(k, v)| std::iter::once(k).chain(v.iter()))
            .flat_map(|t| t.split(' '))
    }

    /// The rules that apply to `words`, longest match first, without overlaps.
    pub fn matches<'a>(&'a self, words: &[String]) -> Vec<SynonymMatch<'a>> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < words.len() {
            let longest = (1..=self.max_words.min(words.len() - i))
                .rev()
                .find_map(|len| {
                    let key = words[i..i + len].join(" ");
                    self.rules.get(&key).map(|exp| (len, exp))
                });
            match longest {
                Some((len, expansions)) => {
                    out.push(SynonymMatch {
                        start: i,
                        len,
                        expansions,
                    });
                    i += len;
                }
                None => i += 1,
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        words(s)
    }

    #[test]
    fn equivalence_and_one_way_rules() {
        let s = Synonyms::parse(
            "# brands\nKeytruda, pembrolizumab => PD-1 inhibitor, immunotherapy\ncar-t, car t cell, cart\n\nchemo=>chemotherapy # lay word\n",
        )
        .expect("valid");
        let m = s.matches(&w("keytruda stopped"));
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].expansions, ["pd 1 inhibitor", "immunotherapy"]);
        // one-way: the class does not expand to the brand
        assert!(s.matches(&w("immunotherapy")).is_empty());
        // equivalence, longest match wins
        let m = s.matches(&w("is car t cell ok"));
        assert_eq!((m[0].start, m[0].len), (1, 3));
        assert_eq!(m[0].expansions, ["car t", "cart"]);
        assert_eq!(s.matches(&w("CART"))[0].expansions, ["car t", "car t cell"]);
        assert!(s.vocabulary().any(|v| v == "pembrolizumab"));
    }

    #[test]
    fn errors_name_the_line() {
        let e = Synonyms::parse("ok, fine\nlonely\n, x\na =>\n").expect_err("invalid");
        let lines: Vec<usize> = e.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, vec![2, 3, 4]);
    }
}
