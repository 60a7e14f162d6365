//! Open311 GeoReport v2 under `/open311/v2`: discovery, services (the catalogue's leaf matters)
//! and their definitions, filing a request (with an API key, through the same intake as the
//! public submit), tokens, and listing requests with the spec's filters and the common
//! extensions (extended statuses, `page`/`page_size`, `updated_after`/`updated_before`).
//!
//! The format is the path's suffix, `.json` or `.xml`; errors come in the same format as the
//! spec's `errors/error` list with 404 (unknown service, request, token or jurisdiction), 403
//! (missing or bad `api_key`) or 400 (anything else the client got wrong). Requester data is
//! never shown; a request's text and location only to clients that give a valid `api_key`.

pub mod form;
pub mod model;
pub mod xml;

use crate::AppState;
use crate::error::ApiError;
use crate::reference::City;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequestParts, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use form::Params;
use minyi_domain::catalog::Matter;
use minyi_domain::personal::{PersonName, PhoneNumber, TrackingCode};
use minyi_domain::request::{
    CategorySource, Channel, Classification, Command, Location, RequesterKind,
};
use minyi_domain::unit::Actor;
use minyi_store::{NewRequest, Open311Filter, RequesterInfo, StoreError};
use model::{
    Discovery, Endpoint, Open311Error, Receipt, Service, ServiceDefinition, ServiceRequest,
    TokenAnswer,
};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Where the endpoint lives.
pub const BASE: &str = "/open311/v2";
/// The most requests one list answer holds (the spec's limit).
pub const MAX_PAGE_SIZE: u32 = 1000;
/// The widest `start_date`–`end_date` window, and the default one.
pub const MAX_WINDOW_DAYS: i64 = 90;
/// Longest description, in characters.
pub const MAX_DESCRIPTION: usize = 4000;
/// Longest address or short attribute, in characters.
pub const MAX_SHORT: usize = 200;
/// Longest Idempotency-Key.
pub const MAX_IDEMPOTENCY_KEY: usize = 200;

/// The Open311 routes, documented for the OpenAPI document.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(discovery))
        .routes(routes!(services))
        .routes(routes!(service_definition))
        .routes(routes!(list_requests, post_request))
        .routes(routes!(get_request))
        .routes(routes!(token))
}

/// A failure, answered in the request's format as an Open311 error list.
#[derive(Debug, Clone)]
pub struct Fail {
    pub status: StatusCode,
    pub zh: String,
    pub en: String,
}

impl Fail {
    /// 400.
    pub fn bad_request(zh: impl Into<String>, en: impl Into<String>) -> Self {
        Fail {
            status: StatusCode::BAD_REQUEST,
            zh: zh.into(),
            en: en.into(),
        }
    }

    /// 404.
    pub fn not_found(zh: impl Into<String>, en: impl Into<String>) -> Self {
        Fail {
            status: StatusCode::NOT_FOUND,
            zh: zh.into(),
            en: en.into(),
        }
    }

    /// 403 for a missing or bad API key.
    pub fn bad_key(given: bool) -> Self {
        let (zh, en) = if given {
            (
                "api_key 无效或已停用",
                "the api_key is not valid or was revoked",
            )
        } else {
            (
                "提交诉求须提供 api_key",
                "an api_key is required to submit a request",
            )
        };
        Fail {
            status: StatusCode::FORBIDDEN,
            zh: zh.into(),
            en: en.into(),
        }
    }
}

impl From<ApiError> for Fail {
    fn from(e: ApiError) -> Self {
        // The spec knows 404, 403 and 400 for the client's mistakes; server-side failures keep
        // their status (5xx) and their message, which never quotes stored content.
        let status = match e.status {
            s if s.is_server_error() => s,
            StatusCode::NOT_FOUND | StatusCode::FORBIDDEN => e.status,
            _ => StatusCode::BAD_REQUEST,
        };
        Fail {
            status,
            zh: e.zh,
            en: e.en,
        }
    }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        ApiError::from(e).into()
    }
}

/// The response format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

impl Format {
    fn parse(s: &str) -> Result<Self, Fail> {
        match s {
            "json" => Ok(Format::Json),
            "xml" => Ok(Format::Xml),
            _ => Err(Fail::bad_request(
                "格式须为 .json 或 .xml",
                "the format must be .json or .xml",
            )),
        }
    }

    /// Splits `name.fmt` at its last dot.
    fn split(file: &str) -> Result<(&str, Self), Fail> {
        let (name, fmt) = file.rsplit_once('.').ok_or_else(|| {
            Fail::bad_request(
                "路径须以 .json 或 .xml 结尾",
                "the path must end in .json or .xml",
            )
        })?;
        Ok((name, Format::parse(fmt)?))
    }

    fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json; charset=utf-8",
            Format::Xml => "text/xml; charset=utf-8",
        }
    }
}

/// Whether the client asked for English (`Accept-Language: en…` or `lang=en`); Chinese otherwise.
#[derive(Debug, Clone, Copy)]
pub struct Lang {
    pub english: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let by_query = parts
            .uri
            .query()
            .is_some_and(|q| q.split('&').any(|kv| kv == "lang=en"));
        let by_header = parts
            .headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("en"));
        Ok(Lang {
            english: by_query || by_header,
        })
    }
}

/// A successful answer: the root element's name and the value.
struct Answer {
    status: StatusCode,
    root: &'static str,
    value: serde_json::Value,
    total: Option<i64>,
}

impl Answer {
    fn new(root: &'static str, value: &impl Serialize) -> Result<Self, Fail> {
        let value = serde_json::to_value(value).map_err(|_| Fail {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            zh: "服务暂时不可用，请稍后再试".into(),
            en: "the service is temporarily unavailable; try again later".into(),
        })?;
        Ok(Answer {
            status: StatusCode::OK,
            root,
            value,
            total: None,
        })
    }
}

fn render(format: Format, status: StatusCode, root: &str, value: &serde_json::Value) -> Response {
    let body = match format {
        Format::Json => serde_json::to_vec(value).unwrap_or_default(),
        Format::Xml => xml::to_xml(root, value),
    };
    (
        status,
        [(header::CONTENT_TYPE, format.content_type())],
        body,
    )
        .into_response()
}

fn finish(format: Format, lang: Lang, outcome: Result<Answer, Fail>) -> Response {
    match outcome {
        Ok(answer) => {
            let mut response = render(format, answer.status, answer.root, &answer.value);
            if let Some(total) = answer.total {
                response
                    .headers_mut()
                    .insert("x-total-count", HeaderValue::from(total));
            }
            response
        }
        Err(fail) => {
            let description = if lang.english { fail.en } else { fail.zh };
            let errors = [Open311Error {
                code: fail.status.as_u16(),
                description,
            }];
            let value = serde_json::to_value(errors).unwrap_or_default();
            render(format, fail.status, "errors", &value)
        }
    }
}

/// A path parameter taken as it is (empty if it does not decode): Open311 answers a bad one in
/// its own error format, through [`with_format`] and [`with_file`].
pub struct Segment(String);

impl<S: Send + Sync> FromRequestParts<S> for Segment {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Segment(
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map(|p| p.0)
                .unwrap_or_default(),
        ))
    }
}

fn control_in_path() -> Fail {
    Fail::bad_request("地址含有控制字符", "the path contains control characters")
}

/// Runs a handler body for the format in `fmt` (a bare `json`/`xml`); a bad format is answered
/// in JSON.
async fn with_format<F>(fmt: &str, lang: Lang, body: impl FnOnce(Format) -> F) -> Response
where
    F: Future<Output = Result<Answer, Fail>>,
{
    if fmt.chars().any(char::is_control) {
        return finish(Format::Json, lang, Err(control_in_path()));
    }
    match Format::parse(fmt) {
        Ok(format) => finish(format, lang, body(format).await),
        Err(fail) => finish(Format::Json, lang, Err(fail)),
    }
}

/// Like [`with_format`] for `name.fmt` path segments; the body gets the name.
async fn with_file<F>(file: &str, lang: Lang, body: impl FnOnce(String) -> F) -> Response
where
    F: Future<Output = Result<Answer, Fail>>,
{
    match Format::split(file) {
        Ok((_, format)) if file.chars().any(char::is_control) => {
            finish(format, lang, Err(control_in_path()))
        }
        Ok((name, format)) => finish(format, lang, body(name.to_string()).await),
        Err(fail) => finish(Format::Json, lang, Err(fail)),
    }
}

fn query(raw: Option<String>) -> Result<Params, Fail> {
    Params::parse(raw.as_deref().unwrap_or(""))
}

/// 404 unless `jurisdiction_id` is absent or names this city (the code of its root division).
fn check_jurisdiction(city: &City, params: &Params) -> Result<(), Fail> {
    let Some(given) = params.get("jurisdiction_id")? else {
        return Ok(());
    };
    let ours = city.divisions.iter().find(|d| d.parent.is_none());
    if ours.is_some_and(|d| d.code == given) {
        Ok(())
    } else {
        Err(Fail::not_found(
            "未知的 jurisdiction_id",
            "unknown jurisdiction_id",
        ))
    }
}

/// Whether a valid API key was given; 403 when one was given but is not valid.
async fn has_key(state: &AppState, params: &Params) -> Result<bool, Fail> {
    match params.get("api_key")? {
        None => Ok(false),
        Some(key) if state.store.api_key_valid(key).await? => Ok(true),
        Some(_) => Err(Fail::bad_key(true)),
    }
}

fn leaf<'c>(city: &'c City, code: &str) -> Result<&'c Matter, Fail> {
    city.catalog
        .iter()
        .find(|m| m.code == code && city.catalog.is_leaf(m.id))
        .ok_or_else(|| {
            Fail::not_found(
                format!("未知的服务代码 {code}"),
                format!("unknown service_code {code}"),
            )
        })
}

/// `GET /open311/v2/discovery.{format}`: where the endpoint is and what it speaks.
#[utoipa::path(
    get,
    path = "/open311/v2/discovery.{format}",
    tag = "open311",
    params(("format" = String, Path, description = "`json` or `xml`")),
    responses(
        (status = 200, description = "The discovery document", body = Discovery),
        (status = 400, description = "Bad format", body = [Open311Error]),
    )
)]
pub async fn discovery(Segment(format): Segment, lang: Lang, headers: HeaderMap) -> Response {
    with_format(&format, lang, |_| async move {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| {
                h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
            })
            .unwrap_or("localhost");
        let scheme = match headers
            .get("x-forwarded-proto")
            .and_then(|h| h.to_str().ok())
        {
            Some("https") => "https",
            _ => "http",
        };
        let discovery = Discovery {
            changeset: "2026-11-29T00:00:00+08:00",
            contact: "12345 政务服务便民热线 / the 12345 citizen hotline",
            key_service: "向 12345 热线管理部门申请 API key / ask the 12345 hotline administration for an API key",
            endpoints: vec![Endpoint {
                specification: "http://wiki.open311.org/GeoReport_v2",
                url: format!("{scheme}://{host}{BASE}"),
                changeset: "2026-11-29T00:00:00+08:00",
                kind: "production",
                formats: vec!["text/xml", "application/json"],
            }],
        };
        Answer::new("discovery", &discovery)
    })
    .await
}

/// `GET /open311/v2/services.{format}`: the services, one per leaf of the matter catalogue.
#[utoipa::path(
    get,
    path = "/open311/v2/services.{format}",
    tag = "open311",
    params(
        ("format" = String, Path, description = "`json` or `xml`"),
        ("jurisdiction_id" = Option<String>, Query, description = "The city's division code; optional"),
    ),
    responses(
        (status = 200, description = "The services", body = [Service]),
        (status = 400, description = "Bad format or parameter", body = [Open311Error]),
        (status = 404, description = "Unknown jurisdiction", body = [Open311Error]),
    )
)]
pub async fn services(
    State(state): State<AppState>,
    Segment(format): Segment,
    lang: Lang,
    RawQuery(raw): RawQuery,
) -> Response {
    with_format(&format, lang, |_| async move {
        let params = query(raw)?;
        let city = state.city.get(&state.store).await?;
        check_jurisdiction(&city, &params)?;
        let services: Vec<Service> = city
            .catalog
            .leaves()
            .map(|m| model::service(&city, m))
            .collect();
        Answer::new("services", &services)
    })
    .await
}

/// `GET /open311/v2/services/{service_code}.{format}`: the attributes a service takes.
#[utoipa::path(
    get,
    path = "/open311/v2/services/{file}",
    tag = "open311",
    params(
        ("file" = String, Path, description = "`{service_code}.{format}`, e.g. `01.01.001.json`"),
        ("jurisdiction_id" = Option<String>, Query, description = "The city's division code; optional"),
    ),
    responses(
        (status = 200, description = "The service definition", body = ServiceDefinition),
        (status = 400, description = "Bad format or parameter", body = [Open311Error]),
        (status = 404, description = "Unknown service or jurisdiction", body = [Open311Error]),
    )
)]
pub async fn service_definition(
    State(state): State<AppState>,
    Segment(file): Segment,
    lang: Lang,
    RawQuery(raw): RawQuery,
) -> Response {
    with_file(&file, lang, |code| async move {
        let params = query(raw)?;
        let city = state.city.get(&state.store).await?;
        check_jurisdiction(&city, &params)?;
        let definition: ServiceDefinition = model::definition(leaf(&city, &code)?);
        Answer::new("service_definition", &definition)
    })
    .await
}

fn text_ok(value: &str, max: usize, zh_name: &str, name: &str) -> Result<(), Fail> {
    if value.chars().count() > max {
        return Err(Fail::bad_request(
            format!("{zh_name}不能超过{max}字"),
            format!("{name} is limited to {max} characters"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(Fail::bad_request(
            format!("{zh_name}含有控制字符"),
            format!("{name} contains control characters"),
        ));
    }
    Ok(())
}

fn coordinate(params: &Params, name: &str, limit: f64) -> Result<Option<f64>, Fail> {
    params
        .get(name)?
        .map(|v| {
            v.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite() && x.abs() <= limit)
                .ok_or_else(|| {
                    Fail::bad_request(
                        format!("{name} 须为 -{limit} 到 {limit} 之间的数"),
                        format!("{name} must be a number from -{limit} to {limit}"),
                    )
                })
        })
        .transpose()
}

/// Builds the intake from the form; what a client got wrong is a 400 (404 for the service).
fn new_request(
    city: &City,
    params: &Params,
    idempotency_key: Option<String>,
) -> Result<NewRequest, Fail> {
    let code = params
        .get("service_code")?
        .ok_or_else(|| Fail::bad_request("缺少 service_code", "service_code is required"))?;
    let matter = leaf(city, code)?;
    let policy = city.catalog.policy(matter.id).ok_or_else(|| {
        Fail::not_found(
            format!("服务 {code} 尚未配置办理时限"),
            format!("the service {code} has no policy configured"),
        )
    })?;
    let description = params.get("description")?.ok_or_else(|| {
        Fail::bad_request(
            "请填写诉求内容（description）",
            "description is required: say what the problem is",
        )
    })?;
    text_ok(description, MAX_DESCRIPTION, "诉求内容", "description")?;

    let lat_lng = match (
        coordinate(params, "lat", 90.0)?,
        coordinate(params, "long", 180.0)?,
    ) {
        (Some(lat), Some(lng)) => Some((lat, lng)),
        (None, None) => None,
        _ => {
            return Err(Fail::bad_request(
                "lat 与 long 须同时提供",
                "lat and long must be given together",
            ));
        }
    };
    let division = match params.get("address_id")? {
        None => None,
        Some(id) => Some(
            city.divisions
                .iter()
                .find(|d| d.code == id)
                .map(|d| d.id)
                .ok_or_else(|| {
                    Fail::bad_request(
                        format!("未知的 address_id {id}（须为区划代码）"),
                        format!("unknown address_id {id}: give a division code"),
                    )
                })?,
        ),
    };
    let address_string = params.get("address_string")?.unwrap_or("");
    text_ok(address_string, MAX_SHORT, "地址", "address_string")?;
    if lat_lng.is_none() && division.is_none() && address_string.is_empty() {
        return Err(Fail::bad_request(
            "请提供位置：lat 和 long、address_string 或 address_id",
            "a location is required: lat and long, address_string, or address_id",
        ));
    }

    let definition = model::definition(matter);
    let mut detail = "";
    let mut title = "";
    let mut requester_kind = RequesterKind::Citizen;
    let attributes = params.attributes()?;
    for (code, multi, values) in &attributes {
        let known = definition
            .attributes
            .iter()
            .find(|a| a.code == code.as_str())
            .ok_or_else(|| {
                Fail::bad_request(
                    format!("该服务没有属性 {code}"),
                    format!("the service has no attribute {code}"),
                )
            })?;
        if *multi && known.datatype != "multivaluelist" {
            return Err(Fail::bad_request(
                format!("属性 {code} 只取一个值，请用 attribute[{code}]"),
                format!("the attribute {code} takes one value; use attribute[{code}]"),
            ));
        }
        let value = values[0].as_str();
        text_ok(
            value,
            MAX_SHORT,
            &format!("属性 {code} "),
            &format!("attribute {code}"),
        )?;
        match known.code {
            "location_detail" => detail = value,
            "title" => title = value,
            _ => {
                requester_kind = match value {
                    "citizen" => RequesterKind::Citizen,
                    "enterprise" => RequesterKind::Enterprise,
                    _ => {
                        return Err(Fail::bad_request(
                            "requester_kind 只能是 citizen 或 enterprise",
                            "the attribute requester_kind must be citizen or enterprise",
                        ));
                    }
                }
            }
        }
    }

    let mut text = description.to_string();
    if let Some(url) = params.get("media_url")? {
        let ok = (url.starts_with("https://") || url.starts_with("http://"))
            && url.len() <= 2000
            && !url.chars().any(|c| c.is_whitespace() || c.is_control());
        if !ok {
            return Err(Fail::bad_request(
                "media_url 须为 http(s) 链接",
                "media_url must be an http or https URL",
            ));
        }
        text.push_str("\n附件链接 (media_url): ");
        text.push_str(url);
    }

    let phone = params
        .get("phone")?
        .map(|p| {
            PhoneNumber::parse(p).map_err(|_| {
                Fail::bad_request(
                    "请填写正确的手机号或带区号的座机号",
                    "phone must be a valid mobile or landline number",
                )
            })
        })
        .transpose()?;
    // Chinese order: family name first.
    let full_name = format!(
        "{}{}",
        params.get("last_name")?.unwrap_or(""),
        params.get("first_name")?.unwrap_or("")
    );
    let name = if full_name.trim().is_empty() {
        None
    } else {
        Some(PersonName::parse(full_name.trim()).map_err(|_| {
            Fail::bad_request(
                "姓名格式不正确",
                "first_name and last_name do not form a valid name",
            )
        })?)
    };
    if let Some(email) = params.get("email")?
        && (email.len() > 254 || !email.contains('@') || email.chars().any(char::is_whitespace))
    {
        return Err(Fail::bad_request(
            "email 格式不正确",
            "email is not a valid address",
        ));
    }
    for optional in ["device_id", "account_id"] {
        if let Some(v) = params.get(optional)? {
            text_ok(v, MAX_SHORT, optional, optional)?;
        }
    }

    let address = [address_string, detail]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    Ok(NewRequest {
        channel: Channel::Open311,
        requester_kind,
        title: title.to_string(),
        text,
        location: Location {
            division,
            address,
            lat_lng,
        },
        requester: RequesterInfo {
            name,
            phone,
            address: String::new(),
            enterprise_name: None,
        },
        idempotency_key,
        // The client chose the service: the request is classified at intake, as an operator
        // would on the hotline.
        follow_up: vec![(
            Actor::SYSTEM,
            Command::Classify {
                classification: Classification {
                    matter: matter.id,
                    source: CategorySource::Person,
                    confidence: None,
                    urgency: policy.urgency,
                    consultation: policy.consultation,
                },
            },
        )],
    })
}

/// `POST /open311/v2/requests.{format}`: files a request (form-encoded, `api_key` required).
/// Idempotent under the `Idempotency-Key` header like the public submit: a replay answers 200
/// with the same `service_request_id`.
#[utoipa::path(
    post,
    path = "/open311/v2/requests.{format}",
    tag = "open311",
    params(
        ("format" = String, Path, description = "`json` or `xml`"),
        ("Idempotency-Key" = Option<String>, Header, description = "Replays return the same request"),
    ),
    request_body(
        content_type = "application/x-www-form-urlencoded",
        description = "api_key, service_code, a location (lat+long, address_string or address_id \
            — a division code), description, optional attribute[code], media_url, first_name, \
            last_name, phone, email, device_id, account_id, jurisdiction_id",
        content = String,
    ),
    responses(
        (status = 201, description = "Filed", body = [Receipt]),
        (status = 200, description = "Replayed with the same Idempotency-Key", body = [Receipt]),
        (status = 400, description = "Invalid input", body = [Open311Error]),
        (status = 403, description = "Missing or invalid api_key", body = [Open311Error]),
        (status = 404, description = "Unknown service or jurisdiction", body = [Open311Error]),
    )
)]
pub async fn post_request(
    State(state): State<AppState>,
    Segment(format): Segment,
    lang: Lang,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    with_format(&format, lang, |_| async move {
        let form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("application/x-www-form-urlencoded")
            });
        if !form {
            return Err(Fail::bad_request(
                "请求体须为 application/x-www-form-urlencoded",
                "the body must be application/x-www-form-urlencoded",
            ));
        }
        let body = body.map_err(|e| Fail {
            status: if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                StatusCode::PAYLOAD_TOO_LARGE
            } else {
                StatusCode::BAD_REQUEST
            },
            zh: "请求体无法读取或过大".into(),
            en: "the body could not be read or is too large".into(),
        })?;
        let body = std::str::from_utf8(&body)
            .map_err(|_| Fail::bad_request("请求体须为 UTF-8", "the body must be UTF-8"))?;
        let mut params = query(raw)?;
        params.extend(Params::parse(body)?);
        match params.get("api_key")? {
            None => return Err(Fail::bad_key(false)),
            Some(key) if !state.store.api_key_valid(key).await? => {
                return Err(Fail::bad_key(true));
            }
            Some(_) => {}
        }
        let idempotency_key = match headers.get("idempotency-key") {
            None => None,
            Some(v) => Some(
                v.to_str()
                    .ok()
                    .filter(|k| !k.is_empty() && k.len() <= MAX_IDEMPOTENCY_KEY)
                    .ok_or_else(|| {
                        Fail::bad_request("Idempotency-Key 无效", "invalid Idempotency-Key")
                    })?
                    .to_string(),
            ),
        };
        let city = state.city.get(&state.store).await?;
        check_jurisdiction(&city, &params)?;
        let new = new_request(&city, &params, idempotency_key)?;
        let (request, created) = crate::intake::file(&state, new, Actor::REQUESTER).await?;
        let code = request.intake.tracking_code.to_string();
        let receipt = [Receipt {
            service_notice: Some(if lang.english {
                format!("received; track it with the code {code}")
            } else {
                format!("已受理，请凭查询码 {code} 查询办理进度")
            }),
            service_request_id: code,
            account_id: params.get("account_id")?.map(String::from),
        }];
        let mut answer = Answer::new("service_requests", &receipt)?;
        if created {
            answer.status = StatusCode::CREATED;
        }
        Ok(answer)
    })
    .await
}

fn instant(params: &Params, name: &str) -> Result<Option<DateTime<Utc>>, Fail> {
    params
        .get(name)?
        .map(|v| {
            DateTime::parse_from_rfc3339(v)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    Fail::bad_request(
                        format!("{name} 须为带时区的 ISO 8601 时间，如 2026-11-01T00:00:00+08:00"),
                        format!(
                            "{name} must be an ISO 8601 date-time with a zone, e.g. 2026-11-01T00:00:00+08:00"
                        ),
                    )
                })
        })
        .transpose()
}

fn number(params: &Params, name: &str, default: u32, max: u32) -> Result<u32, Fail> {
    match params.get(name)? {
        None => Ok(default),
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                Fail::bad_request(
                    format!("{name} 须为 1 到 {max} 的整数"),
                    format!("{name} must be a whole number from 1 to {max}"),
                )
            }),
    }
}

/// The list filter from the query.
fn list_filter(city: &City, params: &Params, now: DateTime<Utc>) -> Result<Open311Filter, Fail> {
    let mut filter = Open311Filter {
        page: number(params, "page", 1, u32::MAX)?,
        page_size: number(params, "page_size", MAX_PAGE_SIZE, MAX_PAGE_SIZE)?,
        ..Open311Filter::default()
    };
    for id in params.list("service_request_id")? {
        let code = TrackingCode::parse(id).map_err(|_| {
            Fail::bad_request(
                format!("service_request_id {id} 不是有效的查询码"),
                format!("service_request_id {id} is not a valid request id"),
            )
        })?;
        filter.tracking_codes.push(code.as_str().to_string());
    }
    for code in params.list("service_code")? {
        filter.matters.push(leaf(city, code)?.id);
    }
    let statuses = params.list("status")?;
    for value in &statuses {
        let states = model::states_for(value).ok_or_else(|| {
            Fail::bad_request(
                format!("未知的 status {value}"),
                format!(
                    "unknown status {value}: use open, closed or one of {}",
                    model::EXTENDED_STATUSES.join(", ")
                ),
            )
        })?;
        for s in states {
            if !filter.states.contains(&s) {
                filter.states.push(s);
            }
        }
    }
    let start = instant(params, "start_date")?;
    let end = instant(params, "end_date")?;
    filter.updated_after = instant(params, "updated_after")?;
    filter.updated_before = instant(params, "updated_before")?;
    let window = Duration::days(MAX_WINDOW_DAYS);
    let (from, to) = match (start, end) {
        (Some(s), Some(e)) => (s, e),
        (Some(s), None) => (s, s + window),
        (None, Some(e)) => (e - window, e),
        (None, None) if filter.updated_after.is_some() || filter.updated_before.is_some() => {
            (DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC)
        }
        (None, None) => (now - window, now),
    };
    if to < from {
        return Err(Fail::bad_request(
            "end_date 不能早于 start_date",
            "end_date must not be before start_date",
        ));
    }
    if start.is_some() && end.is_some() && to - from > window {
        return Err(Fail::bad_request(
            format!("start_date 与 end_date 相隔不能超过 {MAX_WINDOW_DAYS} 天"),
            format!("start_date and end_date may be at most {MAX_WINDOW_DAYS} days apart"),
        ));
    }
    if from > DateTime::<Utc>::MIN_UTC {
        filter.received_from = Some(from);
    }
    if to < DateTime::<Utc>::MAX_UTC {
        filter.received_to = Some(to);
    }
    if !statuses.is_empty() && filter.states.is_empty() {
        // Extended statuses no state maps to: nothing can match.
        filter.tracking_codes = vec![String::new()];
    }
    Ok(filter)
}

async fn requests_answer(
    state: &AppState,
    city: &City,
    filter: &Open311Filter,
    full: bool,
) -> Result<(Vec<ServiceRequest>, i64), Fail> {
    let (requests, total) = state.store.open311_requests(filter).await?;
    let views = requests
        .iter()
        .map(|r| model::service_request(city, r, full))
        .collect();
    Ok((views, total))
}

/// `GET /open311/v2/requests.{format}`: requests, newest first, filtered; the total count is in
/// the `X-Total-Count` header.
#[utoipa::path(
    get,
    path = "/open311/v2/requests.{format}",
    tag = "open311",
    params(
        ("format" = String, Path, description = "`json` or `xml`"),
        ("service_request_id" = Option<String>, Query, description = "Comma list; overrides the other filters"),
        ("service_code" = Option<String>, Query, description = "Comma list"),
        ("start_date" = Option<String>, Query, description = "ISO 8601 with a zone; received at or after"),
        ("end_date" = Option<String>, Query, description = "ISO 8601 with a zone; at most 90 days after start_date (default: the last 90 days)"),
        ("status" = Option<String>, Query, description = "Comma list of open, closed or extended statuses"),
        ("updated_after" = Option<String>, Query, description = "ISO 8601 with a zone"),
        ("updated_before" = Option<String>, Query, description = "ISO 8601 with a zone"),
        ("page" = Option<u32>, Query, description = "From 1"),
        ("page_size" = Option<u32>, Query, description = "1 to 1000 (default 1000)"),
        ("api_key" = Option<String>, Query, description = "With a valid key, descriptions and locations are shown"),
        ("jurisdiction_id" = Option<String>, Query, description = "The city's division code; optional"),
    ),
    responses(
        (status = 200, description = "The requests", body = [ServiceRequest]),
        (status = 400, description = "Bad parameter", body = [Open311Error]),
        (status = 403, description = "Invalid api_key", body = [Open311Error]),
        (status = 404, description = "Unknown service or jurisdiction", body = [Open311Error]),
    )
)]
pub async fn list_requests(
    State(state): State<AppState>,
    Segment(format): Segment,
    lang: Lang,
    RawQuery(raw): RawQuery,
) -> Response {
    with_format(&format, lang, |_| async move {
        let params = query(raw)?;
        let city = state.city.get(&state.store).await?;
        check_jurisdiction(&city, &params)?;
        let full = has_key(&state, &params).await?;
        let filter = list_filter(&city, &params, Utc::now())?;
        let (views, total) = requests_answer(&state, &city, &filter, full).await?;
        let mut answer = Answer::new("service_requests", &views)?;
        answer.total = Some(total);
        Ok(answer)
    })
    .await
}

/// `GET /open311/v2/requests/{service_request_id}.{format}`: one request, in a list of one.
#[utoipa::path(
    get,
    path = "/open311/v2/requests/{file}",
    tag = "open311",
    params(
        ("file" = String, Path, description = "`{service_request_id}.{format}`"),
        ("api_key" = Option<String>, Query, description = "With a valid key, the description and location are shown"),
        ("jurisdiction_id" = Option<String>, Query, description = "The city's division code; optional"),
    ),
    responses(
        (status = 200, description = "The request", body = [ServiceRequest]),
        (status = 403, description = "Invalid api_key", body = [Open311Error]),
        (status = 404, description = "Unknown request", body = [Open311Error]),
    )
)]
pub async fn get_request(
    State(state): State<AppState>,
    Segment(file): Segment,
    lang: Lang,
    RawQuery(raw): RawQuery,
) -> Response {
    with_file(&file, lang, |id| async move {
        let params = query(raw)?;
        let city = state.city.get(&state.store).await?;
        check_jurisdiction(&city, &params)?;
        let full = has_key(&state, &params).await?;
        let unknown = || Fail::not_found(format!("未找到诉求 {id}"), format!("no request {id}"));
        let code = TrackingCode::parse(&id).map_err(|_| unknown())?;
        let filter = Open311Filter {
            tracking_codes: vec![code.as_str().to_string()],
            page: 1,
            page_size: 1,
            ..Open311Filter::default()
        };
        let (views, _) = requests_answer(&state, &city, &filter, full).await?;
        if views.is_empty() {
            return Err(unknown());
        }
        Answer::new("service_requests", &views)
    })
    .await
}

/// `GET /open311/v2/tokens/{token}.{format}`: the request filed under a token. Requests are filed
/// at once (services are `realtime`), so a token is the `Idempotency-Key` the client sent: a
/// client that lost the answer to its POST finds its request here.
#[utoipa::path(
    get,
    path = "/open311/v2/tokens/{file}",
    tag = "open311",
    params(("file" = String, Path, description = "`{token}.{format}`; the token is the Idempotency-Key of the POST")),
    responses(
        (status = 200, description = "The request id", body = [TokenAnswer]),
        (status = 404, description = "Unknown token", body = [Open311Error]),
    )
)]
pub async fn token(State(state): State<AppState>, Segment(file): Segment, lang: Lang) -> Response {
    with_file(&file, lang, |token| async move {
        let code = state
            .store
            .tracking_code_by_idempotency_key(&token)
            .await?
            .ok_or_else(|| Fail::not_found("未知的 token", "unknown token"))?;
        let answer = [TokenAnswer {
            service_request_id: code,
            token,
        }];
        Answer::new("service_requests", &answer)
    })
    .await
}
