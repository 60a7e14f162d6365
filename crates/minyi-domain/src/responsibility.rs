//! The responsibility list (职责清单): rules that map a (matter node, division node) pair to the
//! unit that leads the handling, its co-units (协办单位), the legal basis (法定依据) and an optional
//! deadline override.
//!
//! Resolution for a concrete matter and division looks at every rule whose matter is the matter or
//! one of its ancestors and whose division is the division or one of its ancestors. Rule A is
//! *more specific* than rule B when A's matter lies within B's matter and A's division lies within
//! B's division, and A differs from B on at least one of the two. The rules that no other candidate
//! is more specific than are the *most specific*; when they name one lead unit the pair is
//! resolved, when they name several it is a conflict (冲突), and when there is no candidate it is a
//! gap (缺口) that falls back to the fallback unit (兜底单位).
//!
//! The checker proves the list complete by resolving every leaf matter in every leaf division.

use crate::catalog::{Catalog, Deadlines};
use crate::division::DivisionTree;
use crate::{DivisionId, MatterId, RuleId, UnitId};
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

/// One rule of the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub id: RuleId,
    pub matter: MatterId,
    pub division: DivisionId,
    /// 主办单位
    pub lead: UnitId,
    /// 协办单位
    pub co_units: Vec<UnitId>,
    /// 法定依据: the law or regulation that gives the lead unit this duty.
    pub legal_basis: String,
    /// Overrides the matter's own deadlines in this division.
    pub deadlines: Option<Deadlines>,
}

/// The result of resolving one (matter, division) pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution<'a> {
    /// Exactly one lead unit: the most specific rule (the first one if several agree).
    Resolved(&'a Rule),
    /// No rule applies: the fallback unit leads.
    Gap { fallback: UnitId },
    /// The most specific rules name different lead units.
    Conflict(Vec<&'a Rule>),
}

impl Resolution<'_> {
    /// The unit that leads the handling, if the pair is not a conflict.
    pub fn lead(&self) -> Option<UnitId> {
        match self {
            Resolution::Resolved(r) => Some(r.lead),
            Resolution::Gap { fallback } => Some(*fallback),
            Resolution::Conflict(_) => None,
        }
    }
}

/// The whole list, indexed by (matter, division).
#[derive(Debug, Clone)]
pub struct ResponsibilityList {
    rules: Vec<Rule>,
    index: FxHashMap<(MatterId, DivisionId), Vec<usize>>,
    fallback: UnitId,
}

/// One pair that the checker found wanting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub matter: MatterId,
    pub division: DivisionId,
    /// The rules in conflict; empty for a gap.
    pub rules: Vec<RuleId>,
}

/// What `catalog check` reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    pub leaf_matters: usize,
    pub leaf_divisions: usize,
    pub combinations: u64,
    pub gaps: u64,
    pub conflicts: u64,
    /// The first gaps found (at most [`CheckReport::SAMPLES`]).
    pub gap_samples: Vec<Finding>,
    /// The first conflicts found (at most [`CheckReport::SAMPLES`]).
    pub conflict_samples: Vec<Finding>,
}

impl CheckReport {
    /// How many findings of each kind the report lists.
    pub const SAMPLES: usize = 20;

    /// Whether the list is complete: no gap and no conflict.
    pub fn is_complete(&self) -> bool {
        self.gaps == 0 && self.conflicts == 0
    }
}

impl ResponsibilityList {
    /// Indexes the rules. `fallback` is the 兜底 unit that takes what no rule covers.
    pub fn new(rules: Vec<Rule>, fallback: UnitId) -> Self {
        let mut index: FxHashMap<(MatterId, DivisionId), Vec<usize>> = FxHashMap::default();
        for (i, r) in rules.iter().enumerate() {
            index.entry((r.matter, r.division)).or_default().push(i);
        }
        Self {
            rules,
            index,
            fallback,
        }
    }

    /// Every rule.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The fallback unit.
    pub fn fallback(&self) -> UnitId {
        self.fallback
    }

    /// Resolves a pair given the ancestor chains (self first) of the matter and the division.
    fn resolve_chains(&self, matters: &[MatterId], divisions: &[DivisionId]) -> Resolution<'_> {
        // Candidates with their position: (matter distance, division distance) from the pair.
        let mut candidates: Vec<(usize, usize, &Rule)> = Vec::new();
        for (mi, m) in matters.iter().enumerate() {
            for (di, d) in divisions.iter().enumerate() {
                if let Some(ixs) = self.index.get(&(*m, *d)) {
                    candidates.extend(ixs.iter().map(|&i| (mi, di, &self.rules[i])));
                }
            }
        }
        if candidates.is_empty() {
            return Resolution::Gap {
                fallback: self.fallback,
            };
        }
        // A candidate is dominated when another sits at least as close on both axes and closer
        // on one. Since chains are ancestor lists, "closer" means "within".
        let most_specific: Vec<&Rule> = candidates
            .iter()
            .filter(|(mi, di, _)| {
                !candidates
                    .iter()
                    .any(|(mj, dj, _)| mj <= mi && dj <= di && (mj, dj) != (mi, di))
            })
            .map(|(_, _, r)| *r)
            .collect();
        let first = most_specific[0];
        if most_specific.iter().all(|r| r.lead == first.lead) {
            Resolution::Resolved(first)
        } else {
            Resolution::Conflict(most_specific)
        }
    }

    /// Resolves a matter in a division (either may be an inner node).
    pub fn resolve(
        &self,
        catalog: &Catalog,
        divisions: &DivisionTree,
        matter: MatterId,
        division: DivisionId,
    ) -> Resolution<'_> {
        self.resolve_chains(
            &catalog.self_and_ancestors(matter),
            &divisions.self_and_ancestors(division),
        )
    }

    /// Resolves every leaf matter in every leaf division and counts the gaps and conflicts.
    pub fn check(&self, catalog: &Catalog, divisions: &DivisionTree) -> CheckReport {
        let matter_chains: Vec<Vec<MatterId>> = catalog
            .leaves()
            .map(|m| catalog.self_and_ancestors(m.id))
            .collect();
        let division_chains: Vec<Vec<DivisionId>> = divisions
            .leaves()
            .map(|d| divisions.self_and_ancestors(d.id))
            .collect();

        struct Partial {
            gaps: u64,
            conflicts: u64,
            gap_samples: Vec<Finding>,
            conflict_samples: Vec<Finding>,
        }
        let empty = || Partial {
            gaps: 0,
            conflicts: 0,
            gap_samples: Vec::new(),
            conflict_samples: Vec::new(),
        };
        let merge = |mut a: Partial, b: Partial| {
            a.gaps += b.gaps;
            a.conflicts += b.conflicts;
            a.gap_samples.extend(b.gap_samples);
            a.gap_samples.truncate(CheckReport::SAMPLES);
            a.conflict_samples.extend(b.conflict_samples);
            a.conflict_samples.truncate(CheckReport::SAMPLES);
            a
        };
        let totals = division_chains
            .par_iter()
            .fold(empty, |mut acc, dchain| {
                for mchain in &matter_chains {
                    match self.resolve_chains(mchain, dchain) {
                        Resolution::Resolved(_) => {}
                        Resolution::Gap { .. } => {
                            acc.gaps += 1;
                            if acc.gap_samples.len() < CheckReport::SAMPLES {
                                acc.gap_samples.push(Finding {
                                    matter: mchain[0],
                                    division: dchain[0],
                                    rules: Vec::new(),
                                });
                            }
                        }
                        Resolution::Conflict(rules) => {
                            acc.conflicts += 1;
                            if acc.conflict_samples.len() < CheckReport::SAMPLES {
                                acc.conflict_samples.push(Finding {
                                    matter: mchain[0],
                                    division: dchain[0],
                                    rules: rules.iter().map(|r| r.id).collect(),
                                });
                            }
                        }
                    }
                }
                acc
            })
            .reduce(empty, merge);
        CheckReport {
            leaf_matters: matter_chains.len(),
            leaf_divisions: division_chains.len(),
            combinations: (matter_chains.len() as u64) * (division_chains.len() as u64),
            gaps: totals.gaps,
            conflicts: totals.conflicts,
            gap_samples: totals.gap_samples,
            conflict_samples: totals.conflict_samples,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::catalog::{Matter, MatterPolicy, Urgency};
    use crate::division::{Division, DivisionKind, DivisionLevel};

    /// City 1 → district 2 → street 3 → communities 4, 5; compound 6 in community 4.
    fn divisions() -> DivisionTree {
        let d = |id: i64, level, parent: Option<i64>| Division {
            id: DivisionId(id),
            code: id.to_string(),
            name: format!("d{id}"),
            level,
            kind: DivisionKind::Regular,
            parent: parent.map(DivisionId),
        };
        DivisionTree::new(vec![
            d(1, DivisionLevel::City, None),
            d(2, DivisionLevel::District, Some(1)),
            d(3, DivisionLevel::Street, Some(2)),
            d(4, DivisionLevel::Community, Some(3)),
            d(5, DivisionLevel::Community, Some(3)),
            d(6, DivisionLevel::Compound, Some(4)),
        ])
        .unwrap()
    }

    /// Matter 10 → 11 → leaves 12, 13.
    fn catalog() -> Catalog {
        let policy = MatterPolicy {
            urgency: Urgency::Ordinary,
            deadlines: Deadlines::default_for(Urgency::Ordinary, false),
            consultation: false,
        };
        let m = |id: i64, parent: Option<i64>, level| Matter {
            id: MatterId(id),
            code: id.to_string(),
            name: format!("m{id}"),
            parent: parent.map(MatterId),
            level,
            policy: (level == 1).then_some(policy),
        };
        Catalog::new(vec![
            m(10, None, 1),
            m(11, Some(10), 2),
            m(12, Some(11), 3),
            m(13, Some(11), 3),
        ])
        .unwrap()
    }

    fn rule(id: i64, matter: i64, division: i64, lead: i64) -> Rule {
        Rule {
            id: RuleId(id),
            matter: MatterId(matter),
            division: DivisionId(division),
            lead: UnitId(lead),
            co_units: vec![],
            legal_basis: String::new(),
            deadlines: None,
        }
    }

    /// Checks one list: (gaps, conflicts) over the 2 leaf matters × 2 leaf divisions.
    fn check(rules: Vec<Rule>, expect: (u64, u64)) {
        let list = ResponsibilityList::new(rules, UnitId(999));
        let report = list.check(&catalog(), &divisions());
        assert_eq!(report.combinations, 4);
        assert_eq!((report.gaps, report.conflicts), expect, "{report:?}");
    }

    #[test]
    fn one_city_wide_rule_covers_everything() {
        check(vec![rule(1, 10, 1, 100)], (0, 0));
    }

    #[test]
    fn without_rules_everything_is_a_gap() {
        check(vec![], (4, 0));
    }

    #[test]
    fn a_rule_for_one_street_leaves_no_gap_there_only() {
        check(vec![rule(1, 10, 4, 100)], (2, 0));
    }

    #[test]
    fn the_more_specific_rule_wins_on_both_axes() {
        let rules = vec![rule(1, 10, 1, 100), rule(2, 12, 6, 200)];
        let list = ResponsibilityList::new(rules, UnitId(999));
        let (c, d) = (catalog(), divisions());
        assert_eq!(
            list.resolve(&c, &d, MatterId(12), DivisionId(6)).lead(),
            Some(UnitId(200))
        );
        assert_eq!(
            list.resolve(&c, &d, MatterId(13), DivisionId(6)).lead(),
            Some(UnitId(100))
        );
        assert_eq!(list.check(&c, &d).conflicts, 0);
    }

    #[test]
    fn crossed_rules_that_disagree_are_a_conflict() {
        // (leaf matter, city) and (root matter, street): neither lies within the other.
        check(
            vec![
                rule(1, 10, 1, 100),
                rule(2, 12, 1, 200),
                rule(3, 10, 3, 300),
            ],
            (0, 2),
        );
    }

    #[test]
    fn crossed_rules_that_agree_are_not_a_conflict() {
        check(
            vec![
                rule(1, 10, 1, 100),
                rule(2, 12, 1, 300),
                rule(3, 10, 3, 300),
            ],
            (0, 0),
        );
    }

    #[test]
    fn two_rules_on_the_same_pair_naming_different_units_conflict() {
        check(vec![rule(1, 10, 1, 100), rule(2, 10, 1, 200)], (0, 4));
    }

    #[test]
    fn a_gap_falls_back_to_the_fallback_unit() {
        let list = ResponsibilityList::new(vec![], UnitId(999));
        let r = list.resolve(&catalog(), &divisions(), MatterId(12), DivisionId(5));
        assert_eq!(
            r,
            Resolution::Gap {
                fallback: UnitId(999)
            }
        );
        assert_eq!(r.lead(), Some(UnitId(999)));
    }
}
