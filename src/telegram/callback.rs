//! Inline-button callback data: what a button asks for, as a short string Telegram hands back
//! when it is pressed. Anyone can send any callback data to the bot, so [`Callback::decode`]
//! accepts only the exact forms [`Callback::encode`] writes; everything else is `None`, and the
//! caller answers politely without acting.
//!
//! | callback | data |
//! |---|---|
//! | `Feedback { helpful: true, passage }` | `f:y:<passage id>` |
//! | `Feedback { helpful: false, passage }` | `f:n:<passage id>` |
//! | `Read(id)` | `r:<passage id>` |
//! | `Choose(id)` (a suggestion chosen) | `s:<passage id>` |
//! | `Topics(page)` | `t:<page>` (decimal, no leading zeros) |
//! | `Forget { confirm: true }` / `false` | `g:y` / `g:n` |
//! | `Human(Ask::Asked)` / `NoMatch` / `NotHelpful` | `h` / `h:m` / `h:u` |
//! | `HumanConfirm(…)` (same reasons) | `h:y` / `h:y:m` / `h:y:u` |
//! | `HumanCancel` | `h:n` |
//! | `StartTopics` | `b` |
//! | `Claim(escalation)` / `Close(escalation)` (coordinators' card) | `c:<id>` / `x:<id>` |
//!
//! Passage ids are content ids: 1 to [`MAX_ID_LEN`] characters `[a-z0-9-]`, so the longest data
//! (`f:y:` and 40 characters) is 44 bytes, well within Telegram's 64.

use crate::content::MAX_ID_LEN;

/// Telegram's limit on callback data, in bytes.
pub const MAX_DATA_BYTES: usize = 64;

/// What a pressed inline button asks for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Callback {
    /// Helpful / Not helpful under an answer.
    Feedback { helpful: bool, passage: String },
    /// Show a whole passage.
    Read(String),
    /// Show a passage offered among suggestions ("which of these do you mean?"): as `Read`,
    /// and recorded as the suggestion chosen, for the editors' report.
    Choose(String),
    /// A page of the topic list, counted from 0.
    Topics(u32),
    /// `/forget`: `confirm: true` erases the user's data, `false` cancels.
    Forget { confirm: bool },
    /// Talk to a coordinator (asks for confirmation), and why it was offered.
    Human(Ask),
    /// The confirmed request for a coordinator.
    HumanConfirm(Ask),
    /// The request for a coordinator was not confirmed.
    HumanCancel,
    /// "Browse topics" under the welcome message.
    StartTopics,
    /// A coordinator takes an escalation (button on its card).
    Claim(i64),
    /// A coordinator closes an escalation (button on its card).
    Close(i64),
}

/// Why a coordinator was offered: the caregiver asked, the bot found nothing twice, or an
/// answer was not helpful.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ask {
    Asked,
    NoMatch,
    NotHelpful,
}

impl Ask {
    fn suffix(self) -> &'static str {
        match self {
            Ask::Asked => "",
            Ask::NoMatch => ":m",
            Ask::NotHelpful => ":u",
        }
    }

    fn from_suffix(s: &str) -> Option<Ask> {
        match s {
            "" => Some(Ask::Asked),
            ":m" => Some(Ask::NoMatch),
            ":u" => Some(Ask::NotHelpful),
            _ => None,
        }
    }
}

/// Whether `id` can be a passage id: 1 to [`MAX_ID_LEN`] lower-case ASCII letters, digits and
/// hyphens, as content ids are checked when the guides are read.
pub fn is_passage_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl Callback {
    /// The callback data, never longer than [`MAX_DATA_BYTES`]. A passage id that is not valid
    /// (see [`is_passage_id`]) is cut to fit, and the result is data that [`Callback::decode`]
    /// rejects; callers build buttons only for valid ids.
    pub fn encode(&self) -> String {
        let data = match self {
            Callback::Feedback { helpful, passage } => {
                format!("f:{}:{passage}", if *helpful { 'y' } else { 'n' })
            }
            Callback::Read(id) => format!("r:{id}"),
            Callback::Choose(id) => format!("s:{id}"),
            Callback::Topics(page) => format!("t:{page}"),
            Callback::Forget { confirm } => format!("g:{}", if *confirm { 'y' } else { 'n' }),
            Callback::Human(ask) => format!("h{}", ask.suffix()),
            Callback::HumanConfirm(ask) => format!("h:y{}", ask.suffix()),
            Callback::HumanCancel => "h:n".to_string(),
            Callback::StartTopics => "b".to_string(),
            Callback::Claim(id) => format!("c:{id}"),
            Callback::Close(id) => format!("x:{id}"),
        };
        cut_to(data, MAX_DATA_BYTES)
    }

    /// Reads callback data written by [`Callback::encode`]. Anything else (an unknown prefix,
    /// an id with other characters or too long, a page that is not a plain decimal `u32`,
    /// trailing text) is `None`.
    pub fn decode(data: &str) -> Option<Callback> {
        if data.is_empty() || data.len() > MAX_DATA_BYTES {
            return None;
        }
        let passage = |id: &str| is_passage_id(id).then(|| id.to_string());
        match data {
            "h:n" => return Some(Callback::HumanCancel),
            "b" => return Some(Callback::StartTopics),
            "g:y" => return Some(Callback::Forget { confirm: true }),
            "g:n" => return Some(Callback::Forget { confirm: false }),
            _ => {}
        }
        if let Some(id) = data.strip_prefix("f:y:") {
            return passage(id).map(|passage| Callback::Feedback {
                helpful: true,
                passage,
            });
        }
        if let Some(id) = data.strip_prefix("f:n:") {
            return passage(id).map(|passage| Callback::Feedback {
                helpful: false,
                passage,
            });
        }
        if let Some(id) = data.strip_prefix("r:") {
            return passage(id).map(Callback::Read);
        }
        if let Some(id) = data.strip_prefix("s:") {
            return passage(id).map(Callback::Choose);
        }
        if let Some(page) = data.strip_prefix("t:") {
            return parse_page(page).map(Callback::Topics);
        }
        if let Some(rest) = data.strip_prefix("h:y") {
            return Ask::from_suffix(rest).map(Callback::HumanConfirm);
        }
        if let Some(rest) = data.strip_prefix('h') {
            return Ask::from_suffix(rest).map(Callback::Human);
        }
        let escalation = |s: &str| parse_page(s).filter(|&n| n > 0).map(i64::from);
        if let Some(id) = data.strip_prefix("c:") {
            return escalation(id).map(Callback::Claim);
        }
        if let Some(id) = data.strip_prefix("x:") {
            return escalation(id).map(Callback::Close);
        }
        None
    }
}

/// A page number exactly as `encode` writes it: ASCII digits, no sign, no leading zero.
fn parse_page(s: &str) -> Option<u32> {
    let canonical =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    if canonical {
        s.parse().ok()
    } else {
        None
    }
}

/// `s` cut to at most `max` bytes, on a character boundary.
fn cut_to(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_kinds() -> Vec<Callback> {
        let longest = "a".repeat(MAX_ID_LEN);
        vec![
            Callback::Feedback {
                helpful: true,
                passage: "car-t".into(),
            },
            Callback::Feedback {
                helpful: false,
                passage: longest.clone(),
            },
            Callback::Feedback {
                helpful: true,
                passage: "0-9".into(),
            },
            Callback::Read("faq-second-opinion".into()),
            Callback::Read(longest),
            Callback::Read("x".into()),
            Callback::Choose("faq-when-to-stop".into()),
            Callback::Choose("a".repeat(MAX_ID_LEN)),
            Callback::Topics(0),
            Callback::Topics(7),
            Callback::Topics(u32::MAX),
            Callback::Forget { confirm: true },
            Callback::Forget { confirm: false },
            Callback::Human(Ask::Asked),
            Callback::Human(Ask::NoMatch),
            Callback::Human(Ask::NotHelpful),
            Callback::HumanConfirm(Ask::Asked),
            Callback::HumanConfirm(Ask::NoMatch),
            Callback::HumanConfirm(Ask::NotHelpful),
            Callback::HumanCancel,
            Callback::StartTopics,
            Callback::Claim(1),
            Callback::Close(4_000_000_000),
        ]
    }

    #[test]
    fn every_callback_round_trips_within_64_bytes() {
        for cb in all_kinds() {
            let data = cb.encode();
            assert!(
                !data.is_empty() && data.len() <= MAX_DATA_BYTES,
                "{cb:?} → {data}"
            );
            assert_eq!(Callback::decode(&data), Some(cb.clone()), "{data}");
        }
    }

    #[test]
    fn data_formats_are_short_and_distinct() {
        assert_eq!(
            Callback::Feedback {
                helpful: true,
                passage: "adc".into()
            }
            .encode(),
            "f:y:adc"
        );
        assert_eq!(Callback::Read("adc".into()).encode(), "r:adc");
        assert_eq!(Callback::Choose("adc".into()).encode(), "s:adc");
        assert_eq!(Callback::Topics(3).encode(), "t:3");
        assert_eq!(Callback::Forget { confirm: true }.encode(), "g:y");
        assert_eq!(Callback::Human(Ask::Asked).encode(), "h");
        assert_eq!(Callback::HumanConfirm(Ask::NotHelpful).encode(), "h:y:u");
        assert_eq!(Callback::Close(12).encode(), "x:12");
        for forged in ["h:q", "h:y:z", "c:0", "c:-1", "x:012", "c:", "x:1a"] {
            assert_eq!(Callback::decode(forged), None, "{forged}");
        }
        let mut seen: Vec<String> = all_kinds().iter().map(Callback::encode).collect();
        let n = seen.len();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), n);
    }

    #[test]
    fn forged_data_is_rejected() {
        let forged = [
            "",
            "x",
            "H",
            "h ",
            " h",
            "h:y:",
            "b:1",
            "g:",
            "g:yes",
            "g:Y",
            "f:y:",
            "f:x:adc",
            "f:y:ADC",
            "f:y:adc ",
            "f:y:a_c",
            "f:y:../etc",
            "f:y:адц",
            "f::adc",
            "r:",
            "r:a/b",
            "r:a:b",
            "r:<b>",
            "r:a\0",
            "s:",
            "s:A",
            "s:a b",
            "s:../x",
            "t:",
            "t:-1",
            "t:+1",
            "t:01",
            "t:1.0",
            "t:x",
            "t: 1",
            "t:4294967296",
            "t:99999999999999999999",
            "q:adc",
        ];
        for data in forged {
            assert_eq!(Callback::decode(data), None, "{data:?}");
        }
        let overlong_id = format!("r:{}", "a".repeat(MAX_ID_LEN + 1));
        assert_eq!(Callback::decode(&overlong_id), None);
        let overlong_data = format!("r:{}", "a".repeat(100));
        assert_eq!(Callback::decode(&overlong_data), None);
    }

    #[test]
    fn invalid_ids_encode_short_and_never_decode() {
        let bad = [
            "a".repeat(MAX_ID_LEN + 1),
            "é".repeat(200),
            format!("{}_", "a".repeat(60)),
            "Upper".to_string(),
            String::new(),
        ];
        for id in bad {
            for cb in [
                Callback::Read(id.clone()),
                Callback::Choose(id.clone()),
                Callback::Feedback {
                    helpful: false,
                    passage: id.clone(),
                },
            ] {
                let data = cb.encode();
                assert!(data.len() <= MAX_DATA_BYTES, "{data}");
                assert_eq!(Callback::decode(&data), None, "{data}");
            }
        }
    }

    #[test]
    fn passage_ids_match_content_ids() {
        assert!(is_passage_id("faq-car-t"));
        assert!(is_passage_id(&"9".repeat(MAX_ID_LEN)));
        assert!(!is_passage_id(""));
        assert!(!is_passage_id("Car-T"));
        assert!(!is_passage_id("a b"));
        assert!(!is_passage_id(&"9".repeat(MAX_ID_LEN + 1)));
    }
}
