//! The background jobs of a node, and how several nodes on one database share them.
//!
//! - The clock sweeper (临期预警 / 超期督办) and the outbox publisher run on one node at a time:
//!   each run first takes or renews the job's lease in the store (`job_leases`), and a node that
//!   does not hold it skips the run. A lease lasts three runs (at least 10 s), so when its
//!   holder dies another node takes over within that time; at shutdown a node gives its leases
//!   back so the others take over at once.
//! - The reference watcher runs on every node: it reads the store's reference-data version and,
//!   when another node changed divisions, units, the catalogue, the responsibility list or the
//!   calendar, drops this node's cached copies.
//!
//! The outbox publisher sends each waiting message to NATS JetStream on the subject
//! `<prefix>.request.<kind>` with its event id as `Nats-Msg-Id`, waits for the stream's ack and
//! only then marks it published: at least once, and JetStream drops a repeat inside its
//! duplicate window. Messages go one at a time in outbox order, so a request's messages arrive
//! in order; a failure stops the pass and the rest wait for the next one.

use crate::reference::CityCache;
use async_nats::jetstream;
use minyi_store::Store;
use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tokio::task::JoinHandle;

/// The clock sweeper's lease name.
pub const SWEEPER: &str = "sweeper";
/// The outbox publisher's lease name.
pub const OUTBOX: &str = "outbox";

/// Where and how to publish life-cycle events.
#[derive(Debug, Clone)]
pub struct NatsSettings {
    /// e.g. `nats://127.0.0.1:4222`.
    pub url: String,
    /// First part of every subject: `<prefix>.request.<kind>`.
    pub subject_prefix: String,
}

/// How a node runs its background jobs.
#[derive(Debug, Clone)]
pub struct JobSettings {
    /// This node's name in the lease table (unique among the nodes).
    pub node_id: String,
    pub sweep_every: Duration,
    pub outbox_every: Duration,
    /// How often the reference-data version is checked.
    pub reference_every: Duration,
    /// Off when absent: events stay in the outbox.
    pub nats: Option<NatsSettings>,
}

impl Default for JobSettings {
    fn default() -> Self {
        JobSettings {
            node_id: default_node_id(),
            sweep_every: Duration::from_secs(30),
            outbox_every: Duration::from_secs(1),
            reference_every: Duration::from_secs(2),
            nats: None,
        }
    }
}

/// A node id that differs between processes: `node-<pid>-<random>`.
pub fn default_node_id() -> String {
    format!("node-{}-{:08x}", std::process::id(), rand_u32())
}

fn rand_u32() -> u32 {
    // No rand dependency in this crate: the clock's nanoseconds are random enough for a name.
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() ^ (d.as_secs() as u32).rotate_left(13))
        .unwrap_or(0)
}

/// How long a lease lasts for a job that runs every `every`.
pub fn lease_ttl(every: Duration) -> Duration {
    (every * 3).max(Duration::from_secs(10))
}

/// What this node's jobs did, for `/metrics`.
#[derive(Debug, Default)]
pub struct JobStats {
    pub sweeper_runs: AtomicU64,
    pub outbox_runs: AtomicU64,
    pub published: AtomicU64,
    pub publish_failures: AtomicU64,
    pub reference_reloads: AtomicU64,
    sweeper_held: AtomicBool,
    outbox_held: AtomicBool,
}

impl JobStats {
    /// Appends the node's job figures in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP minyi_job_runs_total Runs of a leased background job on this node."
        );
        let _ = writeln!(out, "# TYPE minyi_job_runs_total counter");
        for (job, n) in [(SWEEPER, &self.sweeper_runs), (OUTBOX, &self.outbox_runs)] {
            let _ = writeln!(
                out,
                "minyi_job_runs_total{{job=\"{job}\"}} {}",
                n.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP minyi_job_lease_held Whether this node held the job's lease at its last try."
        );
        let _ = writeln!(out, "# TYPE minyi_job_lease_held gauge");
        for (job, held) in [(SWEEPER, &self.sweeper_held), (OUTBOX, &self.outbox_held)] {
            let _ = writeln!(
                out,
                "minyi_job_lease_held{{job=\"{job}\"}} {}",
                u8::from(held.load(Ordering::Relaxed))
            );
        }
        let _ = writeln!(
            out,
            "# HELP minyi_outbox_published_total Events this node published to NATS (acknowledged)."
        );
        let _ = writeln!(out, "# TYPE minyi_outbox_published_total counter");
        let _ = writeln!(
            out,
            "minyi_outbox_published_total {}",
            self.published.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP minyi_outbox_publish_failures_total Publishing passes on this node that stopped on an error."
        );
        let _ = writeln!(out, "# TYPE minyi_outbox_publish_failures_total counter");
        let _ = writeln!(
            out,
            "minyi_outbox_publish_failures_total {}",
            self.publish_failures.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP minyi_reference_reloads_total Times this node dropped its cached reference data after another node changed it."
        );
        let _ = writeln!(out, "# TYPE minyi_reference_reloads_total counter");
        let _ = writeln!(
            out,
            "minyi_reference_reloads_total {}",
            self.reference_reloads.load(Ordering::Relaxed)
        );
    }
}

/// The running jobs of a node.
#[derive(Debug)]
pub struct RunningJobs {
    handles: Vec<JoinHandle<()>>,
    store: Store,
    node_id: String,
}

impl RunningJobs {
    /// Stops the jobs and gives the leases back.
    pub async fn stop(self) {
        for handle in &self.handles {
            handle.abort();
        }
        for job in [SWEEPER, OUTBOX] {
            if let Err(e) = self.store.release_lease(job, &self.node_id).await {
                tracing::warn!(code = e.code(), job, "could not release the lease: {e}");
            }
        }
    }
}

/// Starts the node's jobs: the sweeper, the outbox publisher (when NATS is configured) and the
/// reference watcher.
pub fn spawn(
    store: &Store,
    city: &CityCache,
    settings: &JobSettings,
    stats: &Arc<JobStats>,
) -> RunningJobs {
    let mut handles = vec![
        spawn_sweeper(store.clone(), settings, stats.clone()),
        spawn_reference_watcher(store.clone(), city.clone(), settings, stats.clone()),
    ];
    if let Some(nats) = &settings.nats {
        handles.push(spawn_publisher(
            store.clone(),
            nats.clone(),
            settings,
            stats.clone(),
        ));
    }
    RunningJobs {
        handles,
        store: store.clone(),
        node_id: settings.node_id.clone(),
    }
}

/// Whether this node may run `job` now (takes or renews its lease).
async fn hold(store: &Store, job: &str, node_id: &str, every: Duration, held: &AtomicBool) -> bool {
    match store.acquire_lease(job, node_id, lease_ttl(every)).await {
        Ok(now_held) => {
            if now_held != held.swap(now_held, Ordering::Relaxed) {
                tracing::info!(job, node_id, held = now_held, "lease changed hands");
            }
            now_held
        }
        Err(e) => {
            tracing::warn!(code = e.code(), job, "lease check failed: {e}");
            held.store(false, Ordering::Relaxed);
            false
        }
    }
}

fn interval(every: Duration) -> tokio::time::Interval {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick
}

fn spawn_sweeper(store: Store, settings: &JobSettings, stats: Arc<JobStats>) -> JoinHandle<()> {
    let (every, node_id) = (settings.sweep_every, settings.node_id.clone());
    tokio::spawn(async move {
        let mut tick = interval(every);
        loop {
            tick.tick().await;
            if !hold(&store, SWEEPER, &node_id, every, &stats.sweeper_held).await {
                continue;
            }
            stats.sweeper_runs.fetch_add(1, Ordering::Relaxed);
            match store.sweep(chrono::Utc::now()).await {
                Ok(report) if report.due_soon + report.escalated > 0 => tracing::info!(
                    due_soon = report.due_soon,
                    escalated = report.escalated,
                    node_id = %node_id,
                    "sweeper raised clock events"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(code = e.code(), "sweeper pass failed: {e}"),
            }
        }
    })
}

fn spawn_reference_watcher(
    store: Store,
    city: CityCache,
    settings: &JobSettings,
    stats: Arc<JobStats>,
) -> JoinHandle<()> {
    let every = settings.reference_every;
    tokio::spawn(async move {
        let mut tick = interval(every);
        loop {
            tick.tick().await;
            match store.refresh_reference().await {
                Ok(version) => {
                    if city.invalidate_older_than(version).await {
                        stats.reference_reloads.fetch_add(1, Ordering::Relaxed);
                        tracing::info!(version, "reference data changed: cache dropped");
                    }
                }
                Err(e) => tracing::warn!(code = e.code(), "reference check failed: {e}"),
            }
        }
    })
}

/// Publishes outbox messages to JetStream; keeps its connection between passes.
struct Publisher {
    settings: NatsSettings,
    context: Option<jetstream::Context>,
}

/// Why a publishing pass stopped.
#[derive(Debug, thiserror::Error)]
enum PublishFailure {
    #[error("cannot connect to NATS: {0}")]
    Connect(String),
    #[error("publish not acknowledged: {0}")]
    Publish(String),
    #[error("storage: {0}")]
    Store(#[from] minyi_store::StoreError),
}

impl Publisher {
    async fn context(&mut self) -> Result<jetstream::Context, PublishFailure> {
        if let Some(context) = &self.context {
            return Ok(context.clone());
        }
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(2))
            .request_timeout(Some(Duration::from_secs(5)))
            .connect(self.settings.url.as_str())
            .await
            .map_err(|e| PublishFailure::Connect(e.to_string()))?;
        let context = jetstream::new(client);
        self.context = Some(context.clone());
        Ok(context)
    }

    /// Publishes everything waiting, counting what went out in `published`.
    async fn pass(&mut self, store: &Store, published: &AtomicU64) -> Result<(), PublishFailure> {
        let context = self.context().await?;
        loop {
            let batch = store.unpublished_events(256).await?;
            if batch.is_empty() {
                return Ok(());
            }
            let mut acked = Vec::with_capacity(batch.len());
            let mut failure = None;
            for message in &batch {
                let subject = format!("{}.request.{}", self.settings.subject_prefix, message.kind);
                let publish = jetstream::message::PublishMessage::build()
                    .payload(message.payload.clone().into())
                    .message_id(&message.event_id);
                let result = match context.send_publish(subject, publish).await {
                    Ok(ack) => ack.await.map(|_| ()),
                    Err(e) => Err(e),
                };
                match result {
                    Ok(()) => acked.push(message.id),
                    Err(e) => {
                        failure = Some(PublishFailure::Publish(e.to_string()));
                        break;
                    }
                }
            }
            store.mark_published(&acked, chrono::Utc::now()).await?;
            published.fetch_add(acked.len() as u64, Ordering::Relaxed);
            if let Some(failure) = failure {
                return Err(failure);
            }
        }
    }
}

fn spawn_publisher(
    store: Store,
    nats: NatsSettings,
    settings: &JobSettings,
    stats: Arc<JobStats>,
) -> JoinHandle<()> {
    let (every, node_id) = (settings.outbox_every, settings.node_id.clone());
    tokio::spawn(async move {
        let mut publisher = Publisher {
            settings: nats,
            context: None,
        };
        let mut tick = interval(every);
        loop {
            tick.tick().await;
            if !hold(&store, OUTBOX, &node_id, every, &stats.outbox_held).await {
                continue;
            }
            stats.outbox_runs.fetch_add(1, Ordering::Relaxed);
            match publisher.pass(&store, &stats.published).await {
                Ok(()) => {}
                Err(e) => {
                    stats.publish_failures.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!("outbox publishing stopped, will retry: {e}");
                }
            }
        }
    })
}
