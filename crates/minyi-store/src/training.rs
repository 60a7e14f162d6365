//! Labelled history for the classifier: requests whose category is known, with their title and
//! text, so that `minyi engine retrain` learns from what dispatchers confirmed or corrected.

use crate::{Store, StoreError};
use minyi_domain::MatterId;
use minyi_domain::request::Request;
use sqlx::Row;

/// One labelled request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelledRequest {
    pub title: String,
    pub text: String,
    pub matter: MatterId,
    /// `person` (chosen or corrected by a person) or `engine` (the engine's, not corrected).
    pub source: String,
}

impl Store {
    /// Up to `limit` classified requests, newest first; with `person_only`, only those whose
    /// category a person chose or corrected.
    pub async fn labelled_requests(
        &self,
        limit: u32,
        person_only: bool,
    ) -> Result<Vec<LabelledRequest>, StoreError> {
        let sql = if person_only {
            "SELECT snapshot, matter_id, category_source FROM requests \
             WHERE matter_id IS NOT NULL AND category_source = 'person' ORDER BY id DESC LIMIT $1"
        } else {
            "SELECT snapshot, matter_id, category_source FROM requests \
             WHERE matter_id IS NOT NULL ORDER BY id DESC LIMIT $1"
        };
        let rows = sqlx::query(sql)
            .bind(i64::from(limit))
            .fetch_all(&self.read)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let snapshot: String = r.get(0);
            let request: Request = serde_json::from_str(&snapshot)
                .map_err(|e| StoreError::Corrupt(format!("request snapshot: {e}")))?;
            out.push(LabelledRequest {
                title: request.intake.title,
                text: request.intake.text,
                matter: MatterId(r.get(1)),
                source: r.get::<Option<String>, _>(2).unwrap_or_default(),
            });
        }
        Ok(out)
    }
}
