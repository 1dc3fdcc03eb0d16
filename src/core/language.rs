//! Which language a message is written in, so one the content does not cover gets an honest
//! "I can only answer in …" and a coordinator, rather than a poor English match.

use whatlang::{Lang, Script};

/// The ISO 639-1 code of a message's language when it is confidently not one of `covered`;
/// `None` when it is covered or too short to tell. `is_known` says whether a lower-cased word is
/// English as far as the content's vocabulary (brand names and abbreviations included) and a
/// list of common English words can tell.
pub fn uncovered_language(
    text: &str,
    covered: &[String],
    is_known: impl Fn(&str) -> bool,
) -> Option<String> {
    let letters = text.chars().filter(|c| c.is_alphabetic()).count();
    if letters < 3 {
        return None;
    }
    let script = whatlang::detect_script(text)?;
    let code = if script == Script::Latin {
        let words = crate::text::words(text);
        // a short message is told by its little words ("c'est quoi CAR-T" is French), which a
        // trigram model needs more text to see
        if let Some(code) = by_function_words(&words) {
            return (!covered.iter().any(|c| c == code)).then(|| code.to_string());
        }
        // one or two Latin words (a misspelt drug name, "ok thx") cannot tell a language
        if words.len() < 3 {
            return None;
        }
        // short English questions full of drug names can look foreign to a trigram model, so
        // the vocabulary has the last word; it is asked first because it is much cheaper than
        // the trigram model and settles nearly every English question
        let known = words.iter().filter(|w| is_known(w)).count();
        let ratio = known as f64 / words.len().max(1) as f64;
        if ratio >= 0.5 {
            return None;
        }
        let info = whatlang::detect(text)?;
        if info.lang() == Lang::Eng {
            return None;
        }
        iso639_1(info.lang())
    } else {
        whatlang::detect(text)
            .map(|i| iso639_1(i.lang()))
            .unwrap_or_else(|| script_language(script))
    };
    (!covered.contains(&code)).then_some(code)
}

/// The language an emergency message is most likely written in, among `languages` (the
/// emergency check's), for its notice; English when it cannot tell. Used when the check's own
/// phrasings, which know their language, did not match.
pub fn among(text: &str, languages: &[&'static str]) -> &'static str {
    let words = crate::text::words(text);
    let code = match whatlang::detect_script(text) {
        None => None,
        Some(Script::Latin) => by_function_words(&words)
            .map(str::to_string)
            .or_else(|| whatlang::detect(text).map(|i| iso639_1(i.lang()))),
        Some(script) => Some(
            whatlang::detect(text)
                .map(|i| iso639_1(i.lang()))
                .filter(|code| languages.contains(&code.as_str()))
                .unwrap_or_else(|| script_language(script)),
        ),
    };
    code.and_then(|code| languages.iter().find(|l| **l == code).copied())
        .unwrap_or("en")
}

/// Function words that tell the Latin-script languages families write in, without accents
/// (typed either way) and without words English shares ("no", "a", "me", "do", "die", "car").
const FUNCTION_WORDS: [(&str, &[&str]); 7] = [
    (
        "fr",
        &[
            "le", "la", "les", "un", "une", "des", "du", "est", "cest", "quoi", "que", "qui",
            "quest", "pas", "mon", "ma", "mes", "il", "elle", "je", "vous", "nous", "pour", "avec",
            "sur", "dans", "ce", "cette", "comment", "pourquoi", "bonjour", "merci", "oui", "mais",
            "ou", "et", "au", "aux", "sont", "peut", "jai", "ai", "beaucoup", "tres", "très",
            "apres", "après", "déjà", "quand", "lui", "leur", "ne", "plus",
        ],
    ),
    (
        "es",
        &[
            "el", "la", "los", "las", "un", "una", "es", "que", "por", "para", "con", "mi", "mis",
            "su", "sus", "del", "al", "y", "pero", "como", "cuando", "donde", "porque", "hola",
            "gracias", "esta", "estoy", "tiene", "puede", "muy", "despues", "ya", "le", "lo", "se",
            "yo", "usted", "hay", "ahora", "qué", "también", "tambien", "está", "después", "cómo",
            "dónde", "él",
        ],
    ),
    (
        "pt",
        &[
            "o", "os", "um", "uma", "que", "nao", "e", "do", "da", "dos", "das", "em", "no", "na",
            "para", "com", "meu", "minha", "ele", "ela", "esta", "como", "por", "porque",
            "obrigado", "obrigada", "ola", "voce", "tem", "pode", "muito", "depois", "ja", "agora",
            "ta", "pra", "isso", "tambem", "mas", "é", "não", "está", "você", "olá", "já",
            "também", "tá",
        ],
    ),
    (
        "de",
        &[
            "der", "das", "ist", "und", "nicht", "ich", "mein", "meine", "meiner", "was", "warum",
            "kann", "mit", "fur", "für", "auf", "ein", "eine", "einen", "es", "er", "sie", "wir",
            "hallo", "danke", "wie", "lange", "nach", "noch", "sehr", "hat", "haben", "wird",
            "oder", "aber", "jetzt", "bitte", "dem", "den", "zu", "bei", "vom", "zum", "auch",
            "schon",
        ],
    ),
    (
        "it",
        &[
            "il", "lo", "gli", "un", "una", "che", "non", "di", "per", "con", "mio", "mia", "come",
            "perche", "sono", "ho", "ha", "piu", "più", "perché", "è", "ciao", "grazie", "questo",
            "questa", "della", "del", "anche", "dopo", "molto", "ancora", "funziona",
        ],
    ),
    (
        "tr",
        &[
            "ne",
            "bir",
            "ve",
            "bu",
            "icin",
            "cok",
            "var",
            "yok",
            "mi",
            "mı",
            "mu",
            "nasil",
            "neden",
            "merhaba",
            "tesekkur",
            "tesekkurler",
            "babam",
            "annem",
            "ama",
            "simdi",
            "sonra",
            "gibi",
            "daha",
            "ben",
            "sen",
            "o",
            "ile",
            "olur",
            "oldu",
            "yapmaliyiz",
            "yapmalıyız",
            "şimdi",
            "için",
            "çok",
            "nasıl",
            "teşekkürler",
        ],
    ),
    (
        "nl",
        &[
            "het",
            "een",
            "niet",
            "ik",
            "mijn",
            "wat",
            "waarom",
            "kan",
            "met",
            "voor",
            "op",
            "zijn",
            "hij",
            "zij",
            "wij",
            "hallo",
            "bedankt",
            "hoe",
            "na",
            "nog",
            "erg",
            "heeft",
            "wordt",
            "maar",
            "nu",
            "alstublieft",
            "ook",
            "al",
        ],
    ),
];

/// English function words, against which the others are weighed.
const ENGLISH: &[&str] = &[
    "the", "a", "an", "is", "are", "was", "what", "how", "my", "he", "she", "his", "her", "can",
    "do", "does", "of", "to", "in", "and", "for", "it", "with", "on", "not", "after", "why", "i",
    "we", "you", "they", "this", "that", "be", "have", "has", "will", "should", "there", "when",
    "who", "which", "if", "or", "but", "so", "at", "from", "about", "any", "again", "still",
];

/// The language a Latin-script message's function words point to: at least two of them, more
/// than any other language and more than English has. `None` when they do not say.
fn by_function_words(words: &[String]) -> Option<&'static str> {
    let english = words
        .iter()
        .filter(|w| ENGLISH.contains(&w.as_str()))
        .count();
    let mut scores: Vec<(&'static str, usize)> = FUNCTION_WORDS
        .iter()
        .map(|(code, list)| {
            let hits = words.iter().filter(|w| list.contains(&w.as_str())).count();
            (*code, hits)
        })
        .collect();
    scores.sort_by_key(|&(_, hits)| std::cmp::Reverse(hits));
    let (code, best) = scores[0];
    let second = scores[1].1;
    (best >= 2 && best > second && best > english).then_some(code)
}

/// The language a script most likely means when the detector cannot say.
fn script_language(script: Script) -> String {
    match script {
        Script::Cyrillic => "ru",
        Script::Arabic => "ar",
        Script::Mandarin => "zh",
        Script::Hiragana | Script::Katakana => "ja",
        Script::Hangul => "ko",
        Script::Hebrew => "he",
        Script::Greek => "el",
        Script::Devanagari => "hi",
        Script::Thai => "th",
        _ => "und",
    }
    .to_string()
}

/// The ISO 639-1 code of a detected language.
fn iso639_1(lang: Lang) -> String {
    let code = match lang {
        Lang::Epo => "eo",
        Lang::Eng => "en",
        Lang::Rus => "ru",
        Lang::Cmn => "zh",
        Lang::Spa => "es",
        Lang::Por => "pt",
        Lang::Ita => "it",
        Lang::Ben => "bn",
        Lang::Fra => "fr",
        Lang::Deu => "de",
        Lang::Ukr => "uk",
        Lang::Kat => "ka",
        Lang::Ara => "ar",
        Lang::Hin => "hi",
        Lang::Jpn => "ja",
        Lang::Heb => "he",
        Lang::Yid => "yi",
        Lang::Pol => "pl",
        Lang::Amh => "am",
        Lang::Jav => "jv",
        Lang::Kor => "ko",
        Lang::Nob => "nb",
        Lang::Dan => "da",
        Lang::Swe => "sv",
        Lang::Fin => "fi",
        Lang::Tur => "tr",
        Lang::Nld => "nl",
        Lang::Hun => "hu",
        Lang::Ces => "cs",
        Lang::Ell => "el",
        Lang::Bul => "bg",
        Lang::Bel => "be",
        Lang::Mar => "mr",
        Lang::Kan => "kn",
        Lang::Ron => "ro",
        Lang::Slv => "sl",
        Lang::Hrv => "hr",
        Lang::Srp => "sr",
        Lang::Mkd => "mk",
        Lang::Lit => "lt",
        Lang::Lav => "lv",
        Lang::Est => "et",
        Lang::Tam => "ta",
        Lang::Vie => "vi",
        Lang::Urd => "ur",
        Lang::Tha => "th",
        Lang::Guj => "gu",
        Lang::Uzb => "uz",
        Lang::Pan => "pa",
        Lang::Aze => "az",
        Lang::Ind => "id",
        Lang::Tel => "te",
        Lang::Pes => "fa",
        Lang::Mal => "ml",
        Lang::Ori => "or",
        Lang::Mya => "my",
        Lang::Nep => "ne",
        Lang::Sin => "si",
        Lang::Khm => "km",
        Lang::Tuk => "tk",
        Lang::Aka => "ak",
        Lang::Zul => "zu",
        Lang::Sna => "sn",
        Lang::Afr => "af",
        Lang::Lat => "la",
        Lang::Slk => "sk",
        Lang::Cat => "ca",
        Lang::Tgl => "tl",
        Lang::Hye => "hy",
        // a language added to whatlang later: its own (ISO 639-3) code is still a useful label
        #[allow(unreachable_patterns)]
        other => return other.code().to_string(),
    };
    code.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn en() -> Vec<String> {
        vec!["en".to_string()]
    }

    fn known(w: &str) -> bool {
        [
            "what", "is", "car", "t", "therapy", "opdivo", "keytruda", "ctla", "pd", "1", "solid",
            "tumors",
        ]
        .contains(&w)
    }

    #[test]
    fn detects_languages_the_content_does_not_cover() {
        let cases = [
            ("¿Puede funcionar Opdivo si Keytruda ya falló?", "es"),
            ("Можно ли сделать CAR-T после неудачи химиотерапии?", "ru"),
            ("多次治疗失败后，值得参加临床试验吗？", "zh"),
            ("Sollten wir eine Zweitmeinung einholen, wenn es angeblich keine Optionen mehr gibt?", "de"),
            ("هل يمكن أن يساعد العلاج المناعي مرة أخرى؟", "ar"),
        ];
        for (text, lang) in cases {
            assert_eq!(
                uncovered_language(text, &en(), known).as_deref(),
                Some(lang),
                "{text}"
            );
        }
    }

    #[test]
    fn short_messages_are_told_by_their_little_words() {
        for (text, lang) in [
            ("c'est quoi CAR-T", "fr"),
            ("qu'est-ce que l'immunothérapie", "fr"),
            ("wie lange dauert das", "de"),
            ("o que é imunoterapia", "pt"),
            ("qué es el car-t", "es"),
            ("was ist CAR-T", "de"),
            ("keytruda non funziona più", "it"),
            ("ne yapmalıyız şimdi", "tr"),
        ] {
            assert_eq!(
                uncovered_language(text, &en(), known).as_deref(),
                Some(lang),
                "{text}"
            );
        }
        // English with a word or two the others share stays English
        for text in [
            "what is the car-t therapy",
            "does he die from this",
            "what now",
        ] {
            assert_eq!(uncovered_language(text, &en(), known), None, "{text}");
        }
    }

    #[test]
    fn english_and_short_text_pass() {
        for text in [
            "what is car-t therapy",
            "pd-1 + ctla-4",
            "ok",
            "🙂🙂",
            "CT041 car-t solid tumors",
        ] {
            assert_eq!(uncovered_language(text, &en(), known), None, "{text}");
        }
        let covered = vec!["en".to_string(), "es".to_string()];
        assert_eq!(
            uncovered_language(
                "¿Puede funcionar Opdivo si Keytruda ya falló?",
                &covered,
                known
            ),
            None
        );
    }
}
