//! The error policy of the HTTP API.
//!
//! Every failure a client sees is an [`ApiError`]: an HTTP status, a stable machine-readable
//! `code`, and a message in Chinese and English. The body is `{"code": "...", "message": "..."}`
//! with the message in the language the client asked for (`Accept-Language: en…` or `?lang=en`
//! gives English; Chinese is the default), chosen by the [`localize`] middleware.
//!
//! What a client never sees: SQL text, stack traces, internal paths, personal data. Storage
//! failures are logged with their code (never with request content) and answered as a 500 with
//! code `storage_error`. Bad input is always a 4xx: domain refusals map to 403 (who is asking),
//! 409 (the request's state) or 422 (the input's content).

use axum::Json;
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use minyi_domain::request::DomainError;
use minyi_store::StoreError;

/// A failure answered to the client.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub zh: String,
    pub en: String,
}

impl ApiError {
    /// An error with both messages.
    pub fn new(
        status: StatusCode,
        code: &'static str,
        zh: impl Into<String>,
        en: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            code,
            zh: zh.into(),
            en: en.into(),
        }
    }

    /// 400 with code `bad_request`.
    pub fn bad_request(zh: impl Into<String>, en: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", zh, en)
    }

    /// 401: no or an invalid session.
    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "请先登录",
            "sign in first",
        )
    }

    /// 403 with a code naming what is not allowed.
    pub fn forbidden(code: &'static str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            code,
            "无权执行此操作或查看此诉求",
            "you may not do this or see this request",
        )
    }

    /// 404 with code `unknown_path`: no route answers this path.
    pub fn unknown_path() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "unknown_path",
            "该地址不存在",
            "no such path",
        )
    }

    /// 404.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("未找到{}", zh_noun(what)),
            format!("{what} not found"),
        )
    }
}

fn zh_noun(what: &str) -> &'static str {
    match what {
        "request" => "诉求",
        "unit" => "单位",
        "matter" => "事项",
        "division" => "区划",
        "rule" => "规则",
        "path" => "该地址",
        "user" => "用户",
        "card" => "督办牌",
        "api_key" => "接口密钥",
        "knowledge" => "知识库条目",
        "action" => "该操作",
        _ => "对象",
    }
}

fn domain_zh(e: &DomainError) -> &'static str {
    match e {
        DomainError::RoleNotAllowed { .. } => "当前角色无权执行此操作",
        DomainError::NotLeadUnit { .. } => "只有主办单位可以执行此操作",
        DomainError::NotCoUnit => "只有协办单位可以提交协办意见",
        DomainError::WrongState { .. } => "诉求当前状态不允许此操作",
        DomainError::Empty(_) => "必填内容不能为空",
        DomainError::TooLong(_) => "内容过长",
        DomainError::NotClassified => "诉求尚未分类",
        DomainError::NotConsultation => "只有咨询类诉求可以即时办结",
        DomainError::ExtensionPending => "已有待审批的延期申请",
        DomainError::NoExtensionPending => "没有待审批的延期申请",
        DomainError::ExtensionLimit => "延期次数或天数超出限制",
        DomainError::LeadAsCoUnit => "主办单位不能同时作为协办单位",
        DomainError::SelfMerge => "诉求不能并入自身",
        DomainError::ParentNotOpen => "主件已办结或归档，不能并案",
        DomainError::TooFewChildren => "拆分至少需要两个子件",
        DomainError::ClockNotRunning(_) => "时限未在计时",
        DomainError::NotYetDue(_) => "尚未到期",
        DomainError::AlreadyRaised => "已提醒或督办过",
        DomainError::TimeWentBack => "操作时间早于诉求的最后一次操作",
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        let status = if e.is_forbidden() {
            StatusCode::FORBIDDEN
        } else {
            match e {
                DomainError::WrongState { .. }
                | DomainError::ExtensionPending
                | DomainError::NoExtensionPending
                | DomainError::ParentNotOpen
                | DomainError::ClockNotRunning(_)
                | DomainError::NotYetDue(_)
                | DomainError::AlreadyRaised
                | DomainError::TimeWentBack => StatusCode::CONFLICT,
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            }
        };
        ApiError::new(status, e.code(), domain_zh(&e), e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Domain(d) => d.into(),
            StoreError::NotFound(what) => ApiError::not_found(what),
            StoreError::Invalid(message) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                format!("输入无效：{message}"),
                message,
            ),
            StoreError::Conflict(message) => ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("状态已变更：{message}"),
                message,
            ),
            StoreError::IdempotencyMismatch => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "该 Idempotency-Key 已用于另一条不同的诉求",
                "this Idempotency-Key was already used for a different request",
            ),
            StoreError::Calendar(c) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_calendar",
                format!("日历无效：{c}"),
                c.to_string(),
            ),
            other => {
                // Logged by code only: the error may quote stored content.
                tracing::error!(code = other.code(), "storage failure");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "storage_error",
                    "服务暂时不可用，请稍后再试",
                    "the service is temporarily unavailable; try again later",
                )
            }
        }
    }
}

/// The English message, carried on the response for [`localize`] to swap in.
#[derive(Debug, Clone)]
struct Messages {
    code: &'static str,
    en: String,
}

fn body(code: &str, message: &str) -> serde_json::Value {
    serde_json::json!({ "code": code, "message": message })
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(body(self.code, &self.zh))).into_response();
        response.extensions_mut().insert(Messages {
            code: self.code,
            en: self.en,
        });
        response
    }
}

/// Whether the client asked for English.
pub fn wants_english(request: &Request) -> bool {
    let by_query = request
        .uri()
        .query()
        .is_some_and(|q| q.split('&').any(|kv| kv == "lang=en"));
    let by_header = request
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("en"));
    by_query || by_header
}

/// Middleware: answers errors in English when the client asked for it.
pub async fn localize(request: Request, next: Next) -> Response {
    let english = wants_english(&request);
    let response = next.run(request).await;
    if !english {
        return response;
    }
    match response.extensions().get::<Messages>().cloned() {
        Some(messages) => {
            let status = response.status();
            (status, Json(body(messages.code, &messages.en))).into_response()
        }
        None => response,
    }
}

/// Turns axum's own rejections (bad JSON, wrong content type, body too large, bad path) into
/// [`ApiError`]s with the same body shape.
pub fn rejection(status: StatusCode, detail: String) -> ApiError {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            status,
            "payload_too_large",
            "请求体过大",
            "the request body is too large",
        ),
        StatusCode::UNPROCESSABLE_ENTITY => ApiError::new(
            status,
            "invalid_body",
            "请求内容的字段或类型不符合要求",
            detail,
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(
            status,
            "unsupported_media_type",
            "请求的内容类型不受支持",
            detail,
        ),
        _ => ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "请求格式错误",
            detail,
        ),
    }
}

/// The body of every error answer, as the OpenAPI document describes it.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable, machine-readable code (e.g. `not_your_unit`, `invalid_phone`).
    pub code: String,
    /// Human-readable message, in Chinese unless English was asked for.
    pub message: String,
}
