//! The operator's intake page (热线受理): a keyboard-driven form for phone calls. While the
//! operator types, the engine's suggestion for the call appears beside the form (category,
//! responsible unit, place, danger words, possible duplicate, knowledge-base answers), computed by
//! the same functions `intake::file` uses. A call is filed through `intake::file` on the
//! `hotline` channel; a consultation the knowledge base answers is filed and then answered at
//! once (即时办结) through the API's `answer` action.

use super::citizen::{Choice, deepest_division, districts, matter_path, title_for};
use super::i18n::Lang;
use super::{Ctx, WebStaff, error_page, render};
use crate::AppState;
use crate::api::public::{SubmitBody, new_request};
use crate::api::requests::{self, ActionBody, actor, classified_by_person};
use crate::auth::Staff;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath};
use crate::intake::Suggestion;
use crate::reference::City;
use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use minyi_domain::MatterId;
use minyi_domain::request::{Channel, Location, RequesterKind};
use minyi_domain::unit::{Actor, Role};
use minyi_store::{NewRequest, RequesterInfo};
use serde::Deserialize;

/// Who takes calls: operators, and dispatchers standing in for them.
const INTAKE_ROLES: [Role; 2] = [Role::Operator, Role::Dispatcher];

/// The intake form's fields (also the suggestion's input).
#[derive(Debug, Deserialize, Default, Clone)]
pub struct IntakeForm {
    #[serde(default)]
    pub csrf: String,
    /// The form's Idempotency-Key: a second submission of the same form files nothing new.
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub matter_id: String,
    #[serde(default)]
    pub district: String,
    #[serde(default)]
    pub street: String,
    #[serde(default)]
    pub community: String,
    #[serde(default)]
    pub address: String,
    /// Set by a knowledge hit's "answer and close" button: the entry answered with.
    #[serde(default)]
    pub answer_id: String,
}

/// The request just filed, shown above a clean form.
#[derive(Debug, Clone)]
pub struct Filed {
    pub id: i64,
    pub code: String,
    pub state: &'static str,
    pub answered: bool,
}

#[derive(Template)]
#[template(path = "intake.html")]
struct IntakePage {
    c: Ctx,
    f: IntakeForm,
    districts: Vec<Choice>,
    /// The category chosen, shown checked when the form comes back after a mistake.
    chosen: Option<Choice>,
    filed: Option<Filed>,
    error: String,
}

/// A category candidate as the page shows it.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub value: String,
    pub label: String,
    pub confidence: String,
    pub words: String,
    pub checked: bool,
}

/// A knowledge-base entry that matches the call.
#[derive(Debug, Clone)]
pub struct Hit {
    pub id: String,
    pub question: String,
    pub answer: String,
    pub matched: String,
}

/// The open request the call may repeat.
#[derive(Debug, Clone)]
pub struct Duplicate {
    pub id: i64,
    pub code: String,
    pub title: String,
    pub state: &'static str,
    pub similarity: String,
}

#[derive(Template)]
#[template(path = "intake_suggestion.html")]
struct SuggestionPart {
    c: Ctx,
    empty: bool,
    categories: Vec<Candidate>,
    chosen: String,
    unit: String,
    decision: &'static str,
    place: String,
    place_note: String,
    urgency: &'static str,
    urgent: bool,
    danger_words: String,
    duplicate: Option<Duplicate>,
    hits: Vec<Hit>,
}

/// A fresh Idempotency-Key for one rendering of the form.
fn form_key(staff: &WebStaff) -> String {
    let now = Utc::now();
    format!(
        "intake-{}-{}-{}",
        staff.principal.user.0,
        now.timestamp(),
        now.timestamp_subsec_nanos()
    )
}

fn leaf_matter(city: &City, value: &str) -> Option<MatterId> {
    value
        .trim()
        .parse::<i64>()
        .ok()
        .map(MatterId)
        .filter(|m| city.catalog.is_leaf(*m))
}

fn page(
    staff: &WebStaff,
    city: &City,
    f: IntakeForm,
    filed: Option<Filed>,
    error: String,
) -> IntakePage {
    let chosen = leaf_matter(city, &f.matter_id).map(|m| Choice {
        value: m.0.to_string(),
        label: matter_path(city, m),
    });
    IntakePage {
        c: staff.c.clone(),
        f,
        districts: districts(city),
        chosen,
        filed,
        error,
    }
}

/// `GET /intake`: an empty form, the caller's phone focused.
pub async fn form(State(state): State<AppState>, staff: WebStaff) -> Response {
    if let Err(r) = staff.admit(&INTAKE_ROLES, None) {
        return *r;
    }
    let city = match state.city.get(&state.store).await {
        Ok(city) => city,
        Err(e) => return error_page(staff.c, &e),
    };
    let f = IntakeForm {
        key: form_key(&staff),
        ..IntakeForm::default()
    };
    render(StatusCode::OK, &page(&staff, &city, f, None, String::new()))
}

/// The call as a request the engine can look at (not stored): text, chosen place and category.
fn draft(city: &City, f: &IntakeForm) -> NewRequest {
    let division = deepest_division(&f.district, &f.street, &f.community)
        .and_then(|code| city.division_by_code(&code));
    let mut follow_up = Vec::new();
    if let Some(matter) = leaf_matter(city, &f.matter_id)
        && let Some(policy) = city.catalog.policy(matter)
    {
        follow_up.push((Actor::SYSTEM, classified_by_person(matter, policy)));
    }
    NewRequest {
        channel: Channel::Hotline,
        requester_kind: RequesterKind::Citizen,
        title: String::new(),
        text: f.text.trim().to_string(),
        location: Location {
            division,
            address: f.address.trim().to_string(),
            lat_lng: None,
        },
        requester: RequesterInfo::default(),
        idempotency_key: None,
        follow_up,
    }
}

fn decision_key(decision: &str) -> &'static str {
    match decision {
        "no_model" => "decision_no_model",
        "below_threshold" => "decision_below_threshold",
        "not_a_leaf" => "decision_not_a_leaf",
        "consultation" => "decision_consultation",
        "no_rule" => "decision_no_rule",
        "conflict" => "decision_conflict",
        "no_place" => "decision_no_place",
        "category_given" => "decision_category_given",
        _ => "decision_dispatched",
    }
}

/// `POST /intake/suggest`: the engine's suggestion for what is typed so far (for htmx).
pub async fn suggest(
    State(state): State<AppState>,
    staff: WebStaff,
    Form(f): Form<IntakeForm>,
) -> Response {
    if let Err(r) = staff.admit(&INTAKE_ROLES, Some(&f.csrf)) {
        return *r;
    }
    let l = staff.c.l;
    let mut part = SuggestionPart {
        c: staff.c.clone(),
        empty: true,
        categories: Vec::new(),
        chosen: String::new(),
        unit: String::new(),
        decision: "",
        place: String::new(),
        place_note: String::new(),
        urgency: l.t("urgency_ordinary"),
        urgent: false,
        danger_words: String::new(),
        duplicate: None,
        hits: Vec::new(),
    };
    if f.text.trim().is_empty() {
        return render(StatusCode::OK, &part);
    }
    let city = match state.city.get(&state.store).await {
        Ok(city) => city,
        Err(e) => return error_page(staff.c, &e),
    };
    let mut new = draft(&city, &f);
    let s: Suggestion = state.engine.analyse(&city, &mut new);
    let chosen = leaf_matter(&city, &f.matter_id);
    part.empty = false;
    part.chosen = chosen.map(|m| matter_path(&city, m)).unwrap_or_default();
    part.categories = s
        .categories
        .iter()
        .filter(|cand| cand.leaf)
        .filter_map(|cand| {
            let m = MatterId(cand.matter_id?);
            Some(Candidate {
                value: m.0.to_string(),
                label: matter_path(&city, m),
                confidence: format!("{:.0}%", cand.confidence * 100.0),
                words: cand.words.join("、"),
                checked: chosen == Some(m),
            })
        })
        .collect();
    part.unit = s
        .suggested_lead_unit_id
        .map(|u| super::request::unit_name(&city, Some(u)))
        .unwrap_or_default();
    part.decision = l.t(decision_key(s.decision));
    if let Some(place) = &s.located {
        part.place = place.path.clone();
        part.place_note = format!(
            "{} {}",
            l.t(match place.resolution {
                "unique" => "place_unique",
                "ambiguous" => "place_ambiguous",
                _ => "place_conflict",
            }),
            place.evidence.join("、")
        );
    }
    part.urgent = s.urgency != "ordinary";
    part.urgency = l.t(match s.urgency {
        "emergency" => "urgency_emergency",
        "urgent" => "urgency_urgent",
        _ => "urgency_ordinary",
    });
    part.danger_words = s.danger_words.join("、");
    let now = Utc::now();
    if let Some(d) = crate::intake::duplicate_of(&state, &city, &new, now).await
        && let Ok(parent) = state
            .store
            .get_request(minyi_domain::RequestId(d.parent_id))
            .await
    {
        part.duplicate = Some(Duplicate {
            id: d.parent_id,
            code: parent.intake.tracking_code.to_string(),
            title: parent.intake.title.clone(),
            state: l.state(parent.state),
            similarity: format!("{:.0}%", d.similarity * 100.0),
        });
    }
    match crate::api::signals::search(&state, &f.text, Some(3)).await {
        Ok(hits) => {
            part.hits = hits
                .into_iter()
                .filter(|h| h.entry.active)
                .map(|h| Hit {
                    id: h.entry.id,
                    question: h.entry.question,
                    answer: h.entry.answer,
                    matched: h.matched.join("、"),
                })
                .collect();
        }
        Err(e) => tracing::warn!(code = e.code, "knowledge search failed at intake"),
    }
    render(StatusCode::OK, &part)
}

fn message(l: Lang, e: &ApiError) -> String {
    match l {
        Lang::Zh => e.zh.clone(),
        Lang::En => e.en.clone(),
    }
}

/// The consultation category an answered call is filed under: the one the operator chose, else
/// the engine's best leaf candidate, if it is a consultation.
fn consultation_matter(state: &AppState, city: &City, f: &IntakeForm) -> Option<MatterId> {
    let is_consultation = |m: MatterId| {
        city.catalog.policy(m).is_some_and(|p| p.consultation) && city.catalog.is_leaf(m)
    };
    if let Some(m) = leaf_matter(city, &f.matter_id) {
        return is_consultation(m).then_some(m);
    }
    let mut new = draft(city, f);
    let s = state.engine.analyse(city, &mut new);
    s.categories
        .iter()
        .find(|c| c.leaf)
        .and_then(|c| c.matter_id)
        .map(MatterId)
        .filter(|m| is_consultation(*m))
}

/// `POST /intake`: files the call (and, from a knowledge hit, answers it at once), then shows
/// the tracking code above a clean form for the next call.
pub async fn file(
    State(state): State<AppState>,
    staff: WebStaff,
    Form(f): Form<IntakeForm>,
) -> Response {
    if let Err(r) = staff.admit(&INTAKE_ROLES, Some(&f.csrf)) {
        return *r;
    }
    let l = staff.c.l;
    let city = match state.city.get(&state.store).await {
        Ok(city) => city,
        Err(e) => return error_page(staff.c, &e),
    };
    let again = |f: IntakeForm, status: StatusCode, error: String| {
        render(status, &page(&staff, &city, f, None, error))
    };
    // An answer from the knowledge base: the entry, and the consultation it is filed under.
    let mut answer = None;
    let mut matter = leaf_matter(&city, &f.matter_id);
    if !f.answer_id.is_empty() {
        let entries = match state.store.knowledge_entries().await {
            Ok(entries) => entries,
            Err(e) => return error_page(staff.c.clone(), &ApiError::from(e)),
        };
        let Some(entry) = entries
            .into_iter()
            .find(|e| e.id == f.answer_id && e.active)
        else {
            return again(
                f,
                StatusCode::NOT_FOUND,
                message(l, &ApiError::not_found("knowledge")),
            );
        };
        match consultation_matter(&state, &city, &f) {
            Some(m) => matter = Some(m),
            None => {
                return again(
                    f,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    l.t("answer_needs_consultation").to_string(),
                );
            }
        }
        answer = Some(entry.answer);
    }
    let key = Some(f.key.trim().to_string()).filter(|k| !k.is_empty() && k.len() <= 200);
    let body = SubmitBody {
        title: title_for(&city, "", matter, &f.text),
        text: f.text.clone(),
        division_code: deepest_division(&f.district, &f.street, &f.community),
        address: f.address.clone(),
        lat: None,
        lng: None,
        name: Some(f.name.clone()),
        phone: f.phone.clone(),
        channel: None,
        requester_kind: None,
        enterprise_name: None,
        matter_code: matter
            .and_then(|m| city.catalog.get(m))
            .map(|m| m.code.clone()),
    };
    let new = match new_request(&state, body, Channel::Hotline, key).await {
        Ok(new) => new,
        Err(e) => return again(f, e.status, message(l, &e)),
    };
    let (request, created) = match crate::intake::file(&state, new, actor(&staff.principal)).await {
        Ok(filed) => filed,
        Err(e) => return again(f, e.status, message(l, &e)),
    };
    let mut filed = Filed {
        id: request.id.0,
        code: request.intake.tracking_code.to_string(),
        state: l.state(request.state),
        answered: false,
    };
    let mut error = String::new();
    if let Some(text) = answer
        && created
    {
        match requests::act(
            State(state.clone()),
            Staff(staff.principal.clone()),
            ApiPath((request.id.0, "answer".to_string())),
            ApiJson(ActionBody {
                text: Some(text),
                ..ActionBody::default()
            }),
        )
        .await
        {
            Ok(view) => {
                filed.answered = true;
                filed.state = l.state_name(view.0.state);
            }
            // Filed, but not answered: it waits for dispatch like any other call.
            Err(e) => error = message(l, &e),
        }
    }
    let fresh = IntakeForm {
        key: form_key(&staff),
        ..IntakeForm::default()
    };
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    render(status, &page(&staff, &city, fresh, Some(filed), error))
}
