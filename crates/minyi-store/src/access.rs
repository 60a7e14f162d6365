//! Who may come in: sign-in sessions (browser cookies and API bearer tokens) and the Open311 API
//! keys administrators hand out. Secrets are random 256-bit values shown once; only their SHA-256
//! hashes are stored, so a copy of the database does not let anyone sign in.

use crate::{Store, StoreError};
use chrono::{DateTime, Duration, Utc};
use minyi_domain::unit::Role;
use minyi_domain::{UnitId, UserId};
use sha2::{Digest, Sha256};
use sqlx::Row;

/// What kind of session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// A browser session carried by an HttpOnly cookie; unsafe methods need the CSRF token.
    Cookie,
    /// An API client's bearer token.
    Bearer,
}

impl SessionKind {
    fn as_str(self) -> &'static str {
        match self {
            SessionKind::Cookie => "cookie",
            SessionKind::Bearer => "bearer",
        }
    }
}

/// A signed-in staff member, as a session resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user: UserId,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub unit: Option<UnitId>,
    /// The session's CSRF token (cookie sessions check it on unsafe methods).
    pub csrf_token: String,
    pub kind_is_cookie: bool,
}

/// A new session: the secret token (give it to the client once) and its CSRF token.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token: String,
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

fn secret() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// The stored form of a secret.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

impl Store {
    /// Opens a session for a user who has just proved their password.
    pub async fn create_session(
        &self,
        user: UserId,
        kind: SessionKind,
        ttl: Duration,
        now: DateTime<Utc>,
    ) -> Result<NewSession, StoreError> {
        let session = NewSession {
            token: secret(),
            csrf_token: secret(),
            expires_at: now + ttl,
        };
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, kind, csrf_token, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(hash_secret(&session.token))
        .bind(user.0)
        .bind(kind.as_str())
        .bind(session.csrf_token.as_str())
        .bind(now.timestamp_millis())
        .bind(session.expires_at.timestamp_millis())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(session)
    }

    /// The principal behind a session token, if the session exists, has not expired and its
    /// account is active.
    pub async fn session_principal(
        &self,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Principal>, StoreError> {
        let row = sqlx::query(
            "SELECT u.id, u.username, u.display_name, u.role, u.unit_id, s.csrf_token, s.kind \
             FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.active = 1",
        )
        .bind(hash_secret(token))
        .bind(now.timestamp_millis())
        .fetch_optional(&self.read)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let role: String = row.get(3);
        let kind: String = row.get(6);
        Ok(Some(Principal {
            user: UserId(row.get(0)),
            username: row.get(1),
            display_name: row.get(2),
            role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role {role}")))?,
            unit: row.get::<Option<i64>, _>(4).map(UnitId),
            csrf_token: row.get(5),
            kind_is_cookie: kind == "cookie",
        }))
    }

    /// Ends a session (sign out).
    pub async fn delete_session(&self, token: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(hash_secret(token))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Issues an Open311 API key; the key is returned once and stored hashed.
    pub async fn create_api_key(
        &self,
        label: &str,
        now: DateTime<Utc>,
    ) -> Result<String, StoreError> {
        let key = secret();
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO api_keys (key_hash, label, created_at) VALUES ($1, $2, $3)")
            .bind(hash_secret(&key))
            .bind(label)
            .bind(now.timestamp_millis())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(key)
    }

    /// Whether an API key is valid (issued and not revoked).
    pub async fn api_key_valid(&self, key: &str) -> Result<bool, StoreError> {
        Ok(
            sqlx::query("SELECT 1 FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL")
                .bind(hash_secret(key))
                .fetch_optional(&self.read)
                .await?
                .is_some(),
        )
    }
}

/// When repeated failed sign-ins lock a username (账号锁定): `max_failures` failures within
/// `window` lock it for `lock`. Counted in the database, so every node sees the same count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    pub max_failures: u32,
    pub window: Duration,
    pub lock: Duration,
}

impl Default for LockoutPolicy {
    /// Five failures within 15 minutes lock the username for 15 minutes.
    fn default() -> Self {
        LockoutPolicy {
            max_failures: 5,
            window: Duration::minutes(15),
            lock: Duration::minutes(15),
        }
    }
}

/// Longest username whose failures are counted: longer ones cannot be accounts (usernames have
/// at most 64 characters), and counting them would let anyone fill the table with long keys.
const MAX_COUNTED_USERNAME: usize = 64;

fn from_millis(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

impl Store {
    /// Until when sign-ins to `username` are refused, if they are at `now`.
    pub async fn login_locked_until(
        &self,
        username: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let row = sqlx::query("SELECT locked_until FROM login_failures WHERE username = $1")
            .bind(username)
            .fetch_optional(&self.read)
            .await?;
        Ok(row
            .and_then(|r| r.get::<Option<i64>, _>(0))
            .filter(|&until| until > now.timestamp_millis())
            .map(from_millis))
    }

    /// Counts a failed sign-in to `username` at `now`. Returns the end of the lock when this
    /// failure reaches the policy's limit (the count then starts again from zero). Failures
    /// older than the window no longer count. One upsert, so concurrent failures on several
    /// nodes are all counted.
    pub async fn record_login_failure(
        &self,
        username: &str,
        policy: LockoutPolicy,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        if username.chars().count() > MAX_COUNTED_USERNAME {
            return Ok(None);
        }
        let now_ms = now.timestamp_millis();
        let stale = (now - policy.window).timestamp_millis();
        let mut tx = self.begin_write().await?;
        // Rows whose window and lock have both run out carry no information.
        sqlx::query(
            "DELETE FROM login_failures WHERE window_started_at <= $1 \
             AND (locked_until IS NULL OR locked_until <= $2)",
        )
        .bind(stale)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        let failures: i64 = sqlx::query(
            "INSERT INTO login_failures (username, failures, window_started_at, locked_until) \
             VALUES ($1, 1, $2, NULL) \
             ON CONFLICT (username) DO UPDATE SET \
             failures = CASE WHEN login_failures.window_started_at <= $3 THEN 1 \
                        ELSE login_failures.failures + 1 END, \
             window_started_at = CASE WHEN login_failures.window_started_at <= $4 THEN $5 \
                        ELSE login_failures.window_started_at END \
             RETURNING failures",
        )
        .bind(username)
        .bind(now_ms)
        .bind(stale)
        .bind(stale)
        .bind(now_ms)
        .fetch_one(&mut *tx)
        .await?
        .get(0);
        let locked = if failures >= i64::from(policy.max_failures.max(1)) {
            let until = now + policy.lock;
            sqlx::query(
                "UPDATE login_failures SET failures = 0, window_started_at = $2, \
                 locked_until = $3 WHERE username = $1",
            )
            .bind(username)
            .bind(now_ms)
            .bind(until.timestamp_millis())
            .execute(&mut *tx)
            .await?;
            Some(until)
        } else {
            None
        };
        tx.commit().await?;
        Ok(locked)
    }

    /// Forgets the failed sign-ins of `username` (after a successful one).
    pub async fn clear_login_failures(&self, username: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM login_failures WHERE username = $1")
            .bind(username)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
