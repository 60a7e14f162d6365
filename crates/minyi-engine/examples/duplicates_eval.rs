//! Precision and recall of the duplicate index (重复件) on real reposts.
//!
//! ```text
//! cargo run --release -p minyi-engine --example duplicates_eval -- \
//!     [path/to/unlabeled_with_likes.csv] [--window-days 365]
//! ```
//!
//! The default path is `../shared/data/teddy2020/unlabeled_with_likes.csv` relative to the
//! project root. The file holds messages (留言) with id, user, title, time and detail; no text
//! is copied anywhere, only counts are printed.
//!
//! Ground truth (a rule anyone can check by hand on the file, and not the index's own measure):
//! two messages are duplicates when
//!
//! - their details, reduced to letters, digits and ideographs, are at least 20 characters long
//!   and differ in at most 10 % of their characters (Levenshtein distance ≤ 0.1 × the longer
//!   length; identical details included), or
//! - the same user gave both the identical title (after removing whitespace).
//!
//! The edit-distance pairs are found exactly: a pair is skipped only when the length ratio or
//! the character histograms already prove a distance above the bound. Messages are replayed in time
//! order; each one queries the index of the messages before it (within the window) for its best
//! parent, then joins the index. A message is a positive when some earlier message within the
//! window is its duplicate by the rule; a prediction (best similarity ≥ threshold) is a true
//! positive when the parent it names is such a duplicate. Precision = TP / predictions, recall =
//! TP / positives. Pairs the index finds that the rule does not cover count against precision
//! even when a reader would call them reposts; the report counts how many of those false
//! positives come from the same user, as a hint of that.

use minyi_engine::similar::{Doc, DuplicateConfig, DuplicateIndex, normalise};
use rustc_hash::{FxHashMap, FxHashSet};
use std::path::PathBuf;
use std::time::Instant;

struct Message {
    id: u64,
    user: String,
    title: String,
    detail: String,
    time: i64,
}

/// Days since 1970-01-01 of a civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2019/2/28 11:25:05` (or with `-`, seconds optional) → seconds since the epoch.
fn parse_time(s: &str) -> Option<i64> {
    let mut parts = s.split([' ', '/', '-', ':']).filter(|p| !p.is_empty());
    let mut next = || parts.next().and_then(|p| p.trim().parse::<i64>().ok());
    let (y, mo, d) = (next()?, next()?, next()?);
    let (h, mi, se) = (
        next().unwrap_or(0),
        next().unwrap_or(0),
        next().unwrap_or(0),
    );
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se)
}

fn squash(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Whether the Levenshtein distance of `a` and `b` is at most `k` (banded dynamic programme with
/// early exit).
fn within_edits(a: &[char], b: &[char], k: usize) -> bool {
    let (a, b) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if b.len() - a.len() > k {
        return false;
    }
    let big = usize::MAX / 2;
    let mut prev: Vec<usize> = (0..=b.len())
        .map(|j| if j <= k { j } else { big })
        .collect();
    let mut cur = vec![big; b.len() + 1];
    for i in 1..=a.len() {
        let lo = i.saturating_sub(k).max(1);
        let hi = (i + k).min(b.len());
        cur.iter_mut().for_each(|c| *c = big);
        cur[0] = if i <= k { i } else { big };
        let mut row_min = cur[0];
        for j in lo..=hi {
            let sub = prev[j - 1] + usize::from(a[i - 1] != b[j - 1]);
            let v = sub.min(prev[j] + 1).min(cur[j - 1] + 1);
            cur[j] = v;
            row_min = row_min.min(v);
        }
        if row_min > k {
            return false;
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()] <= k
}

/// A lower bound of the edit distance: half the L1 distance of the character histograms,
/// rounded up (each edit changes the histogram by at most two).
fn histogram_bound(a: &FxHashMap<char, i32>, b: &FxHashMap<char, i32>) -> usize {
    let mut l1 = 0i64;
    for (c, &n) in a {
        l1 += i64::from((n - b.get(c).copied().unwrap_or(0)).abs());
    }
    for (c, &n) in b {
        if !a.contains_key(c) {
            l1 += i64::from(n);
        }
    }
    (l1 as usize).div_ceil(2)
}

fn read(path: &PathBuf) -> Result<Vec<Message>, Box<dyn std::error::Error>> {
    let mut reader = csv::Reader::from_path(path)?;
    let headers = reader.headers()?.clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}') == name)
            .ok_or_else(|| format!("no column {name:?}"))
    };
    let (id, user, title, time, detail) = (
        col("留言编号")?,
        col("留言用户")?,
        col("留言主题")?,
        col("留言时间")?,
        col("留言详情")?,
    );
    let mut out = Vec::new();
    for record in reader.records() {
        let r = record?;
        let get = |i: usize| r.get(i).unwrap_or("").to_owned();
        out.push(Message {
            id: get(id).trim().parse()?,
            user: get(user),
            title: get(title),
            detail: get(detail),
            time: parse_time(&get(time)).ok_or("bad time")?,
        });
    }
    Ok(out)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/teddy2020/unlabeled_with_likes.csv"
    ));
    let mut window_days: i64 = 365;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--window-days" {
            window_days = args.next().ok_or("--window-days needs a value")?.parse()?;
        } else {
            path = PathBuf::from(a);
        }
    }
    eprintln!("reading {}", path.display());
    let mut messages = read(&path)?;
    messages.sort_by_key(|m| (m.time, m.id));
    let n = messages.len();
    eprintln!("{n} messages");

    // Ground truth by the rule in the module comment.
    let mut truth: FxHashSet<(usize, usize)> = FxHashSet::default();
    let mut by_user_title: FxHashMap<(String, String), Vec<usize>> = FxHashMap::default();
    for (i, m) in messages.iter().enumerate() {
        by_user_title
            .entry((m.user.clone(), squash(&m.title)))
            .or_default()
            .push(i);
    }
    for group in by_user_title.values() {
        for (a, &i) in group.iter().enumerate() {
            for &j in &group[a + 1..] {
                truth.insert((i.min(j), i.max(j)));
            }
        }
    }
    let same_user_title = truth.len();
    let details: Vec<Vec<char>> = messages.iter().map(|m| normalise(&m.detail)).collect();
    let histograms: Vec<FxHashMap<char, i32>> = details
        .iter()
        .map(|d| {
            let mut h = FxHashMap::default();
            for &c in d {
                *h.entry(c).or_insert(0) += 1;
            }
            h
        })
        .collect();
    let mut order: Vec<usize> = (0..n).filter(|&i| details[i].len() >= 20).collect();
    order.sort_by_key(|&i| details[i].len());
    let truth_started = Instant::now();
    let mut near = 0usize;
    for (x, &i) in order.iter().enumerate() {
        for &j in &order[x + 1..] {
            let (li, lj) = (details[i].len(), details[j].len());
            let k = lj / 10; // lj ≥ li: the longer length bounds the distance.
            if lj - li > k {
                break; // Sorted by length: every later one is longer still.
            }
            if histogram_bound(&histograms[i], &histograms[j]) > k {
                continue;
            }
            if within_edits(&details[i], &details[j], k) && truth.insert((i.min(j), i.max(j))) {
                near += 1;
            }
        }
        if (x + 1) % 1000 == 0 {
            eprintln!(
                "  ground truth: {}/{} details compared ({:.1?})",
                x + 1,
                order.len(),
                truth_started.elapsed()
            );
        }
    }
    eprintln!(
        "ground truth: {same_user_title} same-user same-title pairs, {near} more near-identical-detail pairs"
    );
    let window = window_days * 86_400;
    let positives: usize = (0..n)
        .filter(|&i| {
            truth
                .iter()
                .any(|&(a, b)| b == i && messages[i].time - messages[a].time <= window)
        })
        .count();
    eprintln!(
        "ground truth: {} duplicate pairs, {positives} messages with an earlier duplicate within {window_days} days",
        truth.len()
    );

    let floor = 0.2;
    let config = DuplicateConfig {
        threshold: floor,
        window_secs: window,
        ..DuplicateConfig::default()
    };
    let mut index = DuplicateIndex::new(config.clone());
    let mut best: Vec<Option<(usize, f64)>> = Vec::with_capacity(n);
    let slot: FxHashMap<u64, usize> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| (m.id, i))
        .collect();
    let started = Instant::now();
    let mut query_time = std::time::Duration::ZERO;
    for (i, m) in messages.iter().enumerate() {
        let doc = Doc {
            id: m.id,
            time: m.time,
            area: &[],
            title: &m.title,
            text: &m.detail,
        };
        let q = Instant::now();
        let hit = index.best(&doc, None);
        query_time += q.elapsed();
        best.push(hit.and_then(|h| slot.get(&h.parent).map(|&p| (p, h.similarity))));
        index.insert(&doc);
        if (i + 1) % 1000 == 0 || i + 1 == n {
            eprintln!("  {}/{n} replayed ({:.1?})", i + 1, started.elapsed());
        }
    }

    let thresholds = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
    let mut rows = Vec::new();
    let mut chosen: Option<(f64, f64)> = None;
    for &t in &thresholds {
        let (mut tp, mut fp, mut fp_same_user) = (0usize, 0usize, 0usize);
        for (i, b) in best.iter().enumerate() {
            if let Some((p, s)) = *b
                && s >= t
            {
                if truth.contains(&(p.min(i), p.max(i))) {
                    tp += 1;
                } else {
                    fp += 1;
                    if messages[p].user == messages[i].user {
                        fp_same_user += 1;
                    }
                }
            }
        }
        let precision = if tp + fp == 0 {
            0.0
        } else {
            tp as f64 / (tp + fp) as f64
        };
        let recall = if positives == 0 {
            0.0
        } else {
            tp as f64 / positives as f64
        };
        let f1 = if precision + recall == 0.0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        };
        if chosen.is_none_or(|(_, best_f1)| f1 > best_f1) {
            chosen = Some((t, f1));
        }
        rows.push(serde_json::json!({
            "threshold": t,
            "predicted": tp + fp,
            "true_positives": tp,
            "false_positives": fp,
            "false_positives_same_user": fp_same_user,
            "precision": (precision * 10_000.0).round() / 10_000.0,
            "recall": (recall * 10_000.0).round() / 10_000.0,
            "f1": (f1 * 10_000.0).round() / 10_000.0,
        }));
    }
    let report = serde_json::json!({
        "file": path.file_name().map(|f| f.to_string_lossy().into_owned()),
        "messages": n,
        "ground_truth": {
            "rule": "details (letters, digits, ideographs; >= 20 chars) within Levenshtein 0.1 x longer length, or same user with identical title (whitespace removed)",
            "pairs": truth.len(),
            "pairs_same_user_title": same_user_title,
            "pairs_near_identical_detail_only": near,
            "positive_messages": positives,
        },
        "index": {
            "shingle": config.shingle,
            "bands": config.bands,
            "rows": config.rows,
            "window_days": window_days,
            "scope": "none (the file has no division codes)",
        },
        "mean_query_micros": (query_time.as_secs_f64() * 1e6 / n.max(1) as f64).round(),
        "thresholds": rows,
        "chosen_threshold": chosen.map(|(t, _)| t),
        "chosen_f1": chosen.map(|(_, f)| (f * 10_000.0).round() / 10_000.0),
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
