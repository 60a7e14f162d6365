//! What the engine finds across requests: duplicate flags (重复件), hot-spot alerts (热点) and
//! the knowledge base (知识库). The detection itself is in `minyi-engine`; this module keeps its
//! findings and the stream of recent requests it reads.

use crate::{Store, StoreError};
use chrono::{DateTime, Utc};
use sqlx::Row;

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// A stored request as the cross-request detectors read it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecentRequest {
    pub id: i64,
    pub received_at: DateTime<Utc>,
    pub division_id: Option<i64>,
    pub matter_id: Option<i64>,
    pub parent_id: Option<i64>,
    pub state: String,
    pub title: String,
    /// The request's text, from its snapshot.
    pub text: String,
}

/// 重复件标记: the engine found that a request repeats an open one.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct DuplicateFlag {
    pub request_id: i64,
    pub parent_id: i64,
    /// Jaccard similarity of the two texts' character shingles, 0–1.
    pub similarity: f64,
    /// `open`, `merged` or `dismissed`.
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub decided_by: Option<i64>,
    pub decided_at: Option<DateTime<Utc>>,
}

/// A new hot-spot alert, as the detector raised it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewHotspot {
    pub division_id: i64,
    /// What the requests share: `matter:<id>` or `dup:<parent id>`.
    pub topic: String,
    pub request_count: i64,
    pub baseline: f64,
    pub fired_at: DateTime<Utc>,
    pub samples: Vec<i64>,
}

/// 热点预警: a surge of similar requests in one division.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct HotspotAlertRow {
    pub id: i64,
    pub division_id: i64,
    pub topic: String,
    pub request_count: i64,
    pub baseline: f64,
    pub fired_at: DateTime<Utc>,
    pub samples: Vec<i64>,
    /// `open` or `acknowledged`.
    pub status: String,
    pub acknowledged_by: Option<i64>,
    pub acknowledged_at: Option<DateTime<Utc>>,
}

/// 知识库条目: one question and its answer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct KnowledgeEntry {
    /// A stable id chosen by the administrator (`gjj-tiqu-01`).
    pub id: String,
    pub question: String,
    pub answer: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

const RECENT_COLUMNS: &str = "SELECT id, received_at, division_id, matter_id, parent_id, state, title, snapshot FROM requests";

fn recent_from(r: &sqlx::any::AnyRow) -> RecentRequest {
    let snapshot: String = r.get(7);
    let text = serde_json::from_str::<serde_json::Value>(&snapshot)
        .ok()
        .and_then(|v| {
            v.pointer("/intake/text")
                .and_then(|t| t.as_str())
                .map(str::to_owned)
        })
        .unwrap_or_default();
    RecentRequest {
        id: r.get(0),
        received_at: time(r.get(1)),
        division_id: r.get(2),
        matter_id: r.get(3),
        parent_id: r.get(4),
        state: r.get(5),
        title: r.get(6),
        text,
    }
}

const FLAG_COLUMNS: &str = "SELECT request_id, parent_id, similarity, status, created_at, decided_by, decided_at FROM duplicate_flags";

fn flag_from(r: &sqlx::any::AnyRow) -> DuplicateFlag {
    DuplicateFlag {
        request_id: r.get(0),
        parent_id: r.get(1),
        similarity: r.get(2),
        status: r.get(3),
        created_at: time(r.get(4)),
        decided_by: r.get(5),
        decided_at: r.get::<Option<i64>, _>(6).map(time),
    }
}

const ALERT_COLUMNS: &str = "SELECT id, division_id, topic, request_count, baseline, fired_at, samples, status, acknowledged_by, acknowledged_at FROM hotspot_alerts";

fn alert_from(r: &sqlx::any::AnyRow) -> HotspotAlertRow {
    let samples: String = r.get(6);
    HotspotAlertRow {
        id: r.get(0),
        division_id: r.get(1),
        topic: r.get(2),
        request_count: r.get(3),
        baseline: r.get(4),
        fired_at: time(r.get(5)),
        samples: serde_json::from_str(&samples).unwrap_or_default(),
        status: r.get(7),
        acknowledged_by: r.get(8),
        acknowledged_at: r.get::<Option<i64>, _>(9).map(time),
    }
}

fn entry_from(r: &sqlx::any::AnyRow) -> KnowledgeEntry {
    let tags: String = r.get(3);
    KnowledgeEntry {
        id: r.get(0),
        question: r.get(1),
        answer: r.get(2),
        tags: serde_json::from_str(&tags).unwrap_or_default(),
        active: r.get::<i64, _>(4) != 0,
    }
}

/// Ids as the inside of an SQL `IN (…)` list (integers only, so nothing to quote).
pub(crate) fn id_list(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

impl Store {
    /// Ids of requests above `after_id` received at or after `since`, in id order, at most
    /// `limit`: the stream the duplicate index and the hot-spot detector follow. Ids alone are
    /// cheap to read again and again (no text, no snapshot to parse), so that a node re-reading
    /// the last ids for out-of-order commits fetches whole rows
    /// ([`Store::recent_requests_by_id`]) only for the ids it has not seen.
    pub async fn recent_request_ids(
        &self,
        after_id: i64,
        since: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<i64>, StoreError> {
        let rows = sqlx::query(
            "SELECT id FROM requests WHERE id > $1 AND received_at >= $2 ORDER BY id LIMIT $3",
        )
        .bind(after_id)
        .bind(ms(since))
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// Some requests of the stream by id (those that exist), in id order.
    pub async fn recent_requests_by_id(
        &self,
        ids: &[i64],
    ) -> Result<Vec<RecentRequest>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let list = id_list(ids);
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{RECENT_COLUMNS} WHERE id IN ({list}) ORDER BY id"
        )))
        .fetch_all(&self.read)
        .await?;
        Ok(rows.iter().map(recent_from).collect())
    }

    /// The state of some requests (those that exist), as `(id, state)`.
    pub async fn request_states(&self, ids: &[i64]) -> Result<Vec<(i64, String)>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let list = id_list(ids);
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT id, state FROM requests WHERE id IN ({list})"
        )))
        .fetch_all(&self.read)
        .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Records that `request_id` repeats the open request `parent_id`. A request is flagged at
    /// most once; a second flag for it is ignored.
    pub async fn flag_duplicate(
        &self,
        request_id: i64,
        parent_id: i64,
        similarity: f64,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if request_id == parent_id {
            return Err(StoreError::Invalid("a request cannot repeat itself".into()));
        }
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO duplicate_flags (request_id, parent_id, similarity, status, created_at) \
             VALUES ($1, $2, $3, 'open', $4) ON CONFLICT (request_id) DO NOTHING",
        )
        .bind(request_id)
        .bind(parent_id)
        .bind(similarity)
        .bind(ms(now))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The duplicate flag of one request, if it has one.
    pub async fn duplicate_flag(
        &self,
        request_id: i64,
    ) -> Result<Option<DuplicateFlag>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{FLAG_COLUMNS} WHERE request_id = $1"
        )))
        .bind(request_id)
        .fetch_optional(&self.read)
        .await?;
        Ok(row.as_ref().map(flag_from))
    }

    /// Duplicate flags, newest first; only those with `status` when given.
    pub async fn duplicate_flags(
        &self,
        status: Option<&str>,
        limit: i64,
    ) -> Result<Vec<DuplicateFlag>, StoreError> {
        let rows = match status {
            Some(s) => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "{FLAG_COLUMNS} WHERE status = $1 ORDER BY created_at DESC, request_id DESC LIMIT $2"
                )))
                .bind(s.to_owned())
                .bind(limit)
                .fetch_all(&self.read)
                .await?
            }
            None => {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "{FLAG_COLUMNS} ORDER BY created_at DESC, request_id DESC LIMIT $1"
                )))
                .bind(limit)
                .fetch_all(&self.read)
                .await?
            }
        };
        Ok(rows.iter().map(flag_from).collect())
    }

    /// Decides an open duplicate flag: `merged` or `dismissed`. Refuses a flag already decided
    /// (`Conflict`) or absent (`NotFound`).
    pub async fn decide_duplicate(
        &self,
        request_id: i64,
        outcome: &str,
        by: i64,
        now: DateTime<Utc>,
    ) -> Result<DuplicateFlag, StoreError> {
        if !matches!(outcome, "merged" | "dismissed") {
            return Err(StoreError::Invalid(format!(
                "unknown outcome {outcome:?}: merged or dismissed"
            )));
        }
        let mut tx = self.begin_write().await?;
        let current: Option<String> =
            sqlx::query("SELECT status FROM duplicate_flags WHERE request_id = $1")
                .bind(request_id)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.get(0));
        match current.as_deref() {
            None => return Err(StoreError::NotFound("duplicate flag")),
            Some("open") => {}
            Some(other) => {
                return Err(StoreError::Conflict(format!(
                    "the duplicate flag was already decided: {other}"
                )));
            }
        }
        sqlx::query(
            "UPDATE duplicate_flags SET status = $1, decided_by = $2, decided_at = $3 \
             WHERE request_id = $4",
        )
        .bind(outcome.to_owned())
        .bind(by)
        .bind(ms(now))
        .bind(request_id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.duplicate_flag(request_id)
            .await?
            .ok_or(StoreError::NotFound("duplicate flag"))
    }

    /// Stores a hot-spot alert unless the same alert (division, topic, time) is already stored
    /// (another node saw the same surge). Returns whether it was new.
    pub async fn record_hotspot(&self, alert: &NewHotspot) -> Result<bool, StoreError> {
        let samples = serde_json::to_string(&alert.samples)
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let mut tx = self.begin_write().await?;
        let n = sqlx::query(
            "INSERT INTO hotspot_alerts (division_id, topic, request_count, baseline, fired_at, \
             samples, status) VALUES ($1, $2, $3, $4, $5, $6, 'open') \
             ON CONFLICT (division_id, topic, fired_at) DO NOTHING",
        )
        .bind(alert.division_id)
        .bind(alert.topic.clone())
        .bind(alert.request_count)
        .bind(alert.baseline)
        .bind(ms(alert.fired_at))
        .bind(samples)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(n == 1)
    }

    /// Hot-spot alerts, newest first; only open ones when `open_only`.
    pub async fn hotspot_alerts(
        &self,
        open_only: bool,
        limit: i64,
    ) -> Result<Vec<HotspotAlertRow>, StoreError> {
        let filter = if open_only {
            "WHERE status = 'open'"
        } else {
            ""
        };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{ALERT_COLUMNS} {filter} ORDER BY fired_at DESC, id DESC LIMIT $1"
        )))
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        Ok(rows.iter().map(alert_from).collect())
    }

    /// Marks an open alert seen by `by`. `NotFound` if there is no such alert, `Conflict` if it
    /// was already acknowledged.
    pub async fn acknowledge_hotspot(
        &self,
        id: i64,
        by: i64,
        now: DateTime<Utc>,
    ) -> Result<HotspotAlertRow, StoreError> {
        let mut tx = self.begin_write().await?;
        let current: Option<String> =
            sqlx::query("SELECT status FROM hotspot_alerts WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.get(0));
        match current.as_deref() {
            None => return Err(StoreError::NotFound("hotspot alert")),
            Some("open") => {}
            Some(_) => {
                return Err(StoreError::Conflict(
                    "the alert was already acknowledged".into(),
                ));
            }
        }
        sqlx::query(
            "UPDATE hotspot_alerts SET status = 'acknowledged', acknowledged_by = $1, \
             acknowledged_at = $2 WHERE id = $3",
        )
        .bind(by)
        .bind(ms(now))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{ALERT_COLUMNS} WHERE id = $1"
        )))
        .bind(id)
        .fetch_one(&self.read)
        .await?;
        Ok(alert_from(&row))
    }

    /// Every knowledge-base entry (active or not), by id.
    pub async fn knowledge_entries(&self) -> Result<Vec<KnowledgeEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, question, answer, tags, active FROM knowledge_entries ORDER BY id",
        )
        .fetch_all(&self.read)
        .await?;
        Ok(rows.iter().map(entry_from).collect())
    }

    /// A fingerprint of the knowledge base (entry count and latest change) so that a node can
    /// tell when its copy is stale.
    pub async fn knowledge_version(&self) -> Result<(i64, i64), StoreError> {
        let row =
            sqlx::query("SELECT COUNT(*), COALESCE(MAX(updated_at), 0) FROM knowledge_entries")
                .fetch_one(&self.read)
                .await?;
        Ok((row.get(0), row.get(1)))
    }

    /// Adds or replaces entries by id, all or nothing. Each needs an id (1–64 characters of
    /// letters, digits, `-` and `_`), a question and an answer.
    pub async fn upsert_knowledge(
        &self,
        entries: &[KnowledgeEntry],
        by: i64,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        for (i, e) in entries.iter().enumerate() {
            let id_ok = !e.id.is_empty()
                && e.id.len() <= 64
                && e.id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !id_ok {
                return Err(StoreError::Invalid(format!(
                    "entry {}: the id must be 1 to 64 letters, digits, '-' or '_'",
                    i + 1
                )));
            }
            if e.question.trim().is_empty() || e.answer.trim().is_empty() {
                return Err(StoreError::Invalid(format!(
                    "entry {} ({}): a question and an answer are needed",
                    i + 1,
                    e.id
                )));
            }
            if e.question.chars().count() > 500 || e.answer.chars().count() > 10_000 {
                return Err(StoreError::Invalid(format!(
                    "entry {} ({}): the question is limited to 500 characters and the answer to 10,000",
                    i + 1,
                    e.id
                )));
            }
        }
        let mut tx = self.begin_write().await?;
        for e in entries {
            let tags = serde_json::to_string(&e.tags)
                .map_err(|err| StoreError::Invalid(err.to_string()))?;
            sqlx::query(
                "INSERT INTO knowledge_entries (id, question, answer, tags, active, updated_at, updated_by) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (id) DO UPDATE SET question = excluded.question, answer = excluded.answer, \
                 tags = excluded.tags, active = excluded.active, updated_at = excluded.updated_at, \
                 updated_by = excluded.updated_by",
            )
            .bind(e.id.clone())
            .bind(e.question.trim().to_owned())
            .bind(e.answer.trim().to_owned())
            .bind(tags)
            .bind(i64::from(e.active))
            .bind(ms(now))
            .bind(by)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(entries.len())
    }

    /// Deletes one entry; `NotFound` if there is none with that id.
    pub async fn delete_knowledge(&self, id: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query("DELETE FROM knowledge_entries WHERE id = $1")
            .bind(id.to_owned())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        if n == 0 {
            return Err(StoreError::NotFound("knowledge entry"));
        }
        Ok(())
    }
}
