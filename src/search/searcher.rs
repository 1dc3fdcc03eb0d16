//! Answering queries from a built index: the passages that best match a question, each with
//! how much of the question it covers.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use tantivy::collector::TopDocs;
use tantivy::query::TermQuery;
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{Index, IndexReader, ReloadPolicy, Searcher, TantivyDocument, Term};

use super::build::{open_index, IndexError, IndexMeta};
use super::query::QueryAnalyzer;
use super::{analyzer, terms_of, Analyzed, Fields};
use crate::content::Synonyms;

/// How many candidates are scored for coverage before the best are kept.
const CANDIDATES: usize = 10;

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
    /// The ranking score (BM25 over the boosted fields, adjusted by coverage).
    pub score: f32,
    /// Weighted share of the question's concepts this passage contains, 0..1.
    pub coverage: f32,
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
        let analyzer = QueryAnalyzer::new(analyzer(), synonyms, doc_freq, searcher.num_docs());
        Ok(SearchIndex {
            index,
            reader,
            fields,
            analyzer,
            meta,
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
        crate::search::stopword(word) || self.analyzer.is_known(word)
    }

    /// Whether a lower-cased word is English as far as the guide and a list of common English
    /// words can tell: for telling English questions from others.
    pub fn is_english_word(&self, word: &str) -> bool {
        self.knows_word(word) || self.analyzer.is_english(word)
    }

    /// Analyses `text` and returns up to `limit` passages, best first.
    pub fn search(&self, text: &str, limit: usize) -> Result<SearchResult, tantivy::TantivyError> {
        let analyzed = self.analyzer.analyze(text);
        let Some(query) = analyzed.to_query(&self.fields.boosted(), &self.fields.boosted()[..2])
        else {
            return Ok(SearchResult {
                analyzed,
                hits: Vec::new(),
            });
        };
        let searcher = self.reader.searcher();
        let top = searcher.search(
            &query,
            &TopDocs::with_limit(CANDIDATES.max(limit)).order_by_score(),
        )?;
        let mut tokenizer = analyzer();
        let mut hits = Vec::with_capacity(top.len());
        for (score, address) in top {
            let doc: TantivyDocument = searcher.doc(address)?;
            let mut hit = self.hit(&doc, score);
            let mut terms: HashSet<String> = HashSet::new();
            for text in [&hit.title, &hit.body] {
                terms.extend(terms_of(&mut tokenizer, text));
            }
            for field in [self.fields.questions, self.fields.keywords] {
                for v in doc.get_all(field).filter_map(|v| v.as_str()) {
                    terms.extend(terms_of(&mut tokenizer, v));
                }
            }
            hit.coverage = analyzed.coverage(|t| terms.contains(t));
            // a passage that answers more of the question beats one that repeats one word often
            hit.score *= (0.25 + hit.coverage).powi(2);
            hits.push(hit);
        }
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
        hits.truncate(limit);
        Ok(SearchResult { analyzed, hits })
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

/// Every analysed term of the index with the number of passages containing it.
fn vocabulary(
    searcher: &Searcher,
    fields: &Fields,
) -> Result<HashMap<String, u64>, tantivy::TantivyError> {
    let mut out: HashMap<String, u64> = HashMap::new();
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
