//! The enterprise service programme (组工助企行): enterprises (企业) identified by their unified
//! social credit code (统一社会信用代码), service teams (助企服务队) of officials, the assignment
//! of enterprises to teams, visits (走访) and the visit plan that makes a visit due or overdue.
//!
//! Everything here is pure: the store persists it and the server exposes it.

use crate::personal::{PersonName, PhoneNumber};
use crate::{DivisionId, RequestId, UserId};
use chrono::NaiveDate;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

macro_rules! local_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

local_id!(
    /// An enterprise (企业).
    EnterpriseId
);
local_id!(
    /// A service team (助企服务队).
    TeamId
);
local_id!(
    /// A visit (走访).
    VisitId
);

/// The 31 characters a unified social credit code may use (no I, O, S, V, Z), in the order
/// that gives each its value 0..=30.
const CODE_CHARSET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// The weights of the first 17 characters: 3^i mod 31.
const CODE_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

fn code_value(c: u8) -> Option<u32> {
    CODE_CHARSET.iter().position(|&x| x == c).map(|p| p as u32)
}

/// Why a credit code is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreditCodeError {
    #[error("a unified social credit code has 18 characters, not {0}")]
    Length(usize),
    #[error("character {position} ({found:?}) is not allowed in a unified social credit code")]
    Character { position: usize, found: char },
    #[error("characters 3 to 8 must be the digits of an administrative division code")]
    Division,
    #[error("the check character should be {expected}, not {found}")]
    Check { expected: char, found: char },
}

/// 统一社会信用代码 (GB 32100-2015): 18 characters — registration authority, organisation
/// category, the six-digit administrative division code, the nine-character organisation code
/// and a check character computed as a weighted sum modulo 31.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CreditCode(String);

impl CreditCode {
    /// The check character of the first 17 characters (each must be in the charset).
    pub fn check_char(first17: &[u8]) -> Option<char> {
        if first17.len() != 17 {
            return None;
        }
        let mut sum = 0u32;
        for (c, w) in first17.iter().zip(CODE_WEIGHTS) {
            sum += code_value(*c)? * w;
        }
        let check = (31 - sum % 31) % 31;
        Some(CODE_CHARSET[check as usize] as char)
    }

    /// Parses a code (surrounding spaces ignored, lower-case letters accepted).
    pub fn parse(input: &str) -> Result<Self, CreditCodeError> {
        let s = input.trim().to_ascii_uppercase();
        let bytes = s.as_bytes();
        let count = s.chars().count();
        if count != 18 || bytes.len() != 18 {
            return Err(CreditCodeError::Length(count));
        }
        for (i, &b) in bytes.iter().enumerate() {
            if code_value(b).is_none() {
                return Err(CreditCodeError::Character {
                    position: i + 1,
                    found: b as char,
                });
            }
        }
        if !bytes[2..8].iter().all(u8::is_ascii_digit) {
            return Err(CreditCodeError::Division);
        }
        let expected = Self::check_char(&bytes[..17]).unwrap_or('?');
        let found = bytes[17] as char;
        if expected != found {
            return Err(CreditCodeError::Check { expected, found });
        }
        Ok(CreditCode(s))
    }

    /// Builds a valid code from its first 17 characters by appending the check character.
    pub fn complete(first17: &str) -> Result<Self, CreditCodeError> {
        let check = Self::check_char(first17.as_bytes()).ok_or_else(|| {
            match first17
                .bytes()
                .enumerate()
                .find(|(_, b)| code_value(*b).is_none())
            {
                Some((i, b)) if first17.len() == 17 => CreditCodeError::Character {
                    position: i + 1,
                    found: b as char,
                },
                _ => CreditCodeError::Length(first17.chars().count() + 1),
            }
        })?;
        Self::parse(&format!("{first17}{check}"))
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The six-digit administrative division code of the registering authority.
    pub fn division_code(&self) -> &str {
        &self.0[2..8]
    }
}

impl TryFrom<String> for CreditCode {
    type Error = CreditCodeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        CreditCode::parse(&s)
    }
}

impl From<CreditCode> for String {
    fn from(c: CreditCode) -> String {
        c.0
    }
}

impl std::fmt::Display for CreditCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Enterprise size class (企业规模: 大型/中型/小型/微型).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnterpriseSize {
    /// 大型
    Large,
    /// 中型
    Medium,
    /// 小型
    Small,
    /// 微型
    Micro,
}

impl EnterpriseSize {
    /// Every size.
    pub const ALL: [EnterpriseSize; 4] = [
        EnterpriseSize::Large,
        EnterpriseSize::Medium,
        EnterpriseSize::Small,
        EnterpriseSize::Micro,
    ];

    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            EnterpriseSize::Large => "large",
            EnterpriseSize::Medium => "medium",
            EnterpriseSize::Small => "small",
            EnterpriseSize::Micro => "micro",
        }
    }

    /// Parses [`EnterpriseSize::as_str`] or the Chinese class name.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        EnterpriseSize::ALL.into_iter().find(|k| {
            k.as_str() == s
                || matches!(
                    (k, s),
                    (EnterpriseSize::Large, "大型")
                        | (EnterpriseSize::Medium, "中型")
                        | (EnterpriseSize::Small, "小型")
                        | (EnterpriseSize::Micro, "微型")
                )
        })
    }
}

/// A contact person of an enterprise (联系人). Name and phone print masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub name: PersonName,
    pub phone: Option<PhoneNumber>,
    /// The contact's position, e.g. 总经理.
    pub position: String,
}

/// An enterprise served by the programme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enterprise {
    pub id: EnterpriseId,
    pub name: String,
    pub code: CreditCode,
    /// Industry (行业), free text from the register, e.g. 制造业.
    pub industry: String,
    pub size: EnterpriseSize,
    /// Where it is located: a street, community or compound of the division tree.
    pub division: DivisionId,
    pub contacts: Vec<Contact>,
}

/// A service team (助企服务队): officials who serve the enterprises of one district or street.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceTeam {
    pub id: TeamId,
    pub name: String,
    /// The district or street the team serves.
    pub scope: DivisionId,
    /// Staff accounts of the members (助企专员); the first is the leader when there is one.
    pub members: Vec<UserId>,
}

/// A problem raised during a visit; it becomes an enterprise request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitProblem {
    pub text: String,
    /// The request it became, once filed.
    pub request: Option<RequestId>,
}

/// A visit (走访) of a team to an enterprise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visit {
    pub id: VisitId,
    pub enterprise: EnterpriseId,
    pub team: TeamId,
    pub date: NaiveDate,
    pub members: Vec<UserId>,
    pub notes: String,
    pub problems: Vec<VisitProblem>,
}

// ---------------------------------------------------------------------------------------------
// Assignment (包联): enterprises to teams.

/// A team as the assignment sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TeamSlot {
    pub id: TeamId,
    /// The district or street the team serves.
    pub scope: DivisionId,
}

/// An enterprise as the assignment sees it: the district and street it lies in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnterpriseSlot {
    pub id: EnterpriseId,
    pub district: DivisionId,
    pub street: Option<DivisionId>,
}

/// One enterprise linked to one team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    pub enterprise: EnterpriseId,
    pub team: TeamId,
    /// Set by a person (kept by every rebalance) rather than by the algorithm.
    pub manual: bool,
}

/// The result of [`assign`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignmentPlan {
    /// One per assigned enterprise, in the order of the input enterprises.
    pub assignments: Vec<Assignment>,
    /// Enterprises no team serves (no team scoped to their street or district).
    pub unassigned: Vec<EnterpriseId>,
    /// Enterprises per team, for every team (zero included).
    pub loads: FxHashMap<TeamId, usize>,
}

/// Assigns every enterprise to one team whose scope is the enterprise's street or district, so
/// that teams carry balanced loads (with 2,784 teams and ~42,000 enterprises, about 15 each).
///
/// Manual assignments (`manual`, enterprise → team) are kept as they are and count toward the
/// loads; every other enterprise is placed anew, so calling this again is a rebalance that keeps
/// the overrides. The result is locally balanced: no automatically placed enterprise could move
/// to another team that may serve it and whose load is lower by two or more.
///
/// Greedy least-loaded placement, most constrained enterprises first, then improving moves until
/// none is left; each pass is O(enterprises × teams per street).
pub fn assign(
    teams: &[TeamSlot],
    enterprises: &[EnterpriseSlot],
    manual: &[(EnterpriseId, TeamId)],
) -> AssignmentPlan {
    // Team index and the pools of team indices by scope.
    let mut pools: FxHashMap<DivisionId, Vec<usize>> = FxHashMap::default();
    let mut team_index: FxHashMap<TeamId, usize> = FxHashMap::default();
    for (i, t) in teams.iter().enumerate() {
        pools.entry(t.scope).or_default().push(i);
        team_index.insert(t.id, i);
    }
    let manual: FxHashMap<EnterpriseId, usize> = manual
        .iter()
        .filter_map(|(e, t)| team_index.get(t).map(|&i| (*e, i)))
        .collect();
    let empty: Vec<usize> = Vec::new();
    let pools_of = |e: &EnterpriseSlot| -> [&Vec<usize>; 2] {
        [
            e.street.and_then(|s| pools.get(&s)).unwrap_or(&empty),
            pools.get(&e.district).unwrap_or(&empty),
        ]
    };

    let mut load = vec![0usize; teams.len()];
    // The chosen team per enterprise (index into `teams`), None when unassigned.
    let mut chosen: Vec<Option<usize>> = vec![None; enterprises.len()];
    let mut automatic: Vec<usize> = Vec::new();
    for (k, e) in enterprises.iter().enumerate() {
        if let Some(&t) = manual.get(&e.id) {
            chosen[k] = Some(t);
            load[t] += 1;
        } else {
            automatic.push(k);
        }
    }
    // Most constrained first: fewer eligible teams, then input order.
    automatic.sort_by_key(|&k| {
        let [a, b] = pools_of(&enterprises[k]);
        (a.len() + b.len(), k)
    });
    let least = |load: &[usize], e: &EnterpriseSlot| -> Option<usize> {
        let [a, b] = pools_of(e);
        a.iter()
            .chain(b.iter())
            .copied()
            .min_by_key(|&t| (load[t], t))
    };
    for &k in &automatic {
        if let Some(t) = least(&load, &enterprises[k]) {
            chosen[k] = Some(t);
            load[t] += 1;
        }
    }
    // Improving moves: each strictly lowers the sum of squared loads, so this ends.
    loop {
        let mut moved = false;
        for &k in &automatic {
            let Some(from) = chosen[k] else { continue };
            if let Some(to) = least(&load, &enterprises[k])
                && load[to] + 1 < load[from]
            {
                load[from] -= 1;
                load[to] += 1;
                chosen[k] = Some(to);
                moved = true;
            }
        }
        if !moved {
            break;
        }
    }

    let mut assignments = Vec::with_capacity(enterprises.len());
    let mut unassigned = Vec::new();
    for (k, e) in enterprises.iter().enumerate() {
        match chosen[k] {
            Some(t) => assignments.push(Assignment {
                enterprise: e.id,
                team: teams[t].id,
                manual: manual.contains_key(&e.id),
            }),
            None => unassigned.push(e.id),
        }
    }
    let loads = teams.iter().zip(&load).map(|(t, &n)| (t.id, n)).collect();
    AssignmentPlan {
        assignments,
        unassigned,
        loads,
    }
}

// ---------------------------------------------------------------------------------------------
// Visit plan (走访计划).

/// How often each enterprise must be visited: at least once every `every_days` days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitPlan {
    pub every_days: u32,
    /// A visit is reported due this many days before its date.
    pub due_soon_days: u32,
}

impl Default for VisitPlan {
    /// Once a quarter, shown a fortnight ahead.
    fn default() -> Self {
        VisitPlan {
            every_days: 90,
            due_soon_days: 14,
        }
    }
}

/// Where an enterprise stands in its team's visit plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VisitStatus {
    /// The next visit is more than `due_soon_days` away.
    Planned,
    /// 待走访: the next visit falls within `due_soon_days` (or today).
    Due,
    /// 逾期未走访: the date has passed without a visit.
    Overdue,
}

impl VisitStatus {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            VisitStatus::Planned => "planned",
            VisitStatus::Due => "due",
            VisitStatus::Overdue => "overdue",
        }
    }
}

impl VisitPlan {
    /// The date the next visit is due: `every_days` after the last visit, or after the day the
    /// enterprise was assigned to the team when it has not been visited yet.
    pub fn next_due(&self, assigned_on: NaiveDate, last_visit: Option<NaiveDate>) -> NaiveDate {
        let from = last_visit.map_or(assigned_on, |v| v.max(assigned_on));
        from + chrono::Days::new(u64::from(self.every_days))
    }

    /// The status on `today`.
    pub fn status(
        &self,
        assigned_on: NaiveDate,
        last_visit: Option<NaiveDate>,
        today: NaiveDate,
    ) -> VisitStatus {
        let due = self.next_due(assigned_on, last_visit);
        if today > due {
            VisitStatus::Overdue
        } else if today + chrono::Days::new(u64::from(self.due_soon_days)) >= due {
            VisitStatus::Due
        } else {
            VisitStatus::Planned
        }
    }

    /// How many visits the plan called for between `assigned_on` and `today` (one per full
    /// period), the denominator of a team's visit rate.
    pub fn planned_visits(&self, assigned_on: NaiveDate, today: NaiveDate) -> u64 {
        if today <= assigned_on || self.every_days == 0 {
            return 0;
        }
        let days = (today - assigned_on).num_days() as u64;
        days / u64::from(self.every_days)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_credit_codes_check() {
        // A code printed on a business licence, and one built from a made-up prefix.
        assert!(CreditCode::parse("91350100M000100Y43").is_ok());
        let c = CreditCode::complete("91440300MA5F00001").unwrap();
        assert_eq!(c.as_str().len(), 18);
        assert_eq!(c.division_code(), "440300");
        assert_eq!(
            CreditCode::parse(&c.as_str().to_ascii_lowercase()).unwrap(),
            c
        );
    }

    #[test]
    fn check_character_matches_the_weighted_sum() {
        // 17 zeros sum to 0, so the check is (31 - 0) % 31 = 0.
        assert_eq!(CreditCode::check_char(b"00000000000000000"), Some('0'));
        // A single 1 in first position: sum 1, check 30 → 'Y'.
        assert_eq!(CreditCode::check_char(b"10000000000000000"), Some('Y'));
        // A single 1 in the last position: weight 28, check 3.
        assert_eq!(CreditCode::check_char(b"00000000000000001"), Some('3'));
    }

    #[test]
    fn bad_credit_codes_are_refused_with_the_reason() {
        assert_eq!(
            CreditCode::parse("91350100M000100Y4"),
            Err(CreditCodeError::Length(17))
        );
        assert!(matches!(
            CreditCode::parse("91350100M000100Y44"),
            Err(CreditCodeError::Check {
                expected: '3',
                found: '4'
            })
        ));
        assert!(matches!(
            CreditCode::parse("9135010OM000100Y43"),
            Err(CreditCodeError::Character {
                position: 8,
                found: 'O'
            })
        ));
        assert_eq!(
            CreditCode::parse("91A50100M000100Y43"),
            Err(CreditCodeError::Division)
        );
        assert!(CreditCode::parse("９１３５０１００Ｍ０００１００Ｙ４３").is_err());
    }

    #[test]
    fn every_single_character_change_is_caught() {
        let good = CreditCode::complete("91440300MA5F7GH2K").unwrap();
        let bytes = good.as_str().as_bytes().to_vec();
        for i in 0..18 {
            for &c in CODE_CHARSET {
                if c == bytes[i] || (2..8).contains(&i) && !c.is_ascii_digit() {
                    continue;
                }
                let mut changed = bytes.clone();
                changed[i] = c;
                let s = String::from_utf8(changed).unwrap();
                assert!(CreditCode::parse(&s).is_err(), "{s} accepted");
            }
        }
    }

    fn d(n: i64) -> DivisionId {
        DivisionId(n)
    }

    #[test]
    fn assignment_balances_within_a_street() {
        let teams: Vec<TeamSlot> = (0..4)
            .map(|i| TeamSlot {
                id: TeamId(i),
                scope: d(10),
            })
            .collect();
        let enterprises: Vec<EnterpriseSlot> = (0..60)
            .map(|i| EnterpriseSlot {
                id: EnterpriseId(i),
                district: d(1),
                street: Some(d(10)),
            })
            .collect();
        let plan = assign(&teams, &enterprises, &[]);
        assert!(plan.unassigned.is_empty());
        assert!(plan.loads.values().all(|&n| n == 15));
    }

    #[test]
    fn street_teams_serve_only_their_street_and_district_teams_fill_in() {
        // Street 10 has one team; street 11 none; the district has one team.
        let teams = [
            TeamSlot {
                id: TeamId(1),
                scope: d(10),
            },
            TeamSlot {
                id: TeamId(2),
                scope: d(1),
            },
        ];
        let mut enterprises = Vec::new();
        for i in 0..10 {
            enterprises.push(EnterpriseSlot {
                id: EnterpriseId(i),
                district: d(1),
                street: Some(d(10)),
            });
        }
        for i in 10..20 {
            enterprises.push(EnterpriseSlot {
                id: EnterpriseId(i),
                district: d(1),
                street: Some(d(11)),
            });
        }
        // Another district with no team at all.
        enterprises.push(EnterpriseSlot {
            id: EnterpriseId(99),
            district: d(2),
            street: Some(d(20)),
        });
        let plan = assign(&teams, &enterprises, &[]);
        assert_eq!(plan.unassigned, vec![EnterpriseId(99)]);
        assert_eq!(plan.loads[&TeamId(1)], 10);
        assert_eq!(plan.loads[&TeamId(2)], 10);
        for a in &plan.assignments {
            if a.enterprise.0 >= 10 {
                assert_eq!(a.team, TeamId(2), "street 11 has only the district team");
            }
        }
    }

    #[test]
    fn manual_overrides_survive_a_rebalance() {
        let teams: Vec<TeamSlot> = (0..3)
            .map(|i| TeamSlot {
                id: TeamId(i),
                scope: d(10),
            })
            .collect();
        let enterprises: Vec<EnterpriseSlot> = (0..30)
            .map(|i| EnterpriseSlot {
                id: EnterpriseId(i),
                district: d(1),
                street: Some(d(10)),
            })
            .collect();
        let manual: Vec<(EnterpriseId, TeamId)> =
            (0..12).map(|i| (EnterpriseId(i), TeamId(0))).collect();
        let plan = assign(&teams, &enterprises, &manual);
        for a in &plan.assignments {
            if a.enterprise.0 < 12 {
                assert_eq!(a.team, TeamId(0));
                assert!(a.manual);
            } else {
                assert!(!a.manual);
            }
        }
        // Team 0 keeps its 12 overrides; the 18 others go 9 and 9 to the other two teams.
        assert_eq!(plan.loads[&TeamId(0)], 12);
        assert_eq!(plan.loads[&TeamId(1)], 9);
        assert_eq!(plan.loads[&TeamId(2)], 9);
    }

    proptest! {
        #[test]
        fn assignment_is_in_scope_keeps_overrides_and_is_locally_balanced(
            team_scopes in prop::collection::vec(0i64..6, 1..20),
            enterprise_places in prop::collection::vec((0i64..2, 0i64..3, any::<bool>()), 0..200),
            manual_picks in prop::collection::vec((0usize..200, 0usize..20), 0..20),
        ) {
            // Divisions: districts 0 and 1; streets 10+3*district+s. Scopes 0..2 are districts,
            // 2..6 are streets 10..13 (district 0 has 10,11,12; district 1 has 13,14,15).
            let scope = |s: i64| if s < 2 { d(s) } else { d(8 + s) };
            let teams: Vec<TeamSlot> = team_scopes.iter().enumerate()
                .map(|(i, &s)| TeamSlot { id: TeamId(i as i64), scope: scope(s) })
                .collect();
            let enterprises: Vec<EnterpriseSlot> = enterprise_places.iter().enumerate()
                .map(|(i, &(dist, s, has_street))| EnterpriseSlot {
                    id: EnterpriseId(i as i64),
                    district: d(dist),
                    street: has_street.then(|| d(10 + 3 * dist + s)),
                })
                .collect();
            let manual: Vec<(EnterpriseId, TeamId)> = manual_picks.iter()
                .filter(|(e, t)| *e < enterprises.len() && *t < teams.len())
                .map(|&(e, t)| (EnterpriseId(e as i64), TeamId(t as i64)))
                .collect();
            let manual_map: FxHashMap<EnterpriseId, TeamId> = manual.iter().copied().collect();
            let plan = assign(&teams, &enterprises, &manual);
            let team_scope: FxHashMap<TeamId, DivisionId> =
                teams.iter().map(|t| (t.id, t.scope)).collect();
            let eligible = |e: &EnterpriseSlot, t: TeamId| {
                let s = team_scope[&t];
                s == e.district || Some(s) == e.street
            };
            prop_assert_eq!(plan.assignments.len() + plan.unassigned.len(), enterprises.len());
            let mut counted: FxHashMap<TeamId, usize> = FxHashMap::default();
            for a in &plan.assignments {
                *counted.entry(a.team).or_default() += 1;
                let e = &enterprises[a.enterprise.0 as usize];
                match manual_map.get(&a.enterprise) {
                    Some(&t) => {
                        prop_assert_eq!(a.team, t);
                        prop_assert!(a.manual);
                    }
                    None => {
                        prop_assert!(!a.manual);
                        prop_assert!(eligible(e, a.team));
                        // Local balance: no eligible team is lighter by two or more.
                        for t in &teams {
                            if eligible(e, t.id) {
                                prop_assert!(plan.loads[&t.id] + 1 >= plan.loads[&a.team]);
                            }
                        }
                    }
                }
            }
            for t in &teams {
                prop_assert_eq!(plan.loads[&t.id], counted.get(&t.id).copied().unwrap_or(0));
            }
            for id in &plan.unassigned {
                let e = &enterprises[id.0 as usize];
                prop_assert!(!manual_map.contains_key(id));
                prop_assert!(teams.iter().all(|t| !eligible(e, t.id)));
            }
        }
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn visit_plan_due_and_overdue() {
        let plan = VisitPlan {
            every_days: 30,
            due_soon_days: 7,
        };
        let assigned = day("2026-01-01");
        assert_eq!(plan.next_due(assigned, None), day("2026-01-31"));
        assert_eq!(
            plan.status(assigned, None, day("2026-01-10")),
            VisitStatus::Planned
        );
        assert_eq!(
            plan.status(assigned, None, day("2026-01-24")),
            VisitStatus::Due
        );
        assert_eq!(
            plan.status(assigned, None, day("2026-01-31")),
            VisitStatus::Due
        );
        assert_eq!(
            plan.status(assigned, None, day("2026-02-01")),
            VisitStatus::Overdue
        );
        // A visit resets the clock.
        let visited = Some(day("2026-01-30"));
        assert_eq!(
            plan.status(assigned, visited, day("2026-02-01")),
            VisitStatus::Planned
        );
        assert_eq!(plan.next_due(assigned, visited), day("2026-03-01"));
        // A visit from before the assignment (another team) does not count.
        assert_eq!(
            plan.next_due(assigned, Some(day("2025-12-01"))),
            day("2026-01-31")
        );
        assert_eq!(plan.planned_visits(assigned, day("2026-01-30")), 0);
        assert_eq!(plan.planned_visits(assigned, day("2026-04-01")), 3);
    }
}
