//! 工作日历 (working-day calendar): which days are working days, the working
//! hours within a day, and the arithmetic that the time limits (时限) of a
//! citizen request are computed with — "2 working hours", "5 working days",
//! working time elapsed between two instants.
//!
//! The module is pure: it does no I/O (files, clock, network, environment;
//! only its tests read files and run the reference script) and never asks for
//! the current time. Instants are UTC (`DateTime<Utc>`); days and working
//! hours are counted in the calendar's fixed local offset, China Standard
//! Time (UTC+08:00, no daylight saving), so "the local date of an instant" is
//! its date at +08:00.
//!
//! A day is a working day when it is Monday–Friday and not overridden as a
//! 法定节假日 ([`DayKind::Holiday`]), or when it is a Saturday/Sunday overridden as
//! a 调休上班日 ([`DayKind::MakeUpWorkday`]). The overrides come from the State
//! Council's yearly holiday notices; `data/calendar/cn-2024-2026.csv` holds
//! them in the format read by [`WorkCalendar::parse_overrides_csv`].
//!
//! All arithmetic skips whole days in O(log n) (weekday counting by formula
//! plus a prefix sum over the overrides) and never iterates over seconds or
//! days. Results that would fall outside chrono's representable range
//! saturate at [`DateTime::<Utc>::MAX_UTC`] / [`NaiveDate::MAX`] instead of
//! panicking.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeDelta, Timelike, Utc};
use serde::{Deserialize, Serialize};

/// 本地时区偏移 (local offset): the calendar's fixed offset from UTC in
/// seconds, China Standard Time (+08:00).
pub const LOCAL_OFFSET_SECONDS: i32 = 8 * 3600;

const NANOS_PER_SEC: i128 = 1_000_000_000;
const NANOS_PER_DAY: i128 = 86_400 * NANOS_PER_SEC;
const OFFSET_NANOS: i128 = LOCAL_OFFSET_SECONDS as i128 * NANOS_PER_SEC;
/// The CSV header line of an overrides file.
const CSV_HEADER: &str = "date,kind,name";

/// 日期类型 (day kind): how an override changes the Monday–Friday rule for one
/// date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum DayKind {
    /// 法定节假日: a public-holiday day off (including the bridging weekdays of
    /// a holiday block); not a working day even if it is Monday–Friday.
    Holiday,
    /// 调休上班日: a weekend day made a working day to compensate for a
    /// bridging day of a holiday block.
    MakeUpWorkday,
}

impl DayKind {
    /// The token used in the CSV `kind` column: `holiday` or `workday`.
    pub fn as_csv(self) -> &'static str {
        match self {
            DayKind::Holiday => "holiday",
            DayKind::MakeUpWorkday => "workday",
        }
    }

    /// Parses the CSV `kind` column token (`holiday` or `workday`).
    pub fn from_csv(token: &str) -> Option<Self> {
        match token {
            "holiday" => Some(DayKind::Holiday),
            "workday" => Some(DayKind::MakeUpWorkday),
            _ => None,
        }
    }
}

impl fmt::Display for DayKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_csv())
    }
}

/// 节假日安排 (day override): one date whose working-day status is set by a
/// holiday notice rather than by its weekday.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DayOverride {
    /// The local (China Standard Time) date overridden.
    pub date: NaiveDate,
    /// Whether the date is a day off or a make-up working day.
    pub kind: DayKind,
    /// The holiday it belongs to, in Chinese (e.g. `春节`); must not contain a
    /// comma or a line break if it is to be written as CSV.
    pub name: String,
}

/// 工作时间 (working hours): the sorted, non-overlapping intervals of one
/// working day during which working time elapses, e.g. 09:00–12:00 and
/// 14:00–18:00.
///
/// Each interval is half-open `[start, end)` in local time; intervals may
/// touch but not overlap. Because `NaiveTime` stops at 23:59:59.999…, an
/// interval cannot end at 24:00. Serialized as its [`Display`](fmt::Display)
/// form, e.g. `"09:00-12:00,14:00-18:00"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WorkingHours {
    intervals: Vec<(NaiveTime, NaiveTime)>,
}

impl WorkingHours {
    /// Builds working hours from intervals (in any order; they are sorted).
    /// Rejects an empty list, an interval whose end is not after its start,
    /// and overlapping intervals.
    pub fn new(mut intervals: Vec<(NaiveTime, NaiveTime)>) -> Result<Self, CalendarError> {
        if intervals.is_empty() {
            return Err(CalendarError::NoWorkingHours);
        }
        if let Some(&(start, end)) = intervals.iter().find(|(start, end)| end <= start) {
            return Err(CalendarError::ReversedInterval { start, end });
        }
        intervals.sort();
        for pair in intervals.windows(2) {
            let (first, second) = (pair[0], pair[1]);
            if second.0 < first.1 {
                return Err(CalendarError::OverlappingIntervals { first, second });
            }
        }
        Ok(WorkingHours { intervals })
    }

    /// The standard office hours of a 12345 hotline back office: 09:00–12:00
    /// and 14:00–18:00, 7 hours a day.
    pub fn standard() -> Self {
        let at = |h: u32| NaiveTime::from_hms_opt(h, 0, 0).unwrap_or(NaiveTime::MIN);
        WorkingHours {
            intervals: vec![(at(9), at(12)), (at(14), at(18))],
        }
    }

    /// The intervals, sorted by start.
    pub fn intervals(&self) -> &[(NaiveTime, NaiveTime)] {
        &self.intervals
    }

    /// Working seconds in one working day (sub-second parts truncated).
    pub fn seconds_per_day(&self) -> i64 {
        i64::try_from(self.nanos_per_day() / NANOS_PER_SEC).unwrap_or(i64::MAX)
    }

    /// Parses the [`Display`](fmt::Display) form: comma-separated `HH:MM-HH:MM`
    /// intervals (seconds `HH:MM:SS` and fractions `HH:MM:SS.fff` also
    /// accepted), e.g. `"09:00-12:00,14:00-18:00"`; whitespace around items is
    /// ignored.
    pub fn parse(s: &str) -> Result<Self, CalendarError> {
        let invalid = |reason: String| CalendarError::InvalidWorkingHours {
            input: s.to_owned(),
            reason,
        };
        let mut intervals = Vec::new();
        for item in s.split(',') {
            let item = item.trim();
            let Some((start, end)) = item.split_once('-') else {
                return Err(invalid(format!(
                    "interval `{item}` is not of the form HH:MM-HH:MM"
                )));
            };
            let start = parse_time(start.trim())
                .ok_or_else(|| invalid(format!("`{}` is not a time HH:MM", start.trim())))?;
            let end = parse_time(end.trim())
                .ok_or_else(|| invalid(format!("`{}` is not a time HH:MM", end.trim())))?;
            intervals.push((start, end));
        }
        WorkingHours::new(intervals)
    }

    fn nanos_per_day(&self) -> i128 {
        self.spans().map(|(s, e)| e - s).sum()
    }

    /// The intervals as nanoseconds since local midnight.
    fn spans(&self) -> impl Iterator<Item = (i128, i128)> + '_ {
        self.intervals
            .iter()
            .map(|&(s, e)| (nanos_of_day(s), nanos_of_day(e)))
    }

    fn last_end_nanos(&self) -> i128 {
        self.intervals.last().map_or(0, |&(_, e)| nanos_of_day(e))
    }
}

impl fmt::Display for WorkingHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (start, end)) in self.intervals.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{}-{}", format_time(*start), format_time(*end))?;
        }
        Ok(())
    }
}

impl FromStr for WorkingHours {
    type Err = CalendarError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        WorkingHours::parse(s)
    }
}

impl TryFrom<String> for WorkingHours {
    type Error = CalendarError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        WorkingHours::parse(&s)
    }
}

impl From<WorkingHours> for String {
    fn from(hours: WorkingHours) -> String {
        hours.to_string()
    }
}

fn parse_time(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M:%S%.f"))
        .ok()
}

fn format_time(t: NaiveTime) -> String {
    if t.nanosecond() != 0 {
        t.format("%H:%M:%S%.f").to_string()
    } else if t.second() != 0 {
        t.format("%H:%M:%S").to_string()
    } else {
        t.format("%H:%M").to_string()
    }
}

/// 时限 (span): a length of time a deadline is set by. Written `2h` (clock
/// hours), `4wh` (working hours) or `5wd` (working days).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Span {
    /// 自然小时: plain elapsed hours, whatever the calendar says.
    ClockHours(u32),
    /// 工作小时: hours of working time (inside working intervals of working
    /// days).
    WorkingHours(u32),
    /// 工作日: working days after the day of receipt; the deadline is the end
    /// of working time of the last one (see [`WorkCalendar::add_working_days`]).
    WorkingDays(u32),
}

impl Span {
    /// Parses the [`Display`](fmt::Display) form: a whole number followed by
    /// `h`, `wh` or `wd`, e.g. `"2h"`, `"4wh"`, `"5wd"` (surrounding
    /// whitespace ignored).
    pub fn parse(s: &str) -> Result<Self, CalendarError> {
        let t = s.trim();
        let (digits, make): (&str, fn(u32) -> Span) = if let Some(d) = t.strip_suffix("wh") {
            (d, Span::WorkingHours)
        } else if let Some(d) = t.strip_suffix("wd") {
            (d, Span::WorkingDays)
        } else if let Some(d) = t.strip_suffix('h') {
            (d, Span::ClockHours)
        } else {
            return Err(CalendarError::InvalidSpan {
                input: s.to_owned(),
            });
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CalendarError::InvalidSpan {
                input: s.to_owned(),
            });
        }
        digits
            .parse::<u32>()
            .map(make)
            .map_err(|_| CalendarError::InvalidSpan {
                input: s.to_owned(),
            })
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Span::ClockHours(n) => write!(f, "{n}h"),
            Span::WorkingHours(n) => write!(f, "{n}wh"),
            Span::WorkingDays(n) => write!(f, "{n}wd"),
        }
    }
}

impl FromStr for Span {
    type Err = CalendarError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Span::parse(s)
    }
}

/// 日历错误 (calendar error): why working hours, a span, a set of overrides or
/// an overrides CSV was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// Working hours with no interval.
    #[error("working hours must contain at least one interval")]
    NoWorkingHours,
    /// An interval that does not end after it starts.
    #[error("working-hours interval {start}-{end} does not end after it starts")]
    ReversedInterval {
        /// Start of the interval.
        start: NaiveTime,
        /// End of the interval.
        end: NaiveTime,
    },
    /// Two intervals that overlap.
    #[error("working-hours intervals {}-{} and {}-{} overlap", first.0, first.1, second.0, second.1)]
    OverlappingIntervals {
        /// The earlier interval.
        first: (NaiveTime, NaiveTime),
        /// The later interval, which starts before `first` ends.
        second: (NaiveTime, NaiveTime),
    },
    /// Working hours text that could not be parsed.
    #[error("invalid working hours {input:?}: {reason}")]
    InvalidWorkingHours {
        /// The text given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Span text that could not be parsed.
    #[error(
        "invalid span {input:?}: expected a whole number followed by `h` (clock hours), `wh` (working hours) or `wd` (working days), e.g. \"2h\", \"4wh\", \"5wd\""
    )]
    InvalidSpan {
        /// The text given.
        input: String,
    },
    /// Two overrides for the same date.
    #[error("date {date} is overridden more than once")]
    DuplicateDate {
        /// The date given twice.
        date: NaiveDate,
    },
    /// A malformed line of an overrides CSV.
    #[error("calendar CSV line {line}: {message}")]
    Csv {
        /// 1-based line number in the text.
        line: usize,
        /// What is wrong with the line.
        message: String,
    },
}

/// 工作日历 (working-day calendar): the Monday–Friday rule, the holiday
/// overrides and the working hours, in China Standard Time (+08:00).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkCalendar {
    overrides: BTreeMap<NaiveDate, DayOverride>,
    hours: WorkingHours,
    /// Day numbers (days from CE, see `day_number`) of the overrides that
    /// change something: a weekday holiday or a weekend make-up day. Sorted.
    flips: Vec<i64>,
    /// `flip_prefix[i]` = sum of the working-day deltas (+1 for a weekend
    /// make-up day, -1 for a weekday holiday) of `flips[..i]`.
    flip_prefix: Vec<i64>,
}

impl WorkCalendar {
    /// Builds a calendar from overrides (in any order) and working hours.
    /// Rejects two overrides for the same date.
    pub fn new(overrides: Vec<DayOverride>, hours: WorkingHours) -> Result<Self, CalendarError> {
        let mut map = BTreeMap::new();
        for o in overrides {
            if map.contains_key(&o.date) {
                return Err(CalendarError::DuplicateDate { date: o.date });
            }
            map.insert(o.date, o);
        }
        let mut flips = Vec::new();
        let mut flip_prefix = vec![0];
        let mut sum = 0;
        for o in map.values() {
            let n = day_number(o.date);
            let delta = match (o.kind, is_weekday_number(n)) {
                (DayKind::Holiday, true) => -1,
                (DayKind::MakeUpWorkday, false) => 1,
                _ => continue,
            };
            sum += delta;
            flips.push(n);
            flip_prefix.push(sum);
        }
        Ok(WorkCalendar {
            overrides: map,
            hours,
            flips,
            flip_prefix,
        })
    }

    /// Whether `date` is a working day: Monday–Friday unless overridden as a
    /// [`DayKind::Holiday`]; Saturday/Sunday only if overridden as a
    /// [`DayKind::MakeUpWorkday`].
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        self.is_working_number(day_number(date))
    }

    /// The overrides, sorted by date.
    pub fn overrides(&self) -> impl Iterator<Item = &DayOverride> {
        self.overrides.values()
    }

    /// The working hours of every working day.
    pub fn hours(&self) -> &WorkingHours {
        &self.hours
    }

    /// The local (China Standard Time) date of an instant.
    pub fn local_date(&self, at: DateTime<Utc>) -> NaiveDate {
        date_from_number(split(local_nanos(at)).0).unwrap_or(NaiveDate::MAX)
    }

    /// Working time in whole seconds (sub-second remainder truncated) between
    /// two instants: only time inside the working intervals of working days
    /// counts. 0 if `to <= from`.
    pub fn working_seconds_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
        if to <= from {
            return 0;
        }
        let (day_a, time_a) = split(local_nanos(from));
        let (day_b, time_b) = split(local_nanos(to));
        let total = if day_a == day_b {
            self.working_nanos_in_day(day_a, time_a, time_b)
        } else {
            let whole_days = i128::from(self.working_days_in(day_a, day_b - 1));
            self.working_nanos_in_day(day_a, time_a, NANOS_PER_DAY)
                + whole_days * self.hours.nanos_per_day()
                + self.working_nanos_in_day(day_b, 0, time_b)
        };
        i64::try_from(total / NANOS_PER_SEC).unwrap_or(i64::MAX)
    }

    /// The earliest instant at which `secs` seconds of working time have
    /// elapsed since `from`. Adding 0 (or a negative number, treated as 0)
    /// returns `from`; a result that ends exactly at the end of a working
    /// interval is that end (e.g. 12:00), not the start of the next one.
    /// Saturates at [`DateTime::<Utc>::MAX_UTC`].
    pub fn add_working_seconds(&self, from: DateTime<Utc>, secs: i64) -> DateTime<Utc> {
        if secs <= 0 {
            return from;
        }
        let (day, time) = split(local_nanos(from));
        let mut remaining = i128::from(secs) * NANOS_PER_SEC;
        if self.is_working_number(day) {
            for (start, end) in self.hours.spans() {
                if end <= time {
                    continue;
                }
                let start = start.max(time);
                let available = end - start;
                if remaining <= available {
                    return utc_from_local_nanos(join(day, start + remaining));
                }
                remaining -= available;
            }
        }
        // `remaining` > 0 is left for the working days after `day`: skip the
        // ones consumed whole, then walk the intervals of the last one.
        let per_day = self.hours.nanos_per_day();
        let whole_days = (remaining - 1) / per_day;
        let Ok(nth) = i64::try_from(whole_days + 1) else {
            return DateTime::<Utc>::MAX_UTC;
        };
        let Some(last_day) = self.nth_working_day_after(day, nth) else {
            return DateTime::<Utc>::MAX_UTC;
        };
        remaining -= whole_days * per_day;
        let mut end_of_day = 0;
        for (start, end) in self.hours.spans() {
            let available = end - start;
            if remaining <= available {
                return utc_from_local_nanos(join(last_day, start + remaining));
            }
            remaining -= available;
            end_of_day = end;
        }
        // Unreachable: 0 < remaining <= per_day. Kept total for safety.
        utc_from_local_nanos(join(last_day, end_of_day))
    }

    /// 工作日时限: the end of the last working interval of the `n`-th working
    /// day after the local date of `from` (the day of receipt does not count).
    /// For `n == 0`: the end of working time of `from`'s local day if that is
    /// a working day and `from` is before that end, else the end of working
    /// time of the next working day. Saturates at
    /// [`DateTime::<Utc>::MAX_UTC`].
    pub fn add_working_days(&self, from: DateTime<Utc>, n: u32) -> DateTime<Utc> {
        let (day, time) = split(local_nanos(from));
        let last_end = self.hours.last_end_nanos();
        let target = if n == 0 && self.is_working_number(day) && time < last_end {
            Some(day)
        } else {
            self.nth_working_day_after(day, i64::from(n.max(1)))
        };
        match target {
            Some(d) => utc_from_local_nanos(join(d, last_end)),
            None => DateTime::<Utc>::MAX_UTC,
        }
    }

    /// Adds a [`Span`]: clock hours as plain elapsed time, working hours via
    /// [`add_working_seconds`](Self::add_working_seconds), working days via
    /// [`add_working_days`](Self::add_working_days).
    pub fn add(&self, from: DateTime<Utc>, span: Span) -> DateTime<Utc> {
        match span {
            Span::ClockHours(h) => TimeDelta::try_hours(i64::from(h))
                .and_then(|d| from.checked_add_signed(d))
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
            Span::WorkingHours(h) => self.add_working_seconds(from, i64::from(h) * 3600),
            Span::WorkingDays(n) => self.add_working_days(from, n),
        }
    }

    /// The first working day strictly after `date` (saturates at
    /// [`NaiveDate::MAX`]).
    pub fn next_working_day(&self, date: NaiveDate) -> NaiveDate {
        self.nth_working_day_after(day_number(date), 1)
            .and_then(date_from_number)
            .unwrap_or(NaiveDate::MAX)
    }

    /// Parses an overrides CSV: a header line `date,kind,name`, then one line
    /// per date `YYYY-MM-DD,holiday|workday,名称`. Blank lines and lines
    /// starting with `#` are skipped (before and after the header). Errors
    /// name the 1-based line number. A date given twice is an error.
    pub fn parse_overrides_csv(text: &str) -> Result<Vec<DayOverride>, CalendarError> {
        let mut out = Vec::new();
        let mut first_line: BTreeMap<NaiveDate, usize> = BTreeMap::new();
        let mut header_seen = false;
        for (index, raw) in text.lines().enumerate() {
            let line_no = index + 1;
            let line = raw.trim_start_matches('\u{feff}').trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |message: String| CalendarError::Csv {
                line: line_no,
                message,
            };
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            if !header_seen {
                if fields != ["date", "kind", "name"] {
                    return Err(err(format!(
                        "expected the header `{CSV_HEADER}`, found `{line}`"
                    )));
                }
                header_seen = true;
                continue;
            }
            let [date, kind, name] = fields[..] else {
                return Err(err(format!(
                    "expected 3 comma-separated fields `date,kind,name`, found {}",
                    fields.len()
                )));
            };
            let date = NaiveDate::parse_from_str(date, "%Y-%m-%d")
                .map_err(|e| err(format!("invalid date `{date}` ({e}); expected YYYY-MM-DD")))?;
            let kind = DayKind::from_csv(kind).ok_or_else(|| {
                err(format!(
                    "invalid kind `{kind}`; expected `holiday` or `workday`"
                ))
            })?;
            if name.is_empty() {
                return Err(err("empty name".to_owned()));
            }
            if let Some(previous) = first_line.insert(date, line_no) {
                return Err(err(format!("date {date} already given on line {previous}")));
            }
            out.push(DayOverride {
                date,
                kind,
                name: name.to_owned(),
            });
        }
        if !header_seen {
            return Err(CalendarError::Csv {
                line: 1,
                message: format!("missing the header `{CSV_HEADER}`"),
            });
        }
        Ok(out)
    }

    /// Writes overrides as CSV, the inverse of
    /// [`parse_overrides_csv`](Self::parse_overrides_csv): the header, then
    /// one line per override in the order given, each ending in `\n`.
    pub fn overrides_to_csv<'a>(overrides: impl IntoIterator<Item = &'a DayOverride>) -> String {
        let mut out = String::from(CSV_HEADER);
        out.push('\n');
        for o in overrides {
            out.push_str(&format!(
                "{},{},{}\n",
                o.date.format("%Y-%m-%d"),
                o.kind.as_csv(),
                o.name
            ));
        }
        out
    }

    fn is_working_number(&self, n: i64) -> bool {
        is_weekday_number(n) != self.flips.binary_search(&n).is_ok()
    }

    /// Sum of the override deltas for days `<= n`.
    fn flip_sum_through(&self, n: i64) -> i64 {
        let idx = self.flips.partition_point(|&d| d <= n);
        self.flip_prefix.get(idx).copied().unwrap_or(0)
    }

    /// Number of working days in the day-number range `(a, b]`.
    fn working_days_in(&self, a: i64, b: i64) -> i64 {
        if b <= a {
            return 0;
        }
        weekdays_through(b) - weekdays_through(a) + self.flip_sum_through(b)
            - self.flip_sum_through(a)
    }

    /// The `n`-th (`n >= 1`) working day strictly after day number `day`, by
    /// exponential then binary search over [`working_days_in`]; `None` past
    /// the last representable date.
    fn nth_working_day_after(&self, day: i64, n: i64) -> Option<i64> {
        let n = n.max(1);
        let max_day = day_number(NaiveDate::MAX);
        if day >= max_day {
            return None;
        }
        let mut span = n.saturating_mul(2).saturating_add(14);
        let mut hi;
        loop {
            hi = day.saturating_add(span).min(max_day);
            if self.working_days_in(day, hi) >= n {
                break;
            }
            if hi == max_day {
                return None;
            }
            span = span.saturating_mul(2);
        }
        let mut lo = day + 1;
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.working_days_in(day, mid) >= n {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        Some(lo)
    }

    /// Working nanoseconds of day number `day` within local times `[lo, hi)`.
    fn working_nanos_in_day(&self, day: i64, lo: i128, hi: i128) -> i128 {
        if !self.is_working_number(day) {
            return 0;
        }
        self.hours
            .spans()
            .map(|(s, e)| (e.min(hi) - s.max(lo)).max(0))
            .sum()
    }
}

/// Days since 0000-12-31 (so 0001-01-01, a Monday, is day 1).
fn day_number(date: NaiveDate) -> i64 {
    i64::from(date.num_days_from_ce())
}

fn date_from_number(n: i64) -> Option<NaiveDate> {
    i32::try_from(n)
        .ok()
        .and_then(NaiveDate::from_num_days_from_ce_opt)
}

/// Whether day number `n` is Monday–Friday (day 1 is a Monday).
fn is_weekday_number(n: i64) -> bool {
    (n - 1).rem_euclid(7) < 5
}

/// Number of Monday–Friday days among day numbers `(-∞, n]`, up to a constant:
/// only differences are meaningful.
fn weekdays_through(n: i64) -> i64 {
    5 * n.div_euclid(7) + n.rem_euclid(7).min(5)
}

fn nanos_of_day(t: NaiveTime) -> i128 {
    // A leap second (nanosecond >= 1e9) is counted as the last instant of its second.
    i128::from(t.num_seconds_from_midnight()) * NANOS_PER_SEC
        + i128::from(t.nanosecond().min(999_999_999))
}

/// Local (+08:00) nanoseconds since the start of day number 0.
fn local_nanos(at: DateTime<Utc>) -> i128 {
    let naive = at.naive_utc();
    i128::from(day_number(naive.date())) * NANOS_PER_DAY + nanos_of_day(naive.time()) + OFFSET_NANOS
}

/// Splits local nanoseconds into (day number, nanoseconds since local midnight).
fn split(local: i128) -> (i64, i128) {
    let day = i64::try_from(local.div_euclid(NANOS_PER_DAY)).unwrap_or(i64::MAX);
    (day, local.rem_euclid(NANOS_PER_DAY))
}

fn join(day: i64, time: i128) -> i128 {
    i128::from(day) * NANOS_PER_DAY + time
}

fn utc_from_local_nanos(local: i128) -> DateTime<Utc> {
    let utc = local - OFFSET_NANOS;
    let day = utc.div_euclid(NANOS_PER_DAY);
    let nod = utc.rem_euclid(NANOS_PER_DAY);
    let date = i64::try_from(day).ok().and_then(date_from_number);
    let time = u32::try_from(nod / NANOS_PER_SEC)
        .ok()
        .zip(u32::try_from(nod % NANOS_PER_SEC).ok())
        .and_then(|(s, ns)| NaiveTime::from_num_seconds_from_midnight_opt(s, ns));
    match (date, time) {
        (Some(d), Some(t)) => d.and_time(t).and_utc(),
        _ if utc < 0 => DateTime::<Utc>::MIN_UTC,
        _ => DateTime::<Utc>::MAX_UTC,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use chrono::Weekday;
    use proptest::prelude::*;

    const DATA: &str = include_str!("../../../data/calendar/cn-2024-2026.csv");

    fn cal() -> WorkCalendar {
        WorkCalendar::new(
            WorkCalendar::parse_overrides_csv(DATA).unwrap(),
            WorkingHours::standard(),
        )
        .unwrap()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn time(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    /// A China Standard Time wall-clock moment as a UTC instant.
    fn cst(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        (date(y, mo, d).and_hms_opt(h, mi, 0).unwrap() - TimeDelta::hours(8)).and_utc()
    }

    const HOUR: i64 = 3600;

    #[test]
    fn data_file_parses_and_is_consistent() {
        let overrides = WorkCalendar::parse_overrides_csv(DATA).unwrap();
        assert!(overrides.len() > 100);
        for o in &overrides {
            assert!((2024..=2026).contains(&o.date.year()), "{o:?}");
            if o.kind == DayKind::MakeUpWorkday {
                assert!(
                    matches!(o.date.weekday(), Weekday::Sat | Weekday::Sun),
                    "make-up day on a weekday: {o:?}"
                );
            }
        }
        let c = cal();
        assert!(
            c.is_working_day(date(2025, 1, 26)),
            "make-up Sunday 2025-01-26"
        );
        assert!(
            !c.is_working_day(date(2025, 2, 3)),
            "Spring Festival Monday"
        );
        assert!(
            c.is_working_day(date(2024, 2, 9)),
            "2024 除夕 was not an official day off"
        );
        assert!(!c.is_working_day(date(2025, 3, 8)), "ordinary Saturday");
        assert!(c.is_working_day(date(2025, 3, 7)), "ordinary Friday");
        assert!(
            c.is_working_day(date(2027, 1, 1)),
            "outside the data: plain Mon–Fri rule (Friday)"
        );
    }

    #[test]
    fn weekday_formula_matches_chrono() {
        let mut d = date(-3, 1, 1);
        let end = date(5, 1, 1);
        let mut count = 0i64;
        let base = weekdays_through(day_number(d) - 1);
        while d <= end {
            let n = day_number(d);
            let weekday = !matches!(d.weekday(), Weekday::Sat | Weekday::Sun);
            assert_eq!(is_weekday_number(n), weekday, "{d}");
            count += i64::from(weekday);
            assert_eq!(weekdays_through(n) - base, count, "{d}");
            d = d.succ_opt().unwrap();
        }
        for d in [
            date(2024, 1, 1),
            date(2025, 10, 1),
            date(2026, 12, 31),
            date(1970, 1, 1),
        ] {
            assert_eq!(
                is_weekday_number(day_number(d)),
                d.weekday().num_days_from_monday() < 5
            );
        }
    }

    #[test]
    fn working_hours_standard_and_display() {
        let h = WorkingHours::standard();
        assert_eq!(h.seconds_per_day(), 7 * HOUR);
        assert_eq!(h.to_string(), "09:00-12:00,14:00-18:00");
        assert_eq!(WorkingHours::parse("09:00-12:00,14:00-18:00").unwrap(), h);
        assert_eq!(
            " 14:00 - 18:00 , 09:00-12:00 "
                .parse::<WorkingHours>()
                .unwrap(),
            h
        );
        let odd = WorkingHours::parse("08:30:15-11:45,13:00:00.5-17:00").unwrap();
        assert_eq!(odd.to_string(), "08:30:15-11:45,13:00:00.500-17:00");
        assert_eq!(WorkingHours::parse(&odd.to_string()).unwrap(), odd);
        let touching =
            WorkingHours::new(vec![(time(9, 0), time(12, 0)), (time(12, 0), time(13, 0))]).unwrap();
        assert_eq!(touching.seconds_per_day(), 4 * HOUR);
        assert_eq!(
            h.intervals(),
            &[(time(9, 0), time(12, 0)), (time(14, 0), time(18, 0))]
        );
    }

    #[test]
    fn working_hours_errors() {
        assert_eq!(
            WorkingHours::new(vec![]),
            Err(CalendarError::NoWorkingHours)
        );
        assert_eq!(
            WorkingHours::new(vec![(time(12, 0), time(9, 0))]),
            Err(CalendarError::ReversedInterval {
                start: time(12, 0),
                end: time(9, 0)
            })
        );
        assert!(matches!(
            WorkingHours::new(vec![(time(9, 0), time(9, 0))]),
            Err(CalendarError::ReversedInterval { .. })
        ));
        let overlap =
            WorkingHours::new(vec![(time(13, 0), time(18, 0)), (time(9, 0), time(14, 0))]);
        assert_eq!(
            overlap,
            Err(CalendarError::OverlappingIntervals {
                first: (time(9, 0), time(14, 0)),
                second: (time(13, 0), time(18, 0))
            })
        );
        assert!(overlap.unwrap_err().to_string().contains("overlap"));
        for bad in [
            "",
            "9",
            "09:00",
            "09:00-",
            "09:00-25:00",
            "a-b",
            "09:00-12:00,,14:00-18:00",
            "24:00-25:00",
        ] {
            let e = WorkingHours::parse(bad).unwrap_err();
            assert!(
                matches!(e, CalendarError::InvalidWorkingHours { .. }),
                "{bad:?}: {e}"
            );
        }
        assert!(matches!(
            WorkingHours::parse("12:00-09:00"),
            Err(CalendarError::ReversedInterval { .. })
        ));
    }

    #[test]
    fn working_hours_serde_is_validated_string() {
        let h = WorkingHours::standard();
        let s: String = h.clone().into();
        assert_eq!(WorkingHours::try_from(s).unwrap(), h);
        assert!(WorkingHours::try_from("18:00-09:00".to_owned()).is_err());
    }

    #[test]
    fn span_parse_display_round_trip() {
        for (text, span) in [
            ("2h", Span::ClockHours(2)),
            ("4wh", Span::WorkingHours(4)),
            ("5wd", Span::WorkingDays(5)),
            ("0wd", Span::WorkingDays(0)),
            ("4294967295h", Span::ClockHours(u32::MAX)),
        ] {
            assert_eq!(Span::parse(text).unwrap(), span);
            assert_eq!(span.to_string(), text);
            assert_eq!(text.parse::<Span>().unwrap(), span);
        }
        assert_eq!(Span::parse(" 3wd ").unwrap(), Span::WorkingDays(3));
        for bad in [
            "",
            "5",
            "wd",
            "h",
            "-1h",
            "+1h",
            "1.5h",
            "5 wd",
            "5d",
            "5WD",
            "4294967296h",
            "2hh",
        ] {
            let e = Span::parse(bad).unwrap_err();
            assert_eq!(
                e,
                CalendarError::InvalidSpan {
                    input: bad.to_owned()
                }
            );
            assert!(e.to_string().contains("wd"));
        }
    }

    #[test]
    fn friday_afternoon_plus_two_working_hours_is_monday_ten() {
        let c = cal();
        // 2025-03-07 is an ordinary Friday.
        let from = cst(2025, 3, 7, 17, 0);
        assert_eq!(
            c.add_working_seconds(from, 2 * HOUR),
            cst(2025, 3, 10, 10, 0)
        );
        assert_eq!(c.add(from, Span::WorkingHours(2)), cst(2025, 3, 10, 10, 0));
        assert_eq!(c.add(from, Span::ClockHours(2)), cst(2025, 3, 7, 19, 0));
        assert_eq!(
            c.working_seconds_between(from, cst(2025, 3, 10, 10, 0)),
            2 * HOUR
        );
        // From the weekend, working time starts Monday 09:00.
        assert_eq!(
            c.add_working_seconds(cst(2025, 3, 8, 11, 0), HOUR),
            cst(2025, 3, 10, 10, 0)
        );
        // Before opening hours.
        assert_eq!(
            c.add_working_seconds(cst(2025, 3, 10, 3, 0), 30 * 60),
            cst(2025, 3, 10, 9, 30)
        );
    }

    #[test]
    fn crossing_lunch_break() {
        let c = cal();
        let from = cst(2025, 3, 5, 11, 0);
        assert_eq!(
            c.add_working_seconds(from, 2 * HOUR),
            cst(2025, 3, 5, 15, 0)
        );
        // Exactly one hour ends at 12:00, not 14:00.
        assert_eq!(c.add_working_seconds(from, HOUR), cst(2025, 3, 5, 12, 0));
        assert_eq!(
            c.add_working_seconds(from, HOUR + 1),
            cst(2025, 3, 5, 14, 0) + TimeDelta::seconds(1)
        );
        // During lunch, time does not run.
        assert_eq!(
            c.working_seconds_between(cst(2025, 3, 5, 12, 0), cst(2025, 3, 5, 14, 0)),
            0
        );
        assert_eq!(
            c.add_working_seconds(cst(2025, 3, 5, 12, 30), 60),
            cst(2025, 3, 5, 14, 1)
        );
        // A whole day is 7 h; the 7 h from 09:00 end at 18:00 the same day.
        assert_eq!(
            c.add_working_seconds(cst(2025, 3, 5, 9, 0), 7 * HOUR),
            cst(2025, 3, 5, 18, 0)
        );
        assert_eq!(
            c.add_working_seconds(cst(2025, 3, 5, 9, 0), 14 * HOUR),
            cst(2025, 3, 6, 18, 0)
        );
        assert_eq!(
            c.working_seconds_between(cst(2025, 3, 5, 0, 0), cst(2025, 3, 6, 0, 0)),
            7 * HOUR
        );
    }

    #[test]
    fn spring_festival_2025_and_make_up_sunday() {
        let c = cal();
        // Fri 2025-01-24 17:00 + 2 wh: 1 h on Friday, Saturday off, then the
        // make-up Sunday 2025-01-26 is a working day.
        assert_eq!(
            c.add_working_seconds(cst(2025, 1, 24, 17, 0), 2 * HOUR),
            cst(2025, 1, 26, 10, 0)
        );
        // Mon 2025-01-27 17:00 + 2 wh: 1 h on Monday, then 01-28..02-04 off,
        // 02-05 (Wed) 09:00-10:00.
        assert_eq!(
            c.add_working_seconds(cst(2025, 1, 27, 17, 0), 2 * HOUR),
            cst(2025, 2, 5, 10, 0)
        );
        assert_eq!(
            c.working_seconds_between(cst(2025, 1, 27, 18, 0), cst(2025, 2, 5, 9, 0)),
            0
        );
        assert_eq!(c.next_working_day(date(2025, 1, 24)), date(2025, 1, 26));
        assert_eq!(c.next_working_day(date(2025, 1, 27)), date(2025, 2, 5));
        // Working days 2025-01-20 (Mon) .. 2025-02-09 (Sun): 20, 21, 22, 23,
        // 24, 26, 27, 5, 6, 7, 8 (make-up Saturday) = 11 days.
        assert_eq!(
            c.working_seconds_between(cst(2025, 1, 20, 0, 0), cst(2025, 2, 10, 0, 0)),
            11 * 7 * HOUR
        );
        // 3 working days after Friday 2025-01-24: 26, 27, 02-05.
        assert_eq!(
            c.add_working_days(cst(2025, 1, 24, 10, 0), 3),
            cst(2025, 2, 5, 18, 0)
        );
    }

    #[test]
    fn working_days_across_national_day_2025() {
        let c = cal();
        let from = cst(2025, 9, 30, 10, 0);
        assert_eq!(c.add_working_days(from, 0), cst(2025, 9, 30, 18, 0));
        assert_eq!(c.add_working_days(from, 1), cst(2025, 10, 9, 18, 0));
        assert_eq!(c.add_working_days(from, 2), cst(2025, 10, 10, 18, 0));
        assert_eq!(
            c.add_working_days(from, 3),
            cst(2025, 10, 11, 18, 0),
            "make-up Saturday 10-11"
        );
        assert_eq!(c.add_working_days(from, 4), cst(2025, 10, 13, 18, 0));
        assert_eq!(c.add(from, Span::WorkingDays(4)), cst(2025, 10, 13, 18, 0));
        // Received at the end of the day or after: n = 0 is the next working day.
        assert_eq!(
            c.add_working_days(cst(2025, 9, 30, 18, 0), 0),
            cst(2025, 10, 9, 18, 0)
        );
        assert_eq!(
            c.add_working_days(cst(2025, 10, 3, 10, 0), 0),
            cst(2025, 10, 9, 18, 0)
        );
        // Received on a holiday: the day of receipt does not count either way.
        assert_eq!(
            c.add_working_days(cst(2025, 10, 3, 10, 0), 1),
            cst(2025, 10, 9, 18, 0)
        );
        // Friday 2025-09-26: the next working day is the make-up Sunday 09-28.
        assert_eq!(
            c.add_working_days(cst(2025, 9, 26, 23, 59), 1),
            cst(2025, 9, 28, 18, 0)
        );
        // Local date, not UTC date: 2025-09-29 20:00 UTC is 09-30 04:00 CST.
        let late = (date(2025, 9, 29).and_hms_opt(20, 0, 0).unwrap()).and_utc();
        assert_eq!(c.local_date(late), date(2025, 9, 30));
        assert_eq!(c.add_working_days(late, 1), cst(2025, 10, 9, 18, 0));
        // Long spans: 5 working days after 2025-09-26 (Fri): 28, 29, 30, 10-09, 10-10.
        assert_eq!(
            c.add_working_days(cst(2025, 9, 26, 9, 0), 5),
            cst(2025, 10, 10, 18, 0)
        );
    }

    #[test]
    fn local_date_uses_china_standard_time() {
        let c = cal();
        let at = date(2025, 1, 1).and_hms_opt(16, 0, 0).unwrap().and_utc();
        assert_eq!(c.local_date(at), date(2025, 1, 2));
        let at = date(2025, 1, 1).and_hms_opt(15, 59, 59).unwrap().and_utc();
        assert_eq!(c.local_date(at), date(2025, 1, 1));
    }

    #[test]
    fn between_inverts_add_on_specific_cases() {
        let c = cal();
        let froms = [
            cst(2025, 1, 24, 17, 0),
            cst(2025, 9, 30, 11, 59),
            cst(2024, 2, 9, 12, 30),
            cst(2026, 2, 13, 17, 59),
            cst(2026, 12, 31, 18, 0),
        ];
        for from in froms {
            for s in [
                0,
                1,
                59,
                HOUR,
                3 * HOUR,
                7 * HOUR,
                7 * HOUR + 1,
                100 * HOUR,
                5000 * HOUR,
            ] {
                let to = c.add_working_seconds(from, s);
                assert!(to >= from);
                assert_eq!(
                    c.working_seconds_between(from, to),
                    s,
                    "from {from} + {s}s = {to}"
                );
            }
        }
        assert_eq!(
            c.working_seconds_between(cst(2025, 3, 5, 10, 0), cst(2025, 3, 5, 9, 0)),
            0
        );
        assert_eq!(
            c.add_working_seconds(cst(2025, 3, 8, 10, 0), 0),
            cst(2025, 3, 8, 10, 0)
        );
        assert_eq!(
            c.add_working_seconds(cst(2025, 3, 8, 10, 0), -5),
            cst(2025, 3, 8, 10, 0)
        );
    }

    #[test]
    fn pause_and_resume_arithmetic() {
        // 挂起 (pause): a request received Mon 2025-03-03 10:00 with a 5 wd
        // limit is paused Tue 11:00 and resumed Thu 15:00; the working time
        // left at the pause runs from the resumption.
        let c = cal();
        let received = cst(2025, 3, 3, 10, 0);
        let deadline = c.add_working_days(received, 5);
        assert_eq!(deadline, cst(2025, 3, 10, 18, 0));
        let budget = c.working_seconds_between(received, deadline);
        assert_eq!(
            budget,
            6 * HOUR + 5 * 7 * HOUR,
            "rest of Monday (10-12, 14-18) plus 5 whole days"
        );
        let paused = cst(2025, 3, 4, 11, 0);
        let resumed = cst(2025, 3, 6, 15, 0);
        let used = c.working_seconds_between(received, paused);
        assert_eq!(
            used,
            6 * HOUR + 2 * HOUR,
            "Mon 10-12,14-18 (6 h) + Tue 09-11 (2 h)"
        );
        let new_deadline = c.add_working_seconds(resumed, budget - used);
        assert_eq!(
            used + c.working_seconds_between(resumed, new_deadline),
            budget
        );
        // The pause covered Tue 11:00 .. Thu 15:00 = 5 + 7 + 4 = 16 working hours.
        assert_eq!(c.working_seconds_between(paused, resumed), 16 * HOUR);
        assert_eq!(c.working_seconds_between(deadline, new_deadline), 16 * HOUR);
        // 33 h left from Thu 15:00: Thu 3, Fri 7, Mon 7, Tue 7, Wed 7, Thu 09-11.
        assert_eq!(new_deadline, cst(2025, 3, 13, 11, 0));
    }

    #[test]
    fn csv_round_trip() {
        let overrides = WorkCalendar::parse_overrides_csv(DATA).unwrap();
        let text = WorkCalendar::overrides_to_csv(&overrides);
        assert!(text.starts_with("date,kind,name\n"));
        assert_eq!(WorkCalendar::parse_overrides_csv(&text).unwrap(), overrides);
        let c = cal();
        let from_cal = WorkCalendar::overrides_to_csv(c.overrides());
        assert_eq!(
            WorkCalendar::parse_overrides_csv(&from_cal).unwrap().len(),
            overrides.len()
        );
        let dates: Vec<NaiveDate> = c.overrides().map(|o| o.date).collect();
        assert!(
            dates.windows(2).all(|w| w[0] < w[1]),
            "overrides() sorted by date"
        );
        let with_crlf = "\u{feff}# comment\r\n\r\ndate,kind,name\r\n  # another\r\n2025-01-01 , holiday , 元旦\r\n";
        assert_eq!(
            WorkCalendar::parse_overrides_csv(with_crlf).unwrap(),
            vec![DayOverride {
                date: date(2025, 1, 1),
                kind: DayKind::Holiday,
                name: "元旦".to_owned()
            }]
        );
        assert_eq!(
            WorkCalendar::parse_overrides_csv("date,kind,name\n").unwrap(),
            vec![]
        );
    }

    #[test]
    fn csv_errors_name_the_line() {
        let cases: [(&str, usize, &str); 8] = [
            ("", 1, "missing the header"),
            ("# only a comment\n", 1, "missing the header"),
            ("date,name,kind\n", 1, "expected the header"),
            (
                "date,kind,name\n2025-01-01,holiday\n",
                2,
                "3 comma-separated fields",
            ),
            (
                "date,kind,name\n\n2025-01-01,holiday,元旦,x\n",
                3,
                "3 comma-separated fields",
            ),
            (
                "date,kind,name\n2025-13-01,holiday,元旦\n",
                2,
                "invalid date",
            ),
            (
                "date,kind,name\n# c\n2025-01-01,vacation,元旦\n",
                3,
                "invalid kind",
            ),
            ("date,kind,name\n2025-01-01,holiday,\n", 2, "empty name"),
        ];
        for (text, line, needle) in cases {
            let e = WorkCalendar::parse_overrides_csv(text).unwrap_err();
            let CalendarError::Csv {
                line: got,
                ref message,
            } = e
            else {
                panic!("{e:?}")
            };
            assert_eq!(got, line, "{text:?}: {e}");
            assert!(message.contains(needle), "{text:?}: {e}");
            assert!(e.to_string().contains(&format!("line {line}")));
        }
        let dup = "date,kind,name\n2025-01-01,holiday,元旦\n2025-01-01,workday,元旦\n";
        let e = WorkCalendar::parse_overrides_csv(dup).unwrap_err();
        assert_eq!(
            e,
            CalendarError::Csv {
                line: 3,
                message: "date 2025-01-01 already given on line 2".to_owned()
            }
        );
    }

    #[test]
    fn new_rejects_duplicate_dates() {
        let o = DayOverride {
            date: date(2025, 1, 1),
            kind: DayKind::Holiday,
            name: "元旦".to_owned(),
        };
        let e = WorkCalendar::new(vec![o.clone(), o], WorkingHours::standard()).unwrap_err();
        assert_eq!(
            e,
            CalendarError::DuplicateDate {
                date: date(2025, 1, 1)
            }
        );
        assert!(e.to_string().contains("2025-01-01"));
    }

    #[test]
    fn no_op_overrides_and_other_hours() {
        // A holiday on a Sunday and a make-up day on a Monday change nothing.
        let c = WorkCalendar::new(
            vec![
                DayOverride {
                    date: date(2025, 3, 9),
                    kind: DayKind::Holiday,
                    name: "x".to_owned(),
                },
                DayOverride {
                    date: date(2025, 3, 10),
                    kind: DayKind::MakeUpWorkday,
                    name: "y".to_owned(),
                },
            ],
            WorkingHours::parse("08:00-17:00").unwrap(),
        )
        .unwrap();
        assert!(!c.is_working_day(date(2025, 3, 9)));
        assert!(c.is_working_day(date(2025, 3, 10)));
        assert_eq!(
            c.working_seconds_between(cst(2025, 3, 7, 0, 0), cst(2025, 3, 11, 0, 0)),
            18 * HOUR
        );
        assert_eq!(
            c.add_working_days(cst(2025, 3, 7, 8, 0), 1),
            cst(2025, 3, 10, 17, 0)
        );
        assert_eq!(c.hours().seconds_per_day(), 9 * HOUR);
    }

    #[test]
    fn long_spans_and_saturation() {
        let c = cal();
        let from = cst(2024, 1, 1, 0, 0);
        // 10 000 working days, far beyond the data: computed without iterating.
        let to = c.add_working_seconds(from, 10_000 * 7 * HOUR);
        assert_eq!(c.working_seconds_between(from, to), 10_000 * 7 * HOUR);
        assert_eq!(c.add_working_days(from, 10_000), to);
        assert_eq!(
            c.add_working_seconds(from, i64::MAX),
            DateTime::<Utc>::MAX_UTC
        );
        assert_eq!(
            c.add_working_days(DateTime::<Utc>::MAX_UTC, 3),
            DateTime::<Utc>::MAX_UTC
        );
        assert_eq!(
            c.add(from, Span::ClockHours(u32::MAX)),
            DateTime::<Utc>::MAX_UTC,
            "~490 000 years overflows"
        );
        assert_eq!(c.add(from, Span::ClockHours(48)), cst(2024, 1, 3, 0, 0));
        assert_eq!(c.next_working_day(NaiveDate::MAX), NaiveDate::MAX);
        let all = c.working_seconds_between(DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC);
        assert!(all > 0);
        let _ = c.local_date(DateTime::<Utc>::MAX_UTC);
        let _ = c.add_working_seconds(DateTime::<Utc>::MIN_UTC, 5 * HOUR);
    }

    /// Independent oracle: per-day loop using `chrono` weekdays and the
    /// override map, no prefix sums or searches.
    fn oracle_between(c: &WorkCalendar, from: DateTime<Utc>, to: DateTime<Utc>) -> i64 {
        if to <= from {
            return 0;
        }
        let kinds: BTreeMap<NaiveDate, DayKind> = c.overrides().map(|o| (o.date, o.kind)).collect();
        let working = |d: NaiveDate| match kinds.get(&d) {
            Some(DayKind::Holiday) => false,
            Some(DayKind::MakeUpWorkday) => true,
            None => !matches!(d.weekday(), Weekday::Sat | Weekday::Sun),
        };
        let offset = TimeDelta::hours(8);
        let (lf, lt) = (from.naive_utc() + offset, to.naive_utc() + offset);
        let mut total = TimeDelta::zero();
        let mut d = lf.date();
        while d <= lt.date() {
            if working(d) {
                for &(s, e) in c.hours().intervals() {
                    let lo = d.and_time(s).max(lf);
                    let hi = d.and_time(e).min(lt);
                    if hi > lo {
                        total += hi - lo;
                    }
                }
            }
            d = d.succ_opt().unwrap();
        }
        total.num_seconds()
    }

    fn instant(offset_secs: i64, nanos: u32) -> DateTime<Utc> {
        cst(2023, 12, 1, 0, 0)
            + TimeDelta::seconds(offset_secs)
            + TimeDelta::nanoseconds(i64::from(nanos))
    }

    /// About 3.3 years of seconds from 2023-12-01: covers all of the data.
    const RANGE: i64 = 1_200 * 86_400;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn add_is_monotone_inverted_and_never_earlier(
            off in 0..RANGE,
            a in 0i64..(400 * 7 * 3600),
            b in 0i64..(400 * 7 * 3600),
            nanos in prop_oneof![Just(0u32), 0u32..1_000_000_000],
        ) {
            let c = cal();
            let from = instant(off, nanos);
            let (lo, hi) = (a.min(b), a.max(b));
            let (ra, rb) = (c.add_working_seconds(from, lo), c.add_working_seconds(from, hi));
            prop_assert!(ra <= rb, "not monotone: +{lo} = {ra}, +{hi} = {rb}");
            prop_assert!(ra >= from);
            prop_assert_eq!(c.working_seconds_between(from, ra), lo);
            prop_assert_eq!(c.working_seconds_between(from, rb), hi);
            if lo > 0 {
                // Earliest such instant: a moment earlier, less time had elapsed.
                let earlier = ra - TimeDelta::nanoseconds(1);
                prop_assert!(c.working_seconds_between(from, earlier) < lo);
            }
        }

        #[test]
        fn between_matches_per_day_oracle(off in 0..RANGE, len in 0i64..(60 * 86_400), nanos in 0u32..1_000_000_000) {
            let c = cal();
            let from = instant(off, 0);
            let to = instant(off + len, nanos);
            prop_assert_eq!(c.working_seconds_between(from, to), oracle_between(&c, from, to));
        }

        #[test]
        fn working_days_match_day_by_day_walk(off in 0..RANGE, n in 0u32..40) {
            let c = cal();
            let from = instant(off, 0);
            let got = c.add_working_days(from, n);
            let mut day = c.local_date(from);
            let end = time(18, 0);
            let receipt_counts = n == 0 && c.is_working_day(day) && (from.naive_utc() + TimeDelta::hours(8)).time() < end;
            if !receipt_counts {
                for _ in 0..n.max(1) {
                    day = day.succ_opt().unwrap();
                    while !c.is_working_day(day) {
                        day = day.succ_opt().unwrap();
                    }
                }
            }
            prop_assert_eq!(got, (day.and_time(end) - TimeDelta::hours(8)).and_utc());
            prop_assert!(got > from);
        }
    }

    #[test]
    fn calendar_matches_chinese_calendar_reference() {
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../scripts/calendar_reference.py");
        let output = std::process::Command::new("python3")
            .arg(&script)
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run `python3 {}`: {e}; python3 is required for this test",
                    script.display()
                )
            });
        assert!(
            output.status.success(),
            "`python3 {}` failed ({}); install the reference with `pip install chinesecalendar==1.11.0`. stderr:\n{}",
            script.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8(output.stdout).expect("reference output is UTF-8");
        let c = cal();
        let mut expected_day = date(2024, 1, 1);
        let mut mismatches = Vec::new();
        for line in stdout.lines() {
            let (d, flag) = line
                .split_once(' ')
                .unwrap_or_else(|| panic!("bad reference line {line:?}"));
            let d = NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .unwrap_or_else(|e| panic!("bad date in {line:?}: {e}"));
            assert_eq!(d, expected_day, "reference skipped or repeated a day");
            let reference = match flag {
                "1" => true,
                "0" => false,
                _ => panic!("bad flag in reference line {line:?}"),
            };
            let ours = c.is_working_day(d);
            if ours != reference {
                mismatches.push(format!("{d} (ours: {ours}, chinese_calendar: {reference})"));
            }
            expected_day = expected_day.succ_opt().unwrap();
        }
        assert_eq!(
            expected_day,
            date(2027, 1, 1),
            "reference did not cover 2024-01-01..=2026-12-31"
        );
        assert!(
            mismatches.is_empty(),
            "{} mismatching days:\n{}",
            mismatches.len(),
            mismatches.join("\n")
        );
    }
}
