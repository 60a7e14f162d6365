//! One request for staff: details, the whole timeline, and the forms for the actions the role may
//! take in the request's state. Actions go through the API's action handler (same role and unit
//! checks, same domain commands), after the form's CSRF token is checked.

use super::citizen::{Choice, matter_path};
use super::i18n::Lang;
use super::{Ctx, WebStaff, error_page, local_time, render, safe_next};
use crate::AppState;
use crate::api::requests::{self, ActionBody, can_read, sees_personal_data};
use crate::auth::Staff;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath};
use crate::reference::City;
use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use minyi_domain::RequestId;
use minyi_domain::calendar::WorkCalendar;
use minyi_domain::request::{EventKind, Request, RequesterKind, Satisfaction, State as RState};
use minyi_domain::unit::Role;
use serde::Deserialize;

/// The working time left to a deadline, as people read it, and whether it has passed.
pub fn countdown(
    l: Lang,
    calendar: &WorkCalendar,
    now: DateTime<Utc>,
    due: DateTime<Utc>,
) -> (String, bool) {
    let (secs, late) = if due >= now {
        (calendar.working_seconds_between(now, due), false)
    } else {
        (calendar.working_seconds_between(due, now), true)
    };
    let hours = secs as f64 / 3600.0;
    let word = if late {
        l.t("overdue")
    } else {
        l.t("remaining")
    };
    (format!("{word} {hours:.1} {}", l.t("working_hours")), late)
}

/// A unit's name, or `?`.
pub fn unit_name(city: &City, id: Option<i64>) -> String {
    id.and_then(|u| city.units.get(&minyi_domain::UnitId(u)))
        .map(|u| u.name.clone())
        .unwrap_or_default()
}

/// One line of the staff timeline.
#[derive(Debug, Clone)]
pub struct Line {
    pub at: String,
    pub label: &'static str,
    pub who: String,
    pub detail: String,
}

fn satisfaction(l: Lang, s: Satisfaction) -> &'static str {
    match s {
        Satisfaction::Satisfied => l.t("satisfied"),
        Satisfaction::BasicallySatisfied => l.t("basically_satisfied"),
        Satisfaction::Unsatisfied => l.t("unsatisfied"),
    }
}

fn detail(l: Lang, city: &City, kind: &EventKind) -> String {
    let unit = |u: minyi_domain::UnitId| unit_name(city, Some(u.0));
    match kind {
        EventKind::Classified { classification } => matter_path(city, classification.matter),
        EventKind::Dispatched { assignment, .. } => unit(assignment.lead),
        EventKind::Arbitrated {
            ruling, assignment, ..
        } => format!("{ruling} → {}", unit(assignment.lead)),
        EventKind::Replied { text } | EventKind::CoUnitOpinion { text, .. } => text.clone(),
        EventKind::AnsweredAtIntake { answer } => answer.clone(),
        EventKind::Returned {
            reason,
            legal_basis,
        } => format!("{reason}（{legal_basis}）"),
        EventKind::ExtensionRequested {
            working_days,
            reason,
        } => format!("{working_days} {} · {reason}", l.t("days")),
        EventKind::ExtensionRefused { reason }
        | EventKind::Paused { reason, .. }
        | EventKind::Closed { reason } => reason.clone(),
        EventKind::ExtensionApproved { handling_due } => local_time(*handling_due),
        EventKind::Urged { note } => note.clone(),
        EventKind::Rated {
            satisfaction: s,
            solved,
            comment,
        } => format!(
            "{}{}{}",
            satisfaction(l, *s),
            if *solved {
                format!(" · {}", l.t("solved"))
            } else {
                String::new()
            },
            if comment.is_empty() {
                String::new()
            } else {
                format!(" · {comment}")
            }
        ),
        _ => String::new(),
    }
}

#[derive(Template)]
#[template(path = "request.html")]
struct RequestPage {
    c: Ctx,
    id: i64,
    code: String,
    state: &'static str,
    title: String,
    text: String,
    matter: String,
    division: String,
    address: String,
    requester: String,
    phone: String,
    kind: &'static str,
    lead: String,
    response_due: String,
    handling_due: String,
    countdown: String,
    late: bool,
    reply: String,
    pending_extension: String,
    lines: Vec<Line>,
    suggested: Option<Choice>,
    units: Vec<Choice>,
    can_classify: bool,
    can_dispatch: bool,
    can_arbitrate: bool,
    can_rule_extension: bool,
    can_sign: bool,
    can_handle: bool,
    can_urge: bool,
    back: String,
}

/// `GET /requests/{id}`: the request page; 403 page when the role may not read it.
pub async fn page(State(state): State<AppState>, staff: WebStaff, Path(id): Path<i64>) -> Response {
    let c = staff.c.clone();
    match build(&state, &staff, id).await {
        Ok(page) => render(StatusCode::OK, &page),
        Err(e) => error_page(c, &e),
    }
}

async fn build(state: &AppState, staff: &WebStaff, id: i64) -> Result<RequestPage, ApiError> {
    let l = staff.c.l;
    let principal = &staff.principal;
    let request: Request = state.store.get_request(RequestId(id)).await?;
    if !can_read(principal, &request) {
        return Err(ApiError::forbidden("not_your_unit"));
    }
    let city = state.city.get(&state.store).await?;
    let requester = state.store.requester(request.id).await?.unwrap_or_default();
    let clear = sees_personal_data(principal);
    let (name, phone) = if clear {
        (
            requester
                .name
                .as_ref()
                .map(|n| n.reveal().to_string())
                .unwrap_or_default(),
            requester
                .phone
                .as_ref()
                .map(|p| p.reveal().to_string())
                .unwrap_or_default(),
        )
    } else {
        (
            requester
                .name
                .as_ref()
                .map(|n| n.masked())
                .unwrap_or_default(),
            requester
                .phone
                .as_ref()
                .map(|p| p.masked())
                .unwrap_or_default(),
        )
    };
    let requester_label = match (&requester.enterprise_name, request.intake.requester_kind) {
        (Some(e), RequesterKind::Enterprise) => format!("{e} {name}"),
        _ => name,
    };
    let events = state.store.events(request.id).await?;
    let lines = events
        .iter()
        .map(|e| Line {
            at: local_time(e.at),
            label: l.event(e.kind.name()),
            who: match e.actor.unit {
                Some(u) => format!("{} · {}", l.role(e.actor.role), unit_name(&city, Some(u.0))),
                None => l.role(e.actor.role).to_string(),
            },
            detail: detail(l, &city, &e.kind),
        })
        .collect();
    let now = Utc::now();
    let running = request
        .handling_clock
        .as_ref()
        .filter(|c| c.is_running() && request.state == RState::Handling)
        .or(request.response_clock.as_ref().filter(|c| c.is_running()));
    let (countdown_text, late) = match running {
        Some(clock) if request.state.is_open() => {
            countdown(l, &state.store.calendar(), now, clock.due_at)
        }
        _ => (String::new(), false),
    };
    let role = principal.role;
    let classified = request.classification.is_some();
    let suggested = request.classification.as_ref().and_then(|cl| {
        city.suggest(cl.matter, request.intake.location.division)
            .ok()
            .map(|a| Choice {
                value: a.lead.0.to_string(),
                label: unit_name(&city, Some(a.lead.0)),
            })
    });
    let dispatcher = role == Role::Dispatcher;
    let mut units: Vec<Choice> = Vec::new();
    if dispatcher {
        units = city
            .units
            .values()
            .map(|u| Choice {
                value: u.id.0.to_string(),
                label: u.name.clone(),
            })
            .collect();
        units.sort_by(|a, b| a.label.cmp(&b.label));
    }
    let unit_role = role.is_unit_role();
    Ok(RequestPage {
        c: staff.c.clone(),
        id,
        code: request.intake.tracking_code.to_string(),
        state: l.state(request.state),
        title: request.intake.title.clone(),
        text: request.intake.text.clone(),
        matter: request
            .classification
            .as_ref()
            .map(|cl| matter_path(&city, cl.matter))
            .unwrap_or_else(|| l.t("not_classified").to_string()),
        division: request
            .intake
            .location
            .division
            .map(|d| city.divisions.path_name(d))
            .unwrap_or_default(),
        address: request.intake.location.address.clone(),
        requester: requester_label,
        phone,
        kind: match request.intake.requester_kind {
            RequesterKind::Citizen => l.t("citizen"),
            RequesterKind::Enterprise => l.t("enterprise"),
        },
        lead: unit_name(&city, request.lead().map(|u| u.0)),
        response_due: request
            .response_clock
            .as_ref()
            .map(|c| local_time(c.due_at))
            .unwrap_or_default(),
        handling_due: request
            .handling_clock
            .as_ref()
            .map(|c| local_time(c.due_at))
            .unwrap_or_default(),
        countdown: countdown_text,
        late,
        reply: request
            .reply
            .as_ref()
            .map(|r| r.text.clone())
            .unwrap_or_default(),
        pending_extension: request
            .pending_extension
            .as_ref()
            .map(|x| format!("{} {} · {}", x.working_days, l.t("days"), x.reason))
            .unwrap_or_default(),
        lines,
        suggested,
        units,
        can_classify: (dispatcher || role == Role::Operator) && request.state == RState::Received,
        can_dispatch: dispatcher && request.state == RState::Received && classified,
        can_arbitrate: dispatcher && request.state == RState::Returned,
        can_rule_extension: dispatcher && request.pending_extension.is_some(),
        can_sign: unit_role && request.state == RState::Dispatched,
        can_handle: unit_role && request.state == RState::Handling,
        can_urge: matches!(role, Role::Supervisor | Role::Operator) && request.state.is_open(),
        back: format!("/requests/{id}"),
    })
}

/// The fields of every action form; each action reads the ones it needs.
#[derive(Debug, Deserialize, Default)]
pub struct ActionForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub back: String,
    #[serde(default)]
    pub matter_id: String,
    #[serde(default)]
    pub lead_unit_id: String,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub legal_basis: String,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub ruling: String,
    #[serde(default)]
    pub working_days: String,
    #[serde(default)]
    pub note: String,
    #[serde(default)]
    pub parent_id: String,
}

fn some(s: &str) -> Option<String> {
    Some(s.trim().to_string()).filter(|s| !s.is_empty())
}

impl ActionForm {
    fn body(&self) -> ActionBody {
        ActionBody {
            matter_id: self.matter_id.trim().parse().ok(),
            lead_unit_id: self.lead_unit_id.trim().parse().ok(),
            reason: some(&self.reason),
            legal_basis: some(&self.legal_basis),
            text: some(&self.text),
            ruling: some(&self.ruling),
            working_days: self.working_days.trim().parse().ok(),
            note: some(&self.note),
            parent_id: self.parent_id.trim().parse().ok(),
            ..ActionBody::default()
        }
    }
}

/// The actions the pages offer.
const WEB_ACTIONS: [&str; 11] = [
    "classify",
    "merge",
    "dispatch",
    "arbitrate",
    "approve-extension",
    "refuse-extension",
    "sign",
    "reply",
    "return",
    "extension",
    "urge",
];

/// `POST /requests/{id}/{action}`: checks the form's CSRF token, performs the action as the API
/// does, and goes back to the page the form was on.
pub async fn act(
    State(state): State<AppState>,
    staff: WebStaff,
    Path((id, action)): Path<(i64, String)>,
    Form(f): Form<ActionForm>,
) -> Response {
    if let Err(r) = staff.check_csrf(&f.csrf) {
        return *r;
    }
    if !WEB_ACTIONS.contains(&action.as_str()) {
        return error_page(staff.c, &ApiError::not_found("action"));
    }
    let result = requests::act(
        State(state),
        Staff(staff.principal.clone()),
        ApiPath((id, action)),
        ApiJson(f.body()),
    )
    .await;
    match result {
        Ok(_) => {
            let back = if f.back.is_empty() {
                format!("/requests/{id}")
            } else {
                safe_next(Some(&f.back))
            };
            Redirect::to(&back).into_response()
        }
        Err(e) => error_page(staff.c, &e),
    }
}
