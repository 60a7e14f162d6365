//! The demo city (示范城市): a Shenzhen-shaped five-level governance tree, the units that work in
//! it, the matter catalogue, a complete and conflict-free responsibility list (职责清单) and one
//! staff account per role, all as import rows that the store takes as they are.
//!
//! What is real and what is generated:
//! - the city, its 9 districts, 79 street-level units and 788 communities carry their real codes
//!   and names from the NBS 2023 statistical division codes (统计用区划代码), shipped in
//!   `data/shenzhen/`; community names are shortened to their usual form (`大塘龙社区`);
//! - the matter catalogue is the public 3-level taxonomy shipped in `data/catalog/taxonomy.csv`;
//!   the policies of its leaves (urgency, deadlines, consultation) are derived from their names;
//! - the compounds (小区 and 城中村), their names and codes, the property and joint-stock
//!   companies and every account are generated from the given random generator, so a seeded
//!   generator always yields the same city. No generated name is meant to denote a real place.
//!
//! The responsibility list is built as a chain of rules that nest on both axes (see
//! [`minyi_domain::responsibility`]), so that wherever two rules apply, one lies within the other
//! or both name the same lead unit; the tests prove it with the domain's own checker.

use anyhow::{Context, Result, anyhow, bail};
use minyi_domain::catalog::Urgency;
use minyi_domain::division::{DivisionKind, DivisionLevel};
use minyi_domain::unit::{Role, UnitKind};
use minyi_store::{DivisionRow, MatterRow, RuleRow, UnitRow, UserAccount};
use rand::Rng;
use rand::distr::Alphanumeric;
use rustc_hash::{FxHashMap, FxHashSet};

const DISTRICTS_CSV: &str = include_str!("../../../../data/shenzhen/districts.csv");
const STREETS_CSV: &str = include_str!("../../../../data/shenzhen/streets.csv");
const COMMUNITIES_CSV: &str = include_str!("../../../../data/shenzhen/communities.csv");
const TAXONOMY_CSV: &str = include_str!("../../../../data/catalog/taxonomy.csv");

/// The city's NBS code and name.
const CITY_CODE: &str = "4403";
const CITY_NAME: &str = "深圳市";

/// The generated city, as import rows naming each other by code.
#[derive(Debug, Clone)]
pub struct City {
    /// City, districts, streets, communities (real codes) and compounds (generated), parents
    /// before children.
    pub divisions: Vec<DivisionRow>,
    /// Every unit: the dispatch centre, bureaus, street offices, community workstations,
    /// property and joint-stock companies, public-service companies.
    pub units: Vec<UnitRow>,
    /// The 3-level catalogue, parents before children; only leaves carry policies.
    pub matters: Vec<MatterRow>,
    /// The responsibility list: complete and conflict-free over every leaf matter and leaf
    /// division.
    pub rules: Vec<RuleRow>,
    /// The unit code of the fallback unit (兜底): the 12345 dispatch centre.
    pub fallback_unit: String,
    /// One staff account per staff role, with random passwords.
    pub staff: Vec<UserAccount>,
}

/// Generates the demo city. Deterministic for a seeded `rng`; takes a fraction of a second.
///
/// # Errors
/// Only if the embedded data files are malformed or do not name what the rules expect (a
/// first-level category without a bureau, a missing leaf); the tests prove they do not.
pub fn generate(rng: &mut impl Rng) -> Result<City> {
    let geo = Geography::load()?;
    let taxonomy = Taxonomy::load()?;
    let compounds = generate_compounds(rng, &geo);
    let divisions = division_rows(&geo, &compounds);
    let matters = matter_rows(&taxonomy);
    let mut units = Units::default();
    let companies = build_units(rng, &geo, &taxonomy, &compounds, &mut units)?;
    let rules = build_rules(&geo, &taxonomy, &compounds, &companies)?;
    let staff = staff_accounts(rng, &geo)?;
    Ok(City {
        divisions,
        units: units.rows,
        matters,
        rules,
        fallback_unit: DISPATCH_CENTRE_CODE.to_string(),
        staff,
    })
}

// ---- the real divisions ----

#[derive(Debug, serde::Deserialize)]
struct DistrictRecord {
    code: String,
    name: String,
}

#[derive(Debug, serde::Deserialize)]
struct StreetRecord {
    code: String,
    name: String,
    #[serde(rename = "areaCode")]
    district_code: String,
}

#[derive(Debug, serde::Deserialize)]
struct CommunityRecord {
    code: String,
    name: String,
    #[serde(rename = "streetCode")]
    street_code: String,
}

#[derive(Debug)]
struct District {
    code: String,
    name: String,
    /// The name without `区`, as used in branch names (`深圳市公安局福田分局`).
    short: String,
}

#[derive(Debug)]
struct Street {
    code: String,
    name: String,
    district: usize,
}

#[derive(Debug)]
struct Community {
    code: String,
    /// The usual short form, e.g. `大塘龙社区`.
    name: String,
    street: usize,
    district: usize,
    /// The 虚拟社区 of a bonded zone, port or airport: no residents to speak of.
    is_virtual: bool,
}

#[derive(Debug)]
struct Geography {
    districts: Vec<District>,
    streets: Vec<Street>,
    communities: Vec<Community>,
}

fn read_records<T: serde::de::DeserializeOwned>(name: &str, text: &str) -> Result<Vec<T>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    reader
        .deserialize()
        .enumerate()
        .map(|(i, r)| r.with_context(|| format!("{name}: line {}", i + 2)))
        .collect()
}

impl Geography {
    fn load() -> Result<Self> {
        let district_records: Vec<DistrictRecord> = read_records("districts.csv", DISTRICTS_CSV)?;
        let street_records: Vec<StreetRecord> = read_records("streets.csv", STREETS_CSV)?;
        let community_records: Vec<CommunityRecord> =
            read_records("communities.csv", COMMUNITIES_CSV)?;
        let districts: Vec<District> = district_records
            .into_iter()
            .map(|d| District {
                short: d.name.strip_suffix('区').unwrap_or(&d.name).to_string(),
                code: d.code,
                name: d.name,
            })
            .collect();
        let mut streets = Vec::with_capacity(street_records.len());
        for s in street_records {
            let district = districts
                .iter()
                .position(|d| d.code == s.district_code)
                .ok_or_else(|| {
                    anyhow!("street {}: unknown district {}", s.code, s.district_code)
                })?;
            streets.push(Street {
                code: s.code,
                name: s.name,
                district,
            });
        }
        let mut communities = Vec::with_capacity(community_records.len());
        for c in community_records {
            let street = streets
                .iter()
                .position(|s| s.code == c.street_code)
                .ok_or_else(|| anyhow!("community {}: unknown street {}", c.code, c.street_code))?;
            communities.push(Community {
                is_virtual: c.name.contains("虚拟社区"),
                name: short_community_name(&c.name),
                code: c.code,
                street,
                district: streets[street].district,
            });
        }
        Ok(Self {
            districts,
            streets,
            communities,
        })
    }
}

/// `大塘龙社区居民委员会` → `大塘龙社区`; `杨美社区嘉丽园居委会` → `杨美社区嘉丽园`;
/// `小梅沙居委会` → `小梅沙社区`.
fn short_community_name(full: &str) -> String {
    let stem = ["居民委员会", "居委会", "居委"]
        .iter()
        .find_map(|suffix| full.strip_suffix(suffix))
        .unwrap_or(full);
    if stem.contains("社区") {
        stem.to_string()
    } else {
        format!("{stem}社区")
    }
}

/// The office of a street-level unit: `桂园街道办事处`, `前海合作区管理局`.
fn street_office_name(street: &str) -> String {
    if street.ends_with("街道") {
        format!("{street}办事处")
    } else {
        format!("{street}管理局")
    }
}

// ---- the catalogue ----

#[derive(Debug, serde::Deserialize)]
struct TaxonomyRecord {
    #[serde(rename = "一级分类")]
    first: String,
    #[serde(rename = "二级分类")]
    second: String,
    #[serde(rename = "三级分类")]
    third: String,
}

#[derive(Debug)]
struct TaxonomyNode {
    code: String,
    name: String,
    children: Vec<TaxonomyNode>,
}

#[derive(Debug)]
struct Taxonomy {
    roots: Vec<TaxonomyNode>,
}

fn child_named<'a>(
    nodes: &'a mut Vec<TaxonomyNode>,
    name: &str,
    code: String,
) -> &'a mut TaxonomyNode {
    let i = match nodes.iter().position(|n| n.name == name) {
        Some(i) => i,
        None => {
            nodes.push(TaxonomyNode {
                code,
                name: name.to_string(),
                children: Vec::new(),
            });
            nodes.len() - 1
        }
    };
    &mut nodes[i]
}

impl Taxonomy {
    fn load() -> Result<Self> {
        let records: Vec<TaxonomyRecord> = read_records("taxonomy.csv", TAXONOMY_CSV)?;
        let mut roots: Vec<TaxonomyNode> = Vec::new();
        for r in records {
            let code = format!("{:02}", roots.len() + 1);
            let first = child_named(&mut roots, &r.first, code);
            let code = format!("{}.{:02}", first.code, first.children.len() + 1);
            let second = child_named(&mut first.children, &r.second, code);
            if second.children.iter().any(|n| n.name == r.third) {
                bail!(
                    "taxonomy.csv: {}/{}/{} appears twice",
                    r.first,
                    r.second,
                    r.third
                );
            }
            let code = format!("{}.{:03}", second.code, second.children.len() + 1);
            second.children.push(TaxonomyNode {
                code,
                name: r.third,
                children: Vec::new(),
            });
        }
        Ok(Self { roots })
    }

    /// The code of the node at this path of names (1 to 3 names).
    fn code(&self, path: &[&str]) -> Result<&str> {
        let mut nodes = &self.roots;
        let mut found: Option<&TaxonomyNode> = None;
        for name in path {
            let node = nodes
                .iter()
                .find(|n| n.name == *name)
                .ok_or_else(|| anyhow!("the catalogue has no {}", path.join("/")))?;
            nodes = &node.children;
            found = Some(node);
        }
        found
            .map(|n| n.code.as_str())
            .ok_or_else(|| anyhow!("empty catalogue path"))
    }
}

/// Words that make a leaf urgent (紧急): danger to life, health or supply.
const URGENT_WORDS: [&str; 13] = [
    "安全",
    "事故",
    "隐患",
    "燃气",
    "消防",
    "危",
    "急",
    "疫情",
    "防汛",
    "防火",
    "突发",
    "电力供应",
    "自来水供应",
];
/// Words that keep a leaf ordinary even with an urgent word: administration, disputes, programmes.
const NOT_URGENT_WORDS: [&str; 4] = ["管理", "争议", "纠纷", "改造"];
/// Words that make a leaf a consultation (咨询类): questions about rules and procedures.
const CONSULTATION_WORDS: [&str; 9] = [
    "咨询", "政策", "办事", "查询", "证明", "手续", "申报", "标准", "登记",
];
/// Words that look like a consultation word but are not: `政策性破产`, `认证认可标准化`.
const NOT_CONSULTATION_WORDS: [&str; 2] = ["政策性", "标准化"];
/// Words (in the leaf or its parent) of matters that take long: land, planning, relocation.
const COMPLEX_WORDS: [&str; 7] = ["拆迁", "征收", "规划", "土地", "安置", "回迁", "权属"];

/// The policy of a leaf: (urgency, consultation, response span, handling span).
fn leaf_policy(parent: &str, leaf: &str) -> (Urgency, bool, &'static str, &'static str) {
    let has = |words: &[&str], s: &str| words.iter().any(|w| s.contains(w));
    if has(&URGENT_WORDS, leaf) && !has(&NOT_URGENT_WORDS, leaf) {
        (Urgency::Urgent, false, "2h", "24h")
    } else if has(&CONSULTATION_WORDS, leaf) && !has(&NOT_CONSULTATION_WORDS, leaf) {
        (Urgency::Ordinary, true, "4wh", "1wd")
    } else if has(&COMPLEX_WORDS, leaf) || has(&COMPLEX_WORDS, parent) {
        (Urgency::Ordinary, false, "1wd", "10wd")
    } else {
        (Urgency::Ordinary, false, "1wd", "5wd")
    }
}

fn matter_rows(taxonomy: &Taxonomy) -> Vec<MatterRow> {
    let inner = |node: &TaxonomyNode, parent_code: &str| MatterRow {
        code: node.code.clone(),
        name: node.name.clone(),
        parent_code: parent_code.to_string(),
        urgency: String::new(),
        response: String::new(),
        handling: String::new(),
        consultation: String::new(),
    };
    let mut rows = Vec::new();
    for first in &taxonomy.roots {
        rows.push(inner(first, ""));
        for second in &first.children {
            rows.push(inner(second, &first.code));
            for leaf in &second.children {
                let (urgency, consultation, response, handling) =
                    leaf_policy(&second.name, &leaf.name);
                rows.push(MatterRow {
                    code: leaf.code.clone(),
                    name: leaf.name.clone(),
                    parent_code: second.code.clone(),
                    urgency: urgency.as_str().to_string(),
                    response: response.to_string(),
                    handling: handling.to_string(),
                    consultation: if consultation { "1" } else { "0" }.to_string(),
                });
            }
        }
    }
    rows
}

// ---- the generated compounds ----

/// One generated compound (小区) or urban village (城中村).
#[derive(Debug)]
struct Compound {
    code: String,
    name: String,
    community: usize,
    kind: DivisionKind,
}

/// Compounds in the whole city: about 4,200 regular ones and 1,900 urban villages, as the
/// source article counts them.
const REGULAR_COMPOUNDS: std::ops::RangeInclusive<usize> = 4200..=4290;
const URBAN_VILLAGES: std::ops::RangeInclusive<usize> = 1900..=1950;

/// Per district code: how densely it has regular compounds and urban villages, relative to the
/// others. Urban villages cluster in the outer districts (关外).
fn district_weights(code: &str) -> (f64, f64) {
    match code {
        "440303" => (1.3, 0.5), // 罗湖
        "440304" => (1.5, 0.4), // 福田
        "440305" => (1.4, 1.0), // 南山
        "440306" => (1.0, 3.0), // 宝安
        "440307" => (1.0, 3.0), // 龙岗
        "440308" => (0.8, 1.0), // 盐田
        "440309" => (1.0, 3.0), // 龙华
        "440310" => (1.2, 4.0), // 坪山
        "440311" => (1.2, 4.0), // 光明
        _ => (1.0, 1.0),
    }
}

/// Draws `total` items into slots with the given weights (zero weight: never).
fn weighted_counts(rng: &mut impl Rng, weights: &[f64], total: usize) -> Vec<usize> {
    let mut cumulative = Vec::with_capacity(weights.len());
    let mut sum = 0.0;
    for w in weights {
        sum += w.max(0.0);
        cumulative.push(sum);
    }
    let mut counts = vec![0; weights.len()];
    if sum <= 0.0 || weights.is_empty() {
        return counts;
    }
    for _ in 0..total {
        let x = rng.random::<f64>() * sum;
        let i = cumulative
            .partition_point(|&c| c <= x)
            .min(weights.len() - 1);
        counts[i] += 1;
    }
    counts
}

const REGULAR_FIRST: &str = "桂翠华景金碧海锦星阳光泰富丽嘉怡君悦御兰竹松荔枫雅康福瑞祥宏鸿龙凤鹏天东南新万世文德和安宁银紫蔚";
const REGULAR_SECOND: &str = "湖山林峰岭港田河湾源泉云月秀轩阁都邦豪盛辉晖馨逸荟韵怡景华丽庭苑";
const REGULAR_SUFFIXES: &[&str] = &[
    "花园", "雅苑", "新村", "家园", "公寓", "名苑", "华庭", "山庄", "小区", "大厦", "名城", "豪庭",
    "广场", "府", "居", "花城",
];
const VILLAGE_FIRST: &str = "上下新老大小水石田岗坑塘沙龙凤黄松禾白黎罗陈李吴刘张江洪桥西东南";
const VILLAGE_SECOND: &str = "坑塘头尾岭屋埔田湖背边岗涌沥美厦山坳墩岭洲湾排布";
const VILLAGE_SUFFIXES: &[&str] = &["村", "村", "村", "围", "新村", "老村"];

fn pick_char(rng: &mut impl Rng, pool: &str) -> char {
    let n = pool.chars().count();
    pool.chars().nth(rng.random_range(0..n)).unwrap_or('华')
}

fn pick<'a, T>(rng: &mut impl Rng, items: &'a [T]) -> &'a T {
    // The pools are non-empty constants, so the range is never empty.
    &items[rng.random_range(0..items.len())]
}

/// A name not yet in `taken`: the first free candidate, else `base` with a serial. The caller
/// records the name it keeps.
fn unique_name(
    taken: &FxHashSet<String>,
    candidates: impl IntoIterator<Item = String>,
    base: &str,
) -> String {
    if let Some(c) = candidates.into_iter().find(|c| !taken.contains(c)) {
        return c;
    }
    (2..)
        .map(|n| format!("{base}{n}"))
        .find(|c| !taken.contains(c))
        .unwrap_or_default()
}

fn regular_name(rng: &mut impl Rng, taken: &mut FxHashSet<String>) -> String {
    let candidates = (0..50).map(|_| {
        let first = pick_char(rng, REGULAR_FIRST);
        let mut second = pick_char(rng, REGULAR_SECOND);
        if second == first {
            second = '园';
        }
        format!("{first}{second}{}", pick(rng, REGULAR_SUFFIXES))
    });
    let name = unique_name(taken, candidates, "安居花园");
    taken.insert(name.clone());
    name
}

fn village_name(
    rng: &mut impl Rng,
    taken: &mut FxHashSet<String>,
    community_stem: Option<&str>,
) -> String {
    // Many communities carry the name of the village they grew from (岗厦社区 → 岗厦村).
    let from_community = community_stem.map(|stem| {
        if stem.ends_with('村') || stem.ends_with('围') {
            stem.to_string()
        } else {
            format!("{stem}村")
        }
    });
    let candidates = from_community.into_iter().chain((0..50).map(|_| {
        let first = pick_char(rng, VILLAGE_FIRST);
        let mut second = pick_char(rng, VILLAGE_SECOND);
        if second == first {
            second = '头';
        }
        format!("{first}{second}{}", pick(rng, VILLAGE_SUFFIXES))
    }));
    let name = unique_name(taken, candidates, "新围村");
    taken.insert(name.clone());
    name
}

/// The stem of a community name usable as a village name: `岗厦社区` → `岗厦`.
fn community_stem(community: &Community) -> Option<&str> {
    let stem = community.name.strip_suffix("社区")?;
    let n = stem.chars().count();
    (!community.is_virtual && (2..=3).contains(&n)).then_some(stem)
}

fn generate_compounds(rng: &mut impl Rng, geo: &Geography) -> Vec<Compound> {
    let n = geo.communities.len();
    let regular_total = rng.random_range(REGULAR_COMPOUNDS);
    let village_total = rng.random_range(URBAN_VILLAGES);
    let mut regular_weights = Vec::with_capacity(n);
    let mut village_weights = Vec::with_capacity(n);
    for c in &geo.communities {
        let (regular, village) = district_weights(&geo.districts[c.district].code);
        if c.is_virtual {
            regular_weights.push(0.0);
            village_weights.push(0.0);
        } else {
            regular_weights.push(regular * rng.random_range(0.5..1.5));
            village_weights.push(village * rng.random_range(0.2..1.8));
        }
    }
    // Every community has at least one regular compound; the rest are drawn by weight.
    let mut regular = weighted_counts(rng, &regular_weights, regular_total.saturating_sub(n));
    for count in &mut regular {
        *count += 1;
    }
    let villages = weighted_counts(rng, &village_weights, village_total);

    let mut compounds = Vec::with_capacity(regular_total + village_total);
    for (i, community) in geo.communities.iter().enumerate() {
        let mut taken = FxHashSet::default();
        let mut serial = 0;
        let code = |serial: &mut usize| {
            *serial += 1;
            format!("{}{:03}", community.code, serial)
        };
        for _ in 0..regular[i] {
            compounds.push(Compound {
                code: code(&mut serial),
                name: regular_name(rng, &mut taken),
                community: i,
                kind: DivisionKind::Regular,
            });
        }
        for v in 0..villages[i] {
            let stem = if v == 0 {
                community_stem(community)
            } else {
                None
            };
            compounds.push(Compound {
                code: code(&mut serial),
                name: village_name(rng, &mut taken, stem),
                community: i,
                kind: DivisionKind::UrbanVillage,
            });
        }
    }
    compounds
}

fn division_rows(geo: &Geography, compounds: &[Compound]) -> Vec<DivisionRow> {
    let row = |code: &str, name: &str, level: DivisionLevel, kind: DivisionKind, parent: &str| {
        DivisionRow {
            code: code.to_string(),
            name: name.to_string(),
            level: level.as_str().to_string(),
            kind: kind.as_str().to_string(),
            parent_code: parent.to_string(),
        }
    };
    let regular = DivisionKind::Regular;
    let mut rows = Vec::with_capacity(
        1 + geo.districts.len() + geo.streets.len() + geo.communities.len() + compounds.len(),
    );
    rows.push(row(CITY_CODE, CITY_NAME, DivisionLevel::City, regular, ""));
    for d in &geo.districts {
        rows.push(row(
            &d.code,
            &d.name,
            DivisionLevel::District,
            regular,
            CITY_CODE,
        ));
    }
    for s in &geo.streets {
        let parent = &geo.districts[s.district].code;
        rows.push(row(
            &s.code,
            &s.name,
            DivisionLevel::Street,
            regular,
            parent,
        ));
    }
    for c in &geo.communities {
        let parent = &geo.streets[c.street].code;
        rows.push(row(
            &c.code,
            &c.name,
            DivisionLevel::Community,
            regular,
            parent,
        ));
    }
    for c in compounds {
        let parent = &geo.communities[c.community].code;
        rows.push(row(
            &c.code,
            &c.name,
            DivisionLevel::Compound,
            c.kind,
            parent,
        ));
    }
    rows
}

// ---- units ----

/// The unit code of the 12345 dispatch centre, the fallback unit.
const DISPATCH_CENTRE_CODE: &str = "4403-DC";

/// A bureau by first-level category: its city name, how its district counterpart is named
/// (`{d}`: the district, `{s}`: the district without 区) and the law it acts under.
struct BureauSpec {
    category: &'static str,
    city: &'static str,
    district: &'static str,
    legal_basis: &'static str,
}

const BUREAUS: [BureauSpec; 15] = [
    BureauSpec {
        category: "城乡建设",
        city: "深圳市住房和建设局",
        district: "{d}住房和建设局",
        legal_basis: "《中华人民共和国建筑法》",
    },
    BureauSpec {
        category: "党务政务",
        city: "深圳市政务服务和数据管理局",
        district: "{d}政务服务和数据管理局",
        legal_basis: "《信访工作条例》",
    },
    BureauSpec {
        category: "国土资源",
        city: "深圳市规划和自然资源局",
        district: "深圳市规划和自然资源局{s}管理局",
        legal_basis: "《中华人民共和国土地管理法》",
    },
    BureauSpec {
        category: "环境保护",
        city: "深圳市生态环境局",
        district: "深圳市生态环境局{s}管理局",
        legal_basis: "《深圳经济特区生态环境保护条例》",
    },
    BureauSpec {
        category: "纪检监察",
        city: "深圳市纪委监委",
        district: "{d}纪委监委",
        legal_basis: "《中华人民共和国监察法》",
    },
    BureauSpec {
        category: "交通运输",
        city: "深圳市交通运输局",
        district: "深圳市交通运输局{s}管理局",
        legal_basis: "《中华人民共和国道路运输条例》",
    },
    BureauSpec {
        category: "经济管理",
        city: "深圳市发展和改革委员会",
        district: "{d}发展和改革局",
        legal_basis: "《深圳经济特区优化营商环境条例》",
    },
    BureauSpec {
        category: "科技与信息产业",
        city: "深圳市工业和信息化局",
        district: "{d}工业和信息化局",
        legal_basis: "《中华人民共和国电信条例》",
    },
    BureauSpec {
        category: "民政",
        city: "深圳市民政局",
        district: "{d}民政局",
        legal_basis: "《社会救助暂行办法》",
    },
    BureauSpec {
        category: "农村农业",
        city: "深圳市农业农村局",
        district: "{d}农业农村局",
        legal_basis: "《中华人民共和国农业法》",
    },
    BureauSpec {
        category: "商贸旅游",
        city: "深圳市商务局",
        district: "{d}商务局",
        legal_basis: "《中华人民共和国消费者权益保护法》",
    },
    BureauSpec {
        category: "卫生计生",
        city: "深圳市卫生健康委员会",
        district: "{d}卫生健康局",
        legal_basis: "《中华人民共和国基本医疗卫生与健康促进法》",
    },
    BureauSpec {
        category: "政法",
        city: "深圳市公安局",
        district: "深圳市公安局{s}分局",
        legal_basis: "《中华人民共和国治安管理处罚法》",
    },
    BureauSpec {
        category: "教育文体",
        city: "深圳市教育局",
        district: "{d}教育局",
        legal_basis: "《中华人民共和国教育法》",
    },
    BureauSpec {
        category: "劳动和社会保障",
        city: "深圳市人力资源和社会保障局",
        district: "{d}人力资源局",
        legal_basis: "《中华人民共和国劳动法》",
    },
];

/// Second-level categories that the street offices lead in their streets (街道吹哨): city
/// management, safety inspections, community affairs, social assistance, village affairs.
const STREET_MATTERS: [[&str; 2]; 5] = [
    ["城乡建设", "城市建设和市政管理"],
    ["城乡建设", "安全生产"],
    ["民政", "基层选举和社区建设"],
    ["民政", "社会救助"],
    ["农村农业", "村务管理"],
];

/// Leaves that the community workstations lead in their communities.
const COMMUNITY_MATTERS: [[&str; 3]; 3] = [
    ["城乡建设", "城市建设和市政管理", "居民服务设施"],
    ["民政", "基层选举和社区建设", "社区建设"],
    ["政法", "户籍证件", "流动人口管理"],
];

/// Leaves that the property company (or, in an urban village, the joint-stock company) of each
/// compound leads.
const PROPERTY_MATTERS: [[&str; 3]; 2] = [
    ["城乡建设", "城市建设和市政管理", "小区管理"],
    ["城乡建设", "住房保障与房地产", "物业服务"],
];

/// The leaf that urban villages route to their street office with tighter deadlines: hazards in
/// dense, self-built housing (城中村安全隐患).
const VILLAGE_SAFETY_MATTER: [&str; 3] = ["城乡建设", "安全生产", "安全隐患"];
const VILLAGE_SAFETY_DEADLINES: (&str, &str) = ("1h", "12h");

/// A public-service company and the leaf it leads city-wide.
struct UtilitySpec {
    code: &'static str,
    name: &'static str,
    matter: [&'static str; 3],
    legal_basis: &'static str,
}

const UTILITIES: [UtilitySpec; 5] = [
    UtilitySpec {
        code: "4403-PS-WATER",
        name: "深圳市水务集团",
        matter: ["城乡建设", "城市建设和市政管理", "自来水供应"],
        legal_basis: "《城市供水条例》",
    },
    UtilitySpec {
        code: "4403-PS-GAS",
        name: "深圳市燃气集团",
        matter: ["城乡建设", "城市建设和市政管理", "燃气供应"],
        legal_basis: "《城镇燃气管理条例》",
    },
    UtilitySpec {
        code: "4403-PS-POWER",
        name: "深圳供电局",
        matter: ["城乡建设", "城市建设和市政管理", "电力供应"],
        legal_basis: "《电力供应与使用条例》",
    },
    UtilitySpec {
        code: "4403-PS-BUS",
        name: "深圳巴士集团",
        matter: ["城乡建设", "城市建设和市政管理", "公共汽车"],
        legal_basis: "《城市公共汽车和电车客运管理规定》",
    },
    UtilitySpec {
        code: "4403-PS-METRO",
        name: "深圳市地铁集团",
        matter: ["城乡建设", "城市建设和市政管理", "地铁城铁"],
        legal_basis: "《城市轨道交通运营管理规定》",
    },
];

const PROPERTY_FIRST: &str = "万招中华金碧龙鹏彩长佳卓星嘉泰合信安恒宏富怡锦德瑞天海特城君";
const PROPERTY_SECOND: &str = "科商海城润达隆业悦源盛发基丰信通裕祥顺和兴宇美家园联景福辉诚";
const PROPERTY_SUFFIXES: &[&str] = &["物业服务有限公司", "物业管理有限公司", "物业发展有限公司"];

fn city_bureau_code(index: usize) -> String {
    format!("{CITY_CODE}-B{:02}", index + 1)
}

fn district_bureau_code(district: &District, index: usize) -> String {
    format!("{}-B{:02}", district.code, index + 1)
}

fn street_office_code(street: &Street) -> String {
    format!("{}-SO", street.code)
}

fn workstation_code(community: &Community) -> String {
    format!("{}-CW", community.code)
}

#[derive(Default)]
struct Units {
    rows: Vec<UnitRow>,
    names: FxHashSet<String>,
}

impl Units {
    fn push(&mut self, code: String, name: String, kind: UnitKind, division: &str) {
        self.names.insert(name.clone());
        self.rows.push(UnitRow {
            code,
            name,
            kind: kind.as_str().to_string(),
            division_code: division.to_string(),
        });
    }
}

/// The company that leads the property matters of each compound, by compound index.
struct Companies {
    of_compound: Vec<String>,
}

fn build_units(
    rng: &mut impl Rng,
    geo: &Geography,
    taxonomy: &Taxonomy,
    compounds: &[Compound],
    units: &mut Units,
) -> Result<Companies> {
    units.push(
        DISPATCH_CENTRE_CODE.to_string(),
        "深圳市12345热线分拨中心".to_string(),
        UnitKind::DispatchCentre,
        CITY_CODE,
    );
    check_bureaus(taxonomy)?;
    for (i, b) in BUREAUS.iter().enumerate() {
        units.push(
            city_bureau_code(i),
            b.city.to_string(),
            UnitKind::CityBureau,
            CITY_CODE,
        );
    }
    for d in &geo.districts {
        for (i, b) in BUREAUS.iter().enumerate() {
            let name = b.district.replace("{d}", &d.name).replace("{s}", &d.short);
            units.push(
                district_bureau_code(d, i),
                name,
                UnitKind::DistrictBureau,
                &d.code,
            );
        }
    }
    for u in &UTILITIES {
        units.push(
            u.code.to_string(),
            u.name.to_string(),
            UnitKind::PublicService,
            CITY_CODE,
        );
    }
    for s in &geo.streets {
        units.push(
            street_office_code(s),
            street_office_name(&s.name),
            UnitKind::StreetOffice,
            &s.code,
        );
    }
    // Community names repeat across the city (南园社区 in 罗湖 and 南山); those workstations
    // take their street's name in front, so that every unit name is unique.
    let mut name_counts: FxHashMap<&str, usize> = FxHashMap::default();
    for c in &geo.communities {
        *name_counts.entry(c.name.as_str()).or_default() += 1;
    }
    for c in &geo.communities {
        let name = if name_counts.get(c.name.as_str()).copied().unwrap_or(0) > 1 {
            format!("{}{}工作站", geo.streets[c.street].name, c.name)
        } else {
            format!("{}工作站", c.name)
        };
        units.push(
            workstation_code(c),
            name,
            UnitKind::CommunityWorkstation,
            &c.code,
        );
    }

    let mut of_compound = vec![String::new(); compounds.len()];
    let mut regular_by_street: Vec<Vec<usize>> = vec![Vec::new(); geo.streets.len()];
    let mut villages_by_community: Vec<Vec<usize>> = vec![Vec::new(); geo.communities.len()];
    for (i, c) in compounds.iter().enumerate() {
        match c.kind {
            DivisionKind::Regular => regular_by_street[geo.communities[c.community].street].push(i),
            DivisionKind::UrbanVillage => villages_by_community[c.community].push(i),
        }
    }
    // Property companies: the regular compounds of a street, in groups of about 5.
    for (street_idx, street) in geo.streets.iter().enumerate() {
        let mut rest = regular_by_street[street_idx].as_slice();
        let mut serial = 0;
        while !rest.is_empty() {
            let size = rng.random_range(4..=6).min(rest.len());
            let (group, tail) = rest.split_at(size);
            rest = tail;
            serial += 1;
            let code = format!("{}-PM{serial:02}", street.code);
            let candidates = (0..50).map(|_| {
                let first = pick_char(rng, PROPERTY_FIRST);
                let mut second = pick_char(rng, PROPERTY_SECOND);
                if second == first {
                    second = '润';
                }
                format!("深圳市{first}{second}{}", pick(rng, PROPERTY_SUFFIXES))
            });
            let name = unique_name(&units.names, candidates, "深圳市安居物业服务有限公司");
            units.push(code.clone(), name, UnitKind::PropertyCompany, &street.code);
            for &i in group {
                of_compound[i].clone_from(&code);
            }
        }
    }
    // Joint-stock companies (股份合作公司): the urban villages of a community, in groups of about 3.
    for (community_idx, community) in geo.communities.iter().enumerate() {
        let mut rest = villages_by_community[community_idx].as_slice();
        let mut serial = 0;
        while !rest.is_empty() {
            let size = rng.random_range(2..=4).min(rest.len());
            let (group, tail) = rest.split_at(size);
            rest = tail;
            serial += 1;
            let code = format!("{}-JS{serial:02}", community.code);
            let village = &compounds[group[0]].name;
            let stem = ["新村", "老村", "村", "围"]
                .iter()
                .find_map(|s| village.strip_suffix(s).filter(|stem| !stem.is_empty()))
                .unwrap_or(village);
            let district = &geo.districts[community.district].short;
            let candidates = [
                format!("深圳市{stem}股份合作公司"),
                format!("深圳市{district}{stem}股份合作公司"),
            ];
            let name = unique_name(
                &units.names,
                candidates,
                &format!("深圳市{stem}股份合作公司"),
            );
            units.push(
                code.clone(),
                name,
                UnitKind::PropertyCompany,
                &community.code,
            );
            for &i in group {
                of_compound[i].clone_from(&code);
            }
        }
    }
    Ok(Companies { of_compound })
}

/// Every first-level category has a bureau, in catalogue order.
fn check_bureaus(taxonomy: &Taxonomy) -> Result<()> {
    let categories: Vec<&str> = taxonomy.roots.iter().map(|n| n.name.as_str()).collect();
    let bureaus: Vec<&str> = BUREAUS.iter().map(|b| b.category).collect();
    if categories != bureaus {
        bail!("the bureaus {bureaus:?} do not match the first-level categories {categories:?}");
    }
    Ok(())
}

// ---- the responsibility list ----

fn rule(
    matter: &str,
    division: &str,
    lead: &str,
    co_units: &[&str],
    legal_basis: &str,
    deadlines: Option<(&str, &str)>,
) -> RuleRow {
    RuleRow {
        matter_code: matter.to_string(),
        division_code: division.to_string(),
        lead_unit_code: lead.to_string(),
        co_unit_codes: co_units.join(";"),
        legal_basis: legal_basis.to_string(),
        response: deadlines.map(|d| d.0.to_string()).unwrap_or_default(),
        handling: deadlines.map(|d| d.1.to_string()).unwrap_or_default(),
    }
}

/// Builds the list as rules that nest: (category, city) ⊃ (category, district) ⊃
/// (second level, street) ⊃ (leaf, community) ⊃ (leaf, compound). The only rules that name a
/// narrower matter over a wider division are the utilities' (leaf, district); each is repeated
/// as (leaf, street) in every street, so that where they cross a street rule, a rule within
/// both names the same company.
fn build_rules(
    geo: &Geography,
    taxonomy: &Taxonomy,
    compounds: &[Compound],
    companies: &Companies,
) -> Result<Vec<RuleRow>> {
    let mut rules = Vec::new();
    // (first level, city) → the city bureau; (first level, district) → the district bureau.
    for (i, b) in BUREAUS.iter().enumerate() {
        let matter = taxonomy.code(&[b.category])?;
        rules.push(rule(
            matter,
            CITY_CODE,
            &city_bureau_code(i),
            &[],
            b.legal_basis,
            None,
        ));
    }
    for d in &geo.districts {
        for (i, b) in BUREAUS.iter().enumerate() {
            let matter = taxonomy.code(&[b.category])?;
            rules.push(rule(
                matter,
                &d.code,
                &district_bureau_code(d, i),
                &[],
                b.legal_basis,
                None,
            ));
        }
    }
    // (second level, street) → the street office, with the district bureau.
    for path in &STREET_MATTERS {
        let matter = taxonomy.code(path)?;
        let bureau = bureau_index(path[0])?;
        for s in &geo.streets {
            let district_bureau = district_bureau_code(&geo.districts[s.district], bureau);
            rules.push(rule(
                matter,
                &s.code,
                &street_office_code(s),
                &[&district_bureau],
                "《深圳市街道办事处职责清单》",
                None,
            ));
        }
    }
    // (leaf, community) → the community workstation, with the street office.
    for path in &COMMUNITY_MATTERS {
        let matter = taxonomy.code(path)?;
        for c in &geo.communities {
            let office = street_office_code(&geo.streets[c.street]);
            rules.push(rule(
                matter,
                &c.code,
                &workstation_code(c),
                &[&office],
                "《中华人民共和国城市居民委员会组织法》",
                None,
            ));
        }
    }
    // (leaf, compound) → the compound's property or joint-stock company, with the workstation.
    for path in &PROPERTY_MATTERS {
        let matter = taxonomy.code(path)?;
        for (i, c) in compounds.iter().enumerate() {
            let workstation = workstation_code(&geo.communities[c.community]);
            rules.push(rule(
                matter,
                &c.code,
                &companies.of_compound[i],
                &[&workstation],
                "《物业管理条例》；《深圳经济特区物业管理条例》",
                None,
            ));
        }
    }
    // Utilities: (leaf, district) and (leaf, street) → the company.
    let city_construction = bureau_index("城乡建设")?;
    for u in &UTILITIES {
        let matter = taxonomy.code(&u.matter)?;
        for d in &geo.districts {
            let bureau = district_bureau_code(d, city_construction);
            rules.push(rule(
                matter,
                &d.code,
                u.code,
                &[&bureau],
                u.legal_basis,
                None,
            ));
        }
        for s in &geo.streets {
            rules.push(rule(
                matter,
                &s.code,
                u.code,
                &[&street_office_code(s)],
                u.legal_basis,
                None,
            ));
        }
    }
    // Hazards in urban villages: the street office, with the village's company and the
    // workstation, on tighter clocks.
    let matter = taxonomy.code(&VILLAGE_SAFETY_MATTER)?;
    for (i, c) in compounds.iter().enumerate() {
        if c.kind != DivisionKind::UrbanVillage {
            continue;
        }
        let community = &geo.communities[c.community];
        let office = street_office_code(&geo.streets[community.street]);
        rules.push(rule(
            matter,
            &c.code,
            &office,
            &[&companies.of_compound[i], &workstation_code(community)],
            "《中华人民共和国消防法》；《中华人民共和国安全生产法》",
            Some(VILLAGE_SAFETY_DEADLINES),
        ));
    }
    Ok(rules)
}

fn bureau_index(category: &str) -> Result<usize> {
    BUREAUS
        .iter()
        .position(|b| b.category == category)
        .ok_or_else(|| anyhow!("no bureau for {category}"))
}

// ---- staff ----

fn password(rng: &mut impl Rng) -> String {
    (0..16)
        .map(|_| char::from(rng.sample(Alphanumeric)))
        .collect()
}

/// One account per staff role; the unit roles belong to the first street office (桂园街道).
fn staff_accounts(rng: &mut impl Rng, geo: &Geography) -> Result<Vec<UserAccount>> {
    let street = geo.streets.first().ok_or_else(|| anyhow!("no streets"))?;
    let office = street_office_code(street);
    let accounts = [
        ("operator", "话务员林晓敏", Role::Operator, None),
        ("dispatcher", "分拨员陈志强", Role::Dispatcher, None),
        (
            "clerk",
            "承办人王丽",
            Role::UnitHandler,
            Some(office.clone()),
        ),
        ("leader", "负责人李建国", Role::UnitLeader, Some(office)),
        ("supervisor", "督办员赵明", Role::Supervisor, None),
        ("admin", "系统管理员", Role::Admin, None),
        ("helper", "助企专员周婷", Role::ServiceTeam, None),
    ];
    Ok(accounts
        .into_iter()
        .map(|(username, display_name, role, unit_code)| UserAccount {
            username: username.to_string(),
            display_name: display_name.to_string(),
            role,
            unit_code,
            password: password(rng),
        })
        .collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use minyi_domain::calendar::Span;
    use minyi_domain::catalog::{Catalog, Deadlines, Matter, MatterPolicy};
    use minyi_domain::division::{Division, DivisionTree};
    use minyi_domain::responsibility::{CheckReport, Resolution, ResponsibilityList, Rule};
    use minyi_domain::{DivisionId, MatterId, RuleId, UnitId};
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn city() -> City {
        generate(&mut StdRng::seed_from_u64(12345)).unwrap()
    }

    /// The city as domain values, with ids assigned by position as the store would.
    struct Domain {
        divisions: DivisionTree,
        catalog: Catalog,
        rules: Vec<Rule>,
        fallback: UnitId,
        division_ids: FxHashMap<String, DivisionId>,
        matter_ids: FxHashMap<String, MatterId>,
        unit_ids: FxHashMap<String, UnitId>,
    }

    impl Domain {
        fn new(city: &City) -> Self {
            let division_ids: FxHashMap<String, DivisionId> = city
                .divisions
                .iter()
                .enumerate()
                .map(|(i, d)| (d.code.clone(), DivisionId(i as i64 + 1)))
                .collect();
            let divisions = DivisionTree::new(
                city.divisions
                    .iter()
                    .map(|d| Division {
                        id: division_ids[&d.code],
                        code: d.code.clone(),
                        name: d.name.clone(),
                        level: DivisionLevel::parse(&d.level).unwrap(),
                        kind: DivisionKind::parse(&d.kind).unwrap(),
                        parent: (!d.parent_code.is_empty()).then(|| division_ids[&d.parent_code]),
                    })
                    .collect(),
            )
            .unwrap();
            let matter_ids: FxHashMap<String, MatterId> = city
                .matters
                .iter()
                .enumerate()
                .map(|(i, m)| (m.code.clone(), MatterId(i as i64 + 1)))
                .collect();
            let catalog = Catalog::new(
                city.matters
                    .iter()
                    .map(|m| Matter {
                        id: matter_ids[&m.code],
                        code: m.code.clone(),
                        name: m.name.clone(),
                        parent: (!m.parent_code.is_empty()).then(|| matter_ids[&m.parent_code]),
                        level: m.code.split('.').count() as u8,
                        policy: (!m.urgency.is_empty()).then(|| MatterPolicy {
                            urgency: Urgency::parse(&m.urgency).unwrap(),
                            deadlines: Deadlines {
                                response: Span::parse(&m.response).unwrap(),
                                handling: Span::parse(&m.handling).unwrap(),
                            },
                            consultation: m.consultation == "1",
                        }),
                    })
                    .collect(),
            )
            .unwrap();
            let unit_ids: FxHashMap<String, UnitId> = city
                .units
                .iter()
                .enumerate()
                .map(|(i, u)| (u.code.clone(), UnitId(i as i64 + 1)))
                .collect();
            let rules = city
                .rules
                .iter()
                .enumerate()
                .map(|(i, r)| Rule {
                    id: RuleId(i as i64 + 1),
                    matter: matter_ids[&r.matter_code],
                    division: division_ids[&r.division_code],
                    lead: unit_ids[&r.lead_unit_code],
                    co_units: r
                        .co_unit_codes
                        .split(';')
                        .filter(|c| !c.is_empty())
                        .map(|c| unit_ids[c])
                        .collect(),
                    legal_basis: r.legal_basis.clone(),
                    deadlines: (!r.response.is_empty()).then(|| Deadlines {
                        response: Span::parse(&r.response).unwrap(),
                        handling: Span::parse(&r.handling).unwrap(),
                    }),
                })
                .collect();
            let fallback = unit_ids[&city.fallback_unit];
            Self {
                divisions,
                catalog,
                rules,
                fallback,
                division_ids,
                matter_ids,
                unit_ids,
            }
        }

        fn check(&self, rules: Vec<Rule>) -> CheckReport {
            ResponsibilityList::new(rules, self.fallback).check(&self.catalog, &self.divisions)
        }

        fn lead(&self, rules: &[Rule], matter: &str, division: &str) -> Option<UnitId> {
            let list = ResponsibilityList::new(rules.to_vec(), self.fallback);
            match list.resolve(
                &self.catalog,
                &self.divisions,
                self.matter_ids[matter],
                self.division_ids[division],
            ) {
                Resolution::Resolved(r) => Some(r.lead),
                _ => None,
            }
        }
    }

    fn count_level(city: &City, level: DivisionLevel) -> usize {
        city.divisions
            .iter()
            .filter(|d| d.level == level.as_str())
            .count()
    }

    #[test]
    fn the_list_is_complete_and_conflict_free() {
        let city = city();
        let domain = Domain::new(&city);
        let report = domain.check(domain.rules.clone());
        assert_eq!(report.leaf_matters, 517);
        assert_eq!(
            report.leaf_divisions,
            count_level(&city, DivisionLevel::Compound)
        );
        assert_eq!((report.gaps, report.conflicts), (0, 0), "{report:?}");
    }

    #[test]
    fn the_real_divisions_are_all_there_with_their_codes() {
        let city = city();
        assert_eq!(count_level(&city, DivisionLevel::City), 1);
        assert_eq!(count_level(&city, DivisionLevel::District), 9);
        assert_eq!(count_level(&city, DivisionLevel::Street), 79);
        assert_eq!(count_level(&city, DivisionLevel::Community), 788);
        let by_code: FxHashMap<&str, &DivisionRow> = city
            .divisions
            .iter()
            .map(|d| (d.code.as_str(), d))
            .collect();
        assert_eq!(
            by_code.len(),
            city.divisions.len(),
            "division codes are unique"
        );
        assert_eq!(by_code["4403"].name, "深圳市");
        assert_eq!(by_code["440304"].name, "福田区");
        assert_eq!(by_code["440303001"].name, "桂园街道");
        assert_eq!(by_code["440303001001"].name, "大塘龙社区");
        assert_eq!(by_code["440308001002"].name, "小梅沙社区");
        for line in COMMUNITIES_CSV.lines().skip(1) {
            let code = line.split(',').next().unwrap();
            assert_eq!(by_code[code].level, "community", "{code}");
        }
        // Community names are short and unique within their street.
        let mut seen = FxHashSet::default();
        for d in city.divisions.iter().filter(|d| d.level == "community") {
            assert!(!d.name.contains("居委"), "{}", d.name);
            assert!(
                seen.insert((d.parent_code.clone(), d.name.clone())),
                "{}",
                d.name
            );
        }
    }

    #[test]
    fn compounds_are_counted_named_and_coded_as_the_article_says() {
        let city = city();
        let compounds: Vec<&DivisionRow> = city
            .divisions
            .iter()
            .filter(|d| d.level == "compound")
            .collect();
        let villages = compounds
            .iter()
            .filter(|d| d.kind == "urban_village")
            .count();
        let regular = compounds.len() - villages;
        assert!((3780..=4620).contains(&regular), "{regular}");
        assert!((1710..=2090).contains(&villages), "{villages}");
        let mut names = FxHashSet::default();
        let mut with_compounds = FxHashSet::default();
        for c in &compounds {
            assert!(
                names.insert((c.parent_code.as_str(), c.name.as_str())),
                "{}",
                c.name
            );
            assert!(
                c.code.starts_with(&c.parent_code) && c.code.len() == 15,
                "{}",
                c.code
            );
            with_compounds.insert(c.parent_code.as_str());
        }
        assert_eq!(with_compounds.len(), 788, "every community has a compound");
        // Urban villages lean to the outer districts.
        let share = |district: &str| {
            compounds
                .iter()
                .filter(|c| c.code.starts_with(district) && c.kind == "urban_village")
                .count()
        };
        assert!(share("440306") > 3 * share("440304"));
        assert!(share("440307") > 3 * share("440303"));
    }

    #[test]
    fn the_catalogue_has_three_levels_and_every_leaf_has_a_policy() {
        let city = city();
        let level = |n: usize| {
            city.matters
                .iter()
                .filter(move |m| m.code.split('.').count() == n)
        };
        assert_eq!(level(1).count(), 15);
        assert_eq!(level(2).count(), 118);
        assert_eq!(level(3).count(), 517);
        for m in level(1).chain(level(2)) {
            assert!(m.urgency.is_empty() && m.response.is_empty() && m.consultation.is_empty());
        }
        for m in level(3) {
            let expect = match (m.urgency.as_str(), m.consultation.as_str()) {
                ("urgent", "0") => ("2h", "24h"),
                ("ordinary", "1") => ("4wh", "1wd"),
                ("ordinary", "0") if m.handling == "10wd" => ("1wd", "10wd"),
                ("ordinary", "0") => ("1wd", "5wd"),
                other => panic!("{}: {other:?}", m.name),
            };
            assert_eq!(
                (m.response.as_str(), m.handling.as_str()),
                expect,
                "{}",
                m.name
            );
        }
        let policy = |name: &str| {
            let m = level(3).find(|m| m.name == name).unwrap();
            (
                m.urgency.clone(),
                m.consultation.clone(),
                m.handling.clone(),
            )
        };
        assert_eq!(
            policy("安全隐患"),
            ("urgent".into(), "0".into(), "24h".into())
        );
        assert_eq!(policy("燃气供应").0, "urgent");
        assert_eq!(policy("城镇危房改造").0, "ordinary");
        assert_eq!(policy("医疗事故争议").0, "ordinary");
        assert_eq!(policy("退休政策").1, "1");
        assert_eq!(policy("政策性破产").1, "0");
        assert_eq!(policy("违章建筑").2, "10wd");
        assert_eq!(
            policy("噪音污染"),
            ("ordinary".into(), "0".into(), "5wd".into())
        );
    }

    #[test]
    fn units_have_unique_codes_and_every_code_named_exists() {
        let city = city();
        let codes: FxHashSet<&str> = city.units.iter().map(|u| u.code.as_str()).collect();
        assert_eq!(codes.len(), city.units.len(), "unit codes are unique");
        let names: FxHashSet<&str> = city.units.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names.len(), city.units.len(), "unit names are unique");
        let divisions: FxHashSet<&str> = city.divisions.iter().map(|d| d.code.as_str()).collect();
        for u in &city.units {
            assert!(divisions.contains(u.division_code.as_str()), "{}", u.code);
            assert!(UnitKind::parse(&u.kind).is_some(), "{}", u.kind);
        }
        for r in &city.rules {
            assert!(codes.contains(r.lead_unit_code.as_str()), "{r:?}");
            for co in r.co_unit_codes.split(';').filter(|c| !c.is_empty()) {
                assert!(codes.contains(co), "{r:?}");
            }
        }
        assert!(codes.contains(city.fallback_unit.as_str()));
        let kind = |k: UnitKind| city.units.iter().filter(|u| u.kind == k.as_str()).count();
        assert_eq!(kind(UnitKind::DispatchCentre), 1);
        assert_eq!(kind(UnitKind::CityBureau), 15);
        assert_eq!(kind(UnitKind::DistrictBureau), 135);
        assert_eq!(kind(UnitKind::StreetOffice), 79);
        assert_eq!(kind(UnitKind::CommunityWorkstation), 788);
        assert_eq!(kind(UnitKind::PublicService), 5);
        assert!((1200..=2200).contains(&kind(UnitKind::PropertyCompany)));
        let name = |code: &str| {
            city.units
                .iter()
                .find(|u| u.code == code)
                .unwrap()
                .name
                .clone()
        };
        assert_eq!(name("440303001-SO"), "桂园街道办事处");
        assert_eq!(name("440303001001-CW"), "大塘龙社区工作站");
        assert_eq!(name("440304-B01"), "福田区住房和建设局");
        assert_eq!(name("440304-B13"), "深圳市公安局福田分局");
    }

    #[test]
    fn the_most_specific_rule_names_the_unit_on_the_ground() {
        let city = city();
        let domain = Domain::new(&city);
        let matter = |path: &[&str]| Taxonomy::load().unwrap().code(path).unwrap().to_string();
        let village = city
            .divisions
            .iter()
            .find(|d| d.kind == "urban_village")
            .unwrap();
        let regular = city
            .divisions
            .iter()
            .find(|d| d.level == "compound" && d.kind == "regular")
            .unwrap();
        let unit = |code: &str| Some(domain.unit_ids[code]);
        let lead = |m: &str, d: &str| domain.lead(&domain.rules, m, d);
        // Gas in any compound: the gas company, not the street office that runs 市政管理.
        assert_eq!(
            lead(&matter(&UTILITIES[1].matter), &regular.code),
            unit("4403-PS-GAS")
        );
        // A hazard in an urban village: its street office, on tighter clocks.
        let hazard = matter(&VILLAGE_SAFETY_MATTER);
        let street = &village.code[..9];
        assert_eq!(lead(&hazard, &village.code), unit(&format!("{street}-SO")));
        let override_rule = city
            .rules
            .iter()
            .find(|r| r.matter_code == hazard && r.division_code == village.code)
            .unwrap();
        assert_eq!(
            (
                override_rule.response.as_str(),
                override_rule.handling.as_str()
            ),
            ("1h", "12h")
        );
        // Property matters: the compound's own company.
        let property = matter(&PROPERTY_MATTERS[0]);
        let company = city
            .rules
            .iter()
            .find(|r| r.matter_code == property && r.division_code == regular.code)
            .unwrap();
        assert_eq!(
            lead(&property, &regular.code),
            unit(&company.lead_unit_code)
        );
        // Noise: the district's branch of the ecology bureau.
        let noise = matter(&["环境保护", "环境污染", "噪音污染"]);
        assert_eq!(
            lead(&noise, &regular.code),
            unit(&format!("{}-B04", &regular.code[..6]))
        );
    }

    /// The city cut down to one district (with the city above it), to check it quickly.
    fn only_district(city: &City, district: &str) -> City {
        let mut cut = city.clone();
        cut.divisions
            .retain(|d| d.code == CITY_CODE || d.code.starts_with(district));
        let kept: FxHashSet<String> = cut.divisions.iter().map(|d| d.code.clone()).collect();
        cut.rules.retain(|r| kept.contains(&r.division_code));
        cut
    }

    #[test]
    fn a_category_without_its_city_and_district_rules_leaves_gaps() {
        let city = only_district(&city(), "440304");
        let domain = Domain::new(&city);
        let category = domain.matter_ids["14"]; // 教育文体: no rule below the district level
        let futian = domain.division_ids["440304"];
        let without = |drop: &[(MatterId, DivisionId)]| -> Vec<Rule> {
            domain
                .rules
                .iter()
                .filter(|r| !drop.contains(&(r.matter, r.division)))
                .cloned()
                .collect()
        };
        // The district rules back up the city rule: dropping the city rule alone leaves no gap.
        let city_rule = (category, domain.division_ids[CITY_CODE]);
        let report = domain.check(without(&[city_rule]));
        assert_eq!((report.gaps, report.conflicts), (0, 0), "{report:?}");
        // Dropping Futian's rule too leaves every 教育文体 leaf in every Futian compound open.
        let report = domain.check(without(&[city_rule, (category, futian)]));
        let leaves = city
            .matters
            .iter()
            .filter(|m| m.code.starts_with("14.") && m.code.len() == 9)
            .count() as u64;
        let compounds = count_level(&city, DivisionLevel::Compound) as u64;
        assert_eq!((report.gaps, report.conflicts), (leaves * compounds, 0));
        for f in &report.gap_samples {
            assert!(domain.divisions.is_within(f.division, futian));
            assert_eq!(
                domain.catalog.self_and_ancestors(f.matter).last(),
                Some(&category)
            );
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_city_and_staff_have_every_role() {
        let a = city();
        let b = city();
        assert_eq!(a.divisions, b.divisions);
        assert_eq!(a.units, b.units);
        assert_eq!(a.rules, b.rules);
        assert_eq!(a.matters, b.matters);
        let pa: Vec<&str> = a.staff.iter().map(|s| s.password.as_str()).collect();
        let pb: Vec<&str> = b.staff.iter().map(|s| s.password.as_str()).collect();
        assert_eq!(pa, pb);
        let roles: Vec<Role> = a.staff.iter().map(|s| s.role).collect();
        assert_eq!(roles, Role::STAFF.to_vec());
        for s in &a.staff {
            assert_eq!(s.password.len(), 16);
            assert!(s.password.chars().all(|c| c.is_ascii_alphanumeric()));
            assert_eq!(s.unit_code.is_some(), s.role.is_unit_role());
        }
        let other = generate(&mut StdRng::seed_from_u64(7)).unwrap();
        assert_ne!(a.divisions, other.divisions);
    }
}
