//! Synthetic content for benchmarks: a deterministic, seeded generator of caregiver-guide
//! passages in the content format of `faq/` (front matter, `##` sections with `id:` and `ask:`
//! lines, paragraphs and list items), so search can be measured on 1,000 to 100,000 passages
//! without shipping that much real text.
//!
//! The text is built from sentence templates over a vocabulary of oncology and caregiving words.
//! Each slot draws its word from a Zipf-like distribution (the k-th word of a list is k times
//! rarer than the first), and each passage has a topic its sentences keep returning to, so terms
//! repeat within a passage and document frequencies are skewed the way real guides' are. A pool
//! of made-up drug and trial names that grows with the number of passages keeps the vocabulary
//! growing with the corpus, as it does in real text, which matters for typo correction.
//!
//! The same `(passages, seed)` always writes byte-identical files: the generator uses its own
//! small PRNG (splitmix64) and integer arithmetic only, and never iterates a hash map.

use std::fmt::Write as _;
use std::io;
use std::path::Path;

use faqbot::content::SYNONYMS_FILE;

mod words;
use words::*;

/// The synonyms that ship in `faq/`: generated content is searched with the same rules.
pub const SHIPPED_SYNONYMS: &str = include_str!("../../../faq/synonyms.txt");

/// How many passages each generated guide file holds (the last one may hold fewer).
pub const PASSAGES_PER_FILE: usize = 200;

/// Shortest and longest body of a generated passage, in words.
pub const MIN_WORDS: usize = 60;
pub const MAX_WORDS: usize = 250;

/// Questions caregivers might ask about the generated content, in their own words, with the
/// typos, brand names and everyday phrasings real messages have. For benchmarks that need the
/// same questions whatever the seed.
pub const QUESTIONS: [&str; 50] = [
    "my dad has fatigue after immunotherapy, is that normal?",
    "keytruda stopped working what now",
    "how long does a pet-ct scan take",
    "can chemo and radiotherapy be given together",
    "my mum has nausea after every infusion, what helps",
    "is hair loss permanent after chemotherapy",
    "what is car-t therapy and can we get it in china",
    "imunotherapy side efects on the skin",
    "how do i manage my husband's medications at home",
    "what are bispecific antibodies",
    "should we get a second opinion for lung cancer",
    "fever after chemo what should i do",
    "can he travel to china for a clinical trial",
    "diarrhea on opdivo, when should we call the nurse",
    "how to help with loss of appetite during treatment",
    "what does the biopsy show",
    "is neuropathy from paclitaxel reversible",
    "we are exhausted, how do caregivers cope with burnout",
    "targeted therapy for egfr lung cancer",
    "my wife can't sleep since starting treatment",
    "what questions should we ask the oncologist",
    "how often are blood tests needed during chemotherapy",
    "palliative care or hospice, what is the difference",
    "can targeted therapy work after immunotherapy failed",
    "mouth sores after chemo what to eat",
    "how do we organise medical records for an mdt review",
    "tumor markers went up, does that mean progression",
    "what is the mdt and who is on it",
    "side effects of antibody drug conjugates",
    "is it safe to take herbal medicine with chemotherapy",
    "shortness of breath during radiotherapy",
    "my father is getting weaker, when should we stop treatment",
    "how to keep a symptom diary",
    "rash from pembrolizumab",
    "what is a clinical trial and how do we qualify",
    "how do i arrange transport to the hospital for infusions",
    "stomach cancer treatment options after second line",
    "can the cancer come back after surgery",
    "what is the performance status and why does it matter",
    "pancreatic cancer, how long does chemo last",
    "thyroid problems after immunotherapy",
    "is proton therapy better than radiotherapy",
    "how to talk with children about cancer",
    "what is genetic testing for cancer",
    "liver function tests abnormal on treatment",
    "how can i help my mom with pain at night",
    "does insurance cover treatment abroad",
    "melanoma immunotherapy how long until it works",
    "my brother has confusion and headaches, is it an emergency",
    "fatige and no energy after carboplatin",
];

/// A small, fast, well-mixed PRNG (splitmix64): enough for text, and fully reproducible.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0), without modulo bias worth speaking of.
    pub fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// Words drawn with Zipf-like frequencies: the k-th (0-based) is drawn (k+1) times less often
/// than the first. Integer weights keep the draws identical on every platform.
struct Zipf {
    items: Vec<String>,
    cumulative: Vec<u64>,
}

impl Zipf {
    fn new(items: Vec<String>) -> Zipf {
        let mut total = 0u64;
        let cumulative = (0..items.len() as u64)
            .map(|k| {
                total += 1_000_000 / (k + 1);
                total
            })
            .collect();
        Zipf { items, cumulative }
    }

    fn of(words: &[&str]) -> Zipf {
        Zipf::new(words.iter().map(|w| w.to_string()).collect())
    }

    fn pick(&self, rng: &mut SplitMix64) -> &str {
        let total = *self.cumulative.last().unwrap_or(&1);
        let r = ((u128::from(rng.next_u64()) * u128::from(total)) >> 64) as u64;
        let i = self.cumulative.partition_point(|&c| c <= r);
        &self.items[i.min(self.items.len() - 1)]
    }
}

/// What a passage is about: the words its sentences keep coming back to.
struct Topic {
    treatment: String,
    drug: String,
    symptom: String,
    cancer: String,
    test: String,
    rare: String,
}

struct Vocabulary {
    treatments: Zipf,
    drugs: Zipf,
    symptoms: Zipf,
    cancers: Zipf,
    tests: Zipf,
    people: Zipf,
    groups: Zipf,
    tasks: Zipf,
    feelings: Zipf,
    times: Zipf,
    places: Zipf,
    organs: Zipf,
    rare: Zipf,
}

impl Vocabulary {
    /// The word lists, with a pool of made-up names that grows with the corpus (about one per
    /// four passages), so the vocabulary keeps growing as real text's does.
    fn new(passages: usize, rng: &mut SplitMix64) -> Vocabulary {
        let pool = (passages / 4).max(50);
        let mut names = Vec::with_capacity(pool);
        for _ in 0..pool {
            let mut name = String::new();
            name.push_str(NAME_START[rng.below(NAME_START.len())]);
            for _ in 0..rng.range(1, 2) {
                name.push_str(NAME_MIDDLE[rng.below(NAME_MIDDLE.len())]);
            }
            name.push_str(NAME_END[rng.below(NAME_END.len())]);
            names.push(name);
        }
        Vocabulary {
            treatments: Zipf::of(TREATMENTS),
            drugs: Zipf::of(DRUGS),
            symptoms: Zipf::of(SYMPTOMS),
            cancers: Zipf::of(CANCERS),
            tests: Zipf::of(TESTS),
            people: Zipf::of(PEOPLE),
            groups: Zipf::of(GROUPS),
            tasks: Zipf::of(TASKS),
            feelings: Zipf::of(FEELINGS),
            times: Zipf::of(TIMES),
            places: Zipf::of(PLACES),
            organs: Zipf::of(ORGANS),
            rare: Zipf::new(names),
        }
    }

    fn topic(&self, rng: &mut SplitMix64) -> Topic {
        Topic {
            treatment: self.treatments.pick(rng).to_string(),
            drug: self.drugs.pick(rng).to_string(),
            symptom: self.symptoms.pick(rng).to_string(),
            cancer: self.cancers.pick(rng).to_string(),
            test: self.tests.pick(rng).to_string(),
            rare: self.rare.pick(rng).to_string(),
        }
    }

    /// Fills a template's slots. Topic slots keep to the passage's topic two times in three.
    fn fill(&self, template: &str, topic: &Topic, rng: &mut SplitMix64) -> String {
        let mut out = String::with_capacity(template.len() + 40);
        let mut used: Vec<String> = Vec::new();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let close = open + rest[open..].find('}').unwrap_or(0);
            let slot = &rest[open + 1..close];
            // the same word twice in a sentence ("fatigue and fatigue") reads wrong: the topic
            // word only once, then fresh draws
            let mut word = self.slot(slot, topic, rng.chance(67), rng);
            for _ in 0..3 {
                if !used.contains(&word) {
                    break;
                }
                word = self.slot(slot, topic, false, rng);
            }
            out.push_str(&word);
            used.push(word);
            rest = &rest[close + 1..];
        }
        out.push_str(rest);
        out
    }

    /// A word for one template slot.
    fn slot(&self, slot: &str, topic: &Topic, on_topic: bool, rng: &mut SplitMix64) -> String {
        match slot {
            "T" if on_topic => topic.treatment.clone(),
            "T" => self.treatments.pick(rng).to_string(),
            "D" if on_topic => topic.drug.clone(),
            "D" if rng.chance(20) => self.rare.pick(rng).to_string(),
            "D" => self.drugs.pick(rng).to_string(),
            "S" if on_topic => topic.symptom.clone(),
            "S" => self.symptoms.pick(rng).to_string(),
            "C" if on_topic => topic.cancer.clone(),
            "C" => self.cancers.pick(rng).to_string(),
            "X" if on_topic => topic.test.clone(),
            "X" => self.tests.pick(rng).to_string(),
            "R" if on_topic => topic.rare.clone(),
            "R" => self.rare.pick(rng).to_string(),
            "P" => self.people.pick(rng).to_string(),
            "G" => self.groups.pick(rng).to_string(),
            "K" => self.tasks.pick(rng).to_string(),
            "F" => self.feelings.pick(rng).to_string(),
            "W" => self.times.pick(rng).to_string(),
            "L" => self.places.pick(rng).to_string(),
            "O" => self.organs.pick(rng).to_string(),
            "N" => rng.range(2, 6).to_string(),
            "rel" => RELATIVES[rng.below(RELATIVES.len())].to_string(),
            other => other.to_string(),
        }
    }
}

/// Upper-cases the first letter (templates may start with a lower-case slot).
fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A passage id from its heading and its number: unique because the number is.
fn passage_id(title: &str, number: usize) -> String {
    let suffix = format!("-{number}");
    let mut id = String::new();
    for w in faqbot::text::words(title) {
        let w: String = w.chars().filter(char::is_ascii_alphanumeric).collect();
        if w.is_empty() {
            continue;
        }
        if id.len() + w.len() + 1 + suffix.len() > faqbot::content::MAX_ID_LEN {
            break;
        }
        if !id.is_empty() {
            id.push('-');
        }
        id.push_str(&w);
    }
    if id.is_empty() {
        id.push('p');
    }
    id + &suffix
}

/// Appends one passage (`## heading`, metadata, body) to `out`.
fn passage(out: &mut String, vocab: &Vocabulary, faq: bool, number: usize, rng: &mut SplitMix64) {
    let topic = vocab.topic(rng);
    let headings = if faq { FAQ_HEADINGS } else { GUIDE_HEADINGS };
    let title = capitalized(&vocab.fill(headings[rng.below(headings.len())], &topic, rng));
    let _ = writeln!(out, "## {title}");
    let _ = writeln!(out, "id: {}", passage_id(&title, number));
    if rng.chance(40) {
        let _ = writeln!(
            out,
            "keywords: {}, {}",
            vocab.symptoms.pick(rng),
            vocab.fill("{D}", &topic, rng).to_lowercase()
        );
    }
    for _ in 0..rng.range(1, 4) {
        let ask = vocab.fill(ASKS[rng.below(ASKS.len())], &topic, rng);
        let _ = writeln!(out, "ask: {}", ask.to_lowercase());
    }
    out.push('\n');

    // sentences until the body reaches its length; the longest template is under 25 words, so
    // stopping once the target is reached keeps every body within MIN_WORDS..=MAX_WORDS
    let target = rng.range(MIN_WORDS, MAX_WORDS - 25);
    let mut words = 0;
    let mut paragraph = String::new();
    let mut list_done = false;
    while words < target {
        if !list_done && words > 30 && rng.chance(8) {
            list_done = true;
            if !paragraph.is_empty() {
                out.push_str(&paragraph);
                out.push_str("\n\n");
                paragraph.clear();
            }
            let lead = vocab.fill(LIST_LEADS[rng.below(LIST_LEADS.len())], &topic, rng);
            words += lead.split_whitespace().count();
            out.push_str(&lead);
            out.push_str("\n\n");
            let mut items: Vec<String> = Vec::new();
            for _ in 0..rng.range(2, 4) {
                let item = vocab.fill(LIST_ITEMS[rng.below(LIST_ITEMS.len())], &topic, rng);
                if items.contains(&item) {
                    continue;
                }
                words += item.split_whitespace().count() + 1;
                let _ = writeln!(out, "- {}", capitalized(&item));
                items.push(item);
            }
            out.push('\n');
            continue;
        }
        let sentence = capitalized(&vocab.fill(SENTENCES[rng.below(SENTENCES.len())], &topic, rng));
        words += sentence.split_whitespace().count();
        if !paragraph.is_empty() {
            paragraph.push(' ');
        }
        paragraph.push_str(&sentence);
        if rng.chance(25) {
            out.push_str(&paragraph);
            out.push_str("\n\n");
            paragraph.clear();
        }
    }
    if !paragraph.is_empty() {
        out.push_str(&paragraph);
        out.push_str("\n\n");
    }
}

/// The text of one generated guide file holding passages `first..first + count`.
fn guide_file(
    vocab: &Vocabulary,
    file: usize,
    first: usize,
    count: usize,
    rng: &mut SplitMix64,
) -> String {
    // one file in five is an FAQ, as in the shipped content
    let faq = file % 5 == 4;
    let topic = vocab.topic(rng);
    let title = if faq {
        format!("Frequently asked questions about {}", topic.treatment)
    } else {
        capitalized(&vocab.fill("{T} and {C}: a guide for caregivers", &topic, rng))
    };
    let mut out = String::with_capacity(count * 1400);
    let _ = writeln!(out, "---");
    let _ = writeln!(out, "id: synth-{file:04}");
    let _ = writeln!(out, "title: {title}");
    let _ = writeln!(out, "language: en");
    let _ = writeln!(out, "kind: {}", if faq { "faq" } else { "guide" });
    let _ = writeln!(out, "link: /guides/synth-{file:04}");
    let _ = writeln!(out, "---");
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "<!-- Generated by `faqbot generate` for benchmarks: not medical content. -->"
    );
    let _ = writeln!(out);
    for number in first..first + count {
        passage(&mut out, vocab, faq, number, rng);
    }
    out
}

/// Writes `passages` generated passages into `dir` (created if needed) as guide files of
/// [`PASSAGES_PER_FILE`] passages (`synth-0000.md`, …) plus the shipped `synonyms.txt`.
/// The same `passages` and `seed` always write the same bytes.
pub fn write_guides(dir: &Path, passages: usize, seed: u64) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut rng = SplitMix64::new(seed);
    let vocab = Vocabulary::new(passages, &mut rng);
    let files = passages.div_ceil(PASSAGES_PER_FILE);
    for file in 0..files {
        let first = file * PASSAGES_PER_FILE;
        let count = PASSAGES_PER_FILE.min(passages - first);
        // each file has its own stream, so a file's text does not depend on the files before it
        // beyond the shared vocabulary
        let mut file_rng =
            SplitMix64::new(seed ^ (file as u64 + 1).wrapping_mul(0xA24B_AED4_963E_E407));
        let text = guide_file(&vocab, file, first, count, &mut file_rng);
        std::fs::write(dir.join(format!("synth-{file:04}.md")), text)?;
    }
    std::fs::write(dir.join(SYNONYMS_FILE), SHIPPED_SYNONYMS)
}

// The generator's output (same bytes per seed, valid content) is tested in
// tests/it/synth.rs, which `cargo test` runs; this crate's own tests run with `-p faqbot-dev`.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zipf_prefers_the_first_words() {
        let z = Zipf::of(&["a", "b", "c", "d"]);
        let mut rng = SplitMix64::new(1);
        let mut counts = [0usize; 4];
        for _ in 0..10_000 {
            counts[(z.pick(&mut rng).as_bytes()[0] - b'a') as usize] += 1;
        }
        assert!(counts[0] > counts[1] && counts[1] > counts[2] && counts[2] > counts[3]);
    }
}
