//! KPIs (考核指标): additive counters derived from the history, and the rates computed from them.
//!
//! Every KPI of the mission is a ratio of two sums of additive counters, so a table of counters
//! keyed by (day, unit, matter, division, channel) can be maintained incrementally — each event
//! adds its contribution once, in the transaction that appends it — and summed over any period
//! and any group of keys (a division subtree, a catalogue branch, a week, a month).
//!
//! # Attribution
//!
//! An event contributes to the key of the request **as it stands right after the event**
//! (see [`event_delta`]):
//! - **day**: the local (China Standard Time, UTC+8) calendar day of the event, as a day number
//!   since 1970-01-01 ([`local_day`]); a KPI over a period counts the events that happened in it
//!   (signing in the period, replies in the period, ratings in the period …);
//! - **unit**: the lead unit (主办单位) at that moment, `0` before the first dispatch;
//! - **matter**: the classified leaf matter, `0` while unclassified;
//! - **division**: the division of the problem's location, `0` when unknown;
//! - **channel**: the intake channel.
//!
//! A return (退单) keeps the assignment, so it counts against the unit that returned it; a
//! re-dispatch moves later counters to the new unit.
//!
//! # Counters ([`C`])
//! | counter | +1 on |
//! |---|---|
//! | `received` | `Received` (受理) |
//! | `answered_at_intake` | `AnsweredAtIntake` (即时办结) |
//! | `dispatched` | `Dispatched` or `Arbitrated` (派单, including re-dispatch) |
//! | `first_dispatched` | the request's first dispatch |
//! | `auto_dispatched` | a first dispatch whose category came from the engine (`CategorySource::Engine`) |
//! | `signed` / `signed_on_time` | `Signed`; on time when the response clock was met by its deadline |
//! | `returned` | `Returned` (退单) |
//! | `first_returned` | the first `Returned` of a request (its first dispatch was wrong) |
//! | `completed` / `completed_on_time` | `Replied` (办结); on time when the handling clock was met by its (extended) deadline |
//! | `handling_ms` / `handling_work_s` | on `Replied`: time from the start of the handling clock (dispatch or reopen) to the reply, in calendar milliseconds and in working seconds of the calendar |
//! | `rated` / `satisfied` / `solved` | `Rated`; satisfied = satisfied or basically satisfied; solved as the citizen said |
//! | `reopened` | `Reopened` (重办) |
//! | `closed` | `Closed` (归档) |
//! | `escalated` | `Escalated` (超期督办, either clock) |
//! | `urged` | `Urged` (催办) |
//!
//! # KPIs ([`Kpis::from_counters`])
//! - 按时签收率 on-time signing = `signed_on_time / signed`
//! - 按时办结率 on-time completion = `completed_on_time / completed`
//! - 平均办理时长 average handling time = `handling_ms / completed` (hours), and
//!   `handling_work_s / completed` (working hours)
//! - 满意率 satisfaction = `satisfied / rated`
//! - 解决率 resolution = `solved / rated`
//! - 响应率 response = `(signed + returned) / dispatched` (the unit reacted to the dispatch)
//! - 退单率 return = `returned / dispatched`
//! - 重办率 reopen = `reopened / completed`
//! - 一次派准率 first-dispatch accuracy = `1 − first_returned / first_dispatched`
//! - 智能派单率 auto-dispatch share = `auto_dispatched / first_dispatched`
//! - 首次联系解决率 first-contact resolution = `answered_at_intake / received`
//! - composite score: the weighted mean of the rates present ([`Weights`], [`Kpis::score`]);
//!   the return and reopen rates enter as `1 − rate`. A rate with a zero denominator is `None`
//!   and drops out of the mean.
//!
//! Ratios are computed from sums, never averaged: the KPI of a division is
//! `Σ numerator / Σ denominator` over all keys below it.

use crate::calendar::WorkCalendar;
use crate::request::{CategorySource, Event, EventKind, Request};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Index of each counter in [`Counters`].
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum C {
    Received,
    AnsweredAtIntake,
    Dispatched,
    FirstDispatched,
    AutoDispatched,
    Signed,
    SignedOnTime,
    Returned,
    FirstReturned,
    Completed,
    CompletedOnTime,
    HandlingMs,
    HandlingWorkS,
    Rated,
    Satisfied,
    Solved,
    Reopened,
    Closed,
    Escalated,
    Urged,
}

/// How many counters.
pub const N_COUNTERS: usize = 20;

/// The counters' stable names (also the column names of the aggregate table), in [`C`] order.
pub const COUNTER_NAMES: [&str; N_COUNTERS] = [
    "received",
    "answered_at_intake",
    "dispatched",
    "first_dispatched",
    "auto_dispatched",
    "signed",
    "signed_on_time",
    "returned",
    "first_returned",
    "completed",
    "completed_on_time",
    "handling_ms",
    "handling_work_s",
    "rated",
    "satisfied",
    "solved",
    "reopened",
    "closed",
    "escalated",
    "urged",
];

/// Additive counters of one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Counters(pub [i64; N_COUNTERS]);

impl Counters {
    /// One counter.
    pub fn get(&self, c: C) -> i64 {
        self.0[c as usize]
    }

    fn bump(&mut self, c: C, by: i64) {
        self.0[c as usize] += by;
    }

    /// Adds another set of counters.
    pub fn add(&mut self, other: &Counters) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a += b;
        }
    }

    /// Whether every counter is zero.
    pub fn is_zero(&self) -> bool {
        self.0.iter().all(|v| *v == 0)
    }
}

/// The key of one row of aggregates. Ids are `0` when absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Key {
    /// Local day number since 1970-01-01 ([`local_day`]).
    pub day: i64,
    pub unit: i64,
    pub matter: i64,
    pub division: i64,
    /// [`Channel::as_str`](crate::request::Channel::as_str).
    pub channel: &'static str,
}

/// Offset of China Standard Time from UTC, in milliseconds.
const CST_OFFSET_MS: i64 = 8 * 3600 * 1000;
const DAY_MS: i64 = 86_400_000;

/// The local (UTC+8) day number of an instant.
pub fn local_day(at: DateTime<Utc>) -> i64 {
    (at.timestamp_millis() + CST_OFFSET_MS).div_euclid(DAY_MS)
}

/// The instant a local day starts.
pub fn day_start(day: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(day * DAY_MS - CST_OFFSET_MS).unwrap_or_default()
}

/// The key of a request as it stands, on the day of `at`.
pub fn key_of(request: &Request, at: DateTime<Utc>) -> Key {
    Key {
        day: local_day(at),
        unit: request.lead().map_or(0, |u| u.0),
        matter: request.classification.map_or(0, |c| c.matter.0),
        division: request.intake.location.division.map_or(0, |d| d.0),
        channel: request.intake.channel.as_str(),
    }
}

/// The contribution of one event, given the request right **after** it was applied. `None` for
/// events that change no counter.
pub fn event_delta(
    after: &Request,
    event: &Event,
    calendar: &WorkCalendar,
) -> Option<(Key, Counters)> {
    let mut c = Counters::default();
    match &event.kind {
        EventKind::Received { .. } => c.bump(C::Received, 1),
        EventKind::AnsweredAtIntake { .. } => c.bump(C::AnsweredAtIntake, 1),
        EventKind::Dispatched { .. } | EventKind::Arbitrated { .. } => {
            c.bump(C::Dispatched, 1);
            if after.n_dispatches == 1 {
                c.bump(C::FirstDispatched, 1);
                if after
                    .classification
                    .is_some_and(|k| k.source == CategorySource::Engine)
                {
                    c.bump(C::AutoDispatched, 1);
                }
            }
        }
        EventKind::Signed => {
            c.bump(C::Signed, 1);
            if after.response_clock.is_some_and(|k| !k.is_late(event.at)) {
                c.bump(C::SignedOnTime, 1);
            }
        }
        EventKind::Returned { .. } => {
            c.bump(C::Returned, 1);
            if after.n_returns == 1 {
                c.bump(C::FirstReturned, 1);
            }
        }
        EventKind::Replied { .. } => {
            c.bump(C::Completed, 1);
            if let Some(clock) = after.handling_clock {
                if !clock.is_late(event.at) {
                    c.bump(C::CompletedOnTime, 1);
                }
                let start = clock.started_at;
                c.bump(C::HandlingMs, (event.at - start).num_milliseconds().max(0));
                c.bump(
                    C::HandlingWorkS,
                    calendar.working_seconds_between(start, event.at).max(0),
                );
            }
        }
        EventKind::Rated {
            satisfaction,
            solved,
            ..
        } => {
            c.bump(C::Rated, 1);
            if satisfaction.counts_as_satisfied() {
                c.bump(C::Satisfied, 1);
            }
            if *solved {
                c.bump(C::Solved, 1);
            }
        }
        EventKind::Reopened { .. } => c.bump(C::Reopened, 1),
        EventKind::Closed { .. } => c.bump(C::Closed, 1),
        EventKind::Escalated { .. } => c.bump(C::Escalated, 1),
        EventKind::Urged { .. } => c.bump(C::Urged, 1),
        _ => return None,
    }
    Some((key_of(after, event.at), c))
}

/// The summed contribution of `events`, appended in order to `before` (`None` when the events
/// start a new request with `Received`). Keys whose counters sum to zero are left out.
pub fn delta(
    before: Option<&Request>,
    events: &[Event],
    calendar: &WorkCalendar,
) -> BTreeMap<Key, Counters> {
    let mut out: BTreeMap<Key, Counters> = BTreeMap::new();
    let mut request = before.cloned();
    for event in events {
        match &mut request {
            Some(r) => r.apply(event),
            None => request = Request::from_history(std::slice::from_ref(event)),
        }
        if let Some(r) = &request
            && let Some((key, c)) = event_delta(r, event, calendar)
        {
            out.entry(key).or_default().add(&c);
        }
    }
    out.retain(|_, c| !c.is_zero());
    out
}

/// Adds one map of aggregates into another.
pub fn merge_into(into: &mut BTreeMap<Key, Counters>, from: &BTreeMap<Key, Counters>) {
    for (k, c) in from {
        into.entry(*k).or_default().add(c);
    }
}

fn ratio(num: i64, den: i64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

/// The KPIs of a sum of counters. Rates are in `[0, 1]`; `None` when nothing was counted.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Kpis {
    pub on_time_signing: Option<f64>,
    pub on_time_completion: Option<f64>,
    pub avg_handling_hours: Option<f64>,
    pub avg_handling_working_hours: Option<f64>,
    pub satisfaction: Option<f64>,
    pub resolution: Option<f64>,
    pub response: Option<f64>,
    pub return_rate: Option<f64>,
    pub reopen_rate: Option<f64>,
    pub first_dispatch_accuracy: Option<f64>,
    pub auto_dispatch_share: Option<f64>,
    pub first_contact_resolution: Option<f64>,
}

impl Kpis {
    /// The KPIs of these counters (formulas in the module documentation).
    pub fn from_counters(c: &Counters) -> Kpis {
        let g = |k| c.get(k);
        Kpis {
            on_time_signing: ratio(g(C::SignedOnTime), g(C::Signed)),
            on_time_completion: ratio(g(C::CompletedOnTime), g(C::Completed)),
            avg_handling_hours: ratio(g(C::HandlingMs), g(C::Completed)).map(|v| v / 3.6e6),
            avg_handling_working_hours: ratio(g(C::HandlingWorkS), g(C::Completed))
                .map(|v| v / 3600.0),
            satisfaction: ratio(g(C::Satisfied), g(C::Rated)),
            resolution: ratio(g(C::Solved), g(C::Rated)),
            response: ratio(g(C::Signed) + g(C::Returned), g(C::Dispatched)),
            return_rate: ratio(g(C::Returned), g(C::Dispatched)),
            reopen_rate: ratio(g(C::Reopened), g(C::Completed)),
            first_dispatch_accuracy: ratio(g(C::FirstReturned), g(C::FirstDispatched))
                .map(|r| 1.0 - r),
            auto_dispatch_share: ratio(g(C::AutoDispatched), g(C::FirstDispatched)),
            first_contact_resolution: ratio(g(C::AnsweredAtIntake), g(C::Received)),
        }
    }

    /// The composite score in `[0, 100]`: the weighted mean of the rates present, with return
    /// and reopen rates counted as `1 − rate`. `None` when no weighted rate is present.
    pub fn score(&self, w: &Weights) -> Option<f64> {
        let parts = [
            (self.on_time_signing, w.on_time_signing),
            (self.on_time_completion, w.on_time_completion),
            (self.satisfaction, w.satisfaction),
            (self.resolution, w.resolution),
            (self.response, w.response),
            (self.return_rate.map(|r| 1.0 - r), w.returns),
            (self.reopen_rate.map(|r| 1.0 - r), w.reopens),
            (self.first_dispatch_accuracy, w.first_dispatch_accuracy),
        ];
        let (mut sum, mut weight) = (0.0, 0.0);
        for (value, wt) in parts {
            if let Some(v) = value
                && wt > 0.0
            {
                sum += v * wt;
                weight += wt;
            }
        }
        (weight > 0.0).then(|| 100.0 * sum / weight)
    }
}

/// Weights of the composite score (考核权重). Negative or zero weights leave a rate out.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Weights {
    pub on_time_signing: f64,
    pub on_time_completion: f64,
    pub satisfaction: f64,
    pub resolution: f64,
    pub response: f64,
    pub returns: f64,
    pub reopens: f64,
    pub first_dispatch_accuracy: f64,
}

impl Default for Weights {
    /// A common 12345 assessment split: satisfaction and resolution weigh most.
    fn default() -> Self {
        Weights {
            on_time_signing: 10.0,
            on_time_completion: 20.0,
            satisfaction: 30.0,
            resolution: 25.0,
            response: 5.0,
            returns: 5.0,
            reopens: 5.0,
            first_dispatch_accuracy: 0.0,
        }
    }
}

/// The level of a supervision card (挂牌督办): yellow (黄牌), then red (红牌).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardLevel {
    Yellow,
    Red,
}

/// Rules that list a unit for supervision automatically from its figures over a period
/// (挂牌督办规则). A unit gets the stronger card any rule gives; a rate rule applies only when the
/// unit completed at least `min_completed` requests in the period (too few to judge otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CardRules {
    /// Yellow when the on-time completion rate (按时办结率) is below this, in `[0, 1]`.
    pub yellow_on_time_below: f64,
    /// Red when it is below this.
    pub red_on_time_below: f64,
    /// Yellow when the satisfaction rate (满意率) is below this.
    pub yellow_satisfaction_below: f64,
    /// Red when it is below this.
    pub red_satisfaction_below: f64,
    /// Yellow when this many of its open requests are overdue now (0: rule off).
    pub yellow_overdue_at_least: i64,
    /// Red when this many are overdue (0: rule off).
    pub red_overdue_at_least: i64,
    /// Completed requests needed before the rate rules judge a unit.
    pub min_completed: i64,
}

impl Default for CardRules {
    fn default() -> Self {
        CardRules {
            yellow_on_time_below: 0.95,
            red_on_time_below: 0.85,
            yellow_satisfaction_below: 0.90,
            red_satisfaction_below: 0.80,
            yellow_overdue_at_least: 5,
            red_overdue_at_least: 20,
            min_completed: 10,
        }
    }
}

impl CardRules {
    /// The card the rules give a unit with these counters over the period and `n_overdue` open
    /// overdue requests now, with the reasons (Chinese, for the card), or `None`.
    pub fn judge(&self, c: &Counters, n_overdue: i64) -> Option<(CardLevel, Vec<String>)> {
        let k = Kpis::from_counters(c);
        let mut level = None;
        let mut reasons = Vec::new();
        let mut raise = |l: CardLevel, why: String| {
            level = level.max(Some(l));
            reasons.push(why);
        };
        let judged = c.get(C::Completed) >= self.min_completed.max(1);
        let rates = [
            (
                "按时办结率",
                k.on_time_completion,
                self.yellow_on_time_below,
                self.red_on_time_below,
            ),
            (
                "满意率",
                k.satisfaction,
                self.yellow_satisfaction_below,
                self.red_satisfaction_below,
            ),
        ];
        for (name, value, yellow, red) in rates {
            if let (true, Some(v)) = (judged, value) {
                if v < red {
                    raise(
                        CardLevel::Red,
                        format!("{name} {:.1}% 低于 {:.1}%", v * 100.0, red * 100.0),
                    );
                } else if v < yellow {
                    raise(
                        CardLevel::Yellow,
                        format!("{name} {:.1}% 低于 {:.1}%", v * 100.0, yellow * 100.0),
                    );
                }
            }
        }
        if self.red_overdue_at_least > 0 && n_overdue >= self.red_overdue_at_least {
            raise(
                CardLevel::Red,
                format!(
                    "超期未办结 {n_overdue} 件（≥ {}）",
                    self.red_overdue_at_least
                ),
            );
        } else if self.yellow_overdue_at_least > 0 && n_overdue >= self.yellow_overdue_at_least {
            raise(
                CardLevel::Yellow,
                format!(
                    "超期未办结 {n_overdue} 件（≥ {}）",
                    self.yellow_overdue_at_least
                ),
            );
        }
        level.map(|l| (l, reasons))
    }
}

/// A period bucket for time series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    Day,
    /// ISO week, starting Monday.
    Week,
    Month,
}

impl Bucket {
    /// The first local day of the bucket holding `day`.
    pub fn start(self, day: i64) -> i64 {
        match self {
            Bucket::Day => day,
            // 1970-01-01 was a Thursday: Monday-based weeks start 3 days earlier.
            Bucket::Week => day - (day + 3).rem_euclid(7),
            Bucket::Month => {
                let date = day_start(day) + chrono::Duration::hours(8);
                let d = date.date_naive();
                let first = chrono::NaiveDate::from_ymd_opt(
                    chrono::Datelike::year(&d),
                    chrono::Datelike::month(&d),
                    1,
                )
                .unwrap_or(d);
                day - (d - first).num_days()
            }
        }
    }

    /// Parses `day`, `week` or `month`.
    pub fn parse(s: &str) -> Option<Bucket> {
        match s {
            "day" => Some(Bucket::Day),
            "week" => Some(Bucket::Week),
            "month" => Some(Bucket::Month),
            _ => None,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn days_are_local_and_buckets_start_on_monday_and_the_first() {
        // 2026-03-02T00:30+08:00 is 2026-03-01T16:30Z: local day is the 2nd (a Monday).
        let at = DateTime::parse_from_rfc3339("2026-03-01T16:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let day = local_day(at);
        let date = (day_start(day) + chrono::Duration::hours(8)).date_naive();
        assert_eq!(date.to_string(), "2026-03-02");
        assert_eq!(Bucket::Week.start(day), day);
        assert_eq!(Bucket::Week.start(day + 6), day);
        assert_eq!(Bucket::Week.start(day + 7), day + 7);
        assert_eq!(Bucket::Month.start(day), day - 1);
        assert_eq!(Bucket::Month.start(day + 29), day - 1);
        assert_eq!(Bucket::Month.start(day + 30), day + 30);
    }

    #[test]
    fn card_rules_give_the_stronger_card_and_skip_units_with_too_few_completions() {
        let rules = CardRules {
            min_completed: 10,
            ..CardRules::default()
        };
        let mut c = Counters::default();
        c.bump(C::Completed, 20);
        c.bump(C::CompletedOnTime, 18); // 90%: below 95% → yellow
        c.bump(C::Rated, 10);
        c.bump(C::Satisfied, 10);
        let (level, reasons) = rules.judge(&c, 0).unwrap();
        assert_eq!(level, CardLevel::Yellow);
        assert_eq!(reasons.len(), 1, "{reasons:?}");
        assert!(reasons[0].starts_with("按时办结率 90.0%"), "{reasons:?}");
        // 25 overdue: red, whatever the rates.
        assert_eq!(rules.judge(&c, 25).unwrap().0, CardLevel::Red);
        // Satisfaction 70%: red.
        c.0[C::Satisfied as usize] = 7;
        assert_eq!(rules.judge(&c, 0).unwrap().0, CardLevel::Red);
        // Good figures and few overdue: no card.
        c.0[C::Satisfied as usize] = 10;
        c.0[C::CompletedOnTime as usize] = 20;
        assert_eq!(rules.judge(&c, 4), None);
        // Too few completions to judge the rates.
        let mut few = Counters::default();
        few.bump(C::Completed, 3);
        assert_eq!(rules.judge(&few, 0), None);
    }

    #[test]
    fn rates_are_ratios_of_sums_and_score_weighs_present_rates() {
        let mut c = Counters::default();
        c.bump(C::Rated, 4);
        c.bump(C::Satisfied, 3);
        c.bump(C::Solved, 2);
        c.bump(C::Dispatched, 10);
        c.bump(C::Returned, 1);
        let k = Kpis::from_counters(&c);
        assert_eq!(k.satisfaction, Some(0.75));
        assert_eq!(k.resolution, Some(0.5));
        assert_eq!(k.return_rate, Some(0.1));
        assert_eq!(k.on_time_signing, None);
        let w = Weights {
            on_time_signing: 0.0,
            on_time_completion: 0.0,
            satisfaction: 1.0,
            resolution: 1.0,
            response: 0.0,
            returns: 2.0,
            reopens: 0.0,
            first_dispatch_accuracy: 0.0,
        };
        // (0.75 + 0.5 + 2 * 0.9) / 4
        let s = k.score(&w).unwrap();
        assert!((s - 76.25).abs() < 1e-9, "{s}");
    }
}
