//! faqbot's development tools, kept out of the shipped library and binary: the benchmark
//! content generator ([`synth`], and the `generate` binary over it) and the entry points the
//! fuzz targets and their regression tests share ([`fuzzing`]), and the tests' PostgreSQL
//! databases ([`pg`]).
//!
//! faqbot uses this crate as a dev-dependency only (benches, tests); it depends on faqbot, not
//! the other way round.

pub mod fuzzing;
pub mod pg;
pub mod synth;
