//! Confidence calibration: a softmax over the one-vs-rest scores divided by a temperature `T`.
//!
//! `T` is fitted on a held-out slice of the training data (examples the scoring model did not
//! see) by minimising the negative log-likelihood of the true labels. The NLL is convex in
//! `1/T`, so a golden-section search over `ln(1/T)` in `[ln 0.01, ln 1000]` finds it. Dividing
//! by one positive `T` keeps the order of the classes, so calibration never changes the top
//! prediction, and a higher score always means a higher confidence.

/// Softmax of `scores / temperature`, computed stably.
pub fn softmax(scores: &[f64], temperature: f64) -> Vec<f64> {
    let t = if temperature > 0.0 { temperature } else { 1.0 };
    let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let exp: Vec<f64> = scores.iter().map(|s| ((s - max) / t).exp()).collect();
    let sum: f64 = exp.iter().sum();
    exp.into_iter().map(|e| e / sum).collect()
}

/// Mean negative log-likelihood of the true classes `gold[i]` under `softmax(scores[i] / t)`.
pub fn nll(scores: &[Vec<f64>], gold: &[usize], temperature: f64) -> f64 {
    if scores.is_empty() {
        return 0.0;
    }
    let total: f64 = scores
        .iter()
        .zip(gold)
        .map(|(s, &g)| {
            let max = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let lse = s
                .iter()
                .map(|x| ((x - max) / temperature).exp())
                .sum::<f64>()
                .ln();
            lse - (s.get(g).copied().unwrap_or(max) - max) / temperature
        })
        .sum();
    total / scores.len() as f64
}

/// The temperature minimising [`nll`] on held-out scores (1.0 when there are none).
pub fn fit_temperature(scores: &[Vec<f64>], gold: &[usize]) -> f64 {
    if scores.is_empty() {
        return 1.0;
    }
    // Search u = ln(1/T).
    let f = |u: f64| nll(scores, gold, (-u).exp());
    let (mut lo, mut hi) = (0.01f64.ln(), 1000.0f64.ln());
    let ratio = (5.0f64.sqrt() - 1.0) / 2.0;
    let mut x1 = hi - ratio * (hi - lo);
    let mut x2 = lo + ratio * (hi - lo);
    let (mut f1, mut f2) = (f(x1), f(x2));
    for _ in 0..80 {
        if f1 <= f2 {
            hi = x2;
            x2 = x1;
            f2 = f1;
            x1 = hi - ratio * (hi - lo);
            f1 = f(x1);
        } else {
            lo = x1;
            x1 = x2;
            f1 = f2;
            x2 = lo + ratio * (hi - lo);
            f2 = f(x2);
        }
    }
    (-(lo + hi) / 2.0).exp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confidence_rises_with_score_and_keeps_the_order() {
        for t in [0.05, 0.3, 1.0, 4.0] {
            let mut last = 0.0;
            for step in 0..20 {
                let s = -1.0 + step as f64 * 0.1;
                let p = softmax(&[s, 0.0, -0.5], t);
                assert!(p[0] > last, "T={t}: {p:?}");
                last = p[0];
                assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            }
            let p = softmax(&[0.9, 0.1, -0.4], t);
            assert!(p[0] > p[1] && p[1] > p[2]);
        }
    }

    #[test]
    fn fitted_temperature_minimises_the_held_out_nll() {
        // Scores that are right 80% of the time with a fixed margin: the right confidence for
        // the top class is about 0.8, which needs a specific temperature.
        let mut scores = Vec::new();
        let mut gold = Vec::new();
        for i in 0..100 {
            scores.push(vec![1.0, -0.2, -0.4]);
            gold.push(if i % 5 == 0 { 1 } else { 0 });
        }
        let t = fit_temperature(&scores, &gold);
        let best = nll(&scores, &gold, t);
        for other in [t * 0.8, t * 1.25, 1.0, 0.1] {
            assert!(
                best <= nll(&scores, &gold, other) + 1e-9,
                "T={t} vs {other}"
            );
        }
        let top = softmax(&scores[1], t)[0];
        assert!((top - 0.8).abs() < 0.02, "top confidence {top}");
    }
}
