//! Counts for `minyi stats`: requests by state, events, and the size of the reference data.

use crate::{Store, StoreError};
use minyi_domain::request::State;
use sqlx::Row;
use std::collections::BTreeMap;

/// What `minyi stats` reports.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    pub storage: &'static str,
    pub requests: i64,
    /// Every state, with zero for the absent ones.
    pub requests_by_state: BTreeMap<&'static str, i64>,
    pub events: i64,
    pub events_by_kind: BTreeMap<String, i64>,
    pub units: i64,
    pub units_by_kind: BTreeMap<String, i64>,
    pub users: i64,
    pub divisions: i64,
    pub divisions_by_level: BTreeMap<String, i64>,
    pub urban_villages: i64,
    pub matters: i64,
    pub leaf_matters: i64,
    pub responsibility_rules: i64,
    pub calendar_days: i64,
    /// 助企服务队: enterprise service teams.
    pub service_teams: i64,
    pub enterprises: i64,
    pub enterprise_visits: i64,
    /// Requests filed by enterprises (any channel).
    pub enterprise_requests: i64,
    /// Requests raised during an enterprise visit.
    pub visit_requests: i64,
    /// Matchmaking (我帮企业找市场/找资金): resources registered, needs posted, matches proposed
    /// and matches agreed (对接成功).
    pub match_resources: i64,
    pub enterprise_needs: i64,
    pub matches: i64,
    pub matches_agreed: i64,
}

impl Store {
    async fn count(&self, sql: &'static str) -> Result<i64, StoreError> {
        Ok(sqlx::query(sql).fetch_one(&self.read).await?.get(0))
    }

    async fn grouped(&self, sql: &'static str) -> Result<BTreeMap<String, i64>, StoreError> {
        Ok(sqlx::query(sql)
            .fetch_all(&self.read)
            .await?
            .into_iter()
            .map(|r| (r.get::<String, _>(0), r.get::<i64, _>(1)))
            .collect())
    }

    /// Counts of everything.
    pub async fn stats(&self) -> Result<Stats, StoreError> {
        let by_state = self
            .grouped("SELECT state, COUNT(*) FROM requests GROUP BY state")
            .await?;
        let requests_by_state = State::ALL
            .into_iter()
            .map(|s| (s.as_str(), by_state.get(s.as_str()).copied().unwrap_or(0)))
            .collect();
        Ok(Stats {
            storage: self.kind.as_str(),
            requests: self.count("SELECT COUNT(*) FROM requests").await?,
            requests_by_state,
            events: self.count("SELECT COUNT(*) FROM events").await?,
            events_by_kind: self
                .grouped("SELECT kind, COUNT(*) FROM events GROUP BY kind")
                .await?,
            units: self.count("SELECT COUNT(*) FROM units").await?,
            units_by_kind: self
                .grouped("SELECT kind, COUNT(*) FROM units GROUP BY kind")
                .await?,
            users: self.count("SELECT COUNT(*) FROM users").await?,
            divisions: self.count("SELECT COUNT(*) FROM divisions").await?,
            divisions_by_level: self
                .grouped("SELECT level, COUNT(*) FROM divisions GROUP BY level")
                .await?,
            urban_villages: self
                .count("SELECT COUNT(*) FROM divisions WHERE kind = 'urban_village'")
                .await?,
            matters: self.count("SELECT COUNT(*) FROM matters").await?,
            leaf_matters: self
                .count(
                    "SELECT COUNT(*) FROM matters m WHERE NOT EXISTS \
                     (SELECT 1 FROM matters c WHERE c.parent_id = m.id)",
                )
                .await?,
            responsibility_rules: self
                .count("SELECT COUNT(*) FROM responsibility_rules")
                .await?,
            calendar_days: self.count("SELECT COUNT(*) FROM calendar_days").await?,
            service_teams: self.count("SELECT COUNT(*) FROM service_teams").await?,
            enterprises: self.count("SELECT COUNT(*) FROM enterprises").await?,
            enterprise_visits: self.count("SELECT COUNT(*) FROM visits").await?,
            enterprise_requests: self
                .count("SELECT COUNT(*) FROM requests WHERE requester_kind = 'enterprise'")
                .await?,
            visit_requests: self
                .count("SELECT COUNT(*) FROM requests WHERE channel = 'enterprise_visit'")
                .await?,
            match_resources: self.count("SELECT COUNT(*) FROM match_resources").await?,
            enterprise_needs: self.count("SELECT COUNT(*) FROM enterprise_needs").await?,
            matches: self.count("SELECT COUNT(*) FROM need_matches").await?,
            matches_agreed: self
                .count("SELECT COUNT(*) FROM need_matches WHERE status = 'agreed'")
                .await?,
        })
    }
}
