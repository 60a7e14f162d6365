//! One-vs-rest linear SVM (L2-regularised, squared hinge loss) trained by dual coordinate
//! descent (Hsieh et al. 2008, the liblinear solver `-s 1`), with a regularised bias feature of
//! value 1 as in liblinear and scikit-learn's `LinearSVC`.
//!
//! All classes advance one epoch at a time so progress can be reported per epoch; a class stops
//! when the spread of its projected gradient falls below the tolerance.

use crate::features::SparseVec;
use crate::rng::SplitMix64;

/// Solver settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SvmParams {
    /// Cost of a margin violation (larger = less regularisation).
    pub c: f64,
    /// Stop a class when its projected-gradient spread is at most this (liblinear's `eps`).
    pub tolerance: f64,
    /// Upper bound on epochs.
    pub max_epochs: usize,
    /// Seed of the visiting order.
    pub seed: u64,
}

/// Progress of one epoch: its number (from 1), the classes still moving and the largest
/// projected-gradient spread among them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct EpochReport {
    pub epoch: usize,
    pub active: usize,
    pub max_gap: f64,
}

/// Trains one weight vector per class (`n_features` weights followed by the bias) on sparse
/// `rows` labelled by class index `labels[i] < n_classes`. `class_cost[c]` multiplies `c` for
/// examples of class `c` in every binary problem.
pub(crate) fn train_ovr(
    rows: &[SparseVec],
    labels: &[usize],
    n_classes: usize,
    n_features: usize,
    class_cost: &[f64],
    params: SvmParams,
    mut on_epoch: impl FnMut(EpochReport),
) -> Vec<Vec<f64>> {
    let n = rows.len();
    let squared_norm: Vec<f64> = rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|&(_, v)| f64::from(v) * f64::from(v))
                .sum::<f64>()
                + 1.0
        })
        .collect();
    let mut weights = vec![vec![0.0f64; n_features + 1]; n_classes];
    let mut alpha = vec![vec![0.0f64; n]; n_classes];
    let mut active = vec![true; n_classes];
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = SplitMix64::new(params.seed);
    for epoch in 1..=params.max_epochs {
        let mut max_gap = 0.0f64;
        for class in 0..n_classes {
            if !active[class] {
                continue;
            }
            rng.shuffle(&mut order);
            let w = &mut weights[class];
            let a = &mut alpha[class];
            let (mut pg_max, mut pg_min) = (f64::NEG_INFINITY, f64::INFINITY);
            for &i in &order {
                let y = if labels[i] == class { 1.0 } else { -1.0 };
                let cost = params.c * class_cost.get(labels[i]).copied().unwrap_or(1.0);
                let diag = 0.5 / cost;
                let row = &rows[i];
                let mut dot = w[n_features];
                for &(j, v) in row {
                    dot += w[j as usize] * f64::from(v);
                }
                let g = y * dot - 1.0 + diag * a[i];
                let pg = if a[i] == 0.0 { g.min(0.0) } else { g };
                pg_max = pg_max.max(pg);
                pg_min = pg_min.min(pg);
                if pg.abs() > 1e-12 {
                    let old = a[i];
                    a[i] = (old - g / (squared_norm[i] + diag)).max(0.0);
                    let step = (a[i] - old) * y;
                    for &(j, v) in row {
                        w[j as usize] += step * f64::from(v);
                    }
                    w[n_features] += step;
                }
            }
            let gap = pg_max - pg_min;
            max_gap = max_gap.max(gap);
            if gap <= params.tolerance {
                active[class] = false;
            }
        }
        let still = active.iter().filter(|a| **a).count();
        on_epoch(EpochReport {
            epoch,
            active: still,
            max_gap,
        });
        if still == 0 {
            break;
        }
    }
    weights
}

/// Score of each class for `row`: `w·x + b`.
pub(crate) fn scores(weights: &[Vec<f64>], row: &SparseVec) -> Vec<f64> {
    weights
        .iter()
        .map(|w| {
            let bias = w.last().copied().unwrap_or(0.0);
            row.iter()
                .map(|&(j, v)| w[j as usize] * f64::from(v))
                .sum::<f64>()
                + bias
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separable_three_class_problem_is_learned_exactly() {
        // Class k lives on feature k (plus a shared noise feature 3).
        let mut rows = Vec::new();
        let mut labels = Vec::new();
        for i in 0..30 {
            let class = i % 3;
            let noise = (i as f32 * 0.37).sin() * 0.2;
            rows.push(vec![(class as u32, 1.0), (3, noise)]);
            labels.push(class);
        }
        let params = SvmParams {
            c: 1.0,
            tolerance: 1e-3,
            max_epochs: 500,
            seed: 7,
        };
        let mut epochs = 0;
        let weights = train_ovr(&rows, &labels, 3, 4, &[1.0; 3], params, |r| {
            epochs = r.epoch
        });
        assert!(epochs < 500, "did not converge");
        for (row, &label) in rows.iter().zip(&labels) {
            let s = scores(&weights, row);
            let best = (0..3).max_by(|&a, &b| s[a].total_cmp(&s[b])).unwrap_or(99);
            assert_eq!(best, label);
            assert!(s[label] > 0.0, "positive margin for the true class: {s:?}");
        }
    }

    #[test]
    fn training_is_deterministic_for_a_seed() {
        let rows: Vec<SparseVec> = (0..20)
            .map(|i| vec![((i % 4) as u32, 1.0), (4, 0.5)])
            .collect();
        let labels: Vec<usize> = (0..20).map(|i| i % 2).collect();
        let params = SvmParams {
            c: 0.5,
            tolerance: 0.01,
            max_epochs: 100,
            seed: 1,
        };
        let a = train_ovr(&rows, &labels, 2, 5, &[1.0; 2], params, |_| {});
        let b = train_ovr(&rows, &labels, 2, 5, &[1.0; 2], params, |_| {});
        assert_eq!(a, b);
    }
}
