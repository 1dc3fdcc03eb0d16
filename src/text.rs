//! Text helpers shared by content parsing, query analysis and intent rules: normalising what a
//! user typed, splitting it into words, and measuring how far apart two words are.

/// Longest user text the core looks at, in characters. A Telegram message holds at most 4,096;
/// the CLI and stdin batch accept anything, so longer input is cut here rather than searched whole.
pub const MAX_INPUT_CHARS: usize = 4096;

/// Cleans raw user text: drops control characters (NUL included) except whitespace, unifies
/// typographic quotes and dashes, collapses runs of whitespace and trims. Cut to
/// [`MAX_INPUT_CHARS`] characters.
pub fn clean(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len().min(MAX_INPUT_CHARS * 4));
    let mut pending_space = false;
    for c in raw.chars().take(MAX_INPUT_CHARS) {
        let c = match c {
            '\u{2018}' | '\u{2019}' | '\u{201B}' | '\u{2032}' | '`' | '\u{00B4}' => '\'',
            '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{00AB}' | '\u{00BB}' => '"',
            '\u{2010}'..='\u{2015}' | '\u{2212}' => '-',
            '\u{00A0}' | '\u{3000}' => ' ',
            c => c,
        };
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if c.is_control() || is_invisible(c) {
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(c);
    }
    out
}

/// Zero-width and bidirectional formatting characters: invisible, but they split or glue words.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}')
}

/// Lower-cased words of `text`: runs of letters and digits, with apostrophes inside a word
/// dropped ("don't" → "dont") so contractions match however they are typed. Hyphens and all
/// other punctuation separate words, matching how the index tokenizes ("car-t" → "car", "t").
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_alphanumeric() {
            cur.extend(c.to_lowercase());
        } else if c == '\'' && !cur.is_empty() && chars.peek().is_some_and(|n| n.is_alphanumeric())
        {
            // "don't", "mum's": keep the word whole
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Optimal-string-alignment distance (Levenshtein plus adjacent transpositions), giving up
/// early with `None` once it must exceed `max`. Typing on a phone mostly drops, doubles or swaps
/// letters, which this counts as one edit each.
pub fn edit_distance(a: &str, b: &str, max: usize) -> Option<usize> {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > max {
        return None;
    }
    let width = b.len() + 1;
    let mut prev2 = vec![0usize; width];
    let mut prev: Vec<usize> = (0..width).collect();
    let mut cur = vec![0usize; width];
    for i in 1..=a.len() {
        cur[0] = i;
        let mut row_min = cur[0];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(prev2[j - 2] + 1);
            }
            cur[j] = d;
            row_min = row_min.min(d);
        }
        if row_min > max {
            return None;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    Some(prev[b.len()]).filter(|&d| d <= max)
}

/// A stable 64-bit FNV-1a hash. Used to notice changed content; not for security.
#[derive(Debug, Clone, Copy)]
pub struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv64 {
    pub fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    pub fn finish(&self) -> u64 {
        self.0
    }
}

/// Unix milliseconds as `YYYY-MM-DD HH:MM UTC` (for cards and reports; no time zone data).
pub fn format_utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// A duration in milliseconds as "3 d 4 h", "2 h 5 min" or "7 min".
pub fn format_age(ms: i64) -> String {
    let mins = ms.max(0) / 60_000;
    let (d, h, m) = (mins / 1440, mins % 1440 / 60, mins % 60);
    if d > 0 {
        format!("{d} d {h} h")
    } else if h > 0 {
        format!("{h} h {m} min")
    } else {
        format!("{m} min")
    }
}

/// The proleptic Gregorian date of a day counted from 1970-01-01 (Howard Hinnant's
/// `civil_from_days`): eras of 400 years, years starting in March so the leap day comes last.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, 0..=146_096
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // year of era, 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of the March-based year, 0..=365
    let mp = (5 * doy + 2) / 153; // March = 0
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The number of UTF-16 code units in `s`: how Telegram counts message length.
pub fn utf16_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// Text safe to print on a terminal: control characters (which could move the cursor or
/// change colours) and bidirectional overrides (which could reorder what is shown) become
/// `?`; newlines are kept only when `keep_newlines`, tabs become spaces.
pub fn printable(s: &str, keep_newlines: bool) -> String {
    s.chars()
        .map(|c| match c {
            '\n' if keep_newlines => '\n',
            '\t' | '\n' | '\r' => ' ',
            '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => '?',
            c if c.is_control() => '?',
            c => c,
        })
        .collect()
}

/// [`printable`] on one line, cut to `max` characters with an ellipsis.
pub fn one_line(s: &str, max: usize) -> String {
    let clean = printable(s, false);
    if clean.chars().count() <= max {
        return clean;
    }
    let mut cut: String = clean.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    #[test]
    fn text_for_the_terminal_is_defused() {
        assert_eq!(super::printable("a\u{1b}[31mred", false), "a?[31mred");
        assert_eq!(super::printable("x\u{202e}y", false), "x?y");
        assert_eq!(super::printable("a\nb\tc", true), "a\nb c");
        assert_eq!(super::printable("a\nb", false), "a b");
        assert_eq!(one_line("abcdef", 4), "abc…");
        assert_eq!(one_line("abcd", 4), "abcd");
    }

    use super::*;

    #[test]
    fn clean_drops_controls_and_unifies_punctuation() {
        assert_eq!(
            clean("  a\u{0}b\t\n c\u{2019}s \u{201C}x\u{201D} "),
            "ab c's \"x\""
        );
        assert_eq!(clean("\u{200F}שלום\u{200E}"), "שלום");
        assert_eq!(clean(""), "");
        assert_eq!(clean(&"x".repeat(20_000)).chars().count(), MAX_INPUT_CHARS);
    }

    #[test]
    fn words_split_on_punctuation_and_keep_contractions() {
        assert_eq!(
            words("CAR-T, don't PD-1!"),
            vec!["car", "t", "dont", "pd", "1"]
        );
        assert_eq!(words("Можно ли CAR-T?"), vec!["можно", "ли", "car", "t"]);
        assert!(words("🙏🙏 ...").is_empty());
    }

    #[test]
    fn edit_distance_counts_swaps_as_one() {
        assert_eq!(edit_distance("keytrda", "keytruda", 2), Some(1));
        assert_eq!(edit_distance("imunotherapy", "immunotherapy", 2), Some(1));
        assert_eq!(edit_distance("tehrapy", "therapy", 2), Some(1));
        assert_eq!(edit_distance("cat", "elephant", 2), None);
        assert_eq!(edit_distance("same", "same", 0), Some(0));
    }

    #[test]
    fn fnv_is_stable() {
        let mut h = Fnv64::default();
        h.write(b"faq");
        assert_eq!(h.finish(), {
            let mut g = Fnv64::default();
            g.write(b"f");
            g.write(b"aq");
            g.finish()
        });
        assert_ne!(h.finish(), Fnv64::default().finish());
    }

    #[test]
    fn utc_and_ages() {
        assert_eq!(format_utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_utc(1_795_711_800_000), "2026-11-26 16:50 UTC");
        assert_eq!(format_utc(951_782_400_000), "2000-02-29 00:00 UTC");
        assert_eq!(format_age(7 * 60_000), "7 min");
        assert_eq!(format_age((2 * 60 + 5) * 60_000), "2 h 5 min");
        assert_eq!(format_age((3 * 1440 + 4 * 60) * 60_000), "3 d 4 h");
    }

    #[test]
    fn utf16_counts_emoji_as_two() {
        assert_eq!(utf16_len("a😀"), 3);
    }

    #[test]
    fn civil_from_days_agrees_with_counting_days() {
        let mut date = (1970_i64, 1_u32, 1_u32);
        for days in 0..=200_000 {
            assert_eq!(civil_from_days(days), date, "day {days}");
            let (y, m, d) = date;
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let len = match m {
                2 if leap => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            date = match (d < len, m < 12) {
                (true, _) => (y, m, d + 1),
                (false, true) => (y, m + 1, 1),
                (false, false) => (y + 1, 1, 1),
            };
        }
    }
}
