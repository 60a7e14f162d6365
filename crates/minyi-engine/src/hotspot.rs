//! Hot spots (热点): a sudden cluster of similar requests in one place — a water cut (停水) in a
//! community, a smell along a river — that the duty officer should see as one event before the
//! individual requests trickle through the queues.
//!
//! [`HotspotDetector`] is fed requests in time order, each with its division path and a key
//! that says what it is about (the matter id, or the parent id the duplicate index gave, or any
//! cluster label). For every division on the path it counts the requests with that key inside a
//! sliding window and compares the count with the trailing average over a longer baseline
//! period. A division fires when the count reaches `min_count`, reaches `ratio` times the
//! baseline average, and is improbable under a Poisson law with that average (tail probability
//! below `alpha`; the average is floored at `baseline_floor`, so a key never seen before still
//! needs a real cluster). The Poisson test matters for big divisions: five requests in six hours
//! are a surge in one community but chance in a district that averages one. Until the detector
//! has seen a whole baseline period the average is taken over the history it has (warm-up;
//! prime it with recent requests on start). Each surge is reported once (an episode): the
//! division stays quiet for that key until the window count falls below half of `min_count` or
//! below half the firing level. When several divisions on the path fire on the same request only
//! the deepest is reported, and no alert is raised while a division on the path already has a
//! running episode for the key, so one burst in a community does not also raise its street,
//! district and city, before or after.

use rustc_hash::FxHashMap;
use serde::Serialize;
use std::collections::VecDeque;

/// Settings of a [`HotspotDetector`].
#[derive(Debug, Clone, PartialEq)]
pub struct HotspotConfig {
    /// The sliding window, in seconds.
    pub window_secs: i64,
    /// The trailing baseline period before the window, in seconds.
    pub baseline_secs: i64,
    /// The least count in the window that can fire.
    pub min_count: usize,
    /// How many times the baseline average per window the count must reach.
    pub ratio: f64,
    /// The least baseline average per window used in the ratio and Poisson tests.
    pub baseline_floor: f64,
    /// The largest Poisson tail probability P(X ≥ count) that still fires.
    pub alpha: f64,
    /// How many levels at the top of the path to skip (1 skips the city).
    pub skip_levels: usize,
    /// How many request ids an alert carries.
    pub samples: usize,
}

impl Default for HotspotConfig {
    /// A 6-hour window against the 14 days before it; at least 5 requests, 4× the baseline
    /// and a Poisson tail below 10⁻⁴ (average floored at 0.5 per window); the city level is
    /// skipped; 10 sample ids.
    fn default() -> Self {
        Self {
            window_secs: 6 * 3600,
            baseline_secs: 14 * 24 * 3600,
            min_count: 5,
            ratio: 4.0,
            baseline_floor: 0.5,
            alpha: 1e-4,
            skip_levels: 1,
            samples: 10,
        }
    }
}

/// One incoming request as the detector sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observation<'a> {
    /// The request's id.
    pub id: u64,
    /// When it was received, in seconds.
    pub time: i64,
    /// Its division path from the root.
    pub area: &'a [u64],
    /// What it is about: a matter id, a duplicate-cluster parent, a topic label.
    pub key: &'a str,
}

/// A surge, reported once per episode.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HotspotAlert {
    /// The division where the requests cluster.
    pub division: u64,
    /// Its depth in the path (0 = the root).
    pub depth: usize,
    /// The key they share.
    pub key: String,
    /// Requests with this key in this division within the window, the triggering one included.
    pub count: usize,
    /// The trailing average per window over the baseline period.
    pub baseline: f64,
    /// The time of the request that fired the alert.
    pub time: i64,
    /// Up to `samples` ids of the requests in the window, earliest first.
    pub samples: Vec<u64>,
}

#[derive(Debug, Clone, Default)]
struct Series {
    /// (time, id), oldest first, covering the baseline period and the window.
    events: VecDeque<(i64, u64)>,
    /// Whether an episode is running.
    active: bool,
}

/// The streaming hot-spot detector. One per city; feed it every request at intake.
#[derive(Debug, Clone)]
pub struct HotspotDetector {
    config: HotspotConfig,
    series: FxHashMap<(u64, String), Series>,
    /// The earliest time observed, for the warm-up baseline.
    start: Option<i64>,
}

impl HotspotDetector {
    /// A detector with no history. A window or baseline below one second is raised to one.
    pub fn new(mut config: HotspotConfig) -> Self {
        config.window_secs = config.window_secs.max(1);
        config.baseline_secs = config.baseline_secs.max(1);
        config.min_count = config.min_count.max(1);
        Self {
            config,
            series: FxHashMap::default(),
            start: None,
        }
    }

    /// The settings in use.
    pub fn config(&self) -> &HotspotConfig {
        &self.config
    }

    /// Records a request and returns the alert it triggers, if any (at most one: the deepest
    /// division that fires). Requests should come in time order; a late one is filed in its
    /// place but windows are measured from the newest time seen in its series.
    pub fn observe(&mut self, obs: &Observation<'_>) -> Option<HotspotAlert> {
        let start = *self
            .start
            .insert(self.start.map_or(obs.time, |s| s.min(obs.time)));
        let c = &self.config;
        let horizon = c.window_secs + c.baseline_secs;
        let mut fired: Vec<(usize, u64, usize, f64)> = Vec::new();
        let mut running = false;
        for (depth, &division) in obs.area.iter().enumerate().skip(c.skip_levels) {
            let series = self
                .series
                .entry((division, obs.key.to_owned()))
                .or_default();
            let at = series.events.partition_point(|&(t, _)| t <= obs.time);
            series.events.insert(at, (obs.time, obs.id));
            let now = series.events.back().map_or(obs.time, |&(t, _)| t);
            while series
                .events
                .front()
                .is_some_and(|&(t, _)| t <= now - horizon)
            {
                series.events.pop_front();
            }
            let in_window = series.events.len()
                - series
                    .events
                    .partition_point(|&(t, _)| t <= now - c.window_secs);
            let trailing = series.events.len() - in_window;
            // The baseline covers what has been seen of the period before the window.
            let covered = c.baseline_secs.min(now - c.window_secs - start);
            let baseline = if covered >= c.window_secs {
                trailing as f64 * c.window_secs as f64 / covered as f64
            } else {
                0.0
            };
            let level = (c.ratio * baseline.max(c.baseline_floor)).max(c.min_count as f64);
            if series.active && (in_window as f64) * 2.0 < level {
                series.active = false;
            }
            let fires = in_window as f64 >= level
                && poisson_tail(in_window, baseline.max(c.baseline_floor)) < c.alpha;
            if series.active {
                running = true;
            } else if fires {
                series.active = true;
                fired.push((depth, division, in_window, baseline));
            }
        }
        if running {
            return None;
        }
        let &(depth, division, count, baseline) = fired.iter().max_by_key(|f| f.0)?;
        let series = self.series.get(&(division, obs.key.to_owned()))?;
        let now = series.events.back().map_or(obs.time, |&(t, _)| t);
        let samples = series
            .events
            .iter()
            .filter(|&&(t, _)| t > now - c.window_secs)
            .take(c.samples)
            .map(|&(_, id)| id)
            .collect();
        Some(HotspotAlert {
            division,
            depth,
            key: obs.key.to_owned(),
            count,
            baseline,
            time: obs.time,
            samples,
        })
    }

    /// The (division, key) pairs with a running episode.
    pub fn active(&self) -> Vec<(u64, &str)> {
        let mut out: Vec<(u64, &str)> = self
            .series
            .iter()
            .filter(|(_, s)| s.active)
            .map(|((d, k), _)| (*d, k.as_str()))
            .collect();
        out.sort_unstable();
        out
    }

    /// Forgets series with nothing newer than `now` minus the window and baseline (call now and
    /// then to bound memory); returns how many were dropped.
    pub fn prune(&mut self, now: i64) -> usize {
        let horizon = self.config.window_secs + self.config.baseline_secs;
        let before = self.series.len();
        self.series
            .retain(|_, s| s.events.back().is_some_and(|&(t, _)| t > now - horizon));
        before - self.series.len()
    }
}

/// P(X ≥ k) for X ~ Poisson(λ), summed in log space so large λ does not underflow.
pub fn poisson_tail(k: usize, lambda: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if lambda <= 0.0 {
        return 0.0;
    }
    let ln_lambda = lambda.ln();
    let mut ln_term = -lambda;
    let mut cdf = 0.0;
    for i in 0..k {
        if i > 0 {
            ln_term += ln_lambda - (i as f64).ln();
        }
        cdf += ln_term.exp();
    }
    (1.0 - cdf).max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    const HOUR: i64 = 3600;
    const DAY: i64 = 24 * HOUR;
    const KEYS: [&str; 5] = ["停水", "噪音", "路灯", "垃圾", "停车"];

    /// City 1 → district 10 → streets 100, 101 → communities 1000..1009 (five per street).
    fn path(community: u64) -> [u64; 4] {
        let street = 100 + (community - 1000) / 5;
        [1, 10, street, community]
    }

    /// 30 days of background: about one request per community every 3 days per key, at random
    /// times, in time order.
    fn background(rng: &mut SplitMix64, first_id: u64) -> Vec<(u64, i64, u64, &'static str)> {
        let mut out = Vec::new();
        let mut id = first_id;
        for community in 1000..1010u64 {
            for key in KEYS {
                for _ in 0..10 {
                    let t = rng.below(30 * DAY as usize) as i64;
                    out.push((id, t, community, key));
                    id += 1;
                }
            }
        }
        out.sort_by_key(|&(id, t, ..)| (t, id));
        out
    }

    fn run(detector: &mut HotspotDetector, events: &[(u64, i64, u64, &str)]) -> Vec<HotspotAlert> {
        events
            .iter()
            .filter_map(|&(id, time, community, key)| {
                let area = path(community);
                detector.observe(&Observation {
                    id,
                    time,
                    area: &area,
                    key,
                })
            })
            .collect()
    }

    #[test]
    fn poisson_tails_match_hand_figures() {
        assert_eq!(poisson_tail(0, 3.0), 1.0);
        assert_eq!(poisson_tail(3, 0.0), 0.0);
        // P(X ≥ 1) = 1 − e^−λ.
        assert!((poisson_tail(1, 0.5) - (1.0 - (-0.5f64).exp())).abs() < 1e-12);
        // P(X ≥ 5 | λ = 0.8) ≈ 0.00141; P(X ≥ 7 | 0.8) ≈ 1.8e-5.
        assert!(
            (poisson_tail(5, 0.8) - 0.001411).abs() < 2e-6,
            "{}",
            poisson_tail(5, 0.8)
        );
        assert!(poisson_tail(7, 0.8) < 1e-4);
        // Large averages stay finite: P(X ≥ 1000 | 1000) is about one half.
        let t = poisson_tail(1000, 1000.0);
        assert!(t > 0.4 && t < 0.6, "{t}");
    }

    #[test]
    fn background_noise_raises_nothing() {
        let mut rng = SplitMix64::new(7);
        let mut detector = HotspotDetector::new(HotspotConfig::default());
        let alerts = run(&mut detector, &background(&mut rng, 1));
        assert!(alerts.is_empty(), "{alerts:?}");
    }

    #[test]
    fn a_water_cut_in_one_community_fires_once_with_its_requests() {
        let mut rng = SplitMix64::new(11);
        let mut events = background(&mut rng, 1);
        // Day 30, 08:00–11:00: twelve 停水 requests from community 1003, one every 15 minutes,
        // and the background keeps going around them.
        let start = 30 * DAY + 8 * HOUR;
        let surge: Vec<u64> = (0..12).map(|i| 90_000 + i).collect();
        for (i, &id) in surge.iter().enumerate() {
            events.push((id, start + i as i64 * 15 * 60, 1003, "停水"));
        }
        for (i, key) in KEYS.iter().enumerate() {
            events.push((80_000 + i as u64, start + 30 * 60, 1007, key));
        }
        events.sort_by_key(|&(id, t, ..)| (t, id));
        let mut detector = HotspotDetector::new(HotspotConfig::default());
        let alerts = run(&mut detector, &events);
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        let a = &alerts[0];
        assert_eq!((a.division, a.depth, a.key.as_str()), (1003, 3, "停水"));
        // The sixth surge request passes the Poisson test at the floor average (five do not:
        // P(X ≥ 5 | 0.5) ≈ 1.7e-4); the alert comes early in the surge.
        assert!(a.count >= 5 && a.time <= start + 5 * 15 * 60, "{a:?}");
        assert!(a.baseline < 0.5, "{a:?}");
        assert!(
            a.samples.iter().filter(|id| surge.contains(id)).count() >= 4,
            "{a:?}"
        );
        assert!(detector.active().contains(&(1003, "停水")));
        // The street and district episodes started silently with the community's, and the
        // street does not fire later as the surge goes on.
        assert!(detector.active().contains(&(100, "停水")));
        assert!(detector.active().contains(&(10, "停水")));
    }

    #[test]
    fn a_second_surge_after_calm_fires_again_but_not_during_the_first() {
        let config = HotspotConfig {
            window_secs: 2 * HOUR,
            min_count: 4,
            ..HotspotConfig::default()
        };
        let mut detector = HotspotDetector::new(config);
        let area = path(1001);
        let mut alerts = Vec::new();
        let mut feed = |id: u64, time: i64| {
            alerts.extend(detector.observe(&Observation {
                id,
                time,
                area: &area,
                key: "停电",
            }));
        };
        // Ten requests in 90 minutes: one alert.
        for i in 0..10 {
            feed(i, DAY + i as i64 * 9 * 60);
        }
        // Calm, then a second burst of ten the next day: a new episode.
        for i in 0..10 {
            feed(100 + i, 2 * DAY + i as i64 * 60);
        }
        assert_eq!(alerts.len(), 2, "{alerts:?}");
        // Six (not four) because of the Poisson test: P(X ≥ 5 | 0.5) ≈ 1.7e-4.
        assert_eq!(alerts[0].samples, vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(alerts[1].samples[0], 100);
        // The second burst fires although the first is in the baseline (ten requests over the
        // day of history seen so far, under one per two-hour window).
        assert!(
            alerts[1].baseline > 0.0 && alerts[1].baseline < 1.0,
            "{alerts:?}"
        );
    }

    #[test]
    fn a_busy_key_needs_a_bigger_surge_and_prune_forgets_old_series() {
        let config = HotspotConfig {
            window_secs: DAY,
            baseline_secs: 10 * DAY,
            min_count: 3,
            ratio: 2.0,
            ..HotspotConfig::default()
        };
        let mut detector = HotspotDetector::new(config);
        let area = [1u64, 10, 100];
        let mut id = 0;
        let mut observe = |detector: &mut HotspotDetector, time: i64| {
            id += 1;
            detector.observe(&Observation {
                id,
                time,
                area: &area,
                key: "噪音",
            })
        };
        // Four a day for ten days: a steady load. The first day is warm-up (no baseline yet)
        // and may fire; after it nothing does.
        let mut alerts = Vec::new();
        for day in 0..10 {
            for k in 0..4 {
                alerts.extend(observe(&mut detector, day * DAY + k * 3 * HOUR));
            }
        }
        assert!(alerts.iter().all(|a| a.time < 2 * DAY), "{alerts:?}");
        // Day 10: one an hour. About four per window is the baseline, so the ratio asks for
        // eight and the Poisson test (P(X ≥ k | 4.3) < 10⁻⁴) for fifteen or so.
        let mut surge = Vec::new();
        for k in 0..20 {
            surge.extend(observe(&mut detector, 10 * DAY + 10 * HOUR + k * HOUR));
        }
        assert_eq!(surge.len(), 1, "{surge:?}");
        let a = &surge[0];
        assert_eq!(a.division, 100);
        assert!(a.baseline > 3.0 && a.baseline < 5.0, "{a:?}");
        assert!(a.count >= 14 && a.count <= 16, "{a:?}");
        assert!(poisson_tail(a.count, a.baseline) < 1e-4);
        assert!(poisson_tail(a.count - 1, a.baseline) >= 1e-4);
        assert_eq!(detector.prune(12 * DAY), 0);
        assert_eq!(detector.prune(40 * DAY), 2);
        assert!(detector.active().is_empty());
    }

    #[test]
    fn shareable_across_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<HotspotDetector>();
    }
}
