//! `minyi bench crash`: the crash-safety harness. Nothing acknowledged is lost, nothing is
//! stored twice.
//!
//! It starts a real `minyi serve` (this same binary) on a fresh database, sends public intake
//! from several concurrent clients, each request with its own Idempotency-Key, and kills the
//! server with SIGKILL while requests are in flight. It restarts the server, sends again every
//! request that got no answer (same key, same body) and, after the last kill, keeps retrying
//! until each request has been answered. Then it stops the server, opens the store itself and
//! checks:
//!
//! - every request answered 201 (or 200, a replay) is stored exactly once, under the tracking
//!   code the answer gave, with its own text;
//! - no request is stored twice (each carries a unique marker in its text), nothing unexpected
//!   is stored, and Idempotency-Keys and requests correspond one to one;
//! - every history is gapless from its receipt and folds to the stored snapshot.
//!
//! The report (JSON) counts what was sent, acknowledged, left unanswered, retried and stored,
//! and every violation; the run fails (exit 1) when any violation is not zero.

use anyhow::{Context, bail};
use minyi_store::{Location, Store};
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};

/// Where the harness keeps its database.
#[derive(Debug, Clone)]
pub enum CrashStorage {
    /// SQLite in this directory (must not hold a database yet).
    DataDir(PathBuf),
    /// SQLite in a temporary directory, removed afterwards.
    TempSqlite,
    /// A fresh PostgreSQL database created through this admin URL, dropped afterwards unless
    /// `keep`.
    Postgres { admin_url: String, keep: bool },
}

/// What to run.
#[derive(Debug, Clone)]
pub struct CrashOptions {
    /// Distinct requests to file.
    pub requests: usize,
    /// SIGKILLs during the run (the server is restarted after each).
    pub kills: usize,
    /// Concurrent clients.
    pub concurrency: usize,
    pub storage: CrashStorage,
    /// Seed of the kill points.
    pub seed: u64,
    /// The `minyi` binary to run as the server (this one by default).
    pub server_binary: Option<PathBuf>,
}

/// One server life: from start to SIGKILL (or to the end of the run).
#[derive(Debug, Clone, Default, Serialize)]
pub struct CycleReport {
    /// Attempts sent to this server.
    pub sent: u64,
    /// Of them, retries of requests an earlier server left unanswered.
    pub retried: u64,
    /// Answered 201.
    pub created: u64,
    /// Answered 200: a retry of a request the killed server had stored but not answered.
    pub replayed: u64,
    /// No answer (connection reset or refused by the killed server).
    pub unanswered: u64,
    /// Answered with another status.
    pub refused: u64,
    /// Attempts in flight when SIGKILL was sent; `None` for the last server.
    pub in_flight_at_kill: Option<u64>,
    /// Milliseconds from the server's start to the kill or to the end.
    pub lived_ms: u64,
}

/// What the run found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CrashReport {
    pub storage: &'static str,
    pub requests: u64,
    pub kills: u64,
    pub concurrency: u64,
    /// HTTP attempts, retries included.
    pub sent: u64,
    /// Requests answered 201 by a server that was later killed.
    pub acknowledged_before_kill: u64,
    /// Attempts that got no answer.
    pub unanswered: u64,
    /// Attempts that retried an unanswered request (same Idempotency-Key).
    pub retried: u64,
    /// Retries answered 200: the request had been stored before the kill, its answer lost.
    pub retries_replayed: u64,
    /// Retries answered 201: the request had not been stored before the kill.
    pub retries_created: u64,
    /// Attempts answered with a status other than 200/201.
    pub refused: u64,
    /// Requests still without an answer at the end (each one a failure).
    pub never_answered: u64,
    /// Requests in the store after the run.
    pub stored: u64,
    /// Events in the store after the run.
    pub events: u64,
    /// Acknowledged requests not found under the tracking code they were given.
    pub lost: u64,
    /// Requests stored more than once (counted once per extra copy).
    pub duplicates: u64,
    /// Stored requests the harness never sent.
    pub unexpected: u64,
    /// Stored requests without exactly their own Idempotency-Key.
    pub key_mismatches: u64,
    /// Requests whose history is not gapless or does not fold to the snapshot.
    pub inconsistent: u64,
    pub cycles: Vec<CycleReport>,
    pub seconds: f64,
    /// Whether every violation count is zero.
    pub ok: bool,
}

/// One logical request and what the harness learned about it.
#[derive(Debug, Clone, Default)]
struct Planned {
    /// Tracking code from a 201 or 200 answer.
    tracking_code: Option<String>,
    /// The status of that answer.
    status: Option<u16>,
    /// Whether it ever got no answer (so later attempts are retries).
    unanswered_once: bool,
}

enum Outcome {
    Answered {
        status: u16,
        tracking_code: Option<String>,
    },
    NoAnswer,
}

struct Shared {
    queue: Mutex<VecDeque<usize>>,
    /// Requests that got no answer from the current server, retried first by the next.
    unanswered: Mutex<Vec<usize>>,
    plan: Mutex<Vec<Planned>>,
    cycle: Mutex<CycleReport>,
    alive: AtomicBool,
    started: AtomicUsize,
    in_flight: AtomicUsize,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// A unique marker per run and request, carried in the text and the key.
fn marker(run: &str, idx: usize) -> String {
    format!("{run}-{idx:06}")
}

fn body(run: &str, idx: usize) -> serde_json::Value {
    const NAMES: [&str; 4] = ["张三", "李四", "王五", "赵六"];
    serde_json::json!({
        "title": "路灯不亮",
        "text": format!("小区门口路灯连续三晚不亮，请尽快维修。编号 {}", marker(run, idx)),
        "address": format!("测试路{}号", idx % 500 + 1),
        "name": NAMES[idx % NAMES.len()],
        "phone": format!("139{:08}", idx % 100_000_000),
    })
}

/// A running `minyi serve`.
struct Server {
    child: tokio::process::Child,
    address: String,
    started: Instant,
    /// The server's last stderr lines, for the error when it does not come up.
    _log: tokio::task::JoinHandle<()>,
}

async fn start_server(binary: &Path, storage_args: &[String]) -> anyhow::Result<Server> {
    let mut child = tokio::process::Command::new(binary)
        .arg("serve")
        .args(storage_args)
        .args([
            "--listen",
            "127.0.0.1:0",
            // The harness is one client address sending as fast as it can.
            "--intake-burst",
            "1000000",
            "--intake-refill-ms",
            "1",
        ])
        .env("MINYI_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let stderr = child.stderr.take().context("the server's stderr")?;
    let mut lines = BufReader::new(stderr).lines();
    let started = Instant::now();
    let mut seen = Vec::new();
    let address = loop {
        let line = tokio::time::timeout(Duration::from_secs(120), lines.next_line())
            .await
            .context("the server did not start within 120 s")??;
        let Some(line) = line else {
            bail!("the server exited before serving:\n{}", seen.join("\n"));
        };
        if let Some(rest) = line.strip_prefix("minyi serving on ") {
            break rest
                .split_whitespace()
                .next()
                .map(|a| a.trim_end_matches('/').to_string())
                .context("the server's address")?;
        }
        seen.push(line);
    };
    // Keep draining stderr so the server never blocks on a full pipe.
    let log = tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(Server {
        child,
        address,
        started,
        _log: log,
    })
}

async fn send(client: &reqwest::Client, address: &str, run: &str, idx: usize) -> Outcome {
    let response = client
        .post(format!("{address}/api/v1/public/requests"))
        .header("Idempotency-Key", format!("crash-{}", marker(run, idx)))
        .json(&body(run, idx))
        .send()
        .await;
    let Ok(response) = response else {
        return Outcome::NoAnswer;
    };
    let status = response.status().as_u16();
    match response.json::<serde_json::Value>().await {
        Ok(value) => Outcome::Answered {
            status,
            tracking_code: value["tracking_code"].as_str().map(String::from),
        },
        // Headers arrived but the body did not: as good as no answer.
        Err(_) => Outcome::NoAnswer,
    }
}

async fn worker(shared: Arc<Shared>, client: reqwest::Client, address: String, run: Arc<str>) {
    while shared.alive.load(Ordering::SeqCst) {
        let Some(idx) = lock(&shared.queue).pop_front() else {
            break;
        };
        shared.started.fetch_add(1, Ordering::SeqCst);
        shared.in_flight.fetch_add(1, Ordering::SeqCst);
        let outcome = send(&client, &address, &run, idx).await;
        shared.in_flight.fetch_sub(1, Ordering::SeqCst);
        let retry = lock(&shared.plan)[idx].unanswered_once;
        let mut cycle = lock(&shared.cycle);
        cycle.sent += 1;
        cycle.retried += u64::from(retry);
        match outcome {
            Outcome::Answered {
                status: status @ (200 | 201),
                tracking_code: Some(code),
            } => {
                if status == 201 {
                    cycle.created += 1;
                } else {
                    cycle.replayed += 1;
                }
                let mut plan = lock(&shared.plan);
                plan[idx].tracking_code = Some(code);
                plan[idx].status = Some(status);
            }
            Outcome::Answered { .. } => {
                cycle.refused += 1;
                lock(&shared.queue).push_back(idx);
            }
            Outcome::NoAnswer => {
                cycle.unanswered += 1;
                lock(&shared.plan)[idx].unanswered_once = true;
                lock(&shared.unanswered).push(idx);
            }
        }
    }
}

/// Runs one server life. With `kill_after = Some(n)`, sends SIGKILL once `n` attempts have
/// started and at least half the clients are waiting for an answer.
async fn cycle(
    shared: &Arc<Shared>,
    binary: &Path,
    storage_args: &[String],
    concurrency: usize,
    run: &Arc<str>,
    kill_after: Option<usize>,
) -> anyhow::Result<CycleReport> {
    let mut server = start_server(binary, storage_args).await?;
    *lock(&shared.cycle) = CycleReport::default();
    {
        let mut retries = std::mem::take(&mut *lock(&shared.unanswered));
        retries.sort_unstable();
        let mut queue = lock(&shared.queue);
        for idx in retries.into_iter().rev() {
            queue.push_front(idx);
        }
    }
    shared.alive.store(true, Ordering::SeqCst);
    shared.started.store(0, Ordering::SeqCst);
    // A new client per server: connections kept alive to a killed server are useless.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            tokio::spawn(worker(
                shared.clone(),
                client.clone(),
                server.address.clone(),
                run.clone(),
            ))
        })
        .collect();
    let mut in_flight_at_kill = None;
    if let Some(n) = kill_after {
        let wanted = (concurrency / 2).max(1);
        let deadline_after_n = Duration::from_secs(5);
        let mut reached: Option<Instant> = None;
        loop {
            if workers.iter().all(|w| w.is_finished()) {
                break;
            }
            if shared.started.load(Ordering::SeqCst) >= n {
                let since = *reached.get_or_insert_with(Instant::now);
                let in_flight = shared.in_flight.load(Ordering::SeqCst);
                if in_flight >= wanted || since.elapsed() > deadline_after_n {
                    shared.alive.store(false, Ordering::SeqCst);
                    server.child.start_kill().context("SIGKILL")?;
                    in_flight_at_kill = Some(in_flight as u64);
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    for w in workers {
        w.await?;
    }
    let lived_ms = server.started.elapsed().as_millis() as u64;
    // The last server is killed too once everything is answered: the check reads the files.
    let _ = server.child.start_kill();
    server.child.wait().await?;
    let mut report = lock(&shared.cycle).clone();
    report.in_flight_at_kill = in_flight_at_kill;
    report.lived_ms = lived_ms;
    Ok(report)
}

/// Runs the harness and reports; see the module documentation.
pub async fn run(options: &CrashOptions) -> anyhow::Result<CrashReport> {
    let started = Instant::now();
    let binary = match &options.server_binary {
        Some(path) => path.clone(),
        None => std::env::current_exe().context("the path of this binary")?,
    };
    let run_id: Arc<str> = format!("{:08x}", rand::random::<u32>()).into();
    let mut temp_dir = None;
    let mut drop_database = None;
    let (location, storage_args, storage_name) = match &options.storage {
        CrashStorage::DataDir(dir) => {
            if Location::sqlite_file(dir).exists() {
                bail!("{} already holds a database", dir.display());
            }
            (
                Location::DataDir(dir.clone()),
                vec!["--data-dir".into(), dir.display().to_string()],
                "sqlite",
            )
        }
        CrashStorage::TempSqlite => {
            let dir = std::env::temp_dir().join(format!("minyi-crash-{run_id}"));
            temp_dir = Some(dir.clone());
            (
                Location::DataDir(dir.clone()),
                vec!["--data-dir".into(), dir.display().to_string()],
                "sqlite",
            )
        }
        CrashStorage::Postgres { admin_url, keep } => {
            let name = format!("minyi_crash_{run_id}");
            let url = minyi_store::create_postgres_database(admin_url, &name)
                .await
                .context("creating a fresh PostgreSQL database")?;
            if !keep {
                drop_database = Some((admin_url.clone(), name));
            } else {
                eprintln!("keeping the database {url}");
            }
            (
                Location::Postgres(url.clone()),
                vec!["--database-url".into(), url],
                "postgres",
            )
        }
    };
    let result = drive(options, &binary, &storage_args, &location, &run_id).await;
    if let Some(dir) = temp_dir {
        let _ = std::fs::remove_dir_all(dir);
    }
    if let Some((admin_url, name)) = drop_database {
        minyi_store::drop_postgres_database(&admin_url, &name).await?;
    }
    let mut report = result?;
    report.storage = storage_name;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

async fn drive(
    options: &CrashOptions,
    binary: &Path,
    storage_args: &[String],
    location: &Location,
    run: &Arc<str>,
) -> anyhow::Result<CrashReport> {
    let n = options.requests;
    let concurrency = options.concurrency.max(1);
    let shared = Arc::new(Shared {
        queue: Mutex::new((0..n).collect()),
        unanswered: Mutex::new(Vec::new()),
        plan: Mutex::new(vec![Planned::default(); n]),
        cycle: Mutex::new(CycleReport::default()),
        alive: AtomicBool::new(false),
        started: AtomicUsize::new(0),
        in_flight: AtomicUsize::new(0),
    });
    let mut rng = rand::rngs::StdRng::seed_from_u64(options.seed);
    let mut report = CrashReport {
        requests: n as u64,
        kills: options.kills as u64,
        concurrency: concurrency as u64,
        ..CrashReport::default()
    };
    let per_life = n / (options.kills + 1);
    for _ in 0..options.kills {
        // Retries go first (they are at the front of the queue), then fresh requests; the kill
        // falls somewhere in the second half of this life's share.
        let retries = lock(&shared.unanswered).len();
        let share = per_life.max(2);
        let kill_after = retries + rng.random_range(share / 2..share);
        let life = cycle(
            &shared,
            binary,
            storage_args,
            concurrency,
            run,
            Some(kill_after),
        )
        .await?;
        if life.in_flight_at_kill.is_some() {
            report.acknowledged_before_kill += life.created;
        }
        report.cycles.push(life);
    }
    // The last server answers everything left; a few more lives if it somehow does not.
    for _ in 0..5 {
        if lock(&shared.queue).is_empty() && lock(&shared.unanswered).is_empty() {
            break;
        }
        let life = cycle(&shared, binary, storage_args, concurrency, run, None).await?;
        report.cycles.push(life);
    }
    for life in &report.cycles {
        report.sent += life.sent;
        report.unanswered += life.unanswered;
        report.retried += life.retried;
        report.refused += life.refused;
    }
    let plan = lock(&shared.plan).clone();
    report.never_answered = plan.iter().filter(|p| p.tracking_code.is_none()).count() as u64;
    // Retries answered: 200 means it had been stored before the kill, 201 that it had not.
    let retried_requests = || plan.iter().filter(|p| p.unanswered_once);
    report.retries_replayed = retried_requests().filter(|p| p.status == Some(200)).count() as u64;
    report.retries_created = retried_requests().filter(|p| p.status == Some(201)).count() as u64;

    // The check, on the files the killed server left.
    let store = Store::open(location).await.context("opening the store")?;
    let records = store.intake_records().await?;
    let histories = store.check_histories().await?;
    store.close().await;
    report.stored = records.len() as u64;
    report.events = histories.events;
    report.inconsistent = histories.inconsistent.len() as u64;
    let prefix = format!("编号 {run}-");
    let mut by_marker: HashMap<usize, Vec<&minyi_store::IntakeRecord>> = HashMap::new();
    for record in &records {
        let idx = record
            .text
            .rsplit_once(&prefix)
            .and_then(|(_, tail)| tail.parse::<usize>().ok())
            .filter(|idx| *idx < n);
        match idx {
            Some(idx) => by_marker.entry(idx).or_default().push(record),
            None => report.unexpected += 1,
        }
        let own_key = idx.map(|idx| format!("crash-{}", marker(run, idx)));
        if record.idempotency_keys.len() != 1 || record.idempotency_keys.first() != own_key.as_ref()
        {
            report.key_mismatches += 1;
        }
    }
    for (idx, planned) in plan.iter().enumerate() {
        let stored = by_marker.get(&idx).map(Vec::as_slice).unwrap_or_default();
        report.duplicates += stored.len().saturating_sub(1) as u64;
        if let Some(code) = &planned.tracking_code
            && !stored.iter().any(|r| &r.tracking_code == code)
        {
            report.lost += 1;
        }
    }
    report.ok = report.never_answered == 0
        && report.lost == 0
        && report.duplicates == 0
        && report.unexpected == 0
        && report.key_mismatches == 0
        && report.inconsistent == 0
        && report.stored == n as u64;
    Ok(report)
}
