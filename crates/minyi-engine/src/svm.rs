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

/// Naive-Bayes feature scales per class (Wang & Manning 2012, NB-SVM): the magnitude of the
/// log-count ratio `r = ln((p / |p|₁) / (q / |q|₁))`, where `p` and `q` count, plus one, the
/// documents of the class and of the other classes holding each feature. The binary problem of
/// class `c` then sees `x ⊙ s_c`, so the regulariser spares features that tell `c` apart. Each
/// class's scales are divided by a constant so the mean squared norm of the scaled rows is 1,
/// which keeps `C` on the same footing as without scaling.
pub(crate) fn nb_scales(
    rows: &[SparseVec],
    labels: &[usize],
    n_classes: usize,
    n_features: usize,
) -> Vec<Vec<f64>> {
    let mut df = vec![vec![0.0f64; n_features]; n_classes];
    let mut total = vec![0.0f64; n_features];
    for (row, &label) in rows.iter().zip(labels) {
        for &(j, _) in row {
            df[label][j as usize] += 1.0;
            total[j as usize] += 1.0;
        }
    }
    (0..n_classes)
        .map(|c| {
            let p_sum: f64 = df[c].iter().map(|d| d + 1.0).sum();
            let q_sum: f64 = (0..n_features).map(|j| total[j] - df[c][j] + 1.0).sum();
            let mut scale: Vec<f64> = (0..n_features)
                .map(|j| {
                    let p = (df[c][j] + 1.0) / p_sum;
                    let q = (total[j] - df[c][j] + 1.0) / q_sum;
                    (p / q).ln().abs()
                })
                .collect();
            let mean_sq = rows
                .iter()
                .map(|r| {
                    r.iter()
                        .map(|&(j, v)| (f64::from(v) * scale[j as usize]).powi(2))
                        .sum::<f64>()
                })
                .sum::<f64>()
                / rows.len().max(1) as f64;
            if mean_sq > 0.0 {
                let k = mean_sq.sqrt().recip();
                scale.iter_mut().for_each(|s| *s *= k);
            }
            scale
        })
        .collect()
}

/// Trains one weight vector per class (`n_features` weights followed by the bias) on sparse
/// `rows` labelled by class index `labels[i] < n_classes`. `class_cost[c]` multiplies `c` for
/// examples of class `c` in every binary problem. With `scales` (one vector of `n_features` per
/// class, see [`nb_scales`]), class `c` learns on `x ⊙ scales[c]`; the returned weights have the
/// scales folded in, so scores are always `w·x + b` on the unscaled `x`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn train_ovr(
    rows: &[SparseVec],
    labels: &[usize],
    n_classes: usize,
    n_features: usize,
    class_cost: &[f64],
    scales: Option<&[Vec<f64>]>,
    params: SvmParams,
    mut on_epoch: impl FnMut(EpochReport),
) -> Vec<Vec<f64>> {
    let n = rows.len();
    let ones = vec![1.0f64; if scales.is_some() { 0 } else { n_features }];
    let scale_of = |class: usize| -> &[f64] { scales.map_or(&ones, |s| &s[class]) };
    let squared_norms: Vec<Vec<f64>> = (0..if scales.is_some() { n_classes } else { 1 })
        .map(|class| {
            let s = scale_of(class);
            rows.iter()
                .map(|r| {
                    r.iter()
                        .map(|&(j, v)| (f64::from(v) * s[j as usize]).powi(2))
                        .sum::<f64>()
                        + 1.0
                })
                .collect()
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
            let s = scale_of(class);
            let squared_norm = &squared_norms[class.min(squared_norms.len() - 1)];
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
                    dot += w[j as usize] * f64::from(v) * s[j as usize];
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
                        w[j as usize] += step * f64::from(v) * s[j as usize];
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
    if let Some(scales) = scales {
        for (w, s) in weights.iter_mut().zip(scales) {
            for (w, s) in w.iter_mut().zip(s) {
                *w *= s;
            }
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
        let weights = train_ovr(&rows, &labels, 3, 4, &[1.0; 3], None, params, |r| {
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
        let a = train_ovr(&rows, &labels, 2, 5, &[1.0; 2], None, params, |_| {});
        let b = train_ovr(&rows, &labels, 2, 5, &[1.0; 2], None, params, |_| {});
        assert_eq!(a, b);
    }

    #[test]
    fn nb_scales_favour_telling_features_and_fold_into_the_weights() {
        // Feature 0 marks class 0, feature 1 marks class 1, feature 2 is everywhere.
        let rows: Vec<SparseVec> = (0..40)
            .map(|i| vec![((i % 2) as u32, 0.8), (2, 0.6)])
            .collect();
        let labels: Vec<usize> = (0..40).map(|i| i % 2).collect();
        let scales = nb_scales(&rows, &labels, 2, 3);
        assert!(scales[0][0] > 10.0 * scales[0][2], "{scales:?}");
        assert!(scales[1][1] > 10.0 * scales[1][2], "{scales:?}");
        let params = SvmParams {
            c: 1.0,
            tolerance: 1e-3,
            max_epochs: 500,
            seed: 3,
        };
        let weights = train_ovr(
            &rows,
            &labels,
            2,
            3,
            &[1.0; 2],
            Some(&scales),
            params,
            |_| {},
        );
        for (row, &label) in rows.iter().zip(&labels) {
            let s = scores(&weights, row);
            assert!(s[label] > 0.0 && s[1 - label] < 0.0, "{s:?}");
        }
    }
}
