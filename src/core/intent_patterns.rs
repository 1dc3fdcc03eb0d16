// How the rules of `intents.toml` become one regular expression per group. Shared, with
// `include!`, by `build.rs`, which compiles the groups into DFAs, and by the intents' tests,
// which check those DFAs against the regex crate.

/// One pattern for a group of rules: any of them. The rules are matched against lower-cased
/// text and are lower case themselves (a test checks), so no `(?i)`; `\b` and `\w` mean ASCII
/// word characters ([`ascii_words`]).
fn alternation<'a>(patterns: impl IntoIterator<Item = &'a String>) -> String {
    let parts: Vec<String> = patterns
        .into_iter()
        .map(|p| format!("(?:{})", ascii_words(p)))
        .collect();
    parts.join("|")
}

/// `pattern` with its `\b` and `\w` outside brackets made ASCII (`(?-u:\b)`, `(?-u:\w)`): a
/// DFA cannot decide Unicode word boundaries, and the rules using them are English ones (the
/// other languages' use none); an English word next to Chinese or Arabic text still has its
/// boundary, which Unicode's rule would deny.
fn ascii_words(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('b' | 'w')) if !in_class => {
                    out.push_str("(?-u:\\");
                    out.push(e);
                    out.push(')');
                }
                Some(e) => {
                    out.push('\\');
                    out.push(e);
                }
                None => out.push('\\'),
            },
            '[' => {
                in_class = true;
                out.push(c);
            }
            ']' => {
                in_class = false;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// `pattern` with each `@{name}` replaced by the phrases listed under `name` in the rules'
/// `[words]` table, as one group `(?:a|b|…)`: so that the smalltalk rules, which must match a
/// whole message made only of such phrases, can be read as sentences rather than as one long
/// expression. A phrase may use `@{…}` itself (up to 8 levels). An unknown name, or `@{`
/// without its `}`, is an error naming it.
fn expand_words(
    pattern: &str,
    words: &std::collections::BTreeMap<String, Vec<String>>,
) -> Result<String, String> {
    let mut out = pattern.to_string();
    // one pass replaces every name written at one level of nesting
    for _ in 0..8 {
        if !out.contains("@{") {
            return Ok(out);
        }
        let mut next = String::with_capacity(out.len() * 4);
        let mut rest = out.as_str();
        while let Some(start) = rest.find("@{") {
            let end = rest[start..]
                .find('}')
                .map(|i| start + i)
                .ok_or_else(|| format!("`@{{` without `}}` in {pattern:?}"))?;
            let name = &rest[start + 2..end];
            let phrases = words
                .get(name)
                .ok_or_else(|| format!("@{{{name}}} in {pattern:?}: no such list in [words]"))?;
            next.push_str(&rest[..start]);
            next.push_str(&format!("(?:{})", phrases.join("|")));
            rest = &rest[end + 1..];
        }
        next.push_str(rest);
        out = next;
    }
    if out.contains("@{") {
        Err(format!("{pattern:?}: [words] nested more than 8 levels deep"))
    } else {
        Ok(out)
    }
}
