//! `minyi engine …`: train and evaluate the request classifier of `minyi-engine` on labelled
//! CSV files (columns `title,detail,label`; `title` may be empty).

use anyhow::Context;
use clap::Subcommand;
use minyi_engine::{Example, Model, Stage, TrainConfig, TrainEvent, evaluate, read_labelled_csv};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The `engine` subcommands.
#[derive(Debug, Subcommand)]
pub enum EngineCommand {
    /// Train the classifier on a labelled CSV and write the model file.
    Train {
        /// Labelled CSV (columns title, detail, label; title may be empty).
        #[arg(long)]
        input: PathBuf,
        /// Model file to write.
        #[arg(long)]
        model: PathBuf,
        /// Extra dictionary words for the segmenter, one per line (place, matter and unit
        /// names), so that they stay whole.
        #[arg(long)]
        user_words: Option<PathBuf>,
    },
    /// Evaluate a model file on a labelled CSV: macro-F1, accuracy, per-class scores, latency.
    Eval {
        /// Model file written by `minyi engine train`.
        #[arg(long)]
        model: PathBuf,
        /// Labelled CSV (columns title, detail, label; title may be empty).
        #[arg(long)]
        input: PathBuf,
        /// Print one JSON object:
        /// {"macro_f1":…,"accuracy":…,"per_class":{…},"p50_us":…,"p99_us":…,"n":…}.
        #[arg(long)]
        json: bool,
    },
}

/// Runs an `engine` subcommand; returns the process exit code.
pub fn run(cmd: EngineCommand) -> anyhow::Result<i32> {
    match cmd {
        EngineCommand::Train {
            input,
            model,
            user_words,
        } => {
            let words = match user_words {
                Some(path) => std::fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))?
                    .lines()
                    .map(str::trim)
                    .filter(|w| !w.is_empty())
                    .map(String::from)
                    .collect(),
                None => Vec::new(),
            };
            train(&input, &model, words)
        }
        EngineCommand::Eval { model, input, json } => eval(&model, &input, json),
    }
}

fn train(input: &Path, model_path: &Path, user_words: Vec<String>) -> anyhow::Result<i32> {
    let examples = read_labelled_csv(input)?;
    eprintln!(
        "read {} labelled messages from {}",
        examples.len(),
        input.display()
    );
    train_examples(&examples, model_path, user_words)?;
    Ok(0)
}

/// Trains on `examples` with progress on stderr and writes the model file. `user_words` go into
/// the segmenter's dictionary (and the model file).
pub fn train_examples(
    examples: &[Example],
    model_path: &Path,
    user_words: Vec<String>,
) -> anyhow::Result<Model> {
    let started = Instant::now();
    if !user_words.is_empty() {
        eprintln!("segmenter: {} user dictionary words", user_words.len());
    }
    let config = TrainConfig {
        user_words,
        ..TrainConfig::default()
    };
    let model = Model::train_with_progress(examples, &config, |event| match event {
        TrainEvent::Fit { stage, examples } => eprintln!("{}: fitting on {examples} messages", stage_name(stage)),
        TrainEvent::Vocabulary { stage, features } => eprintln!("{}: {features} features", stage_name(stage)),
        TrainEvent::Epoch { stage, epoch, active_classes, max_gap } => eprintln!(
            "{}: epoch {epoch}: {active_classes} classes still moving, max gradient gap {max_gap:.4}",
            stage_name(stage)
        ),
        TrainEvent::Calibrated { temperature, held_out_nll, held_out } => eprintln!(
            "calibration: temperature {temperature:.4} (held-out NLL {held_out_nll:.4} on {held_out} messages)"
        ),
    })
    .context("training the classifier")?;
    let elapsed = started.elapsed();
    model.save(model_path)?;
    eprintln!(
        "trained on {} messages, {} labels, {} features in {:.2} s; model written to {}",
        model.trained_on(),
        model.labels().len(),
        model.n_features(),
        elapsed.as_secs_f64(),
        model_path.display()
    );
    Ok(model)
}

fn stage_name(stage: Stage) -> &'static str {
    match stage {
        Stage::Calibration => "calibration fit",
        Stage::Final => "final fit",
    }
}

fn eval(model_path: &Path, input: &Path, json: bool) -> anyhow::Result<i32> {
    let started = Instant::now();
    let model = Model::load(model_path)?;
    let load = started.elapsed();
    let examples = read_labelled_csv(input)?;
    let report = evaluate(&model, &examples);
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string(&report)?)?;
    } else {
        writeln!(
            out,
            "model loaded in {:.0} ms; {} messages",
            load.as_secs_f64() * 1000.0,
            report.n
        )?;
        writeln!(
            out,
            "macro-F1 {:.4}  accuracy {:.4}  p50 {:.0} µs  p99 {:.0} µs",
            report.macro_f1, report.accuracy, report.p50_us, report.p99_us
        )?;
        writeln!(
            out,
            "{:<16} {:>9} {:>9} {:>9} {:>8}",
            "label", "precision", "recall", "f1", "support"
        )?;
        for (label, s) in &report.per_class {
            writeln!(
                out,
                "{label:<16} {:>9.4} {:>9.4} {:>9.4} {:>8}",
                s.precision, s.recall, s.f1, s.support
            )?;
        }
    }
    Ok(0)
}

/// The city's own words for the segmenter's dictionary: the names of divisions (districts,
/// streets, communities, compounds), catalogue matters and units, so that place and matter names
/// stay whole. Names of one character are left out; the list is sorted and de-duplicated.
pub async fn city_words(store: &minyi_store::Store) -> anyhow::Result<Vec<String>> {
    let mut words: Vec<String> = Vec::new();
    if let Ok(divisions) = store.load_divisions().await {
        words.extend(divisions.iter().map(|d| d.name.clone()));
    }
    if let Ok(catalog) = store.load_catalog().await {
        words.extend(catalog.iter().map(|m| m.name.clone()));
    }
    if let Ok(units) = store.load_units().await {
        words.extend(units.iter().map(|u| u.name.clone()));
    }
    let mut words: Vec<String> = words
        .into_iter()
        .map(|w| w.trim().to_owned())
        .filter(|w| w.chars().count() >= 2 && !w.contains(char::is_whitespace))
        .collect();
    words.sort();
    words.dedup();
    Ok(words)
}

/// Classified requests as training examples labelled with their catalogue path.
pub async fn labelled_examples(
    store: &minyi_store::Store,
    limit: u32,
    person_only: bool,
) -> anyhow::Result<Vec<Example>> {
    let catalog = store.load_catalog().await?;
    Ok(store
        .labelled_requests(limit, person_only)
        .await?
        .into_iter()
        .map(|r| Example {
            title: r.title,
            detail: r.text,
            label: catalog.path_name(r.matter),
        })
        .collect())
}

/// The demo classifier covers the 40 most frequent leaf categories (up to 150 examples each),
/// so that it trains in seconds; requests of other categories get low confidence and wait for a
/// dispatcher.
fn demo_examples(all: Vec<Example>) -> Vec<Example> {
    let mut counts: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for e in &all {
        *counts.entry(e.label.clone()).or_default() += 1;
    }
    let mut labels: Vec<(String, usize)> = counts.into_iter().collect();
    labels.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let keep: std::collections::HashSet<String> =
        labels.into_iter().take(40).map(|(l, _)| l).collect();
    let mut taken: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    all.into_iter()
        .filter(|e| keep.contains(&e.label))
        .filter(|e| {
            let n = taken.entry(e.label.clone()).or_default();
            *n += 1;
            *n <= 150
        })
        .collect()
}

/// Trains the demo's classifier on the demo's own classified history into `model_path`.
pub async fn train_demo_classifier(
    store: &minyi_store::Store,
    model_path: &Path,
) -> anyhow::Result<Model> {
    let examples = demo_examples(labelled_examples(store, 30_000, false).await?);
    eprintln!(
        "training the demo classifier on {} classified requests",
        examples.len()
    );
    let words = city_words(store).await?;
    train_examples(&examples, model_path, words)
}
