//! The Open311 wire types, built from the domain: services are the catalogue's leaf matters,
//! service requests are requests with a matter, and nothing personal is ever on them.

use crate::reference::City;
use chrono::{DateTime, FixedOffset, Offset, SecondsFormat, Utc};
use minyi_domain::catalog::Matter;
use minyi_domain::request::{Request, State};
use serde::Serialize;
use utoipa::ToSchema;

/// A service (type) a client can file: one leaf of the matter catalogue.
#[derive(Debug, Serialize, ToSchema)]
pub struct Service {
    pub service_code: String,
    pub service_name: String,
    /// The matter's full path in the catalogue.
    pub description: Option<String>,
    /// Always true: every service has attributes (`GET services/{code}`).
    pub metadata: bool,
    /// Always `realtime`: the request id is returned at once.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The names of the matter's ancestors below the group, comma-separated.
    pub keywords: Option<String>,
    /// The first-level matter.
    pub group: Option<String>,
}

/// One option of a list attribute.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttributeValue {
    pub key: String,
    pub name: String,
}

/// An attribute of a service definition.
#[derive(Debug, Serialize, ToSchema)]
pub struct Attribute {
    pub variable: bool,
    pub code: &'static str,
    pub datatype: &'static str,
    pub required: bool,
    pub datatype_description: Option<String>,
    pub order: u32,
    pub description: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<AttributeValue>,
}

/// `GET services/{code}`: the attributes a request of the service may carry.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceDefinition {
    pub service_code: String,
    pub attributes: Vec<Attribute>,
}

/// A service request as Open311 shows it. Requester data (name, phone, e-mail) is never here;
/// the request's content and location only for clients with an API key.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceRequest {
    /// The tracking code.
    pub service_request_id: String,
    /// `open` or `closed`.
    pub status: &'static str,
    /// mySociety's extended status (OPEN, ACTION_SCHEDULED, IN_PROGRESS, …).
    pub extended_status: &'static str,
    pub status_notes: Option<String>,
    pub service_name: Option<String>,
    pub service_code: String,
    pub description: Option<String>,
    pub agency_responsible: Option<String>,
    pub service_notice: Option<String>,
    pub requested_datetime: String,
    pub updated_datetime: Option<String>,
    pub expected_datetime: Option<String>,
    pub address: Option<String>,
    /// The code of the division (district to compound) of the location.
    pub address_id: Option<String>,
    pub zipcode: Option<String>,
    pub lat: Option<f64>,
    pub long: Option<f64>,
    pub media_url: Option<String>,
}

/// The answer to `POST requests`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Receipt {
    pub service_request_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_notice: Option<String>,
    /// The client's own account id, echoed when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
}

/// The answer to `GET tokens/{token}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenAnswer {
    pub service_request_id: String,
    pub token: String,
}

/// One error; a response carries a list of them.
#[derive(Debug, Serialize, ToSchema)]
pub struct Open311Error {
    pub code: u16,
    pub description: String,
}

/// One endpoint of the discovery document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Endpoint {
    pub specification: &'static str,
    pub url: String,
    pub changeset: &'static str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub formats: Vec<&'static str>,
}

/// `GET discovery`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Discovery {
    pub changeset: &'static str,
    pub contact: &'static str,
    pub key_service: &'static str,
    pub endpoints: Vec<Endpoint>,
}

/// The Open311 status of a state.
pub fn status(state: State) -> &'static str {
    match state {
        State::Received | State::Dispatched | State::Handling | State::Paused | State::Returned => {
            "open"
        }
        State::Replied | State::Closed | State::Merged | State::Split => "closed",
    }
}

/// The extended statuses, as mySociety's Open311 extensions name them.
pub const EXTENDED_STATUSES: [&str; 10] = [
    "OPEN",
    "INVESTIGATING",
    "IN_PROGRESS",
    "ACTION_SCHEDULED",
    "FIXED",
    "CLOSED",
    "DUPLICATE",
    "NOT_COUNCILS_RESPONSIBILITY",
    "NO_FURTHER_ACTION",
    "INTERNAL_REFERRAL",
];

/// The extended status of a state: received → OPEN, dispatched to a unit → ACTION_SCHEDULED,
/// signed for → IN_PROGRESS, paused for the requester → INVESTIGATING, returned by the unit for
/// re-routing → INTERNAL_REFERRAL, replied → FIXED, merged → DUPLICATE, closed or split → CLOSED.
pub fn extended_status(state: State) -> &'static str {
    match state {
        State::Received => "OPEN",
        State::Dispatched => "ACTION_SCHEDULED",
        State::Handling => "IN_PROGRESS",
        State::Paused => "INVESTIGATING",
        State::Returned => "INTERNAL_REFERRAL",
        State::Replied => "FIXED",
        State::Merged => "DUPLICATE",
        State::Closed | State::Split => "CLOSED",
    }
}

/// The states an Open311 `status` value stands for: the spec's `open` and `closed` (lower case,
/// as the spec writes them), else an extended status in any case (`OPEN` is the extended one:
/// received and not yet routed); `None` when the value is none of them.
pub fn states_for(value: &str) -> Option<Vec<State>> {
    if value == "open" || value == "closed" {
        return Some(
            State::ALL
                .into_iter()
                .filter(|s| status(*s) == value)
                .collect(),
        );
    }
    let upper = value.to_ascii_uppercase();
    EXTENDED_STATUSES.contains(&upper.as_str()).then(|| {
        State::ALL
            .into_iter()
            .filter(|s| extended_status(*s) == upper)
            .collect()
    })
}

/// The city's time zone (China Standard Time), in which times are shown.
pub fn city_zone() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| Utc.fix())
}

/// ISO 8601 with the city's offset, to the second.
pub fn datetime(t: DateTime<Utc>) -> String {
    t.with_timezone(&city_zone())
        .to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// The service for a leaf matter.
pub fn service(city: &City, matter: &Matter) -> Service {
    let path: Vec<&Matter> = city
        .catalog
        .self_and_ancestors(matter.id)
        .into_iter()
        .rev()
        .filter_map(|id| city.catalog.get(id))
        .collect();
    let group = path
        .first()
        .filter(|m| m.id != matter.id)
        .map(|m| m.name.clone());
    let middle: Vec<&str> = path
        .iter()
        .skip(1)
        .filter(|m| m.id != matter.id)
        .map(|m| m.name.as_str())
        .collect();
    Service {
        service_code: matter.code.clone(),
        service_name: matter.name.clone(),
        description: Some(city.catalog.path_name(matter.id)),
        metadata: true,
        kind: "realtime",
        keywords: (!middle.is_empty()).then(|| middle.join(",")),
        group,
    }
}

/// The attributes every service takes.
pub fn definition(matter: &Matter) -> ServiceDefinition {
    ServiceDefinition {
        service_code: matter.code.clone(),
        attributes: vec![
            Attribute {
                variable: true,
                code: "location_detail",
                datatype: "string",
                required: false,
                datatype_description: Some("不超过200字 / at most 200 characters".into()),
                order: 1,
                description: "具体位置，如楼栋、门牌、出入口 / where exactly: building, door, gate"
                    .into(),
                values: Vec::new(),
            },
            Attribute {
                variable: true,
                code: "title",
                datatype: "string",
                required: false,
                datatype_description: Some("不超过200字 / at most 200 characters".into()),
                order: 2,
                description: "诉求标题 / a short title of the request".into(),
                values: Vec::new(),
            },
            Attribute {
                variable: true,
                code: "requester_kind",
                datatype: "singlevaluelist",
                required: false,
                datatype_description: None,
                order: 3,
                description:
                    "诉求人类型，默认为市民 / who files: a citizen (default) or an enterprise"
                        .into(),
                values: vec![
                    AttributeValue {
                        key: "citizen".into(),
                        name: "市民 / citizen".into(),
                    },
                    AttributeValue {
                        key: "enterprise".into(),
                        name: "企业 / enterprise".into(),
                    },
                ],
            },
        ],
    }
}

/// The Open311 view of a request; `full` adds its content and location (clients with a key).
pub fn service_request(city: &City, request: &Request, full: bool) -> ServiceRequest {
    let matter = request
        .classification
        .and_then(|c| city.catalog.get(c.matter));
    let location = &request.intake.location;
    let expected = request
        .handling_clock
        .as_ref()
        .or(request.response_clock.as_ref())
        .map(|c| datetime(c.due_at));
    ServiceRequest {
        service_request_id: request.intake.tracking_code.to_string(),
        status: status(request.state),
        extended_status: extended_status(request.state),
        status_notes: Some(request.state.label_zh().to_string()),
        service_name: matter.map(|m| m.name.clone()),
        service_code: matter.map(|m| m.code.clone()).unwrap_or_default(),
        description: full.then(|| request.intake.text.clone()),
        agency_responsible: request
            .lead()
            .and_then(|u| city.units.get(&u))
            .map(|u| u.name.clone()),
        service_notice: None,
        requested_datetime: datetime(request.received_at),
        updated_datetime: Some(datetime(request.last_event_at)),
        expected_datetime: expected,
        address: full
            .then(|| location.address.clone())
            .filter(|a| !a.is_empty()),
        address_id: location
            .division
            .filter(|_| full)
            .and_then(|d| city.divisions.get(d))
            .map(|d| d.code.clone()),
        zipcode: None,
        lat: location.lat_lng.filter(|_| full).map(|(lat, _)| lat),
        long: location.lat_lng.filter(|_| full).map(|(_, lng)| lng),
        media_url: None,
    }
}
