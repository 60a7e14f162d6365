//! Group commit of intake (成组提交). A durable commit costs a disk flush (SQLite WAL with
//! `synchronous=FULL`) or a WAL flush and a round trip (PostgreSQL), more than everything else
//! intake writes; under load the flushes, not the work, would set the pace. So concurrent
//! [`Store::create_request`] calls are handed to one writer per store (on a thread and runtime
//! of its own), which takes everything waiting (up to [`MAX_BATCH`]) and files it in one
//! transaction with one commit; while it commits, the next requests gather. Alone, a request is
//! committed alone, as before. Within the group each statement is shared too
//! ([`Store::create_group_in`]): one look-up of the Idempotency-Keys (on SQLite with the
//! largest id), one multi-row INSERT per table and the KPI upserts — on SQLite sent as one
//! batch ([`crate::reference::Batch`]), so that a group is five round trips to the database's
//! worker thread (begin, the look-up, the division levels, the batch, commit).
//!
//! Guarantees, unchanged from one transaction per request:
//! - each request is fully validated and decided on its own, in memory, and gets its own
//!   answer: a refusal (empty text, an Idempotency-Key reused for other content, a refused
//!   follow-up) writes nothing of it and does not touch the others; a later request of the
//!   group under the key of an earlier one is its replay;
//! - an answer is given only after the commit that holds it is durable;
//! - a database error in a group rolls the group back and its requests are filed again one by
//!   one, so a bad row fails only its own request;
//! - the KPI counters of a group are summed and written once, in key order, just before the
//!   commit, as a single request's are, so concurrent writers (other commands, other nodes on
//!   PostgreSQL) always lock `kpi_daily` rows in one order and cannot deadlock; Idempotency-Key
//!   locks on PostgreSQL are likewise taken in key order at the start of a group.
//!
//! A store made [`Store::without_group_commit`] commits each request in its own transaction in
//! the caller's task (what `minyi bench intake --group-commit off` measures).

use crate::requests::{GroupItem, NewRequest};
use crate::{StorageKind, Store, StoreError};
use chrono::{DateTime, Utc};
use minyi_domain::request::Request;
use minyi_domain::unit::Actor;
use std::sync::{Arc, OnceLock};
use tokio::sync::{mpsc, oneshot};

/// The most requests in one group.
pub const MAX_BATCH: usize = 256;

type Created = Result<(Request, bool), StoreError>;

/// One request waiting for the writer.
pub(crate) struct Job {
    new: NewRequest,
    suggestion: Option<String>,
    actor: Actor,
    now: DateTime<Utc>,
    reply: oneshot::Sender<Created>,
}

/// How a store commits intake.
#[derive(Clone)]
pub(crate) enum IntakeMode {
    /// Through the writer task, started on first use.
    Grouped(Arc<OnceLock<mpsc::UnboundedSender<Job>>>),
    /// One transaction per request in the caller's task (and the writer task's own store).
    Single,
}

impl Default for IntakeMode {
    fn default() -> Self {
        IntakeMode::Grouped(Arc::default())
    }
}

impl std::fmt::Debug for IntakeMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            IntakeMode::Grouped(_) => "Grouped",
            IntakeMode::Single => "Single",
        })
    }
}

impl Store {
    /// The same store committing each new request in its own transaction (for comparison).
    pub fn without_group_commit(mut self) -> Store {
        self.intake = IntakeMode::Single;
        self
    }

    /// Files one request (already trimmed of an empty text) and returns once it is durable.
    pub(crate) async fn commit_intake(
        &self,
        new: NewRequest,
        suggestion: Option<String>,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Created {
        let IntakeMode::Grouped(cell) = &self.intake else {
            return self
                .commit_alone(&new, suggestion.as_deref(), actor, now)
                .await;
        };
        let sender = cell.get_or_init(|| {
            let (sender, receiver) = mpsc::unbounded_channel();
            let writer = Store {
                intake: IntakeMode::Single,
                ..self.clone()
            };
            writer.spawn_writer(receiver);
            sender
        });
        let (reply, answer) = oneshot::channel();
        let job = Job {
            new,
            suggestion,
            actor,
            now,
            reply,
        };
        match sender.send(job) {
            // The writer answers every job it takes; no answer means it died mid-way, and
            // whether the request was stored is unknown.
            Ok(()) => answer
                .await
                .unwrap_or(Err(StoreError::Database(sqlx::Error::WorkerCrashed))),
            // The writer is gone (it could not be started): commit here.
            Err(mpsc::error::SendError(job)) => {
                self.commit_alone(&job.new, job.suggestion.as_deref(), job.actor, job.now)
                    .await
            }
        }
    }

    /// One request, one transaction.
    async fn commit_alone(
        &self,
        new: &NewRequest,
        suggestion: Option<&str>,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Created {
        let item = GroupItem {
            new,
            suggestion,
            actor,
            now,
        };
        self.commit_items(&[item])
            .await?
            .pop()
            .unwrap_or(Err(StoreError::Invalid("not filed".into())))
    }

    /// Starts the writer on a thread of its own with a runtime of its own. A group makes a few
    /// round trips to the database (its worker thread or server); on the server's runtime each
    /// answer would wait until a worker thread is free of the requests being parsed and
    /// classified before the writer went on, and under load those waits, not the work, set the
    /// pace of every commit. It ends when the last sender is dropped. If no thread can be
    /// started the receiver is dropped with it, and intake commits in the caller's task.
    fn spawn_writer(self, receiver: mpsc::UnboundedReceiver<Job>) {
        let started = std::thread::Builder::new()
            .name("minyi-intake-writer".into())
            .spawn(move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime.block_on(self.write_loop(receiver)),
                    Err(e) => tracing::warn!(
                        "no runtime for the intake writer, writing in the caller's task: {e}"
                    ),
                }
            });
        if let Err(e) = started {
            tracing::warn!("no thread for the intake writer, writing in the caller's task: {e}");
        }
    }

    async fn write_loop(self, mut receiver: mpsc::UnboundedReceiver<Job>) {
        while let Some(first) = receiver.recv().await {
            let mut group = vec![first];
            while group.len() < MAX_BATCH {
                match receiver.try_recv() {
                    Ok(job) => group.push(job),
                    Err(_) => break,
                }
            }
            if group.len() > 1 {
                match self.commit_group(&group).await {
                    Ok(answers) => {
                        for (job, answer) in group.into_iter().zip(answers) {
                            // The caller may have gone; the request is stored all the same.
                            let _ = job.reply.send(answer);
                        }
                        continue;
                    }
                    Err(e) => tracing::warn!(
                        code = e.code(),
                        requests = group.len(),
                        "group commit failed; filing its requests one by one: {e}"
                    ),
                }
            }
            for job in group {
                let answer = self
                    .commit_alone(&job.new, job.suggestion.as_deref(), job.actor, job.now)
                    .await;
                let _ = job.reply.send(answer);
            }
        }
    }

    /// Files a group in one transaction. `Err` (a database error) means nothing was committed.
    async fn commit_group(&self, group: &[Job]) -> Result<Vec<Created>, StoreError> {
        let items: Vec<GroupItem<'_>> = group
            .iter()
            .map(|j| GroupItem {
                new: &j.new,
                suggestion: j.suggestion.as_deref(),
                actor: j.actor,
                now: j.now,
            })
            .collect();
        self.commit_items(&items).await
    }

    /// Files requests in one transaction with one durable commit: Idempotency-Key locks on
    /// PostgreSQL in key order, the requests, then their KPI counters summed and written once.
    async fn commit_items(&self, items: &[GroupItem<'_>]) -> Result<Vec<Created>, StoreError> {
        let mut tx = self.begin_write().await?;
        if self.kind == StorageKind::Postgres {
            let mut keys: Vec<&str> = items
                .iter()
                .filter_map(|i| i.new.idempotency_key.as_deref())
                .collect();
            keys.sort_unstable();
            keys.dedup();
            if !keys.is_empty() {
                // In key order (PostgreSQL evaluates a volatile select list after the sort).
                let values: Vec<String> = (1..=keys.len()).map(|i| format!("(${i})")).collect();
                let sql = format!(
                    "SELECT pg_advisory_xact_lock(hashtext(k)) FROM (VALUES {}) AS v(k) ORDER BY k",
                    values.join(",")
                );
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                for key in keys {
                    query = query.bind(key);
                }
                query.execute(&mut *tx).await?;
            }
        }
        let mut batch = crate::reference::Batch::new(self.kind);
        let (answers, mut kpi) = self.create_group_in(&mut tx, items, &mut batch).await?;
        kpi.retain(|_, c| !c.is_zero());
        let levels = crate::kpi::delta_levels(&mut tx, &kpi).await?;
        crate::kpi::push_delta(&mut batch, &kpi, &levels);
        batch.run(&mut tx).await?;
        tx.commit().await?;
        self.wake_search_index();
        Ok(answers)
    }
}
