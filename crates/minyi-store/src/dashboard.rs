//! Figures for the leaders' dashboard: volume by day, the category mix, the on-time share of
//! completed requests and the satisfaction of ratings.

use crate::{Store, StoreError};
use chrono::{DateTime, Utc};
use minyi_domain::request::EventKind;
use sqlx::Row;

/// What the dashboard shows beyond the counts by state of [`Store::stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Dashboard {
    /// Requests received per day since the start asked for: (day as days since 1970-01-01 in
    /// UTC+8, count), in order.
    pub volume_by_day: Vec<(i64, i64)>,
    /// Requests per matter (leaf id) since the start asked for.
    pub by_matter: Vec<(i64, i64)>,
    /// Requests replied or closed.
    pub completed: i64,
    /// Of those, the ones never escalated for an overdue clock.
    pub completed_on_time: i64,
    /// Ratings given.
    pub rated: i64,
    /// Of those, satisfied or basically satisfied.
    pub satisfied: i64,
}

/// Milliseconds in a day, and the offset of China Standard Time.
const DAY_MS: i64 = 86_400_000;
const CST_MS: i64 = 8 * 3_600_000;

impl Store {
    /// The dashboard's figures; volume and mix count requests received at or after `since`.
    pub async fn dashboard(&self, since: DateTime<Utc>) -> Result<Dashboard, StoreError> {
        let since = since.timestamp_millis();
        let pairs = |rows: Vec<sqlx::any::AnyRow>| -> Vec<(i64, i64)> {
            rows.into_iter()
                .map(|r| (r.get::<i64, _>(0), r.get::<i64, _>(1)))
                .collect()
        };
        let volume_by_day = pairs(
            sqlx::query(
                "SELECT (received_at + $1) / $2 AS d, COUNT(*) FROM requests \
                 WHERE received_at >= $3 GROUP BY d ORDER BY d",
            )
            .bind(CST_MS)
            .bind(DAY_MS)
            .bind(since)
            .fetch_all(&self.read)
            .await?,
        );
        let by_matter = pairs(
            sqlx::query(
                "SELECT matter_id, COUNT(*) FROM requests \
                 WHERE received_at >= $1 AND matter_id IS NOT NULL GROUP BY matter_id",
            )
            .bind(since)
            .fetch_all(&self.read)
            .await?,
        );
        let completed: i64 =
            sqlx::query("SELECT COUNT(*) FROM requests WHERE state IN ('replied','closed')")
                .fetch_one(&self.read)
                .await?
                .get(0);
        let late: i64 = sqlx::query(
            "SELECT COUNT(*) FROM requests r WHERE r.state IN ('replied','closed') AND EXISTS \
             (SELECT 1 FROM events e WHERE e.request_id = r.id AND e.kind = 'escalated')",
        )
        .fetch_one(&self.read)
        .await?
        .get(0);
        let mut rated = 0;
        let mut satisfied = 0;
        for row in sqlx::query("SELECT payload FROM events WHERE kind = 'rated'")
            .fetch_all(&self.read)
            .await?
        {
            let payload: String = row.get(0);
            let kind: EventKind = serde_json::from_str(&payload)
                .map_err(|e| StoreError::Corrupt(format!("event payload: {e}")))?;
            if let EventKind::Rated { satisfaction, .. } = kind {
                rated += 1;
                if satisfaction.counts_as_satisfied() {
                    satisfied += 1;
                }
            }
        }
        Ok(Dashboard {
            volume_by_day,
            by_matter,
            completed,
            completed_on_time: completed - late,
            rated,
            satisfied,
        })
    }
}
