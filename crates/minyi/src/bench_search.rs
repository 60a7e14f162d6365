//! `minyi bench search`: full-text search on the request list over a generated history, each
//! query timed through the index (what `GET /api/v1/requests?q=` runs: the count and one page)
//! and as a naive `LIKE '%…%'` scan of the stored rows, in the same run.

use crate::bench_storage::{BenchStorage, stats_ms};
use crate::demo::{self, Progress, SeedOptions};
use anyhow::Context;
use chrono::{Duration, Utc};
use minyi_domain::request::State;
use minyi_domain::{DivisionId, UnitId};
use minyi_store::{Location, RequestFilter, SearchText, Sort, Store};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

/// Options of `minyi bench search`.
#[derive(Debug, Clone)]
pub struct SearchBenchOptions {
    pub requests: usize,
    /// Timed runs of each query through the index.
    pub runs: usize,
    /// Timed runs of each query as a naive scan.
    pub naive_runs: usize,
    /// PostgreSQL admin URL: a scratch database is created there and dropped afterwards.
    pub database_url: Option<String>,
    /// SQLite in this directory (must not hold a database); a temporary one otherwise.
    pub data_dir: Option<PathBuf>,
}

/// The p95 the search must keep under on a million requests.
pub const TARGET_P95_MS: f64 = 100.0;

/// One query of the fixed set.
struct Case {
    name: &'static str,
    q: &'static str,
    filter: RequestFilter,
    /// What the filter adds, for the report.
    filters: serde_json::Value,
}

/// Generates the history, times every query both ways and returns the JSON report.
pub async fn bench(
    options: &SearchBenchOptions,
    progress: &mut (dyn Progress + Send),
) -> anyhow::Result<serde_json::Value> {
    let storage =
        BenchStorage::prepare("bench-search", &options.database_url, &options.data_dir).await?;
    let result = run(options, &storage.location, &storage.work_dir, progress).await;
    storage.finish().await;
    result
}

fn text(q: &str) -> anyhow::Result<Option<SearchText>> {
    SearchText::parse(q).with_context(|| format!("search text {q:?}"))
}

/// The unit and the division most frequent among the first matches of a common word: the
/// unit-scoped and division-filtered queries use them.
async fn busy_unit_and_division(
    store: &Store,
) -> anyhow::Result<(Option<UnitId>, Option<DivisionId>)> {
    let page = store
        .list_requests(&RequestFilter {
            text: text("问题")?,
            page_size: RequestFilter::MAX_PAGE_SIZE,
            ..RequestFilter::default()
        })
        .await?;
    let most = |values: Vec<i64>| {
        let mut counts: HashMap<i64, usize> = HashMap::new();
        for v in values {
            *counts.entry(v).or_default() += 1;
        }
        counts
            .into_iter()
            .max_by_key(|(v, n)| (*n, std::cmp::Reverse(*v)))
            .map(|(v, _)| v)
    };
    let unit = most(page.items.iter().filter_map(|s| s.lead_unit_id).collect());
    let division = most(page.items.iter().filter_map(|s| s.division_id).collect());
    Ok((unit.map(UnitId), division.map(DivisionId)))
}

async fn run(
    options: &SearchBenchOptions,
    location: &Location,
    work_dir: &std::path::Path,
    progress: &mut (dyn Progress + Send),
) -> anyhow::Result<serde_json::Value> {
    let store = Store::open(location).await?;
    let end = chrono::DateTime::from_timestamp_millis(Utc::now().timestamp_millis())
        .unwrap_or_else(Utc::now);
    let seed_started = Instant::now();
    let seeded = demo::seed(
        &store,
        work_dir,
        &SeedOptions {
            requests: options.requests,
            days: 90,
            seed: 12345,
            end,
        },
        progress,
    )
    .await?;
    let seed_s = seed_started.elapsed().as_secs_f64();
    // Fresh planner statistics, as a database that has lived a while has them.
    store.analyze().await?;

    let (unit, division) = busy_unit_and_division(&store).await?;
    let page = |q: &'static str| -> anyhow::Result<RequestFilter> {
        Ok(RequestFilter {
            text: text(q)?,
            page: 1,
            page_size: 50,
            ..RequestFilter::default()
        })
    };
    let week_ago = end - Duration::days(7);
    let open = vec![State::Dispatched, State::Handling, State::Paused];
    let mut cases: Vec<Case> = Vec::new();
    let mut plain = |name, q| -> anyhow::Result<()> {
        cases.push(Case {
            name,
            q,
            filter: page(q)?,
            filters: serde_json::json!({}),
        });
        Ok(())
    };
    plain("2 chars, a rare matter word", "噪音")?;
    plain("2 chars, a district", "福田")?;
    plain("2 chars, a common word", "居民")?;
    plain("2 chars, in almost every text", "问题")?;
    plain("3 chars, a road", "红荔路")?;
    plain("3 chars, a place", "华强北")?;
    plain("4 chars, a road", "深南大道")?;
    plain("4 chars, a matter", "环境卫生")?;
    plain("7 chars, a common phrase", "多次反映未解决")?;
    plain("4 chars, in replies", "现场处理")?;
    plain("rare: road and number", "深南大道123号")?;
    plain("two terms", "深南大道 噪音")?;
    cases.push(Case {
        name: "2 chars, handling only",
        q: "噪音",
        filter: RequestFilter {
            states: vec![State::Handling],
            ..page("噪音")?
        },
        filters: serde_json::json!({ "state": "handling" }),
    });
    cases.push(Case {
        name: "4 chars, received in the last 7 days",
        q: "深南大道",
        filter: RequestFilter {
            received_from: Some(week_ago),
            ..page("深南大道")?
        },
        filters: serde_json::json!({ "received_from": week_ago }),
    });
    cases.push(Case {
        name: "2 chars, page 5 oldest first",
        q: "问题",
        filter: RequestFilter {
            sort: Sort::ReceivedAsc,
            page: 5,
            ..page("问题")?
        },
        filters: serde_json::json!({ "sort": "received_asc", "page": 5 }),
    });
    if let Some(d) = division {
        cases.push(Case {
            name: "2 chars, one compound",
            q: "问题",
            filter: RequestFilter {
                division: Some(d),
                ..page("问题")?
            },
            filters: serde_json::json!({ "division_id": d.0 }),
        });
    }
    if let Some(u) = unit {
        for (name, q) in [
            ("unit clerk: 2 chars, open requests", "居民"),
            ("unit clerk: 4 chars, open requests", "深南大道"),
        ] {
            cases.push(Case {
                name,
                q,
                filter: RequestFilter {
                    unit: Some(u),
                    states: open.clone(),
                    sort: Sort::DueAsc,
                    ..page(q)?
                },
                filters: serde_json::json!({
                    "unit_id": u.0, "state": "dispatched,handling,paused", "sort": "due_asc"
                }),
            });
        }
        cases.push(Case {
            name: "unit clerk: 3 chars, all states",
            q: "红荔路",
            filter: RequestFilter {
                unit: Some(u),
                ..page("红荔路")?
            },
            filters: serde_json::json!({ "unit_id": u.0 }),
        });
    }

    progress.phase(
        "检索计时 timing the searches",
        (cases.len() * (options.runs + options.naive_runs)) as u64,
    );
    let mut done = 0u64;
    let mut queries = Vec::with_capacity(cases.len());
    let mut worst_p95 = 0.0f64;
    for case in &cases {
        // One warm-up of each, untimed.
        let indexed_page = store.list_requests(&case.filter).await?;
        let mut indexed = Vec::with_capacity(options.runs);
        for _ in 0..options.runs {
            let t = Instant::now();
            store.list_requests(&case.filter).await?;
            indexed.push(t.elapsed().as_secs_f64() * 1e3);
            done += 1;
            progress.advance(done);
        }
        let mut naive = Vec::with_capacity(options.naive_runs);
        let mut naive_total = None;
        for _ in 0..options.naive_runs {
            let t = Instant::now();
            naive_total = Some(store.list_requests_naive(&case.filter).await?.total);
            naive.push(t.elapsed().as_secs_f64() * 1e3);
            done += 1;
            progress.advance(done);
        }
        let indexed = stats_ms(indexed);
        let naive = stats_ms(naive);
        let ratio = |key: &str| {
            naive[key].as_f64().unwrap_or(f64::NAN) / indexed[key].as_f64().unwrap_or(f64::NAN)
        };
        let p95 = indexed["p95_ms"].as_f64().unwrap_or(f64::NAN);
        worst_p95 = worst_p95.max(p95);
        queries.push(serde_json::json!({
            "name": case.name,
            "q": case.q,
            "filters": case.filters,
            "total": indexed_page.total,
            "indexed": indexed,
            "naive_like": naive,
            "naive_total": naive_total,
            "naive_over_indexed_p50": ratio("p50_ms"),
            "naive_over_indexed_p95": ratio("p95_ms"),
            "within_target": p95 <= TARGET_P95_MS,
        }));
    }
    progress.finish();
    let stats = store.stats().await?;
    let kind = store.kind();
    let disk = store.database_bytes().await.ok();
    store.close().await;
    Ok(serde_json::json!({
        "backend": match kind {
            minyi_store::StorageKind::Sqlite => "sqlite",
            minyi_store::StorageKind::Postgres => "postgres",
        },
        "requests": seeded.requests,
        "events": seeded.events,
        "stored_requests": stats.requests,
        "seed_seconds": seed_s,
        "database_bytes": disk,
        "target_p95_ms": TARGET_P95_MS,
        "worst_indexed_p95_ms": worst_p95,
        "all_within_target": worst_p95 <= TARGET_P95_MS,
        "note": "indexed = list_requests (COUNT of matches + one page of 50, what the API runs); \
                 naive_like = the same filters with LIKE '%term%' over title and snapshot (and \
                 the requester's address when allowed), no index; ranked by the list's sort",
        "queries": queries,
    }))
}
