//! Extractors that turn axum's rejections into [`ApiError`]s, so that malformed JSON, a wrong
//! content type, an oversized body or a bad path parameter all answer with the API's error shape.
//!
//! They also refuse, before any handler runs, input that no handler should have to think about:
//! - a JSON body that is not UTF-8 (400 `invalid_encoding`) or declares another charset (415
//!   `unsupported_charset`); JSON is UTF-8 (RFC 8259);
//! - control characters other than tab, line feed and carriage return in any string or key of a
//!   JSON body (422 `control_characters`, naming the field) and anywhere in the decoded path or
//!   query string (400 `control_characters`). No field has a use for them, and PostgreSQL
//!   cannot store U+0000 at all.
//!
//! Deeply nested JSON is refused by serde_json's recursion limit (400 `bad_request`) or, more
//! often, by the target type (422 `invalid_body`), never by the stack; numbers beyond the
//! target's range are 422 `invalid_body` (or 400 when beyond any float).

use crate::error::{ApiError, rejection};
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// A JSON body.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        json_content_type(request.headers())?;
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|e| rejection(e.status(), e.body_text()))?;
        if std::str::from_utf8(&bytes).is_err() {
            return Err(invalid_encoding());
        }
        let axum::Json(value) = axum::Json::<T>::from_bytes(&bytes)
            .map_err(|e| rejection(e.status(), e.body_text()))?;
        // The body parsed as `T`, so it parses as a `Value` too (same recursion limit).
        if let Ok(tree) = serde_json::from_slice::<Value>(&bytes) {
            let mut path = String::new();
            if control_character_in(&tree, &mut path) {
                let field = if path.is_empty() { "(body)" } else { &path };
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "control_characters",
                    format!("字段 {field} 含有控制字符"),
                    format!("{field} contains control characters"),
                ));
            }
        }
        Ok(ApiJson(value))
    }
}

fn unsupported(code: &'static str, zh: &str, en: &str) -> ApiError {
    ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, code, zh, en)
}

fn invalid_encoding() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_encoding",
        "请求内容须为 UTF-8 编码",
        "the request must be encoded in UTF-8",
    )
}

fn control_characters_in_url() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "control_characters",
        "地址或查询参数含有控制字符",
        "the path or query contains control characters",
    )
}

/// `application/json` or `application/…+json`, in UTF-8 if a charset is named.
fn json_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let wrong_type = || {
        unsupported(
            "unsupported_media_type",
            "请求的内容类型须为 application/json",
            "expected Content-Type: application/json",
        )
    };
    let mime: mime::Mime = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(wrong_type)?;
    let json = mime.type_() == mime::APPLICATION
        && (mime.subtype() == mime::JSON || mime.suffix() == Some(mime::JSON));
    if !json {
        return Err(wrong_type());
    }
    match mime.get_param(mime::CHARSET) {
        Some(charset)
            if !charset.as_str().eq_ignore_ascii_case("utf-8")
                && !charset.as_str().eq_ignore_ascii_case("utf8") =>
        {
            Err(unsupported(
                "unsupported_charset",
                "请求内容须为 UTF-8 编码",
                "only the UTF-8 charset is accepted",
            ))
        }
        _ => Ok(()),
    }
}

fn is_refused_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

/// Whether a string or key in `value` holds a refused control character; `path` is left naming
/// the first such field (`requester.name`, `items[2]`).
fn control_character_in(value: &Value, path: &mut String) -> bool {
    match value {
        Value::String(s) => s.chars().any(is_refused_control),
        Value::Array(items) => items.iter().enumerate().any(|(i, item)| {
            let len = path.len();
            path.push_str(&format!("[{i}]"));
            let found = control_character_in(item, path);
            if !found {
                path.truncate(len);
            }
            found
        }),
        Value::Object(fields) => fields.iter().any(|(key, item)| {
            let len = path.len();
            if !path.is_empty() {
                path.push('.');
            }
            // A key with control characters is named by its escaped form.
            path.push_str(&key.escape_debug().to_string());
            let found = key.chars().any(is_refused_control) || control_character_in(item, path);
            if !found {
                path.truncate(len);
            }
            found
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

/// Refuses a path or query string whose percent-decoded form is not UTF-8 or holds control
/// characters.
fn check_url_part(part: &str, plus_is_space: bool) -> Result<(), ApiError> {
    let owned;
    let part = if plus_is_space && part.contains('+') {
        owned = part.replace('+', " ");
        owned.as_str()
    } else {
        part
    };
    let decoded = percent_encoding::percent_decode_str(part)
        .decode_utf8()
        .map_err(|_| invalid_encoding())?;
    if decoded.chars().any(is_refused_control) {
        return Err(control_characters_in_url());
    }
    Ok(())
}

/// A path parameter.
#[derive(Debug, Clone)]
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        check_url_part(parts.uri.path(), false)?;
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(ApiPath(value)),
            Err(e) => Err(rejection(e.status(), e.body_text())),
        }
    }
}

/// Query parameters.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(query) = parts.uri.query() {
            check_url_part(query, true)?;
        }
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(e) => Err(rejection(e.status(), e.body_text())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content_type(value: &str) -> Result<(), &'static str> {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, value.parse().map_err(|_| "header")?);
        json_content_type(&headers).map_err(|e| e.code)
    }

    #[test]
    fn json_content_types_are_told_apart_by_type_and_charset() {
        assert_eq!(content_type("application/json"), Ok(()));
        assert_eq!(content_type("application/json; charset=UTF-8"), Ok(()));
        assert_eq!(content_type("application/problem+json"), Ok(()));
        assert_eq!(content_type("text/plain"), Err("unsupported_media_type"));
        assert_eq!(
            content_type("application/x-www-form-urlencoded"),
            Err("unsupported_media_type")
        );
        assert_eq!(
            content_type("application/json; charset=gbk"),
            Err("unsupported_charset")
        );
        assert_eq!(
            json_content_type(&HeaderMap::new()).map_err(|e| e.code),
            Err("unsupported_media_type")
        );
    }

    #[test]
    fn control_characters_are_found_with_the_field_that_holds_them() {
        let check = |json: &str| {
            let mut path = String::new();
            let value: Value = serde_json::from_str(json).map_err(|_| "json")?;
            Ok::<_, &str>(control_character_in(&value, &mut path).then_some(path))
        };
        assert_eq!(check(r#"{"text":"line one\nline two\ttab\r"}"#), Ok(None));
        assert_eq!(check(r#"{"text":"a\u0000b"}"#), Ok(Some("text".into())));
        assert_eq!(
            check(r#"{"a":{"b":["ok","\u0007"]}}"#),
            Ok(Some("a.b[1]".into()))
        );
        assert_eq!(check(r#"{"a\u001b":1}"#), Ok(Some("a\\u{1b}".into())));
        assert_eq!(check(r#"{"name":"\u0085"}"#), Ok(Some("name".into())));
        assert_eq!(check(r#"{"name":"张三 O'Brien"}"#), Ok(None));
    }

    #[test]
    fn encoded_control_characters_and_bad_utf8_in_urls_are_refused() {
        assert!(check_url_part("/api/v1/requests/12", false).is_ok());
        assert!(check_url_part("q=%E5%BC%A0+%E4%B8%89&page=2", true).is_ok());
        let code = |part: &str| check_url_part(part, true).map_err(|e| e.code);
        assert_eq!(code("q=a%00b"), Err("control_characters"));
        assert_eq!(code("q=%1b%5b31m"), Err("control_characters"));
        assert_eq!(code("q=%C2%85"), Err("control_characters"));
        assert_eq!(code("q=%ff%fe"), Err("invalid_encoding"));
    }
}
