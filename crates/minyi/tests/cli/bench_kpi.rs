//! `minyi bench kpi` on a small history measured at two sizes of one database: the report has
//! both sizes with growing counts, the growth ratios, aggregates equal to the history at the end,
//! and the comparisons only for the groups asked.

use super::*;

#[test]
fn the_kpi_bench_times_the_queries_at_each_size_and_the_aggregates_equal_the_history() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("kpi");
    let out = ok(&[
        "bench",
        "kpi",
        "--requests",
        "3000",
        "--at",
        "1000",
        "--runs",
        "2",
        "--naive-runs",
        "1",
        "--compare",
        "total,division:street",
        "--verify",
        "--data-dir",
        data_dir.to_str().unwrap(),
        "--json",
    ]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        report["verify"]["aggregates_equal_history"], true,
        "{report:#}"
    );
    assert_eq!(
        report["verify"]["rollups_equal_history"], true,
        "{report:#}"
    );
    assert_eq!(report["rebuild"]["equal_to_maintained"], true, "{report:#}");
    let sizes = report["sizes"].as_array().unwrap();
    assert_eq!(sizes.len(), 2, "{report:#}");
    assert_eq!(sizes[0]["requests_received"], 1000);
    assert_eq!(sizes[1]["requests_received"], 3000);
    let (small, big) = (
        sizes[0]["requests"].as_u64().unwrap(),
        sizes[1]["requests"].as_u64().unwrap(),
    );
    // Split children come on top of the requests received.
    assert!(
        (1000..1200).contains(&small) && (3000..3600).contains(&big),
        "{small} {big}"
    );
    assert!(sizes[1]["events"].as_u64().unwrap() > sizes[0]["events"].as_u64().unwrap());
    assert_eq!(report["growth_from_first_size"]["from_requests"], 1000);
    assert_eq!(report["growth_from_first_size"]["to_requests"], 3000);
    let ratios = report["growth_from_first_size"]["ratios"]
        .as_object()
        .unwrap();
    assert!(
        ratios["unit (90 days)"]["p95"].as_f64().unwrap() > 0.0,
        "{report:#}"
    );
    let queries = report["queries"].as_object().unwrap();
    assert_eq!(queries.len(), 13, "{report:#}");
    // The compared group was also timed the slow ways and gave the same rows; the others not.
    let total = &queries["total (90 days)"];
    assert_eq!(total["naive_group_by"]["runs"], 1);
    assert_eq!(total["from_kpi_daily"]["runs"], 1);
    assert_eq!(
        queries["one district by street (90 days)"]["from_kpi_daily"]["runs"],
        1
    );
    let unit = &queries["unit (90 days)"];
    assert_eq!(unit["naive_group_by"]["runs"], 0, "{report:#}");
    assert_eq!(unit["from_kpi_daily"]["runs"], 0);
    assert!(unit["result_rows"].as_u64().unwrap() > 10, "{report:#}");
    assert_eq!(report["backend"], "sqlite");
    assert_eq!(report["stored_requests"], report["requests"]);
}

#[test]
fn the_kpi_bench_refuses_an_unknown_group_to_compare() {
    let out = minyi(&[
        "bench",
        "kpi",
        "--requests",
        "10",
        "--compare",
        "weather",
        "--json",
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unknown group weather"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
