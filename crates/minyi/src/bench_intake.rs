//! `minyi bench intake`: public intake under load, through the real HTTP server on loopback and
//! the whole pipeline (validation, location, danger words, classification, auto-dispatch when
//! sure, clocks, history, KPI counters, durable commit before the 201), at several
//! concurrencies; and, in the same run and on the same database, the bare baseline: one-row
//! INSERTs, one durable transaction each. Reports throughput, p50 and p99, and the ratios.
//!
//! The texts are real citizen messages read from a CSV file (`title,detail` columns, e.g.
//! `../shared/data/teddy2020/messages_train.csv`); nothing of them is kept in the repository.

use crate::bench_storage::BenchStorage;
use crate::demo::{self, Progress, SeedOptions};
use anyhow::{Context, bail};
use minyi_domain::division::DivisionLevel;
use minyi_server::limits::{Limit, RateLimits};
use minyi_store::{Location, Store, quantile};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Options of `minyi bench intake`.
#[derive(Debug, Clone)]
pub struct IntakeBenchOptions {
    /// Requests sent at each concurrency (ignored when `seconds` is given).
    pub requests: usize,
    /// Run each concurrency for this long instead of a fixed number of requests.
    pub seconds: Option<f64>,
    /// The concurrencies, in order.
    pub concurrency: Vec<usize>,
    /// Rows of the bare baseline.
    pub bare_rows: usize,
    /// Requests of simulated history in the seeded city (the classifier learns from them).
    pub seed_requests: usize,
    /// The messages file (CSV with `title` and `detail` columns).
    pub messages: PathBuf,
    /// A PostgreSQL admin URL: a scratch database is created on that server, used and dropped.
    pub database_url: Option<String>,
    /// Keep the SQLite database here (must not hold one); a temporary directory otherwise.
    pub data_dir: Option<PathBuf>,
    /// The engine's auto-dispatch threshold.
    pub auto_dispatch_threshold: f32,
    /// Whether concurrent intakes share a commit (off: one transaction per request).
    pub group_commit: bool,
}

/// One message to file.
#[derive(Debug, Clone, Serialize)]
struct Message {
    title: String,
    text: String,
}

#[derive(Debug, serde::Deserialize)]
struct CsvMessage {
    #[serde(default)]
    title: String,
    detail: String,
}

/// Reads the messages the public endpoint would accept (non-empty, within its lengths, no
/// control characters).
fn read_messages(path: &std::path::Path) -> anyhow::Result<Vec<Message>> {
    let file = std::fs::File::open(path).with_context(|| {
        format!(
            "opening the messages file {} (give --messages PATH to a CSV with title,detail columns)",
            path.display()
        )
    })?;
    let mut out = Vec::new();
    for row in csv::Reader::from_reader(file).deserialize::<CsvMessage>() {
        let row = row.with_context(|| format!("reading {}", path.display()))?;
        let text = row.detail.trim();
        let ok = |s: &str, max: usize| {
            s.chars().count() <= max
                && !s
                    .chars()
                    .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        };
        if text.is_empty()
            || !ok(text, minyi_server::api::public::MAX_TEXT)
            || !ok(&row.title, minyi_server::api::public::MAX_TITLE)
        {
            continue;
        }
        out.push(Message {
            title: row.title.trim().to_string(),
            text: text.to_string(),
        });
    }
    if out.is_empty() {
        bail!("no usable messages in {}", path.display());
    }
    Ok(out)
}

/// What one concurrency level measured.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseReport {
    pub concurrency: usize,
    pub requests: usize,
    /// Answered 201.
    pub created: usize,
    /// Any other answer or a transport error.
    pub errors: usize,
    pub seconds: f64,
    pub requests_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// The state in the receipts (`received`, or `dispatched` when the engine routed it).
    pub states: std::collections::BTreeMap<String, usize>,
    /// SQLite: how long after the last answer the search index (kept by its own indexer, off
    /// the commit) took to hold every request of the phase; the next phase starts after it. `None` on PostgreSQL, whose index is written in the commit.
    pub search_index_catch_up_ms: Option<f64>,
}

struct Outcome {
    ms: f64,
    created: bool,
    state: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
struct Receipt {
    state: String,
}

struct Load {
    client: reqwest::Client,
    url: String,
    messages: Arc<Vec<Message>>,
    divisions: Arc<Vec<String>>,
}

async fn run_phase(
    load: &Load,
    concurrency: usize,
    options: &IntakeBenchOptions,
    phase: usize,
    progress: &mut (dyn Progress + Send),
) -> anyhow::Result<PhaseReport> {
    let total = match options.seconds {
        Some(_) => usize::MAX,
        None => options.requests,
    };
    let deadline = options.seconds.map(Duration::from_secs_f64);
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let client = load.client.clone();
        let url = load.url.clone();
        let messages = load.messages.clone();
        let divisions = load.divisions.clone();
        let next = next.clone();
        let done = done.clone();
        tasks.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            loop {
                if deadline.is_some_and(|d| started.elapsed() >= d) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                // Consecutive phases start at different messages.
                let n = i + phase * 100_003;
                let message = &messages[n % messages.len()];
                let body = serde_json::json!({
                    "title": message.title,
                    "text": message.text,
                    "division_code": divisions[(n * 7919) % divisions.len()],
                    "phone": format!("138{:08}", n % 100_000_000),
                });
                let t = Instant::now();
                let answer = client
                    .post(&url)
                    .header("idempotency-key", format!("bench-{phase}-{i}"))
                    .json(&body)
                    .send()
                    .await;
                let (created, state) = match answer {
                    Ok(response) => {
                        let created = response.status() == reqwest::StatusCode::CREATED;
                        let state = response.json::<Receipt>().await.ok().map(|r| r.state);
                        (created, state)
                    }
                    Err(_) => (false, None),
                };
                outcomes.push(Outcome {
                    ms: t.elapsed().as_secs_f64() * 1e3,
                    created,
                    state,
                });
                done.fetch_add(1, Ordering::Relaxed);
            }
            outcomes
        }));
    }
    let name = format!("intake at concurrency {concurrency}");
    match deadline {
        Some(d) => progress.phase(&name, (d.as_secs_f64() * 10.0).ceil() as u64),
        None => progress.phase(&name, total as u64),
    }
    while !tasks.iter().all(|t| t.is_finished()) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        match deadline {
            Some(_) => progress.advance((started.elapsed().as_secs_f64() * 10.0) as u64),
            None => progress.advance(done.load(Ordering::Relaxed) as u64),
        }
    }
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.extend(task.await.context("a load task failed")?);
    }
    let seconds = started.elapsed().as_secs_f64();
    progress.finish();
    let mut latencies: Vec<f64> = outcomes.iter().map(|o| o.ms).collect();
    latencies.sort_by(f64::total_cmp);
    let created = outcomes.iter().filter(|o| o.created).count();
    let mut states = std::collections::BTreeMap::new();
    for o in &outcomes {
        if let Some(s) = &o.state {
            *states.entry(s.clone()).or_insert(0) += 1;
        }
    }
    Ok(PhaseReport {
        concurrency,
        requests: outcomes.len(),
        created,
        errors: outcomes.len() - created,
        seconds,
        requests_per_s: outcomes.len() as f64 / seconds.max(1e-9),
        p50_ms: quantile(&latencies, 0.5),
        p99_ms: quantile(&latencies, 0.99),
        max_ms: latencies.last().copied().unwrap_or(f64::NAN),
        states,
        search_index_catch_up_ms: None,
    })
}

/// Seeds a city, starts the server, runs the baseline and the load, and returns the report.
pub async fn bench(
    options: &IntakeBenchOptions,
    progress: &mut (dyn Progress + Send),
) -> anyhow::Result<serde_json::Value> {
    let messages = Arc::new(read_messages(&options.messages)?);
    let storage =
        BenchStorage::prepare("bench-intake", &options.database_url, &options.data_dir).await?;
    let result = run(
        options,
        &storage.location,
        &storage.work_dir,
        messages,
        progress,
    )
    .await;
    storage.finish().await;
    result
}

async fn run(
    options: &IntakeBenchOptions,
    location: &Location,
    work_dir: &std::path::Path,
    messages: Arc<Vec<Message>>,
    progress: &mut (dyn Progress + Send),
) -> anyhow::Result<serde_json::Value> {
    let mut store = Store::open(location).await?;
    if !options.group_commit {
        store = store.without_group_commit();
    }
    let end = chrono::DateTime::from_timestamp_millis(chrono::Utc::now().timestamp_millis())
        .unwrap_or_else(chrono::Utc::now);
    let seed = demo::seed(
        &store,
        work_dir,
        &SeedOptions {
            requests: options.seed_requests,
            days: 90,
            seed: 12345,
            end,
        },
        progress,
    )
    .await?;
    let t = Instant::now();
    let model =
        crate::engine_cmd::train_demo_classifier(&store, &work_dir.join("model.bin")).await?;
    let train_seconds = t.elapsed().as_secs_f64();
    let model_labels = model.labels().len();
    let engine =
        minyi_server::intake::IntakeEngine::with_model(model, options.auto_dispatch_threshold);
    let divisions: Vec<String> = store
        .load_divisions()
        .await?
        .iter()
        .filter(|d| d.level == DivisionLevel::Community)
        .map(|d| d.code.clone())
        .collect();
    if divisions.is_empty() {
        bail!("the seeded city has no communities");
    }

    // The baseline first, on the same database and connections.
    let payloads: Vec<String> = (0..options.bare_rows)
        .map(|i| messages[i % messages.len()].text.clone())
        .collect();
    progress.phase("bare one-row transactions", payloads.len() as u64);
    let bare = store
        .bare_insert_baseline(&payloads, |n| {
            if n % 50 == 0 {
                progress.advance(n as u64)
            }
        })
        .await?;
    progress.finish();

    // One client address sends everything: lift the public limit.
    let limits = RateLimits {
        public_intake: Limit {
            burst: u32::MAX,
            refill_ms: 1,
        },
        ..RateLimits::default()
    };
    let state = minyi_server::AppState::new(store.clone())
        .with_engine(engine)
        .with_rate_limits(limits);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(minyi_server::serve_with(state, listener, async {
        stopped.await.ok();
    }));
    let load = Load {
        client: reqwest::Client::builder()
            .pool_max_idle_per_host(1024)
            .build()?,
        url: format!("http://{address}/api/v1/public/requests"),
        messages: messages.clone(),
        divisions: Arc::new(divisions),
    };
    let before = store.stats().await?.requests;
    let mut phases = Vec::new();
    for (i, &c) in options.concurrency.iter().enumerate() {
        let mut phase = run_phase(&load, c.max(1), options, i, progress).await?;
        let started = Instant::now();
        store.update_search_index(|_, _| {}).await?;
        phase.search_index_catch_up_ms = (store.kind() == minyi_store::StorageKind::Sqlite)
            .then(|| started.elapsed().as_secs_f64() * 1e3);
        phases.push(phase);
    }
    drop(load);
    stop.send(()).ok();
    server.await.context("the server task")??;
    let stored = store.stats().await?.requests - before;
    let created: usize = phases.iter().map(|p| p.created).sum();
    store.close().await;

    let mut pipeline = serde_json::Map::new();
    let mut ratios = serde_json::Map::new();
    for p in &phases {
        pipeline.insert(format!("c{}", p.concurrency), serde_json::to_value(p)?);
        ratios.insert(
            format!("c{}_vs_bare", p.concurrency),
            serde_json::json!(p.requests_per_s / bare.rows_per_s),
        );
    }
    let at = |c: usize| phases.iter().find(|p| p.concurrency == c);
    let goals = serde_json::json!({
        "c64_at_least_1000_per_s": at(64).map(|p| p.requests_per_s >= 1000.0),
        "c64_p99_at_most_50_ms": at(64).map(|p| p.p99_ms <= 50.0),
        "c64_at_least_half_bare": at(64).map(|p| p.requests_per_s >= 0.5 * bare.rows_per_s),
        "c1_at_least_a_fifth_of_bare": at(1).map(|p| p.requests_per_s >= 0.2 * bare.rows_per_s),
    });
    Ok(serde_json::json!({
        "backend": location_kind(location),
        "group_commit": options.group_commit,
        "messages": { "file": options.messages.display().to_string(), "usable": messages.len() },
        "city": {
            "divisions": seed.divisions,
            "units": seed.units,
            "rules": seed.rules,
            "history_requests": seed.requests,
            "seed_seconds": seed.seconds,
        },
        "classifier": {
            "labels": model_labels,
            "train_seconds": train_seconds,
            "auto_dispatch_threshold": options.auto_dispatch_threshold,
        },
        "bare": bare,
        "pipeline": pipeline,
        "ratios": ratios,
        "stored_equals_created": stored as usize == created,
        "goals": goals,
    }))
}

fn location_kind(location: &Location) -> &'static str {
    match location {
        Location::DataDir(_) => "sqlite",
        Location::Postgres(_) => "postgres",
    }
}
