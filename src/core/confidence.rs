//! How sure the engine is that the best passage answers the question: one number between 0
//! and 1, from which the reply is chosen (answer, suggestions to choose from, or nothing found).
//!
//! It is a logistic model of three things the search measures for the best passage:
//!
//! - its coverage: the weighted share of the question's meaningful words it contains (a
//!   passage that says nothing about half of the question is rarely the answer);
//! - its lead over the second passage: the logarithm of one plus the difference of their
//!   ranking scores (two passages scoring alike are often siblings on the same subject, of
//!   which the question may mean either);
//! - the logarithm of its ranking score: how strongly the words it shares with the question
//!   tell it apart from the other passages (a match on rare, telling words scores higher
//!   than one on words every passage has, and questions about something else share only
//!   such common words with the guide).
//!
//! Coverage alone cannot tell a right first passage from a wrong one on questions written in
//! other words than the guide's; the three together can (measured in the README's "Answer
//! quality"). The weights were fitted by `scripts/calibrate.py` on question sets labelled with
//! the passage that answers them. It is no longer compared with a threshold itself: it is part
//! of the relevance (`QuestionModel::relevance`, compared with `search.suggest_confidence`),
//! and stands in for the certainty (`search.answer_certainty`) for a passage the question model
//! does not know. Refit after the content grows or the ranking changes, then retrain the
//! question model (`scripts/train_ranker.py`), which reads it.

use crate::search::Hit;

/// The model's weights: `confidence = 1 / (1 + e^-(BIAS + COVERAGE·c + LEAD·ln(1 + s - s₂) + LOG_SCORE·ln s))`.
/// Fitted on dev, A, B, holdout and the two calibration sets together; fitted on A alone (with
/// holdout and the calibration sets) or on B alone instead, the AUC on the other set moves by
/// less than 0.01 (README, "Answer quality").
const BIAS: f32 = -2.471;
const COVERAGE: f32 = 1.558;
const LEAD: f32 = 1.107;
const LOG_SCORE: f32 = 0.842;

/// Ranking scores are positive; this keeps the logarithm finite.
const MIN_SCORE: f32 = 1e-3;

/// The confidence that the first of `hits` (best first) answers the question; 0 when there is
/// none.
pub fn confidence(hits: &[Hit]) -> f32 {
    let Some(best) = hits.first() else {
        return 0.0;
    };
    let score = best.score.max(MIN_SCORE);
    let second = hits.get(1).map_or(0.0, |h| h.score.clamp(0.0, score));
    let lead = (score - second).ln_1p();
    let z = BIAS + COVERAGE * best.coverage + LEAD * lead + LOG_SCORE * score.ln();
    1.0 / (1.0 + (-z).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(score: f32, coverage: f32) -> Hit {
        Hit::scored("p", score, coverage)
    }

    #[test]
    fn more_coverage_a_larger_lead_and_a_higher_score_each_raise_it() {
        let base = confidence(&[hit(10.0, 0.5), hit(6.0, 0.5)]);
        assert!(confidence(&[hit(10.0, 0.8), hit(6.0, 0.5)]) > base);
        assert!(confidence(&[hit(10.0, 0.5), hit(3.0, 0.5)]) > base);
        assert!(confidence(&[hit(20.0, 0.5), hit(12.0, 0.5)]) > base);
    }

    #[test]
    fn it_stays_between_0_and_1_on_any_scores() {
        assert_eq!(confidence(&[]), 0.0);
        for (s1, c1, s2) in [
            (0.0, 0.0, 0.0),
            (-1.0, 0.0, 5.0),
            (f32::MAX, 1.0, 0.0),
            (1e-9, 1.0, 1e-9),
            (5.0, 1.0, 50.0),
        ] {
            let c = confidence(&[hit(s1, c1), hit(s2, 0.0)]);
            assert!((0.0..=1.0).contains(&c), "{s1} {c1} {s2}: {c}");
        }
        let alone = confidence(&[hit(10.0, 0.6)]);
        assert!((0.0..=1.0).contains(&alone));
    }
}
