//! Stratified k-fold cross-validation of the engine's classifier against the reference
//! baseline (`baseline_svm.py`, TF-IDF char 1–3-grams + LinearSVC) on the same splits.
//!
//! ```text
//! cargo run --release -p minyi-engine --example kfold -- \
//!     --data ../shared/data/teddy2020/messages_train.csv \
//!     [--folds 5] [--seed 42] [--baseline ../shared/bench/baseline_svm.py | --no-baseline] \
//!     [--config '{"c":0.5}']   # TrainConfig overrides as JSON
//! ```
//!
//! Exact duplicates (same title and detail after removing white space) are kept in one fold, so
//! a repost is never scored against its own copy. Folds are stratified by label: groups of each
//! label are shuffled with the seed and dealt round-robin. Split files are written to a temporary
//! directory as `title,detail,label` CSVs; the baseline reads the same files.

use minyi_engine::{Example, Model, TrainConfig, evaluate, write_labelled_csv};
use std::collections::BTreeMap;
use std::process::Command;
use std::time::Instant;

struct Args {
    data: String,
    folds: usize,
    seed: u64,
    baseline: Option<String>,
    config: TrainConfig,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        data: concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/data/teddy2020/messages_train.csv"
        )
        .to_owned(),
        folds: 5,
        seed: 42,
        baseline: Some(
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/bench/baseline_svm.py"
            )
            .to_owned(),
        ),
        config: TrainConfig::default(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--data" => args.data = value()?,
            "--folds" => args.folds = value()?.parse().map_err(|e| format!("--folds: {e}"))?,
            "--seed" => args.seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--baseline" => args.baseline = Some(value()?),
            "--no-baseline" => args.baseline = None,
            "--config" => {
                args.config =
                    serde_json::from_str(&value()?).map_err(|e| format!("--config: {e}"))?;
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.folds < 2 {
        return Err("--folds must be at least 2".into());
    }
    Ok(args)
}

/// Fold of every example: duplicate groups together, stratified by label.
fn assign_folds(examples: &[Example], folds: usize, seed: u64) -> Vec<usize> {
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, e) in examples.iter().enumerate() {
        let key: String = format!("{}\u{1}{}", e.title, e.detail)
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        groups.entry(key).or_default().push(i);
    }
    let mut by_label: BTreeMap<&str, Vec<Vec<usize>>> = BTreeMap::new();
    for members in groups.into_values() {
        by_label
            .entry(examples[members[0]].label.as_str())
            .or_default()
            .push(members);
    }
    let mut rng = minyi_engine::rng::SplitMix64::new(seed);
    let mut fold_of = vec![0; examples.len()];
    let mut next = 0;
    for groups in by_label.values_mut() {
        rng.shuffle(groups);
        for members in groups.iter() {
            for &i in members {
                fold_of[i] = next % folds;
            }
            next += 1;
        }
    }
    fold_of
}

fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (mean, var.sqrt())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let examples = minyi_engine::read_labelled_csv(&args.data)?;
    let fold_of = assign_folds(&examples, args.folds, args.seed);
    let dir = tempfile::tempdir()?;
    eprintln!(
        "{} messages, {} folds, seed {}, splits in {}",
        examples.len(),
        args.folds,
        args.seed,
        dir.path().display()
    );
    eprintln!("engine config: {}", serde_json::to_string(&args.config)?);
    println!(
        "{:<5} {:>6} {:>6} | {:>9} {:>9} {:>8} {:>9} {:>9} | {:>9} {:>9} {:>8} {:>10}",
        "fold",
        "train",
        "test",
        "engine_F1",
        "engine_acc",
        "train_s",
        "p50_us",
        "p99_us",
        "base_F1",
        "base_acc",
        "train_s",
        "ms_per_msg"
    );
    let mut rows: Vec<[f64; 9]> = Vec::new();
    for fold in 0..args.folds {
        let train: Vec<Example> = examples
            .iter()
            .zip(&fold_of)
            .filter(|(_, f)| **f != fold)
            .map(|(e, _)| e.clone())
            .collect();
        let test: Vec<Example> = examples
            .iter()
            .zip(&fold_of)
            .filter(|(_, f)| **f == fold)
            .map(|(e, _)| e.clone())
            .collect();
        let train_path = dir.path().join(format!("fold{fold}_train.csv"));
        let test_path = dir.path().join(format!("fold{fold}_test.csv"));
        write_labelled_csv(&train_path, &train)?;
        write_labelled_csv(&test_path, &test)?;

        let started = Instant::now();
        let model = Model::train(&train, &args.config)?;
        let train_s = started.elapsed().as_secs_f64();
        let model_path = dir.path().join(format!("fold{fold}.model"));
        model.save(&model_path)?;
        let started = Instant::now();
        let model = Model::load(&model_path)?;
        let load_s = started.elapsed().as_secs_f64();
        let report = evaluate(&model, &test);
        eprintln!(
            "fold {fold}: T={:.3}, {} features, load {:.2}s",
            model.temperature(),
            model.n_features(),
            load_s
        );

        let (mut b_f1, mut b_acc, mut b_train, mut b_ms) = (f64::NAN, f64::NAN, f64::NAN, f64::NAN);
        if let Some(script) = &args.baseline {
            let out = Command::new("python3")
                .arg(script)
                .arg(&train_path)
                .arg(&test_path)
                .output()?;
            if !out.status.success() {
                return Err(
                    format!("baseline failed: {}", String::from_utf8_lossy(&out.stderr)).into(),
                );
            }
            let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
            let f = |k: &str| v[k].as_f64().unwrap_or(f64::NAN);
            (b_f1, b_acc, b_train, b_ms) = (
                f("macro_f1"),
                f("accuracy"),
                f("train_s"),
                f("predict_ms_per_msg"),
            );
        }
        println!(
            "{:<5} {:>6} {:>6} | {:>9.4} {:>10.4} {:>8.2} {:>9.1} {:>9.1} | {:>9.4} {:>9.4} {:>8.2} {:>10.3}",
            fold,
            train.len(),
            test.len(),
            report.macro_f1,
            report.accuracy,
            train_s,
            report.p50_us,
            report.p99_us,
            b_f1,
            b_acc,
            b_train,
            b_ms
        );
        rows.push([
            report.macro_f1,
            report.accuracy,
            train_s,
            report.p50_us,
            report.p99_us,
            b_f1,
            b_acc,
            b_train,
            b_ms,
        ]);
    }
    let col = |i: usize| mean_std(&rows.iter().map(|r| r[i]).collect::<Vec<_>>());
    let pm = |i: usize| {
        let (m, s) = col(i);
        format!("{m:.4}±{s:.4}")
    };
    println!("mean±std over {} folds:", args.folds);
    println!(
        "  engine   macro-F1 {}  accuracy {}  train {:.2}s  p50 {:.1}us  p99 {:.1}us (max {:.1}us)",
        pm(0),
        pm(1),
        col(2).0,
        col(3).0,
        col(4).0,
        rows.iter().map(|r| r[4]).fold(0.0, f64::max)
    );
    if args.baseline.is_some() {
        println!(
            "  baseline macro-F1 {}  accuracy {}  train {:.2}s  predict {:.3}ms/msg (batch)",
            pm(5),
            pm(6),
            col(7).0,
            col(8).0
        );
        let wins = rows.iter().filter(|r| r[0] > r[5]).count();
        println!(
            "  engine - baseline macro-F1: {:+.4} (engine ahead in {wins}/{} folds)",
            col(0).0 - col(5).0,
            args.folds
        );
    }
    Ok(())
}
