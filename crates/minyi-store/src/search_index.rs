//! The SQLite search index in a file of its own (检索索引), kept by an indexer that follows
//! the history instead of by the transactions that write requests.
//!
//! Indexing a request (FTS5 trigram tokenising, the flush of the in-memory index at commit and
//! the segment merges it sets off) measured about 60% of the one SQLite writer's work at intake.
//! The index is derived data, so it need not be in the acknowledged transaction: the writer
//! commits the request and its events, and the indexer makes the documents afterwards, from
//! what is stored, in its own file (`minyi-search.db` beside `minyi.db`) with its own write lock,
//! on a thread of its own. Every connection of the store attaches that file as the schema
//! `search`, so `request_search` and `request_search_terms` (search.rs) are found there.
//!
//! The indexer follows `events` in rowid order: the history is append-only (triggers refuse
//! UPDATE and DELETE) and one writer connection appends it, so rowids grow in commit order. A
//! `received` event brings a new document, a `replied` or `answered_at_intake` event makes its
//! request's document again (a document holds every reply). `search_state.events_through` is the
//! last event the index reflects, written in the same transaction as the documents, so a crash
//! leaves the index and its mark agreeing (the file is written with `synchronous=NORMAL`: a
//! power cut may lose its last transactions, never make them disagree).
//!
//! Invariant: **a search sees every request and reply committed before it began.** Before it
//! reads the index a search reads the last event's rowid and, if the index is behind it, brings
//! the index up to it itself ([`SearchIndex::catch_up`], under the same lock as the indexer).
//! A mark beyond the history (the database was restored or replaced under an old index file)
//! empties the index and starts again from the first event.
//!
//! PostgreSQL keeps its trigram-indexed `request_search` table in the writing transactions
//! (search.rs); none of this runs there.

use crate::StoreError;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqlitePool, SqlitePoolOptions};
use sqlx::{AnyPool, ConnectOptions, Executor, Row};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
use tokio::sync::{Mutex, Notify};

/// Per-connection settings of the attached index: no flush at every commit (derived data, see
/// the module doc), a 64 MB page cache and memory-mapped reads, like the database's own.
pub(crate) const ATTACHED_PRAGMAS: &str = "PRAGMA search.synchronous=NORMAL; \
     PRAGMA search.cache_size=-65536; PRAGMA search.mmap_size=1073741824;";

/// The index's tables, created when missing. The vocabulary table lists the trigrams with the
/// number of documents holding each (search.rs expands two-character terms through it).
const SCHEMA_SQL: &str = "PRAGMA search.journal_mode=WAL; \
     CREATE VIRTUAL TABLE IF NOT EXISTS search.request_search \
       USING fts5(body, personal, tokenize = 'trigram'); \
     CREATE VIRTUAL TABLE IF NOT EXISTS search.request_search_terms \
       USING fts5vocab(request_search, 'row'); \
     CREATE TABLE IF NOT EXISTS search.search_state ( \
       id INTEGER PRIMARY KEY CHECK (id = 1), events_through INTEGER NOT NULL); \
     INSERT OR IGNORE INTO search.search_state (id, events_through) VALUES (1, 0);";

/// The indexer connection's scratch table: the requests of one step.
const INDEXER_TEMP: &str = "CREATE TEMP TABLE IF NOT EXISTS search_batch ( \
       id INTEGER PRIMARY KEY, existing INTEGER NOT NULL);";

/// The statements that attach the index file to a new connection as the schema `search`, with
/// [`ATTACHED_PRAGMAS`].
pub(crate) fn attach(file: &str) -> sqlx::RawSql {
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "ATTACH DATABASE '{}' AS search; {ATTACHED_PRAGMAS}",
        file.replace('\'', "''")
    )))
}

/// The name of the indexer connection's worker thread (sqlx numbers its workers), which tells
/// it apart in `top -H` and profiles.
const INDEXER_THREAD: &str = "minyi-index-";

/// The indexer's one connection: the database (`pragmas` as every reader's) with the index
/// attached and the scratch table.
pub(crate) async fn connect(
    data_file: &Path,
    index_file: &str,
    pragmas: &'static str,
) -> Result<SqlitePool, StoreError> {
    let index_file: Arc<str> = index_file.into();
    let options = SqliteConnectOptions::new()
        .filename(data_file)
        // Attached files are opened with the database's flags: this one creates the index file.
        .create_if_missing(true)
        .thread_name(|id| format!("{INDEXER_THREAD}{id}"))
        .disable_statement_logging();
    Ok(SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(move |conn, _meta| {
            let index_file = index_file.clone();
            Box::pin(async move {
                conn.execute(pragmas).await?;
                conn.execute(attach(&index_file)).await?;
                conn.execute(INDEXER_TEMP).await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await?)
}

/// The most events one indexing transaction takes: a bulk load of a million requests is
/// indexed in steps, each of which lets searches and the checkpointer in.
const EVENTS_PER_STEP: i64 = 50_000;

/// How often the indexer looks for events written by other processes on the same files
/// (commands run beside the server); this process's writes wake it at once.
const POLL_EVERY: Duration = Duration::from_secs(1);

/// The document of each request in `temp.search_batch`: title, text, the problem's address and
/// every reply, each line ended by a line feed; the requester's address apart. The same text as
/// `search::document_row` (PostgreSQL's intake) and `search::POSTGRES_BACKFILL`.
const INSERT_DOCUMENTS: &str = "INSERT INTO search.request_search (rowid, body, personal) \
SELECT r.id, \
  r.title || char(10) || COALESCE(json_extract(r.snapshot, '$.intake.text'), '') || char(10) \
  || COALESCE(json_extract(r.snapshot, '$.intake.location.address'), '') || char(10) \
  || COALESCE((SELECT group_concat(line, '') FROM (SELECT COALESCE(json_extract(e.payload, \
       '$.text'), json_extract(e.payload, '$.answer'), '') || char(10) AS line FROM main.events e \
       WHERE e.request_id = r.id AND e.kind IN ('replied', 'answered_at_intake') \
       ORDER BY e.seq)), ''), \
  COALESCE((SELECT q.address || char(10) FROM main.requesters q \
       WHERE q.request_id = r.id AND q.address <> ''), '') \
FROM main.requests r WHERE r.id IN (SELECT id FROM temp.search_batch)";

/// The indexer's connection and state, shared by every clone of a SQLite store.
pub(crate) struct SearchIndex {
    /// One connection: the database (read) with the index attached (written).
    pool: SqlitePool,
    /// Held while indexing, by the indexer thread or by a search catching up.
    lock: Mutex<()>,
    /// The last event the index was seen to reflect (a lower bound: another process may have
    /// indexed further).
    through: AtomicI64,
    /// Rung after every commit that adds events.
    wake: Notify,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex")
            .field("through", &self.through.load(Ordering::Relaxed))
            .finish()
    }
}

/// The index's mark and the last event of the history. A mark beyond the history (the database
/// was restored or replaced under an old index file) is reported here; the caller empties the
/// index.
async fn marks(conn: &mut SqliteConnection) -> Result<(i64, i64), StoreError> {
    let row = sqlx::query(
        "SELECT (SELECT events_through FROM search.search_state), \
                (SELECT COALESCE(MAX(rowid), 0) FROM main.events)",
    )
    .fetch_one(&mut *conn)
    .await?;
    let (through, last_event): (i64, i64) = (row.get(0), row.get(1));
    if through > last_event {
        tracing::warn!(
            through,
            last_event,
            "the search index is ahead of the history (restored or replaced database): rebuilding it"
        );
    }
    Ok((through, last_event))
}

/// Where one indexing step got to.
struct Step {
    through: i64,
    last_event: i64,
}

impl SearchIndex {
    /// Creates the index's tables on `pool` (one connection with the index attached) and empties
    /// the index if its mark is beyond the history. Indexing is left to the indexer thread and
    /// to searches, so a large history does not hold up the opening.
    pub(crate) async fn open(pool: SqlitePool) -> Result<Arc<SearchIndex>, StoreError> {
        let mut conn = pool.acquire().await?;
        sqlx::raw_sql(SCHEMA_SQL).execute(&mut *conn).await?;
        let (through, last_event) = marks(&mut conn).await?;
        drop(conn);
        let index = Arc::new(SearchIndex {
            pool,
            lock: Mutex::new(()),
            through: AtomicI64::new(through),
            wake: Notify::new(),
        });
        if through > last_event {
            index.reset().await?;
        }
        Ok(index)
    }

    /// Wakes the indexer: new events were committed.
    pub(crate) fn wake(&self) {
        self.wake.notify_one();
    }

    /// Brings the index up to the last event committed now (a search calls it first), reporting
    /// (events indexed, events to index) after each step. Cheap when the index is there
    /// already: one read of the largest rowid.
    pub(crate) async fn catch_up(
        &self,
        read: &AnyPool,
        progress: impl FnMut(u64, u64),
    ) -> Result<(), StoreError> {
        let last: i64 = sqlx::query("SELECT COALESCE(MAX(rowid), 0) FROM events")
            .fetch_one(read)
            .await?
            .get(0);
        self.catch_up_to(last, progress).await
    }

    /// Indexes until the index reflects event `target` (or everything, if the history is
    /// shorter), reporting (events indexed, events to index) after each step.
    async fn catch_up_to(
        &self,
        target: i64,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<(), StoreError> {
        if self.through.load(Ordering::Acquire) >= target {
            return Ok(());
        }
        let _held = self.lock.lock().await;
        let first = self.through.load(Ordering::Acquire);
        if first >= target {
            // Indexed by whoever held the lock before.
            return Ok(());
        }
        progress(0, (target - first).max(0) as u64);
        loop {
            let step = self.step().await?;
            self.through.store(step.through, Ordering::Release);
            progress(
                (step.through - first).max(0) as u64,
                (step.last_event - first).max(0) as u64,
            );
            if step.through >= target.min(step.last_event) {
                return Ok(());
            }
        }
    }

    /// One indexing transaction: up to [`EVENTS_PER_STEP`] events after the mark.
    async fn step(&self) -> Result<Step, StoreError> {
        let mut conn = self.pool.acquire().await?;
        // A deferred transaction whose first statement writes the index: it waits for the
        // index file's write lock (another process) and never takes the database's.
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        sqlx::query("UPDATE search.search_state SET events_through = events_through")
            .execute(&mut *tx)
            .await?;
        let (mut through, last_event) = marks(&mut tx).await?;
        if through > last_event {
            sqlx::query("DELETE FROM search.request_search")
                .execute(&mut *tx)
                .await?;
            through = 0;
        }
        let until = last_event.min(through.saturating_add(EVENTS_PER_STEP));
        if until > through {
            sqlx::query("DELETE FROM temp.search_batch")
                .execute(&mut *tx)
                .await?;
            // A request whose `received` event is in the step is new to the index; one with
            // only replies in it has a document to make again.
            sqlx::query(
                "INSERT INTO temp.search_batch (id, existing) \
                 SELECT request_id, MAX(kind = 'received') = 0 FROM main.events \
                 WHERE rowid > $1 AND rowid <= $2 \
                   AND kind IN ('received', 'replied', 'answered_at_intake') \
                 GROUP BY request_id",
            )
            .bind(through)
            .bind(until)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "DELETE FROM search.request_search \
                 WHERE rowid IN (SELECT id FROM temp.search_batch WHERE existing)",
            )
            .execute(&mut *tx)
            .await?;
            sqlx::query(INSERT_DOCUMENTS).execute(&mut *tx).await?;
        }
        sqlx::query("UPDATE search.search_state SET events_through = $1")
            .bind(until)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Step {
            through: until,
            last_event,
        })
    }

    /// Empties the index (after a restore): the indexer makes it again from the first event.
    pub(crate) async fn reset(&self) -> Result<(), StoreError> {
        let _held = self.lock.lock().await;
        let mut conn = self.pool.acquire().await?;
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        sqlx::query("DELETE FROM search.request_search")
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE search.search_state SET events_through = 0")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.through.store(0, Ordering::Release);
        Ok(())
    }

    /// Starts the indexer on a thread and runtime of its own (so that its round trips to the
    /// database are not queued behind the server's requests). It indexes whenever woken and
    /// every [`POLL_EVERY`], and stops when `alive` has no strong reference left or the pool is
    /// closed. `read` reads the last event's rowid.
    pub(crate) fn spawn(self: &Arc<Self>, read: AnyPool, alive: std::sync::Weak<()>) {
        let index = Arc::clone(self);
        let started = std::thread::Builder::new()
            .name("minyi-search-indexer".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        tracing::warn!("no runtime for the search indexer: {e}");
                        return;
                    }
                };
                runtime.block_on(async move {
                    loop {
                        let _ = tokio::time::timeout(POLL_EVERY, index.wake.notified()).await;
                        if alive.strong_count() == 0 || index.pool.is_closed() || read.is_closed() {
                            return;
                        }
                        if let Err(e) = index.catch_up(&read, |_, _| {}).await {
                            if index.pool.is_closed() || read.is_closed() {
                                return;
                            }
                            tracing::warn!(code = e.code(), "search indexing failed: {e}");
                        }
                    }
                });
            });
        if let Err(e) = started {
            // Searches still bring the index up to date themselves.
            tracing::warn!("no thread for the search indexer: {e}");
        }
    }

    /// Closes the indexer's connection.
    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }
}
