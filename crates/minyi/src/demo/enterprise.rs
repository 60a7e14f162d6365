//! The demo's enterprise service programme (组工助企行) at the scale of the article: 2,784
//! service teams (助企服务队) spread over the streets and districts, about 42,000 enterprises with
//! valid generated unified social credit codes, the assignment (about 15 each, timed), about
//! 8,998 visits, and the enterprise-visit requests of the simulated history linked to visits as
//! the problems they raised.

use chrono::{DateTime, Duration, Utc};
use minyi_domain::DivisionId;
use minyi_domain::UserId;
use minyi_domain::division::{DivisionLevel, DivisionTree};
use minyi_domain::enterprise::{CreditCode, EnterpriseSize, TeamId};
use minyi_domain::matchmaking::{MatchStatus, NeedKind, ResourceKind};
use minyi_engine::Segmenter;
use minyi_engine::matching::{MatchIndex, MatchNeed, MatchResource};
use minyi_store::{
    AssignmentReport, EnterpriseRow, NewResource, NewTeam, SeedMatch, SeedNeed, SeedVisit, Store,
};
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
    pub matchmaking: MatchmakingReport,
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
    let matchmaking = seed_matchmaking(
        store,
        rng,
        &tree,
        &districts,
        team_ids.get(districts.len()).copied(),
        end,
    )
    .await?;
    Ok(ProgrammeReport {
        teams: team_ids.len(),
        enterprises: import.imported,
        rejected: import.rejected.len(),
        visits: visits.len(),
        linked_requests: linked,
        assignment,
        matchmaking,
    })
}

// ---------------------------------------------------------------------------------------------
// Matchmaking (我帮企业找市场 / 找资金).

/// Needs posted in the demo (the article gives no figure; about one enterprise in 25).
const DEMO_NEEDS: usize = 1_600;

/// What the matchmaking seed made.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct MatchmakingReport {
    pub resources: usize,
    pub needs: usize,
    pub matches: usize,
    pub agreed: usize,
}

/// Products by industry, used in need texts.
fn products(industry: &str) -> &'static [&'static str] {
    match industry {
        "制造业" => &["精密零部件", "电子元器件", "智能家电", "新能源电池"],
        "信息技术服务业" => &["工业软件", "云计算服务", "数据分析平台"],
        "批发和零售业" => &["家居用品", "跨境电商商品", "农产品"],
        "建筑业" => &["装配式建筑构件", "装修工程"],
        "住宿和餐饮业" => &["预制菜", "连锁餐饮"],
        "科学研究和技术服务业" => &["检测认证服务", "医疗器械研发"],
        "租赁和商务服务业" => &["会展服务", "人力资源外包"],
        _ => &["物流配送", "冷链运输"],
    }
}

/// (kind, title, detail) of a need, from templates by kind.
fn need_text(kind: NeedKind, industry: &str, rng: &mut impl Rng) -> (String, String) {
    let product = products(industry).choose(rng).copied().unwrap_or("产品");
    let n: u32 = rng.random_range(2..20);
    match kind {
        NeedKind::Market => (
            format!("寻找{product}的销售渠道和采购商"),
            format!("企业{product}产能富余，希望对接大型采购商、电商平台或海外市场，扩大订单。"),
        ),
        NeedKind::Funding => (
            format!("扩大生产需要流动资金贷款{}万元", n * 50),
            "企业订单增长，急需银行信用贷款或融资担保，希望申请贷款贴息支持。".to_string(),
        ),
        NeedKind::Talent => (
            format!("招聘{n}名技术工人和研发工程师"),
            format!(
                "{product}业务扩张，缺少熟练技术工人和研发人员，希望参加招聘会并了解人才住房政策。"
            ),
        ),
        NeedKind::Land => (
            format!("需要{}平方米标准厂房", n * 500),
            "现有厂房不足，希望在区内租赁标准厂房或进驻产业园，争取租金减免。".to_string(),
        ),
        NeedKind::Technology => (
            format!("{product}关键技术攻关寻求合作"),
            "希望与高校、科研院所或实验室合作研发，开展技术转移和成果转化。".to_string(),
        ),
        NeedKind::Policy => (
            "咨询高新技术企业认定和研发费用补贴政策".to_string(),
            "企业希望了解高新技术企业认定、研发投入补贴和专精特新申报条件。".to_string(),
        ),
        NeedKind::Other => (
            "企业用电增容申请协调".to_string(),
            "新增生产线需要用电增容，希望协调供电部门加快办理。".to_string(),
        ),
    }
}

/// The resources of the demo: citywide ones and, for each district, its own programmes, fund,
/// park and recruitment fair.
fn demo_resources(tree: &DivisionTree, districts: &[DivisionId]) -> Vec<NewResource> {
    let r = |kind, name: &str, provider: &str, description: &str, industries: &[&str], scope| {
        NewResource {
            kind,
            name: name.into(),
            provider: provider.into(),
            description: description.into(),
            industries: industries.iter().map(|s| s.to_string()).collect(),
            scope,
        }
    };
    use ResourceKind as K;
    let mut out = vec![
        r(
            K::Fund,
            "科技型中小企业贷款贴息",
            "深圳市中小企业服务局",
            "银行信用贷款最高1000万元，贷款利息补贴50%，支持企业扩大生产和流动资金需求。",
            &[],
            None,
        ),
        r(
            K::Fund,
            "中小微企业融资担保",
            "深圳市融资担保基金",
            "为缺少抵押物的中小微企业提供融资担保，担保费率1%以下，配合银行贷款。",
            &[],
            None,
        ),
        r(
            K::Fund,
            "天使投资引导基金",
            "深圳市天使投资引导基金",
            "投资信息技术、医疗器械研发等早期科技企业，单笔股权投资最高2000万元。",
            &["信息技术服务业", "科学研究和技术服务业"],
            None,
        ),
        r(
            K::Buyer,
            "跨境电商出海平台对接会",
            "深圳市商务局",
            "组织制造业和零售企业对接跨境电商平台与海外采购商，开拓国际市场，扩大出口订单。",
            &["制造业", "批发和零售业"],
            None,
        ),
        r(
            K::Buyer,
            "国企集中采购供应商招募",
            "深圳市国资委",
            "市属国企采购精密零部件、电子元器件、装配式建筑构件，招募本地供应商。",
            &["制造业", "建筑业"],
            None,
        ),
        r(
            K::Buyer,
            "大型商超渠道进场对接",
            "深圳市连锁经营协会",
            "为家居用品、农产品、预制菜等企业对接大型商超和电商销售渠道。",
            &["批发和零售业", "住宿和餐饮业"],
            None,
        ),
        r(
            K::Buyer,
            "政府采购云服务目录",
            "深圳市政务服务数据管理局",
            "采购工业软件、云计算服务、数据分析平台，面向本地信息技术企业。",
            &["信息技术服务业"],
            None,
        ),
        r(
            K::TalentService,
            "深圳市人才住房与安居补贴",
            "深圳市人力资源和社会保障局",
            "研发人员和技术工人可申请人才住房、租房补贴，企业可统一申报。",
            &[],
            None,
        ),
        r(
            K::TechnologyService,
            "高校科技成果转化对接",
            "深圳市科技创新局",
            "组织企业与高校、科研院所、重点实验室对接，开展合作研发、技术攻关和成果转化。",
            &[],
            None,
        ),
        r(
            K::TechnologyService,
            "检测认证公共服务平台",
            "深圳市市场监督管理局",
            "为医疗器械、电子元器件、新能源电池提供检测认证服务。",
            &["制造业", "科学研究和技术服务业"],
            None,
        ),
        r(
            K::Programme,
            "高新技术企业认定辅导",
            "深圳市科技创新局",
            "讲解高新技术企业认定条件、研发费用加计扣除和研发投入补贴申报，专精特新企业培育。",
            &[],
            None,
        ),
        r(
            K::Programme,
            "用电报装与增容绿色通道",
            "深圳供电局",
            "企业新增生产线用电增容、报装的快速办理和协调。",
            &[],
            None,
        ),
        r(
            K::Space,
            "市级产业用房租金补贴",
            "深圳市工业和信息化局",
            "对租用标准厂房、研发用房的制造业企业给予租金减免和补贴。",
            &["制造业", "科学研究和技术服务业"],
            None,
        ),
    ];
    for d in districts {
        let name = tree.get(*d).map(|x| x.name.clone()).unwrap_or_default();
        out.push(r(
            K::Space,
            &format!("{name}产业园标准厂房招租"),
            &format!("{name}工业和信息化局"),
            "区属产业园标准厂房、研发用房招租，入园企业享受租金减免。",
            &[],
            Some(*d),
        ));
        out.push(r(
            K::TalentService,
            &format!("{name}春风招聘会"),
            &format!("{name}人力资源局"),
            "每月举办招聘会，帮助企业招聘技术工人、研发工程师，提供技能培训补贴。",
            &[],
            Some(*d),
        ));
        out.push(r(
            K::Fund,
            &format!("{name}中小企业应急转贷资金"),
            &format!("{name}财政局"),
            "为贷款到期的中小企业提供短期转贷资金和银行贷款续贷支持。",
            &[],
            Some(*d),
        ));
        out.push(r(
            K::Programme,
            &format!("{name}企业服务专员政策直达"),
            &format!("{name}企业服务中心"),
            "政策咨询、补贴申报代办、研发投入补贴和稳岗补贴兑现。",
            &[],
            Some(*d),
        ));
        out.push(r(
            K::Buyer,
            &format!("{name}产销对接会"),
            &format!("{name}商务局"),
            "组织区内企业与采购商、电商平台对接，拓展销售渠道和订单。",
            &[],
            Some(*d),
        ));
    }
    out
}

/// Seeds resources and needs, proposes matches with the engine and plays out their outcomes
/// (about a third contacted; of those, about half agreed and a quarter declined).
async fn seed_matchmaking(
    store: &Store,
    rng: &mut impl Rng,
    tree: &DivisionTree,
    districts: &[DivisionId],
    helper_team: Option<TeamId>,
    end: DateTime<Utc>,
) -> anyhow::Result<MatchmakingReport> {
    let resources = demo_resources(tree, districts);
    store
        .register_resources(&resources, end - Duration::days(120))
        .await?;
    let index = MatchIndex::new(
        store
            .resources(true)
            .await?
            .into_iter()
            .map(|r| MatchResource {
                id: r.id,
                text: format!("{} {} {}", r.name, r.provider, r.description),
                industries: r.industries,
                scope: r.scope.map(|d| d.0),
                serves: r.serves.iter().map(|k| k.as_str().to_string()).collect(),
            })
            .collect(),
        &Segmenter::new(),
    );
    let segmenter = Segmenter::new();
    let enterprises = store.enterprise_briefs().await?;
    if enterprises.is_empty() {
        return Ok(MatchmakingReport::default());
    }
    // The demo account's team gets a few needs so its pages are not empty.
    let mut picks: Vec<usize> = enterprises
        .iter()
        .enumerate()
        .filter(|(_, e)| helper_team.is_some() && e.team == helper_team)
        .map(|(i, _)| i)
        .take(6)
        .collect();
    while picks.len() < DEMO_NEEDS {
        picks.push(rng.random_range(0..enterprises.len()));
    }
    let kinds = [
        (NeedKind::Market, 30),
        (NeedKind::Funding, 30),
        (NeedKind::Talent, 15),
        (NeedKind::Land, 10),
        (NeedKind::Technology, 8),
        (NeedKind::Policy, 5),
        (NeedKind::Other, 2),
    ];
    let mut needs = Vec::with_capacity(picks.len());
    let mut report = MatchmakingReport {
        resources: resources.len(),
        ..MatchmakingReport::default()
    };
    for i in picks {
        let e = &enterprises[i];
        let mut roll = rng.random_range(0..100);
        let kind = kinds
            .iter()
            .find(|(_, w)| {
                if roll < *w {
                    true
                } else {
                    roll -= w;
                    false
                }
            })
            .map_or(NeedKind::Other, |(k, _)| *k);
        let (title, detail) = need_text(kind, &e.industry, rng);
        let divisions: Vec<i64> = tree
            .self_and_ancestors(e.division)
            .into_iter()
            .map(|d| d.0)
            .collect();
        let text = format!("{title} {detail}");
        let proposals = index.propose(
            &segmenter,
            &MatchNeed {
                text: &text,
                industry: &e.industry,
                divisions: &divisions,
                kind: kind.as_str(),
            },
            3,
            0.05,
        );
        let age = rng.random_range(1..120);
        let created = (end - Duration::days(age)).date_naive();
        let mut matches = Vec::new();
        for (rank, p) in proposals.into_iter().enumerate() {
            let (status, contacted, decided) = match (rank, rng.random_range(0..100)) {
                (0, 0..35) | (1, 0..10) if age > 7 => {
                    let contacted = created + chrono::Days::new(rng.random_range(1..7));
                    let decided = contacted + chrono::Days::new(rng.random_range(3..30));
                    match rng.random_range(0..4) {
                        0 | 1 if decided < end.date_naive() => {
                            (MatchStatus::Agreed, Some(contacted), Some(decided))
                        }
                        2 if decided < end.date_naive() => {
                            (MatchStatus::Declined, Some(contacted), Some(decided))
                        }
                        _ => (MatchStatus::Contacted, Some(contacted), None),
                    }
                }
                _ => (MatchStatus::Proposed, None, None),
            };
            report.agreed += usize::from(status == MatchStatus::Agreed);
            matches.push(SeedMatch {
                resource: p.resource,
                score: p.score,
                terms: p.terms,
                status,
                contacted,
                decided,
            });
        }
        report.matches += matches.len();
        needs.push(SeedNeed {
            enterprise: e.id,
            kind,
            title,
            detail,
            created,
            matches,
        });
    }
    report.needs = needs.len();
    for batch in needs.chunks(2_000) {
        store.insert_seed_needs(batch).await?;
    }
    Ok(report)
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
