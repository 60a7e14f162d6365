//! A tiny city, loaded through the store's import functions, and helpers to act in it.
//!
//! Divisions: 深圳市 → 福田区 → 华富街道 → two communities; 莲花一村社区 holds a compound and an
//! urban village, 田面社区 an urban village (3 leaf divisions).
//!
//! Catalogue (3 levels, 5 leaves): 城乡建设 → 市容环境 (policy) → 占道经营, 噪音扰民 (own spans);
//! 城乡建设 → 住房保障 → 物业纠纷 (policy on the leaf); 咨询 → 政策咨询 → 社保政策咨询
//! (consultation); 安全生产 → 燃气 → 燃气泄漏 (urgent).
//!
//! Units: the dispatch centre (fallback), the city management bureau, the district housing
//! bureau, the street office and a community workstation. Six rules cover every leaf matter in
//! every leaf division without conflict.
//!
//! Calendar: standard hours (09:00–12:00, 14:00–18:00, +08:00), 2025-10-01..03 holidays and
//! 2025-09-28 (a Sunday) a make-up working day.

use chrono::{DateTime, NaiveDate, Utc};
use minyi_domain::calendar::{DayKind, DayOverride, WorkingHours};
use minyi_domain::catalog::Catalog;
use minyi_domain::division::DivisionTree;
use minyi_domain::personal::{PersonName, PhoneNumber};
use minyi_domain::request::{
    Assignment, CategorySource, Channel, Classification, Command, Location as Place, Request,
    RequesterKind,
};
use minyi_domain::responsibility::{Resolution, ResponsibilityList};
use minyi_domain::unit::{Actor, Role};
use minyi_domain::{DivisionId, MatterId, RequestId, UnitId, UserId};
use minyi_store::{DivisionRow, MatterRow, NewRequest, RequesterInfo, RuleRow, Store, UnitRow};
use std::collections::HashMap;

pub const CITY: &str = "440300";
pub const DISTRICT: &str = "440304";
pub const STREET: &str = "440304001";
pub const COMMUNITY_1: &str = "440304001001";
pub const COMMUNITY_2: &str = "440304001002";
/// 莲花一村小区, a regular compound in community 1.
pub const COMPOUND_1: &str = "440304001001-01";
/// 莲花北村, an urban village in community 1.
pub const VILLAGE_1: &str = "440304001001-02";
/// 田面村, an urban village in community 2.
pub const VILLAGE_2: &str = "440304001002-01";

/// 占道经营: inherits the policy of 市容环境.
pub const STREET_VENDING: &str = "01.01.001";
/// 噪音扰民: its own spans, and a street rule with its own deadlines.
pub const NOISE: &str = "01.01.002";
/// 物业纠纷: ordinary (1wd / 5wd); led by the community workstation in community 1, by the
/// district housing bureau elsewhere.
pub const PROPERTY: &str = "01.02.001";
/// 社保政策咨询: a consultation.
pub const CONSULTATION: &str = "02.01.001";
/// 燃气泄漏: urgent.
pub const GAS_LEAK: &str = "03.01.001";

pub const DISPATCH_CENTRE: &str = "DC";
pub const CITY_BUREAU: &str = "SZ-CGJ";
pub const DISTRICT_BUREAU: &str = "FT-ZJJ";
pub const STREET_OFFICE: &str = "HF-JDB";
pub const WORKSTATION: &str = "LH-GZZ";

/// The phone number the fixture's requesters give.
pub const PHONE: &str = "13812345678";

fn division(code: &str, name: &str, level: &str, kind: &str, parent: &str) -> DivisionRow {
    DivisionRow {
        code: code.into(),
        name: name.into(),
        level: level.into(),
        kind: kind.into(),
        parent_code: parent.into(),
    }
}

/// The division rows of the fixture.
pub fn division_rows() -> Vec<DivisionRow> {
    vec![
        // Deliberately not in tree order: the import sorts by level.
        division(
            COMPOUND_1,
            "莲花一村小区",
            "compound",
            "regular",
            COMMUNITY_1,
        ),
        division(CITY, "深圳市", "city", "regular", ""),
        division(DISTRICT, "福田区", "district", "regular", CITY),
        division(STREET, "华富街道", "street", "regular", DISTRICT),
        division(COMMUNITY_1, "莲花一村社区", "community", "regular", STREET),
        division(COMMUNITY_2, "田面社区", "community", "regular", STREET),
        division(
            VILLAGE_1,
            "莲花北村",
            "compound",
            "urban_village",
            COMMUNITY_1,
        ),
        division(
            VILLAGE_2,
            "田面村",
            "compound",
            "urban_village",
            COMMUNITY_2,
        ),
    ]
}

fn unit(code: &str, name: &str, kind: &str, division: &str) -> UnitRow {
    UnitRow {
        code: code.into(),
        name: name.into(),
        kind: kind.into(),
        division_code: division.into(),
    }
}

/// The unit rows of the fixture.
pub fn unit_rows() -> Vec<UnitRow> {
    vec![
        unit(DISPATCH_CENTRE, "12345 分拨中心", "dispatch_centre", CITY),
        unit(CITY_BUREAU, "市城市管理和综合执法局", "city_bureau", CITY),
        unit(
            DISTRICT_BUREAU,
            "福田区住房和建设局",
            "district_bureau",
            DISTRICT,
        ),
        unit(STREET_OFFICE, "华富街道办事处", "street_office", STREET),
        unit(
            WORKSTATION,
            "莲花一村社区工作站",
            "community_workstation",
            COMMUNITY_1,
        ),
    ]
}

/// A matter row; `policy` is (urgency, response, handling, consultation), all possibly empty.
pub fn matter(code: &str, name: &str, parent: &str, policy: [&str; 4]) -> MatterRow {
    let [urgency, response, handling, consultation] = policy;
    MatterRow {
        code: code.into(),
        name: name.into(),
        parent_code: parent.into(),
        urgency: urgency.into(),
        response: response.into(),
        handling: handling.into(),
        consultation: consultation.into(),
    }
}

const NO_POLICY: [&str; 4] = ["", "", "", ""];

/// The catalogue rows of the fixture.
pub fn matter_rows() -> Vec<MatterRow> {
    vec![
        // A leaf before its parents: the import places parents first.
        matter(STREET_VENDING, "占道经营", "01.01", NO_POLICY),
        matter("01", "城乡建设", "", NO_POLICY),
        matter("01.01", "市容环境", "01", ["ordinary", "", "", ""]),
        matter(NOISE, "噪音扰民", "01.01", ["ordinary", "8wh", "3wd", "0"]),
        matter("01.02", "住房保障", "01", NO_POLICY),
        matter(PROPERTY, "物业纠纷", "01.02", ["ordinary", "", "", ""]),
        matter("02", "咨询", "", NO_POLICY),
        matter("02.01", "政策咨询", "02", NO_POLICY),
        matter(
            CONSULTATION,
            "社保政策咨询",
            "02.01",
            ["ordinary", "", "", "1"],
        ),
        matter("03", "安全生产", "", NO_POLICY),
        matter("03.01", "燃气", "03", NO_POLICY),
        matter(GAS_LEAK, "燃气泄漏", "03.01", ["urgent", "", "", ""]),
    ]
}

fn rule(
    matter: &str,
    division: &str,
    lead: &str,
    co: &str,
    basis: &str,
    spans: [&str; 2],
) -> RuleRow {
    RuleRow {
        matter_code: matter.into(),
        division_code: division.into(),
        lead_unit_code: lead.into(),
        co_unit_codes: co.into(),
        legal_basis: basis.into(),
        response: spans[0].into(),
        handling: spans[1].into(),
    }
}

/// The responsibility list of the fixture: complete (no gap) and without conflict.
pub fn rule_rows() -> Vec<RuleRow> {
    vec![
        rule(
            "01.01",
            CITY,
            CITY_BUREAU,
            "",
            "《城市市容和环境卫生管理条例》第十四条",
            ["", ""],
        ),
        rule(
            NOISE,
            STREET,
            STREET_OFFICE,
            WORKSTATION,
            "《噪声污染防治法》第六十九条, \"社区\" 协助",
            ["4wh", "3wd"],
        ),
        rule(
            "01.02",
            DISTRICT,
            DISTRICT_BUREAU,
            "",
            "《物业管理条例》第五条",
            ["", ""],
        ),
        rule("02", CITY, DISPATCH_CENTRE, "", "", ["", ""]),
        rule(
            "03",
            CITY,
            CITY_BUREAU,
            &format!("{DISTRICT_BUREAU};{STREET_OFFICE}"),
            "《城镇燃气管理条例》",
            ["1h", "12h"],
        ),
        rule(
            PROPERTY,
            COMMUNITY_1,
            WORKSTATION,
            STREET_OFFICE,
            "",
            ["", ""],
        ),
    ]
}

/// The calendar overrides of the fixture.
pub fn calendar_overrides() -> Vec<DayOverride> {
    let day = |d: &str| d.parse::<NaiveDate>().unwrap();
    vec![
        DayOverride {
            date: day("2025-09-28"),
            kind: DayKind::MakeUpWorkday,
            name: "国庆节".into(),
        },
        DayOverride {
            date: day("2025-10-01"),
            kind: DayKind::Holiday,
            name: "国庆节".into(),
        },
        DayOverride {
            date: day("2025-10-02"),
            kind: DayKind::Holiday,
            name: "国庆节".into(),
        },
        DayOverride {
            date: day("2025-10-03"),
            kind: DayKind::Holiday,
            name: "国庆节".into(),
        },
    ]
}

/// An instant written in local time (+08:00), e.g. `local("2025-03-10 10:00")`.
pub fn local(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_str(&format!("{s} +08:00"), "%Y-%m-%d %H:%M %z")
        .unwrap_or_else(|e| panic!("bad local time {s}: {e}"))
        .with_timezone(&Utc)
}

/// Monday 2025-03-10 10:00 local: the fixture's "now".
pub fn monday() -> DateTime<Utc> {
    local("2025-03-10 10:00")
}

/// The fixture city as loaded: ids by code and the reference data as the domain sees it.
pub struct City {
    pub divisions: HashMap<String, DivisionId>,
    pub units: HashMap<String, UnitId>,
    pub matters: HashMap<String, MatterId>,
    pub tree: DivisionTree,
    pub catalog: Catalog,
    pub list: ResponsibilityList,
}

impl City {
    /// Imports the fixture into an empty store.
    pub async fn load(store: &Store) -> City {
        assert_eq!(store.import_divisions(&division_rows()).await.unwrap(), 8);
        assert_eq!(store.import_units(&unit_rows()).await.unwrap(), 5);
        assert_eq!(store.import_matters(&matter_rows()).await.unwrap(), 12);
        assert_eq!(store.replace_rules(&rule_rows()).await.unwrap(), 6);
        store.set_fallback_unit(DISPATCH_CENTRE).await.unwrap();
        store
            .replace_calendar(&calendar_overrides(), &WorkingHours::standard())
            .await
            .unwrap();
        City::read(store).await
    }

    /// Reads the reference data back from the store.
    pub async fn read(store: &Store) -> City {
        let tree = store.load_divisions().await.unwrap();
        let catalog = store.load_catalog().await.unwrap();
        let list = store.load_responsibility_list().await.unwrap();
        City {
            divisions: tree.iter().map(|d| (d.code.clone(), d.id)).collect(),
            units: store
                .load_units()
                .await
                .unwrap()
                .into_iter()
                .map(|u| (u.code, u.id))
                .collect(),
            matters: catalog.iter().map(|m| (m.code.clone(), m.id)).collect(),
            tree,
            catalog,
            list,
        }
    }

    pub fn division(&self, code: &str) -> DivisionId {
        *self
            .divisions
            .get(code)
            .unwrap_or_else(|| panic!("no division {code}"))
    }

    pub fn unit(&self, code: &str) -> UnitId {
        *self
            .units
            .get(code)
            .unwrap_or_else(|| panic!("no unit {code}"))
    }

    pub fn matter(&self, code: &str) -> MatterId {
        *self
            .matters
            .get(code)
            .unwrap_or_else(|| panic!("no matter {code}"))
    }

    /// The classification a dispatcher gives a request of this matter.
    pub fn classification(&self, matter: &str) -> Classification {
        let id = self.matter(matter);
        let policy = self.catalog.policy(id).unwrap();
        Classification {
            matter: id,
            source: CategorySource::Person,
            confidence: None,
            urgency: policy.urgency,
            consultation: policy.consultation,
        }
    }

    /// The assignment the responsibility list gives this matter in this division.
    pub fn assignment(&self, matter: &str, division: &str) -> Assignment {
        let m = self.matter(matter);
        let policy = self.catalog.policy(m).unwrap();
        match self
            .list
            .resolve(&self.catalog, &self.tree, m, self.division(division))
        {
            Resolution::Resolved(rule) => Assignment {
                lead: rule.lead,
                co_units: rule.co_units.clone(),
                rule: Some(rule.id),
                legal_basis: rule.legal_basis.clone(),
                deadlines: rule.deadlines.unwrap_or(policy.deadlines),
            },
            Resolution::Gap { fallback } => Assignment {
                lead: fallback,
                co_units: Vec::new(),
                rule: None,
                legal_basis: String::new(),
                deadlines: policy.deadlines,
            },
            Resolution::Conflict(rules) => {
                panic!("{matter} in {division} is a conflict: {rules:?}")
            }
        }
    }

    pub fn classify(&self, matter: &str) -> Command {
        Command::Classify {
            classification: self.classification(matter),
        }
    }

    pub fn dispatch(&self, matter: &str, division: &str) -> Command {
        Command::Dispatch {
            assignment: self.assignment(matter, division),
        }
    }

    /// A clerk of the unit with this code.
    pub fn handler(&self, unit: &str) -> Actor {
        let id = self.unit(unit);
        Actor::of_unit(UserId(1000 + id.0), Role::UnitHandler, id)
    }

    /// A citizen's request about `division`, without Idempotency-Key or follow-up.
    pub fn new_request(&self, title: &str, text: &str, division: &str) -> NewRequest {
        NewRequest {
            channel: Channel::Hotline,
            requester_kind: RequesterKind::Citizen,
            title: title.into(),
            text: text.into(),
            location: Place {
                division: Some(self.division(division)),
                address: "福田区华富街道莲花一村12栋".into(),
                lat_lng: Some((22.5455, 114.0683)),
            },
            requester: RequesterInfo {
                name: Some(PersonName::parse("张三").unwrap()),
                phone: Some(PhoneNumber::parse(PHONE).unwrap()),
                address: "莲花一村12栋301".into(),
                enterprise_name: None,
            },
            idempotency_key: None,
            follow_up: Vec::new(),
        }
    }

    /// Receives a request of `matter` in `division` at `now`, classified and dispatched by the
    /// responsibility list at intake.
    pub async fn dispatched(
        &self,
        store: &Store,
        matter: &str,
        division: &str,
        now: DateTime<Utc>,
    ) -> Request {
        let mut new = self.new_request("物业不作为", "小区电梯坏了一个月没人修", division);
        new.follow_up = vec![
            (dispatcher(), self.classify(matter)),
            (dispatcher(), self.dispatch(matter, division)),
        ];
        let (request, created) = store.create_request(new, operator(), now).await.unwrap();
        assert!(created);
        request
    }
}

/// A hotline operator.
pub fn operator() -> Actor {
    Actor::staff(UserId(1), Role::Operator)
}

/// A dispatcher of the dispatch centre.
pub fn dispatcher() -> Actor {
    Actor::staff(UserId(2), Role::Dispatcher)
}

/// The number of requests, by the store's own count.
pub async fn request_count(store: &Store) -> i64 {
    store.stats().await.unwrap().requests
}

/// The stored version of a request, read past the store's API.
pub async fn stored_version(conn: &mut sqlx::AnyConnection, id: RequestId) -> i64 {
    use sqlx::Row;
    sqlx::query("SELECT version FROM requests WHERE id = $1")
        .bind(id.0)
        .fetch_one(conn)
        .await
        .unwrap()
        .get(0)
}
