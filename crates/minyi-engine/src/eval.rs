//! Evaluation: macro-F1, accuracy, per-class scores and per-message latency.

use crate::data::Example;
use crate::model::Model;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

/// Precision, recall and F1 of one label.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ClassScore {
    /// Share of the predictions of this label that were right.
    pub precision: f64,
    /// Share of the examples of this label that were found.
    pub recall: f64,
    /// Harmonic mean of precision and recall (0 when both are 0).
    pub f1: f64,
    /// Examples of this label in the evaluation set.
    pub support: usize,
}

/// The result of [`evaluate`]. Serialises (field order fixed) to
/// `{"macro_f1":…,"accuracy":…,"per_class":{…},"p50_us":…,"p99_us":…,"n":…}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvalReport {
    /// Unweighted mean F1 over the labels that occur as gold or as prediction.
    pub macro_f1: f64,
    /// Share of examples whose top prediction is the gold label.
    pub accuracy: f64,
    /// Scores per label.
    pub per_class: BTreeMap<String, ClassScore>,
    /// Median time to classify one message (normalisation, segmentation, features, scores,
    /// calibration and explanation), in microseconds, single thread.
    pub p50_us: f64,
    /// 99th percentile of the same time, in microseconds.
    pub p99_us: f64,
    /// Examples evaluated.
    pub n: usize,
}

/// Classifies each example with `model` (top 1, one at a time, timed) and scores the result.
pub fn evaluate(model: &Model, examples: &[Example]) -> EvalReport {
    let mut predicted = Vec::with_capacity(examples.len());
    let mut nanos = Vec::with_capacity(examples.len());
    for e in examples {
        let started = Instant::now();
        let top = model.predict(&e.title, &e.detail, 1);
        nanos.push(started.elapsed().as_nanos() as u64);
        predicted.push(top.into_iter().next().map(|p| p.label).unwrap_or_default());
    }
    let gold: Vec<&str> = examples.iter().map(|e| e.label.as_str()).collect();
    let predicted: Vec<&str> = predicted.iter().map(String::as_str).collect();
    let mut report = score(&gold, &predicted);
    nanos.sort_unstable();
    report.p50_us = percentile(&nanos, 50.0) / 1000.0;
    report.p99_us = percentile(&nanos, 99.0) / 1000.0;
    report
}

/// Scores predictions against gold labels (latencies left at 0).
pub fn score(gold: &[&str], predicted: &[&str]) -> EvalReport {
    let labels: BTreeSet<&str> = gold
        .iter()
        .chain(predicted)
        .copied()
        .filter(|l| !l.is_empty())
        .collect();
    let mut per_class = BTreeMap::new();
    for label in &labels {
        let tp = gold
            .iter()
            .zip(predicted)
            .filter(|(g, p)| *g == label && *p == label)
            .count();
        let support = gold.iter().filter(|g| *g == label).count();
        let predicted_n = predicted.iter().filter(|p| *p == label).count();
        let precision = ratio(tp, predicted_n);
        let recall = ratio(tp, support);
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        per_class.insert(
            (*label).to_owned(),
            ClassScore {
                precision,
                recall,
                f1,
                support,
            },
        );
    }
    let macro_f1 = if per_class.is_empty() {
        0.0
    } else {
        per_class.values().map(|c| c.f1).sum::<f64>() / per_class.len() as f64
    };
    let correct = gold.iter().zip(predicted).filter(|(g, p)| g == p).count();
    EvalReport {
        macro_f1,
        accuracy: ratio(correct, gold.len()),
        per_class,
        p50_us: 0.0,
        p99_us: 0.0,
        n: gold.len(),
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_match_hand_computed_macro_f1() {
        let gold = ["a", "a", "b", "b", "c"];
        let predicted = ["a", "b", "b", "b", "a"];
        let report = score(&gold, &predicted);
        // a: P 1/2 R 1/2 F 0.5; b: P 2/3 R 1 F 0.8; c: P 0 R 0 F 0.
        assert!((report.macro_f1 - (0.5 + 0.8 + 0.0) / 3.0).abs() < 1e-12);
        assert!((report.accuracy - 0.6).abs() < 1e-12);
        assert_eq!(report.per_class["b"].support, 2);
        assert_eq!(report.n, 5);
    }

    #[test]
    fn report_serialises_with_the_agreed_field_order() {
        let json = serde_json::to_string(&score(&["a"], &["a"])).unwrap_or_default();
        assert!(
            json.starts_with("{\"macro_f1\":1.0,\"accuracy\":1.0,\"per_class\":{\"a\":"),
            "{json}"
        );
        assert!(
            json.ends_with("\"p50_us\":0.0,\"p99_us\":0.0,\"n\":1}"),
            "{json}"
        );
    }

    #[test]
    fn percentile_uses_nearest_rank() {
        let values: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&values, 50.0), 50.0);
        assert_eq!(percentile(&values, 99.0), 99.0);
        assert_eq!(percentile(&[7], 99.0), 7.0);
    }
}
