//! Store errors. A domain refusal passes through unchanged so that callers can map its stable
//! code; database errors are kept for logs but never shown to clients as SQL text.

use minyi_domain::calendar::CalendarError;
use minyi_domain::request::DomainError;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The domain refused the command; nothing was written.
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// The thing asked for does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Input that cannot be stored (bad reference in an import, bad tree, …).
    #[error("{0}")]
    Invalid(String),
    /// The thing is no longer in a state that allows the change (already decided, already
    /// acknowledged).
    #[error("{0}")]
    Conflict(String),
    /// The same Idempotency-Key was used for a different request.
    #[error("this Idempotency-Key was already used for a different request")]
    IdempotencyMismatch,
    /// Stored data that does not decode (a snapshot or payload written by another version).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Calendar(#[from] CalendarError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// A stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Domain(e) => e.code(),
            StoreError::NotFound(_) => "not_found",
            StoreError::Invalid(_) => "invalid",
            StoreError::Conflict(_) => "conflict",
            StoreError::IdempotencyMismatch => "idempotency_key_reused",
            StoreError::Corrupt(_) => "corrupt",
            StoreError::Calendar(_) => "invalid_calendar",
            StoreError::Database(_) | StoreError::Migrate(_) => "storage_error",
        }
    }
}
