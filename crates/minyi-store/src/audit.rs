//! The tamper-evident history (防篡改): every event row carries a SHA-256 hash over its stored
//! columns and the hash of the event before it in the same request, and `history_heads` keeps
//! each request's last seq and hash. Altering a row breaks its own hash; deleting a row breaks the
//! next event's link, or, for the last event, the head.
//!
//! Chains are per request, not one global chain, so writers on different requests (on one node
//! or several) never serialise on a shared "last hash"; the request's own row lock already orders
//! its events. Hashes are computed here and nowhere else: [`event_hash`] is the canonical
//! encoding, [`Store::chain_events`] hashes the events a transaction appends,
//! [`Store::seal_history`] hashes history written before the hashes existed, and
//! [`Store::verify_history`] walks every chain.
//!
//! What this does not do: someone who can write to the database and knows this encoding can
//! recompute a whole chain and its head. Catching that needs a copy of the heads kept elsewhere
//! (a backup, or `minyi audit verify --json` archived off the machine).

use crate::reference::Val;
use crate::{StorageKind, Store, StoreError};
use futures_util::TryStreamExt;
use minyi_domain::RequestId;
use sha2::{Digest, Sha256};
use sqlx::Row;
use std::collections::BTreeMap;

type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// Domain separation: a hash of this encoding is never confused with another SHA-256 use.
const ENCODING_TAG: &[u8] = b"minyi.event.v1";

/// The columns an event hash covers, in order (the columns of `events` but `hash`).
pub(crate) const HASHED_COLUMNS: &str =
    "request_id, seq, at, actor_user_id, actor_role, actor_unit_id, kind, payload";

/// The hash of one event row (its values in the order of [`HASHED_COLUMNS`]) chained on the
/// previous event's hash (`""` for a request's first event), as lower-case hex.
///
/// Canonical encoding: the tag, the previous hash and each value, every text as its byte length
/// (u64 big-endian) followed by its UTF-8 bytes, every integer as `0x01` and i64 big-endian, and
/// every NULL as `0x00`. A value's encoding does not depend on whether the column is nullable,
/// so a row read back from either backend hashes as it was written.
pub(crate) fn event_hash(previous: &str, row: &[Val]) -> String {
    fn text(hasher: &mut Sha256, s: &str) {
        hasher.update([0x02]);
        hasher.update((s.len() as u64).to_be_bytes());
        hasher.update(s.as_bytes());
    }
    let mut hasher = Sha256::new();
    hasher.update(ENCODING_TAG);
    text(&mut hasher, previous);
    for value in row {
        match value {
            Val::Int(i) | Val::OptInt(Some(i)) => {
                hasher.update([0x01]);
                hasher.update(i.to_be_bytes());
            }
            Val::Text(s) | Val::OptText(Some(s)) => text(&mut hasher, s),
            Val::OptInt(None) | Val::OptText(None) => hasher.update([0x00]),
        }
    }
    hex::encode(hasher.finalize())
}

/// Hashes `rows` (new events of one request, in seq order) onto `previous`, appending each
/// row's hash as its last value. Returns the new head hash (`previous` when there are none).
pub(crate) fn chain(previous: &str, rows: &mut [Vec<Val>]) -> String {
    let mut head = previous.to_string();
    for row in rows {
        head = event_hash(&head, row);
        row.push(Val::Text(head.clone()));
    }
    head
}

/// One stored event as the hash sees it, and the hash stored with it.
fn stored_event(
    row: &sqlx::any::AnyRow,
) -> Result<(i64, i64, Vec<Val>, Option<String>), sqlx::Error> {
    let request: i64 = row.try_get(0)?;
    let seq: i64 = row.try_get(1)?;
    let values = vec![
        Val::Int(request),
        Val::Int(seq),
        Val::OptInt(row.try_get(2)?),
        Val::OptInt(row.try_get(3)?),
        Val::OptText(row.try_get(4)?),
        Val::OptInt(row.try_get(5)?),
        Val::OptText(row.try_get(6)?),
        Val::OptText(row.try_get(7)?),
    ];
    Ok((request, seq, values, row.try_get(8)?))
}

/// What is wrong with one request's history: the first problem found walking it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditProblem {
    pub request_id: i64,
    /// The event where the chain breaks.
    pub seq: i64,
    /// `altered` (the row's content does not give its stored hash), `missing` (an event the
    /// chain or the head expects is not there), `unsealed` (a row without hash), `head_missing`
    /// (history without a head row) or `head_mismatch` (the head names another hash).
    pub problem: &'static str,
    pub expected: String,
    pub found: String,
}

/// The result of walking every chain.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct AuditReport {
    pub requests: u64,
    pub events: u64,
    /// Requests whose history is broken, counted in full.
    pub broken_requests: u64,
    /// The first problem of each broken request, at most [`AuditReport::MAX_LISTED`].
    pub problems: Vec<AuditProblem>,
}

impl AuditReport {
    /// Problems listed in full; the rest are only counted.
    pub const MAX_LISTED: usize = 1000;

    /// Whether every chain is whole.
    pub fn is_clean(&self) -> bool {
        self.broken_requests == 0
    }

    fn report(&mut self, problem: AuditProblem) {
        self.broken_requests += 1;
        if self.problems.len() < Self::MAX_LISTED {
            self.problems.push(problem);
        }
    }
}

/// Walks one request's events in seq order, keeping the first problem.
struct Walk {
    request: i64,
    next_seq: i64,
    head: String,
    problem: Option<AuditProblem>,
}

impl Walk {
    fn new(request: i64) -> Walk {
        Walk {
            request,
            next_seq: 0,
            head: String::new(),
            problem: None,
        }
    }

    fn step(&mut self, seq: i64, values: &[Val], stored: Option<String>) {
        if self.problem.is_some() {
            return;
        }
        let request = self.request;
        let problem = |problem, seq, expected: String, found: String| AuditProblem {
            request_id: request,
            seq,
            problem,
            expected,
            found,
        };
        if seq != self.next_seq {
            self.problem = Some(problem(
                "missing",
                self.next_seq,
                format!("event {}", self.next_seq),
                format!("event {seq}"),
            ));
            return;
        }
        let expected = event_hash(&self.head, values);
        match stored {
            None => self.problem = Some(problem("unsealed", seq, expected, String::new())),
            Some(found) if found != expected => {
                self.problem = Some(problem("altered", seq, expected, found))
            }
            Some(_) => {
                self.head = expected;
                self.next_seq += 1;
            }
        }
    }

    /// Compares the end of the walk with the stored head.
    fn finish(mut self, head: Option<(i64, String)>) -> Option<AuditProblem> {
        if self.problem.is_some() {
            return self.problem;
        }
        let last = self.next_seq - 1;
        let at = |problem, seq, expected: String, found: String| AuditProblem {
            request_id: self.request,
            seq,
            problem,
            expected,
            found,
        };
        self.problem = match head {
            None if last < 0 => Some(at("missing", 0, "event 0".into(), "no events".into())),
            None => Some(at("head_missing", last, self.head.clone(), String::new())),
            Some((seq, hash)) if seq > last => Some(at(
                "missing",
                last + 1,
                format!("events up to {seq} (head {hash})"),
                if last < 0 {
                    "no events".into()
                } else {
                    format!("history ends at event {last}")
                },
            )),
            Some((seq, hash)) if seq != last || hash != self.head => Some(at(
                "head_mismatch",
                last,
                format!("event {last} hash {}", self.head),
                format!("head names event {seq} hash {hash}"),
            )),
            Some(_) => None,
        };
        self.problem
    }
}

impl Store {
    /// Begins a read-only transaction that sees one consistent snapshot of the whole database
    /// while writers go on (SQLite WAL: the read mark of the first statement; PostgreSQL:
    /// REPEATABLE READ).
    pub(crate) async fn begin_snapshot(&self) -> Result<Tx, StoreError> {
        Ok(match self.kind {
            StorageKind::Sqlite => self.read.begin().await?,
            StorageKind::Postgres => {
                self.read
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .await?
            }
        })
    }

    /// Hashes the new event rows of one request (built by `event_values`, in seq order) onto its
    /// chain inside `tx`, moves its head, and returns the rows with their hash as last value. The
    /// caller holds the request's row lock (or, on SQLite, the only write connection).
    pub(crate) async fn chain_events(
        &self,
        tx: &mut Tx,
        request: RequestId,
        mut rows: Vec<Vec<Val>>,
    ) -> Result<Vec<Vec<Val>>, StoreError> {
        let Some(Val::Int(first_seq)) = rows.first().and_then(|r| r.get(1)).cloned() else {
            return Ok(rows);
        };
        let head = sqlx::query("SELECT hash FROM history_heads WHERE request_id = $1")
            .bind(request.0)
            .fetch_optional(&mut **tx)
            .await?
            .map(|r| r.get::<String, _>(0));
        let previous = match head {
            Some(hash) => hash,
            None if first_seq == 0 => String::new(),
            // History from before the hashes, not sealed yet: seal it first.
            None => self.seal_requests(tx, &[request.0]).await?,
        };
        let head = chain(&previous, &mut rows);
        let Some(Val::Int(last_seq)) = rows.last().and_then(|r| r.get(1)).cloned() else {
            return Ok(rows);
        };
        sqlx::query(
            "INSERT INTO history_heads (request_id, seq, hash) VALUES ($1, $2, $3) \
             ON CONFLICT (request_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
        )
        .bind(request.0)
        .bind(last_seq)
        .bind(head)
        .execute(&mut **tx)
        .await?;
        Ok(rows)
    }

    /// Hashes the stored history of these requests, which have no head yet: fills in the hash of
    /// each event that has none and writes the heads. Returns the head hash of the last request
    /// (what [`Store::chain_events`] needs for one).
    async fn seal_requests(&self, tx: &mut Tx, ids: &[i64]) -> Result<String, StoreError> {
        let (Some(lo), Some(hi)) = (ids.iter().min(), ids.iter().max()) else {
            return Ok(String::new());
        };
        let wanted: rustc_hash::FxHashSet<i64> = ids.iter().copied().collect();
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {HASHED_COLUMNS}, hash FROM events WHERE request_id >= $1 AND request_id <= $2 \
             ORDER BY request_id, seq"
        )))
        .bind(lo)
        .bind(hi)
        .fetch_all(&mut **tx)
        .await?;
        let mut updates: Vec<(i64, i64, String)> = Vec::new();
        let mut heads: BTreeMap<i64, (i64, String)> = BTreeMap::new();
        for row in &rows {
            let (request, seq, values, stored) = stored_event(row)?;
            if !wanted.contains(&request) {
                continue;
            }
            let previous = heads.get(&request).map_or("", |(_, h)| h.as_str());
            let hash = event_hash(previous, &values);
            // A row that already has a hash keeps it; if it disagrees, verify will say so.
            let hash = match stored {
                Some(stored) => stored,
                None => {
                    updates.push((request, seq, hash.clone()));
                    hash
                }
            };
            heads.insert(request, (seq, hash));
        }
        self.set_event_hashes(tx, &updates).await?;
        let head_rows: Vec<Vec<Val>> = heads
            .iter()
            .map(|(id, (seq, hash))| vec![Val::Int(*id), Val::Int(*seq), Val::Text(hash.clone())])
            .collect();
        crate::reference::bulk_insert(
            self.kind,
            tx,
            "history_heads",
            &["request_id", "seq", "hash"],
            &head_rows,
        )
        .await?;
        Ok(ids
            .last()
            .and_then(|id| heads.get(id))
            .map(|(_, h)| h.clone())
            .unwrap_or_default())
    }

    /// Sets the hash of events that have none, many rows per statement.
    async fn set_event_hashes(
        &self,
        tx: &mut Tx,
        updates: &[(i64, i64, String)],
    ) -> Result<(), StoreError> {
        for chunk in updates.chunks(3000) {
            let mut values = String::new();
            for i in 0..chunk.len() {
                if i > 0 {
                    values.push(',');
                }
                match self.kind {
                    StorageKind::Sqlite => values.push_str("(?,?,?)"),
                    StorageKind::Postgres => {
                        values.push_str(&format!("(${},${},${})", 3 * i + 1, 3 * i + 2, 3 * i + 3))
                    }
                }
            }
            // VALUES columns are named column1, column2, … on both backends.
            let sql = format!(
                "UPDATE events SET hash = v.column3 FROM (VALUES {values}) AS v \
                 WHERE events.request_id = v.column1 AND events.seq = v.column2 \
                 AND events.hash IS NULL"
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for (request, seq, hash) in chunk {
                query = query.bind(*request).bind(*seq).bind(hash.as_str());
            }
            query.execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Seals the history of every request that has no head yet (history written before the
    /// hashes existed, or restored from such a backup), in batches, calling
    /// `progress(requests done, total)`. Returns the number of requests sealed.
    pub async fn seal_history(
        &self,
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<u64, StoreError> {
        let ids: Vec<i64> = sqlx::query(
            "SELECT r.id FROM requests r WHERE NOT EXISTS \
             (SELECT 1 FROM history_heads h WHERE h.request_id = r.id) ORDER BY r.id",
        )
        .fetch_all(&self.write)
        .await?
        .into_iter()
        .map(|r| r.get(0))
        .collect();
        let total = ids.len() as u64;
        let mut done = 0;
        for batch in ids.chunks(2000) {
            let mut tx = self.begin_write().await?;
            // Another node may have sealed (or a writer chained) some of them meanwhile.
            let still: Vec<i64> = {
                let (lo, hi) = (batch[0], batch[batch.len() - 1]);
                let sealed: rustc_hash::FxHashSet<i64> = sqlx::query(
                    "SELECT request_id FROM history_heads WHERE request_id >= $1 AND request_id <= $2",
                )
                .bind(lo)
                .bind(hi)
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .map(|r| r.get(0))
                .collect();
                batch
                    .iter()
                    .copied()
                    .filter(|id| !sealed.contains(id))
                    .collect()
            };
            if self.kind == StorageKind::Postgres {
                // Hold writers of these requests off until the batch commits.
                sqlx::query("SELECT id FROM requests WHERE id >= $1 AND id <= $2 FOR UPDATE")
                    .bind(batch[0])
                    .bind(batch[batch.len() - 1])
                    .execute(&mut *tx)
                    .await?;
            }
            self.seal_requests(&mut tx, &still).await?;
            tx.commit().await?;
            done += batch.len() as u64;
            progress(done, total);
        }
        Ok(total)
    }

    /// Seals history written before the migration that added the hashes, once, when the store
    /// opens (the migration leaves the `history_unsealed` setting when it found events).
    pub(crate) async fn seal_if_flagged(&self) -> Result<(), StoreError> {
        let flagged = sqlx::query("SELECT 1 FROM settings WHERE key = 'history_unsealed'")
            .fetch_optional(&self.write)
            .await?
            .is_some();
        if !flagged {
            return Ok(());
        }
        let started = std::time::Instant::now();
        let sealed = self.seal_history(&mut |_, _| {}).await?;
        sqlx::query("DELETE FROM settings WHERE key = 'history_unsealed'")
            .execute(&self.write)
            .await?;
        tracing::info!(
            requests = sealed,
            seconds = started.elapsed().as_secs_f64(),
            "sealed the history written before the hash chain"
        );
        Ok(())
    }

    /// Walks every request's chain in one consistent snapshot (writers go on meanwhile) and
    /// reports the first altered or missing event of each broken request, calling
    /// `progress(events done, total)`.
    pub async fn verify_history(
        &self,
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<AuditReport, StoreError> {
        let mut tx = self.begin_snapshot().await?;
        let total: i64 = sqlx::query("SELECT COUNT(*) FROM events")
            .fetch_one(&mut *tx)
            .await?
            .get(0);
        let mut heads: BTreeMap<i64, Option<(i64, String)>> = BTreeMap::new();
        for row in sqlx::query(
            "SELECT r.id, h.seq, h.hash FROM requests r \
             LEFT JOIN history_heads h ON h.request_id = r.id",
        )
        .fetch_all(&mut *tx)
        .await?
        {
            let head = match (
                row.get::<Option<i64>, _>(1),
                row.get::<Option<String>, _>(2),
            ) {
                (Some(seq), Some(hash)) => Some((seq, hash)),
                _ => None,
            };
            heads.insert(row.get(0), head);
        }
        let mut report = AuditReport {
            requests: heads.len() as u64,
            ..AuditReport::default()
        };
        let mut walk: Option<Walk> = None;
        {
            let sql = format!("SELECT {HASHED_COLUMNS}, hash FROM events ORDER BY request_id, seq");
            let mut rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch(&mut *tx);
            while let Some(row) = rows.try_next().await? {
                let (request, seq, values, stored) = stored_event(&row)?;
                if walk.as_ref().is_some_and(|w| w.request != request)
                    && let Some(done) = walk.take()
                {
                    let head = heads.remove(&done.request).flatten();
                    if let Some(problem) = done.finish(head) {
                        report.report(problem);
                    }
                }
                walk.get_or_insert_with(|| Walk::new(request))
                    .step(seq, &values, stored);
                report.events += 1;
                if report.events.is_multiple_of(10_000) {
                    progress(report.events, total as u64);
                }
            }
        }
        if let Some(done) = walk.take() {
            let head = heads.remove(&done.request).flatten();
            if let Some(problem) = done.finish(head) {
                report.report(problem);
            }
        }
        // Requests none of whose events are left.
        for (id, head) in heads {
            if let Some(problem) = Walk::new(id).finish(head) {
                report.report(problem);
            }
        }
        report.problems.sort_by_key(|p| (p.request_id, p.seq));
        progress(report.events, total as u64);
        tx.rollback().await?;
        Ok(report)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn row(request: i64, seq: i64, payload: &str) -> Vec<Val> {
        vec![
            Val::Int(request),
            Val::Int(seq),
            Val::Int(1_700_000_000_000),
            Val::OptInt(None),
            Val::Text("operator".into()),
            Val::OptInt(Some(7)),
            Val::Text("received".into()),
            Val::Text(payload.into()),
        ]
    }

    #[test]
    fn the_hash_is_the_documented_encoding() {
        // Independent of this module: the same bytes fed to SHA-256 by hand.
        let mut bytes = b"minyi.event.v1".to_vec();
        bytes.extend([0x02]);
        bytes.extend(0u64.to_be_bytes());
        for i in [1i64, 0, 1_700_000_000_000] {
            bytes.push(0x01);
            bytes.extend(i.to_be_bytes());
        }
        bytes.push(0x00);
        bytes.extend([0x02]);
        bytes.extend(8u64.to_be_bytes());
        bytes.extend(b"operator");
        bytes.push(0x01);
        bytes.extend(7i64.to_be_bytes());
        bytes.extend([0x02]);
        bytes.extend(8u64.to_be_bytes());
        bytes.extend(b"received");
        bytes.extend([0x02]);
        bytes.extend(2u64.to_be_bytes());
        bytes.extend(b"{}");
        assert_eq!(
            event_hash("", &row(1, 0, "{}")),
            hex::encode(Sha256::digest(&bytes))
        );
    }

    #[test]
    fn nullable_and_plain_values_hash_alike() {
        let plain = row(1, 0, "{}");
        let mut nullable = plain.clone();
        nullable[0] = Val::OptInt(Some(1));
        nullable[7] = Val::OptText(Some("{}".into()));
        assert_eq!(event_hash("", &plain), event_hash("", &nullable));
    }

    #[test]
    fn every_column_and_the_link_change_the_hash() {
        let base = event_hash("ab", &row(1, 0, "{}"));
        assert_ne!(base, event_hash("ac", &row(1, 0, "{}")));
        assert_ne!(base, event_hash("ab", &row(2, 0, "{}")));
        assert_ne!(base, event_hash("ab", &row(1, 1, "{}")));
        assert_ne!(base, event_hash("ab", &row(1, 0, "{ }")));
        let mut no_unit = row(1, 0, "{}");
        no_unit[5] = Val::OptInt(None);
        assert_ne!(base, event_hash("ab", &no_unit));
        // Moving a byte between neighbouring texts changes the hash (length prefixes).
        let mut a = row(1, 0, "{}");
        a[4] = Val::Text("operatorr".into());
        a[6] = Val::Text("eceived".into());
        assert_ne!(base, event_hash("ab", &a));
    }

    #[test]
    fn a_chain_links_each_row_to_the_one_before() {
        let mut rows = vec![row(1, 0, "a"), row(1, 1, "b"), row(1, 2, "c")];
        let head = chain("", &mut rows);
        let hashes: Vec<String> = rows
            .iter()
            .map(|r| match r.last() {
                Some(Val::Text(h)) => h.clone(),
                other => panic!("no hash: {other:?}"),
            })
            .collect();
        assert_eq!(hashes[0], event_hash("", &row(1, 0, "a")));
        assert_eq!(hashes[1], event_hash(&hashes[0], &row(1, 1, "b")));
        assert_eq!(hashes[2], event_hash(&hashes[1], &row(1, 2, "c")));
        assert_eq!(head, hashes[2]);
        // Chaining in two steps gives the same head as in one.
        let mut first = vec![row(1, 0, "a"), row(1, 1, "b")];
        let middle = chain("", &mut first);
        let mut rest = vec![row(1, 2, "c")];
        assert_eq!(chain(&middle, &mut rest), head);
    }

    fn walk(
        rows: &[Vec<Val>],
        stored: &[Option<String>],
        head: Option<(i64, String)>,
    ) -> Option<AuditProblem> {
        let mut w = Walk::new(1);
        for (r, s) in rows.iter().zip(stored) {
            let Val::Int(seq) = r[1] else { panic!() };
            w.step(seq, r, s.clone());
        }
        w.finish(head)
    }

    #[test]
    fn the_walk_names_the_first_broken_event() {
        let mut rows = vec![row(1, 0, "a"), row(1, 1, "b"), row(1, 2, "c")];
        let head = chain("", &mut rows);
        let stored: Vec<Option<String>> = rows
            .iter_mut()
            .map(|r| match r.pop() {
                Some(Val::Text(h)) => Some(h),
                _ => None,
            })
            .collect();
        assert_eq!(walk(&rows, &stored, Some((2, head.clone()))), None);

        let mut altered = rows.clone();
        altered[1][7] = Val::Text("B".into());
        let p = walk(&altered, &stored, Some((2, head.clone()))).unwrap();
        assert_eq!((p.problem, p.seq), ("altered", 1));
        assert_eq!(p.found, stored[1].clone().unwrap());

        let p = walk(&rows[..2], &stored[..2], Some((2, head.clone()))).unwrap();
        assert_eq!((p.problem, p.seq), ("missing", 2));

        let gap = [rows[0].clone(), rows[2].clone()];
        let p = walk(
            &gap,
            &[stored[0].clone(), stored[2].clone()],
            Some((2, head.clone())),
        );
        assert_eq!(p.map(|p| (p.problem, p.seq)), Some(("missing", 1)));

        let p = walk(&rows, &stored, None).unwrap();
        assert_eq!((p.problem, p.seq), ("head_missing", 2));
        let p = walk(&rows, &stored, Some((2, "00".into()))).unwrap();
        assert_eq!((p.problem, p.seq), ("head_mismatch", 2));
        let p = walk(&[], &[], Some((2, head))).unwrap();
        assert_eq!((p.problem, p.seq), ("missing", 0));
    }
}
