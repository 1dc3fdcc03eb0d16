//! The anchored phrasings, compiled when a message first needs them and kept while they are
//! used. Each compiled phrasing holds ~15 KB (its NFA and the regex engine's structures), and
//! a bot that meets every language long enough would otherwise keep all of them (~120 MB);
//! keeping the most recently used [`CAPACITY`] bounds that, at the price of compiling again a
//! phrasing that fell out (~0.4 ms). The capacity is set above what the dev set's 84 questions
//! need (256 thrashed there); BENCHMARKS.md has the measurements.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, PoisonError};

use lru::LruCache;
use regex_automata::meta::Regex;

/// How many compiled phrasings are kept.
pub const CAPACITY: usize = 1024;

/// A phrasing's compiled pattern, `None` when it does not compile (reported by the tests).
type Entry = Option<Arc<Regex>>;

/// Compiled phrasings by index, the least recently used dropped first.
pub struct Compiled {
    kept: Mutex<LruCache<usize, Entry>>,
}

impl Compiled {
    pub fn new(capacity: usize) -> Compiled {
        let capacity = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        Compiled {
            kept: Mutex::new(LruCache::new(capacity)),
        }
    }

    /// Whether phrasing `id` (whose pattern is `pattern`) matches `haystack`, compiling it
    /// with `compile` if it is not kept.
    pub fn is_match(
        &self,
        id: usize,
        pattern: &str,
        haystack: &[u8],
        compile: impl FnOnce(&str) -> Option<Regex>,
    ) -> bool {
        let kept = self.lock().get(&id).cloned();
        let regex = match kept {
            Some(regex) => regex,
            None => {
                // compiled outside the lock: another thread may compile the same phrasing
                // meanwhile, which costs time, not correctness
                let regex = compile(pattern).map(Arc::new);
                self.lock().put(id, regex.clone());
                regex
            }
        };
        regex.is_some_and(|r| r.is_match(haystack))
    }

    /// How many compiled phrasings are kept now.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<usize, Entry>> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::Compiled;
    use regex_automata::meta::Regex;

    #[test]
    fn keeps_the_most_recently_used_and_compiles_again_what_fell_out() {
        let compiled = Compiled::new(2);
        let compiles = std::cell::Cell::new(0);
        let compile = |p: &str| {
            compiles.set(compiles.get() + 1);
            Regex::new(p).ok()
        };
        assert!(compiled.is_match(0, "fever", b"a fever", compile));
        assert!(!compiled.is_match(1, "rash", b"a fever", compile));
        assert!(compiled.is_match(0, "fever", b"fever", compile));
        assert_eq!(compiles.get(), 2, "a kept phrasing is not compiled again");
        // 1 is now the least recently used: 2 pushes it out
        assert!(compiled.is_match(2, "bleed", b"bleeding", compile));
        assert_eq!(compiled.len(), 2);
        assert!(compiled.is_match(1, "rash", b"a rash", compile));
        assert_eq!(compiles.get(), 4, "a dropped phrasing is compiled again");
        assert!(
            !compiled.is_match(3, "(", b"(", |_| None),
            "a broken one never matches"
        );
    }
}
