//! Query analysis: a caregiver's words become weighted concepts, each with the ways it may be
//! written in the guide (typo corrections and synonyms), and from those a tantivy query built in
//! code. User text never reaches tantivy's query language, so quotes, brackets, `field:value`
//! or `*` are ordinary words here and nothing a user types can nest or fail to parse.

use rustc_hash::{FxHashMap, FxHashSet};

use tantivy::query::{BooleanQuery, BoostQuery, DisjunctionMaxQuery, Occur, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::Term;

use super::{english, terms_of};
use crate::content::Synonyms;
use crate::text::{edit_distance, words};

/// At most this many words of a message are searched (its first third and last two thirds):
/// enough for any real question, and a bound on the work a 20,000-character message can cause.
pub const MAX_QUERY_WORDS: usize = 48;

/// How much a synonym counts compared with the word the user wrote.
const SYNONYM_BOOST: f32 = 0.8;

/// Words that say nothing about which passage is wanted: function words, question words,
/// people a caregiver mentions, and politeness.
const STOPWORDS: &[&str] = &[
    "a",
    "about",
    "after",
    "again",
    "all",
    "also",
    "am",
    "an",
    "and",
    "any",
    "anything",
    "are",
    "as",
    "at",
    "be",
    "been",
    "before",
    "being",
    "both",
    "but",
    "by",
    "can",
    "cant",
    "could",
    "couldnt",
    "did",
    "didnt",
    "do",
    "does",
    "doesnt",
    "doing",
    "dont",
    "each",
    "even",
    "ever",
    "for",
    "from",
    "get",
    "gets",
    "getting",
    "go",
    "going",
    "got",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "him",
    "his",
    "how",
    "i",
    "id",
    "if",
    "ill",
    "im",
    "in",
    "into",
    "is",
    "isnt",
    "it",
    "its",
    "ive",
    "just",
    "know",
    "let",
    "like",
    "lot",
    "me",
    "might",
    "mine",
    "more",
    "most",
    "much",
    "must",
    "my",
    "myself",
    "now",
    "of",
    "off",
    "on",
    "one",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "out",
    "own",
    "please",
    "pls",
    "plz",
    "really",
    "same",
    "she",
    "should",
    "shouldnt",
    "so",
    "some",
    "still",
    "such",
    "tell",
    "than",
    "that",
    "thats",
    "the",
    "their",
    "theirs",
    "them",
    "then",
    "there",
    "these",
    "they",
    "theyre",
    "thing",
    "things",
    "this",
    "those",
    "to",
    "too",
    "u",
    "ur",
    "us",
    "very",
    "was",
    "wasnt",
    "we",
    "were",
    "weve",
    "what",
    "whats",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "wont",
    "would",
    "wouldnt",
    "yes",
    "yet",
    "you",
    "your",
    "yours",
    "hi",
    "hello",
    "hey",
    "thanks",
    "thank",
    "ok",
    "okay",
    "dear",
    "sir",
    "madam",
    "mum",
    "mom",
    "mommy",
    "mother",
    "dad",
    "daddy",
    "father",
    "husband",
    "wife",
    "son",
    "daughter",
    "brother",
    "sister",
    "grandma",
    "grandmother",
    "grandpa",
    "grandfather",
    "uncle",
    "aunt",
    "friend",
    "partner",
    "family",
    "parent",
    "parents",
    "mama",
    "papa",
    "someone",
    "somebody",
    "anyone",
    "anybody",
    "doctor",
    "doctors",
    "dr",
    "want",
    "wants",
    "need",
    "needs",
    "say",
    "said",
    "says",
    "told",
    "wondering",
    "wonder",
    "think",
    "guess",
    "maybe",
    "possible",
    "possibly",
    "way",
    "ways",
    "kind",
    "sort",
    "mean",
    "means",
    "make",
    "makes",
    "there",
    "whether",
    "s",
    "t",
    "come",
    "anymore",
];

/// Whether a (lower-cased) word carries no search meaning.
pub fn stopword(word: &str) -> bool {
    STOPWORDS.contains(&word)
}

/// One way a concept may appear in a passage: all of `terms` (analysed), counted with `boost`.
#[derive(Debug, Clone, PartialEq)]
pub struct Alternative {
    pub terms: Vec<String>,
    pub boost: f32,
}

/// One meaningful unit of the question: a word, or a phrase a synonym rule matched.
#[derive(Debug, Clone, PartialEq)]
pub struct Concept {
    /// The user's words (after typo correction).
    pub words: Vec<String>,
    pub alternatives: Vec<Alternative>,
    /// Inverse document frequency of its rarest known form; unknown words get the highest.
    pub weight: f32,
    /// Whether any alternative occurs in the index at all.
    pub known: bool,
}

/// A question, analysed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Analyzed {
    pub concepts: Vec<Concept>,
    /// (typed, corrected) pairs, for tracing and tests.
    pub corrections: Vec<(String, String)>,
    /// Analysed question words ("why", "when"): they say which of two passages on the same
    /// subject is asked for ("why did it stop working" or "when should it stop"), so they are
    /// matched lightly against headings and alternate questions, and never count for coverage.
    pub hints: Vec<String>,
}

/// Question words kept as hints.
const QUESTION_WORDS: &[&str] = &["why", "when", "how", "what", "which", "who", "where"];

/// How much a hint counts, relative to a concept's term in the same field.
pub(crate) const HINT_BOOST: f32 = 0.3;

/// How much a concept's other alternatives count beside its best one (dis-max tie breaker).
pub(crate) const TIE_BREAKER: f32 = 0.1;

impl Analyzed {
    /// Whether nothing in the question can be searched for.
    pub fn is_empty(&self) -> bool {
        self.concepts.is_empty()
    }

    /// The weighted share of concepts that `has_term` finds: the answer-confidence measure.
    /// It does not depend on raw BM25 scores, which grow with the question's length.
    pub fn coverage(&self, has_term: impl Fn(&str) -> bool) -> f32 {
        let total: f32 = self.concepts.iter().map(|c| c.weight).sum();
        if total <= 0.0 {
            return 0.0;
        }
        // a concept found only through a synonym counts at the synonym's boost
        let matched: f32 = self
            .concepts
            .iter()
            .filter_map(|c| {
                c.alternatives
                    .iter()
                    .filter(|a| !a.terms.is_empty() && a.terms.iter().all(|t| has_term(t)))
                    .map(|a| a.boost)
                    .reduce(f32::max)
                    .map(|credit| c.weight * credit)
            })
            .sum();
        matched / total
    }

    /// All analysed terms of all alternatives, for highlighting the relevant part of a passage.
    pub fn term_weights(&self) -> FxHashMap<&str, f32> {
        let mut out = FxHashMap::default();
        for c in &self.concepts {
            for a in &c.alternatives {
                for t in &a.terms {
                    let w = out.entry(t.as_str()).or_insert(0.0f32);
                    *w = w.max(c.weight * a.boost);
                }
            }
        }
        out
    }

    /// The tantivy query: per concept the best of its alternatives (dis-max), summed over
    /// concepts; within an alternative, its terms over the boosted fields.
    pub fn to_query(
        &self,
        fields: &[(Field, f32)],
        hint_fields: &[(Field, f32)],
    ) -> Option<Box<dyn Query>> {
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        if self.concepts.iter().all(|c| !c.known) {
            return None;
        }
        for t in &self.hints {
            for &(field, boost) in hint_fields {
                let q = TermQuery::new(
                    Term::from_field_text(field, t),
                    IndexRecordOption::WithFreqs,
                );
                clauses.push((
                    Occur::Should,
                    Box::new(BoostQuery::new(Box::new(q), boost * HINT_BOOST)),
                ));
            }
        }
        for c in self.concepts.iter().filter(|c| c.known) {
            let disjuncts: Vec<Box<dyn Query>> = c
                .alternatives
                .iter()
                .map(|alt| {
                    let mut terms: Vec<(Occur, Box<dyn Query>)> = Vec::new();
                    for t in &alt.terms {
                        for &(field, boost) in fields {
                            let q = TermQuery::new(
                                Term::from_field_text(field, t),
                                IndexRecordOption::WithFreqs,
                            );
                            terms.push((
                                Occur::Should,
                                Box::new(BoostQuery::new(Box::new(q), boost * alt.boost)),
                            ));
                        }
                    }
                    Box::new(BooleanQuery::new(terms)) as Box<dyn Query>
                })
                .collect();
            clauses.push((
                Occur::Should,
                Box::new(DisjunctionMaxQuery::with_tie_breaker(
                    disjuncts,
                    TIE_BREAKER,
                )),
            ));
        }
        (!clauses.is_empty()).then(|| Box::new(BooleanQuery::new(clauses)) as Box<dyn Query>)
    }
}

/// A word typo correction may choose.
struct Candidate {
    word: String,
    first: Option<char>,
    /// Index term: passages containing it; surface word: 1.
    freq: u64,
    letters: [u8; 32],
}

/// How often each letter occurs in a word ('a' to 'z' each, other characters in six shared
/// bins, saturating), for a cheap lower bound of the edit distance between two words.
fn letter_counts(word: &str) -> [u8; 32] {
    let mut counts = [0u8; 32];
    for c in word.chars() {
        let bin = if c.is_ascii_lowercase() {
            (c as u8 - b'a') as usize
        } else {
            26 + (c as usize) % 6
        };
        counts[bin] = counts[bin].saturating_add(1);
    }
    counts
}

/// The sum of the differences of two words' letter counts. An insertion or deletion changes
/// it by one, a substitution by at most two, a transposition not at all (and sharing bins only
/// lowers it), so a distance of `d` edits means a difference of at most `2d`.
fn letter_difference(a: &[u8; 32], b: &[u8; 32]) -> usize {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| usize::from(x.abs_diff(y)))
        .sum()
}

/// What query analysis needs to know about the indexed content.
pub struct QueryAnalyzer {
    synonyms: Synonyms,
    /// Analysed term → number of passages containing it.
    doc_freq: FxHashMap<String, u64>,
    num_docs: u64,
    /// Correction candidates by length in characters: surface words (from the synonyms: brand
    /// names, abbreviations), then index terms.
    surface_by_len: Vec<Vec<Candidate>>,
    terms_by_len: Vec<Vec<Candidate>>,
    synonym_words: FxHashSet<String>,
    /// [`STOPWORDS`], for lookups on every word of every question.
    stopwords: FxHashSet<&'static str>,
}

impl QueryAnalyzer {
    pub fn new(synonyms: Synonyms, doc_freq: FxHashMap<String, u64>, num_docs: u64) -> Self {
        let synonym_words: FxHashSet<String> = synonyms.vocabulary().map(String::from).collect();
        let by_len = |words: &mut dyn Iterator<Item = (&str, u64)>| {
            let mut by_len: Vec<Vec<Candidate>> = Vec::new();
            for (w, freq) in words {
                let n = w.chars().count();
                if n < 3 || w.chars().any(|c| c.is_ascii_digit()) {
                    continue;
                }
                if by_len.len() <= n {
                    by_len.resize_with(n + 1, Vec::new);
                }
                by_len[n].push(Candidate {
                    word: w.to_string(),
                    first: w.chars().next(),
                    freq,
                    letters: letter_counts(w),
                });
            }
            // a fixed order, so that of two equally good corrections the same one always wins
            for bucket in &mut by_len {
                bucket.sort_by(|a, b| a.word.cmp(&b.word));
            }
            by_len
        };
        let surface_by_len = by_len(&mut synonym_words.iter().map(|w| (w.as_str(), 1)));
        let terms_by_len = by_len(&mut doc_freq.iter().map(|(t, &df)| (t.as_str(), df)));
        QueryAnalyzer {
            synonyms,
            doc_freq,
            num_docs,
            surface_by_len,
            terms_by_len,
            synonym_words,
            stopwords: STOPWORDS.iter().copied().collect(),
        }
    }

    /// BM25's inverse document frequency.
    fn idf(&self, df: u64) -> f32 {
        let n = self.num_docs as f32;
        let df = df as f32;
        (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
    }

    fn analyse(&self, text: &str) -> Vec<String> {
        terms_of(text)
    }

    /// Whether a (lower-cased) word carries no search meaning: [`stopword`], faster.
    pub fn is_stopword(&self, word: &str) -> bool {
        self.stopwords.contains(word)
    }

    /// Whether a word is known as it is: a synonym term, or its analysed form is indexed.
    pub fn is_known(&self, word: &str) -> bool {
        self.synonym_words.contains(word)
            || self
                .analyse(word)
                .iter()
                .all(|t| self.doc_freq.contains_key(t))
    }

    /// The closest known word or term for a word that is neither known nor common English: one
    /// edit for short words, two for long ones (then the first letter must agree, as it mostly
    /// does in real typos); ties go to the more frequent. Returns the replacement and whether it
    /// is a surface word (else an analysed index term).
    fn correct(&self, word: &str) -> Option<(String, bool)> {
        if word.chars().count() < 4
            || !word.chars().all(char::is_alphabetic)
            || english::rank(word).is_some()
        {
            return None;
        }
        let stem = self.analyse(word).into_iter().next().unwrap_or_default();
        let mut best: Option<(usize, u64, &str, bool)> = None;
        for surface in [true, false] {
            let (probe, by_len) = if surface {
                (word, &self.surface_by_len)
            } else {
                (stem.as_str(), &self.terms_by_len)
            };
            let len = probe.chars().count();
            let max = if len <= 6 { 1 } else { 2 };
            let first = probe.chars().next();
            let letters = letter_counts(probe);
            for n in len.saturating_sub(max)..=len + max {
                for cand in by_len.get(n).into_iter().flatten() {
                    // two edits only when the first letter agrees
                    let limit = if cand.first == first { max } else { max.min(1) };
                    // each edit changes the letter counts by at most two: most of the
                    // vocabulary is ruled out here, without computing a distance
                    if letter_difference(&letters, &cand.letters) > 2 * limit {
                        continue;
                    }
                    let Some(d) = edit_distance(probe, &cand.word, limit) else {
                        continue;
                    };
                    let better = match best {
                        None => true,
                        Some((bd, bf, _, _)) => d < bd || (d == bd && cand.freq > bf),
                    };
                    if better {
                        best = Some((d, cand.freq, &cand.word, surface));
                    }
                }
            }
        }
        best.map(|(_, _, w, s)| (w.to_string(), s))
    }

    /// Whether a word is a common English word (three letters or more).
    pub fn is_english(&self, word: &str) -> bool {
        word.len() >= 3 && english::rank(word).is_some()
    }

    /// 0.25 for the 300 most frequent English words, 0.5 up to 1,000, 0.75 up to 3,000, else 1;
    /// a phrase takes its rarest word's.
    fn everyday_discount(&self, words: &[String]) -> f32 {
        words
            .iter()
            .map(|w| match english::rank(w) {
                Some(rank) if rank < 300 => 0.25,
                Some(rank) if rank < 1000 => 0.5,
                Some(rank) if rank < 3000 => 0.75,
                _ => 1.0,
            })
            .fold(0.25f32, f32::max)
    }

    /// Analyses a question into concepts.
    pub fn analyze(&self, text: &str) -> Analyzed {
        let mut out = Analyzed::default();
        let mut typed: Vec<String> = words(text);
        if typed.len() > MAX_QUERY_WORDS {
            // a long message mostly ends with its question ("…and now the scan shows new spots.
            // is that why it stopped working?"): keep its start and its end
            let tail = typed.split_off(typed.len() - MAX_QUERY_WORDS * 2 / 3);
            typed.truncate(MAX_QUERY_WORDS - tail.len());
            typed.extend(tail);
        }
        // `fixed[i]` is the analysed term when a word was corrected to an index term directly
        let mut fixed: Vec<Option<String>> = vec![None; typed.len()];
        for (i, w) in typed.iter_mut().enumerate() {
            if self.stopwords.contains(w.as_str()) || self.is_known(w) {
                continue;
            }
            if let Some((c, surface)) = self.correct(w) {
                out.corrections.push((w.clone(), c.clone()));
                if surface {
                    *w = c;
                } else {
                    fixed[i] = Some(c);
                }
            }
        }

        let alternative = |qa: &QueryAnalyzer, words: &[String], boost: f32| Alternative {
            terms: words
                .iter()
                .filter(|w| !qa.stopwords.contains(w.as_str()))
                .flat_map(|w| qa.analyse(w))
                .collect(),
            boost,
        };
        let mut covered = vec![false; typed.len()];
        for m in self.synonyms.matches(&typed) {
            let span = &typed[m.start..m.start + m.len];
            let mut alts = vec![alternative(self, span, 1.0)];
            for e in m.expansions {
                let ws: Vec<String> = e.split(' ').map(String::from).collect();
                alts.push(alternative(self, &ws, SYNONYM_BOOST));
            }
            alts.retain(|a| !a.terms.is_empty());
            if !alts.is_empty() {
                covered[m.start..m.start + m.len]
                    .iter_mut()
                    .for_each(|c| *c = true);
                out.concepts.push(self.concept(span.to_vec(), alts));
            }
        }
        for (i, w) in typed.iter().enumerate() {
            if QUESTION_WORDS.contains(&w.as_str()) {
                // "how come" asks why
                let word = if w == "how" && typed.get(i + 1).is_some_and(|n| n == "come") {
                    "why"
                } else {
                    w
                };
                out.hints.extend(self.analyse(word));
            }
            if covered[i] || self.stopwords.contains(w.as_str()) {
                continue;
            }
            let terms = match &fixed[i] {
                Some(term) => vec![term.clone()],
                None => self.analyse(w),
            };
            if terms.is_empty() {
                continue;
            }
            let alt = Alternative { terms, boost: 1.0 };
            if !out.concepts.iter().any(|c| c.alternatives[0] == alt) {
                out.concepts.push(self.concept(vec![w.clone()], vec![alt]));
            }
        }
        out
    }

    fn concept(&self, words: Vec<String>, alternatives: Vec<Alternative>) -> Concept {
        // an alternative is known when all its terms are indexed; its idf is its terms' mean
        let idfs: Vec<Option<f32>> = alternatives
            .iter()
            .map(|a| {
                let dfs: Option<Vec<u64>> = a
                    .terms
                    .iter()
                    .map(|t| self.doc_freq.get(t).copied())
                    .collect();
                dfs.map(|dfs| {
                    dfs.iter().map(|&df| self.idf(df)).sum::<f32>() / dfs.len().max(1) as f32
                })
            })
            .collect();
        let known = idfs.iter().any(Option::is_some);
        // How telling a concept is depends on the word the user wrote, not on its synonyms.
        // Everyday English words ("time", "come") tell less than a guide term; rarity in the
        // guide counts half, because in a guide of a few dozen passages the words it is about
        // ("immunotherapy") are in many of them and idf alone would call them unimportant.
        let discount = self.everyday_discount(&words);
        let weight = match idfs.first().copied().flatten() {
            Some(idf) => discount * (0.5 + 0.5 * idf / self.idf(0)),
            // A common English word the guide never uses ("weather", "pizza") says the question
            // is about something else; a name, a place or an unfixable typo says less.
            None if words
                .iter()
                .any(|w| english::rank(w).is_some_and(|r| r < 5000)) =>
            {
                discount
            }
            None => 0.5,
        };
        Concept {
            words,
            alternatives,
            weight,
            known,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `correct` without the letter-count filter: every candidate in the same order.
    fn correct_slowly(qa: &QueryAnalyzer, word: &str) -> Option<(String, bool)> {
        if word.chars().count() < 4
            || !word.chars().all(char::is_alphabetic)
            || english::rank(word).is_some()
        {
            return None;
        }
        let stem = qa.analyse(word).into_iter().next().unwrap_or_default();
        let mut best: Option<(usize, u64, String, bool)> = None;
        for (surface, by_len) in [(true, &qa.surface_by_len), (false, &qa.terms_by_len)] {
            let probe = if surface { word } else { stem.as_str() };
            let len = probe.chars().count();
            let max = if len <= 6 { 1 } else { 2 };
            for n in len.saturating_sub(max)..=len + max {
                for cand in by_len.get(n).into_iter().flatten() {
                    let Some(d) = edit_distance(probe, &cand.word, max) else {
                        continue;
                    };
                    if d == 2 && probe.chars().next() != cand.word.chars().next() {
                        continue;
                    }
                    let better = match &best {
                        None => true,
                        Some((bd, bf, _, _)) => d < *bd || (d == *bd && cand.freq > *bf),
                    };
                    if better {
                        best = Some((d, cand.freq, cand.word.clone(), surface));
                    }
                }
            }
        }
        best.map(|(_, _, w, s)| (w, s))
    }

    #[test]
    fn letter_counts_never_rule_out_a_correction() {
        let dir = tempfile::tempdir().expect("tempdir");
        faqbot_dev::synth::write_guides(dir.path(), 2000, 3).expect("generate");
        let content = crate::content::load(dir.path()).expect("content");
        let mut doc_freq: FxHashMap<String, u64> = FxHashMap::default();
        for (_, p) in content.passages() {
            let mut terms = terms_of(&p.body);
            terms.extend(terms_of(&p.title));
            terms.sort();
            terms.dedup();
            for t in terms {
                *doc_freq.entry(t).or_default() += 1;
            }
        }
        let qa = QueryAnalyzer::new(
            content.synonyms.clone(),
            doc_freq,
            content.passages().count() as u64,
        );
        let mut corrected = 0;
        for typo in [
            "imunotherapy",
            "chemoterapy",
            "keytrda",
            "pembrolizumb",
            "fatige",
            "nausia",
            "neuropaty",
            "radiotherpy",
            "biospy",
            "oncologst",
            "diarhea",
            "insomina",
            "caregiverz",
            "palliatve",
            "appetit",
            "tumour",
            "zelotinib",
            "ultrasund",
            "xyzzyq",
            "opdvo",
        ] {
            let fast = qa.correct(typo);
            assert_eq!(fast, correct_slowly(&qa, typo), "{typo}");
            corrected += usize::from(fast.is_some());
        }
        assert!(corrected >= 15, "{corrected} corrected");
    }
}
