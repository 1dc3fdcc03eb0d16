//! The best passages for an analysed question, scored exactly as [`Analyzed::to_query`]
//! describes (BM25 per term and field with its boost; per concept the best alternative plus a
//! tenth of the others; summed over concepts and question-word hints), but evaluated here
//! rather than by tantivy's generic query tree.
//!
//! Why: tantivy evaluates that tree as unions nested three deep, each scoring every document
//! that contains any of its terms in windows of 4,096 documents it allocates per query, and
//! dis-max rules out its block-max WAND pruning. On a small index the allocations and per-term
//! set-up dominate; on 100,000 passages every document containing "therapy" or "cancer" is
//! scored. Here all posting lists are walked together, document at a time, with MaxScore
//! pruning (Turtle & Flood, 1995): once the current tenth-best score exceeds what the lists of
//! the most common terms could add together, documents found only in those lists are skipped,
//! and the lists are only probed for documents the rarer terms found. The result is the same
//! top documents with the same scores (per-term BM25 is computed as tantivy computes it; only
//! the order of summation may differ, by a rounding error), except where the caller asks for
//! another length normalisation for a field (the alternate questions: see
//! `super::QUESTIONS_LENGTH_NORM`).
//!
//! Kept because tantivy's own path misses two targets (BENCHMARKS.md, "tantivy's own query
//! path beside topk.rs": 149–167 µs against ≤ 100 µs median on the shipped content, 2.4–2.5 ms
//! against ≤ 2 ms at 100,000 passages; this file: 75 µs and 0.8 ms).

use rustc_hash::FxHashMap;
use tantivy::fieldnorm::FieldNormReader;
use tantivy::postings::{Postings, SegmentPostings, TermInfo};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{DocAddress, DocId, DocSet, Score, Searcher, SegmentReader, Term, TERMINATED};

use super::query::{Analyzed, HINT_BOOST, TIE_BREAKER};

/// tantivy's BM25 parameters (`tantivy::query::bm25`), so scores match its own.
const K1: Score = 1.2;
const B: Score = 0.75;

/// Slack for rounding when an upper bound is compared with a score: bounds are summed in
/// another order than scores.
const MARGIN: Score = 1.0001;

/// One term of one field, with its score's share in each clause.
#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Index into [`Plan::lists`].
    list: usize,
    /// The boost tantivy's `BoostQuery` would apply.
    boost: Score,
}

/// A top-level clause of the query: a hint term, or a concept's alternatives (dis-max).
#[derive(Debug)]
enum Clause {
    Hint(Entry),
    Concept(Vec<Vec<Entry>>),
}

/// The query as posting lists and the way their scores combine.
#[derive(Debug)]
pub(crate) struct Plan {
    /// Distinct (field, term) pairs.
    lists: Vec<Term>,
    /// Per list: the most a document's score can grow per unit of that list's BM25 score
    /// (its boosts, summed over the clauses that use it, as dis-max can use them).
    bound: Vec<Score>,
    clauses: Vec<Clause>,
}

impl Plan {
    /// The plan for `analyzed` over boosted fields; `None` when nothing can match (as
    /// [`Analyzed::to_query`]).
    pub(crate) fn new<'a>(
        analyzed: &'a Analyzed,
        fields: &[(Field, Score)],
        hint_fields: &[(Field, Score)],
    ) -> Option<Plan> {
        if analyzed.concepts.iter().all(|c| !c.known) {
            return None;
        }
        let mut lists: Vec<Term> = Vec::new();
        let mut known: FxHashMap<(Field, &str), usize> = FxHashMap::default();
        let mut list = |field: Field, text: &'a str| {
            *known.entry((field, text)).or_insert_with(|| {
                lists.push(Term::from_field_text(field, text));
                lists.len() - 1
            })
        };
        let mut clauses = Vec::new();
        for t in &analyzed.hints {
            for &(field, boost) in hint_fields {
                let entry = Entry {
                    list: list(field, t),
                    boost: boost * HINT_BOOST,
                };
                clauses.push(Clause::Hint(entry));
            }
        }
        for c in analyzed.concepts.iter().filter(|c| c.known) {
            let alternatives: Vec<Vec<Entry>> = c
                .alternatives
                .iter()
                .map(|alt| {
                    let mut entries = Vec::with_capacity(alt.terms.len() * fields.len());
                    for t in &alt.terms {
                        for &(field, boost) in fields {
                            entries.push(Entry {
                                list: list(field, t),
                                boost: boost * alt.boost,
                            });
                        }
                    }
                    entries
                })
                .collect();
            clauses.push(Clause::Concept(alternatives));
        }
        let mut bound = vec![0.0; lists.len()];
        for clause in &clauses {
            match clause {
                Clause::Hint(e) => bound[e.list] += e.boost,
                Clause::Concept(alts) => {
                    // dis-max = (1 - t)·max + t·sum over alternatives; an alternative's score is
                    // a sum over its lists, so per list: (1 - t)·(largest boost any alternative
                    // gives it) + t·(sum of its boosts over alternatives) bounds it.
                    // (list, max, sum) for the concept's lists; (list, boost) per alternative
                    let mut per_concept: Vec<(usize, Score, Score)> = Vec::new();
                    let mut per_alt: Vec<(usize, Score)> = Vec::new();
                    for alt in alts {
                        per_alt.clear();
                        for e in alt {
                            match per_alt.iter_mut().find(|(l, _)| *l == e.list) {
                                Some((_, b)) => *b += e.boost,
                                None => per_alt.push((e.list, e.boost)),
                            }
                        }
                        for &(l, b) in &per_alt {
                            match per_concept.iter_mut().find(|(x, _, _)| *x == l) {
                                Some((_, max, sum)) => {
                                    *max = max.max(b);
                                    *sum += b;
                                }
                                None => per_concept.push((l, b, b)),
                            }
                        }
                    }
                    for (l, max, sum) in per_concept {
                        bound[l] += (1.0 - TIE_BREAKER) * max + TIE_BREAKER * sum;
                    }
                }
            }
        }
        let plan = Plan {
            lists,
            bound,
            clauses,
        };
        Some(plan)
    }

    /// The `n` best documents with their scores, best first; ties go to the earlier document,
    /// as with tantivy's `TopDocs`. `length_norm` sets BM25's `b` for some fields (tantivy's
    /// 0.75 for the others).
    pub(crate) fn top(
        &self,
        searcher: &Searcher,
        n: usize,
        length_norm: &[(Field, Score)],
    ) -> tantivy::Result<Vec<(Score, DocAddress)>> {
        let segments = searcher.segment_readers();
        // the statistics tantivy's Bm25Weight::for_terms uses: whole-index document count,
        // per-field average length, per-term document frequency
        let total_docs: u64 = segments.iter().map(|s| u64::from(s.max_doc())).sum();
        let mut fields: Vec<(Field, [Score; 256])> = Vec::new();
        let mut list_field = Vec::with_capacity(self.lists.len());
        for term in &self.lists {
            let field = term.field();
            let i = match fields.iter().position(|(f, _)| *f == field) {
                Some(i) => i,
                None => {
                    let mut tokens = 0u64;
                    for s in segments {
                        tokens += s.inverted_index(field)?.total_num_tokens();
                    }
                    let average = tokens as Score / total_docs as Score;
                    let b = length_norm
                        .iter()
                        .find(|(f, _)| *f == field)
                        .map_or(B, |&(_, b)| b);
                    fields.push((field, tf_cache(average, b)));
                    fields.len() - 1
                }
            };
            list_field.push(i);
        }
        // term infos per segment, then document frequencies over all of them
        let mut infos = Vec::with_capacity(segments.len());
        let mut doc_freq = vec![0u64; self.lists.len()];
        for s in segments {
            let mut per_list = Vec::with_capacity(self.lists.len());
            for (l, term) in self.lists.iter().enumerate() {
                let info = s.inverted_index(term.field())?.get_term_info(term)?;
                if let Some(info) = &info {
                    doc_freq[l] += u64::from(info.doc_freq);
                }
                per_list.push(info);
            }
            infos.push(per_list);
        }
        let weight: Vec<Score> = doc_freq
            .iter()
            .map(|&df| idf(df, total_docs) * (1.0 + K1))
            .collect();
        // the most each list can add to a score: BM25's term-frequency part is below 1
        let upper: Vec<Score> = weight.iter().zip(&self.bound).map(|(w, b)| w * b).collect();
        let scoring = Scoring {
            plan: self,
            weight: &weight,
            upper: &upper,
            caches: &fields,
            list_field: &list_field,
        };
        let mut top = TopN::new(n);
        for (ord, (segment, infos)) in segments.iter().zip(infos).enumerate() {
            scoring.segment(ord as u32, segment, infos, &mut top)?;
        }
        Ok(top.docs)
    }
}

/// tantivy's BM25 inverse document frequency.
fn idf(doc_freq: u64, doc_count: u64) -> Score {
    let x = ((doc_count - doc_freq) as Score + 0.5) / (doc_freq as Score + 0.5);
    (1.0 + x).ln()
}

/// tantivy's per-field cache of BM25's length normalisation, by field-norm id.
fn tf_cache(average_fieldnorm: Score, b: Score) -> [Score; 256] {
    let mut cache = [0.0; 256];
    for (id, slot) in cache.iter_mut().enumerate() {
        let fieldnorm = FieldNormReader::id_to_fieldnorm(id as u8);
        *slot = K1 * (1.0 - b + b * fieldnorm as Score / average_fieldnorm);
    }
    cache
}

/// The best `n` so far, best first.
struct TopN {
    n: usize,
    docs: Vec<(Score, DocAddress)>,
}

impl TopN {
    fn new(n: usize) -> TopN {
        TopN {
            n,
            docs: Vec::with_capacity(n + 1),
        }
    }

    /// The score a document must beat to enter.
    fn threshold(&self) -> Score {
        if self.docs.len() < self.n {
            Score::NEG_INFINITY
        } else {
            self.docs[self.n - 1].0
        }
    }

    /// Documents arrive in address order, so an equal score never displaces an earlier one.
    fn push(&mut self, score: Score, doc: DocAddress) {
        if self.n == 0 || score <= self.threshold() {
            return;
        }
        let at = self.docs.partition_point(|(s, _)| *s >= score);
        self.docs.insert(at, (score, doc));
        self.docs.truncate(self.n);
    }
}

/// One posting list of one segment.
struct Cursor {
    list: usize,
    postings: SegmentPostings,
    fieldnorms: FieldNormReader,
}

struct Scoring<'a> {
    plan: &'a Plan,
    /// Per list: BM25 weight (idf · (1 + k1)).
    weight: &'a [Score],
    /// Per list: the most it can add to a document's score.
    upper: &'a [Score],
    caches: &'a [(Field, [Score; 256])],
    list_field: &'a [usize],
}

impl Scoring<'_> {
    fn segment(
        &self,
        ord: u32,
        segment: &SegmentReader,
        infos: Vec<Option<TermInfo>>,
        top: &mut TopN,
    ) -> tantivy::Result<()> {
        let lists = self.plan.lists.len();
        let mut cursors: Vec<Cursor> = Vec::new();
        for (l, info) in infos.into_iter().enumerate() {
            let Some(info) = info else { continue };
            let field = self.plan.lists[l].field();
            let postings = segment
                .inverted_index(field)?
                .read_postings_from_terminfo(&info, IndexRecordOption::WithFreqs)?;
            let fieldnorms = segment
                .fieldnorms_readers()
                .get_field(field)?
                .unwrap_or_else(|| FieldNormReader::constant(segment.max_doc(), 1));
            cursors.push(Cursor {
                list: l,
                postings,
                fieldnorms,
            });
        }
        if cursors.is_empty() {
            return Ok(());
        }
        // lists by what they can add, smallest first (`order[rank]` is a cursor);
        // prefix[rank] = what the lists ranked below it can add together. The current
        // documents are kept apart from the cursors, which are large, so that finding the next
        // document touches little memory.
        let mut order: Vec<usize> = (0..cursors.len()).collect();
        order.sort_by(|&a, &b| self.upper[cursors[a].list].total_cmp(&self.upper[cursors[b].list]));
        let upper: Vec<Score> = order.iter().map(|&c| self.upper[cursors[c].list]).collect();
        let mut prefix = Vec::with_capacity(order.len() + 1);
        prefix.push(0.0f32);
        for u in &upper {
            prefix.push(prefix[prefix.len() - 1] + u);
        }
        let mut current: Vec<DocId> = order.iter().map(|&c| cursors[c].postings.doc()).collect();
        // the lists ranked below `essential` cannot lift a document above the threshold by
        // themselves: documents are only taken from the others
        let essential_from = |threshold: Score| {
            prefix
                .iter()
                .rposition(|&p| p * MARGIN <= threshold)
                .unwrap_or(0)
        };
        let mut threshold = top.threshold();
        let mut essential = essential_from(threshold);
        let alive = segment.alive_bitset();
        // term-frequency factor of each list at the current document, valid where seen == doc
        let mut tf = vec![0.0f32; lists];
        let mut seen = vec![TERMINATED; lists];
        // once no list is essential, no document left can enter
        while essential < order.len() {
            let doc: DocId = current[essential..]
                .iter()
                .copied()
                .min()
                .unwrap_or(TERMINATED);
            if doc == TERMINATED {
                break;
            }
            // first with the lists' upper bounds alone, which needs no postings data
            let mut bound: Score = (essential..order.len())
                .filter(|&r| current[r] == doc)
                .map(|r| upper[r])
                .sum();
            let deleted = alive.is_some_and(|a| a.is_deleted(doc));
            if !deleted && (bound + prefix[essential]) * MARGIN > threshold {
                bound = 0.0;
                for r in essential..order.len() {
                    if current[r] == doc {
                        let c = &cursors[order[r]];
                        let f = self.tf_factor(c, doc);
                        tf[c.list] = f;
                        seen[c.list] = doc;
                        bound += upper[r] * f;
                    }
                }
                // probe the other lists, most telling first, while the document can still
                // make it
                let mut complete = true;
                for r in (0..essential).rev() {
                    if (bound + prefix[r + 1]) * MARGIN <= threshold {
                        complete = false;
                        break;
                    }
                    let c = &mut cursors[order[r]];
                    if current[r] < doc {
                        current[r] = c.postings.seek(doc);
                    }
                    if current[r] == doc {
                        let f = self.tf_factor(c, doc);
                        tf[c.list] = f;
                        seen[c.list] = doc;
                        bound += upper[r] * f;
                    }
                }
                if complete && bound * MARGIN > threshold {
                    let score = self.score(doc, &tf, &seen);
                    top.push(score, DocAddress::new(ord, doc));
                }
            }
            for r in essential..order.len() {
                if current[r] == doc {
                    current[r] = cursors[order[r]].postings.advance();
                }
            }
            if top.threshold() != threshold {
                threshold = top.threshold();
                essential = essential.max(essential_from(threshold));
            }
        }
        Ok(())
    }

    /// BM25's term-frequency part for the cursor's list at `doc`, as tantivy computes it.
    fn tf_factor(&self, c: &Cursor, doc: DocId) -> Score {
        let term_freq = c.postings.term_freq() as Score;
        let cache = &self.caches[self.list_field[c.list]].1;
        let norm = cache[c.fieldnorms.fieldnorm_id(doc) as usize];
        term_freq / (term_freq + norm)
    }

    /// The document's score: per term as tantivy's `TermScorer` with its boost, combined as
    /// the query tree combines them.
    fn score(&self, doc: DocId, tf: &[Score], seen: &[DocId]) -> Score {
        let term = |e: &Entry| -> Option<Score> {
            (seen[e.list] == doc).then(|| {
                let w = self.weight[e.list];
                let w = if e.boost == 1.0 { w } else { w * e.boost };
                w * tf[e.list]
            })
        };
        let mut total = 0.0f32;
        for clause in &self.plan.clauses {
            match clause {
                Clause::Hint(e) => {
                    if let Some(s) = term(e) {
                        total += s;
                    }
                }
                Clause::Concept(alts) => {
                    let (mut max, mut sum, mut any) = (0.0f32, 0.0f32, false);
                    for alt in alts {
                        let mut s = 0.0f32;
                        let mut matched = false;
                        for e in alt {
                            if let Some(x) = term(e) {
                                s += x;
                                matched = true;
                            }
                        }
                        if matched {
                            max = max.max(s);
                            sum += s;
                            any = true;
                        }
                    }
                    if any {
                        total += max + (sum - max) * TIE_BREAKER;
                    }
                }
            }
        }
        total
    }
}
