//! The demo's enterprise service programme (组工助企行) at the scale of the article: 2,784
//! service teams (助企服务队) spread over the streets and districts, about 42,000 enterprises with
//! valid generated unified social credit codes, the assignment (about 15 each, timed), about
//! 8,998 visits, and the enterprise-visit requests of the simulated history linked to visits as
//! the problems they raised.

use chrono::{DateTime, Duration, Utc};
use minyi_domain::UserId;
use minyi_domain::division::{DivisionLevel, DivisionTree};
use minyi_domain::enterprise::{CreditCode, EnterpriseSize, TeamId};
use minyi_store::{AssignmentReport, EnterpriseRow, NewTeam, SeedVisit, Store};
use rand::Rng;
use rand::seq::IndexedRandom;
use rustc_hash::FxHashMap;

/// How large the programme is.
#[derive(Debug, Clone, Copy)]
pub struct ProgrammeSize {
    pub teams: usize,
    pub enterprises: usize,
    pub visits: usize,
}

impl Default for ProgrammeSize {
    /// The figures of the article.
    fn default() -> Self {
        ProgrammeSize {
            teams: 2_784,
            enterprises: 41_760,
            visits: 8_998,
        }
    }
}

/// What was seeded.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ProgrammeReport {
    pub teams: usize,
    pub enterprises: usize,
    pub rejected: usize,
    pub visits: usize,
    pub linked_requests: usize,
    pub assignment: AssignmentReport,
}

const ORG_CHARS: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const INDUSTRIES: [&str; 8] = [
    "制造业",
    "信息技术服务业",
    "批发和零售业",
    "建筑业",
    "住宿和餐饮业",
    "科学研究和技术服务业",
    "租赁和商务服务业",
    "交通运输业",
];
const NAME_HEADS: [&str; 10] = ["华", "鹏", "创", "智", "海", "联", "新", "腾", "恒", "盛"];
const NAME_TAILS: [&str; 10] = [
    "科技", "电子", "精密", "智造", "贸易", "物流", "建设", "医疗", "材料", "信息",
];

/// A valid code: `91` (enterprise registered by market regulation), the six-digit division code,
/// a nine-character organisation code made unique by `n`, and the check character.
fn credit_code(division6: &str, n: usize) -> Option<CreditCode> {
    let mut org = [b'0'; 9];
    org[0] = b'M';
    org[1] = b'A';
    let mut k = n;
    for slot in org.iter_mut().skip(2).rev() {
        *slot = ORG_CHARS[k % ORG_CHARS.len()];
        k /= ORG_CHARS.len();
    }
    let org = std::str::from_utf8(&org).ok()?;
    CreditCode::complete(&format!("91{division6}{org}")).ok()
}

/// Seeds the programme into a store holding the demo city and its history.
pub async fn seed(
    store: &Store,
    rng: &mut impl Rng,
    size: ProgrammeSize,
    helper: Option<UserId>,
    end: DateTime<Utc>,
) -> anyhow::Result<ProgrammeReport> {
    let tree: DivisionTree = store.load_divisions().await?;
    let streets: Vec<_> = tree
        .iter()
        .filter(|d| d.level == DivisionLevel::Street)
        .map(|d| d.id)
        .collect();
    let districts: Vec<_> = tree
        .iter()
        .filter(|d| d.level == DivisionLevel::District)
        .map(|d| d.id)
        .collect();
    let communities: Vec<_> = tree
        .iter()
        .filter(|d| d.level == DivisionLevel::Community)
        .collect();
    anyhow::ensure!(
        !streets.is_empty() && !communities.is_empty(),
        "the demo city has no streets or communities"
    );
    // One district team per district, the rest spread over the streets in turn.
    let mut teams = Vec::with_capacity(size.teams);
    for d in districts.iter().take(size.teams) {
        teams.push(NewTeam {
            name: format!("{}助企服务队", tree.path_name(*d)),
            scope: *d,
            members: Vec::new(),
        });
    }
    let mut k = 0;
    while teams.len() < size.teams {
        let s = streets[k % streets.len()];
        teams.push(NewTeam {
            name: format!("{}第{}服务队", tree.path_name(s), k / streets.len() + 1),
            scope: s,
            members: Vec::new(),
        });
        k += 1;
    }
    // The demo's service-team account joins the first street team.
    if let (Some(helper), Some(first)) = (helper, teams.get_mut(districts.len())) {
        first.members.push(helper);
    }
    let created = end - Duration::days(180);
    let team_ids: Vec<TeamId> = store.create_teams(&teams, created).await?;

    let rows: Vec<EnterpriseRow> = (0..size.enterprises)
        .filter_map(|n| {
            let c = *communities.choose(rng)?;
            let code = credit_code(c.code.get(..6)?, n)?;
            let size = match rng.random_range(0..100) {
                0..3 => EnterpriseSize::Large,
                3..15 => EnterpriseSize::Medium,
                15..50 => EnterpriseSize::Small,
                _ => EnterpriseSize::Micro,
            };
            Some(EnterpriseRow {
                credit_code: code.as_str().to_string(),
                name: format!(
                    "深圳市{}{}{}有限公司",
                    NAME_HEADS[n % 10],
                    NAME_HEADS[(n / 10) % 10],
                    NAME_TAILS[(n / 100) % 10]
                ),
                industry: INDUSTRIES.choose(rng)?.to_string(),
                size: size.as_str().into(),
                division: c.code.clone(),
                contact_name: None,
                contact_phone: None,
                contact_position: None,
            })
        })
        .collect();
    let import = store.import_enterprises(&rows, created).await?;
    let assignment = store.rebalance_assignments(created).await?;

    // Visits: first the enterprise-visit requests of the history, each raised at a visit to an
    // enterprise of its street on the day it was received; then visits without problems.
    let assigned = store.enterprise_assignments().await?;
    let mut by_street: FxHashMap<i64, Vec<usize>> = FxHashMap::default();
    for (i, (_, _, division, _)) in assigned.iter().enumerate() {
        let street = tree
            .self_and_ancestors(*division)
            .into_iter()
            .find(|a| tree.get(*a).map(|d| d.level) == Some(DivisionLevel::Street));
        by_street
            .entry(street.map_or(0, |s| s.0))
            .or_default()
            .push(i);
    }
    let members_of = |team: TeamId| -> Vec<UserId> {
        match helper {
            Some(h) if team_ids.get(districts.len()) == Some(&team) => vec![h],
            _ => Vec::new(),
        }
    };
    let mut visits = Vec::with_capacity(size.visits);
    let requests = store.unlinked_visit_requests().await?;
    for (id, title, division, received) in requests.into_iter().take(size.visits.min(2_246)) {
        let street = division.and_then(|d| {
            tree.self_and_ancestors(d)
                .into_iter()
                .find(|a| tree.get(*a).map(|x| x.level) == Some(DivisionLevel::Street))
        });
        let pool = street
            .and_then(|s| by_street.get(&s.0))
            .filter(|p| !p.is_empty());
        let Some(&i) = pool
            .and_then(|p| p.choose(rng))
            .or_else(|| (!assigned.is_empty()).then_some(&0))
        else {
            break;
        };
        let (enterprise, team, _, _) = assigned[i];
        let date = DateTime::from_timestamp_millis(received)
            .unwrap_or(end)
            .date_naive();
        visits.push(SeedVisit {
            enterprise,
            team,
            date,
            members: members_of(team),
            notes: "走访了解企业经营情况".into(),
            problems: vec![(title, Some(id))],
        });
    }
    let linked = visits.len();
    while visits.len() < size.visits && !assigned.is_empty() {
        let (enterprise, team, _, _) = assigned[rng.random_range(0..assigned.len())];
        let date = (end - Duration::days(rng.random_range(0..150))).date_naive();
        visits.push(SeedVisit {
            enterprise,
            team,
            date,
            members: members_of(team),
            notes: "走访了解企业经营情况，暂无诉求".into(),
            problems: Vec::new(),
        });
    }
    for batch in visits.chunks(5_000) {
        store.insert_seed_visits(batch, end).await?;
    }
    Ok(ProgrammeReport {
        teams: team_ids.len(),
        enterprises: import.imported,
        rejected: import.rejected.len(),
        visits: visits.len(),
        linked_requests: linked,
        assignment,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_credit_codes_are_valid_and_distinct() {
        let codes: Vec<String> = (0..5_000)
            .filter_map(|n| credit_code("440304", n))
            .map(|c| c.as_str().to_string())
            .collect();
        assert_eq!(codes.len(), 5_000);
        let distinct: std::collections::HashSet<&String> = codes.iter().collect();
        assert_eq!(distinct.len(), 5_000);
        assert!(codes.iter().all(|c| CreditCode::parse(c).is_ok()));
    }
}
