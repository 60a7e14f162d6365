//! Reference data: divisions, units, staff accounts, the matter catalogue, the responsibility
//! list, the calendar and settings. Imports work on rows that name each other by code (the form
//! of the CSV files), resolve the codes to ids and check the resulting trees before committing.

use crate::{StorageKind, Store, StoreError};
use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use minyi_domain::calendar::{DayKind, DayOverride, Span, WorkCalendar, WorkingHours};
use minyi_domain::catalog::{Catalog, Deadlines, Matter, MatterPolicy, Urgency};
use minyi_domain::division::{Division, DivisionKind, DivisionLevel, DivisionTree};
use minyi_domain::responsibility::{ResponsibilityList, Rule};
use minyi_domain::unit::{Role, Unit, UnitKind};
use minyi_domain::{DivisionId, MatterId, RuleId, UnitId, UserId};
use rustc_hash::FxHashMap;
use sqlx::Row;
use std::io::{Read, Write};

/// A value bound into a bulk statement.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    Int(i64),
    OptInt(Option<i64>),
    Text(String),
    OptText(Option<String>),
}

/// A query on either backend, as built by `sqlx::query`.
pub(crate) type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

impl Val {
    /// Binds this value as the query's next parameter.
    pub(crate) fn bind_to(self, query: AnyQuery<'_>) -> AnyQuery<'_> {
        match self {
            Val::Int(i) => query.bind(i),
            Val::OptInt(i) => query.bind(i),
            Val::Text(s) => query.bind(s),
            Val::OptText(s) => query.bind(s),
        }
    }
}

/// Inserts rows in multi-row statements, chunked under the parameter limits of both backends.
pub(crate) async fn bulk_insert(
    kind: StorageKind,
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    table: &str,
    columns: &[&str],
    rows: &[Vec<Val>],
) -> Result<(), StoreError> {
    let mut batch = Batch::new(kind);
    batch.insert(table, columns, rows);
    batch.run(tx).await
}

/// Write statements sent together. On SQLite they go as one multi-statement query: one round
/// trip to the connection's worker thread instead of one per statement, which is what a
/// statement costs beside its work when the runtime is busy (each round trip waits for a
/// thread hand-off and for the task to be polled again). PostgreSQL's protocol prepares one
/// statement at a time, so there they run one after the other.
///
/// Every statement takes anonymous parameters (`?` on SQLite), bound in order: sqlx binds the
/// statements of a multi-statement query from the list in turn. The chunks of an INSERT too
/// large for one statement (a bulk load) run one by one: their text repeats from chunk to
/// chunk, so SQLite keeps them prepared, where one query of all of them would be a new text to
/// parse every time (this made the demo's history 30% slower to load).
pub(crate) struct Batch {
    kind: StorageKind,
    /// Each statement, its values, and whether it runs on its own.
    statements: Vec<(String, Vec<Val>, bool)>,
}

impl Batch {
    /// The most parameters in one statement (both backends allow more: SQLite 32,766,
    /// PostgreSQL 65,535).
    const MAX_PARAMETERS: usize = 30_000;

    pub(crate) fn new(kind: StorageKind) -> Self {
        Batch {
            kind,
            statements: Vec::new(),
        }
    }

    /// Adds multi-row INSERTs of `rows`, with `suffix` after each (an `ON CONFLICT` clause).
    pub(crate) fn insert_with(
        &mut self,
        table: &str,
        columns: &[&str],
        rows: &[Vec<Val>],
        suffix: &str,
    ) {
        let per_row = columns.len().max(1);
        let rows_per_chunk = (Self::MAX_PARAMETERS / per_row).max(1);
        let alone = rows.len() > rows_per_chunk;
        for chunk in rows.chunks(rows_per_chunk) {
            let mut sql = format!("INSERT INTO {table} ({}) VALUES ", columns.join(","));
            let mut n = 0;
            for (i, _) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push(',');
                }
                sql.push('(');
                for c in 0..per_row {
                    if c > 0 {
                        sql.push(',');
                    }
                    n += 1;
                    // SQLite looks numbered and named parameters (`$n`, `?n`) up in a list
                    // while parsing, which makes a statement with thousands of them quadratic;
                    // anonymous `?` are numbered in order at no cost.
                    match self.kind {
                        StorageKind::Sqlite => sql.push('?'),
                        StorageKind::Postgres => sql.push_str(&format!("${n}")),
                    }
                }
                sql.push(')');
            }
            sql.push_str(suffix);
            self.statements
                .push((sql, chunk.iter().flatten().cloned().collect(), alone));
        }
    }

    /// Adds multi-row INSERTs of `rows`.
    pub(crate) fn insert(&mut self, table: &str, columns: &[&str], rows: &[Vec<Val>]) {
        self.insert_with(table, columns, rows, "");
    }

    /// Runs the statements in the caller's transaction, in the order they were added.
    pub(crate) async fn run(
        self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    ) -> Result<(), StoreError> {
        let together = self.kind == StorageKind::Sqlite;
        // Statements to send as one query, gathered until one must run alone.
        let mut sql = String::new();
        let mut values = Vec::new();
        for (statement, v, alone) in self.statements {
            if together && !alone {
                sql.push_str(&statement);
                sql.push_str(";\n");
                values.extend(v);
                continue;
            }
            execute(tx, std::mem::take(&mut sql), std::mem::take(&mut values)).await?;
            execute(tx, statement, v).await?;
        }
        execute(tx, sql, values).await
    }
}

/// Runs one query (one statement or several) with its values; nothing when it is empty.
async fn execute(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    sql: String,
    values: Vec<Val>,
) -> Result<(), StoreError> {
    if sql.is_empty() {
        return Ok(());
    }
    values
        .into_iter()
        .fold(sqlx::query(sqlx::AssertSqlSafe(sql)), |q, v| v.bind_to(q))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// A division as imported: parent by code.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct DivisionRow {
    pub code: String,
    pub name: String,
    pub level: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub parent_code: String,
}

/// A unit as imported: division by code.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct UnitRow {
    pub code: String,
    pub name: String,
    pub kind: String,
    pub division_code: String,
}

/// A matter as imported: parent by code; policy columns may be empty on inner nodes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct MatterRow {
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub parent_code: String,
    #[serde(default)]
    pub urgency: String,
    /// A span such as `1wd`, `4wh`, `2h`.
    #[serde(default)]
    pub response: String,
    #[serde(default)]
    pub handling: String,
    /// `1`/`0` or `true`/`false`; empty inherits.
    #[serde(default)]
    pub consultation: String,
}

/// A responsibility rule as imported: everything by code; co-units separated by `;`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct RuleRow {
    pub matter_code: String,
    pub division_code: String,
    pub lead_unit_code: String,
    #[serde(default)]
    pub co_unit_codes: String,
    #[serde(default)]
    pub legal_basis: String,
    #[serde(default)]
    pub response: String,
    #[serde(default)]
    pub handling: String,
}

/// A staff account to create.
#[derive(Debug, Clone)]
pub struct UserAccount {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub unit_code: Option<String>,
    pub password: String,
}

/// Reads rows of any of the import kinds from CSV with a header; errors name the line.
pub fn read_csv<T: serde::de::DeserializeOwned>(input: impl Read) -> Result<Vec<T>, StoreError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(input);
    let mut rows = Vec::new();
    for (i, record) in reader.deserialize().enumerate() {
        let row = record.map_err(|e| StoreError::Invalid(format!("CSV line {}: {e}", i + 2)))?;
        rows.push(row);
    }
    Ok(rows)
}

/// Writes rows as CSV with a header.
pub fn write_csv<T: serde::Serialize>(rows: &[T], output: impl Write) -> Result<(), StoreError> {
    let mut writer = csv::Writer::from_writer(output);
    for row in rows {
        writer
            .serialize(row)
            .map_err(|e| StoreError::Invalid(format!("CSV: {e}")))?;
    }
    writer
        .flush()
        .map_err(|e| StoreError::Invalid(format!("CSV: {e}")))?;
    Ok(())
}

fn parse_span(field: &str, code: &str, s: &str) -> Result<Option<Span>, StoreError> {
    if s.trim().is_empty() {
        return Ok(None);
    }
    Span::parse(s.trim())
        .map(Some)
        .map_err(|e| StoreError::Invalid(format!("{code}: bad {field} span {s:?}: {e}")))
}

fn deadlines_from(
    code: &str,
    response: &str,
    handling: &str,
) -> Result<Option<Deadlines>, StoreError> {
    match (
        parse_span("response", code, response)?,
        parse_span("handling", code, handling)?,
    ) {
        (Some(response), Some(handling)) => Ok(Some(Deadlines { response, handling })),
        (None, None) => Ok(None),
        _ => Err(StoreError::Invalid(format!(
            "{code}: give both response and handling spans, or neither"
        ))),
    }
}

/// A hash of a fixed password, computed once, to verify against for unknown usernames.
fn dummy_hash() -> Option<&'static PasswordHash> {
    static DUMMY: std::sync::OnceLock<Option<PasswordHash>> = std::sync::OnceLock::new();
    DUMMY
        .get_or_init(|| {
            Argon2::default()
                .hash_password(b"minyi-timing-equaliser")
                .ok()
        })
        .as_ref()
}

fn opt_span(span: Option<&str>) -> Option<Span> {
    span.and_then(|s| Span::parse(s).ok())
}

impl Store {
    /// A setting's value.
    pub async fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT value FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.read)
            .await?;
        Ok(row.map(|r| r.get::<String, _>(0)))
    }

    /// Sets a setting.
    pub async fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&mut *tx)
        .await?;
        crate::cluster::bump_reference_version(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    // ---- divisions ----

    /// Inserts or updates divisions by code. Rows may come in any order; the resulting tree is
    /// checked (levels, parents, one city) before anything is committed. Returns the row count.
    pub async fn import_divisions(&self, rows: &[DivisionRow]) -> Result<usize, StoreError> {
        let mut sorted: Vec<(DivisionLevel, DivisionKind, &DivisionRow)> =
            Vec::with_capacity(rows.len());
        for row in rows {
            let level = DivisionLevel::parse(row.level.trim()).ok_or_else(|| {
                StoreError::Invalid(format!(
                    "division {}: unknown level {:?}",
                    row.code, row.level
                ))
            })?;
            let kind = DivisionKind::parse(row.kind.trim()).ok_or_else(|| {
                StoreError::Invalid(format!(
                    "division {}: unknown kind {:?}",
                    row.code, row.kind
                ))
            })?;
            if row.code.trim().is_empty() || row.name.trim().is_empty() {
                return Err(StoreError::Invalid(
                    "division with empty code or name".into(),
                ));
            }
            sorted.push((level, kind, row));
        }
        sorted.sort_by_key(|(level, _, _)| *level);
        let mut tx = self.begin_write().await?;
        let before: FxHashMap<i64, (Option<i64>, String)> =
            sqlx::query("SELECT id, parent_id, level FROM divisions")
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .map(|r| (r.get::<i64, _>(0), (r.get(1), r.get(2))))
                .collect();
        let mut ids: FxHashMap<String, i64> = sqlx::query("SELECT code, id FROM divisions")
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .map(|r| (r.get::<String, _>(0), r.get::<i64, _>(1)))
            .collect();
        for (level, kind, row) in &sorted {
            let parent = match row.parent_code.trim() {
                "" => None,
                code => Some(*ids.get(code).ok_or_else(|| {
                    StoreError::Invalid(format!("division {}: unknown parent {code}", row.code))
                })?),
            };
            let id: i64 = sqlx::query(
                "INSERT INTO divisions (code, name, level, kind, parent_id) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (code) DO UPDATE SET name = excluded.name, level = excluded.level, \
                 kind = excluded.kind, parent_id = excluded.parent_id RETURNING id",
            )
            .bind(row.code.trim())
            .bind(row.name.trim())
            .bind(level.as_str())
            .bind(kind.as_str())
            .bind(parent)
            .fetch_one(&mut *tx)
            .await?
            .get(0);
            ids.insert(row.code.trim().to_string(), id);
        }
        let all = Self::fetch_divisions(&mut *tx).await?;
        // A division that moved (or changed level) takes its requests' KPI roll-ups per level
        // with it, in this transaction.
        let moved = all.iter().any(|d| {
            before.get(&d.id.0).is_some_and(|(parent, level)| {
                *parent != d.parent.map(|p| p.0) || level != d.level.as_str()
            })
        });
        DivisionTree::new(all).map_err(|e| StoreError::Invalid(format!("division tree: {e}")))?;
        if moved {
            crate::kpi::rederive_division_levels(self.kind, &mut tx).await?;
        }
        crate::cluster::bump_reference_version(&mut tx).await?;
        tx.commit().await?;
        Ok(rows.len())
    }

    async fn fetch_divisions<'c, E: sqlx::Executor<'c, Database = sqlx::Any>>(
        executor: E,
    ) -> Result<Vec<Division>, StoreError> {
        let rows =
            sqlx::query("SELECT id, code, name, level, kind, parent_id FROM divisions ORDER BY id")
                .fetch_all(executor)
                .await?;
        rows.into_iter()
            .map(|r| {
                let level: String = r.get(3);
                let kind: String = r.get(4);
                Ok(Division {
                    id: DivisionId(r.get(0)),
                    code: r.get(1),
                    name: r.get(2),
                    level: DivisionLevel::parse(&level)
                        .ok_or_else(|| StoreError::Corrupt(format!("division level {level}")))?,
                    kind: DivisionKind::parse(&kind)
                        .ok_or_else(|| StoreError::Corrupt(format!("division kind {kind}")))?,
                    parent: r.get::<Option<i64>, _>(5).map(DivisionId),
                })
            })
            .collect()
    }

    /// The division tree.
    pub async fn load_divisions(&self) -> Result<DivisionTree, StoreError> {
        let all = Self::fetch_divisions(&self.read).await?;
        DivisionTree::new(all).map_err(|e| StoreError::Corrupt(format!("division tree: {e}")))
    }

    /// All divisions as import rows (for export).
    pub async fn export_divisions(&self) -> Result<Vec<DivisionRow>, StoreError> {
        let tree = self.load_divisions().await?;
        Ok(tree
            .iter()
            .map(|d| DivisionRow {
                code: d.code.clone(),
                name: d.name.clone(),
                level: d.level.as_str().into(),
                kind: d.kind.as_str().into(),
                parent_code: d
                    .parent
                    .and_then(|p| tree.get(p))
                    .map(|p| p.code.clone())
                    .unwrap_or_default(),
            })
            .collect())
    }

    // ---- units and users ----

    /// Inserts or updates units by code.
    pub async fn import_units(&self, rows: &[UnitRow]) -> Result<usize, StoreError> {
        let mut tx = self.begin_write().await?;
        let divisions: FxHashMap<String, i64> = sqlx::query("SELECT code, id FROM divisions")
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .map(|r| (r.get::<String, _>(0), r.get::<i64, _>(1)))
            .collect();
        for row in rows {
            let kind = UnitKind::parse(row.kind.trim()).ok_or_else(|| {
                StoreError::Invalid(format!("unit {}: unknown kind {:?}", row.code, row.kind))
            })?;
            let division = divisions.get(row.division_code.trim()).ok_or_else(|| {
                StoreError::Invalid(format!(
                    "unit {}: unknown division {}",
                    row.code, row.division_code
                ))
            })?;
            if row.code.trim().is_empty() || row.name.trim().is_empty() {
                return Err(StoreError::Invalid("unit with empty code or name".into()));
            }
            sqlx::query(
                "INSERT INTO units (code, name, kind, division_id) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (code) DO UPDATE SET name = excluded.name, kind = excluded.kind, \
                 division_id = excluded.division_id",
            )
            .bind(row.code.trim())
            .bind(row.name.trim())
            .bind(kind.as_str())
            .bind(*division)
            .execute(&mut *tx)
            .await?;
        }
        crate::cluster::bump_reference_version(&mut tx).await?;
        tx.commit().await?;
        Ok(rows.len())
    }

    /// Every unit.
    pub async fn load_units(&self) -> Result<Vec<Unit>, StoreError> {
        let rows = sqlx::query("SELECT id, code, name, kind, division_id FROM units ORDER BY id")
            .fetch_all(&self.read)
            .await?;
        rows.into_iter()
            .map(|r| {
                let kind: String = r.get(3);
                Ok(Unit {
                    id: UnitId(r.get(0)),
                    code: r.get(1),
                    name: r.get(2),
                    kind: UnitKind::parse(&kind)
                        .ok_or_else(|| StoreError::Corrupt(format!("unit kind {kind}")))?,
                    division: DivisionId(r.get(4)),
                })
            })
            .collect()
    }

    /// All units as import rows (for export).
    pub async fn export_units(&self) -> Result<Vec<UnitRow>, StoreError> {
        let tree = self.load_divisions().await?;
        Ok(self
            .load_units()
            .await?
            .into_iter()
            .map(|u| UnitRow {
                code: u.code,
                name: u.name,
                kind: u.kind.as_str().into(),
                division_code: tree
                    .get(u.division)
                    .map(|d| d.code.clone())
                    .unwrap_or_default(),
            })
            .collect())
    }

    /// Creates a staff account with an Argon2id password hash.
    pub async fn create_user(
        &self,
        account: &UserAccount,
        now_ms: i64,
    ) -> Result<UserId, StoreError> {
        if account.role.is_unit_role() && account.unit_code.is_none() {
            return Err(StoreError::Invalid(format!(
                "user {}: role {} needs a unit",
                account.username,
                account.role.as_str()
            )));
        }
        let hash = Argon2::default()
            .hash_password(account.password.as_bytes())
            .map_err(|e| StoreError::Invalid(format!("password hash: {e}")))?
            .to_string();
        let mut tx = self.begin_write().await?;
        let unit: Option<i64> = match &account.unit_code {
            None => None,
            Some(code) => Some(
                sqlx::query("SELECT id FROM units WHERE code = $1")
                    .bind(code.as_str())
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or_else(|| StoreError::Invalid(format!("unknown unit {code}")))?
                    .get(0),
            ),
        };
        let id: i64 = sqlx::query(
            "INSERT INTO users (username, display_name, role, unit_id, password_hash, active, created_at) \
             VALUES ($1, $2, $3, $4, $5, 1, $6) RETURNING id",
        )
        .bind(account.username.as_str())
        .bind(account.display_name.as_str())
        .bind(account.role.as_str())
        .bind(unit)
        .bind(hash)
        .bind(now_ms)
        .fetch_one(&mut *tx)
        .await?
        .get(0);
        tx.commit().await?;
        Ok(UserId(id))
    }

    /// Checks a password; returns the account's id, role and unit when it matches.
    pub async fn verify_password(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<(UserId, Role, Option<UnitId>)>, StoreError> {
        let Some(row) = sqlx::query(
            "SELECT id, role, unit_id, password_hash FROM users WHERE username = $1 AND active = 1",
        )
        .bind(username)
        .fetch_optional(&self.read)
        .await?
        else {
            // Verify against a fixed hash: the same work as for a real account, so that the
            // answer's timing does not tell which usernames exist.
            if let Some(dummy) = dummy_hash() {
                let _ = Argon2::default().verify_password(password.as_bytes(), dummy);
            }
            return Ok(None);
        };
        let hash: String = row.get(3);
        let parsed =
            PasswordHash::new(&hash).map_err(|e| StoreError::Corrupt(format!("hash: {e}")))?;
        if Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_err()
        {
            return Ok(None);
        }
        let role: String = row.get(1);
        let role = Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role {role}")))?;
        Ok(Some((
            UserId(row.get(0)),
            role,
            row.get::<Option<i64>, _>(2).map(UnitId),
        )))
    }

    // ---- the matter catalogue ----

    /// Inserts or updates matters by code; the resulting catalogue is checked (every leaf has a
    /// policy, levels follow parents) before committing.
    pub async fn import_matters(&self, rows: &[MatterRow]) -> Result<usize, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut known: FxHashMap<String, (i64, i64)> =
            sqlx::query("SELECT code, id, level FROM matters")
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .map(|r| {
                    (
                        r.get::<String, _>(0),
                        (r.get::<i64, _>(1), r.get::<i64, _>(2)),
                    )
                })
                .collect();
        // Parents first: repeat passes until every row whose parent is known is placed.
        let mut pending: Vec<&MatterRow> = rows.iter().collect();
        while !pending.is_empty() {
            let before = pending.len();
            let mut rest = Vec::new();
            for row in pending {
                let parent = match row.parent_code.trim() {
                    "" => None,
                    code => match known.get(code) {
                        Some(p) => Some(*p),
                        None => {
                            rest.push(row);
                            continue;
                        }
                    },
                };
                let level = parent.map(|(_, l)| l + 1).unwrap_or(1);
                let urgency = match row.urgency.trim() {
                    "" => None,
                    u => Some(Urgency::parse(u).ok_or_else(|| {
                        StoreError::Invalid(format!("matter {}: unknown urgency {u:?}", row.code))
                    })?),
                };
                let deadlines = deadlines_from(&row.code, &row.response, &row.handling)?;
                let consultation = match row.consultation.trim() {
                    "" => None,
                    "1" | "true" | "yes" => Some(1i64),
                    "0" | "false" | "no" => Some(0i64),
                    other => {
                        return Err(StoreError::Invalid(format!(
                            "matter {}: consultation must be 0 or 1, not {other:?}",
                            row.code
                        )));
                    }
                };
                if row.code.trim().is_empty() || row.name.trim().is_empty() {
                    return Err(StoreError::Invalid("matter with empty code or name".into()));
                }
                let id: i64 = sqlx::query(
                    "INSERT INTO matters (code, name, parent_id, level, urgency, response_span, handling_span, consultation) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                     ON CONFLICT (code) DO UPDATE SET name = excluded.name, parent_id = excluded.parent_id, \
                     level = excluded.level, urgency = excluded.urgency, response_span = excluded.response_span, \
                     handling_span = excluded.handling_span, consultation = excluded.consultation RETURNING id",
                )
                .bind(row.code.trim())
                .bind(row.name.trim())
                .bind(parent.map(|(id, _)| id))
                .bind(level)
                .bind(urgency.map(|u| u.as_str()))
                .bind(deadlines.map(|d| d.response.to_string()))
                .bind(deadlines.map(|d| d.handling.to_string()))
                .bind(consultation)
                .fetch_one(&mut *tx)
                .await?
                .get(0);
                known.insert(row.code.trim().to_string(), (id, level));
            }
            if rest.len() == before {
                return Err(StoreError::Invalid(format!(
                    "matter {}: unknown parent {}",
                    rest[0].code, rest[0].parent_code
                )));
            }
            pending = rest;
        }
        let all = Self::fetch_matters(&mut *tx).await?;
        Catalog::new(all).map_err(|e| StoreError::Invalid(format!("catalogue: {e}")))?;
        crate::cluster::bump_reference_version(&mut tx).await?;
        tx.commit().await?;
        Ok(rows.len())
    }

    async fn fetch_matters<'c, E: sqlx::Executor<'c, Database = sqlx::Any>>(
        executor: E,
    ) -> Result<Vec<Matter>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, code, name, parent_id, level, urgency, response_span, handling_span, consultation \
             FROM matters ORDER BY id",
        )
        .fetch_all(executor)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let urgency: Option<String> = r.get(5);
                let response: Option<String> = r.get(6);
                let handling: Option<String> = r.get(7);
                let consultation: Option<i64> = r.get(8);
                let urgency = urgency.as_deref().and_then(Urgency::parse);
                let explicit = match (opt_span(response.as_deref()), opt_span(handling.as_deref()))
                {
                    (Some(response), Some(handling)) => Some(Deadlines { response, handling }),
                    _ => None,
                };
                // A node carries a policy when it says anything about one; what it leaves out
                // takes the defaults for its urgency.
                let policy = (urgency.is_some() || explicit.is_some() || consultation.is_some())
                    .then(|| {
                        let urgency = urgency.unwrap_or(Urgency::Ordinary);
                        let consultation = consultation == Some(1);
                        MatterPolicy {
                            urgency,
                            deadlines: explicit
                                .unwrap_or(Deadlines::default_for(urgency, consultation)),
                            consultation,
                        }
                    });
                Matter {
                    id: MatterId(r.get(0)),
                    code: r.get(1),
                    name: r.get(2),
                    parent: r.get::<Option<i64>, _>(3).map(MatterId),
                    level: u8::try_from(r.get::<i64, _>(4)).unwrap_or(u8::MAX),
                    policy,
                }
            })
            .collect())
    }

    /// The matter catalogue.
    pub async fn load_catalog(&self) -> Result<Catalog, StoreError> {
        let all = Self::fetch_matters(&self.read).await?;
        Catalog::new(all).map_err(|e| StoreError::Corrupt(format!("catalogue: {e}")))
    }

    /// The catalogue as import rows (for export).
    pub async fn export_matters(&self) -> Result<Vec<MatterRow>, StoreError> {
        let catalog = self.load_catalog().await?;
        Ok(catalog
            .iter()
            .map(|m| MatterRow {
                code: m.code.clone(),
                name: m.name.clone(),
                parent_code: m
                    .parent
                    .and_then(|p| catalog.get(p))
                    .map(|p| p.code.clone())
                    .unwrap_or_default(),
                urgency: m
                    .policy
                    .map(|p| p.urgency.as_str().to_string())
                    .unwrap_or_default(),
                response: m
                    .policy
                    .map(|p| p.deadlines.response.to_string())
                    .unwrap_or_default(),
                handling: m
                    .policy
                    .map(|p| p.deadlines.handling.to_string())
                    .unwrap_or_default(),
                consultation: m
                    .policy
                    .map(|p| if p.consultation { "1" } else { "0" }.to_string())
                    .unwrap_or_default(),
            })
            .collect())
    }

    // ---- the responsibility list ----

    /// Replaces the whole responsibility list with these rows (the CSV is the list). Every code
    /// must exist; nothing changes if one does not.
    pub async fn replace_rules(&self, rows: &[RuleRow]) -> Result<usize, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut codes = Vec::with_capacity(3);
        for sql in [
            "SELECT code, id FROM matters",
            "SELECT code, id FROM divisions",
            "SELECT code, id FROM units",
        ] {
            let map: FxHashMap<String, i64> = sqlx::query(sql)
                .fetch_all(&mut *tx)
                .await?
                .into_iter()
                .map(|r| (r.get::<String, _>(0), r.get::<i64, _>(1)))
                .collect();
            codes.push(map);
        }
        let (matters, divisions, units) = (&codes[0], &codes[1], &codes[2]);
        let lookup = |map: &FxHashMap<String, i64>, what: &str, code: &str, line: usize| {
            map.get(code.trim()).copied().ok_or_else(|| {
                StoreError::Invalid(format!("rule {line}: unknown {what} {:?}", code.trim()))
            })
        };
        let mut values = Vec::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            let line = i + 1;
            let matter = lookup(matters, "matter", &row.matter_code, line)?;
            let division = lookup(divisions, "division", &row.division_code, line)?;
            let lead = lookup(units, "unit", &row.lead_unit_code, line)?;
            let mut co = Vec::new();
            for code in row
                .co_unit_codes
                .split(';')
                .filter(|c| !c.trim().is_empty())
            {
                co.push(lookup(units, "unit", code, line)?.to_string());
            }
            let deadlines = deadlines_from(&format!("rule {line}"), &row.response, &row.handling)?;
            values.push(vec![
                Val::Int(matter),
                Val::Int(division),
                Val::Int(lead),
                Val::Text(co.join(";")),
                Val::Text(row.legal_basis.trim().to_string()),
                Val::OptText(deadlines.map(|d| d.response.to_string())),
                Val::OptText(deadlines.map(|d| d.handling.to_string())),
            ]);
        }
        sqlx::query("DELETE FROM responsibility_rules")
            .execute(&mut *tx)
            .await?;
        bulk_insert(
            self.kind,
            &mut tx,
            "responsibility_rules",
            &[
                "matter_id",
                "division_id",
                "lead_unit_id",
                "co_unit_ids",
                "legal_basis",
                "response_span",
                "handling_span",
            ],
            &values,
        )
        .await?;
        crate::cluster::bump_reference_version(&mut tx).await?;
        tx.commit().await?;
        Ok(rows.len())
    }

    /// Every rule.
    pub async fn load_rules(&self) -> Result<Vec<Rule>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, matter_id, division_id, lead_unit_id, co_unit_ids, legal_basis, response_span, handling_span \
             FROM responsibility_rules ORDER BY id",
        )
        .fetch_all(&self.read)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let co: String = r.get(4);
                let response: Option<String> = r.get(6);
                let handling: Option<String> = r.get(7);
                Rule {
                    id: RuleId(r.get(0)),
                    matter: MatterId(r.get(1)),
                    division: DivisionId(r.get(2)),
                    lead: UnitId(r.get(3)),
                    co_units: co
                        .split(';')
                        .filter_map(|c| c.parse::<i64>().ok())
                        .map(UnitId)
                        .collect(),
                    legal_basis: r.get(5),
                    deadlines: match (opt_span(response.as_deref()), opt_span(handling.as_deref()))
                    {
                        (Some(response), Some(handling)) => Some(Deadlines { response, handling }),
                        _ => None,
                    },
                }
            })
            .collect())
    }

    /// Deletes one rule (an administrator's edit).
    pub async fn delete_rule(&self, id: RuleId) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let n = sqlx::query("DELETE FROM responsibility_rules WHERE id = $1")
            .bind(id.0)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        crate::cluster::bump_reference_version(&mut tx).await?;
        tx.commit().await?;
        if n == 0 {
            return Err(StoreError::NotFound("rule"));
        }
        Ok(())
    }

    /// Names the fallback unit (兜底单位) by code.
    pub async fn set_fallback_unit(&self, code: &str) -> Result<(), StoreError> {
        let exists = sqlx::query("SELECT id FROM units WHERE code = $1")
            .bind(code)
            .fetch_optional(&self.read)
            .await?;
        if exists.is_none() {
            return Err(StoreError::Invalid(format!("unknown unit {code}")));
        }
        self.set_setting("fallback_unit", code).await
    }

    /// The responsibility list with its fallback unit.
    pub async fn load_responsibility_list(&self) -> Result<ResponsibilityList, StoreError> {
        let code = self
            .setting("fallback_unit")
            .await?
            .ok_or_else(|| StoreError::Invalid("no fallback unit is set".into()))?;
        let fallback: i64 = sqlx::query("SELECT id FROM units WHERE code = $1")
            .bind(code.as_str())
            .fetch_optional(&self.read)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("fallback unit {code} is missing")))?
            .get(0);
        Ok(ResponsibilityList::new(
            self.load_rules().await?,
            UnitId(fallback),
        ))
    }

    /// The list as import rows (for export), in id order.
    pub async fn export_rules(&self) -> Result<Vec<RuleRow>, StoreError> {
        let catalog = self.load_catalog().await?;
        let tree = self.load_divisions().await?;
        let units: FxHashMap<UnitId, String> = self
            .load_units()
            .await?
            .into_iter()
            .map(|u| (u.id, u.code))
            .collect();
        let unit_code = |id: &UnitId| units.get(id).cloned().unwrap_or_default();
        Ok(self
            .load_rules()
            .await?
            .into_iter()
            .map(|r| RuleRow {
                matter_code: catalog
                    .get(r.matter)
                    .map(|m| m.code.clone())
                    .unwrap_or_default(),
                division_code: tree
                    .get(r.division)
                    .map(|d| d.code.clone())
                    .unwrap_or_default(),
                lead_unit_code: unit_code(&r.lead),
                co_unit_codes: r
                    .co_units
                    .iter()
                    .map(unit_code)
                    .collect::<Vec<_>>()
                    .join(";"),
                legal_basis: r.legal_basis,
                response: r
                    .deadlines
                    .map(|d| d.response.to_string())
                    .unwrap_or_default(),
                handling: r
                    .deadlines
                    .map(|d| d.handling.to_string())
                    .unwrap_or_default(),
            })
            .collect())
    }

    // ---- the calendar ----

    /// Replaces the calendar's overrides (holidays and make-up days) and its working hours.
    pub async fn replace_calendar(
        &self,
        overrides: &[DayOverride],
        hours: &WorkingHours,
    ) -> Result<(), StoreError> {
        // Validate first: duplicate dates and bad hours are refused before anything is written.
        WorkCalendar::new(overrides.to_vec(), hours.clone())?;
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM calendar_days")
            .execute(&mut *tx)
            .await?;
        let rows: Vec<Vec<Val>> = overrides
            .iter()
            .map(|o| {
                vec![
                    Val::Text(o.date.to_string()),
                    Val::Text(o.kind.as_csv().into()),
                    Val::Text(o.name.clone()),
                ]
            })
            .collect();
        bulk_insert(
            self.kind,
            &mut tx,
            "calendar_days",
            &["day", "kind", "name"],
            &rows,
        )
        .await?;
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES ('working_hours', $1) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(hours.to_string())
        .execute(&mut *tx)
        .await?;
        crate::cluster::bump_reference_version(&mut tx).await?;
        tx.commit().await?;
        self.reload_calendar().await
    }

    /// Reloads the cached calendar from the database.
    pub async fn reload_calendar(&self) -> Result<(), StoreError> {
        let rows = sqlx::query("SELECT day, kind, name FROM calendar_days ORDER BY day")
            .fetch_all(&self.read)
            .await?;
        let mut overrides = Vec::with_capacity(rows.len());
        for r in rows {
            let day: String = r.get(0);
            let kind: String = r.get(1);
            overrides.push(DayOverride {
                date: day
                    .parse()
                    .map_err(|_| StoreError::Corrupt(format!("calendar day {day}")))?,
                kind: DayKind::from_csv(&kind)
                    .ok_or_else(|| StoreError::Corrupt(format!("calendar kind {kind}")))?,
                name: r.get(2),
            });
        }
        let hours = match self.setting("working_hours").await? {
            Some(text) => WorkingHours::parse(&text)?,
            None => WorkingHours::standard(),
        };
        self.set_cached_calendar(WorkCalendar::new(overrides, hours)?);
        Ok(())
    }
}
