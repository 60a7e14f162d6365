//! Administration pages (系统管理) for the `admin` role: the divisions and the catalogue as
//! trees that open on demand, units, staff accounts, the responsibility list editor with its
//! completeness check (refreshed by htmx after each change), the working calendar per year,
//! Open311 API keys and the knowledge base.
//!
//! Every change goes through the `/api/v1/admin/…` handlers, called directly after the form's
//! CSRF check, so validation, the password policy, the cache invalidation and the error
//! messages are the API's.

use super::citizen::Choice;
use super::i18n::Lang;
use super::{Ctx, WebStaff, error_page, local_time, render};
use crate::AppState;
use crate::api::admin::{
    self as api, CalendarBody, CheckView, IssuedKey, NewKeyBody, NewUserBody, UserChangeBody,
};
use crate::auth::Staff;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath};
use crate::reference::City;
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Datelike;
use minyi_domain::calendar::WorkCalendar;
use minyi_domain::unit::{Role, UnitKind};
use minyi_domain::{DivisionId, MatterId};
use minyi_store::{KnowledgeEntry, RuleRow, UnitRow};
use rustc_hash::FxHashMap;
use serde::Deserialize;

/// Refuses anyone but an administrator, and a form without this session's CSRF token.
fn admit(staff: &WebStaff, csrf: Option<&str>) -> Result<(), Box<Response>> {
    staff.admit(&[Role::Admin], csrf)
}

fn message(l: Lang, e: &ApiError) -> String {
    match l {
        Lang::Zh => e.zh.clone(),
        Lang::En => e.en.clone(),
    }
}

async fn city(state: &AppState, staff: &WebStaff) -> Result<std::sync::Arc<City>, Response> {
    state
        .city
        .get(&state.store)
        .await
        .map_err(|e| error_page(staff.c.clone(), &e))
}

/// After a change through the API: on to `next`, or the form's page again with the API's error.
async fn after<T, Fut: std::future::Future<Output = Response>>(
    result: Result<T, ApiError>,
    next: &str,
    again: impl FnOnce(ApiError) -> Fut,
) -> Response {
    match result {
        Ok(_) => Redirect::to(next).into_response(),
        Err(e) => again(e).await,
    }
}

/// 200, or 422 when the page shows an error.
fn status(error: &str) -> StatusCode {
    if error.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    }
}

fn some(s: &str) -> Option<String> {
    Some(s.trim().to_string()).filter(|s| !s.is_empty())
}

// ---- the index and the trees ----

#[derive(Template)]
#[template(path = "admin_index.html")]
struct IndexPage {
    c: Ctx,
}

/// `GET /admin`: the administration sections.
pub async fn index(staff: WebStaff) -> Response {
    if let Err(r) = admit(&staff, None) {
        return *r;
    }
    render(StatusCode::OK, &IndexPage { c: staff.c })
}

/// One node of a tree; `children` is the URL its children load from, when it has any.
#[derive(Debug, Clone)]
pub struct Node {
    pub label: String,
    pub detail: String,
    pub children: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_tree.html")]
struct TreePage {
    c: Ctx,
    title: &'static str,
    nodes: Vec<Node>,
}

#[derive(Template)]
#[template(path = "admin_tree_nodes.html")]
struct TreeNodes {
    nodes: Vec<Node>,
}

fn division_nodes(l: Lang, city: &City, ids: &[DivisionId]) -> Vec<Node> {
    ids.iter()
        .filter_map(|id| city.divisions.get(*id))
        .map(|d| {
            let n = city.divisions.children(d.id).len();
            Node {
                label: d.name.clone(),
                detail: format!(
                    "{} · {}{}",
                    d.code,
                    l.t(d.level.as_str()),
                    if n > 0 {
                        format!(" · {n} {}", l.t("sub_items"))
                    } else {
                        String::new()
                    }
                ),
                children: (n > 0).then(|| format!("/admin/divisions/{}/children", d.id.0)),
            }
        })
        .collect()
}

/// Renders tree nodes: as a page with this title, or alone (`None`, for htmx).
async fn tree(
    state: &AppState,
    staff: WebStaff,
    title: Option<&'static str>,
    nodes: impl FnOnce(Lang, &City) -> Vec<Node>,
) -> Response {
    if let Err(r) = admit(&staff, None) {
        return *r;
    }
    let city = match city(state, &staff).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let nodes = nodes(staff.c.l, &city);
    match title {
        Some(title) => render(
            StatusCode::OK,
            &TreePage {
                c: staff.c,
                title,
                nodes,
            },
        ),
        None => render(StatusCode::OK, &TreeNodes { nodes }),
    }
}

/// `GET /admin/divisions`: the five-level tree, its top open.
pub async fn divisions(State(state): State<AppState>, staff: WebStaff) -> Response {
    tree(&state, staff, Some("admin_divisions"), |l, city| {
        let roots: Vec<DivisionId> = city
            .divisions
            .iter()
            .filter(|d| d.parent.is_none())
            .map(|d| d.id)
            .collect();
        division_nodes(l, city, &roots)
    })
    .await
}

/// `GET /admin/divisions/{id}/children`: a division's children (for htmx).
pub async fn division_children(
    State(state): State<AppState>,
    staff: WebStaff,
    Path(id): Path<i64>,
) -> Response {
    tree(&state, staff, None, |l, city| {
        division_nodes(l, city, city.divisions.children(DivisionId(id)))
    })
    .await
}

fn matter_nodes(l: Lang, city: &City, ids: &[MatterId]) -> Vec<Node> {
    ids.iter()
        .filter_map(|id| city.catalog.get(*id))
        .map(|m| {
            let n = city.catalog.children(m.id).len();
            let policy = if n == 0 {
                city.catalog
                    .policy(m.id)
                    .map(|p| {
                        format!(
                            " · {} {} · {} {} / {}{}",
                            l.t("urgency"),
                            l.t(match p.urgency.as_str() {
                                "urgent" => "urgency_urgent",
                                _ => "urgency_ordinary",
                            }),
                            l.t("deadline"),
                            p.deadlines.response,
                            p.deadlines.handling,
                            if p.consultation {
                                format!(" · {}", l.t("consultation"))
                            } else {
                                String::new()
                            }
                        )
                    })
                    .unwrap_or_default()
            } else {
                format!(" · {n} {}", l.t("sub_items"))
            };
            Node {
                label: m.name.clone(),
                detail: format!("{}{policy}", m.code),
                children: (n > 0).then(|| format!("/admin/catalog/{}/children", m.id.0)),
            }
        })
        .collect()
}

/// `GET /admin/catalog`: the matter catalogue, its first level open, leaves with their policy.
pub async fn catalog(State(state): State<AppState>, staff: WebStaff) -> Response {
    tree(&state, staff, Some("admin_catalog"), |l, city| {
        let roots: Vec<MatterId> = city
            .catalog
            .iter()
            .filter(|m| m.parent.is_none())
            .map(|m| m.id)
            .collect();
        matter_nodes(l, city, &roots)
    })
    .await
}

/// `GET /admin/catalog/{id}/children`: a matter's children (for htmx).
pub async fn catalog_children(
    State(state): State<AppState>,
    staff: WebStaff,
    Path(id): Path<i64>,
) -> Response {
    tree(&state, staff, None, |l, city| {
        matter_nodes(l, city, city.catalog.children(MatterId(id)))
    })
    .await
}

// ---- pickers (for htmx) ----

/// The words to look for in a picker.
#[derive(Debug, Deserialize, Default)]
pub struct PickQuery {
    #[serde(default)]
    pub q: String,
}

#[derive(Template)]
#[template(path = "admin_pick.html")]
struct PickOptions {
    c: Ctx,
    name: &'static str,
    options: Vec<Choice>,
    searched: bool,
}

fn matches_all(path: &str, code: &str, words: &[&str]) -> bool {
    words
        .iter()
        .all(|w| path.contains(w) || code.starts_with(w))
}

/// Renders the first 30 of what `find` picks for the words, as radios named `name`.
async fn pick(
    state: &AppState,
    staff: WebStaff,
    name: &'static str,
    q: &str,
    find: impl Fn(&City, &[&str]) -> Vec<Choice>,
) -> Response {
    if let Err(r) = admit(&staff, None) {
        return *r;
    }
    let city = match city(state, &staff).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let words: Vec<&str> = q.split_whitespace().collect();
    let options = if words.is_empty() {
        Vec::new()
    } else {
        find(&city, &words)
    };
    render(
        StatusCode::OK,
        &PickOptions {
            c: staff.c,
            name,
            searched: !words.is_empty(),
            options,
        },
    )
}

/// `GET /admin/pick/matters?q=`: catalogue nodes at any level, as radios of their code.
pub async fn pick_matters(
    State(state): State<AppState>,
    staff: WebStaff,
    Query(q): Query<PickQuery>,
) -> Response {
    pick(&state, staff, "matter_code", &q.q, |city, words| {
        city.catalog
            .iter()
            .filter_map(|m| {
                let path = city.catalog.path_name(m.id);
                matches_all(&path, &m.code, words).then(|| Choice {
                    value: m.code.clone(),
                    label: format!("{path} ({})", m.code),
                })
            })
            .take(30)
            .collect()
    })
    .await
}

/// `GET /admin/pick/divisions?q=`: divisions at any level, as radios of their code.
pub async fn pick_divisions(
    State(state): State<AppState>,
    staff: WebStaff,
    Query(q): Query<PickQuery>,
) -> Response {
    pick(&state, staff, "division_code", &q.q, |city, words| {
        city.divisions
            .iter()
            .filter_map(|d| {
                let path = city.divisions.path_name(d.id);
                matches_all(&path, &d.code, words).then(|| Choice {
                    value: d.code.clone(),
                    label: format!("{path} ({})", d.code),
                })
            })
            .take(30)
            .collect()
    })
    .await
}

/// Names by code, each looked up in a map rather than by scanning the city for every row.
struct Names<'a> {
    city: &'a City,
    divisions: FxHashMap<&'a str, DivisionId>,
    units: FxHashMap<&'a str, &'a str>,
}

impl<'a> Names<'a> {
    fn new(city: &'a City) -> Self {
        Names {
            city,
            divisions: city
                .divisions
                .iter()
                .map(|d| (d.code.as_str(), d.id))
                .collect(),
            units: city
                .units
                .values()
                .map(|u| (u.code.as_str(), u.name.as_str()))
                .collect(),
        }
    }

    /// A matter's path, or the code when it is unknown.
    fn matter(&self, code: &str) -> String {
        self.city
            .catalog_matter(code)
            .map(|m| self.city.catalog.path_name(m))
            .unwrap_or_else(|| code.to_string())
    }

    /// A division's path, or the code when it is unknown.
    fn division(&self, code: &str) -> String {
        self.divisions
            .get(code)
            .map(|d| self.city.divisions.path_name(*d))
            .unwrap_or_else(|| code.to_string())
    }

    /// A unit's name, or the code when it is unknown.
    fn unit(&self, code: &str) -> String {
        self.units
            .get(code)
            .map(|n| n.to_string())
            .unwrap_or_else(|| code.to_string())
    }
}

fn unit_choices(city: &City) -> Vec<Choice> {
    let mut units: Vec<Choice> = city
        .units
        .values()
        .map(|u| Choice {
            value: u.code.clone(),
            label: format!("{} ({})", u.name, u.code),
        })
        .collect();
    units.sort_by(|a, b| a.label.cmp(&b.label));
    units
}

// ---- the responsibility list ----

/// Filter and edit selection of the rules page.
#[derive(Debug, Deserialize, Default)]
pub struct RulesQuery {
    #[serde(default)]
    pub q: String,
    pub edit: Option<usize>,
    /// Set after a change: `added`, `edited` or `deleted`.
    pub saved: Option<String>,
}

/// One rule as the editor lists it.
#[derive(Debug, Clone)]
pub struct RuleLine {
    pub index: usize,
    pub matter: String,
    pub division: String,
    pub lead: String,
    pub co: String,
    pub legal_basis: String,
    pub deadlines: String,
    pub was: String,
}

/// The rule form's fields (adding when `index` is empty, else editing that rule).
#[derive(Debug, Deserialize, Default, Clone)]
pub struct RuleForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub index: String,
    #[serde(default)]
    pub was: String,
    #[serde(default)]
    pub matter_code: String,
    #[serde(default)]
    pub division_code: String,
    #[serde(default)]
    pub lead_unit_code: String,
    #[serde(default)]
    pub co_unit_codes: String,
    #[serde(default)]
    pub legal_basis: String,
    #[serde(default)]
    pub response: String,
    #[serde(default)]
    pub handling: String,
}

#[derive(Template)]
#[template(path = "admin_rules.html")]
struct RulesPage {
    c: Ctx,
    q: String,
    lines: Vec<RuleLine>,
    total: usize,
    shown: usize,
    f: RuleForm,
    matter_label: String,
    division_label: String,
    units: Vec<Choice>,
    error: String,
    notice: String,
}

/// What identifies a rule between reading the list and changing it: a change is refused when
/// the rule at that place is no longer the one the form was made from.
fn fingerprint(r: &RuleRow) -> String {
    format!("{}|{}|{}", r.matter_code, r.division_code, r.lead_unit_code)
}

const MAX_RULE_LINES: usize = 200;

async fn rules_page(
    state: &AppState,
    staff: &WebStaff,
    q: RulesQuery,
    form: Option<RuleForm>,
    error: String,
    notice: String,
) -> Response {
    let l = staff.c.l;
    let city = match city(state, staff).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let rows = match api::rules(State(state.clone()), Staff(staff.principal.clone())).await {
        Ok(rows) => rows.0,
        Err(e) => return error_page(staff.c.clone(), &e),
    };
    let names = Names::new(&city);
    let matter_name = |code: &str| names.matter(code);
    let division_name = |code: &str| names.division(code);
    let unit_name = |code: &str| names.unit(code);
    let words: Vec<&str> = q.q.split_whitespace().collect();
    let mut total = 0;
    let mut lines = Vec::new();
    for (index, r) in rows.iter().enumerate() {
        let line = RuleLine {
            index,
            matter: format!("{} ({})", matter_name(&r.matter_code), r.matter_code),
            division: format!("{} ({})", division_name(&r.division_code), r.division_code),
            lead: unit_name(&r.lead_unit_code),
            co: r
                .co_unit_codes
                .split(';')
                .filter(|c| !c.trim().is_empty())
                .map(|c| unit_name(c.trim()))
                .collect::<Vec<_>>()
                .join("、"),
            legal_basis: r.legal_basis.clone(),
            deadlines: if r.response.is_empty() && r.handling.is_empty() {
                l.t("from_catalogue").to_string()
            } else {
                format!("{} / {}", r.response, r.handling)
            },
            was: fingerprint(r),
        };
        let haystack = format!(
            "{} {} {} {} {}",
            line.matter, line.division, line.lead, line.co, r.lead_unit_code
        );
        if words.iter().all(|w| haystack.contains(w)) {
            total += 1;
            if lines.len() < MAX_RULE_LINES {
                lines.push(line);
            }
        }
    }
    let f = form.unwrap_or_else(|| match q.edit.and_then(|i| rows.get(i).map(|r| (i, r))) {
        Some((i, r)) => RuleForm {
            csrf: String::new(),
            index: i.to_string(),
            was: fingerprint(r),
            matter_code: r.matter_code.clone(),
            division_code: r.division_code.clone(),
            lead_unit_code: r.lead_unit_code.clone(),
            co_unit_codes: r.co_unit_codes.clone(),
            legal_basis: r.legal_basis.clone(),
            response: r.response.clone(),
            handling: r.handling.clone(),
        },
        None => RuleForm::default(),
    });
    let matter_label = if f.matter_code.is_empty() {
        String::new()
    } else {
        format!("{} ({})", matter_name(&f.matter_code), f.matter_code)
    };
    let division_label = if f.division_code.is_empty() {
        String::new()
    } else {
        format!("{} ({})", division_name(&f.division_code), f.division_code)
    };
    render(
        status(&error),
        &RulesPage {
            c: staff.c.clone(),
            q: q.q.clone(),
            shown: lines.len(),
            lines,
            total,
            f,
            matter_label,
            division_label,
            units: unit_choices(&city),
            error,
            notice,
        },
    )
}

/// `GET /admin/rules?q=&edit=`: the list, filtered, with the rule form and the check.
pub async fn rules(
    State(state): State<AppState>,
    staff: WebStaff,
    Query(q): Query<RulesQuery>,
) -> Response {
    if let Err(r) = admit(&staff, None) {
        return *r;
    }
    let notice = match q.saved.as_deref() {
        Some("added") => staff.c.t("rule_added"),
        Some("edited") => staff.c.t("rule_edited"),
        Some("deleted") => staff.c.t("rule_deleted"),
        _ => "",
    }
    .to_string();
    rules_page(&state, &staff, q, None, String::new(), notice).await
}

#[derive(Template)]
#[template(path = "admin_check.html")]
struct CheckPart {
    c: Ctx,
    v: CheckView,
}

/// `GET /admin/rules/check`: the completeness check's result (for htmx).
pub async fn rules_check(State(state): State<AppState>, staff: WebStaff) -> Response {
    if let Err(r) = admit(&staff, None) {
        return *r;
    }
    match api::check_rules(State(state), Staff(staff.principal.clone())).await {
        Ok(v) => render(StatusCode::OK, &CheckPart { c: staff.c, v: v.0 }),
        Err(e) => error_page(staff.c, &e),
    }
}

/// Replaces the list through the API and comes back to the editor.
async fn save_rules(
    state: &AppState,
    staff: &WebStaff,
    rows: Vec<RuleRow>,
    form: Option<RuleForm>,
    notice: &'static str,
) -> Response {
    let result = api::replace_rules(
        State(state.clone()),
        Staff(staff.principal.clone()),
        ApiJson(rows),
    )
    .await;
    after(result, &format!("/admin/rules?saved={notice}"), |e| {
        let error = message(staff.c.l, &e);
        rules_page(
            state,
            staff,
            RulesQuery::default(),
            form,
            error,
            String::new(),
        )
    })
    .await
}

async fn current_rules(state: &AppState, staff: &WebStaff) -> Result<Vec<RuleRow>, Response> {
    api::rules(State(state.clone()), Staff(staff.principal.clone()))
        .await
        .map(|r| r.0)
        .map_err(|e| error_page(staff.c.clone(), &e))
}

fn changed_under_us(l: Lang) -> String {
    l.t("rules_changed").to_string()
}

/// `POST /admin/rules`: adds a rule, or replaces the one at `index`.
pub async fn save_rule(
    State(state): State<AppState>,
    staff: WebStaff,
    Form(f): Form<RuleForm>,
) -> Response {
    if let Err(r) = admit(&staff, Some(&f.csrf)) {
        return *r;
    }
    let mut rows = match current_rules(&state, &staff).await {
        Ok(rows) => rows,
        Err(r) => return r,
    };
    let row = RuleRow {
        matter_code: f.matter_code.trim().to_string(),
        division_code: f.division_code.trim().to_string(),
        lead_unit_code: f.lead_unit_code.trim().to_string(),
        co_unit_codes: f
            .co_unit_codes
            .split([';', '；', ',', '，', ' '])
            .filter(|c| !c.trim().is_empty())
            .collect::<Vec<_>>()
            .join(";"),
        legal_basis: f.legal_basis.trim().to_string(),
        response: f.response.trim().to_string(),
        handling: f.handling.trim().to_string(),
    };
    if row.matter_code.is_empty() || row.division_code.is_empty() || row.lead_unit_code.is_empty() {
        let error = staff.c.t("rule_incomplete").to_string();
        return rules_page(
            &state,
            &staff,
            RulesQuery::default(),
            Some(f),
            error,
            String::new(),
        )
        .await;
    }
    let notice = match f.index.trim().parse::<usize>() {
        Ok(i) => {
            match rows.get_mut(i) {
                Some(r) if fingerprint(r) == f.was => *r = row,
                _ => {
                    let error = changed_under_us(staff.c.l);
                    return rules_page(
                        &state,
                        &staff,
                        RulesQuery::default(),
                        Some(f),
                        error,
                        String::new(),
                    )
                    .await;
                }
            }
            "edited"
        }
        Err(_) => {
            rows.push(row);
            "added"
        }
    };
    save_rules(&state, &staff, rows, Some(f), notice).await
}

/// The delete button's fields.
#[derive(Debug, Deserialize, Default)]
pub struct DeleteRuleForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub was: String,
}

/// `POST /admin/rules/{index}/delete`: removes one rule.
pub async fn delete_rule(
    State(state): State<AppState>,
    staff: WebStaff,
    Path(index): Path<usize>,
    Form(f): Form<DeleteRuleForm>,
) -> Response {
    if let Err(r) = admit(&staff, Some(&f.csrf)) {
        return *r;
    }
    let mut rows = match current_rules(&state, &staff).await {
        Ok(rows) => rows,
        Err(r) => return r,
    };
    if rows.get(index).map(fingerprint) != Some(f.was) {
        let error = changed_under_us(staff.c.l);
        return rules_page(
            &state,
            &staff,
            RulesQuery::default(),
            None,
            error,
            String::new(),
        )
        .await;
    }
    rows.remove(index);
    save_rules(&state, &staff, rows, None, "deleted").await
}

// ---- units ----

/// Which unit the form edits.
#[derive(Debug, Deserialize, Default)]
pub struct EditQuery {
    pub edit: Option<String>,
    pub saved: Option<String>,
}

/// A unit's form.
#[derive(Debug, Deserialize, Default, Clone)]
pub struct UnitForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub division_code: String,
}

/// A unit as listed.
#[derive(Debug, Clone)]
pub struct UnitLine {
    pub code: String,
    pub name: String,
    pub kind: &'static str,
    pub division: String,
}

#[derive(Template)]
#[template(path = "admin_units.html")]
struct UnitsPage {
    c: Ctx,
    units: Vec<UnitLine>,
    kinds: Vec<Choice>,
    f: UnitForm,
    editing: bool,
    division_label: String,
    error: String,
    saved: bool,
}

fn kind_key(kind: &str) -> &'static str {
    match kind {
        "dispatch_centre" => "unit_dispatch_centre",
        "city_bureau" => "unit_city_bureau",
        "district_bureau" => "unit_district_bureau",
        "street_office" => "unit_street_office",
        "community_workstation" => "unit_community_workstation",
        "property_company" => "unit_property_company",
        _ => "unit_public_service",
    }
}

async fn units_page(
    state: &AppState,
    staff: &WebStaff,
    q: EditQuery,
    form: Option<UnitForm>,
    error: String,
) -> Response {
    let l = staff.c.l;
    let city = match city(state, staff).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let rows = match api::units(State(state.clone()), Staff(staff.principal.clone())).await {
        Ok(rows) => rows.0,
        Err(e) => return error_page(staff.c.clone(), &e),
    };
    let names = Names::new(&city);
    let division_name = |code: &str| names.division(code);
    let editing = q.edit.is_some() || form.as_ref().is_some_and(|f| !f.code.is_empty());
    let f = form.unwrap_or_else(|| {
        q.edit
            .as_ref()
            .and_then(|code| rows.iter().find(|r| &r.code == code))
            .map(|r| UnitForm {
                csrf: String::new(),
                code: r.code.clone(),
                name: r.name.clone(),
                kind: r.kind.clone(),
                division_code: r.division_code.clone(),
            })
            .unwrap_or_default()
    });
    let division_label = if f.division_code.is_empty() {
        String::new()
    } else {
        format!("{} ({})", division_name(&f.division_code), f.division_code)
    };
    render(
        status(&error),
        &UnitsPage {
            c: staff.c.clone(),
            units: rows
                .iter()
                .map(|r| UnitLine {
                    code: r.code.clone(),
                    name: r.name.clone(),
                    kind: l.t(kind_key(&r.kind)),
                    division: division_name(&r.division_code),
                })
                .collect(),
            kinds: UnitKind::ALL
                .iter()
                .map(|k| Choice {
                    value: k.as_str().to_string(),
                    label: l.t(kind_key(k.as_str())).to_string(),
                })
                .collect(),
            f,
            editing,
            division_label,
            error,
            saved: q.saved.is_some(),
        },
    )
}

/// `GET /admin/units?edit=CODE`: the units, and the form to add or edit one.
pub async fn units(
    State(state): State<AppState>,
    staff: WebStaff,
    Query(q): Query<EditQuery>,
) -> Response {
    if let Err(r) = admit(&staff, None) {
        return *r;
    }
    units_page(&state, &staff, q, None, String::new()).await
}

/// `POST /admin/units`: adds a unit or updates it by code.
pub async fn save_unit(
    State(state): State<AppState>,
    staff: WebStaff,
    Form(f): Form<UnitForm>,
) -> Response {
    if let Err(r) = admit(&staff, Some(&f.csrf)) {
        return *r;
    }
    let row = UnitRow {
        code: f.code.trim().to_string(),
        name: f.name.trim().to_string(),
        kind: f.kind.trim().to_string(),
        division_code: f.division_code.trim().to_string(),
    };
    let result = api::import_units(
        State(state.clone()),
        Staff(staff.principal.clone()),
        ApiJson(vec![row]),
    )
    .await;
    after(result, "/admin/units?saved=1", |e| {
        let error = message(staff.c.l, &e);
        units_page(&state, &staff, EditQuery::default(), Some(f), error)
    })
    .await
}

// ---- users ----

/// An account as listed.
#[derive(Debug, Clone)]
pub struct UserLine {
    pub username: String,
    pub display_name: String,
    pub role: &'static str,
    pub unit: String,
    pub active: bool,
}

/// The new-account and account-change forms.
#[derive(Debug, Deserialize, Default, Clone)]
pub struct UserForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub unit_code: String,
    #[serde(default)]
    pub password: String,
    /// Change form: `on` keeps the account active.
    #[serde(default)]
    pub active: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage {
    c: Ctx,
    users: Vec<UserLine>,
    roles: Vec<Choice>,
    units: Vec<Choice>,
    f: UserForm,
    edit: Option<UserForm>,
    min_chars: usize,
    error: String,
    saved: bool,
}

async fn users_page(
    state: &AppState,
    staff: &WebStaff,
    q: EditQuery,
    form: Option<UserForm>,
    edit_form: Option<UserForm>,
    error: String,
) -> Response {
    let l = staff.c.l;
    let city = match city(state, staff).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let users = match api::users(State(state.clone()), Staff(staff.principal.clone())).await {
        Ok(u) => u.0,
        Err(e) => return error_page(staff.c.clone(), &e),
    };
    let names = Names::new(&city);
    let unit_name = |code: &Option<String>| {
        code.as_deref()
            .map(|code| names.unit(code))
            .unwrap_or_default()
    };
    let edit = edit_form.or_else(|| {
        q.edit
            .as_ref()
            .and_then(|name| users.iter().find(|u| &u.username == name))
            .map(|u| UserForm {
                csrf: String::new(),
                username: u.username.clone(),
                display_name: u.display_name.clone(),
                role: u.role.clone(),
                unit_code: u.unit_code.clone().unwrap_or_default(),
                password: String::new(),
                active: u.active.then(|| "on".to_string()),
            })
    });
    render(
        status(&error),
        &UsersPage {
            c: staff.c.clone(),
            users: users
                .iter()
                .map(|u| UserLine {
                    username: u.username.clone(),
                    display_name: u.display_name.clone(),
                    role: Role::parse(&u.role).map(|r| l.role(r)).unwrap_or("?"),
                    unit: unit_name(&u.unit_code),
                    active: u.active,
                })
                .collect(),
            // Every role but the requester's and the system's, which are no accounts.
            roles: Role::ALL
                .into_iter()
                .filter(|r| !matches!(r, Role::Requester | Role::System))
                .map(|r| Choice {
                    value: r.as_str().to_string(),
                    label: l.role(r).to_string(),
                })
                .collect(),
            units: unit_choices(&city),
            f: form
                .map(|f| UserForm {
                    password: String::new(),
                    ..f
                })
                .unwrap_or_default(),
            edit: edit.map(|f| UserForm {
                password: String::new(),
                ..f
            }),
            min_chars: crate::password::MIN_CHARS,
            error,
            saved: q.saved.is_some(),
        },
    )
}

/// `GET /admin/users?edit=USERNAME`: the accounts, the new-account form, one account's changes.
pub async fn users(
    State(state): State<AppState>,
    staff: WebStaff,
    Query(q): Query<EditQuery>,
) -> Response {
    if let Err(r) = admit(&staff, None) {
        return *r;
    }
    users_page(&state, &staff, q, None, None, String::new()).await
}

/// `POST /admin/users`: creates an account (the API's password policy applies).
pub async fn create_user(
    State(state): State<AppState>,
    staff: WebStaff,
    Form(f): Form<UserForm>,
) -> Response {
    if let Err(r) = admit(&staff, Some(&f.csrf)) {
        return *r;
    }
    let body = NewUserBody {
        username: f.username.trim().to_string(),
        display_name: f.display_name.clone(),
        role: f.role.clone(),
        unit_code: some(&f.unit_code),
        password: f.password.clone(),
    };
    let result = api::create_user(
        State(state.clone()),
        Staff(staff.principal.clone()),
        ApiJson(body),
    )
    .await;
    after(result, "/admin/users?saved=1", |e| {
        let error = message(staff.c.l, &e);
        users_page(&state, &staff, EditQuery::default(), Some(f), None, error)
    })
    .await
}

/// `POST /admin/users/{username}`: changes name, role, unit, active, or sets a new password.
pub async fn update_user(
    State(state): State<AppState>,
    staff: WebStaff,
    Path(username): Path<String>,
    Form(f): Form<UserForm>,
) -> Response {
    if let Err(r) = admit(&staff, Some(&f.csrf)) {
        return *r;
    }
    let current = match api::users(State(state.clone()), Staff(staff.principal.clone())).await {
        Ok(u) => u.0.into_iter().find(|u| u.username == username),
        Err(e) => return error_page(staff.c.clone(), &e),
    };
    let Some(current) = current else {
        return error_page(staff.c.clone(), &ApiError::not_found("user"));
    };
    // Only what changed is sent: the API refuses any role change on one's own account.
    let active = f.active.is_some();
    let body = UserChangeBody {
        display_name: some(&f.display_name).filter(|n| *n != current.display_name),
        role: some(&f.role).filter(|r| *r != current.role),
        unit_code: Some(f.unit_code.trim().to_string())
            .filter(|c| Some(c) != current.unit_code.as_ref())
            .filter(|c| !(c.is_empty() && current.unit_code.is_none())),
        active: (active != current.active).then_some(active),
        password: some(&f.password),
    };
    let result = api::update_user(
        State(state.clone()),
        Staff(staff.principal.clone()),
        ApiPath(username.clone()),
        ApiJson(body),
    )
    .await;
    after(result, "/admin/users?saved=1", |e| {
        let error = message(staff.c.l, &e);
        let edit = UserForm { username, ..f };
        users_page(
            &state,
            &staff,
            EditQuery::default(),
            None,
            Some(edit),
            error,
        )
    })
    .await
}

// ---- the calendar ----

/// The year shown.
#[derive(Debug, Deserialize, Default)]
pub struct YearQuery {
    pub year: Option<i32>,
    pub saved: Option<String>,
}

/// The calendar form: working hours, and one year's overrides as CSV lines.
#[derive(Debug, Deserialize, Default, Clone)]
pub struct CalendarForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub year: i32,
    #[serde(default)]
    pub working_hours: String,
    #[serde(default)]
    pub lines: String,
}

/// A year the calendar page links to.
#[derive(Debug, Clone)]
pub struct YearLink {
    pub year: i32,
    pub current: bool,
}

/// One override as listed.
#[derive(Debug, Clone)]
pub struct DayLine {
    pub date: String,
    pub holiday: bool,
    pub name: String,
}

#[derive(Template)]
#[template(path = "admin_calendar.html")]
struct CalendarPage {
    c: Ctx,
    year: i32,
    years: Vec<YearLink>,
    f: CalendarForm,
    days: Vec<DayLine>,
    error: String,
    saved: bool,
}

fn year_lines(calendar: &WorkCalendar, year: i32) -> (String, Vec<DayLine>) {
    let of_year: Vec<_> = calendar
        .overrides()
        .filter(|o| o.date.year() == year)
        .collect();
    let csv = WorkCalendar::overrides_to_csv(of_year.iter().copied());
    // Without the header line: the form holds only the year's days.
    let lines = csv.lines().skip(1).collect::<Vec<_>>().join("\n");
    let days = of_year
        .iter()
        .map(|o| DayLine {
            date: o.date.format("%Y-%m-%d").to_string(),
            holiday: o.kind == minyi_domain::calendar::DayKind::Holiday,
            name: o.name.clone(),
        })
        .collect();
    (lines, days)
}

fn calendar_page(
    staff: &WebStaff,
    state: &AppState,
    year: i32,
    form: Option<CalendarForm>,
    error: String,
    saved: bool,
) -> Response {
    let calendar = state.store.calendar();
    let (lines, days) = year_lines(&calendar, year);
    let mut years: Vec<i32> = calendar.overrides().map(|o| o.date.year()).collect();
    let this_year = chrono::Utc::now().year();
    years.extend([this_year, this_year + 1]);
    years.sort_unstable();
    years.dedup();
    let f = form.unwrap_or_else(|| CalendarForm {
        csrf: String::new(),
        year,
        working_hours: calendar.hours().to_string(),
        lines,
    });
    render(
        status(&error),
        &CalendarPage {
            c: staff.c.clone(),
            year,
            years: years
                .into_iter()
                .map(|y| YearLink {
                    year: y,
                    current: y == year,
                })
                .collect(),
            f,
            days,
            error,
            saved,
        },
    )
}

/// `GET /admin/calendar?year=`: the working hours and a year's holidays and make-up days.
pub async fn calendar(
    State(state): State<AppState>,
    staff: WebStaff,
    Query(q): Query<YearQuery>,
) -> Response {
    if let Err(r) = admit(&staff, None) {
        return *r;
    }
    let year = q.year.unwrap_or_else(|| chrono::Utc::now().year());
    calendar_page(&staff, &state, year, None, String::new(), q.saved.is_some())
}

/// `POST /admin/calendar`: replaces the year's overrides and the working hours; other years'
/// overrides are kept.
pub async fn save_calendar(
    State(state): State<AppState>,
    staff: WebStaff,
    Form(f): Form<CalendarForm>,
) -> Response {
    if let Err(r) = admit(&staff, Some(&f.csrf)) {
        return *r;
    }
    let calendar = state.store.calendar();
    let others: Vec<_> = calendar
        .overrides()
        .filter(|o| o.date.year() != f.year)
        .cloned()
        .collect();
    let mut csv = WorkCalendar::overrides_to_csv(others.iter());
    for line in f.lines.lines().map(str::trim).filter(|l| !l.is_empty()) {
        csv.push_str(line);
        csv.push('\n');
    }
    let body = CalendarBody {
        working_hours: f.working_hours.trim().to_string(),
        overrides_csv: csv,
    };
    let result = api::replace_calendar(
        State(state.clone()),
        Staff(staff.principal.clone()),
        ApiJson(body),
    )
    .await;
    let next = format!("/admin/calendar?year={}&saved=1", f.year);
    after(result, &next, |e| {
        let error = message(staff.c.l, &e);
        let page = calendar_page(&staff, &state, f.year, Some(f), error, false);
        async move { page }
    })
    .await
}

// ---- Open311 API keys ----

/// A key as listed.
#[derive(Debug, Clone)]
pub struct KeyLine {
    pub key_id: String,
    pub label: String,
    pub created: String,
    pub revoked: String,
}

#[derive(Template)]
#[template(path = "admin_keys.html")]
struct KeysPage {
    c: Ctx,
    keys: Vec<KeyLine>,
    issued: Option<IssuedKey>,
    label: String,
    error: String,
}

async fn keys_page(
    state: &AppState,
    staff: &WebStaff,
    issued: Option<IssuedKey>,
    label: String,
    error: String,
    status: StatusCode,
) -> Response {
    let keys = match api::api_keys(State(state.clone()), Staff(staff.principal.clone())).await {
        Ok(k) => k.0,
        Err(e) => return error_page(staff.c.clone(), &e),
    };
    render(
        status,
        &KeysPage {
            c: staff.c.clone(),
            keys: keys
                .into_iter()
                .map(|k| KeyLine {
                    key_id: k.key_id,
                    label: k.label,
                    created: local_time(k.created_at),
                    revoked: k.revoked_at.map(local_time).unwrap_or_default(),
                })
                .collect(),
            issued,
            label,
            error,
        },
    )
}

/// `GET /admin/api-keys`: the Open311 keys (never the keys themselves).
pub async fn api_keys(State(state): State<AppState>, staff: WebStaff) -> Response {
    if let Err(r) = admit(&staff, None) {
        return *r;
    }
    keys_page(
        &state,
        &staff,
        None,
        String::new(),
        String::new(),
        StatusCode::OK,
    )
    .await
}

/// The issue form.
#[derive(Debug, Deserialize, Default)]
pub struct KeyForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub label: String,
}

/// `POST /admin/api-keys`: issues a key and shows it this once.
pub async fn issue_api_key(
    State(state): State<AppState>,
    staff: WebStaff,
    Form(f): Form<KeyForm>,
) -> Response {
    if let Err(r) = admit(&staff, Some(&f.csrf)) {
        return *r;
    }
    match api::issue_api_key(
        State(state.clone()),
        Staff(staff.principal.clone()),
        ApiJson(NewKeyBody {
            label: f.label.clone(),
        }),
    )
    .await
    {
        Ok((_, issued)) => {
            let mut response = keys_page(
                &state,
                &staff,
                Some(issued.0),
                String::new(),
                String::new(),
                StatusCode::CREATED,
            )
            .await;
            // The key is on this page only: no cache keeps it.
            response.headers_mut().insert(
                axum::http::header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("no-store"),
            );
            response
        }
        Err(e) => {
            let error = message(staff.c.l, &e);
            keys_page(&state, &staff, None, f.label, error, e.status).await
        }
    }
}

/// `POST /admin/api-keys/{key_id}/revoke`: revokes a key at once.
pub async fn revoke_api_key(
    State(state): State<AppState>,
    staff: WebStaff,
    Path(key_id): Path<String>,
    Form(f): Form<super::staff::CsrfForm>,
) -> Response {
    if let Err(r) = admit(&staff, Some(&f.csrf)) {
        return *r;
    }
    let result = api::revoke_api_key(
        State(state.clone()),
        Staff(staff.principal.clone()),
        ApiPath(key_id),
    )
    .await;
    after(result, "/admin/api-keys", |e| {
        let error = message(staff.c.l, &e);
        keys_page(&state, &staff, None, String::new(), error, e.status)
    })
    .await
}

// ---- the knowledge base ----

/// A knowledge entry's form.
#[derive(Debug, Deserialize, Default, Clone)]
pub struct KnowledgeForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub question: String,
    #[serde(default)]
    pub answer: String,
    #[serde(default)]
    pub tags: String,
    #[serde(default)]
    pub active: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_knowledge.html")]
struct KnowledgePage {
    c: Ctx,
    entries: Vec<KnowledgeEntry>,
    f: KnowledgeForm,
    editing: bool,
    error: String,
    saved: bool,
}

async fn knowledge_page(
    state: &AppState,
    staff: &WebStaff,
    q: EditQuery,
    form: Option<KnowledgeForm>,
    error: String,
) -> Response {
    let entries = match state.store.knowledge_entries().await {
        Ok(e) => e,
        Err(e) => return error_page(staff.c.clone(), &ApiError::from(e)),
    };
    let editing = q.edit.is_some() || form.is_some();
    let f = form.unwrap_or_else(|| {
        q.edit
            .as_ref()
            .and_then(|id| entries.iter().find(|e| &e.id == id))
            .map(|e| KnowledgeForm {
                csrf: String::new(),
                id: e.id.clone(),
                question: e.question.clone(),
                answer: e.answer.clone(),
                tags: e.tags.join(" "),
                active: e.active.then(|| "on".to_string()),
            })
            .unwrap_or(KnowledgeForm {
                active: Some("on".into()),
                ..KnowledgeForm::default()
            })
    });
    render(
        status(&error),
        &KnowledgePage {
            c: staff.c.clone(),
            entries,
            f,
            editing,
            error,
            saved: q.saved.is_some(),
        },
    )
}

/// `GET /admin/knowledge?edit=ID`: the entries and the form to add or edit one.
pub async fn knowledge(
    State(state): State<AppState>,
    staff: WebStaff,
    Query(q): Query<EditQuery>,
) -> Response {
    if let Err(r) = admit(&staff, None) {
        return *r;
    }
    knowledge_page(&state, &staff, q, None, String::new()).await
}

/// `POST /admin/knowledge`: adds an entry or replaces it by id.
pub async fn save_knowledge(
    State(state): State<AppState>,
    staff: WebStaff,
    Form(f): Form<KnowledgeForm>,
) -> Response {
    if let Err(r) = admit(&staff, Some(&f.csrf)) {
        return *r;
    }
    let entry = KnowledgeEntry {
        id: f.id.trim().to_string(),
        question: f.question.trim().to_string(),
        answer: f.answer.trim().to_string(),
        tags: f
            .tags
            .split([' ', ',', '，', '、'])
            .filter(|t| !t.trim().is_empty())
            .map(|t| t.trim().to_string())
            .collect(),
        active: f.active.is_some(),
    };
    let result = crate::api::signals::upsert_knowledge(
        State(state.clone()),
        Staff(staff.principal.clone()),
        ApiJson(vec![entry]),
    )
    .await;
    after(result, "/admin/knowledge?saved=1", |e| {
        let error = message(staff.c.l, &e);
        knowledge_page(&state, &staff, EditQuery::default(), Some(f), error)
    })
    .await
}
