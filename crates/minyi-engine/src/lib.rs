//! minyi's intelligent engine (智能引擎), first slice: the request classifier.
//!
//! Pure computation — no database, HTTP or async. The pipeline:
//!
//! 1. [`segment`]: jieba-rs segmentation with a user dictionary ([`Segmenter::with_words`]) so
//!    catalogue, division and unit names stay whole.
//! 2. [`features`]: normalisation, then TF-IDF over character 1–3-grams, jieba word unigrams
//!    and bigrams, and the title's own character n-grams (sublinear tf, smoothed IDF, per-block
//!    and overall L2 norm).
//! 3. [`svm`]: one-vs-rest linear SVM (squared hinge) by dual coordinate descent, each class on
//!    features scaled by their naive-Bayes log-count ratio (NB-SVM).
//! 4. [`calibrate`]: softmax over the scores with a temperature fitted on a held-out slice.
//! 5. [`model`]: [`Model::train`], [`Model::predict`] (top-k, confidence, explanation),
//!    [`Model::predict_level`] for catalogue paths; [`file`]: the versioned model file.
//! 6. [`eval`]: macro-F1, accuracy, per-class scores and per-message latency.
//!
//! ```no_run
//! use minyi_engine::{Model, TrainConfig, evaluate, read_labelled_csv};
//! # fn main() -> Result<(), minyi_engine::EngineError> {
//! let train = read_labelled_csv("train.csv")?;
//! let model = Model::train(&train, &TrainConfig::default())?;
//! model.save("model.bin")?;
//! let model = Model::load("model.bin")?;
//! for p in model.predict("", "小区路灯坏了一个月没人修", 3) {
//!     println!("{} {:.2} {:?}", p.label, p.confidence, p.explanation);
//! }
//! let report = evaluate(&model, &read_labelled_csv("test.csv")?);
//! println!("macro-F1 {:.4}", report.macro_f1);
//! # Ok(()) }
//! ```

pub mod calibrate;
pub mod data;
pub mod error;
pub mod eval;
pub mod features;
pub mod file;
pub mod hotspot;
pub mod knowledge;
pub mod locate;
pub mod matching;
pub mod model;
pub mod rng;
pub mod segment;
pub mod similar;
mod svm;
pub mod urgency;

pub use data::{Example, read_labelled_csv, write_labelled_csv};
pub use error::EngineError;
pub use eval::{ClassScore, EvalReport, evaluate};
pub use features::FeatureConfig;
pub use model::{Model, PATH_SEPARATOR, Prediction, Stage, TrainConfig, TrainEvent, label_prefix};
pub use segment::Segmenter;
