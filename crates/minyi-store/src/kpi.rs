//! KPI aggregates (考核指标): the `kpi_daily` table of additive counters, kept up to date in the
//! transactions that append events, rebuilt from the history on demand, and the dashboard
//! queries over it.
//!
//! What each counter counts and how an event is attributed to (day, unit, matter, division,
//! channel) is defined once, in the pure [`minyi_domain::kpi`]; this module only stores and sums.
//!
//! **Roll-up.** Rows are keyed by the leaf ids a request carries (its leaf matter, the division of
//! its location). A division or catalogue node at any level is the sum of its descendants' rows:
//! the query sums the small table grouped by leaf id over the period, and the leaf ids are mapped
//! to their ancestor at the asked level in memory (the trees have a few thousand nodes). Storing
//! ancestor keys instead would multiply the rows by the depth and need a rewrite of the table
//! whenever an administrator moves a node; mapping at query time always uses the current trees.

use crate::reference::{Batch, Val};
use crate::{StorageKind, Store, StoreError};
use chrono::{DateTime, NaiveDate, Utc};
use minyi_domain::RequestId;
use minyi_domain::kpi::{
    self, Bucket, COUNTER_NAMES, CardRules, Counters, Key, Kpis, Weights, local_day,
};
use minyi_domain::request::{Channel, Event, Request};
use sqlx::Row;
use std::collections::{BTreeMap, HashMap};

type Tx = sqlx::Transaction<'static, sqlx::Any>;

/// Aggregates keyed by [`Key`].
pub type KpiTable = BTreeMap<Key, Counters>;

const KEY_COLUMNS: [&str; 5] = ["day", "unit_id", "matter_id", "division_id", "channel"];

/// A roll-up row's key: (dimension, grain, period, item). See [`rollup_of`].
pub type RollupKey = (&'static str, &'static str, i64, String);

/// Roll-ups keyed by [`RollupKey`].
pub type RollupTable = BTreeMap<RollupKey, Counters>;

/// The division levels above the leaves that have roll-up rows of their own, with their
/// dimension names in `kpi_rollup`.
pub const DIVISION_LEVEL_DIMS: [(&str, &str); 4] = [
    ("city", "division:city"),
    ("district", "division:district"),
    ("street", "division:street"),
    ("community", "division:community"),
];

/// For each division id, its ancestor (itself included) at each level of
/// [`DIVISION_LEVEL_DIMS`], `0` where it has none (a request located at a street has no
/// community). Built from the division tree as it stands.
pub type DivisionLevels = HashMap<i64, [i64; 4]>;

/// The dimension names of `kpi_rollup`.
const ROLLUP_DIMS: [&str; 9] = [
    "total",
    "unit",
    "matter",
    "division",
    "channel",
    "division:city",
    "division:district",
    "division:street",
    "division:community",
];

/// The roll-ups of fine-grained aggregates: each row summed along one dimension at a time
/// (`total` with item `all`, `unit`, `matter`, `division` with the leaf id, `channel` with its
/// name, and `division:<level>` with the leaf's ancestor at that level from `levels`, `0` when it
/// has none), per local day (grain `day`, period = day number) and per calendar month (grain
/// `month`, period = the day number of its first day). This is what `kpi_rollup` holds.
pub fn rollup_of(table: &KpiTable, levels: &DivisionLevels) -> RollupTable {
    let mut out = RollupTable::new();
    for (k, c) in table {
        let month = Bucket::Month.start(k.day);
        let ancestors = levels.get(&k.division).copied().unwrap_or_default();
        let items = [
            ("total", "all".to_string()),
            ("unit", k.unit.to_string()),
            ("matter", k.matter.to_string()),
            ("division", k.division.to_string()),
            ("channel", k.channel.to_string()),
        ]
        .into_iter()
        .chain(
            DIVISION_LEVEL_DIMS
                .iter()
                .zip(ancestors)
                .map(|((_, dim), id)| (*dim, id.to_string())),
        );
        for (dim, item) in items {
            out.entry((dim, "month", month, item.clone()))
                .or_default()
                .add(c);
            out.entry((dim, "day", k.day, item)).or_default().add(c);
        }
    }
    out.retain(|_, c| !c.is_zero());
    out
}

/// The ancestors per level of the divisions `ids` (all divisions when `None`), read through
/// `executor` (inside a write transaction: the tree as that transaction sees it).
async fn division_levels<'c, E: sqlx::Executor<'c, Database = sqlx::Any>>(
    executor: E,
    ids: Option<&[i64]>,
) -> Result<DivisionLevels, StoreError> {
    // A few ids (a commit's) are bound, so that the statement's text, and with it its prepared
    // plan, is the same from one commit to the next; many (a bulk load's) are written out.
    const BOUND: usize = 64;
    let mut bound: &[i64] = &[];
    let start = match ids {
        None => String::new(),
        Some([]) => return Ok(DivisionLevels::new()),
        Some(ids) if ids.len() <= BOUND => {
            bound = ids;
            let marks: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
            format!(" WHERE id IN ({})", marks.join(","))
        }
        Some(ids) => format!(
            " WHERE id IN ({})",
            ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
        ),
    };
    // Ids are integers formatted here, never caller text.
    let sql = format!(
        "WITH RECURSIVE up(leaf, node, parent, level, depth) AS ( \
         SELECT id, id, parent_id, level, 0 FROM divisions{start} \
         UNION ALL SELECT up.leaf, d.id, d.parent_id, d.level, up.depth + 1 \
         FROM up JOIN divisions d ON d.id = up.parent WHERE up.depth < 16) \
         SELECT leaf, node, level FROM up"
    );
    let mut out = DivisionLevels::new();
    let query = bound
        .iter()
        .fold(sqlx::query(sqlx::AssertSqlSafe(sql)), |q, id| q.bind(*id));
    for r in query.fetch_all(executor).await? {
        let leaf: i64 = r.get(0);
        let level: String = r.get(2);
        let entry = out.entry(leaf).or_default();
        if let Some(i) = DIVISION_LEVEL_DIMS.iter().position(|(l, _)| *l == level) {
            entry[i] = r.get(1);
        }
    }
    Ok(out)
}

/// Rewrites the `division:<level>` roll-up rows from the leaf `division` rows and the division
/// tree as it stands, in the caller's transaction (after a division moved): the same statement
/// as the migration that filled them.
pub(crate) async fn rederive_division_levels(
    kind: StorageKind,
    tx: &mut Tx,
) -> Result<(), StoreError> {
    sqlx::query(
        "DELETE FROM kpi_rollup WHERE dim IN ('division:city', 'division:district', \
         'division:street', 'division:community')",
    )
    .execute(&mut **tx)
    .await?;
    let fill = match kind {
        StorageKind::Sqlite => include_str!("../migrations/sqlite/0014_kpi_division_levels.sql"),
        StorageKind::Postgres => {
            include_str!("../migrations/postgres/0014_kpi_division_levels.sql")
        }
    };
    sqlx::raw_sql(sqlx::AssertSqlSafe(fill))
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Adds counters to `table` by upsert, in multi-row statements added to `batch`.
fn upsert(batch: &mut Batch, table: &str, key_columns: &[&str], rows: Vec<(Vec<Val>, &Counters)>) {
    let columns: Vec<&str> = key_columns
        .iter()
        .chain(COUNTER_NAMES.iter())
        .copied()
        .collect();
    let updates: Vec<String> = COUNTER_NAMES
        .iter()
        .map(|c| format!("{c} = {table}.{c} + excluded.{c}"))
        .collect();
    let conflict = format!(
        " ON CONFLICT ({}) DO UPDATE SET {}",
        key_columns.join(","),
        updates.join(", ")
    );
    let rows: Vec<Vec<Val>> = rows
        .into_iter()
        .map(|(mut key, counters)| {
            key.extend(counters.0.iter().map(|c| Val::Int(*c)));
            key
        })
        .collect();
    batch.insert_with(table, &columns, &rows, &conflict);
}

/// Adds `delta` to the stored counters and their roll-ups, inside the caller's transaction.
pub(crate) async fn add_delta(
    kind: StorageKind,
    tx: &mut Tx,
    delta: &KpiTable,
) -> Result<(), StoreError> {
    let levels = delta_levels(tx, delta).await?;
    let mut batch = Batch::new(kind);
    push_delta(&mut batch, delta, &levels);
    batch.run(tx).await
}

/// The division levels [`push_delta`] needs for `delta`, read in the caller's transaction.
pub(crate) async fn delta_levels(
    tx: &mut Tx,
    delta: &KpiTable,
) -> Result<DivisionLevels, StoreError> {
    let mut ids: Vec<i64> = delta
        .keys()
        .map(|k| k.division)
        .filter(|d| *d != 0)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    division_levels(&mut **tx, Some(&ids)).await
}

/// Adds the upserts of `delta` and of its roll-ups to `batch`, the rows in key order (so that
/// concurrent writers lock them in one order).
pub(crate) fn push_delta(batch: &mut Batch, delta: &KpiTable, levels: &DivisionLevels) {
    if delta.is_empty() {
        return;
    }
    let rows = delta
        .iter()
        .map(|(key, c)| {
            (
                vec![
                    Val::Int(key.day),
                    Val::Int(key.unit),
                    Val::Int(key.matter),
                    Val::Int(key.division),
                    Val::Text(key.channel.to_string()),
                ],
                c,
            )
        })
        .collect();
    upsert(batch, "kpi_daily", &KEY_COLUMNS, rows);
    let rollup = rollup_of(delta, levels);
    let rows = rollup
        .iter()
        .map(|((dim, grain, period, item), c)| {
            (
                vec![
                    Val::Text((*dim).to_string()),
                    Val::Text((*grain).to_string()),
                    Val::Int(*period),
                    Val::Text(item.clone()),
                ],
                c,
            )
        })
        .collect();
    upsert(batch, "kpi_rollup", &ROLLUP_COLUMNS, rows);
}

const ROLLUP_COLUMNS: [&str; 4] = ["dim", "grain", "period", "item"];

/// How to group KPI rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KpiGroup {
    /// One row for everything.
    Total,
    /// By lead unit (`0`: not yet dispatched).
    Unit,
    /// By catalogue node at this level (1 = major category; the leaves are the deepest level).
    Matter(i64),
    /// By division at this level (`city`, `district`, `street`, `community`, `compound`).
    Division(String),
    /// By intake channel.
    Channel,
}

impl KpiGroup {
    /// The roll-up dimension that answers this grouping.
    fn dimension(&self) -> &'static str {
        match self {
            KpiGroup::Total => "total",
            KpiGroup::Unit => "unit",
            KpiGroup::Matter(_) => "matter",
            KpiGroup::Division(_) => "division",
            KpiGroup::Channel => "channel",
        }
    }

    /// Parses a name as [`KpiGroup::name`] writes it.
    pub fn parse(s: &str) -> Option<KpiGroup> {
        match s.split_once(':') {
            None if s == "total" => Some(KpiGroup::Total),
            None if s == "unit" => Some(KpiGroup::Unit),
            None if s == "channel" => Some(KpiGroup::Channel),
            Some(("matter", level)) => level.parse().ok().map(KpiGroup::Matter),
            Some(("division", level))
                if ["city", "district", "street", "community", "compound"].contains(&level) =>
            {
                Some(KpiGroup::Division(level.to_string()))
            }
            _ => None,
        }
    }

    /// A stable name: `total`, `unit`, `matter:<level>`, `division:<level>`, `channel`.
    pub fn name(&self) -> String {
        match self {
            KpiGroup::Total => "total".into(),
            KpiGroup::Unit => "unit".into(),
            KpiGroup::Matter(l) => format!("matter:{l}"),
            KpiGroup::Division(l) => format!("division:{l}"),
            KpiGroup::Channel => "channel".into(),
        }
    }
}

/// A restriction of a report (drill-down; a unit role sees only its own unit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KpiFilter {
    /// Only this lead unit.
    pub unit: Option<i64>,
    /// Only requests located in this division or below it.
    pub division: Option<i64>,
}

/// One row read from either table before grouping.
struct RawRow {
    key: String,
    day: i64,
    /// The leaf division, when the division filter needs it.
    division: Option<i64>,
    counters: Counters,
}

/// A period of local days, `[from, to)`, optionally bucketed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KpiPeriod {
    pub from: NaiveDate,
    /// Exclusive.
    pub to: NaiveDate,
    pub bucket: Option<Bucket>,
}

fn day_number(d: NaiveDate) -> i64 {
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()).num_days()
}

fn day_date(day: i64) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default() + chrono::Duration::days(day)
}

/// One row of a KPI report.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct KpiRow {
    /// The group's id (unit, matter or division id; `0` for none) or channel name; `all` for
    /// the total.
    pub key: String,
    pub name: String,
    /// The first day of the bucket, when bucketed.
    pub period_start: Option<NaiveDate>,
    pub counters: BTreeMap<&'static str, i64>,
    pub kpis: Kpis,
    pub score: Option<f64>,
}

/// A ranked unit (or any group).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RankedRow {
    pub rank: usize,
    #[serde(flatten)]
    pub row: KpiRow,
}

/// Parent links and names of a tree, for roll-ups.
struct Tree {
    parent: HashMap<i64, i64>,
    level: HashMap<i64, String>,
    name: HashMap<i64, String>,
}

impl Tree {
    /// Whether `id` is `ancestor` or lies below it.
    fn is_within(&self, mut id: i64, ancestor: i64) -> bool {
        for _ in 0..64 {
            if id == ancestor {
                return true;
            }
            match self.parent.get(&id) {
                Some(p) => id = *p,
                None => return false,
            }
        }
        false
    }

    fn ancestor_at(&self, mut id: i64, level: &str) -> i64 {
        for _ in 0..64 {
            if self.level.get(&id).map(String::as_str) == Some(level) {
                return id;
            }
            match self.parent.get(&id) {
                Some(p) => id = *p,
                None => return 0,
            }
        }
        0
    }
}

/// Which `kpi_rollup` rows answer a report. See [`rollup_plan`].
struct RollupPlan {
    /// (dimension, only this item) pairs to read.
    select: Vec<(&'static str, Option<String>)>,
    /// Rows of this dimension are the grouping's level, kept when inside the division filter,
    /// with key 0 made of the filter division's own row minus them.
    within: Option<&'static str>,
    /// Rows are leaf divisions, filtered in memory by the division filter.
    filter_leaves: bool,
}

const DIVISION_DEPTH: [&str; 5] = ["city", "district", "street", "community", "compound"];

/// The roll-up dimension of a division level: its own (`division:<level>`) above the leaves,
/// the leaf dimension for compounds.
fn division_dim(level: &str) -> Option<&'static str> {
    DIVISION_LEVEL_DIMS
        .iter()
        .find(|(l, _)| *l == level)
        .map(|(_, d)| *d)
        .or((level == "compound").then_some("division"))
}

/// How the roll-ups answer a report, or `None` when only `kpi_daily` can (a unit together with
/// a division, or a grouping other than the unit's or the division's under a filter).
///
/// A division `X` filter: the total, or a grouping at `X`'s level or above, is `X`'s own row
/// (`division:<level of X>`, item `X`, mapped to its ancestor). A grouping at a deeper level `L`
/// above the leaves reads `division:L` (the rows inside `X`) and `X`'s own row; what `X`'s row
/// holds beyond them — requests located in `X` above level `L` — is key 0, as when leaves are
/// mapped to ancestors. Compounds come from the leaf rows filtered in memory.
fn rollup_plan(
    group: &KpiGroup,
    filter: &KpiFilter,
    divisions: Option<&Tree>,
) -> Option<RollupPlan> {
    let plain = |dim: &'static str, item: Option<String>| RollupPlan {
        select: vec![(dim, item)],
        within: None,
        filter_leaves: false,
    };
    match (filter.unit, filter.division, group) {
        (None, None, KpiGroup::Division(level)) => {
            Some(plain(division_dim(level).unwrap_or("division"), None))
        }
        (None, None, g) => Some(plain(g.dimension(), None)),
        (Some(u), None, KpiGroup::Total | KpiGroup::Unit) => {
            Some(plain("unit", Some(u.to_string())))
        }
        (None, Some(x), KpiGroup::Total | KpiGroup::Division(_)) => {
            let leaves = RollupPlan {
                select: vec![("division", None)],
                within: None,
                filter_leaves: true,
            };
            let Some(x_level) = divisions.and_then(|t| t.level.get(&x)) else {
                return Some(leaves);
            };
            let (Some(x_dim), Some(x_depth)) = (
                division_dim(x_level),
                DIVISION_DEPTH.iter().position(|l| *l == x_level.as_str()),
            ) else {
                return Some(leaves);
            };
            let own = (x_dim, Some(x.to_string()));
            let KpiGroup::Division(level) = group else {
                return Some(plain(own.0, own.1));
            };
            let depth = DIVISION_DEPTH.iter().position(|l| *l == level.as_str())?;
            if depth <= x_depth {
                return Some(plain(own.0, own.1));
            }
            match DIVISION_LEVEL_DIMS
                .iter()
                .find(|(l, _)| *l == level.as_str())
            {
                Some((_, dim)) => Some(RollupPlan {
                    select: vec![(*dim, None), own],
                    within: Some(*dim),
                    filter_leaves: false,
                }),
                None => Some(leaves),
            }
        }
        _ => None,
    }
}

fn counters_map(c: &Counters) -> BTreeMap<&'static str, i64> {
    COUNTER_NAMES.iter().copied().zip(c.0).collect()
}

impl Store {
    async fn tree(&self, sql: &'static str) -> Result<Tree, StoreError> {
        let mut tree = Tree {
            parent: HashMap::new(),
            level: HashMap::new(),
            name: HashMap::new(),
        };
        for r in sqlx::query(sql).fetch_all(&self.read).await? {
            let id: i64 = r.get(0);
            if let Some(p) = r.get::<Option<i64>, _>(1) {
                tree.parent.insert(id, p);
            }
            tree.level.insert(id, r.get(2));
            tree.name.insert(id, r.get(3));
        }
        Ok(tree)
    }

    /// The division tree, when a grouping or filter needs it.
    async fn division_tree_for(
        &self,
        group: &KpiGroup,
        filter: &KpiFilter,
    ) -> Result<Option<Tree>, StoreError> {
        if matches!(group, KpiGroup::Division(_)) || filter.division.is_some() {
            Ok(Some(
                self.tree("SELECT id, parent_id, level, name FROM divisions")
                    .await?,
            ))
        } else {
            Ok(None)
        }
    }

    /// Sums the stored aggregates over a period, grouped, with names, KPIs and the composite
    /// score under `weights`. Reads the roll-ups (see [`Store::kpi_report_filtered`]).
    pub async fn kpi_report(
        &self,
        group: &KpiGroup,
        period: &KpiPeriod,
        weights: &Weights,
    ) -> Result<Vec<KpiRow>, StoreError> {
        self.kpi_report_filtered(group, period, &KpiFilter::default(), weights)
            .await
    }

    /// A report restricted to one unit and/or one division subtree (drill-down). Reads
    /// `kpi_rollup` when it answers the question — any grouping unfiltered (divisions above the
    /// leaves from their own `division:<level>` rows), the total or the units for one unit, the
    /// total or the divisions inside one division ([`rollup_plan`]) — at month grain for the
    /// whole months of the period and day grain for the days at its ends (day grain only when
    /// bucketed by day or week); otherwise it sums `kpi_daily` ([`Store::kpi_report_daily`]).
    pub async fn kpi_report_filtered(
        &self,
        group: &KpiGroup,
        period: &KpiPeriod,
        filter: &KpiFilter,
        weights: &Weights,
    ) -> Result<Vec<KpiRow>, StoreError> {
        let divisions = self.division_tree_for(group, filter).await?;
        let Some(plan) = rollup_plan(group, filter, divisions.as_ref()) else {
            return self.kpi_report_daily(group, period, filter, weights).await;
        };
        let from = day_number(period.from);
        let to = day_number(period.to);
        // Whole months [m1, mk) come from month rows, the days around them from day rows.
        let (m1, mk) = match period.bucket {
            Some(Bucket::Day | Bucket::Week) => (to, to),
            None | Some(Bucket::Month) => {
                let start = Bucket::Month.start(from);
                let m1 = if start == from {
                    from
                } else {
                    Bucket::Month.start(start + 31)
                };
                let mk = Bucket::Month.start(to);
                if m1 < mk { (m1, mk) } else { (to, to) }
            }
        };
        // Without buckets the database sums each item's rows, so that at most one row per item
        // (unit, leaf matter, division, channel) reaches this process whatever the volume.
        let (period_col, counters) = if period.bucket.is_none() {
            let sums: Vec<String> = COUNTER_NAMES
                .iter()
                .map(|c| format!("CAST(SUM({c}) AS BIGINT)"))
                .collect();
            ("MIN(period)", sums.join(", "))
        } else {
            ("period", COUNTER_NAMES.join(", "))
        };
        // Dimension names are this module's constants; items are bound.
        let mut selectors = Vec::new();
        let mut items = Vec::new();
        for (dim, item) in &plan.select {
            match item {
                None => selectors.push(format!("dim = '{dim}'")),
                Some(item) => {
                    items.push(item.clone());
                    selectors.push(format!("(dim = '{dim}' AND item = ${})", 6 + items.len()));
                }
            }
        }
        let mut sql = format!(
            "SELECT dim, item, {period_col}, {counters} FROM kpi_rollup WHERE ({}) AND \
             ((grain = 'month' AND period >= $1 AND period < $2) OR (grain = 'day' AND \
             ((period >= $3 AND period < $4) OR (period >= $5 AND period < $6))))",
            selectors.join(" OR ")
        );
        if period.bucket.is_none() {
            sql.push_str(" GROUP BY dim, item");
        }
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(m1)
            .bind(mk)
            .bind(from)
            .bind(m1.min(to))
            .bind(mk.max(from))
            .bind(to);
        for item in items {
            query = query.bind(item);
        }
        let mut raw = Vec::new();
        for r in query.fetch_all(&self.read).await? {
            let mut c = Counters::default();
            for (i, v) in c.0.iter_mut().enumerate() {
                *v = r.get(i + 3);
            }
            let dim: String = r.get(0);
            let item: String = r.get(1);
            let day: i64 = r.get(2);
            match (&plan.within, filter.division, &divisions) {
                // Rows of the grouping's level inside the filter's division: kept, and taken
                // off the filter division's own row, whose rest (requests located in it above
                // the grouping's level) goes to key 0.
                (Some(level_dim), Some(x), Some(tree)) if dim == *level_dim => {
                    if !tree.is_within(item.parse().unwrap_or(0), x) {
                        continue;
                    }
                    raw.push(RawRow {
                        key: "0".into(),
                        day,
                        division: None,
                        counters: Counters(c.0.map(|v| -v)),
                    });
                    raw.push(RawRow {
                        key: item,
                        day,
                        division: None,
                        counters: c,
                    });
                }
                _ => {
                    let division = plan.filter_leaves.then(|| item.parse().unwrap_or(0));
                    raw.push(RawRow {
                        key: item,
                        day,
                        division,
                        counters: c,
                    });
                }
            }
        }
        self.finish_report(group, period, filter, weights, raw, divisions)
            .await
    }

    /// The same report summed from the fine-grained `kpi_daily` (any filter; also the reference
    /// the benchmark compares the roll-ups with).
    pub async fn kpi_report_daily(
        &self,
        group: &KpiGroup,
        period: &KpiPeriod,
        filter: &KpiFilter,
        weights: &Weights,
    ) -> Result<Vec<KpiRow>, StoreError> {
        let column = match group {
            KpiGroup::Total => "0",
            KpiGroup::Unit => "unit_id",
            KpiGroup::Matter(_) => "matter_id",
            KpiGroup::Division(_) => "division_id",
            KpiGroup::Channel => "channel",
        };
        let day_col = if period.bucket.is_some() { "day" } else { "0" };
        let div_col = if filter.division.is_some() {
            "division_id"
        } else {
            "0"
        };
        let select = |c: &str| {
            if c == "0" {
                "CAST(0 AS BIGINT)".to_string()
            } else {
                c.to_string()
            }
        };
        let sums: Vec<String> = COUNTER_NAMES
            .iter()
            .map(|c| format!("CAST(SUM({c}) AS BIGINT)"))
            .collect();
        let cast = match group {
            KpiGroup::Total => "CAST('all' AS TEXT)".to_string(),
            KpiGroup::Channel => column.to_string(),
            _ => format!("CAST({column} AS TEXT)"),
        };
        // Literal zeros are selected but never grouped on (`GROUP BY 0` is positional).
        let group_by: Vec<&str> = [column, day_col, div_col]
            .into_iter()
            .filter(|c| *c != "0")
            .collect();
        let group_by = if group_by.is_empty() {
            String::new()
        } else {
            format!(" GROUP BY {}", group_by.join(", "))
        };
        let unit_filter = if filter.unit.is_some() {
            " AND unit_id = $3"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {cast}, {}, {}, {} FROM kpi_daily \
             WHERE day >= $1 AND day < $2{unit_filter}{group_by}",
            select(day_col),
            select(div_col),
            sums.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(day_number(period.from))
            .bind(day_number(period.to));
        if let Some(unit) = filter.unit {
            query = query.bind(unit);
        }
        let mut raw = Vec::new();
        for r in query.fetch_all(&self.read).await? {
            let mut c = Counters::default();
            for (i, v) in c.0.iter_mut().enumerate() {
                *v = r.get::<Option<i64>, _>(i + 3).unwrap_or(0);
            }
            raw.push(RawRow {
                key: r.get(0),
                day: r.get(1),
                division: filter.division.map(|_| r.get(2)),
                counters: c,
            });
        }
        let divisions = self.division_tree_for(group, filter).await?;
        self.finish_report(group, period, filter, weights, raw, divisions)
            .await
    }

    /// Maps raw rows to the asked group (rolling leaves up to their ancestor), applies the
    /// division filter, sums per (bucket, key) and names the groups.
    async fn finish_report(
        &self,
        group: &KpiGroup,
        period: &KpiPeriod,
        filter: &KpiFilter,
        weights: &Weights,
        raw: Vec<RawRow>,
        divisions: Option<Tree>,
    ) -> Result<Vec<KpiRow>, StoreError> {
        let matters = match group {
            KpiGroup::Matter(_) => Some(
                self.tree("SELECT id, parent_id, CAST(level AS TEXT), name FROM matters")
                    .await?,
            ),
            _ => None,
        };
        let mut out: BTreeMap<(Option<i64>, String), Counters> = BTreeMap::new();
        for r in raw {
            // A sum over no rows is a row of zeros on the fine table and no row on the roll-ups.
            if r.counters.is_zero() {
                continue;
            }
            if let (Some(within), Some(t), Some(leaf)) = (filter.division, &divisions, r.division)
                && !t.is_within(leaf, within)
            {
                continue;
            }
            let key = match group {
                KpiGroup::Total => "all".to_string(),
                KpiGroup::Matter(level) => matters
                    .as_ref()
                    .map_or(0, |t| {
                        t.ancestor_at(r.key.parse().unwrap_or(0), &level.to_string())
                    })
                    .to_string(),
                KpiGroup::Division(level) => divisions
                    .as_ref()
                    .map_or(0, |t| t.ancestor_at(r.key.parse().unwrap_or(0), level))
                    .to_string(),
                _ => r.key,
            };
            let bucket = period.bucket.map(|b| b.start(r.day));
            out.entry((bucket, key)).or_default().add(&r.counters);
        }
        // Key 0 of a filtered division grouping is a difference, which may come to nothing.
        out.retain(|_, c| !c.is_zero());
        let names: HashMap<i64, String> = match group {
            KpiGroup::Unit => sqlx::query("SELECT id, name FROM units")
                .fetch_all(&self.read)
                .await?
                .into_iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect(),
            KpiGroup::Matter(_) => matters.map(|t| t.name).unwrap_or_default(),
            KpiGroup::Division(_) => divisions.map(|t| t.name).unwrap_or_default(),
            _ => HashMap::new(),
        };
        Ok(out
            .into_iter()
            .map(|((bucket, key), c)| {
                let name = match group {
                    KpiGroup::Total => "全部 all".to_string(),
                    KpiGroup::Channel => key.clone(),
                    _ => key
                        .parse::<i64>()
                        .ok()
                        .and_then(|id| names.get(&id).cloned())
                        .unwrap_or_else(|| "未分配 none".to_string()),
                };
                let kpis = Kpis::from_counters(&c);
                KpiRow {
                    key,
                    name,
                    period_start: bucket.map(day_date),
                    counters: counters_map(&c),
                    score: kpis.score(weights),
                    kpis,
                }
            })
            .collect())
    }

    /// Ranks the groups of a period (without buckets) by composite score, best first; groups
    /// with fewer than `min_completed` completed requests, or no score, are left out.
    pub async fn kpi_ranking(
        &self,
        group: &KpiGroup,
        from: NaiveDate,
        to: NaiveDate,
        weights: &Weights,
        min_completed: i64,
    ) -> Result<Vec<RankedRow>, StoreError> {
        let period = KpiPeriod {
            from,
            to,
            bucket: None,
        };
        let mut rows: Vec<KpiRow> = self
            .kpi_report(group, &period, weights)
            .await?
            .into_iter()
            .filter(|r| {
                r.key != "0"
                    && r.score.is_some()
                    && r.counters.get("completed").copied().unwrap_or(0) >= min_completed
            })
            .collect();
        rows.sort_by(|a, b| {
            b.score
                .partial_cmp(&a.score)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then_with(|| a.key.cmp(&b.key))
        });
        Ok(rows
            .into_iter()
            .enumerate()
            .map(|(i, row)| RankedRow { rank: i + 1, row })
            .collect())
    }

    /// The whole stored aggregate table.
    pub async fn kpi_table(&self) -> Result<KpiTable, StoreError> {
        let sql = format!(
            "SELECT {}, {} FROM kpi_daily",
            KEY_COLUMNS.join(", "),
            COUNTER_NAMES.join(", ")
        );
        let mut out = KpiTable::new();
        for r in sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.read)
            .await?
        {
            let channel: String = r.get(4);
            let channel = Channel::parse(&channel)
                .ok_or_else(|| StoreError::Corrupt(format!("kpi channel {channel}")))?;
            let key = Key {
                day: r.get(0),
                unit: r.get(1),
                matter: r.get(2),
                division: r.get(3),
                channel: channel.as_str(),
            };
            let mut c = Counters::default();
            for (i, v) in c.0.iter_mut().enumerate() {
                *v = r.get(i + 5);
            }
            if !c.is_zero() {
                out.insert(key, c);
            }
        }
        Ok(out)
    }

    /// The whole stored roll-up table (for checks: it must equal [`rollup_of`] the fine table).
    pub async fn kpi_rollup_table(&self) -> Result<RollupTable, StoreError> {
        let sql = format!(
            "SELECT dim, grain, period, item, {} FROM kpi_rollup",
            COUNTER_NAMES.join(", ")
        );
        let mut out = RollupTable::new();
        for r in sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.read)
            .await?
        {
            let dim: String = r.get(0);
            let grain: String = r.get(1);
            let dim = ROLLUP_DIMS
                .into_iter()
                .find(|d| *d == dim)
                .ok_or_else(|| StoreError::Corrupt(format!("kpi_rollup dim {dim}")))?;
            let grain = ["day", "month"]
                .into_iter()
                .find(|g| *g == grain)
                .ok_or_else(|| StoreError::Corrupt(format!("kpi_rollup grain {grain}")))?;
            let mut c = Counters::default();
            for (i, v) in c.0.iter_mut().enumerate() {
                *v = r.get(i + 4);
            }
            if !c.is_zero() {
                out.insert((dim, grain, r.get(2), r.get(3)), c);
            }
        }
        Ok(out)
    }

    /// Every division's ancestors per level, from the tree as it stands (for [`rollup_of`]).
    pub async fn kpi_division_levels(&self) -> Result<DivisionLevels, StoreError> {
        division_levels(&self.read, None).await
    }

    /// Row counts of `kpi_daily` and `kpi_rollup`.
    pub async fn kpi_row_counts(&self) -> Result<(i64, i64), StoreError> {
        let r = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM kpi_daily), (SELECT COUNT(*) FROM kpi_rollup)",
        )
        .fetch_one(&self.read)
        .await?;
        Ok((r.get(0), r.get(1)))
    }

    /// Reads the histories of requests with ids in `[from, to)`, in order.
    async fn histories(&self, from: i64, to: i64) -> Result<Vec<Vec<Event>>, StoreError> {
        let rows = sqlx::query(
            "SELECT request_id, seq, at, actor_user_id, actor_role, actor_unit_id, payload \
             FROM events WHERE request_id >= $1 AND request_id < $2 ORDER BY request_id, seq",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.read)
        .await?;
        let mut out: Vec<Vec<Event>> = Vec::new();
        let mut current = None;
        for r in rows {
            let id: i64 = r.get(0);
            let role: String = r.get(4);
            let payload: String = r.get(6);
            let event = Event {
                request: RequestId(id),
                seq: u32::try_from(r.get::<i64, _>(1))
                    .map_err(|_| StoreError::Corrupt("event seq".into()))?,
                at: DateTime::<Utc>::from_timestamp_millis(r.get(2))
                    .ok_or_else(|| StoreError::Corrupt("event time".into()))?,
                actor: minyi_domain::unit::Actor {
                    user: r.get::<Option<i64>, _>(3).map(minyi_domain::UserId),
                    role: minyi_domain::unit::Role::parse(&role)
                        .ok_or_else(|| StoreError::Corrupt(format!("event role {role}")))?,
                    unit: r.get::<Option<i64>, _>(5).map(minyi_domain::UnitId),
                },
                kind: serde_json::from_str(&payload)
                    .map_err(|e| StoreError::Corrupt(format!("event payload: {e}")))?,
            };
            if current != Some(id) {
                out.push(Vec::new());
                current = Some(id);
            }
            if let Some(last) = out.last_mut() {
                last.push(event);
            }
        }
        Ok(out)
    }

    /// Computes the aggregates directly from the stored histories (every request's events
    /// folded from the start), `step` requests at a time, calling `progress(done, total)`.
    async fn compute_from_history(
        &self,
        step: i64,
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<KpiTable, StoreError> {
        let mut all = KpiTable::new();
        let row = sqlx::query("SELECT COALESCE(MIN(id), 0), COALESCE(MAX(id), 0) FROM requests")
            .fetch_one(&self.read)
            .await?;
        let (min, max): (i64, i64) = (row.get(0), row.get(1));
        let total = u64::try_from(max - min + 1).unwrap_or(0);
        let calendar = self.calendar();
        let mut from = min;
        while from <= max {
            let to = from + step;
            let mut part = KpiTable::new();
            for history in self.histories(from, to).await? {
                if Request::from_history(&history).is_none() {
                    return Err(StoreError::Corrupt(format!(
                        "request {}: history does not fold",
                        history.first().map_or(0, |e| e.request.0)
                    )));
                }
                kpi::merge_into(&mut part, &kpi::delta(None, &history, &calendar));
            }
            kpi::merge_into(&mut all, &part);
            progress(u64::try_from(to.min(max + 1) - min).unwrap_or(0), total);
            from = to;
        }
        all.retain(|_, c| !c.is_zero());
        Ok(all)
    }

    /// The aggregates computed directly from requests and events, without the table.
    pub async fn kpi_from_history(&self) -> Result<KpiTable, StoreError> {
        self.compute_from_history(5000, &mut |_, _| {}).await
    }

    /// Recomputes `kpi_daily` from the history in one transaction (readers see the old table
    /// until it commits), calling `progress(requests done, total)`. Returns the number of rows.
    pub async fn kpi_rebuild(
        &self,
        progress: &mut (dyn FnMut(u64, u64) + Send),
    ) -> Result<u64, StoreError> {
        let all = self.compute_from_history(5000, progress).await?;
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM kpi_daily")
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM kpi_rollup")
            .execute(&mut *tx)
            .await?;
        add_delta(self.kind, &mut tx, &all).await?;
        tx.commit().await?;
        Ok(all.len() as u64)
    }

    /// A naive dashboard query for comparison: events of a period counted by kind straight from
    /// `events` joined with `requests`, grouped by the request's *current* unit, matter,
    /// division or channel. Returns the number of result rows.
    pub async fn kpi_naive_group_by(
        &self,
        group: &KpiGroup,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<usize, StoreError> {
        let column = match group {
            KpiGroup::Total => "0",
            KpiGroup::Unit => "r.lead_unit_id",
            KpiGroup::Matter(_) => "r.matter_id",
            KpiGroup::Division(_) => "r.division_id",
            KpiGroup::Channel => "r.channel",
        };
        let group = if column == "0" {
            String::new()
        } else {
            format!("{column}, ")
        };
        let start = kpi::day_start(day_number(from)).timestamp_millis();
        let end = kpi::day_start(day_number(to)).timestamp_millis();
        let sql = format!(
            "SELECT {column}, e.kind, COUNT(*) FROM events e JOIN requests r ON r.id = e.request_id \
             WHERE e.at >= $1 AND e.at < $2 GROUP BY {group}e.kind"
        );
        Ok(sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(start)
            .bind(end)
            .fetch_all(&self.read)
            .await?
            .len())
    }

    /// The ranking weights (考核权重) an administrator set, or the defaults.
    pub async fn kpi_weights(&self) -> Result<Weights, StoreError> {
        match self.setting("kpi_weights").await? {
            Some(json) => serde_json::from_str(&json)
                .map_err(|e| StoreError::Corrupt(format!("kpi_weights: {e}"))),
            None => Ok(Weights::default()),
        }
    }

    /// Stores the ranking weights.
    pub async fn set_kpi_weights(&self, weights: &Weights) -> Result<(), StoreError> {
        let json = serde_json::to_string(weights)
            .map_err(|e| StoreError::Invalid(format!("kpi_weights: {e}")))?;
        self.set_setting("kpi_weights", &json).await
    }

    /// The automatic card rules (挂牌督办规则) an administrator set, or the defaults.
    pub async fn card_rules(&self) -> Result<CardRules, StoreError> {
        match self.setting("kpi_card_rules").await? {
            Some(json) => serde_json::from_str(&json)
                .map_err(|e| StoreError::Corrupt(format!("kpi_card_rules: {e}"))),
            None => Ok(CardRules::default()),
        }
    }

    /// Stores the automatic card rules.
    pub async fn set_card_rules(&self, rules: &CardRules) -> Result<(), StoreError> {
        let json = serde_json::to_string(rules)
            .map_err(|e| StoreError::Invalid(format!("kpi_card_rules: {e}")))?;
        self.set_setting("kpi_card_rules", &json).await
    }

    /// The local day of an instant, as a date (for callers choosing periods).
    pub fn kpi_date(at: DateTime<Utc>) -> NaiveDate {
        day_date(local_day(at))
    }
}
