/// The bucket of the common-English-word table a word falls in: one per first letter and
/// second letter or none, in alphabetical order, so that each bucket's words are a run of the
/// sorted table. `None` for a word that does not start with two (or one) of `a`–`z`, which the
/// table has none of. Shared by `build.rs`, which cuts the table, and the look-up.
fn bucket(word: &[u8]) -> Option<usize> {
    let letter = |b: u8| b.is_ascii_lowercase().then(|| usize::from(b - b'a'));
    let first = letter(*word.first()?)?;
    let second = match word.get(1) {
        None => 0,
        Some(&b) => letter(b)? + 1,
    };
    Some(first * 27 + second)
}
