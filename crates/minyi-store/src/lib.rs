//! Storage for minyi: embedded SQLite (a file in the data directory) or PostgreSQL, behind one
//! API, [`Store`].
//!
//! Both backends run the same SQL through sqlx's `Any` driver; only the migrations differ. The
//! store knows nothing of HTTP. It persists what the domain decides: every life-cycle command runs
//! in one transaction that reads the request's snapshot, asks the domain to decide, appends the
//! events and writes the new snapshot, so a request and its history never disagree.
//!
//! Invariants:
//! - a write is durable when the call returns (SQLite: WAL with `synchronous=FULL`; PostgreSQL:
//!   commit), so the caller may acknowledge it;
//! - `events` is append-only (triggers refuse UPDATE and DELETE on both backends) and
//!   hash-chained per request (`audit.rs`), so a row changed or removed behind the store's back
//!   is found by `verify_history`;
//! - personal data of requesters lives only in `requesters`, apart from requests and events (the
//!   one copy: the requester's address in the search index, never returned, `search.rs`);
//! - SQLite has one writer connection, so write transactions never contend; PostgreSQL rows are
//!   locked with `FOR UPDATE` for the length of a command;
//! - concurrent intakes share one transaction and one durable commit (group commit), each with
//!   its own answer (`group_commit.rs`).

mod access;
mod admin;
mod audit;
mod backup;
mod bench;
mod cluster;
mod enterprise;
mod error;
mod group_commit;
mod integrity;
mod kpi;
mod matchmaking;
mod open311;
mod outbox;
mod queries;
mod reference;
mod requests;
mod search;
mod search_index;
mod signals;
mod stats;
mod training;

pub use access::{LockoutPolicy, NewSession, Principal, SessionKind, hash_secret};
pub use admin::{ApiKeyInfo, Card, CardColour, CardTarget, UnitBacklog, UserChange, UserInfo};
pub use audit::{AuditProblem, AuditReport};
pub use backup::{BackupSummary, RestoreSummary};
pub use bench::{BareReport, ScratchDatabase, quantile};
pub use enterprise::{
    AssignmentReport, EnterpriseRow, ImportReport, NewTeam, NewVisit, ProblemOutcome, RejectedRow,
    SeedVisit, TeamEnterprise, TeamKpi, VisitRecord, algorithm_time,
};
pub use error::StoreError;
pub use integrity::{
    HistoryCheck, HistoryProblem, IntakeRecord, create_postgres_database, drop_postgres_database,
    postgres_database_url,
};
pub use kpi::{
    DIVISION_LEVEL_DIMS, DivisionLevels, KpiFilter, KpiGroup, KpiPeriod, KpiRow, KpiTable,
    RankedRow, RollupKey, RollupTable, rollup_of,
};
pub use matchmaking::{
    EnterpriseBrief, MatchRecord, MatchStep, NeedRecord, NewNeed, NewResource, ProgrammeGroup,
    ProgrammeKpi, Proposal, ResourceRecord, SeedMatch, SeedNeed,
};
pub use open311::Open311Filter;
pub use outbox::{OutboxMessage, event_id, message as outbox_message};
pub use queries::{Page, RequestFilter, RequestSummary, Sort};
pub use reference::{DivisionRow, MatterRow, RuleRow, UnitRow, UserAccount, read_csv, write_csv};
pub use requests::{NewRequest, RequesterInfo, SeedRequest, SweepReport};
pub use search::{SearchText, SearchTextError};
pub use signals::{DuplicateFlag, HotspotAlertRow, KnowledgeEntry, NewHotspot, RecentRequest};
pub use stats::Stats;
pub use training::LabelledRequest;

use minyi_domain::calendar::{WorkCalendar, WorkingHours};
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, ConnectOptions, Executor};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageKind {
    Sqlite,
    Postgres,
}

impl StorageKind {
    /// Stable name, reported by `/healthz`.
    pub fn as_str(self) -> &'static str {
        match self {
            StorageKind::Sqlite => "sqlite",
            StorageKind::Postgres => "postgres",
        }
    }
}

/// Where the data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A directory holding `minyi.db` and its search index `minyi-search.db` (created when
    /// missing).
    DataDir(PathBuf),
    /// A `postgres://` URL.
    Postgres(String),
}

impl Location {
    /// The SQLite file inside a data directory.
    pub fn sqlite_file(dir: &Path) -> PathBuf {
        dir.join("minyi.db")
    }

    /// The SQLite search index inside a data directory (derived data, `search_index.rs`).
    pub fn search_file(dir: &Path) -> PathBuf {
        dir.join("minyi-search.db")
    }
}

/// The store: connection pools and the cached working-day calendar.
#[derive(Debug, Clone)]
pub struct Store {
    read: AnyPool,
    write: AnyPool,
    kind: StorageKind,
    calendar: Arc<RwLock<Arc<WorkCalendar>>>,
    /// How new requests are committed (`group_commit.rs`).
    intake: group_commit::IntakeMode,
    /// The reference-data version the cached calendar was loaded at (see `cluster.rs`).
    reference_seen: Arc<std::sync::atomic::AtomicI64>,
    /// Held by every clone: background work of the store stops when the last one is dropped.
    alive: Arc<()>,
    /// SQLite search: at or below this many rows left by the other filters, each is checked
    /// without the vocabulary ([`search::CHECK_ROWS`]).
    search_check_rows: i64,
    /// SQLite: the search index's file and its indexer (`search_index.rs`).
    search_index: Option<Arc<search_index::SearchIndex>>,
}

/// Every SQLite connection: WAL with a flush at every commit (a commit is durable when it
/// returns), foreign keys, a wait for the write lock, a 64 MB page cache, memory-mapped reads.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; \
     PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000; PRAGMA cache_size=-65536; \
     PRAGMA temp_store=MEMORY; PRAGMA mmap_size=1073741824;";

/// The writer connection checkpoints the WAL itself only as a safety net, at 16,384 pages
/// (64 MB): the background checkpointer keeps it short from a reader connection, so that
/// copying pages into the database file and flushing it are not in a commit's path
/// ([`Store::checkpoint_in_background`]).
const SQLITE_WRITER_PRAGMAS: &str = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; \
     PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000; PRAGMA cache_size=-65536; \
     PRAGMA temp_store=MEMORY; PRAGMA mmap_size=1073741824; PRAGMA wal_autocheckpoint=16384;";

static MIGRATE_SQLITE: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static MIGRATE_POSTGRES: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Store {
    /// Opens (and migrates) the store.
    pub async fn open(location: &Location) -> Result<Store, StoreError> {
        install_default_drivers();
        let (read, write, kind, index) = match location {
            Location::DataDir(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StoreError::Invalid(format!(
                        "cannot create data directory {}: {e}",
                        dir.display()
                    ))
                })?;
                let url = format!("sqlite://{}?mode=rwc", Location::sqlite_file(dir).display());
                let connect_options = url
                    .parse::<sqlx::any::AnyConnectOptions>()?
                    .disable_statement_logging();
                let index_file: Arc<str> = Location::search_file(dir).display().to_string().into();
                // The writer does not attach the index (it never writes it); the readers do.
                let options = |pragmas: &'static str, attach: Option<Arc<str>>| {
                    AnyPoolOptions::new()
                        .acquire_timeout(Duration::from_secs(30))
                        .after_connect(move |conn, _meta| {
                            let attach = attach.clone();
                            Box::pin(async move {
                                conn.execute(pragmas).await?;
                                if let Some(file) = attach {
                                    conn.execute(search_index::attach(&file)).await?;
                                }
                                Ok(())
                            })
                        })
                };
                let write = options(SQLITE_WRITER_PRAGMAS, None)
                    .max_connections(1)
                    .connect_with(connect_options.clone())
                    .await?;
                MIGRATE_SQLITE.run(&write).await?;
                let indexer =
                    search_index::connect(&Location::sqlite_file(dir), &index_file, SQLITE_PRAGMAS)
                        .await?;
                let index = search_index::SearchIndex::open(indexer).await?;
                let read = options(SQLITE_PRAGMAS, Some(index_file))
                    .max_connections(4)
                    .connect_with(connect_options)
                    .await?;
                (read, write, StorageKind::Sqlite, Some(index))
            }
            Location::Postgres(url) => {
                let pool = AnyPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect_with(
                        url.parse::<sqlx::any::AnyConnectOptions>()?
                            .disable_statement_logging(),
                    )
                    .await?;
                MIGRATE_POSTGRES.run(&pool).await?;
                (pool.clone(), pool, StorageKind::Postgres, None)
            }
        };
        let store = Store {
            read,
            write,
            kind,
            calendar: Arc::new(RwLock::new(Arc::new(WorkCalendar::new(
                Vec::new(),
                WorkingHours::standard(),
            )?))),
            intake: group_commit::IntakeMode::default(),
            reference_seen: Arc::new(std::sync::atomic::AtomicI64::new(-1)),
            alive: Arc::new(()),
            search_check_rows: search::CHECK_ROWS,
            search_index: index,
        };
        store.refresh_reference().await?;
        store.seal_if_flagged().await?;
        if kind == StorageKind::Sqlite {
            store.checkpoint_in_background();
        }
        if let Some(index) = &store.search_index {
            index.spawn(store.read.clone(), Arc::downgrade(&store.alive));
        }
        Ok(store)
    }

    /// How often the background checkpointer runs.
    const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);

    /// Starts the SQLite checkpointer: every [`Self::CHECKPOINT_EVERY`] a passive checkpoint on
    /// a reader connection copies the committed WAL frames into the database file, without
    /// taking the write lock, so commits go on meanwhile and the WAL stays short (readers
    /// read it on every page). It stops when the last clone of the store is dropped or the
    /// pools are closed.
    fn checkpoint_in_background(&self) {
        let alive = Arc::downgrade(&self.alive);
        let read = self.read.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Self::CHECKPOINT_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if alive.strong_count() == 0 || read.is_closed() {
                    return;
                }
                if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                    .execute(&read)
                    .await
                {
                    if read.is_closed() {
                        return;
                    }
                    tracing::warn!("WAL checkpoint failed: {e}");
                }
            }
        });
    }

    /// The same store choosing SQLite search plans with another threshold for checking each
    /// filtered row without the vocabulary (0: never; for tests that compare the plans).
    pub fn with_search_check_rows(mut self, rows: i64) -> Store {
        self.search_check_rows = rows;
        self
    }

    /// The backend.
    pub fn kind(&self) -> StorageKind {
        self.kind
    }

    /// The working-day calendar as last loaded.
    pub fn calendar(&self) -> Arc<WorkCalendar> {
        match self.calendar.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set_cached_calendar(&self, calendar: WorkCalendar) {
        let mut guard = match self.calendar.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        *guard = Arc::new(calendar);
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    /// Begins a write transaction; on SQLite it takes the write lock at once.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        Ok(match self.kind {
            StorageKind::Sqlite => self.write.begin_with("BEGIN IMMEDIATE").await?,
            StorageKind::Postgres => self.write.begin().await?,
        })
    }

    /// Closes the pools, checkpointing the SQLite WAL.
    pub async fn close(&self) {
        if let Some(index) = &self.search_index {
            index.close().await;
        }
        self.read.close().await;
        self.write.close().await;
    }

    /// SQLite: wakes the search indexer after a commit that added events.
    pub(crate) fn wake_search_index(&self) {
        if let Some(index) = &self.search_index {
            index.wake();
        }
    }

    /// SQLite: brings the search index up to every event committed now (a search calls it
    /// before it reads the index). Nothing on PostgreSQL, whose index is written with the rows.
    pub(crate) async fn search_index_caught_up(&self) -> Result<(), StoreError> {
        match &self.search_index {
            Some(index) => index.catch_up(&self.read, |_, _| {}).await,
            None => Ok(()),
        }
    }

    /// Brings the search index up to date now, reporting (events indexed, events to index):
    /// after a bulk load, so that the first search does not wait for it. On PostgreSQL the
    /// index is always up to date.
    pub async fn update_search_index(
        &self,
        progress: impl FnMut(u64, u64),
    ) -> Result<(), StoreError> {
        match &self.search_index {
            Some(index) => index.catch_up(&self.read, progress).await,
            None => Ok(()),
        }
    }
}
