//! `minyi`: the command-line entry point. Parses arguments and calls the store, the server and
//! the demo seeder; holds no domain logic of its own.

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use minyi::demo::{self, Progress, SeedOptions};
use minyi_domain::calendar::WorkCalendar;
use minyi_server::limits::{Limit, RateLimits};
use minyi_store::{Location, Store};
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "minyi",
    version,
    about = "民意 minyi: a closed-loop citizen request platform (12345 hotline, 民意速办)",
    long_about = "民意 minyi: a closed-loop citizen request platform.\n\n\
        Citizens and enterprises submit requests; the responsibility list (职责清单) finds the \
        unit; units sign, handle and reply under working-day clocks; citizens rate the result.\n\n\
        Storage is an embedded SQLite file in --data-dir, or PostgreSQL with --database-url."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args, Clone)]
struct StorageArgs {
    /// Directory of the embedded SQLite database (minyi.db, with its search index
    /// minyi-search.db); created when missing.
    #[arg(long, env = "MINYI_DATA_DIR", conflicts_with = "database_url")]
    data_dir: Option<PathBuf>,
    /// PostgreSQL URL (postgres://user@host/db) instead of the embedded database.
    #[arg(long, env = "MINYI_DATABASE_URL")]
    database_url: Option<String>,
}

/// The intelligent engine at intake.
#[derive(Debug, clap::Args)]
struct EngineArgs {
    /// Classifier model file (`minyi engine train` / `minyi retrain`); without it requests are
    /// located and checked for danger words but not classified.
    #[arg(long, env = "MINYI_MODEL")]
    model: Option<PathBuf>,
    /// Confidence at or above which a request is dispatched at intake without a person
    /// (above 1 turns auto-dispatch off).
    #[arg(long, env = "MINYI_AUTO_DISPATCH_THRESHOLD", default_value_t = minyi_server::intake::DEFAULT_AUTO_DISPATCH_THRESHOLD)]
    auto_dispatch_threshold: f32,
}

impl EngineArgs {
    fn engine(&self) -> anyhow::Result<minyi_server::intake::IntakeEngine> {
        let mut engine = match &self.model {
            Some(path) => {
                let started = std::time::Instant::now();
                let engine = minyi_server::intake::IntakeEngine::with_model_file(
                    path,
                    self.auto_dispatch_threshold,
                )
                .with_context(|| format!("loading the model {}", path.display()))?;
                eprintln!(
                    "model {} loaded in {:.0} ms",
                    path.display(),
                    started.elapsed().as_secs_f64() * 1000.0
                );
                engine
            }
            None => minyi_server::intake::IntakeEngine::default(),
        };
        engine.auto_dispatch_threshold = self.auto_dispatch_threshold;
        Ok(engine)
    }
}

/// Abuse limits per client address (see `minyi_server::limits`).
#[derive(Debug, clap::Args)]
struct LimitArgs {
    /// Public intake: submissions accepted at once from one address.
    #[arg(long, env = "MINYI_INTAKE_BURST", default_value_t = RateLimits::default().public_intake.burst)]
    intake_burst: u32,
    /// Public intake: milliseconds for one more submission to be allowed.
    #[arg(long, env = "MINYI_INTAKE_REFILL_MS", default_value_t = RateLimits::default().public_intake.refill_ms)]
    intake_refill_ms: u64,
    /// Sign-in: attempts accepted at once from one address.
    #[arg(long, env = "MINYI_LOGIN_BURST", default_value_t = RateLimits::default().login.burst)]
    login_burst: u32,
    /// Sign-in: milliseconds for one more attempt to be allowed.
    #[arg(long, env = "MINYI_LOGIN_REFILL_MS", default_value_t = RateLimits::default().login.refill_ms)]
    login_refill_ms: u64,
}

impl LimitArgs {
    fn limits(&self) -> RateLimits {
        RateLimits {
            public_intake: Limit {
                burst: self.intake_burst.max(1),
                refill_ms: self.intake_refill_ms.max(1),
            },
            login: Limit {
                burst: self.login_burst.max(1),
                refill_ms: self.login_refill_ms.max(1),
            },
        }
    }
}

/// Several nodes on one database, and the life-cycle events sent to NATS.
#[derive(Debug, clap::Args)]
struct NodeArgs {
    /// This node's name in the job lease table, unique among the nodes on one database
    /// (default: node-<pid>-<random>).
    #[arg(long, env = "MINYI_NODE_ID")]
    node_id: Option<String>,
    /// Publish life-cycle events to NATS JetStream at this URL (nats://host:4222); off when
    /// absent (events wait in the outbox). A stream must capture `<prefix>.request.>`.
    #[arg(long, env = "MINYI_NATS_URL")]
    nats_url: Option<String>,
    /// First part of the event subjects: `<prefix>.request.<kind>`.
    #[arg(long, env = "MINYI_NATS_SUBJECT_PREFIX", default_value = "minyi")]
    nats_subject_prefix: String,
    /// Milliseconds between clock sweeper runs (on the node holding the sweeper's lease).
    #[arg(long, default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(1..))]
    sweep_every_ms: u64,
    /// Milliseconds between outbox publishing runs (on the node holding the outbox lease).
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..))]
    outbox_every_ms: u64,
    /// Milliseconds between checks of the reference-data version (every node), after which a
    /// change made on another node is seen.
    #[arg(long, default_value_t = 2_000, value_parser = clap::value_parser!(u64).range(1..))]
    reference_check_ms: u64,
}

impl NodeArgs {
    fn jobs(&self) -> minyi_server::jobs::JobSettings {
        let ms = std::time::Duration::from_millis;
        minyi_server::jobs::JobSettings {
            node_id: self
                .node_id
                .clone()
                .unwrap_or_else(minyi_server::jobs::default_node_id),
            sweep_every: ms(self.sweep_every_ms),
            outbox_every: ms(self.outbox_every_ms),
            reference_every: ms(self.reference_check_ms),
            nats: self
                .nats_url
                .clone()
                .map(|url| minyi_server::jobs::NatsSettings {
                    url,
                    subject_prefix: self.nats_subject_prefix.clone(),
                }),
        }
    }
}

impl StorageArgs {
    fn location(&self) -> anyhow::Result<Location> {
        match (&self.data_dir, &self.database_url) {
            (_, Some(url)) => Ok(Location::Postgres(url.clone())),
            (Some(dir), None) => Ok(Location::DataDir(dir.clone())),
            (None, None) => bail!("give --data-dir DIR (embedded SQLite) or --database-url URL"),
        }
    }

    async fn open(&self) -> anyhow::Result<Store> {
        let location = self.location()?;
        Store::open(&location)
            .await
            .with_context(|| format!("opening the store at {location:?}"))
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Seed a demo city (Shenzhen, 90 days of history) when the store is empty, then serve it.
    ///
    /// Writes one account per role to DIR/demo-credentials.json.
    Demo {
        /// Directory for the embedded database and demo-credentials.json.
        #[arg(long, env = "MINYI_DATA_DIR")]
        data_dir: PathBuf,
        /// Use PostgreSQL instead of the embedded database (credentials still go to --data-dir).
        #[arg(long, env = "MINYI_DATABASE_URL")]
        database_url: Option<String>,
        /// Address to serve on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Seed and exit without serving.
        #[arg(long)]
        seed_only: bool,
        /// Requests received over the 90 days.
        #[arg(long, default_value_t = 52_000)]
        requests: usize,
        /// Random seed, for a reproducible city.
        #[arg(long, default_value_t = 12345)]
        seed: u64,
    },
    /// Serve the API and run the background jobs.
    Serve {
        #[command(flatten)]
        storage: StorageArgs,
        /// Address to serve on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        #[command(flatten)]
        engine: EngineArgs,
        #[command(flatten)]
        limits: LimitArgs,
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Retrain the classifier from the requests whose category is known (by default those a
    /// person chose or corrected, so the engine learns from dispatchers' corrections).
    Retrain {
        #[command(flatten)]
        storage: StorageArgs,
        /// Model file to write.
        #[arg(long)]
        model: PathBuf,
        /// At most this many requests, newest first.
        #[arg(long, default_value_t = 20_000)]
        limit: u32,
        /// Also learn from categories the engine gave and nobody corrected.
        #[arg(long)]
        include_engine: bool,
    },
    /// Import reference data from a CSV file (with a header row).
    ///
    /// divisions: code,name,level,kind,parent_code — units: code,name,kind,division_code —
    /// catalog: code,name,parent_code,urgency,response,handling,consultation —
    /// responsibilities: matter_code,division_code,lead_unit_code,co_unit_codes,legal_basis,response,handling
    /// (replaces the whole list) — calendar: date,kind,name (replaces the holidays).
    /// Spans are written like 2h (clock hours), 4wh (working hours), 5wd (working days).
    Import {
        what: Table,
        file: PathBuf,
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// Export reference data as CSV (the format `import` reads).
    Export {
        what: Table,
        /// Output file; standard output when absent.
        #[arg(long)]
        output: Option<PathBuf>,
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// The matter catalogue and the responsibility list.
    Catalog {
        #[command(subcommand)]
        command: CatalogCommand,
    },
    /// Counts of requests by state, events, units, divisions and matters.
    Stats {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// Train and evaluate the request classifier (智能引擎).
    Engine {
        #[command(subcommand)]
        command: minyi::engine_cmd::EngineCommand,
    },
    /// Run the clock sweeper once now (the server runs it every 30 s).
    Sweep {
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// KPI aggregates (考核指标): rebuild from the history, or report.
    Kpi {
        #[command(subcommand)]
        command: KpiCommand,
    },
    /// The tamper-evident history (防篡改): every event is hash-chained to the one before it.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Write a consistent backup of the whole database to FILE while the server keeps serving
    /// (gzip-compressed JSON lines, the same for SQLite and PostgreSQL).
    Backup {
        /// The backup file to write (written as FILE.partial, renamed when complete).
        #[arg(long)]
        to: PathBuf,
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// Load a backup into an empty database (a new --data-dir, or an empty PostgreSQL database).
    ///
    /// Refuses a database that already holds data, and a backup from a newer schema.
    Restore {
        /// The backup file (`minyi backup --to`).
        #[arg(long)]
        from: PathBuf,
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// Benchmarks that print JSON.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

#[derive(Debug, Subcommand)]
enum KpiCommand {
    /// Recompute the aggregates from the whole history (with progress).
    Rebuild {
        #[command(flatten)]
        storage: StorageArgs,
    },
    /// KPIs over a period, grouped (total, unit, channel, matter:N, division:LEVEL), as JSON.
    Report {
        #[arg(long, default_value = "unit")]
        by: String,
        /// First day (YYYY-MM-DD, local).
        #[arg(long)]
        from: chrono::NaiveDate,
        /// Day after the last (exclusive).
        #[arg(long)]
        to: chrono::NaiveDate,
        /// Bucket the period: day, week or month.
        #[arg(long)]
        bucket: Option<String>,
        #[command(flatten)]
        storage: StorageArgs,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Walk every request's hash chain and report the first altered or missing event of each
    /// (request id, seq, expected and found hash). Exits 1 when any chain is broken.
    Verify {
        /// Print JSON: {"requests","events","broken_requests","problems":[…],"seconds"}.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        storage: StorageArgs,
    },
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Generate N requests of history into a fresh store (SQLite, or a scratch PostgreSQL
    /// database with --database-url) and time every dashboard query from the aggregates and as
    /// a naive GROUP BY over the raw tables.
    Kpi {
        #[arg(long, default_value_t = 100_000)]
        requests: usize,
        /// Also time the queries when the same database holds these many requests on its way
        /// to --requests (comma-separated), and report the growth from the smallest size.
        #[arg(long, value_delimiter = ',')]
        at: Vec<usize>,
        /// Runs per aggregate query.
        #[arg(long, default_value_t = 30)]
        runs: usize,
        /// Runs per naive query.
        #[arg(long, default_value_t = 5)]
        naive_runs: usize,
        /// Groups also timed from kpi_daily and as a naive GROUP BY (comma-separated: total,
        /// unit, channel, matter:1, matter:3, division:district, division:street,
        /// division:community); all when not given.
        #[arg(long, value_delimiter = ',')]
        compare: Vec<String>,
        /// Rebuild the aggregates from the history after timing and compare (on|off).
        #[arg(long, default_value = "on", value_parser = ["on", "off"])]
        rebuild: String,
        /// Run on PostgreSQL: a scratch database is created on this server and dropped after.
        #[arg(long)]
        database_url: Option<String>,
        /// Keep the SQLite database here (must not hold one); a temporary directory otherwise.
        #[arg(long, conflicts_with = "database_url")]
        data_dir: Option<PathBuf>,
        /// Also check that the aggregates equal a computation from the history.
        #[arg(long)]
        verify: bool,
        /// Print JSON (the only output format).
        #[arg(long)]
        json: bool,
    },
    /// Crash safety: serve on a fresh database, send concurrent public intake with
    /// Idempotency-Keys, SIGKILL the server mid-load, restart it, retry what went unanswered,
    /// then check that every acknowledged request is stored exactly once with a consistent
    /// history. Prints the counts as JSON; exits 1 on any loss, duplicate or inconsistency.
    Crash {
        /// Distinct requests to file.
        #[arg(long, default_value_t = 2000)]
        requests: usize,
        /// SIGKILLs during the run.
        #[arg(long, default_value_t = 3)]
        kills: usize,
        /// Concurrent clients.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// SQLite in this directory (must not hold a database); a temporary one otherwise.
        #[arg(long, conflicts_with = "postgres")]
        data_dir: Option<PathBuf>,
        /// Run on PostgreSQL: a fresh database is created through this URL (a user allowed
        /// to create databases, e.g. postgres://postgres@127.0.0.1:5432/postgres) and dropped
        /// afterwards.
        #[arg(long)]
        postgres: Option<String>,
        /// Keep the PostgreSQL database after the run.
        #[arg(long)]
        keep: bool,
        /// Seed of the kill points.
        #[arg(long, default_value_t = 9)]
        seed: u64,
        /// Print JSON (the only output format).
        #[arg(long)]
        json: bool,
    },
    /// Public intake under load through the real HTTP server on loopback (the whole pipeline,
    /// durable before the 201) at each concurrency, against a bare baseline of one-row durable
    /// transactions on the same database; prints JSON with throughput, p50, p99 and the ratios.
    Intake {
        /// Requests at each concurrency.
        #[arg(long, default_value_t = 4000)]
        requests: usize,
        /// Run each concurrency for this many seconds instead of a number of requests.
        #[arg(long)]
        seconds: Option<f64>,
        /// Concurrencies, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "1,64")]
        concurrency: Vec<usize>,
        /// Rows of the bare baseline.
        #[arg(long, default_value_t = 4000)]
        bare_rows: usize,
        /// Requests of simulated history in the seeded city (the classifier learns from it).
        #[arg(long, default_value_t = 5000)]
        seed_requests: usize,
        /// Real citizen messages: a CSV file with `title` and `detail` columns.
        #[arg(long, default_value = "../shared/data/teddy2020/messages_train.csv")]
        messages: PathBuf,
        /// Run on PostgreSQL: a scratch database is created on this server and dropped after.
        #[arg(long)]
        database_url: Option<String>,
        /// Keep the SQLite database here (must not hold one); a temporary directory otherwise.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        #[arg(long, default_value_t = minyi_server::intake::DEFAULT_AUTO_DISPATCH_THRESHOLD)]
        auto_dispatch_threshold: f32,
        /// Group commit of concurrent intakes (`off`: one transaction per request, as before).
        #[arg(long, default_value = "on", value_parser = ["on", "off"])]
        group_commit: String,
        /// Print JSON (the only output format).
        #[arg(long)]
        json: bool,
    },
    /// Full-text search on the request list: generate N requests of history (in chunks), then
    /// time a fixed set of Chinese searches (2, 3 and 4+ characters, with filters and a unit's
    /// scope) through the index and as a naive LIKE scan; prints JSON with p50/p95/p99 and the
    /// ratios, progress on stderr.
    Search {
        #[arg(long, default_value_t = 100_000)]
        requests: usize,
        /// Runs of each query through the index.
        #[arg(long, default_value_t = 50)]
        runs: usize,
        /// Runs of each query as a naive LIKE scan.
        #[arg(long, default_value_t = 3)]
        naive_runs: usize,
        /// Run on PostgreSQL: a scratch database is created on this server and dropped after.
        #[arg(long)]
        database_url: Option<String>,
        /// Keep the SQLite database here (must not hold one); a temporary directory otherwise.
        #[arg(long, conflicts_with = "database_url")]
        data_dir: Option<PathBuf>,
        /// Print JSON (the only output format).
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Table {
    Divisions,
    Units,
    Catalog,
    Responsibilities,
    /// Holidays and make-up working days: date,kind,name with kind `holiday` or `workday`
    /// (replaces the calendar; the working hours stay).
    Calendar,
}

#[derive(Debug, Subcommand)]
enum CatalogCommand {
    /// Prove the responsibility list complete: resolve every leaf matter in every leaf division
    /// and count gaps (no rule; falls back to the fallback unit) and conflicts (equally specific
    /// rules naming different units). Exits 1 when either is not zero.
    Check {
        /// Print JSON: {"leaf_matters","leaf_divisions","combinations","gaps","conflicts",…}.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        storage: StorageArgs,
    },
}

/// Progress bars on a terminal, plain lines otherwise (CI logs).
struct Bars {
    bar: Option<ProgressBar>,
    terminal: bool,
    name: String,
    len: u64,
    last_line: u64,
    started: std::time::Instant,
}

impl Bars {
    fn new() -> Self {
        Bars {
            bar: None,
            terminal: std::io::stderr().is_terminal(),
            name: String::new(),
            len: 0,
            last_line: 0,
            started: std::time::Instant::now(),
        }
    }
}

impl Progress for Bars {
    fn phase(&mut self, name: &str, len: u64) {
        self.name = name.to_string();
        self.len = len;
        self.last_line = 0;
        self.started = std::time::Instant::now();
        if self.terminal {
            let bar = ProgressBar::new(len);
            if let Ok(style) = ProgressStyle::with_template(
                "{msg:32} [{bar:40}] {pos}/{len} {elapsed_precise} eta {eta}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(name.to_string());
            self.bar = Some(bar);
        } else {
            eprintln!("{name}: 0/{len}");
        }
    }

    fn advance(&mut self, position: u64) {
        match &self.bar {
            Some(bar) => bar.set_position(position),
            None => {
                // A line every tenth of the way.
                if position >= self.last_line + self.len.max(10) / 10 {
                    eprintln!("{}: {position}/{}", self.name, self.len);
                    self.last_line = position;
                }
            }
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish();
        }
        eprintln!(
            "{}: done in {:.1} s",
            self.name,
            self.started.elapsed().as_secs_f64()
        );
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MINYI_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

async fn serve(
    store: Store,
    listen: &str,
    engine: minyi_server::intake::IntakeEngine,
    limits: RateLimits,
    jobs: minyi_server::jobs::JobSettings,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, storage = store.kind().as_str(), "minyi serving");
    eprintln!("minyi serving on http://{address}/ (health: http://{address}/healthz)");
    // Ctrl-C or SIGTERM (a process supervisor): finish the requests in flight, stop the jobs and
    // give their leases back so another node takes over at once.
    let shutdown = async {
        #[cfg(unix)]
        {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut term) => {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term.recv() => {}
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    };
    tracing::info!(node_id = %jobs.node_id, nats = jobs.nats.is_some(), "background jobs");
    let state = minyi_server::AppState::new(store.clone())
        .with_engine(engine)
        .with_rate_limits(limits)
        .with_jobs(jobs);
    minyi_server::serve_with(state, listener, shutdown).await?;
    store.close().await;
    Ok(())
}

fn write_table<T: serde::Serialize>(rows: &[T], output: &Option<PathBuf>) -> anyhow::Result<()> {
    match output {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("creating {}", path.display()))?;
            minyi_store::write_csv(rows, file)?;
        }
        None => minyi_store::write_csv(rows, std::io::stdout().lock())?,
    }
    Ok(())
}

async fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Demo {
            data_dir,
            database_url,
            listen,
            seed_only,
            requests,
            seed,
        } => {
            let location = match database_url {
                Some(url) => Location::Postgres(url),
                None => Location::DataDir(data_dir.clone()),
            };
            let store = Store::open(&location).await?;
            if store.stats().await?.divisions == 0 {
                let options = SeedOptions {
                    requests,
                    days: 90,
                    seed,
                    // Whole milliseconds, the precision the store keeps.
                    end: chrono::DateTime::from_timestamp_millis(
                        chrono::Utc::now().timestamp_millis(),
                    )
                    .unwrap_or_else(chrono::Utc::now),
                };
                let report = demo::seed(&store, &data_dir, &options, &mut Bars::new()).await?;
                eprintln!(
                    "seeded the demo city in {:.1} s: {} divisions, {} units, {} matters, {} rules, {} requests, {} events",
                    report.seconds,
                    report.divisions,
                    report.units,
                    report.matters,
                    report.rules,
                    report.requests,
                    report.events
                );
                let e = &report.enterprise;
                eprintln!(
                    "enterprise programme: {} teams, {} enterprises, {} visits ({} with a request); \
                     assignment of {} enterprises to {} teams in {} ms (load {}..{})",
                    e.teams,
                    e.enterprises,
                    e.visits,
                    e.linked_requests,
                    e.assignment.assigned,
                    e.assignment.teams,
                    e.assignment.algorithm_ms,
                    e.assignment.min_load,
                    e.assignment.max_load
                );
                eprintln!(
                    "matchmaking: {} resources, {} needs, {} matches proposed, {} agreed",
                    e.matchmaking.resources,
                    e.matchmaking.needs,
                    e.matchmaking.matches,
                    e.matchmaking.agreed
                );
                eprintln!(
                    "accounts: {}",
                    data_dir.join("demo-credentials.json").display()
                );
            } else {
                eprintln!("the store already holds a city; not seeding again");
            }
            let model_path = data_dir.join("model.bin");
            if !model_path.exists() {
                minyi::engine_cmd::train_demo_classifier(&store, &model_path).await?;
            }
            if seed_only {
                store.close().await;
                return Ok(0);
            }
            let engine = EngineArgs {
                model: Some(model_path),
                auto_dispatch_threshold: minyi_server::intake::DEFAULT_AUTO_DISPATCH_THRESHOLD,
            }
            .engine()?;
            serve(
                store,
                &listen,
                engine,
                RateLimits::default(),
                minyi_server::jobs::JobSettings::default(),
            )
            .await?;
            Ok(0)
        }
        Command::Serve {
            storage,
            listen,
            engine,
            limits,
            node,
        } => {
            let store = storage.open().await?;
            serve(
                store,
                &listen,
                engine.engine()?,
                limits.limits(),
                node.jobs(),
            )
            .await?;
            Ok(0)
        }
        Command::Retrain {
            storage,
            model,
            limit,
            include_engine,
        } => {
            let store = storage.open().await?;
            let examples =
                minyi::engine_cmd::labelled_examples(&store, limit, !include_engine).await?;
            let words = minyi::engine_cmd::city_words(&store).await?;
            store.close().await;
            if examples.len() < 20 {
                eprintln!(
                    "only {} labelled requests: too few to train on",
                    examples.len()
                );
                return Ok(1);
            }
            eprintln!("retraining on {} labelled requests", examples.len());
            minyi::engine_cmd::train_examples(&examples, &model, words)?;
            Ok(0)
        }
        Command::Import {
            what,
            file,
            storage,
        } => {
            let store = storage.open().await?;
            let input = std::fs::File::open(&file)
                .with_context(|| format!("opening {}", file.display()))?;
            let n = match what {
                Table::Divisions => {
                    store
                        .import_divisions(&minyi_store::read_csv(input)?)
                        .await?
                }
                Table::Units => store.import_units(&minyi_store::read_csv(input)?).await?,
                Table::Catalog => store.import_matters(&minyi_store::read_csv(input)?).await?,
                Table::Responsibilities => {
                    store.replace_rules(&minyi_store::read_csv(input)?).await?
                }
                Table::Calendar => {
                    let text = std::io::read_to_string(input)?;
                    let overrides = WorkCalendar::parse_overrides_csv(&text)?;
                    let hours = store.calendar().hours().clone();
                    store.replace_calendar(&overrides, &hours).await?;
                    overrides.len()
                }
            };
            eprintln!("imported {n} rows from {}", file.display());
            store.close().await;
            Ok(0)
        }
        Command::Export {
            what,
            output,
            storage,
        } => {
            let store = storage.open().await?;
            match what {
                Table::Divisions => write_table(&store.export_divisions().await?, &output)?,
                Table::Units => write_table(&store.export_units().await?, &output)?,
                Table::Catalog => write_table(&store.export_matters().await?, &output)?,
                Table::Responsibilities => write_table(&store.export_rules().await?, &output)?,
                Table::Calendar => {
                    let text = WorkCalendar::overrides_to_csv(store.calendar().overrides());
                    match &output {
                        Some(path) => std::fs::write(path, text)?,
                        None => print!("{text}"),
                    }
                }
            }
            store.close().await;
            Ok(0)
        }
        Command::Catalog {
            command: CatalogCommand::Check { json, storage },
        } => {
            let store = storage.open().await?;
            let started = std::time::Instant::now();
            let catalog = store.load_catalog().await?;
            let divisions = store.load_divisions().await?;
            let list = store.load_responsibility_list().await?;
            let report = list.check(&catalog, &divisions);
            let seconds = started.elapsed().as_secs_f64();
            if json {
                let mut value = serde_json::to_value(&report)?;
                value["seconds"] = serde_json::json!(seconds);
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                println!(
                    "职责清单完整性检查 responsibility list check: {} leaf matters × {} leaf divisions = {} combinations in {:.2} s",
                    report.leaf_matters, report.leaf_divisions, report.combinations, seconds
                );
                println!(
                    "缺口 gaps: {}   冲突 conflicts: {}",
                    report.gaps, report.conflicts
                );
                for f in &report.gap_samples {
                    println!(
                        "  gap: {} @ {}",
                        catalog.path_name(f.matter),
                        divisions.path_name(f.division)
                    );
                }
                for f in &report.conflict_samples {
                    println!(
                        "  conflict: {} @ {} (rules {:?})",
                        catalog.path_name(f.matter),
                        divisions.path_name(f.division),
                        f.rules.iter().map(|r| r.0).collect::<Vec<_>>()
                    );
                }
            }
            store.close().await;
            Ok(if report.is_complete() { 0 } else { 1 })
        }
        Command::Stats { json, storage } => {
            let store = storage.open().await?;
            let stats = store.stats().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&stats)?);
            } else {
                println!("storage: {}", stats.storage);
                println!("requests: {}", stats.requests);
                for (state, n) in &stats.requests_by_state {
                    println!("  {state}: {n}");
                }
                println!("events: {}", stats.events);
                println!("units: {}  users: {}", stats.units, stats.users);
                println!(
                    "divisions: {} ({} urban villages)  matters: {} ({} leaves)  rules: {}",
                    stats.divisions,
                    stats.urban_villages,
                    stats.matters,
                    stats.leaf_matters,
                    stats.responsibility_rules
                );
                println!(
                    "enterprise programme: {} teams, {} enterprises, {} visits, {} enterprise \
                     requests ({} raised at visits)",
                    stats.service_teams,
                    stats.enterprises,
                    stats.enterprise_visits,
                    stats.enterprise_requests,
                    stats.visit_requests
                );
                println!(
                    "matchmaking: {} resources, {} needs, {} matches ({} agreed)",
                    stats.match_resources,
                    stats.enterprise_needs,
                    stats.matches,
                    stats.matches_agreed
                );
            }
            store.close().await;
            Ok(0)
        }
        Command::Engine { command } => minyi::engine_cmd::run(command),
        Command::Kpi {
            command: KpiCommand::Rebuild { storage },
        } => {
            let store = storage.open().await?;
            let rows = minyi::kpi_cmd::rebuild(&store, &mut Bars::new()).await?;
            println!("{}", serde_json::json!({ "kpi_rows": rows }));
            store.close().await;
            Ok(0)
        }
        Command::Kpi {
            command:
                KpiCommand::Report {
                    by,
                    from,
                    to,
                    bucket,
                    storage,
                },
        } => {
            let group = minyi::kpi_cmd::parse_group(&by)?;
            let bucket = match bucket {
                Some(b) => Some(
                    minyi_domain::kpi::Bucket::parse(&b)
                        .context("--bucket is day, week or month")?,
                ),
                None => None,
            };
            let store = storage.open().await?;
            let rows = store
                .kpi_report(
                    &group,
                    &minyi_store::KpiPeriod { from, to, bucket },
                    &minyi_domain::kpi::Weights::default(),
                )
                .await?;
            println!("{}", serde_json::to_string_pretty(&rows)?);
            store.close().await;
            Ok(0)
        }
        Command::Bench {
            command:
                BenchCommand::Kpi {
                    requests,
                    at,
                    runs,
                    naive_runs,
                    compare,
                    rebuild,
                    database_url,
                    data_dir,
                    verify,
                    json: _,
                },
        } => {
            for group in &compare {
                minyi::kpi_cmd::parse_group(group)?;
            }
            let options = minyi::kpi_cmd::BenchOptions {
                requests,
                at,
                runs,
                naive_runs,
                compare,
                data_dir,
                database_url,
                verify,
                rebuild: rebuild == "on",
            };
            let report = minyi::kpi_cmd::bench(&options, &mut Bars::new()).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(0)
        }
        Command::Bench {
            command:
                BenchCommand::Crash {
                    requests,
                    kills,
                    concurrency,
                    data_dir,
                    postgres,
                    keep,
                    seed,
                    json: _,
                },
        } => {
            let storage = match (postgres, data_dir) {
                (Some(admin_url), _) => {
                    minyi::crash_cmd::CrashStorage::Postgres { admin_url, keep }
                }
                (None, Some(dir)) => minyi::crash_cmd::CrashStorage::DataDir(dir),
                (None, None) => minyi::crash_cmd::CrashStorage::TempSqlite,
            };
            let report = minyi::crash_cmd::run(&minyi::crash_cmd::CrashOptions {
                requests,
                kills,
                concurrency,
                storage,
                seed,
                server_binary: None,
            })
            .await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(if report.ok { 0 } else { 1 })
        }
        Command::Audit {
            command: AuditCommand::Verify { json, storage },
        } => {
            let store = storage.open().await?;
            let report = minyi::audit_cmd::verify(&store, json, &mut Bars::new()).await?;
            store.close().await;
            Ok(if report.is_clean() { 0 } else { 1 })
        }
        Command::Backup { to, storage } => {
            let store = storage.open().await?;
            let summary = minyi::audit_cmd::backup(&store, &to, &mut Bars::new())
                .await
                .with_context(|| format!("backing up to {}", to.display()))?;
            store.close().await;
            println!("{}", serde_json::to_string_pretty(&summary)?);
            Ok(0)
        }
        Command::Restore { from, storage } => {
            let store = storage.open().await?;
            let summary = minyi::audit_cmd::restore(&store, &from, &mut Bars::new())
                .await
                .with_context(|| format!("restoring {}", from.display()))?;
            store.close().await;
            println!("{}", serde_json::to_string_pretty(&summary)?);
            Ok(0)
        }
        Command::Bench {
            command:
                BenchCommand::Intake {
                    requests,
                    seconds,
                    concurrency,
                    bare_rows,
                    seed_requests,
                    messages,
                    database_url,
                    data_dir,
                    auto_dispatch_threshold,
                    group_commit,
                    json: _,
                },
        } => {
            let options = minyi::bench_intake::IntakeBenchOptions {
                requests,
                seconds,
                concurrency,
                bare_rows,
                seed_requests,
                messages,
                database_url,
                data_dir,
                auto_dispatch_threshold,
                group_commit: group_commit == "on",
            };
            let report = minyi::bench_intake::bench(&options, &mut Bars::new()).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(0)
        }
        Command::Bench {
            command:
                BenchCommand::Search {
                    requests,
                    runs,
                    naive_runs,
                    database_url,
                    data_dir,
                    json: _,
                },
        } => {
            let options = minyi::bench_search::SearchBenchOptions {
                requests,
                runs,
                naive_runs,
                database_url,
                data_dir,
            };
            let report = minyi::bench_search::bench(&options, &mut Bars::new()).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(0)
        }
        Command::Sweep { storage } => {
            let store = storage.open().await?;
            let report = store.sweep(chrono::Utc::now()).await?;
            println!("{}", serde_json::to_string(&report)?);
            store.close().await;
            Ok(0)
        }
    }
}

#[tokio::main]
async fn main() {
    init_tracing();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(2);
        }
    }
}
