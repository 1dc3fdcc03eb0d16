//! The full-text index over the content: one schema, one analyzer, building (`build`), and
//! answering queries (`searcher`, with query analysis in `query`). Building and querying are
//! separate so the running bot only ever holds a reader.

mod build;
mod english;

/// A common English word's frequency rank (0 = the most frequent), if it is one.
pub use english::rank as english_rank;
mod query;
mod searcher;
mod topk;

use std::cell::RefCell;

use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, FAST, STORED, STRING,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer,
    TextAnalyzer,
};

pub use build::{build_index, open_or_build, IndexError, IndexMeta, Opened};
pub use query::{stopword, Analyzed, Concept};
pub use searcher::{Hit, SearchIndex, SearchResult};

/// Name the analyzer is registered under. Registrations are not stored in the index, so
/// [`build::open_index`] registers it every time an index is opened.
pub const ANALYZER: &str = "faq_en";

/// The analyzer for every text field: words, lower-cased, accents folded, English stems.
pub fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(Stemmer::new(Language::English))
        .build()
}

/// The index's fields, looked up once.
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    pub id: Field,
    pub guide_id: Field,
    pub guide_title: Field,
    pub kind: Field,
    pub language: Field,
    pub link: Field,
    pub position: Field,
    pub title: Field,
    pub questions: Field,
    pub keywords: Field,
    pub body: Field,
    /// Everything above in one field: document frequencies and the typo vocabulary.
    pub all: Field,
}

/// The searchable fields and how much a match in each counts: the heading or question and the
/// alternate questions say what a passage is about more reliably than its body does.
pub const FIELD_BOOSTS: [(&str, f32); 4] = [
    ("title", 2.5),
    ("questions", 2.0),
    ("keywords", 1.5),
    ("body", 1.0),
];

/// BM25's length normalisation (`b`) for the alternate questions: weaker than the 0.75 of the
/// other fields. Their length says how many ways editors wrote a passage's questions, not that
/// the passage is about many things, so a passage given more `ask:` lines should not lose on
/// each of them. Measured on the answer sets (README, "Answer quality"): 0.5 ranked one to two
/// points more questions first on dev and B than 0.75, and the same on A; lower gained nothing.
pub const QUESTIONS_LENGTH_NORM: f32 = 0.5;

/// The one schema.
pub fn schema() -> Schema {
    let mut b = Schema::builder();
    let indexing = TextFieldIndexing::default()
        .set_tokenizer(ANALYZER)
        .set_index_option(IndexRecordOption::WithFreqs);
    let text_stored = TextOptions::default()
        .set_indexing_options(indexing.clone())
        .set_stored();
    let text = TextOptions::default().set_indexing_options(indexing);
    b.add_text_field("id", STRING | STORED);
    b.add_text_field("guide_id", STRING | STORED);
    b.add_text_field("guide_title", STORED);
    b.add_text_field("kind", STORED);
    b.add_text_field("language", STORED);
    b.add_text_field("link", STORED);
    b.add_u64_field("position", STORED | FAST);
    b.add_text_field("title", text_stored.clone());
    b.add_text_field("questions", text_stored.clone());
    b.add_text_field("keywords", text_stored.clone());
    b.add_text_field("body", text_stored);
    b.add_text_field("all", text);
    b.build()
}

impl Fields {
    pub fn new(schema: &Schema) -> Result<Fields, tantivy::TantivyError> {
        let f = |name: &str| schema.get_field(name);
        Ok(Fields {
            id: f("id")?,
            guide_id: f("guide_id")?,
            guide_title: f("guide_title")?,
            kind: f("kind")?,
            language: f("language")?,
            link: f("link")?,
            position: f("position")?,
            title: f("title")?,
            questions: f("questions")?,
            keywords: f("keywords")?,
            body: f("body")?,
            all: f("all")?,
        })
    }

    /// Fields whose BM25 length normalisation differs from tantivy's 0.75.
    pub fn length_norm(&self) -> [(Field, f32); 1] {
        [(self.questions, QUESTIONS_LENGTH_NORM)]
    }

    /// The searchable fields with their boosts.
    pub fn boosted(&self) -> [(Field, f32); 4] {
        [
            (self.title, FIELD_BOOSTS[0].1),
            (self.questions, FIELD_BOOSTS[1].1),
            (self.keywords, FIELD_BOOSTS[2].1),
            (self.body, FIELD_BOOSTS[3].1),
        ]
    }
}

/// The terms [`analyzer`] makes of `text`. Each thread keeps one analyzer: making one (a
/// chain of boxed filters with their buffers) costs more than analysing a word, and questions
/// are analysed a word at a time.
pub fn terms_of(text: &str) -> Vec<String> {
    thread_local! {
        static ANALYZER: RefCell<TextAnalyzer> = RefCell::new(analyzer());
    }
    ANALYZER.with_borrow_mut(|analyzer| {
        let mut out = Vec::new();
        let mut stream = analyzer.token_stream(text);
        while stream.advance() {
            out.push(stream.token().text.clone());
        }
        out
    })
}
