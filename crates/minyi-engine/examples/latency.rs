//! Per-message inference latency of a model file on a labelled CSV, by message length, with
//! several passes so a profiler sees inference only.
//!
//! ```text
//! cargo run --release -p minyi-engine --example latency -- MODEL CSV [--passes 3] [--train]
//! ```
//!
//! With `--train`, first trains a model on CSV (default settings) and writes it to MODEL.

use minyi_engine::{Model, TrainConfig, read_labelled_csv};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(model_path), Some(csv)) = (args.first(), args.get(1)) else {
        return Err("usage: latency MODEL CSV [--passes N] [--train]".into());
    };
    let passes: usize = args
        .iter()
        .position(|a| a == "--passes")
        .and_then(|i| args.get(i + 1))
        .map_or(Ok(3), |v| v.parse())?;
    let examples = read_labelled_csv(csv)?;
    if args.iter().any(|a| a == "--train") {
        let started = Instant::now();
        let model = Model::train(&examples, &TrainConfig::default())?;
        println!(
            "trained on {} messages in {:.2} s ({} features)",
            examples.len(),
            started.elapsed().as_secs_f64(),
            model.n_features()
        );
        model.save(model_path)?;
    }
    let model = Model::load(model_path)?;
    // (chars, nanoseconds) of every prediction.
    let mut timings: Vec<(usize, u64)> = Vec::with_capacity(examples.len() * passes);
    let mut correct = 0usize;
    for _ in 0..passes {
        for e in &examples {
            let started = Instant::now();
            let top = model.predict(&e.title, &e.detail, 1);
            timings.push((
                e.title.chars().count() + e.detail.chars().count(),
                started.elapsed().as_nanos() as u64,
            ));
            correct += usize::from(top.first().is_some_and(|p| p.label == e.label));
        }
    }
    let percentile = |values: &mut Vec<u64>, p: f64| {
        values.sort_unstable();
        let i = ((values.len() as f64 - 1.0) * p / 100.0).round() as usize;
        values.get(i).copied().unwrap_or(0) as f64 / 1000.0
    };
    println!(
        "{} predictions, training-set accuracy {:.4}",
        timings.len(),
        correct as f64 / timings.len().max(1) as f64
    );
    for (low, high) in [
        (0, 200),
        (200, 500),
        (500, 900),
        (900, usize::MAX),
        (0, usize::MAX),
    ] {
        let mut ns: Vec<u64> = timings
            .iter()
            .filter(|(chars, _)| (low..high).contains(chars))
            .map(|&(_, ns)| ns)
            .collect();
        if ns.is_empty() {
            continue;
        }
        let n = ns.len();
        let p50 = percentile(&mut ns, 50.0);
        let p99 = percentile(&mut ns, 99.0);
        let min = ns.first().copied().unwrap_or(0) as f64 / 1000.0;
        println!(
            "chars {low:>4}..{high:<20} n {n:>6}  min {min:>8.1}us  p50 {p50:>8.1}us  p99 {p99:>8.1}us"
        );
    }
    Ok(())
}
