//! Signals across requests, kept by every node: duplicates (重复件), hot spots (热点) and the
//! knowledge base (知识库).
//!
//! Every node follows the same stream — the stored requests in id order — so that what one node
//! takes in, the others see on their next intake: before it looks for duplicates, a node reads
//! the requests stored since it last looked ([`Signals::catch_up`]) into its duplicate index and
//! its hot-spot detector. A request's own intake is seen the same way, after its commit. Ids can
//! commit out of order on PostgreSQL (drawn from a sequence by concurrent transactions), so each
//! read there goes back [`OVERLAP`] ids and skips those already seen; SQLite's one writer takes
//! the next id and commits in id order, so a read there starts after the last id seen. Alerts are stored with a unique key, so two nodes that see the same surge store
//! one alert.
//!
//! A duplicate candidate is only proposed while its parent is open; closed or merged parents are
//! dropped from the index when met. The flag is written after the request's commit: it is the
//! engine's advice, not part of what was acknowledged to the citizen, and the suggestion stored
//! in the intake transaction carries it too.

use crate::reference::City;
use chrono::{DateTime, Duration, Utc};
use minyi_domain::DivisionId;
use minyi_domain::division::DivisionLevel;
use minyi_engine::hotspot::{HotspotConfig, HotspotDetector, Observation};
use minyi_engine::knowledge::{Entry, KnowledgeBase};
use minyi_engine::similar::{Doc, DuplicateConfig, DuplicateIndex, DuplicateMatch};
use minyi_store::{NewHotspot, RecentRequest, Store, StoreError};
use rustc_hash::FxHashSet;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{Mutex, RwLock};

/// How many ids before the last one seen each read goes back on PostgreSQL (for ids committed
/// out of order).
pub const OVERLAP: i64 = 200;
/// The most requests read from the stream at once.
const BATCH: i64 = 5_000;

/// The knowledge base with the store's fingerprint of it when it was built.
type CachedKnowledge = ((i64, i64), Arc<KnowledgeBase>);

/// The cross-request detectors of one node.
#[derive(Debug)]
pub struct Signals {
    inner: Mutex<Inner>,
    /// One reader of the stream at a time, holding the instant its read began: a caller that
    /// asked before the last read began is served by it (that read saw everything committed
    /// before the caller asked), so under load concurrent intakes share one read instead of
    /// each fetching the same new requests.
    reader: Mutex<Option<Instant>>,
    knowledge: RwLock<Option<CachedKnowledge>>,
}

#[derive(Debug)]
struct Inner {
    duplicates: DuplicateIndex,
    hotspots: HotspotDetector,
    /// The highest id read from the stream.
    last_id: i64,
    /// Ids read, with their time in seconds, oldest first, for pruning.
    seen_order: VecDeque<(i64, i64)>,
    seen: FxHashSet<i64>,
    /// Whether the history before start-up was read.
    warmed: bool,
}

impl Default for Signals {
    fn default() -> Self {
        Self::new(DuplicateConfig::default(), HotspotConfig::default())
    }
}

/// A request's division path from the city down, as the engine's detectors take it.
fn area(city: &City, division: Option<i64>) -> Vec<u64> {
    let Some(d) = division else {
        return Vec::new();
    };
    let mut path: Vec<u64> = city
        .divisions
        .self_and_ancestors(DivisionId(d))
        .into_iter()
        .map(|d| d.0 as u64)
        .collect();
    path.reverse();
    path
}

/// Where duplicates are looked for: the street (or the deepest division above it) of the place.
fn scope(city: &City, division: Option<i64>) -> Option<u64> {
    let d = division?;
    let chain = city.divisions.self_and_ancestors(DivisionId(d));
    chain
        .iter()
        .find(|id| {
            city.divisions
                .get(**id)
                .is_some_and(|n| n.level == DivisionLevel::Street)
        })
        .or_else(|| chain.first())
        .map(|id| id.0 as u64)
}

fn topic(r: &RecentRequest) -> Option<String> {
    r.matter_id.map(|m| format!("matter:{m}"))
}

fn is_open(state: &str) -> bool {
    !matches!(state, "closed" | "merged" | "split")
}

impl Signals {
    /// Detectors with these settings.
    pub fn new(duplicates: DuplicateConfig, hotspots: HotspotConfig) -> Self {
        Signals {
            inner: Mutex::new(Inner {
                duplicates: DuplicateIndex::new(duplicates),
                hotspots: HotspotDetector::new(hotspots),
                last_id: 0,
                seen_order: VecDeque::new(),
                seen: FxHashSet::default(),
                warmed: false,
            }),
            reader: Mutex::new(None),
            knowledge: RwLock::new(None),
        }
    }

    /// Reads the requests stored since the last read into the detectors and stores the hot-spot
    /// alerts they raise. The first call reads the window before `now` (the longer of the
    /// duplicate window and the hot-spot baseline); alerts from that history are stored only if
    /// they fired within the last hot-spot window. Returns how many requests were read (0 when
    /// a read that began after this call was made already covered it).
    pub async fn catch_up(
        &self,
        store: &Store,
        city: &City,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let asked = Instant::now();
        let mut last_began = self.reader.lock().await;
        if last_began.is_some_and(|began| began >= asked) {
            return Ok(0);
        }
        *last_began = Some(Instant::now());
        let result = self.read_stream(store, city, now).await;
        if result.is_err() {
            // A failed read covered nothing: the next caller reads again.
            *last_began = None;
        }
        result
    }

    async fn read_stream(
        &self,
        store: &Store,
        city: &City,
        now: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let overlap = match store.kind() {
            minyi_store::StorageKind::Sqlite => 0,
            minyi_store::StorageKind::Postgres => OVERLAP,
        };
        let (after, since, alert_after) = {
            let inner = self.inner.lock().await;
            let horizon =
                inner.duplicates.config().window_secs.max(
                    inner.hotspots.config().baseline_secs + inner.hotspots.config().window_secs,
                );
            let alert_after = now - Duration::seconds(inner.hotspots.config().window_secs);
            (
                (inner.last_id - overlap).max(0),
                now - Duration::seconds(horizon),
                alert_after,
            )
        };
        let mut read = 0;
        let mut after = after;
        loop {
            // Ids first: most of the re-read overlap is already known, and only the unseen
            // requests are fetched whole (their snapshot parsed for the text).
            let ids = store.recent_request_ids(after, since, BATCH).await?;
            let n = ids.len();
            if let Some(last) = ids.last() {
                after = after.max(*last);
            }
            let unseen: Vec<i64> = {
                let inner = self.inner.lock().await;
                ids.into_iter()
                    .filter(|id| !inner.seen.contains(id))
                    .collect()
            };
            let mut rows = Vec::with_capacity(unseen.len());
            for chunk in unseen.chunks(500) {
                rows.extend(store.recent_requests_by_id(chunk).await?);
            }
            let mut alerts = Vec::new();
            {
                let mut inner = self.inner.lock().await;
                for r in &rows {
                    after = after.max(r.id);
                    if !inner.seen.insert(r.id) {
                        continue;
                    }
                    read += 1;
                    let t = r.received_at.timestamp();
                    inner.seen_order.push_back((t, r.id));
                    inner.last_id = inner.last_id.max(r.id);
                    let path = area(city, r.division_id);
                    if is_open(&r.state) {
                        inner.duplicates.insert(&Doc {
                            id: r.id as u64,
                            time: t,
                            area: &path,
                            title: &r.title,
                            text: &r.text,
                        });
                    }
                    if let Some(key) = topic(r)
                        && let Some(alert) = inner.hotspots.observe(&Observation {
                            id: r.id as u64,
                            time: t,
                            area: &path,
                            key: &key,
                        })
                    {
                        let fired_at = DateTime::from_timestamp(alert.time, 0).unwrap_or_default();
                        if fired_at >= alert_after {
                            alerts.push(NewHotspot {
                                division_id: alert.division as i64,
                                topic: alert.key.clone(),
                                request_count: alert.count as i64,
                                baseline: alert.baseline,
                                fired_at,
                                samples: alert.samples.iter().map(|s| *s as i64).collect(),
                            });
                        }
                    }
                }
                inner.warmed = true;
                inner.prune(now);
            }
            for alert in &alerts {
                store.record_hotspot(alert).await?;
            }
            if (n as i64) < BATCH {
                break;
            }
        }
        Ok(read)
    }

    /// The open request that a new request most likely repeats, if any: same street, within the
    /// window, at least the similarity threshold. Parents found closed are dropped.
    pub async fn find_duplicate(
        &self,
        store: &Store,
        city: &City,
        division: Option<i64>,
        title: &str,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<DuplicateMatch>, StoreError> {
        let path = area(city, division);
        let scope = scope(city, division);
        let doc = Doc {
            id: u64::MAX,
            time: now.timestamp(),
            area: &path,
            title,
            text,
        };
        let candidates = self.inner.lock().await.duplicates.find(&doc, scope, 5);
        if candidates.is_empty() {
            return Ok(None);
        }
        let ids: Vec<i64> = candidates.iter().map(|c| c.parent as i64).collect();
        let states = store.request_states(&ids).await?;
        let mut inner = self.inner.lock().await;
        for c in candidates {
            let open = states
                .iter()
                .any(|(id, s)| *id == c.parent as i64 && is_open(s));
            if open {
                return Ok(Some(c));
            }
            inner.duplicates.remove(c.parent);
        }
        Ok(None)
    }

    /// The knowledge base as stored now (rebuilt when an entry changed since the last call).
    pub async fn knowledge(&self, store: &Store) -> Result<Arc<KnowledgeBase>, StoreError> {
        let version = store.knowledge_version().await?;
        if let Some((v, kb)) = self.knowledge.read().await.as_ref()
            && *v == version
        {
            return Ok(kb.clone());
        }
        let entries: Vec<Entry> = store
            .knowledge_entries()
            .await?
            .into_iter()
            .filter(|e| e.active)
            .map(|e| Entry {
                id: e.id,
                question: e.question,
                answer: e.answer,
                tags: e.tags,
            })
            .collect();
        let kb = Arc::new(
            tokio::task::spawn_blocking(move || KnowledgeBase::new(entries))
                .await
                .map_err(|e| {
                    StoreError::Invalid(format!("indexing the knowledge base failed: {e}"))
                })?,
        );
        *self.knowledge.write().await = Some((version, kb.clone()));
        Ok(kb)
    }
}

impl Inner {
    /// Forgets requests older than the duplicate window (the detector prunes its own series).
    fn prune(&mut self, now: DateTime<Utc>) {
        let horizon = now.timestamp() - self.duplicates.config().window_secs;
        while let Some(&(t, id)) = self.seen_order.front() {
            if t >= horizon {
                break;
            }
            self.seen_order.pop_front();
            self.seen.remove(&id);
            self.duplicates.remove(id as u64);
        }
        self.hotspots.prune(now.timestamp());
    }
}
