//! Answering queries from a built index: the passages that best match a question, each with
//! how much of the question it covers.

use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use lru::LruCache;
use rustc_hash::FxHashMap;

use tantivy::collector::TopDocs;
use tantivy::query::TermQuery;
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{
    DocAddress, DocSet, Index, IndexReader, ReloadPolicy, Searcher, TantivyDocument, Term,
};

use super::build::{open_index, IndexError, IndexMeta};
use super::query::QueryAnalyzer;
use super::topk::Plan;
use super::{Analyzed, Fields};
use crate::content::Synonyms;

/// How many candidates are scored for coverage before the best are kept.
const CANDIDATES: usize = 10;

/// How many passages read from the store are kept decoded (about 2 KB each): a bot's questions
/// keep coming back to the same few dozen passages, and reading one costs more than scoring.
const PASSAGE_CACHE: NonZeroUsize = NonZeroUsize::new(1024).expect("not zero");

/// One passage found for a question.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub id: String,
    pub title: String,
    pub guide_id: String,
    pub guide_title: String,
    pub kind: String,
    pub link: Option<String>,
    pub body: String,
    /// The ranking score: BM25 over the boosted fields, adjusted by coverage, in units of the
    /// index's largest inverse document frequency (that of a word in one passage), so that a
    /// score means about the same on a guide of thirty passages as on one of thousands.
    pub score: f32,
    /// Weighted share of the question's concepts this passage contains, 0..1.
    pub coverage: f32,
}

#[cfg(test)]
impl Hit {
    /// A hit with only what ranking reads: for tests of what is done with hits.
    pub(crate) fn scored(id: &str, score: f32, coverage: f32) -> Hit {
        Hit {
            id: id.into(),
            title: id.into(),
            guide_id: "g".into(),
            guide_title: "G".into(),
            kind: "guide".into(),
            link: None,
            body: String::new(),
            score,
            coverage,
        }
    }
}

/// The passages for one question, best first, with the analysed question.
#[derive(Debug, Clone, Default)]
pub struct SearchResult {
    pub analyzed: Analyzed,
    pub hits: Vec<Hit>,
}

/// An open index with what querying it needs. Holds a reader only, never a writer, so
/// `faqbot index` can run while the bot serves.
pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    analyzer: QueryAnalyzer,
    meta: IndexMeta,
    /// Passages by address, with score and coverage zero. Addresses stay valid because the
    /// reader never reloads: a changed index is a new `SearchIndex`.
    passages: Mutex<LruCache<DocAddress, Hit>>,
    /// What BM25 scores are divided by: the inverse document frequency of a word found in one
    /// passage. Scores grow with it (as the logarithm of the number of passages); divided, they
    /// compare across contents, which the answer confidence needs.
    score_unit: f32,
}

impl SearchIndex {
    /// Wraps an opened index (see [`super::open_or_build`]).
    pub fn new(index: Index, meta: IndexMeta) -> Result<SearchIndex, tantivy::TantivyError> {
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let fields = Fields::new(&index.schema())?;
        let searcher = reader.searcher();
        let doc_freq = vocabulary(&searcher, &fields)?;
        // synonyms were validated when the index was built; a damaged payload only loses them
        let synonyms = Synonyms::parse(&meta.synonyms).unwrap_or_default();
        let num_docs = searcher.num_docs();
        let analyzer = QueryAnalyzer::new(synonyms, doc_freq, num_docs);
        // BM25's idf of a term in one of n documents: ln(1 + (n - 1 + 0.5) / (1 + 0.5))
        let n = num_docs.max(1) as f32;
        let score_unit = (1.0 + (n - 0.5) / 1.5).ln();
        Ok(SearchIndex {
            index,
            reader,
            fields,
            analyzer,
            meta,
            passages: Mutex::new(LruCache::new(PASSAGE_CACHE)),
            score_unit,
        })
    }

    /// Opens the index in `dir` as it is, without checking the content.
    pub fn open(dir: &Path) -> Result<SearchIndex, IndexError> {
        let (index, meta) = open_index(dir)?;
        SearchIndex::new(index, meta).map_err(|source| IndexError::Tantivy {
            dir: dir.to_path_buf(),
            source,
        })
    }

    pub fn meta(&self) -> &IndexMeta {
        &self.meta
    }

    pub fn num_passages(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// The underlying tantivy index.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// Whether a lower-cased word belongs to the content's vocabulary (as written, as a synonym
    /// term, or by its analysed form).
    pub fn knows_word(&self, word: &str) -> bool {
        self.analyzer.is_stopword(word) || self.analyzer.is_known(word)
    }

    /// Whether a lower-cased word is English as far as the guide and a list of common English
    /// words can tell: for telling English questions from others.
    pub fn is_english_word(&self, word: &str) -> bool {
        self.knows_word(word) || self.analyzer.is_english(word)
    }

    /// Analyses `text` and returns up to `limit` passages, best first.
    pub fn search(&self, text: &str, limit: usize) -> Result<SearchResult, tantivy::TantivyError> {
        let analyzed = self.analyzer.analyze(text);
        let boosted = self.fields.boosted();
        let Some(plan) = Plan::new(&analyzed, &boosted, &boosted[..2]) else {
            return Ok(SearchResult {
                analyzed,
                hits: Vec::new(),
            });
        };
        let searcher = self.reader.searcher();
        let top = plan.top(&searcher, CANDIDATES.max(limit), &self.fields.length_norm())?;
        let terms = coverage_terms(&analyzed);
        let present = self.terms_present(&searcher, &terms, &top)?;
        let mut ranked: Vec<(f32, f32, DocAddress)> = top
            .iter()
            .zip(&present)
            .map(|(&(score, address), present)| {
                let coverage = analyzed.coverage(|t| {
                    terms
                        .iter()
                        .position(|&x| x == t)
                        .is_some_and(|i| present[i])
                });
                // a passage that answers more of the question beats one that repeats one word
                // often
                let score = score / self.score_unit;
                (score * (0.25 + coverage).powi(2), coverage, address)
            })
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        ranked.truncate(limit);
        // only the passages returned are read from the store
        let mut hits = Vec::with_capacity(ranked.len());
        for (score, coverage, address) in ranked {
            let mut hit = self.stored(&searcher, address)?;
            hit.score = score;
            hit.coverage = coverage;
            hits.push(hit);
        }
        Ok(SearchResult { analyzed, hits })
    }

    /// The passage at `address`, from the cache or read from the store (and then cached).
    fn stored(&self, searcher: &Searcher, address: DocAddress) -> tantivy::Result<Hit> {
        if let Some(hit) = self.cache().get(&address) {
            return Ok(hit.clone());
        }
        // read without holding the lock: other threads' lookups need not wait for the store
        let hit = self.hit(&searcher.doc::<TantivyDocument>(address)?, 0.0);
        self.cache().put(address, hit.clone());
        Ok(hit)
    }

    fn cache(&self) -> MutexGuard<'_, LruCache<DocAddress, Hit>> {
        // the cache only ever holds whole values, so one a panicking thread left is sound
        self.passages.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// For each document, which of `terms` it contains (in any searchable field), read from
    /// the postings of the `all` field, which holds exactly the title, questions, keywords and
    /// body: cheaper than analysing the stored text again.
    fn terms_present(
        &self,
        searcher: &Searcher,
        terms: &[&str],
        docs: &[(f32, DocAddress)],
    ) -> Result<Vec<Vec<bool>>, tantivy::TantivyError> {
        let mut present = vec![vec![false; terms.len()]; docs.len()];
        // by segment, in document order, as postings are read forwards
        let mut order: Vec<usize> = (0..docs.len()).collect();
        order.sort_by_key(|&i| docs[i].1);
        for group in order.chunk_by(|&a, &b| docs[a].1.segment_ord == docs[b].1.segment_ord) {
            let segment = searcher.segment_reader(docs[group[0]].1.segment_ord);
            let inverted = segment.inverted_index(self.fields.all)?;
            for (t, text) in terms.iter().enumerate() {
                let term = Term::from_field_text(self.fields.all, text);
                let Some(mut postings) = inverted.read_postings(&term, IndexRecordOption::Basic)?
                else {
                    continue;
                };
                for &i in group {
                    let doc = docs[i].1.doc_id;
                    if postings.doc() < doc {
                        postings.seek(doc);
                    }
                    present[i][t] = postings.doc() == doc;
                }
            }
        }
        Ok(present)
    }

    fn hit(&self, doc: &TantivyDocument, score: f32) -> Hit {
        let text = |field| {
            doc.get_first(field)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let link = text(self.fields.link);
        Hit {
            id: text(self.fields.id),
            title: text(self.fields.title),
            guide_id: text(self.fields.guide_id),
            guide_title: text(self.fields.guide_title),
            kind: text(self.fields.kind),
            link: (!link.is_empty()).then_some(link),
            body: text(self.fields.body),
            score,
            coverage: 0.0,
        }
    }

    /// Every passage as (id, title), in content order: the topics a caregiver can browse.
    pub fn topics(&self) -> Result<Vec<(String, String)>, tantivy::TantivyError> {
        let searcher = self.reader.searcher();
        let mut rows: Vec<(u64, String, String)> = Vec::new();
        for segment in searcher.segment_readers() {
            let store = segment.get_store_reader(1)?;
            for doc_id in segment.doc_ids_alive() {
                let doc: TantivyDocument = store.get(doc_id)?;
                let text = |field| {
                    doc.get_first(field)
                        .and_then(|v| v.as_str())
                        .unwrap_or_default()
                        .to_string()
                };
                let position = doc
                    .get_first(self.fields.position)
                    .and_then(|v| v.as_u64())
                    .unwrap_or(u64::MAX);
                rows.push((position, text(self.fields.id), text(self.fields.title)));
            }
        }
        rows.sort();
        Ok(rows.into_iter().map(|(_, id, title)| (id, title)).collect())
    }

    /// The passage with this id, if there is one.
    pub fn passage(&self, id: &str) -> Result<Option<Hit>, tantivy::TantivyError> {
        let searcher = self.reader.searcher();
        let query = TermQuery::new(
            Term::from_field_text(self.fields.id, id),
            IndexRecordOption::Basic,
        );
        let top = searcher.search(&query, &TopDocs::with_limit(1).order_by_score())?;
        top.first()
            .map(|&(_, address)| {
                searcher
                    .doc::<TantivyDocument>(address)
                    .map(|doc| self.hit(&doc, 0.0))
            })
            .transpose()
    }
}

/// The distinct terms coverage asks about: those of every alternative of every concept.
fn coverage_terms(analyzed: &Analyzed) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for c in &analyzed.concepts {
        for a in &c.alternatives {
            for t in &a.terms {
                if !out.contains(&t.as_str()) {
                    out.push(t);
                }
            }
        }
    }
    out
}

/// Every analysed term of the index with the number of passages containing it.
fn vocabulary(
    searcher: &Searcher,
    fields: &Fields,
) -> Result<FxHashMap<String, u64>, tantivy::TantivyError> {
    let mut out: FxHashMap<String, u64> = FxHashMap::default();
    for segment in searcher.segment_readers() {
        let inverted = segment.inverted_index(fields.all)?;
        let mut stream = inverted.terms().stream()?;
        while stream.advance() {
            if let Ok(term) = std::str::from_utf8(stream.key()) {
                *out.entry(term.to_string()).or_insert(0) += u64::from(stream.value().doc_freq);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use tantivy::collector::TopDocs;

    use super::*;
    use crate::search::build_index;

    /// The holdout questions and the generated content's questions, with a few that only
    /// common words, typos or many synonyms make up.
    fn questions() -> Vec<String> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/quality/holdout.jsonl");
        let text = std::fs::read_to_string(path).expect("holdout questions");
        let mut out: Vec<String> = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("JSON line");
                v["q"].as_str().expect("q").to_string()
            })
            .collect();
        out.extend(faqbot_dev::synth::QUESTIONS.iter().map(|q| q.to_string()));
        out.extend(
            [
                "how what when why",
                "cancer treatment therapy patients",
                "keytruda opdivo pembrolizumab nivolumab immunotherapy chemo car-t",
                "imunotherapy kemotherapy fatige",
            ]
            .map(String::from),
        );
        out
    }

    /// The scoring in `topk` must find the documents, in the order and with the scores,
    /// that tantivy finds for `Analyzed::to_query` (with tantivy's length normalisation on every
    /// field: the search's own for the alternate questions is a deliberate departure).
    fn same_as_tantivy(content: &Path) {
        let content = crate::content::load(content).expect("content loads");
        let dir = tempfile::tempdir().expect("tempdir");
        let (index, meta) = build_index(&content, dir.path()).expect("index builds");
        let index = SearchIndex::new(index, meta).expect("index opens");
        let searcher = index.reader.searcher();
        let boosted = index.fields.boosted();
        let mut compared = 0;
        for q in questions() {
            let analyzed = index.analyzer.analyze(&q);
            let Some(query) = analyzed.to_query(&boosted, &boosted[..2]) else {
                assert!(Plan::new(&analyzed, &boosted, &boosted[..2]).is_none());
                continue;
            };
            let plan = Plan::new(&analyzed, &boosted, &boosted[..2]).expect("a plan");
            for n in [1, 10] {
                let expected = searcher
                    .search(&query, &TopDocs::with_limit(n).order_by_score())
                    .expect("tantivy search");
                let got = plan.top(&searcher, n, &[]).expect("top");
                let docs = |v: &[(f32, DocAddress)]| v.iter().map(|d| d.1).collect::<Vec<_>>();
                assert_eq!(docs(&got), docs(&expected), "{q}");
                for ((a, _), (b, _)) in got.iter().zip(&expected) {
                    assert!((a - b).abs() <= 1e-5 * b.abs(), "{q}: {a} vs {b}");
                }
            }
            // coverage from the postings of `all` = coverage from the stored text, analysed
            let top = plan.top(&searcher, 10, &[]).expect("top");
            let terms = coverage_terms(&analyzed);
            let present = index
                .terms_present(&searcher, &terms, &top)
                .expect("terms present");
            for ((_, address), present) in top.iter().zip(&present) {
                let doc: TantivyDocument = searcher.doc(*address).expect("doc");
                let mut stored = std::collections::HashSet::new();
                for field in [
                    index.fields.title,
                    index.fields.body,
                    index.fields.questions,
                    index.fields.keywords,
                ] {
                    for v in doc.get_all(field).filter_map(|v| v.as_str()) {
                        stored.extend(crate::search::terms_of(v));
                    }
                }
                for (t, p) in terms.iter().zip(present) {
                    assert_eq!(stored.contains(*t), *p, "{q}: {t}");
                }
            }
            compared += 1;
        }
        assert!(compared > 50, "only {compared} questions searched");
    }

    /// A passage served from the cache is the passage in the store, whichever question or
    /// thread read it first.
    #[test]
    fn cached_passages_are_the_stored_ones() {
        let content = crate::content::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("faq"))
            .expect("content loads");
        let dir = tempfile::tempdir().expect("tempdir");
        let (index, meta) = build_index(&content, dir.path()).expect("index builds");
        let index = SearchIndex::new(index, meta).expect("index opens");
        let searcher = index.reader.searcher();
        let questions = questions();
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    for q in &questions {
                        index.search(q, 5).expect("search");
                    }
                });
            }
        });
        assert!(index.cache().len() > 20, "{} cached", index.cache().len());
        for q in &questions {
            let analyzed = index.analyzer.analyze(q);
            let boosted = index.fields.boosted();
            let Some(plan) = Plan::new(&analyzed, &boosted, &boosted[..2]) else {
                continue;
            };
            for (_, address) in plan
                .top(&searcher, 5, &index.fields.length_norm())
                .expect("top")
            {
                let stored = index.hit(&searcher.doc(address).expect("doc"), 0.0);
                let cached = index.stored(&searcher, address).expect("cached");
                assert_eq!(cached, stored, "{q}");
            }
        }
    }

    #[test]
    fn top_documents_match_tantivy_on_the_shipped_content() {
        same_as_tantivy(&Path::new(env!("CARGO_MANIFEST_DIR")).join("faq"));
    }

    #[test]
    fn top_documents_match_tantivy_on_generated_content() {
        let dir = tempfile::tempdir().expect("tempdir");
        faqbot_dev::synth::write_guides(dir.path(), 3000, 5).expect("generate");
        same_as_tantivy(dir.path());
    }
}
