//! What the API shows of a request and its history. Wire types are built here by hand from the
//! domain types, so that the domain never depends on the wire format.

use crate::reference::City;
use chrono::{DateTime, Utc};
use minyi_domain::personal::mask_address;
use minyi_domain::request::{Clock, Event, EventKind, Request, RequesterKind};
use minyi_store::RequesterInfo;
use serde::Serialize;
use utoipa::ToSchema;

/// A request as staff see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequestView {
    pub id: i64,
    pub tracking_code: String,
    pub state: &'static str,
    pub state_label: &'static str,
    pub channel: &'static str,
    pub requester_kind: &'static str,
    pub title: String,
    pub text: String,
    pub division_id: Option<i64>,
    pub division_path: Option<String>,
    pub address: String,
    pub received_at: DateTime<Utc>,
    pub category: Option<CategoryView>,
    pub lead_unit: Option<UnitRef>,
    pub co_units: Vec<UnitRef>,
    pub legal_basis: Option<String>,
    pub response_clock: Option<ClockView>,
    pub handling_clock: Option<ClockView>,
    pub pending_extension_days: Option<u32>,
    pub reply: Option<String>,
    pub rating: Option<String>,
    pub merged_into: Option<i64>,
    pub duplicates: Vec<i64>,
    pub children: Vec<i64>,
    pub parent: Option<i64>,
    pub n_returns: u32,
    pub n_reopens: u32,
    pub n_urges: u32,
    pub n_extensions: u32,
    pub n_escalations: u32,
    pub requester: RequesterView,
    /// What the engine found at intake (categories with confidence and words, place, danger
    /// words, the decision on auto-dispatch).
    #[schema(value_type = Option<Object>)]
    pub suggestion: Option<serde_json::Value>,
}

/// The category and where it came from.
#[derive(Debug, Serialize, ToSchema)]
pub struct CategoryView {
    pub matter_id: i64,
    pub path: String,
    pub source: &'static str,
    pub confidence: Option<f32>,
    pub urgency: &'static str,
    pub consultation: bool,
}

/// A unit by id and name.
#[derive(Debug, Serialize, ToSchema)]
pub struct UnitRef {
    pub id: i64,
    pub name: String,
}

/// A deadline clock.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClockView {
    pub span: String,
    pub started_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub met_at: Option<DateTime<Utc>>,
    pub paused: bool,
    pub late: bool,
}

/// The requester's personal data, masked unless the viewer needs it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequesterView {
    pub masked: bool,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub address: Option<String>,
    pub enterprise_name: Option<String>,
}

fn clock(c: &Clock, now: DateTime<Utc>) -> ClockView {
    ClockView {
        span: c.span.to_string(),
        started_at: c.started_at,
        due_at: c.due_at,
        met_at: c.met_at,
        paused: c.paused_remaining.is_some(),
        late: c.is_late(now),
    }
}

fn unit_ref(city: &City, id: minyi_domain::UnitId) -> UnitRef {
    UnitRef {
        id: id.0,
        name: city
            .units
            .get(&id)
            .map(|u| u.name.clone())
            .unwrap_or_default(),
    }
}

impl RequesterView {
    /// Builds the view; `clear` shows the real values.
    pub fn build(info: Option<&RequesterInfo>, clear: bool) -> Self {
        match info {
            None => RequesterView {
                masked: !clear,
                name: None,
                phone: None,
                address: None,
                enterprise_name: None,
            },
            Some(info) => RequesterView {
                masked: !clear,
                name: info.name.as_ref().map(|n| {
                    if clear {
                        n.reveal().to_string()
                    } else {
                        n.masked()
                    }
                }),
                phone: info.phone.as_ref().map(|p| {
                    if clear {
                        p.reveal().to_string()
                    } else {
                        p.masked()
                    }
                }),
                address: (!info.address.is_empty()).then(|| {
                    if clear {
                        info.address.clone()
                    } else {
                        mask_address(&info.address, 6)
                    }
                }),
                enterprise_name: info.enterprise_name.clone(),
            },
        }
    }
}

impl RequestView {
    /// Builds the view of a request.
    pub fn build(
        request: &Request,
        city: &City,
        requester: Option<&RequesterInfo>,
        clear: bool,
    ) -> Self {
        let now = Utc::now();
        let intake = &request.intake;
        RequestView {
            id: request.id.0,
            tracking_code: intake.tracking_code.to_string(),
            state: request.state.as_str(),
            state_label: request.state.label_zh(),
            channel: intake.channel.as_str(),
            requester_kind: match intake.requester_kind {
                RequesterKind::Citizen => "citizen",
                RequesterKind::Enterprise => "enterprise",
            },
            title: intake.title.clone(),
            text: intake.text.clone(),
            division_id: intake.location.division.map(|d| d.0),
            division_path: intake
                .location
                .division
                .map(|d| city.divisions.path_name(d)),
            address: intake.location.address.clone(),
            received_at: request.received_at,
            category: request.classification.map(|c| CategoryView {
                matter_id: c.matter.0,
                path: city.catalog.path_name(c.matter),
                source: match c.source {
                    minyi_domain::request::CategorySource::Engine => "engine",
                    minyi_domain::request::CategorySource::Person => "person",
                },
                confidence: c.confidence,
                urgency: c.urgency.as_str(),
                consultation: c.consultation,
            }),
            lead_unit: request.lead().map(|u| unit_ref(city, u)),
            co_units: request
                .assignment
                .as_ref()
                .map(|a| a.co_units.iter().map(|u| unit_ref(city, *u)).collect())
                .unwrap_or_default(),
            legal_basis: request.assignment.as_ref().map(|a| a.legal_basis.clone()),
            response_clock: request.response_clock.as_ref().map(|c| clock(c, now)),
            handling_clock: request.handling_clock.as_ref().map(|c| clock(c, now)),
            pending_extension_days: request.pending_extension.as_ref().map(|e| e.working_days),
            reply: request.reply.as_ref().map(|r| r.text.clone()),
            rating: request.rating.as_ref().map(|r| {
                match r.satisfaction {
                    minyi_domain::request::Satisfaction::Satisfied => "satisfied",
                    minyi_domain::request::Satisfaction::BasicallySatisfied => {
                        "basically_satisfied"
                    }
                    minyi_domain::request::Satisfaction::Unsatisfied => "unsatisfied",
                }
                .to_string()
            }),
            merged_into: request.merged_into.map(|r| r.0),
            duplicates: request.duplicates.iter().map(|r| r.0).collect(),
            children: request.children.iter().map(|r| r.0).collect(),
            parent: intake.parent.map(|r| r.0),
            n_returns: request.n_returns,
            n_reopens: request.n_reopens,
            n_urges: request.n_urges,
            n_extensions: request.n_extensions,
            n_escalations: request.n_escalations,
            requester: RequesterView::build(requester, clear),
            suggestion: None,
        }
    }
}

/// One history entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    pub seq: u32,
    pub at: DateTime<Utc>,
    pub kind: &'static str,
    pub actor_role: &'static str,
    pub actor_unit_id: Option<i64>,
    /// The event's own fields (reason, reply text, deadlines …).
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

impl From<&Event> for EventView {
    fn from(e: &Event) -> Self {
        let detail = match &e.kind {
            // The intake repeats the request itself; keep the history readable.
            EventKind::Received { .. } => serde_json::json!({}),
            other => serde_json::to_value(other).unwrap_or_default(),
        };
        EventView {
            seq: e.seq,
            at: e.at,
            kind: e.kind.name(),
            actor_role: e.actor.role.as_str(),
            actor_unit_id: e.actor.unit.map(|u| u.0),
            detail,
        }
    }
}
