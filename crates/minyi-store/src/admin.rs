//! Administration and supervision records: staff accounts, Open311 API keys and supervision
//! cards (挂牌督办). Reference data (divisions, units, catalogue, rules, calendar) is in
//! `reference.rs`.

use crate::access::hash_secret;
use crate::{Store, StoreError};
use argon2::Argon2;
use argon2::password_hash::PasswordHasher;
use chrono::{DateTime, Utc};
use minyi_domain::UserId;
use minyi_domain::unit::Role;
use sqlx::Row;

/// A staff account as administrators see it (never the password hash).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct UserInfo {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub unit_id: Option<i64>,
    pub unit_code: Option<String>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

/// Changes to an account; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    pub display_name: Option<String>,
    pub role: Option<Role>,
    /// `Some(None)` removes the unit.
    pub unit_code: Option<Option<String>>,
    pub active: Option<bool>,
    pub password: Option<String>,
}

/// An issued API key, identified by the first 12 hex digits of its hash (the key itself is
/// shown once, when it is issued).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ApiKeyInfo {
    pub key_id: String,
    pub label: String,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// 黄牌/红牌: the colour of a supervision card.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardColour {
    Yellow,
    Red,
}

impl CardColour {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            CardColour::Yellow => "yellow",
            CardColour::Red => "red",
        }
    }

    /// Parses [`CardColour::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "yellow" => Some(CardColour::Yellow),
            "red" => Some(CardColour::Red),
            _ => None,
        }
    }
}

/// What a card is issued to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardTarget {
    Unit(i64),
    Request(i64),
}

/// A supervision card.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Card {
    pub id: i64,
    /// `unit` or `request`.
    pub target_kind: String,
    pub target_id: i64,
    /// `yellow` or `red`.
    pub colour: String,
    pub reason: String,
    pub issued_by: i64,
    pub issued_at: DateTime<Utc>,
    pub lifted_by: Option<i64>,
    pub lifted_at: Option<DateTime<Utc>>,
    pub lift_note: Option<String>,
}

/// Open requests per unit that are overdue or due soon, for the supervision overview.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct UnitBacklog {
    pub unit_id: i64,
    pub open: i64,
    pub overdue: i64,
    pub due_soon: i64,
}

fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

fn hash_password(password: &str) -> Result<String, StoreError> {
    Ok(Argon2::default()
        .hash_password(password.as_bytes())
        .map_err(|e| StoreError::Invalid(format!("password hash: {e}")))?
        .to_string())
}

impl Store {
    /// Every staff account, by username.
    pub async fn list_users(&self) -> Result<Vec<UserInfo>, StoreError> {
        let rows = sqlx::query(
            "SELECT u.id, u.username, u.display_name, u.role, u.unit_id, n.code, u.active, \
             u.created_at FROM users u LEFT JOIN units n ON n.id = u.unit_id ORDER BY u.username",
        )
        .fetch_all(&self.read)
        .await?;
        Ok(rows
            .iter()
            .map(|r| UserInfo {
                id: r.get(0),
                username: r.get(1),
                display_name: r.get(2),
                role: r.get(3),
                unit_id: r.get(4),
                unit_code: r.get(5),
                active: r.get::<i64, _>(6) != 0,
                created_at: time(r.get(7)),
            })
            .collect())
    }

    /// Changes an account. A unit role must keep a unit; deactivating an account or changing its
    /// password or role ends its sessions.
    pub async fn update_user(
        &self,
        username: &str,
        change: &UserChange,
    ) -> Result<UserInfo, StoreError> {
        let hash = change.password.as_deref().map(hash_password).transpose()?;
        let mut tx = self.begin_write().await?;
        let row = sqlx::query("SELECT id, role, unit_id FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound("user"))?;
        let id: i64 = row.get(0);
        let old_role: String = row.get(1);
        let role = match change.role {
            Some(r) => r,
            None => Role::parse(&old_role)
                .ok_or_else(|| StoreError::Corrupt(format!("role {old_role}")))?,
        };
        let mut unit: Option<i64> = match &change.unit_code {
            None => row.get(2),
            Some(None) => None,
            Some(Some(code)) => Some(
                sqlx::query("SELECT id FROM units WHERE code = $1")
                    .bind(code.as_str())
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or_else(|| StoreError::Invalid(format!("unknown unit {code}")))?
                    .get(0),
            ),
        };
        if role.is_unit_role() && unit.is_none() {
            return Err(StoreError::Invalid(format!(
                "user {username}: role {} needs a unit",
                role.as_str()
            )));
        }
        if change.role.is_some() && change.unit_code.is_none() && !role.is_unit_role() {
            // Leaving a unit role: the unit no longer applies.
            unit = None;
        }
        sqlx::query("UPDATE users SET role = $1, unit_id = $2 WHERE id = $3")
            .bind(role.as_str())
            .bind(unit)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if let Some(name) = &change.display_name {
            sqlx::query("UPDATE users SET display_name = $1 WHERE id = $2")
                .bind(name.as_str())
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(active) = change.active {
            sqlx::query("UPDATE users SET active = $1 WHERE id = $2")
                .bind(i64::from(active))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(hash) = hash {
            sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
                .bind(hash)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        if change.active == Some(false) || change.password.is_some() || change.role.is_some() {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        self.list_users()
            .await?
            .into_iter()
            .find(|u| u.id == id)
            .ok_or(StoreError::NotFound("user"))
    }

    /// Every API key ever issued, newest first.
    pub async fn list_api_keys(&self) -> Result<Vec<ApiKeyInfo>, StoreError> {
        let rows = sqlx::query(
            "SELECT key_hash, label, created_at, revoked_at FROM api_keys ORDER BY created_at DESC",
        )
        .fetch_all(&self.read)
        .await?;
        Ok(rows
            .iter()
            .map(|r| ApiKeyInfo {
                key_id: r.get::<String, _>(0).chars().take(12).collect(),
                label: r.get(1),
                created_at: time(r.get(2)),
                revoked_at: r.get::<Option<i64>, _>(3).map(time),
            })
            .collect())
    }

    /// Revokes the key whose id (hash prefix, see [`ApiKeyInfo`]) is given. Revoking twice is
    /// harmless; an unknown id is `NotFound`.
    pub async fn revoke_api_key(&self, key_id: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        if key_id.len() != 12 || !key_id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::NotFound("api_key"));
        }
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1) WHERE key_hash LIKE $2",
        )
        .bind(now.timestamp_millis())
        .bind(format!("{}%", key_id.to_ascii_lowercase()))
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("api_key"));
        }
        tx.commit().await?;
        Ok(())
    }

    /// The id under which a freshly issued key is listed.
    pub fn api_key_id(key: &str) -> String {
        hash_secret(key).chars().take(12).collect()
    }

    /// Issues a supervision card.
    pub async fn issue_card(
        &self,
        target: CardTarget,
        colour: CardColour,
        reason: &str,
        by: UserId,
        now: DateTime<Utc>,
    ) -> Result<Card, StoreError> {
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 1000 {
            return Err(StoreError::Invalid(
                "a card needs a reason of 1 to 1000 characters".into(),
            ));
        }
        let (kind, target_id) = match target {
            CardTarget::Unit(id) => ("unit", id),
            CardTarget::Request(id) => ("request", id),
        };
        let mut tx = self.begin_write().await?;
        let table = if kind == "unit" { "units" } else { "requests" };
        let exists = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT 1 FROM {table} WHERE id = $1"
        )))
        .bind(target_id)
        .fetch_optional(&mut *tx)
        .await?
        .is_some();
        if !exists {
            return Err(StoreError::NotFound(if kind == "unit" {
                "unit"
            } else {
                "request"
            }));
        }
        let id: i64 = sqlx::query(
            "INSERT INTO cards (target_kind, target_id, colour, reason, issued_by, issued_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(kind)
        .bind(target_id)
        .bind(colour.as_str())
        .bind(reason)
        .bind(by.0)
        .bind(now.timestamp_millis())
        .fetch_one(&mut *tx)
        .await?
        .get(0);
        tx.commit().await?;
        self.card(id).await
    }

    /// Lifts a card (摘牌); lifting a lifted card is refused.
    pub async fn lift_card(
        &self,
        id: i64,
        note: &str,
        by: UserId,
        now: DateTime<Utc>,
    ) -> Result<Card, StoreError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE cards SET lifted_by = $1, lifted_at = $2, lift_note = $3 \
             WHERE id = $4 AND lifted_at IS NULL",
        )
        .bind(by.0)
        .bind(now.timestamp_millis())
        .bind(note.trim())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            let known = sqlx::query("SELECT 1 FROM cards WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
            return Err(if known {
                StoreError::Invalid(format!("card {id} is already lifted"))
            } else {
                StoreError::NotFound("card")
            });
        }
        tx.commit().await?;
        self.card(id).await
    }

    async fn card(&self, id: i64) -> Result<Card, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("{CARD_COLUMNS} WHERE id = $1")))
            .bind(id)
            .fetch_optional(&self.read)
            .await?
            .ok_or(StoreError::NotFound("card"))?;
        Ok(card_from(&row))
    }

    /// Cards, newest first; `open_only` leaves out lifted ones; `target` narrows to one unit or
    /// request.
    pub async fn list_cards(
        &self,
        open_only: bool,
        target: Option<CardTarget>,
    ) -> Result<Vec<Card>, StoreError> {
        let mut sql = format!("{CARD_COLUMNS} WHERE 1 = 1");
        if open_only {
            sql.push_str(" AND lifted_at IS NULL");
        }
        let (kind, id) = match target {
            None => ("", 0),
            Some(CardTarget::Unit(id)) => ("unit", id),
            Some(CardTarget::Request(id)) => ("request", id),
        };
        if target.is_some() {
            sql.push_str(" AND target_kind = $1 AND target_id = $2");
        }
        sql.push_str(" ORDER BY issued_at DESC, id DESC");
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        if target.is_some() {
            query = query.bind(kind).bind(id);
        }
        let rows = query.fetch_all(&self.read).await?;
        Ok(rows.iter().map(card_from).collect())
    }

    /// Per lead unit: open requests, those past a deadline at `now`, and those whose handling
    /// deadline falls before `soon`. Units with no open request are left out; most overdue first.
    pub async fn unit_backlog(
        &self,
        now: DateTime<Utc>,
        soon: DateTime<Utc>,
    ) -> Result<Vec<UnitBacklog>, StoreError> {
        let rows = sqlx::query(
            "SELECT lead_unit_id, COUNT(*), \
               SUM(CASE WHEN COALESCE(handling_due_at, response_due_at) < $1 THEN 1 ELSE 0 END), \
               SUM(CASE WHEN handling_due_at >= $1 AND handling_due_at < $2 THEN 1 ELSE 0 END) \
             FROM requests WHERE lead_unit_id IS NOT NULL \
               AND state IN ('dispatched','handling','paused') \
             GROUP BY lead_unit_id",
        )
        .bind(now.timestamp_millis())
        .bind(soon.timestamp_millis())
        .fetch_all(&self.read)
        .await?;
        let mut out: Vec<UnitBacklog> = rows
            .iter()
            .map(|r| UnitBacklog {
                unit_id: r.get(0),
                open: r.get(1),
                overdue: r.get::<Option<i64>, _>(2).unwrap_or(0),
                due_soon: r.get::<Option<i64>, _>(3).unwrap_or(0),
            })
            .collect();
        out.sort_by(|a, b| {
            b.overdue
                .cmp(&a.overdue)
                .then(b.due_soon.cmp(&a.due_soon))
                .then(a.unit_id.cmp(&b.unit_id))
        });
        Ok(out)
    }
}

const CARD_COLUMNS: &str = "SELECT id, target_kind, target_id, colour, reason, issued_by, \
     issued_at, lifted_by, lifted_at, lift_note FROM cards";

fn card_from(r: &sqlx::any::AnyRow) -> Card {
    Card {
        id: r.get(0),
        target_kind: r.get(1),
        target_id: r.get(2),
        colour: r.get(3),
        reason: r.get(4),
        issued_by: r.get(5),
        issued_at: time(r.get(6)),
        lifted_by: r.get(7),
        lifted_at: r.get::<Option<i64>, _>(8).map(time),
        lift_note: r.get(9),
    }
}
