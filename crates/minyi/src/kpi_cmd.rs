//! `minyi kpi …` (rebuild and report the KPI aggregates) and `minyi bench kpi` (dashboard query
//! latency from the aggregates against a naive GROUP BY over the raw history).

use crate::bench_storage::{BenchStorage, stats_ms};
use crate::demo::{self, Progress, SeedOptions};
use anyhow::Context;
use chrono::{Datelike, NaiveDate, Utc};
use minyi_domain::kpi::{Bucket, Weights};
use minyi_store::{KpiFilter, KpiGroup, KpiPeriod, Location, Store};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Parses a group name: `total`, `unit`, `channel`, `matter:<level>`, `division:<level>`.
pub fn parse_group(s: &str) -> anyhow::Result<KpiGroup> {
    Ok(match s.split_once(':') {
        None if s == "total" => KpiGroup::Total,
        None if s == "unit" => KpiGroup::Unit,
        None if s == "channel" => KpiGroup::Channel,
        Some(("matter", level)) => KpiGroup::Matter(level.parse().context("matter level")?),
        Some(("division", level)) => KpiGroup::Division(level.to_string()),
        _ => anyhow::bail!("unknown group {s}: total, unit, channel, matter:N, division:LEVEL"),
    })
}

/// Rebuilds the aggregates from the history, reporting progress.
pub async fn rebuild(store: &Store, progress: &mut (dyn Progress + Send)) -> anyhow::Result<u64> {
    let mut started = false;
    let rows = store
        .kpi_rebuild(&mut |done, total| {
            if !started {
                progress.phase("重算考核指标 rebuilding KPI aggregates", total);
                started = true;
            }
            progress.advance(done);
        })
        .await?;
    progress.finish();
    Ok(rows)
}

/// The disk a store takes: its SQLite files, or PostgreSQL's `pg_database_size`.
fn disk_bytes(location: &Location, dir: &Path, database_bytes: i64) -> u64 {
    match location {
        Location::Postgres(_) => u64::try_from(database_bytes).unwrap_or(0),
        _ => dir_size(dir),
    }
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Options of `minyi bench kpi`.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub requests: usize,
    /// Smaller sizes of the same database at which the queries are also timed, so that growth
    /// is measured within one run (`--at 1000000` with `--requests 10000000`).
    pub at: Vec<usize>,
    pub runs: usize,
    pub naive_runs: usize,
    /// The groups whose queries are also timed from `kpi_daily` and as a naive GROUP BY (all
    /// when empty); at 10,000,000 requests one naive query takes minutes.
    pub compare: Vec<String>,
    pub data_dir: Option<PathBuf>,
    /// PostgreSQL admin URL: the run uses a scratch database created there and dropped after.
    pub database_url: Option<String>,
    pub verify: bool,
    /// Rebuild the aggregates from the history after timing and compare with the maintained ones.
    pub rebuild: bool,
}

/// Generates the history, times the dashboard queries both ways, and returns the JSON report.
pub async fn bench(
    options: &BenchOptions,
    progress: &mut (dyn Progress + Send),
) -> anyhow::Result<serde_json::Value> {
    let storage =
        BenchStorage::prepare("bench-kpi", &options.database_url, &options.data_dir).await?;
    let result = run(options, &storage.location, &storage.work_dir, progress).await;
    storage.finish().await;
    result
}

async fn run(
    options: &BenchOptions,
    location: &Location,
    dir: &Path,
    progress: &mut (dyn Progress + Send),
) -> anyhow::Result<serde_json::Value> {
    std::fs::create_dir_all(dir)?;
    let store = Store::open(location).await?;
    let end = chrono::DateTime::from_timestamp_millis(Utc::now().timestamp_millis())
        .unwrap_or_else(Utc::now);
    let mut sizes: Vec<usize> = options
        .at
        .iter()
        .copied()
        .filter(|n| *n > 0 && *n < options.requests)
        .collect();
    sizes.push(options.requests);
    sizes.sort_unstable();
    sizes.dedup();
    // Seeding time only: the timings at the smaller sizes are not counted in it.
    let seed_started = Instant::now();
    let seed_options = SeedOptions {
        requests: options.requests,
        days: 90,
        seed: 12345,
        end,
    };
    let mut seeder = demo::Seeder::city(&store, dir, &seed_options, progress).await?;
    let mut seeding = seed_started.elapsed();
    let mut received = 0usize;
    let mut at_sizes = Vec::new();
    for size in &sizes {
        let t = Instant::now();
        seeder.history(&store, size - received, progress).await?;
        seeding += t.elapsed();
        received = *size;
        // Planner statistics as a database that has lived a while has them.
        store.analyze().await?;
        let (stored_requests, stored_events) = seeder.stored();
        let queries = time_queries(&store, options, end, progress).await?;
        let (daily_rows, rollup_rows) = store.kpi_row_counts().await?;
        let database_bytes = store.database_bytes().await?;
        let disk = disk_bytes(location, dir, database_bytes);
        let at_size = serde_json::json!({
            "requests_received": size,
            "requests": stored_requests,
            "events": stored_events,
            "seed_seconds_so_far": seeding.as_secs_f64(),
            "kpi_daily_rows": daily_rows,
            "kpi_rollup_rows": rollup_rows,
            "disk_bytes": disk,
            "database_bytes": database_bytes,
            "queries": queries,
        });
        // Each size as soon as it is measured, so that a long run stopped early still tells.
        eprintln!("{}", serde_json::json!({ "measured": at_size }));
        at_sizes.push(at_size);
    }
    let report = seeder.programme(&store, progress).await?;

    // The maintained aggregates, read once for both checks.
    let maintained = if options.verify || options.rebuild {
        Some((store.kpi_table().await?, store.kpi_division_levels().await?))
    } else {
        None
    };
    let verify = if let (true, Some((table, levels))) = (options.verify, &maintained) {
        let t = Instant::now();
        let direct = store.kpi_from_history().await?;
        let equal = direct == *table;
        let rollups_equal =
            store.kpi_rollup_table().await? == minyi_store::rollup_of(&direct, levels);
        serde_json::json!({
            "aggregates_equal_history": equal,
            "rollups_equal_history": rollups_equal,
            "seconds": t.elapsed().as_secs_f64(),
        })
    } else {
        serde_json::Value::Null
    };
    let rebuild = if let (true, Some((table, levels))) = (options.rebuild, &maintained) {
        let t = Instant::now();
        let rebuilt_rows = rebuild(&store, progress).await?;
        let rebuild_s = t.elapsed().as_secs_f64();
        let rebuilt_equal = store.kpi_table().await? == *table
            && store.kpi_rollup_table().await? == minyi_store::rollup_of(table, levels);
        serde_json::json!({ "seconds": rebuild_s, "rows": rebuilt_rows, "equal_to_maintained": rebuilt_equal })
    } else {
        serde_json::Value::Null
    };
    let stats = store.stats().await?;
    let database_bytes = store.database_bytes().await?;
    store.close().await;
    let backend = match location {
        Location::Postgres(_) => "postgres",
        _ => "sqlite",
    };
    let disk = disk_bytes(location, dir, database_bytes);
    let growth = growth(&at_sizes);
    let last = at_sizes.last().cloned().unwrap_or_default();
    Ok(serde_json::json!({
        "backend": backend,
        "requests": report.requests,
        "events": report.events,
        "stored_requests": stats.requests,
        "stored_events": stats.events,
        "seed_seconds": last["seed_seconds_so_far"],
        "kpi_daily_rows": last["kpi_daily_rows"],
        "kpi_rollup_rows": last["kpi_rollup_rows"],
        "verify": verify,
        "rebuild": rebuild,
        "disk_bytes": disk,
        "database_bytes": database_bytes,
        "queries": last["queries"],
        "sizes": at_sizes,
        "growth_from_first_size": growth,
    }))
}

/// For every query: p50 and p95 at the largest size over the same at the smallest.
fn growth(at_sizes: &[serde_json::Value]) -> serde_json::Value {
    let (Some(first), Some(last)) = (at_sizes.first(), at_sizes.last()) else {
        return serde_json::Value::Null;
    };
    if at_sizes.len() < 2 {
        return serde_json::Value::Null;
    }
    let mut out = serde_json::Map::new();
    if let Some(queries) = last["queries"].as_object() {
        for (name, q) in queries {
            let ratio = |key: &str| {
                let big = q["aggregates"][key].as_f64()?;
                let small = first["queries"][name]["aggregates"][key].as_f64()?;
                Some(big / small)
            };
            out.insert(
                name.clone(),
                serde_json::json!({ "p50": ratio("p50_ms"), "p95": ratio("p95_ms") }),
            );
        }
    }
    serde_json::json!({
        "from_requests": first["requests_received"],
        "to_requests": last["requests_received"],
        "ratios": out,
    })
}

/// Times every dashboard query on the store as it is: from the roll-ups `runs` times, and for
/// the compared groups from `kpi_daily` and as a naive GROUP BY over the raw tables.
async fn time_queries(
    store: &Store,
    options: &BenchOptions,
    end: chrono::DateTime<Utc>,
    progress: &mut (dyn Progress + Send),
) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
    let compared =
        |name: &str| options.compare.is_empty() || options.compare.iter().any(|c| c == name);
    let to = Store::kpi_date(end) + chrono::Days::new(1);
    let from = to - chrono::Days::new(92);
    let month_from = NaiveDate::from_ymd_opt(to.year(), to.month(), 1).unwrap_or(from);
    let whole = KpiPeriod {
        from,
        to,
        bucket: None,
    };
    let weights = Weights::default();
    let groups: Vec<(&str, KpiGroup)> = vec![
        ("total", KpiGroup::Total),
        ("unit", KpiGroup::Unit),
        ("channel", KpiGroup::Channel),
        ("matter:1", KpiGroup::Matter(1)),
        ("matter:3", KpiGroup::Matter(3)),
        ("division:district", KpiGroup::Division("district".into())),
        ("division:street", KpiGroup::Division("street".into())),
        ("division:community", KpiGroup::Division("community".into())),
    ];
    let mut queries = serde_json::Map::new();
    let none = KpiFilter::default();
    progress.phase("查询计时 timing the queries", groups.len() as u64 + 5);
    let mut timed = 0u64;
    for (name, group) in &groups {
        timed += 1;
        let mut agg = Vec::with_capacity(options.runs);
        let mut rows = 0;
        for _ in 0..options.runs {
            let t = Instant::now();
            rows = store.kpi_report(group, &whole, &weights).await?.len();
            agg.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let compare = compared(name);
        let mut daily = Vec::with_capacity(options.runs);
        let mut daily_rows = rows;
        for _ in 0..if compare {
            options.naive_runs.max(1)
        } else {
            0
        } {
            let t = Instant::now();
            daily_rows = store
                .kpi_report_daily(group, &whole, &none, &weights)
                .await?
                .len();
            daily.push(t.elapsed().as_secs_f64() * 1e3);
        }
        if daily_rows != rows {
            anyhow::bail!("{name}: roll-ups give {rows} rows, kpi_daily {daily_rows}");
        }
        let mut naive = Vec::with_capacity(options.naive_runs);
        let mut naive_rows = 0;
        for _ in 0..if compare { options.naive_runs } else { 0 } {
            let t = Instant::now();
            naive_rows = store.kpi_naive_group_by(group, from, to).await?;
            naive.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let agg = stats_ms(agg);
        let naive = stats_ms(naive);
        let speedup = naive["p50_ms"].as_f64().unwrap_or(f64::NAN)
            / agg["p50_ms"].as_f64().unwrap_or(f64::NAN);
        progress.advance(timed);
        queries.insert(
            format!("{name} (90 days)"),
            serde_json::json!({
                "aggregates": agg,
                "result_rows": rows,
                "from_kpi_daily": stats_ms(daily),
                "naive_group_by": naive,
                "naive_result_rows": naive_rows,
                "speedup_vs_naive_p50": speedup,
            }),
        );
    }
    // Time series and ranking, aggregates only.
    for (name, bucket) in [
        ("total by week", Bucket::Week),
        ("total by day", Bucket::Day),
    ] {
        let period = KpiPeriod {
            bucket: Some(bucket),
            ..whole
        };
        let mut agg = Vec::new();
        let mut rows = 0;
        for _ in 0..options.runs {
            let t = Instant::now();
            rows = store
                .kpi_report(&KpiGroup::Total, &period, &weights)
                .await?
                .len();
            agg.push(t.elapsed().as_secs_f64() * 1e3);
        }
        queries.insert(
            format!("{name} (90 days)"),
            serde_json::json!({ "aggregates": stats_ms(agg), "result_rows": rows }),
        );
        timed += 1;
        progress.advance(timed);
    }
    let mut agg = Vec::new();
    let mut rows = 0;
    for _ in 0..options.runs {
        let t = Instant::now();
        rows = store
            .kpi_ranking(&KpiGroup::Unit, month_from, to, &weights, 1)
            .await?
            .len();
        agg.push(t.elapsed().as_secs_f64() * 1e3);
    }
    queries.insert(
        "unit ranking (this month)".into(),
        serde_json::json!({ "aggregates": stats_ms(agg), "result_rows": rows }),
    );
    timed += 1;
    progress.advance(timed);
    // A unit's own figures by week (what a unit role's page asks) and one district's streets.
    let some_unit = store
        .kpi_ranking(&KpiGroup::Unit, from, to, &weights, 1)
        .await?
        .first()
        .and_then(|r| r.row.key.parse::<i64>().ok());
    if let Some(unit) = some_unit {
        let filter = KpiFilter {
            unit: Some(unit),
            division: None,
        };
        let period = KpiPeriod {
            bucket: Some(Bucket::Week),
            ..whole
        };
        let mut agg = Vec::new();
        let mut rows = 0;
        for _ in 0..options.runs {
            let t = Instant::now();
            rows = store
                .kpi_report_filtered(&KpiGroup::Total, &period, &filter, &weights)
                .await?
                .len();
            agg.push(t.elapsed().as_secs_f64() * 1e3);
        }
        queries.insert(
            "one unit by week (90 days)".into(),
            serde_json::json!({ "aggregates": stats_ms(agg), "result_rows": rows }),
        );
        timed += 1;
        progress.advance(timed);
    }
    // Drill-down: one district's streets (the district with the most requests).
    let districts = store
        .kpi_report(&KpiGroup::Division("district".into()), &whole, &weights)
        .await?;
    let busiest = districts
        .iter()
        .filter(|r| r.key != "0")
        .max_by_key(|r| r.counters.get("received").copied().unwrap_or(0))
        .and_then(|r| r.key.parse::<i64>().ok());
    if let Some(district) = busiest {
        let filter = KpiFilter {
            unit: None,
            division: Some(district),
        };
        let street = KpiGroup::Division("street".into());
        let mut agg = Vec::new();
        let mut rows = 0;
        for _ in 0..options.runs {
            let t = Instant::now();
            rows = store
                .kpi_report_filtered(&street, &whole, &filter, &weights)
                .await?
                .len();
            agg.push(t.elapsed().as_secs_f64() * 1e3);
        }
        let mut daily = Vec::new();
        let compare = compared("division:street");
        for _ in 0..if compare {
            options.naive_runs.max(1)
        } else {
            0
        } {
            let t = Instant::now();
            let slow = store
                .kpi_report_daily(&street, &whole, &filter, &weights)
                .await?
                .len();
            daily.push(t.elapsed().as_secs_f64() * 1e3);
            if slow != rows {
                anyhow::bail!("district by street: roll-ups give {rows} rows, kpi_daily {slow}");
            }
        }
        queries.insert(
            "one district by street (90 days)".into(),
            serde_json::json!({
                "aggregates": stats_ms(agg),
                "result_rows": rows,
                "from_kpi_daily": stats_ms(daily),
            }),
        );
        timed += 1;
        progress.advance(timed);
    }
    progress.finish();
    Ok(queries)
}
