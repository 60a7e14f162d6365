//! Duplicates (重复件): a request that repeats one still open — the same citizen filing again, or
//! several neighbours reporting the same fault — should be merged into that request (the parent,
//! 主件) rather than dispatched twice.
//!
//! [`DuplicateIndex`] keeps the open requests as sets of hashed character shingles (n-grams of
//! the normalised title and text: punctuation and spaces dropped, ASCII lower-cased, full-width
//! forms folded). A MinHash signature per request, cut into LSH bands, finds candidates in time
//! sub-linear in the index size; each candidate is then scored by the exact Jaccard similarity of
//! the shingle sets. Candidates are restricted to a division subtree (the scope the caller gives,
//! e.g. the request's street) and to a time window around the request.

use rustc_hash::{FxHashMap, FxHasher};
use serde::Serialize;
use std::hash::{Hash, Hasher};

/// Settings of a [`DuplicateIndex`].
#[derive(Debug, Clone, PartialEq)]
pub struct DuplicateConfig {
    /// Characters per shingle.
    pub shingle: usize,
    /// LSH bands; with `rows` this makes the MinHash signature length.
    pub bands: usize,
    /// MinHash rows per band: two requests become candidates when one band agrees on all rows.
    pub rows: usize,
    /// The least Jaccard similarity reported.
    pub threshold: f64,
    /// Candidates must lie within this many seconds of the request (either side).
    pub window_secs: i64,
}

impl Default for DuplicateConfig {
    /// Character trigrams, 20 bands × 3 rows (a pair becomes a candidate with probability
    /// 1 − (1 − J³)²⁰: ≈ 1 at Jaccard J = 0.8, 0.93 at 0.5, 0.42 at 0.3, 0.02 at 0.1), threshold 0.8 (the best F1 of
    /// `examples/duplicates_eval.rs` on real reposts), 30 days.
    fn default() -> Self {
        Self {
            shingle: 3,
            bands: 20,
            rows: 3,
            threshold: 0.8,
            window_secs: 30 * 24 * 3600,
        }
    }
}

/// One request as the index sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Doc<'a> {
    /// The request's id.
    pub id: u64,
    /// When it was received (seconds since the epoch, or any consistent unit of seconds).
    pub time: i64,
    /// Its division path from the root (empty when unknown).
    pub area: &'a [u64],
    /// Its title.
    pub title: &'a str,
    /// Its text.
    pub text: &'a str,
}

/// A likely parent of a request.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DuplicateMatch {
    /// The open request it repeats.
    pub parent: u64,
    /// Jaccard similarity of the shingle sets, 0–1.
    pub similarity: f64,
}

#[derive(Debug, Clone)]
struct Entry {
    id: u64,
    time: i64,
    area: Vec<u64>,
    shingles: Vec<u64>,
    signature: Vec<u64>,
    live: bool,
}

/// The open requests, searchable for near-duplicates. Insert on intake, remove on closing.
#[derive(Debug, Clone)]
pub struct DuplicateIndex {
    config: DuplicateConfig,
    seeds: Vec<u64>,
    entries: Vec<Entry>,
    by_id: FxHashMap<u64, usize>,
    buckets: FxHashMap<(u32, u64), Vec<u32>>,
}

/// Normalised characters of a text: letters, digits and ideographs only, full-width ASCII
/// folded to half-width, ASCII lower-cased.
pub fn normalise(text: &str) -> Vec<char> {
    text.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            _ => c,
        })
        .filter(|c| c.is_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The sorted, de-duplicated hashes of the `n`-character shingles of title + text. A text
/// shorter than `n` characters gives one shingle of the whole text; an empty one gives none.
pub fn shingles(title: &str, text: &str, n: usize) -> Vec<u64> {
    let mut chars = normalise(title);
    chars.extend(normalise(text));
    let n = n.max(1);
    let mut out: Vec<u64> = if chars.is_empty() {
        Vec::new()
    } else if chars.len() < n {
        vec![hash_chars(&chars)]
    } else {
        chars.windows(n).map(hash_chars).collect()
    };
    out.sort_unstable();
    out.dedup();
    out
}

fn hash_chars(chars: &[char]) -> u64 {
    let mut h = FxHasher::default();
    chars.hash(&mut h);
    mix(h.finish())
}

/// A 64-bit finaliser (splitmix64) so that seeded hashes are independent enough for MinHash.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Jaccard similarity of two sorted, de-duplicated sets.
pub fn jaccard(a: &[u64], b: &[u64]) -> f64 {
    if a.is_empty() && b.is_empty() {
        return 0.0;
    }
    let (mut i, mut j, mut common) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                i += 1;
                j += 1;
            }
        }
    }
    common as f64 / (a.len() + b.len() - common) as f64
}

impl DuplicateIndex {
    /// An empty index. Zero `bands`, `rows` or `shingle` are raised to 1.
    pub fn new(mut config: DuplicateConfig) -> Self {
        config.bands = config.bands.max(1);
        config.rows = config.rows.max(1);
        config.shingle = config.shingle.max(1);
        let seeds = (0..config.bands * config.rows)
            .map(|i| mix(0x5EED ^ (i as u64).wrapping_mul(0xA24B_AED4_963E_E407)))
            .collect();
        Self {
            config,
            seeds,
            entries: Vec::new(),
            by_id: FxHashMap::default(),
            buckets: FxHashMap::default(),
        }
    }

    /// The settings in use.
    pub fn config(&self) -> &DuplicateConfig {
        &self.config
    }

    /// How many requests are open in the index.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether the index holds no open request.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    fn signature(&self, shingles: &[u64]) -> Vec<u64> {
        self.seeds
            .iter()
            .map(|&seed| {
                // The shingle hashes are already mixed, so one xor-multiply per seed is enough
                // for a permutation-like order (the multiplier is odd, hence a bijection).
                let multiplier = seed | 1;
                shingles
                    .iter()
                    .map(|&s| (s ^ seed.rotate_left(32)).wrapping_mul(multiplier))
                    .min()
                    .unwrap_or(u64::MAX)
            })
            .collect()
    }

    fn band_keys<'s>(&self, signature: &'s [u64]) -> impl Iterator<Item = (u32, u64)> + 's {
        let rows = self.config.rows;
        signature.chunks(rows).enumerate().map(|(b, chunk)| {
            let mut h = FxHasher::default();
            chunk.hash(&mut h);
            (b as u32, h.finish())
        })
    }

    /// Adds (or replaces) an open request.
    pub fn insert(&mut self, doc: &Doc<'_>) {
        self.remove(doc.id);
        let shingles = shingles(doc.title, doc.text, self.config.shingle);
        if shingles.is_empty() {
            return;
        }
        let signature = self.signature(&shingles);
        let slot = self.entries.len() as u32;
        for key in self.band_keys(&signature) {
            self.buckets.entry(key).or_default().push(slot);
        }
        self.by_id.insert(doc.id, slot as usize);
        self.entries.push(Entry {
            id: doc.id,
            time: doc.time,
            area: doc.area.to_vec(),
            shingles,
            signature,
            live: true,
        });
    }

    /// Removes a request (closed, merged or withdrawn); returns whether it was there.
    pub fn remove(&mut self, id: u64) -> bool {
        let Some(slot) = self.by_id.remove(&id) else {
            return false;
        };
        let entry = &mut self.entries[slot];
        entry.live = false;
        entry.shingles = Vec::new();
        let signature = std::mem::take(&mut entry.signature);
        let keys: Vec<(u32, u64)> = self.band_keys(&signature).collect();
        for key in keys {
            if let Some(bucket) = self.buckets.get_mut(&key) {
                bucket.retain(|&s| s as usize != slot);
                if bucket.is_empty() {
                    self.buckets.remove(&key);
                }
            }
        }
        // Removed entries leave tombstones; rebuild once they outnumber the live ones.
        let dead = self.entries.len() - self.by_id.len();
        if dead > 64 && dead > self.by_id.len() {
            self.compact();
        }
        true
    }

    /// Drops the tombstones of removed requests and renumbers the buckets.
    fn compact(&mut self) {
        let entries: Vec<Entry> = std::mem::take(&mut self.entries)
            .into_iter()
            .filter(|e| e.live)
            .collect();
        self.by_id.clear();
        self.buckets.clear();
        for (slot, e) in entries.iter().enumerate() {
            self.by_id.insert(e.id, slot);
            for key in self.band_keys(&e.signature) {
                self.buckets.entry(key).or_default().push(slot as u32);
            }
        }
        self.entries = entries;
    }

    /// The open requests `doc` likely repeats, most similar first: within `scope` (a division
    /// id that must be on the candidate's area path; `None` for anywhere), within the time
    /// window, at or above the threshold, never `doc` itself; at most `limit`.
    pub fn find(&self, doc: &Doc<'_>, scope: Option<u64>, limit: usize) -> Vec<DuplicateMatch> {
        let shingles = shingles(doc.title, doc.text, self.config.shingle);
        if shingles.is_empty() {
            return Vec::new();
        }
        let signature = self.signature(&shingles);
        let mut seen: Vec<u32> = Vec::new();
        for key in self.band_keys(&signature) {
            if let Some(bucket) = self.buckets.get(&key) {
                seen.extend_from_slice(bucket);
            }
        }
        seen.sort_unstable();
        seen.dedup();
        let mut out: Vec<DuplicateMatch> = seen
            .into_iter()
            .map(|s| &self.entries[s as usize])
            .filter(|e| {
                e.live
                    && e.id != doc.id
                    && (e.time - doc.time).abs() <= self.config.window_secs
                    && scope.is_none_or(|s| e.area.contains(&s))
            })
            .map(|e| DuplicateMatch {
                parent: e.id,
                similarity: jaccard(&shingles, &e.shingles),
            })
            .filter(|m| m.similarity >= self.config.threshold)
            .collect();
        out.sort_by(|a, b| {
            b.similarity
                .total_cmp(&a.similarity)
                .then(a.parent.cmp(&b.parent))
        });
        out.truncate(limit);
        out
    }

    /// The single most likely parent, if any: [`DuplicateIndex::find`] with limit 1.
    pub fn best(&self, doc: &Doc<'_>, scope: Option<u64>) -> Option<DuplicateMatch> {
        self.find(doc, scope, 1).into_iter().next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc<'a>(id: u64, time: i64, area: &'a [u64], title: &'a str, text: &'a str) -> Doc<'a> {
        Doc {
            id,
            time,
            area,
            title,
            text,
        }
    }

    const DAY: i64 = 24 * 3600;
    const STREET_A: &[u64] = &[1, 10, 11, 12];
    const STREET_B: &[u64] = &[1, 10, 14, 15];

    #[test]
    fn normalising_drops_punctuation_and_folds_width_and_case() {
        assert_eq!(
            normalise("ＡＢ路灯，坏了! OK"),
            "ab路灯坏了ok".chars().collect::<Vec<_>>()
        );
        assert_eq!(shingles("", "", 3), Vec::<u64>::new());
        assert_eq!(shingles("路灯", "", 3).len(), 1);
        assert_eq!(shingles("路灯坏了", "", 3).len(), 2);
        assert_eq!(jaccard(&[1, 2, 3], &[2, 3, 4]), 0.5);
        assert_eq!(jaccard(&[], &[]), 0.0);
    }

    #[test]
    fn a_repost_is_found_and_an_unrelated_request_is_not() {
        let mut index = DuplicateIndex::new(DuplicateConfig::default());
        let text =
            "翠海花园3栋门口的路灯已经坏了两个星期，晚上出入非常不方便，老人容易摔倒，请尽快维修。";
        index.insert(&doc(1, 0, STREET_A, "翠海花园路灯坏了", text));
        index.insert(&doc(
            2,
            0,
            STREET_A,
            "小区噪音扰民",
            "楼下烧烤店每天营业到凌晨两点，油烟和噪音很大，影响休息。",
        ));
        assert_eq!(index.len(), 2);
        // Same citizen, one character changed: found at the default threshold.
        let repost =
            "翠海花园3栋门口的路灯已经坏了三个星期，晚上出入非常不方便，老人容易摔倒，请尽快维修！";
        let m = index.best(&doc(3, DAY, STREET_A, "翠海花园路灯坏了", repost), Some(11));
        let m = m.unwrap_or_else(|| panic!("the repost was not found"));
        assert_eq!(m.parent, 1);
        assert!(m.similarity > 0.8 && m.similarity < 1.0, "{}", m.similarity);
        // Reworded more heavily: below the default threshold, found by a looser index.
        let reworded =
            "翠海花园3栋门口路灯坏了快三个星期了，晚上出入很不方便，老人容易摔倒，麻烦尽快维修。";
        let q = doc(3, DAY, STREET_A, "翠海花园路灯坏了", reworded);
        assert!(index.best(&q, None).is_none());
        let mut loose = DuplicateIndex::new(DuplicateConfig {
            threshold: 0.4,
            ..DuplicateConfig::default()
        });
        loose.insert(&doc(1, 0, STREET_A, "翠海花园路灯坏了", text));
        let m = loose
            .best(&q, None)
            .unwrap_or_else(|| panic!("not found when loose"));
        assert!(m.parent == 1 && m.similarity < 0.8, "{m:?}");
        let other = doc(
            4,
            DAY,
            STREET_A,
            "停车收费",
            "小区停车场收费太高，每月六百元，请物价局核查。",
        );
        assert!(index.find(&other, None, 5).is_empty());
    }

    #[test]
    fn scope_window_and_removal_limit_the_candidates() {
        let mut index = DuplicateIndex::new(DuplicateConfig::default());
        let text = "华富路与红荔路交叉口的井盖松动，车辆经过时响声很大，夜里吵得睡不着。";
        index.insert(&doc(1, 0, STREET_A, "井盖松动", text));
        let again = doc(2, DAY, STREET_B, "井盖松动", text);
        // Anywhere: found, identical.
        let m = index
            .best(&again, None)
            .unwrap_or_else(|| panic!("not found"));
        assert_eq!((m.parent, m.similarity), (1, 1.0));
        // Within the district both share: found; within the other street only: not.
        assert!(index.best(&again, Some(10)).is_some());
        assert!(index.best(&again, Some(14)).is_none());
        // Outside the 30-day window: not.
        let late = doc(3, 40 * DAY, STREET_A, "井盖松动", text);
        assert!(index.best(&late, None).is_none());
        // Never itself.
        assert!(
            index
                .best(&doc(1, 0, STREET_A, "井盖松动", text), None)
                .is_none()
        );
        // Closed: gone.
        assert!(index.remove(1));
        assert!(!index.remove(1));
        assert!(index.best(&again, None).is_none());
        assert!(index.is_empty());
    }

    #[test]
    fn many_removals_compact_without_losing_live_requests() {
        let mut index = DuplicateIndex::new(DuplicateConfig::default());
        let texts: Vec<String> = (0..300)
            .map(|i| format!("第{i}号楼电梯故障，编号{}，请物业尽快维修", i * 7919))
            .collect();
        for (i, t) in texts.iter().enumerate() {
            index.insert(&doc(i as u64, 0, &[], "电梯故障", t));
        }
        for i in 0..250 {
            assert!(index.remove(i));
        }
        assert_eq!(index.len(), 50);
        assert!(index.entries.len() < 300, "tombstones were compacted");
        for i in 250..300u64 {
            let q = doc(10_000 + i, 0, &[], "电梯故障", &texts[i as usize]);
            assert_eq!(index.best(&q, None).map(|m| m.parent), Some(i));
        }
    }

    #[test]
    fn reinserting_an_id_replaces_it() {
        let mut index = DuplicateIndex::new(DuplicateConfig::default());
        index.insert(&doc(1, 0, &[], "路灯坏了", "小区门口路灯坏了很久"));
        index.insert(&doc(1, 0, &[], "噪音扰民", "工地夜间施工噪音扰民"));
        assert_eq!(index.len(), 1);
        let q = doc(2, 0, &[], "路灯坏了", "小区门口路灯坏了很久");
        assert!(index.best(&q, None).is_none());
        let q = doc(2, 0, &[], "噪音扰民", "工地夜间施工噪音扰民");
        assert_eq!(index.best(&q, None).map(|m| m.parent), Some(1));
    }

    #[test]
    fn shareable_across_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<DuplicateIndex>();
    }
}
