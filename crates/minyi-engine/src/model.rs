//! The classifier: TF-IDF features ([`crate::features`]), a one-vs-rest linear SVM
//! ([`crate::svm`]) and a softmax with a fitted temperature ([`crate::calibrate`]).
//!
//! Training with calibration runs the pipeline twice: first on all but a stratified held-out
//! slice ([`TrainConfig::calibration_fraction`]) to fit the temperature on scores of unseen
//! examples, then on everything for the weights that ship. Labels are opaque strings; when they
//! are catalogue paths (`城乡建设/物业管理`), [`Model::predict_level`] sums the leaf confidences
//! under each prefix so one model answers at every level of the tree.

use crate::calibrate;
use crate::data::Example;
use crate::error::EngineError;
use crate::features::{self, Doc, FeatureConfig, SparseVec, Vocabulary};
use crate::rng::SplitMix64;
use crate::segment::Segmenter;
use crate::svm::{self, SvmParams};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Separator of the levels of a label path.
pub const PATH_SEPARATOR: char = '/';

/// Training settings. The defaults are the ones measured in `bench/engine_kfold.sh`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrainConfig {
    /// How text becomes features.
    pub features: FeatureConfig,
    /// SVM cost `C` (larger = less regularisation).
    pub c: f64,
    /// Whether each class's cost is scaled by `n / (classes × n_class)` (helps small classes).
    pub balanced: bool,
    /// Whether each class's binary problem scales features by their naive-Bayes log-count
    /// ratio (NB-SVM); the scales are folded into the weights, so inference is unchanged.
    pub nb_scale: bool,
    /// Solver tolerance on the projected-gradient spread (liblinear's `eps`).
    pub tolerance: f64,
    /// Upper bound on solver epochs.
    pub max_epochs: usize,
    /// Share of the examples held out to fit the temperature (0 = no calibration, `T = 1`).
    pub calibration_fraction: f64,
    /// Seed of the held-out split and of the solver's visiting order.
    pub seed: u64,
    /// Extra dictionary words for the segmenter (catalogue, division and unit names); stored in
    /// the model so inference segments as training did.
    pub user_words: Vec<String>,
    /// How many features an explanation lists.
    pub explanation_len: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            features: FeatureConfig::default(),
            c: 1.0,
            balanced: true,
            nb_scale: true,
            tolerance: 0.1,
            max_epochs: 300,
            calibration_fraction: 0.1,
            seed: 20_240_601,
            user_words: Vec::new(),
            explanation_len: 8,
        }
    }
}

/// Which of the two fits a [`TrainEvent`] belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The fit on the training slice whose scores on the held-out slice give the temperature.
    Calibration,
    /// The fit on every example, which ships.
    Final,
}

/// Progress of [`Model::train_with_progress`].
#[derive(Debug, Clone, PartialEq)]
pub enum TrainEvent {
    /// A fit starts on `examples` examples.
    Fit {
        /// Which fit.
        stage: Stage,
        /// Examples in it.
        examples: usize,
    },
    /// The vocabulary of a fit is built.
    Vocabulary {
        /// Which fit.
        stage: Stage,
        /// Features kept.
        features: usize,
    },
    /// A solver epoch has finished.
    Epoch {
        /// Which fit.
        stage: Stage,
        /// Epoch number, from 1.
        epoch: usize,
        /// Classes not yet converged.
        active_classes: usize,
        /// Largest projected-gradient spread among the classes visited.
        max_gap: f64,
    },
    /// The temperature is fitted.
    Calibrated {
        /// The temperature.
        temperature: f64,
        /// Mean negative log-likelihood of the held-out labels at that temperature.
        held_out_nll: f64,
        /// Held-out examples.
        held_out: usize,
    },
}

/// One suggested label.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    /// The label (or, from [`Model::predict_level`], a label-path prefix).
    pub label: String,
    /// Calibrated probability in `[0, 1]`; the confidences of all labels sum to 1.
    pub confidence: f32,
    /// The features (characters, n-grams, words, word pairs shown as `甲 乙`) that added most
    /// to this label's score, largest first, with their contributions; only positive ones.
    pub explanation: Vec<(String, f32)>,
}

/// A trained classifier.
#[derive(Debug, Clone)]
pub struct Model {
    pub(crate) labels: Vec<String>,
    pub(crate) features: FeatureConfig,
    pub(crate) vocabulary: Vocabulary,
    /// Per feature `j`, `n_classes + 1` floats from `table[j * (n_classes + 1)]`: the IDF,
    /// then the weight of every class. Inference reads one short run per feature.
    pub(crate) table: Vec<f32>,
    pub(crate) bias: Vec<f32>,
    pub(crate) temperature: f64,
    pub(crate) segmenter: Segmenter,
    pub(crate) explanation_len: usize,
    pub(crate) trained_on: usize,
}

impl Model {
    /// Trains a model on `examples` (see [`Model::train_with_progress`]).
    pub fn train(examples: &[Example], config: &TrainConfig) -> Result<Self, EngineError> {
        Self::train_with_progress(examples, config, |_| {})
    }

    /// Trains a model on `examples`, reporting progress to `on_event`.
    ///
    /// Fails when fewer than two distinct labels occur or a setting is out of range.
    pub fn train_with_progress(
        examples: &[Example],
        config: &TrainConfig,
        mut on_event: impl FnMut(TrainEvent),
    ) -> Result<Self, EngineError> {
        validate(config)?;
        let labels: Vec<String> = examples
            .iter()
            .map(|e| e.label.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if labels.len() < 2 {
            return Err(EngineError::TooFewLabels {
                found: labels.len(),
            });
        }
        let label_index: FxHashMap<&str, usize> = labels
            .iter()
            .enumerate()
            .map(|(i, l)| (l.as_str(), i))
            .collect();
        let gold: Vec<usize> = examples
            .iter()
            .map(|e| label_index.get(e.label.as_str()).copied().unwrap_or(0))
            .collect();
        let segmenter = Segmenter::with_words(&config.user_words);
        let texts: Vec<Doc> = examples
            .iter()
            .map(|e| Doc::new(&e.title, &e.detail, &config.features))
            .collect();

        let mut temperature = 1.0;
        let (fit_part, held_out) = stratified_holdout(
            &gold,
            labels.len(),
            config.calibration_fraction,
            config.seed,
        );
        if !held_out.is_empty() {
            let sub_texts: Vec<Doc> = fit_part.iter().map(|&i| texts[i].clone()).collect();
            let sub_gold: Vec<usize> = fit_part.iter().map(|&i| gold[i]).collect();
            let (vocabulary, weights) = fit(
                &sub_texts,
                &sub_gold,
                labels.len(),
                &segmenter,
                config,
                Stage::Calibration,
                &mut on_event,
            );
            let scores: Vec<Vec<f64>> = held_out
                .iter()
                .map(|&i| {
                    let x = vocabulary.vectorise(&texts[i], &segmenter, &config.features);
                    svm::scores(&weights, &x)
                })
                .collect();
            let held_gold: Vec<usize> = held_out.iter().map(|&i| gold[i]).collect();
            temperature = calibrate::fit_temperature(&scores, &held_gold);
            on_event(TrainEvent::Calibrated {
                temperature,
                held_out_nll: calibrate::nll(&scores, &held_gold, temperature),
                held_out: held_out.len(),
            });
        }

        let (vocabulary, weights) = fit(
            &texts,
            &gold,
            labels.len(),
            &segmenter,
            config,
            Stage::Final,
            &mut on_event,
        );
        let n_classes = labels.len();
        let n_features = vocabulary.len();
        let mut flat = vec![0.0f32; n_features * n_classes];
        for (c, w) in weights.iter().enumerate() {
            for j in 0..n_features {
                flat[j * n_classes + c] = w[j] as f32;
            }
        }
        let table = pack(vocabulary.idf(), &flat, n_classes);
        let bias = weights.iter().map(|w| w[n_features] as f32).collect();
        Ok(Self {
            labels,
            features: config.features.clone(),
            vocabulary,
            table,
            bias,
            temperature,
            segmenter,
            explanation_len: config.explanation_len,
            trained_on: examples.len(),
        })
    }

    /// The labels the model knows, sorted.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// The calibration temperature (1 when trained without calibration).
    pub fn temperature(&self) -> f64 {
        self.temperature
    }

    /// Number of features in the vocabulary.
    pub fn n_features(&self) -> usize {
        self.vocabulary.len()
    }

    /// Number of examples the model was trained on.
    pub fn trained_on(&self) -> usize {
        self.trained_on
    }

    /// The feature settings the model was trained with.
    pub fn feature_config(&self) -> &FeatureConfig {
        &self.features
    }

    /// The segmenter (with the user words the model was trained with).
    pub fn segmenter(&self) -> &Segmenter {
        &self.segmenter
    }

    /// The `k` most likely labels for a message, most likely first, each with its calibrated
    /// confidence and explanation. `title` may be empty.
    pub fn predict(&self, title: &str, detail: &str, k: usize) -> Vec<Prediction> {
        let x = self.vectorise(title, detail);
        let probabilities = self.probabilities(&x);
        let mut order: Vec<usize> = (0..self.labels.len()).collect();
        order.sort_by(|&a, &b| {
            probabilities[b]
                .total_cmp(&probabilities[a])
                .then(a.cmp(&b))
        });
        order
            .into_iter()
            .take(k)
            .map(|c| Prediction {
                label: self.labels[c].clone(),
                confidence: probabilities[c] as f32,
                explanation: self.explain(&x, c),
            })
            .collect()
    }

    /// Like [`Model::predict`], but at `depth` levels of label paths (`depth = 1` gives
    /// `城乡建设` from labels such as `城乡建设/物业管理`): the confidence of a prefix is the sum
    /// of its labels' confidences, and its explanation is that of its most likely label.
    /// Labels shallower than `depth` stand for themselves.
    pub fn predict_level(
        &self,
        title: &str,
        detail: &str,
        depth: usize,
        k: usize,
    ) -> Vec<Prediction> {
        let x = self.vectorise(title, detail);
        let probabilities = self.probabilities(&x);
        // prefix -> (sum, best leaf, best leaf probability)
        let mut groups: Vec<(String, f64, usize, f64)> = Vec::new();
        for (c, label) in self.labels.iter().enumerate() {
            let prefix = label_prefix(label, depth);
            let p = probabilities[c];
            match groups.iter_mut().find(|g| g.0 == prefix) {
                Some(g) => {
                    g.1 += p;
                    if p > g.3 {
                        g.2 = c;
                        g.3 = p;
                    }
                }
                None => groups.push((prefix.to_owned(), p, c, p)),
            }
        }
        groups.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        groups
            .into_iter()
            .take(k)
            .map(|(label, p, best, _)| Prediction {
                label,
                confidence: p as f32,
                explanation: self.explain(&x, best),
            })
            .collect()
    }

    /// The normalised TF-IDF vector of a message.
    fn vectorise(&self, title: &str, detail: &str) -> SparseVec {
        let doc = Doc::new(title, detail, &self.features);
        let stride = self.labels.len() + 1;
        let mut hashes = Vec::with_capacity(doc.text.len() * 2);
        let ids = self
            .vocabulary
            .ids(&doc, &self.segmenter, &self.features, &mut hashes);
        self.vocabulary.weigh_with(&ids, &self.features, |id| {
            self.table.get(id as usize * stride).copied().unwrap_or(1.0)
        })
    }

    /// The weights of every class for feature `j` (empty when `j` is out of range).
    fn row(&self, j: u32) -> &[f32] {
        let stride = self.labels.len() + 1;
        let start = j as usize * stride + 1;
        self.table.get(start..start + stride - 1).unwrap_or(&[])
    }

    /// The class-major weights `w[j * n_classes + c]` (as the model file stores them).
    pub(crate) fn weights(&self) -> impl Iterator<Item = f32> + '_ {
        self.table
            .chunks_exact(self.labels.len() + 1)
            .flat_map(|row| row[1..].iter().copied())
    }

    /// Raw one-vs-rest scores `w·x + b` per class.
    pub(crate) fn scores(&self, x: &SparseVec) -> Vec<f64> {
        let mut scores: Vec<f64> = self.bias.iter().map(|&b| f64::from(b)).collect();
        for &(j, v) in x {
            for (s, w) in scores.iter_mut().zip(self.row(j)) {
                *s += f64::from(*w) * f64::from(v);
            }
        }
        scores
    }

    fn probabilities(&self, x: &SparseVec) -> Vec<f64> {
        calibrate::softmax(&self.scores(x), self.temperature)
    }

    /// The features adding most to class `c`'s score, merged by their displayed text (a word
    /// and the character n-gram with the same text count as one term). Only the strongest
    /// `4 × explanation_len` features are merged, which keeps this cheap on long messages.
    fn explain(&self, x: &SparseVec, c: usize) -> Vec<(String, f32)> {
        let mut contributions: Vec<(u32, f32)> = x
            .iter()
            .map(|&(j, v)| (j, self.row(j).get(c).copied().unwrap_or(0.0) * v))
            .filter(|&(_, contribution)| contribution > 0.0)
            .collect();
        let keep = self.explanation_len.saturating_mul(4);
        if contributions.len() > keep && keep > 0 {
            contributions.select_nth_unstable_by(keep - 1, |a, b| b.1.total_cmp(&a.1));
            contributions.truncate(keep);
        }
        let mut terms: Vec<(&str, f32)> = Vec::with_capacity(contributions.len());
        for (j, contribution) in contributions {
            let text = features::display(self.vocabulary.key(j));
            match terms.iter_mut().find(|t| t.0 == text) {
                Some(t) => t.1 += contribution,
                None => terms.push((text, contribution)),
            }
        }
        terms.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        terms
            .into_iter()
            .take(self.explanation_len)
            .map(|(t, w)| (t.to_owned(), w))
            .collect()
    }
}

/// Interleaves the IDF of every feature with its class weights (feature-major
/// `weights[j * n_classes + c]`) into the model's lookup table.
pub(crate) fn pack(idf: &[f32], weights: &[f32], n_classes: usize) -> Vec<f32> {
    let mut table = Vec::with_capacity(idf.len() * (n_classes + 1));
    for (j, &idf) in idf.iter().enumerate() {
        table.push(idf);
        table.extend_from_slice(&weights[j * n_classes..(j + 1) * n_classes]);
    }
    table
}

/// The first `depth` levels of a label path (the whole label when it is shallower).
pub fn label_prefix(label: &str, depth: usize) -> &str {
    if depth == 0 {
        return "";
    }
    match label.match_indices(PATH_SEPARATOR).nth(depth - 1) {
        Some((i, _)) => &label[..i],
        None => label,
    }
}

fn validate(config: &TrainConfig) -> Result<(), EngineError> {
    let bad = |what: &str| Err(EngineError::InvalidConfig(what.to_owned()));
    if !(config.c > 0.0 && config.c.is_finite()) {
        return bad("c must be positive");
    }
    if config.tolerance.is_nan() || config.tolerance <= 0.0 {
        return bad("tolerance must be positive");
    }
    if config.max_epochs == 0 {
        return bad("max_epochs must be at least 1");
    }
    if !(0.0..0.5).contains(&config.calibration_fraction) {
        return bad("calibration_fraction must be in [0, 0.5)");
    }
    if config.features.max_chars == 0 {
        return bad("features.max_chars must be at least 1");
    }
    if config.features.char_min == 0 && !config.features.words && !config.features.word_bigrams {
        return bad("no features enabled");
    }
    Ok(())
}

/// Splits example indices into a fitting part and a held-out part of about `fraction` of each
/// class (classes with fewer than 5 examples stay whole in the fitting part). Returns an empty
/// held-out part when `fraction` is 0 or fewer than 20 examples would be held out.
fn stratified_holdout(
    gold: &[usize],
    n_classes: usize,
    fraction: f64,
    seed: u64,
) -> (Vec<usize>, Vec<usize>) {
    let all: Vec<usize> = (0..gold.len()).collect();
    if fraction <= 0.0 {
        return (all, Vec::new());
    }
    let mut rng = SplitMix64::new(seed ^ 0x5EED_CA1B);
    let mut fit_part = Vec::new();
    let mut held_out = Vec::new();
    for class in 0..n_classes {
        let mut members: Vec<usize> = all.iter().copied().filter(|&i| gold[i] == class).collect();
        rng.shuffle(&mut members);
        let take = if members.len() < 5 {
            0
        } else {
            ((members.len() as f64) * fraction).round() as usize
        };
        held_out.extend_from_slice(&members[..take]);
        fit_part.extend_from_slice(&members[take..]);
    }
    if held_out.len() < 20 {
        return (all, Vec::new());
    }
    fit_part.sort_unstable();
    held_out.sort_unstable();
    (fit_part, held_out)
}

/// Fits the vocabulary and the SVM on normalised `texts`.
fn fit(
    texts: &[Doc],
    gold: &[usize],
    n_classes: usize,
    segmenter: &Segmenter,
    config: &TrainConfig,
    stage: Stage,
    on_event: &mut impl FnMut(TrainEvent),
) -> (Vocabulary, Vec<Vec<f64>>) {
    on_event(TrainEvent::Fit {
        stage,
        examples: texts.len(),
    });
    let (vocabulary, rows) = Vocabulary::fit(texts, segmenter, &config.features);
    on_event(TrainEvent::Vocabulary {
        stage,
        features: vocabulary.len(),
    });
    let mut counts = vec![0usize; n_classes];
    for &g in gold {
        counts[g] += 1;
    }
    let class_cost: Vec<f64> = counts
        .iter()
        .map(|&n_c| {
            if config.balanced && n_c > 0 {
                gold.len() as f64 / (n_classes as f64 * n_c as f64)
            } else {
                1.0
            }
        })
        .collect();
    let params = SvmParams {
        c: config.c,
        tolerance: config.tolerance,
        max_epochs: config.max_epochs,
        seed: config.seed,
    };
    let scales = config
        .nb_scale
        .then(|| svm::nb_scales(&rows, gold, n_classes, vocabulary.len()));
    let weights = svm::train_ovr(
        &rows,
        gold,
        n_classes,
        vocabulary.len(),
        &class_cost,
        scales.as_deref(),
        params,
        |r| {
            on_event(TrainEvent::Epoch {
                stage,
                epoch: r.epoch,
                active_classes: r.active,
                max_gap: r.max_gap,
            });
        },
    );
    (vocabulary, weights)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A small made-up corpus: three topics with distinctive words.
    pub(crate) fn toy_examples() -> Vec<Example> {
        let topics = [
            (
                "城乡建设",
                [
                    "小区路灯不亮",
                    "物业乱收费",
                    "楼道电梯故障",
                    "道路施工围挡",
                    "房屋漏水维修",
                ],
            ),
            (
                "环境保护",
                [
                    "夜间噪音扰民",
                    "工厂排放废气",
                    "河道污染发臭",
                    "垃圾焚烧烟雾",
                    "餐馆油烟污染",
                ],
            ),
            (
                "教育文体",
                [
                    "学校乱收补课费",
                    "幼儿园入学难",
                    "教师工资拖欠",
                    "学生午餐质量差",
                    "体育馆开放时间",
                ],
            ),
        ];
        let mut out = Vec::new();
        for (label, phrases) in topics {
            for (i, a) in phrases.iter().enumerate() {
                for b in phrases.iter().skip(i + 1) {
                    out.push(Example::new(
                        "",
                        format!("您好，{a}，另外{b}，请尽快处理。"),
                        label,
                    ));
                }
            }
        }
        out
    }

    fn small_config() -> TrainConfig {
        TrainConfig {
            features: FeatureConfig {
                min_df: 1,
                ..FeatureConfig::default()
            },
            ..TrainConfig::default()
        }
    }

    #[test]
    fn toy_model_predicts_the_topic_with_sorted_confidences() -> Result<(), EngineError> {
        let model = Model::train(&toy_examples(), &small_config())?;
        assert_eq!(model.labels(), ["城乡建设", "教育文体", "环境保护"]);
        let top = model.predict("", "我们小区的路灯不亮，物业也不管", 3);
        assert_eq!(top.len(), 3);
        assert_eq!(top[0].label, "城乡建设");
        assert!(top[0].confidence >= top[1].confidence && top[1].confidence >= top[2].confidence);
        let total: f32 = top.iter().map(|p| p.confidence).sum();
        assert!((total - 1.0).abs() < 1e-4);
        assert_eq!(
            model.predict("噪音", "夜间噪音扰民", 1)[0].label,
            "环境保护"
        );
        Ok(())
    }

    #[test]
    fn explanation_names_features_of_the_message() -> Result<(), EngineError> {
        let model = Model::train(&toy_examples(), &small_config())?;
        let text = "学校又乱收补课费了";
        let top = model.predict("", text, 1);
        assert_eq!(top[0].label, "教育文体");
        assert!(!top[0].explanation.is_empty());
        for (term, weight) in &top[0].explanation {
            assert!(*weight > 0.0);
            assert!(
                text.contains(&term.replace(' ', "")),
                "{term} is not in the text"
            );
        }
        let weights: Vec<f32> = top[0].explanation.iter().map(|t| t.1).collect();
        assert!(weights.windows(2).all(|w| w[0] >= w[1]));
        Ok(())
    }

    #[test]
    fn path_labels_aggregate_to_their_first_level() -> Result<(), EngineError> {
        let examples: Vec<Example> = toy_examples()
            .into_iter()
            .enumerate()
            .map(|(i, e)| {
                let leaf = if i % 2 == 0 { "甲" } else { "乙" };
                Example {
                    label: format!("{}/{leaf}", e.label),
                    ..e
                }
            })
            .collect();
        let model = Model::train(&examples, &small_config())?;
        assert_eq!(model.labels().len(), 6);
        let levels = model.predict_level("", "河道污染发臭，工厂排放废气", 1, 3);
        assert_eq!(levels[0].label, "环境保护");
        let total: f32 = levels.iter().map(|p| p.confidence).sum();
        assert!((total - 1.0).abs() < 1e-4);
        let leaves = model.predict("", "河道污染发臭，工厂排放废气", 2);
        assert!(leaves[0].label.starts_with("环境保护/"));
        assert!(levels[0].confidence >= leaves[0].confidence);
        Ok(())
    }

    #[test]
    fn label_prefix_cuts_paths_at_levels() {
        assert_eq!(label_prefix("城乡建设/物业管理/收费", 1), "城乡建设");
        assert_eq!(
            label_prefix("城乡建设/物业管理/收费", 2),
            "城乡建设/物业管理"
        );
        assert_eq!(label_prefix("城乡建设", 2), "城乡建设");
    }

    #[test]
    fn one_label_is_refused() {
        let examples = vec![Example::new("", "甲", "x"), Example::new("", "乙", "x")];
        assert!(matches!(
            Model::train(&examples, &TrainConfig::default()),
            Err(EngineError::TooFewLabels { found: 1 })
        ));
    }

    #[test]
    fn held_out_slice_is_stratified_and_disjoint() {
        let gold: Vec<usize> = (0..300).map(|i| if i < 200 { 0 } else { 1 }).collect();
        let (fit_part, held) = stratified_holdout(&gold, 2, 0.1, 1);
        assert_eq!(held.len(), 30);
        assert_eq!(held.iter().filter(|&&i| gold[i] == 1).count(), 10);
        assert_eq!(fit_part.len() + held.len(), 300);
        assert!(held.iter().all(|i| fit_part.binary_search(i).is_err()));
    }
}
