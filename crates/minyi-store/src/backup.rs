//! Online backup and restore in a portable logical format, the same on both backends (so a
//! city can also move from SQLite to PostgreSQL).
//!
//! A backup reads every table in one read-only snapshot transaction ([`Store::begin_snapshot`]),
//! so it is consistent while the server goes on writing; the file is gzip-compressed JSON lines:
//!
//! ```text
//! {"format":"minyi-backup","format_version":1,"schema_version":7,"backend":"sqlite",…}
//! {"table":"divisions","columns":["id","code",…]}
//! [1,"440300",…]                      one line per row, values as JSON (integer, text, null)
//! …
//! {"end":{"rows":{"divisions":6512,…}}}
//! ```
//!
//! Tables come in foreign-key order (read from the database's catalogue, not listed here, so a
//! table added by a later migration is backed up without touching this file). A restore goes
//! into an empty, migrated database in one transaction, checks the trailer's counts (a truncated
//! file restores nothing) and refuses a file from a newer schema. The hashes of the history are
//! copied as they are, so `verify_history` holds on the restored copy exactly when it held on the
//! original.

use crate::reference::{Val, bulk_insert};
use crate::{StorageKind, Store, StoreError};
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use futures_util::TryStreamExt;
use sqlx::{AnyConnection, Row};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

const FORMAT: &str = "minyi-backup";
const FORMAT_VERSION: u32 = 1;

/// The first line of a backup file.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Header {
    format: String,
    format_version: u32,
    /// The highest migration applied to the database that was backed up.
    schema_version: i64,
    backend: String,
    created_at: String,
    minyi_version: String,
}

/// What a backup wrote.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BackupSummary {
    pub schema_version: i64,
    pub tables: usize,
    pub rows: u64,
    /// Size of the compressed file.
    pub bytes: u64,
    pub rows_by_table: BTreeMap<String, u64>,
}

/// What a restore loaded.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RestoreSummary {
    pub schema_version: i64,
    pub tables: usize,
    pub rows: u64,
    /// Requests whose history had no hashes in the file (a backup from before them), sealed after
    /// the restore.
    pub sealed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ColumnType {
    Int,
    Text,
}

#[derive(Debug, Clone)]
struct TableInfo {
    name: String,
    columns: Vec<(String, ColumnType)>,
    /// Foreign keys to other tables.
    references: BTreeSet<String>,
    /// Foreign keys to the table itself: (column, referenced column).
    self_references: Vec<(String, String)>,
}

fn file_error(path: &Path, e: impl std::fmt::Display) -> StoreError {
    StoreError::Invalid(format!("{}: {e}", path.display()))
}

/// Tables that the migrations fill in every new database (one-row counters); a restore replaces
/// their rows instead of refusing the database as not empty.
const SEEDED_BY_MIGRATIONS: &[&str] = &["reference_version"];

/// The highest migration applied.
async fn schema_version(conn: &mut AnyConnection) -> Result<i64, StoreError> {
    Ok(
        sqlx::query("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success")
            .fetch_one(conn)
            .await?
            .get(0),
    )
}

/// The application's tables with their columns and foreign keys, referenced tables first. The
/// search index (PostgreSQL's `request_search`; SQLite's is in a file of its own) is derived
/// data: left out, and rebuilt by a restore.
async fn catalogue(
    kind: StorageKind,
    conn: &mut AnyConnection,
) -> Result<Vec<TableInfo>, StoreError> {
    let names: Vec<String> = match kind {
        StorageKind::Sqlite => sqlx::query(
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite!_%' ESCAPE '!' AND name NOT LIKE '!_sqlx%' ESCAPE '!' \
             AND name NOT LIKE 'request!_search%' ESCAPE '!' ORDER BY name",
        ),
        StorageKind::Postgres => sqlx::query(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
             AND table_name NOT LIKE '!_sqlx%' ESCAPE '!' \
             AND table_name NOT LIKE 'request!_search%' ESCAPE '!' ORDER BY table_name",
        ),
    }
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .map(|r| r.get(0))
    .collect();
    let mut tables = BTreeMap::new();
    for name in names {
        let columns = match kind {
            StorageKind::Sqlite => {
                sqlx::query("SELECT name, type FROM pragma_table_info($1) ORDER BY cid")
            }
            StorageKind::Postgres => sqlx::query(
                "SELECT column_name::text, data_type::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1 \
                 ORDER BY ordinal_position",
            ),
        }
        .bind(name.as_str())
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(|r| {
            let ty: String = r.get(1);
            let ty = if ty.to_ascii_lowercase().contains("int") {
                ColumnType::Int
            } else {
                ColumnType::Text
            };
            (r.get::<String, _>(0), ty)
        })
        .collect();
        let keys: Vec<(String, String, Option<String>)> = match kind {
            StorageKind::Sqlite => {
                sqlx::query("SELECT \"from\", \"table\", \"to\" FROM pragma_foreign_key_list($1)")
            }
            StorageKind::Postgres => sqlx::query(
                "SELECT a.attname::text, rc.relname::text, ra.attname::text \
                 FROM pg_constraint c \
                 JOIN pg_class t ON t.oid = c.conrelid \
                 JOIN pg_namespace n ON n.oid = t.relnamespace \
                 JOIN pg_class rc ON rc.oid = c.confrelid \
                 JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] \
                 JOIN pg_attribute ra ON ra.attrelid = c.confrelid AND ra.attnum = c.confkey[1] \
                 WHERE c.contype = 'f' AND t.relname = $1 AND n.nspname = current_schema()",
            ),
        }
        .bind(name.as_str())
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
        let mut references = BTreeSet::new();
        let mut self_references = Vec::new();
        for (from, table, to) in keys {
            if table == name {
                self_references.push((from, to.unwrap_or_else(|| "id".into())));
            } else {
                references.insert(table);
            }
        }
        tables.insert(
            name.clone(),
            TableInfo {
                name,
                columns,
                references,
                self_references,
            },
        );
    }
    // Kahn's algorithm, by name among the ready ones so that the order is stable.
    let mut ordered = Vec::with_capacity(tables.len());
    let mut placed = BTreeSet::new();
    while !tables.is_empty() {
        let ready: Vec<String> = tables
            .values()
            .filter(|t| {
                t.references
                    .iter()
                    .all(|r| placed.contains(r) || !tables.contains_key(r))
            })
            .map(|t| t.name.clone())
            .collect();
        if ready.is_empty() {
            return Err(StoreError::Invalid(format!(
                "the tables {:?} reference each other in a cycle",
                tables.keys().collect::<Vec<_>>()
            )));
        }
        for name in ready {
            if let Some(table) = tables.remove(&name) {
                placed.insert(name);
                ordered.push(table);
            }
        }
    }
    Ok(ordered)
}

fn json_value(
    row: &sqlx::any::AnyRow,
    i: usize,
    ty: ColumnType,
) -> Result<serde_json::Value, StoreError> {
    Ok(match ty {
        ColumnType::Int => row
            .try_get::<Option<i64>, _>(i)?
            .map_or(serde_json::Value::Null, serde_json::Value::from),
        ColumnType::Text => row
            .try_get::<Option<String>, _>(i)?
            .map_or(serde_json::Value::Null, serde_json::Value::from),
    })
}

fn val(
    value: serde_json::Value,
    ty: ColumnType,
    table: &str,
    column: &str,
) -> Result<Val, StoreError> {
    use serde_json::Value as J;
    Ok(match (ty, value) {
        (ColumnType::Int, J::Null) => Val::OptInt(None),
        (ColumnType::Text, J::Null) => Val::OptText(None),
        (ColumnType::Int, J::Number(n)) if n.is_i64() => Val::OptInt(n.as_i64()),
        (ColumnType::Text, J::String(s)) => Val::OptText(Some(s)),
        // SQLite keeps what it is given; a number in a text column comes back as text.
        (ColumnType::Text, J::Number(n)) => Val::OptText(Some(n.to_string())),
        (_, other) => {
            return Err(StoreError::Corrupt(format!(
                "backup: {table}.{column} cannot hold {other}"
            )));
        }
    })
}

/// Counts the bytes read through it, for progress.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// Orders the rows of a table that references itself so that every row comes after the row it
/// names (parents before children).
fn parents_first(
    rows: Vec<Vec<serde_json::Value>>,
    columns: &[String],
    self_references: &[(String, String)],
) -> Vec<Vec<serde_json::Value>> {
    let index = |c: &str| columns.iter().position(|x| x == c);
    let links: Vec<(usize, usize)> = self_references
        .iter()
        .filter_map(|(from, to)| Some((index(from)?, index(to)?)))
        .collect();
    if links.is_empty() {
        return rows;
    }
    let mut placed: Vec<rustc_hash::FxHashSet<String>> = vec![Default::default(); links.len()];
    let mut pending = rows;
    let mut out = Vec::with_capacity(pending.len());
    while !pending.is_empty() {
        let before = pending.len();
        let (ready, rest): (Vec<_>, Vec<_>) = pending.into_iter().partition(|row| {
            links.iter().enumerate().all(|(k, (from, to))| {
                row[*from].is_null()
                    || row[*from] == row[*to]
                    || placed[k].contains(&row[*from].to_string())
            })
        });
        for row in &ready {
            for (k, (_, to)) in links.iter().enumerate() {
                placed[k].insert(row[*to].to_string());
            }
        }
        out.extend(ready);
        pending = rest;
        if pending.len() == before {
            // Rows naming a parent that is not in the file: the database will say which.
            out.append(&mut pending);
        }
    }
    out
}

impl Store {
    /// Writes a backup of the whole database to `path` (through `path.partial`, renamed when
    /// complete), calling `progress(rows done, total)`. Consistent while others write.
    pub async fn backup_to(
        &self,
        path: &Path,
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<BackupSummary, StoreError> {
        let partial = partial_path(path);
        let file = std::fs::File::create(&partial).map_err(|e| file_error(&partial, e))?;
        let mut out = GzEncoder::new(BufWriter::new(file), Compression::fast());
        let mut tx = self.begin_snapshot().await?;
        // The first read fixes the snapshot on SQLite.
        let schema = schema_version(&mut tx).await?;
        let tables = catalogue(self.kind, &mut tx).await?;
        let mut total = 0u64;
        for table in &tables {
            let n: i64 = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT COUNT(*) FROM {}",
                table.name
            )))
            .fetch_one(&mut *tx)
            .await?
            .get(0);
            total += n as u64;
        }
        let header = Header {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            schema_version: schema,
            backend: self.kind.as_str().into(),
            created_at: chrono::Utc::now().to_rfc3339(),
            minyi_version: env!("CARGO_PKG_VERSION").into(),
        };
        let write_line = |out: &mut GzEncoder<BufWriter<std::fs::File>>,
                          value: &serde_json::Value|
         -> Result<(), StoreError> {
            serde_json::to_writer(&mut *out, value).map_err(|e| file_error(&partial, e))?;
            out.write_all(b"\n").map_err(|e| file_error(&partial, e))
        };
        write_line(
            &mut out,
            &serde_json::to_value(&header).map_err(|e| file_error(&partial, e))?,
        )?;
        let mut rows_by_table = BTreeMap::new();
        let mut done = 0u64;
        progress(0, total);
        for table in &tables {
            let names: Vec<&str> = table.columns.iter().map(|(c, _)| c.as_str()).collect();
            write_line(
                &mut out,
                &serde_json::json!({ "table": table.name, "columns": names }),
            )?;
            let sql = format!("SELECT {} FROM {}", names.join(", "), table.name);
            let mut rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch(&mut *tx);
            let mut n = 0u64;
            while let Some(row) = rows.try_next().await? {
                let values = table
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(i, (_, ty))| json_value(&row, i, *ty))
                    .collect::<Result<Vec<_>, _>>()?;
                write_line(&mut out, &serde_json::Value::Array(values))?;
                n += 1;
                done += 1;
                if done.is_multiple_of(5000) {
                    progress(done, total);
                }
            }
            rows_by_table.insert(table.name.clone(), n);
        }
        write_line(
            &mut out,
            &serde_json::json!({ "end": { "rows": rows_by_table } }),
        )?;
        tx.rollback().await?;
        let file = out
            .finish()
            .and_then(|w| w.into_inner().map_err(|e| e.into_error()))
            .map_err(|e| file_error(&partial, e))?;
        file.sync_all().map_err(|e| file_error(&partial, e))?;
        drop(file);
        std::fs::rename(&partial, path).map_err(|e| file_error(path, e))?;
        progress(done, total);
        let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        Ok(BackupSummary {
            schema_version: schema,
            tables: tables.len(),
            rows: done,
            bytes,
            rows_by_table,
        })
    }

    /// Loads a backup into this store, which must be empty (freshly created and migrated), in one
    /// transaction, calling `progress(compressed bytes read, file size)`. Refuses a file from a
    /// newer schema, a file that is not a backup and a truncated one, changing nothing.
    pub async fn restore_from(
        &self,
        path: &Path,
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<RestoreSummary, StoreError> {
        let file = std::fs::File::open(path).map_err(|e| file_error(path, e))?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let count = Arc::new(AtomicU64::new(0));
        let mut lines = BufReader::new(GzDecoder::new(Counting {
            inner: file,
            count: count.clone(),
        }))
        .lines();
        let not_a_backup = || {
            StoreError::Invalid(format!(
                "{} is not a minyi backup (made by `minyi backup`)",
                path.display()
            ))
        };
        let first = lines
            .next()
            .ok_or_else(not_a_backup)?
            .map_err(|_| not_a_backup())?;
        let header: Header = serde_json::from_str(&first).map_err(|_| not_a_backup())?;
        if header.format != FORMAT {
            return Err(not_a_backup());
        }
        if header.format_version > FORMAT_VERSION {
            return Err(StoreError::Invalid(format!(
                "{} is in backup format {}, newer than this minyi reads ({FORMAT_VERSION}): \
                 restore it with a newer minyi",
                path.display(),
                header.format_version
            )));
        }
        let mut tx = self.begin_write().await?;
        let schema = schema_version(&mut tx).await?;
        if header.schema_version > schema {
            return Err(StoreError::Invalid(format!(
                "{} comes from a newer database schema (version {}) than this minyi has \
                 (version {schema}): upgrade minyi before restoring",
                path.display(),
                header.schema_version
            )));
        }
        let tables: BTreeMap<String, TableInfo> = catalogue(self.kind, &mut tx)
            .await?
            .into_iter()
            .map(|t| (t.name.clone(), t))
            .collect();
        for name in tables.keys() {
            if SEEDED_BY_MIGRATIONS.contains(&name.as_str()) {
                // Rows the migrations put in every new database: the backup's rows replace them.
                sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {name}")))
                    .execute(&mut *tx)
                    .await?;
                continue;
            }
            let any = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT 1 FROM {name} LIMIT 1")))
                .fetch_optional(&mut *tx)
                .await?;
            if any.is_some() {
                return Err(StoreError::Invalid(format!(
                    "the target database is not empty (table {name} has rows): restore only \
                     into a new, empty database"
                )));
            }
        }
        if self.kind == StorageKind::Sqlite {
            // Checked at commit instead of per row.
            sqlx::query("PRAGMA defer_foreign_keys = ON")
                .execute(&mut *tx)
                .await?;
        }

        /// The table being read: its columns as named in the file and their types here.
        struct Current {
            info: TableInfo,
            columns: Vec<String>,
            types: Vec<ColumnType>,
            rows: Vec<Vec<serde_json::Value>>,
            count: u64,
        }
        async fn flush(
            kind: StorageKind,
            tx: &mut sqlx::Transaction<'static, sqlx::Any>,
            current: &mut Current,
            all: bool,
        ) -> Result<(), StoreError> {
            if !all && current.rows.len() < (30_000 / current.columns.len().max(1)).max(1) {
                return Ok(());
            }
            if !all && !current.info.self_references.is_empty() {
                // Ordered parents-first once the whole table is in.
                return Ok(());
            }
            let rows = std::mem::take(&mut current.rows);
            let rows = parents_first(rows, &current.columns, &current.info.self_references);
            let mut values = Vec::with_capacity(rows.len());
            for row in rows {
                if row.len() != current.columns.len() {
                    return Err(StoreError::Corrupt(format!(
                        "backup: a row of {} has {} values for {} columns",
                        current.info.name,
                        row.len(),
                        current.columns.len()
                    )));
                }
                values.push(
                    row.into_iter()
                        .zip(current.columns.iter().zip(&current.types))
                        .map(|(v, (c, t))| val(v, *t, &current.info.name, c))
                        .collect::<Result<Vec<_>, _>>()?,
                );
            }
            let columns: Vec<&str> = current.columns.iter().map(String::as_str).collect();
            bulk_insert(kind, tx, &current.info.name, &columns, &values).await
        }

        let mut current: Option<Current> = None;
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        let mut trailer: Option<BTreeMap<String, u64>> = None;
        let mut rows = 0u64;
        for line in lines {
            let line =
                line.map_err(|e| StoreError::Corrupt(format!("backup {}: {e}", path.display())))?;
            if line.starts_with('[') {
                let Some(table) = current.as_mut() else {
                    return Err(StoreError::Corrupt("backup: a row before any table".into()));
                };
                let row: Vec<serde_json::Value> = serde_json::from_str(&line)
                    .map_err(|e| StoreError::Corrupt(format!("backup: {e}")))?;
                table.rows.push(row);
                table.count += 1;
                rows += 1;
                flush(self.kind, &mut tx, table, false).await?;
                if rows.is_multiple_of(5000) {
                    progress(count.load(Ordering::Relaxed), size);
                }
                continue;
            }
            let control: serde_json::Value = serde_json::from_str(&line)
                .map_err(|e| StoreError::Corrupt(format!("backup: {e}")))?;
            if let Some(mut done) = current.take() {
                flush(self.kind, &mut tx, &mut done, true).await?;
                counts.insert(done.info.name.clone(), done.count);
            }
            if let Some(end) = control.get("end") {
                let rows_by_table = serde_json::from_value(end["rows"].clone())
                    .map_err(|e| StoreError::Corrupt(format!("backup trailer: {e}")))?;
                trailer = Some(rows_by_table);
                break;
            }
            let name = control["table"].as_str().unwrap_or_default();
            let info = tables.get(name).cloned().ok_or_else(|| {
                StoreError::Invalid(format!(
                    "the backup holds table {name:?}, which this database does not have"
                ))
            })?;
            let columns: Vec<String> = serde_json::from_value(control["columns"].clone())
                .map_err(|e| StoreError::Corrupt(format!("backup: columns of {name}: {e}")))?;
            let types = columns
                .iter()
                .map(|c| {
                    info.columns
                        .iter()
                        .find(|(name, _)| name == c)
                        .map(|(_, t)| *t)
                        .ok_or_else(|| {
                            StoreError::Invalid(format!(
                                "the backup has column {name}.{c}, which this database does not have"
                            ))
                        })
                })
                .collect::<Result<_, _>>()?;
            current = Some(Current {
                info,
                columns,
                types,
                rows: Vec::new(),
                count: 0,
            });
        }
        match trailer {
            Some(expected) if expected == counts => {}
            Some(expected) => {
                return Err(StoreError::Corrupt(format!(
                    "backup: the trailer counts {expected:?} rows, the file holds {counts:?}"
                )));
            }
            None => {
                return Err(StoreError::Corrupt(format!(
                    "backup {} is truncated (no trailer): nothing was restored",
                    path.display()
                )));
            }
        }
        if self.kind == StorageKind::Postgres {
            let identities: Vec<(String, String)> = sqlx::query(
                "SELECT table_name::text, column_name::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() \
                 AND (is_identity = 'YES' OR column_default LIKE 'nextval(%')",
            )
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
            for (table, column) in identities {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', '{column}'), MAX({column})) \
                     FROM {table} HAVING MAX({column}) IS NOT NULL"
                )))
                .execute(&mut *tx)
                .await?;
            }
        }
        // The search index is derived from the restored rows, not carried in the backup; the
        // units' rows take their requests' states (a backup older than migration 0015 has none).
        if self.kind == StorageKind::Postgres {
            crate::search::rebuild(&mut tx).await?;
        }
        sqlx::query(
            "UPDATE request_units SET state = \
             (SELECT r.state FROM requests r WHERE r.id = request_units.request_id)",
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        // SQLite: the index file is emptied and made again from the restored history.
        if let Some(index) = &self.search_index {
            index.reset().await?;
            self.update_search_index(|_, _| {}).await?;
        }
        progress(size, size);
        let sealed = self.seal_history(&mut |_, _| {}).await?;
        Ok(RestoreSummary {
            schema_version: header.schema_version,
            tables: counts.len(),
            rows,
            sealed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_of_a_tree_come_parents_first() {
        let columns = vec!["id".to_string(), "parent_id".to_string()];
        let rows = vec![
            vec![json!(4), json!(3)],
            vec![json!(3), json!(1)],
            vec![json!(2), json!(1)],
            vec![json!(1), json!(null)],
        ];
        let ordered = parents_first(rows, &columns, &[("parent_id".into(), "id".into())]);
        let ids: Vec<i64> = ordered.iter().map(|r| r[0].as_i64().unwrap_or(0)).collect();
        assert_eq!(ids, vec![1, 3, 2, 4]);
    }

    #[test]
    fn values_must_fit_their_column() {
        assert!(matches!(
            val(json!(5), ColumnType::Int, "t", "c"),
            Ok(Val::OptInt(Some(5)))
        ));
        assert!(matches!(
            val(json!(null), ColumnType::Text, "t", "c"),
            Ok(Val::OptText(None))
        ));
        assert!(val(json!("x"), ColumnType::Int, "t", "c").is_err());
        assert!(val(json!(1.5), ColumnType::Int, "t", "c").is_err());
    }
}
