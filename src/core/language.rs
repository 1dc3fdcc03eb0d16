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
