//! The citizens' portal, made for phones: submit a request (category search, division cascade,
//! enterprise variant), get the tracking code, track it after the phone check, rate the result.
//! The work is done by the public API's handlers, called directly, so the rules are the same.

use super::i18n::Lang;
use super::{Ctx, error_page, local_time, render};
use crate::AppState;
use crate::api::public::{self, RatingBody, SubmitBody, TrackQuery};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::reference::City;
use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use minyi_domain::MatterId;
use minyi_domain::division::DivisionLevel;
use serde::Deserialize;

/// The path of a matter from the top of the catalogue, `a / b / c`.
pub fn matter_path(city: &City, matter: MatterId) -> String {
    let mut names: Vec<&str> = city
        .catalog
        .self_and_ancestors(matter)
        .into_iter()
        .filter_map(|m| city.catalog.get(m).map(|m| m.name.as_str()))
        .collect();
    names.reverse();
    names.join(" / ")
}

/// The deepest division chosen in the cascade (community, else street, else district).
pub fn deepest_division(district: &str, street: &str, community: &str) -> Option<String> {
    [community, street, district]
        .into_iter()
        .map(str::trim)
        .find(|code| !code.is_empty())
        .map(str::to_string)
}

/// The title of a request filed without one: the chosen category's name, else the text's start.
pub fn title_for(city: &City, title: &str, matter: Option<MatterId>, text: &str) -> String {
    if !title.trim().is_empty() {
        title.trim().to_string()
    } else if let Some(m) = matter.and_then(|m| city.catalog.get(m)) {
        m.name.clone()
    } else {
        text.trim().chars().take(20).collect()
    }
}

/// An option of a select or a radio list.
#[derive(Debug, Clone)]
pub struct Choice {
    pub value: String,
    pub label: String,
}

#[derive(Template)]
#[template(path = "portal.html")]
struct Portal {
    c: Ctx,
}

/// `GET /`: the portal's start page.
pub async fn portal(l: Lang) -> Response {
    render(
        StatusCode::OK,
        &Portal {
            c: Ctx::public(l, "/"),
        },
    )
}

/// What the submit form holds (also when shown again after a mistake).
#[derive(Debug, Deserialize, Default, Clone)]
pub struct SubmitForm {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub enterprise_name: String,
    #[serde(default)]
    pub matter_id: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub district: String,
    #[serde(default)]
    pub street: String,
    #[serde(default)]
    pub community: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub name: String,
}

#[derive(Template)]
#[template(path = "submit.html")]
struct SubmitPage {
    c: Ctx,
    f: SubmitForm,
    enterprise: bool,
    districts: Vec<Choice>,
    error: String,
}

/// `?kind=enterprise` shows the enterprise variant.
#[derive(Debug, Deserialize, Default)]
pub struct KindQuery {
    pub kind: Option<String>,
}

/// The districts, for the first select of the division cascade.
pub fn districts(city: &City) -> Vec<Choice> {
    city.divisions
        .iter()
        .filter(|d| d.level == DivisionLevel::District)
        .map(|d| Choice {
            value: d.code.clone(),
            label: d.name.clone(),
        })
        .collect()
}

/// `GET /submit`: the form.
pub async fn submit_form(
    State(state): State<AppState>,
    l: Lang,
    Query(q): Query<KindQuery>,
) -> Response {
    let enterprise = q.kind.as_deref() == Some("enterprise");
    let path = if enterprise {
        "/submit?kind=enterprise"
    } else {
        "/submit"
    };
    let c = Ctx::public(l, path);
    let city = match state.city.get(&state.store).await {
        Ok(city) => city,
        Err(e) => return error_page(c, &e),
    };
    let f = SubmitForm {
        kind: if enterprise { "enterprise" } else { "citizen" }.into(),
        ..SubmitForm::default()
    };
    render(
        StatusCode::OK,
        &SubmitPage {
            c,
            f,
            enterprise,
            districts: districts(&city),
            error: String::new(),
        },
    )
}

#[derive(Template)]
#[template(path = "receipt.html")]
struct ReceiptPage {
    c: Ctx,
    code: String,
    state: &'static str,
    received_at: String,
}

/// `POST /submit`: files the request through the public API (with the category the requester
/// chose, classified in the intake transaction) and shows the tracking code.
pub async fn submit(State(state): State<AppState>, l: Lang, Form(f): Form<SubmitForm>) -> Response {
    let enterprise = f.kind == "enterprise";
    let c = Ctx::public(l, "/submit");
    let city = match state.city.get(&state.store).await {
        Ok(city) => city,
        Err(e) => return error_page(c, &e),
    };
    let matter = f
        .matter_id
        .parse::<i64>()
        .ok()
        .map(MatterId)
        .filter(|m| city.catalog.is_leaf(*m));
    let division_code = deepest_division(&f.district, &f.street, &f.community);
    let title = title_for(&city, &f.title, matter, &f.text);
    let body = SubmitBody {
        title,
        text: f.text.clone(),
        division_code,
        address: f.address.clone(),
        lat: None,
        lng: None,
        name: Some(f.name.clone()),
        phone: f.phone.clone(),
        channel: Some("web".into()),
        requester_kind: Some(if enterprise { "enterprise" } else { "citizen" }.into()),
        enterprise_name: enterprise.then(|| f.enterprise_name.clone()),
        matter_code: matter
            .and_then(|m| city.catalog.get(m))
            .map(|m| m.code.clone()),
    };
    let receipt = match public::submit(State(state.clone()), HeaderMap::new(), ApiJson(body)).await
    {
        Ok((_, receipt)) => receipt.0,
        Err(e) => {
            let message = match l {
                Lang::Zh => e.zh.clone(),
                Lang::En => e.en.clone(),
            };
            return render(
                e.status,
                &SubmitPage {
                    c,
                    districts: districts(&city),
                    enterprise,
                    f,
                    error: message,
                },
            );
        }
    };
    render(
        StatusCode::CREATED,
        &ReceiptPage {
            c,
            code: receipt.tracking_code,
            state: l.state_name(receipt.state),
            received_at: local_time(receipt.received_at),
        },
    )
}

/// Query of the catalogue search.
#[derive(Debug, Deserialize, Default)]
pub struct SearchQuery {
    #[serde(default)]
    pub q: String,
}

#[derive(Template)]
#[template(path = "matter_options.html")]
struct MatterOptions {
    c: Ctx,
    matters: Vec<Choice>,
    searched: bool,
}

/// The leaf matters whose path contains every word of the query, at most `limit`.
pub fn search_matters(city: &City, query: &str, limit: usize) -> Vec<Choice> {
    let words: Vec<&str> = query.split_whitespace().collect();
    if words.is_empty() {
        return Vec::new();
    }
    city.catalog
        .leaves()
        .filter_map(|m| {
            let path = matter_path(city, m.id);
            words.iter().all(|w| path.contains(w)).then(|| Choice {
                value: m.id.0.to_string(),
                label: path,
            })
        })
        .take(limit)
        .collect()
}

/// `GET /catalog/search?q=`: the matching categories as radio buttons (for htmx).
pub async fn catalog_search(
    State(state): State<AppState>,
    l: Lang,
    Query(q): Query<SearchQuery>,
) -> Response {
    let c = Ctx::public(l, "/submit");
    let city = match state.city.get(&state.store).await {
        Ok(city) => city,
        Err(e) => return error_page(c, &e),
    };
    render(
        StatusCode::OK,
        &MatterOptions {
            c,
            matters: search_matters(&city, &q.q, 20),
            searched: !q.q.trim().is_empty(),
        },
    )
}

/// The parent chosen in the cascade: a district (its streets) or a street (its communities).
#[derive(Debug, Deserialize, Default)]
pub struct DivisionQuery {
    pub district: Option<String>,
    pub street: Option<String>,
}

#[derive(Template)]
#[template(path = "division_options.html")]
struct DivisionOptions {
    c: Ctx,
    options: Vec<Choice>,
}

/// `GET /divisions/options?district=…|street=…`: the children as `<option>`s (for htmx).
pub async fn division_options(
    State(state): State<AppState>,
    l: Lang,
    Query(q): Query<DivisionQuery>,
) -> Response {
    let c = Ctx::public(l, "/submit");
    let city = match state.city.get(&state.store).await {
        Ok(city) => city,
        Err(e) => return error_page(c, &e),
    };
    let parent_code = q.street.or(q.district).unwrap_or_default();
    let options = city
        .divisions
        .iter()
        .find(|d| !parent_code.is_empty() && d.code == parent_code)
        .map(|parent| {
            city.divisions
                .children(parent.id)
                .iter()
                .filter_map(|id| city.divisions.get(*id))
                .map(|d| Choice {
                    value: d.code.clone(),
                    label: d.name.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    render(StatusCode::OK, &DivisionOptions { c, options })
}

/// Query of the tracking page.
#[derive(Debug, Deserialize, Default)]
pub struct TrackForm {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub phone_last4: String,
    #[serde(default)]
    pub rated: Option<String>,
}

/// One line of the public timeline.
#[derive(Debug, Clone)]
pub struct Step {
    pub at: String,
    pub label: &'static str,
}

#[derive(Template)]
#[template(path = "track.html")]
struct TrackPage {
    c: Ctx,
    code: String,
    phone_last4: String,
    error: String,
    found: bool,
    verified: bool,
    state: &'static str,
    can_rate: bool,
    rated: bool,
    received_at: String,
    title: String,
    text: String,
    unit: String,
    reply: String,
    due: String,
    steps: Vec<Step>,
}

/// `GET /track?code=…&phone_last4=…`: the state; with the phone check, details and timeline.
pub async fn track(State(state): State<AppState>, l: Lang, Query(q): Query<TrackForm>) -> Response {
    let code = q.code.trim().to_uppercase();
    let mut page = TrackPage {
        c: Ctx::public(l, "/track"),
        code: code.clone(),
        phone_last4: q.phone_last4.clone(),
        error: String::new(),
        found: false,
        verified: false,
        state: "",
        can_rate: false,
        rated: q.rated.is_some(),
        received_at: String::new(),
        title: String::new(),
        text: String::new(),
        unit: String::new(),
        reply: String::new(),
        due: String::new(),
        steps: Vec::new(),
    };
    if code.is_empty() {
        return render(StatusCode::OK, &page);
    }
    let last4 = Some(q.phone_last4.trim().to_string()).filter(|s| !s.is_empty());
    let asked = last4.is_some();
    let tracking = match public::track(
        State(state),
        ApiPath(code),
        ApiQuery(TrackQuery { phone_last4: last4 }),
    )
    .await
    {
        Ok(t) => t.0,
        Err(e) => {
            page.error = match l {
                Lang::Zh => e.zh,
                Lang::En => e.en,
            };
            return render(StatusCode::NOT_FOUND, &page);
        }
    };
    page.found = true;
    page.verified = tracking.verified;
    page.state = l.state_name(tracking.state);
    page.received_at = local_time(tracking.received_at);
    if asked && !tracking.verified {
        page.error = l.t("verify_failed").to_string();
    }
    page.can_rate = tracking.verified && tracking.state == "replied";
    page.title = tracking.title.unwrap_or_default();
    page.text = tracking.text.unwrap_or_default();
    page.unit = tracking.lead_unit.unwrap_or_default();
    page.reply = tracking.reply.unwrap_or_default();
    page.due = tracking.handling_due_at.map(local_time).unwrap_or_default();
    page.steps = tracking
        .timeline
        .iter()
        .map(|s| Step {
            at: local_time(s.at),
            label: l.event(s.kind),
        })
        .collect();
    render(StatusCode::OK, &page)
}

/// The rating form.
#[derive(Debug, Deserialize, Default)]
pub struct RateForm {
    pub code: String,
    pub phone_last4: String,
    pub satisfaction: String,
    #[serde(default)]
    pub solved: Option<String>,
    #[serde(default)]
    pub comment: String,
}

/// `POST /rate`: the requester's rating (回访评价), then back to the tracking page.
pub async fn rate(State(state): State<AppState>, l: Lang, Form(f): Form<RateForm>) -> Response {
    let body = RatingBody {
        phone_last4: f.phone_last4.trim().to_string(),
        satisfaction: f.satisfaction.clone(),
        solved: f.solved.is_some(),
        comment: f.comment.clone(),
    };
    match public::rate(
        State(state),
        ApiPath(f.code.trim().to_string()),
        ApiJson(body),
    )
    .await
    {
        Ok(_) => Redirect::to(&format!(
            "/track?code={}&phone_last4={}&rated=1",
            super::i18n::url_encode(f.code.trim()),
            super::i18n::url_encode(f.phone_last4.trim())
        ))
        .into_response(),
        Err(e) => error_page(Ctx::public(l, "/track"), &e),
    }
}
