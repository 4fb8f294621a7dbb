//! The one error type of the server. `IntoResponse` turns it into an HTTP status with a JSON
//! [`ErrorBody`]; internal causes are logged and never shown to the client.

use app::model::{ErrorBody, ErrorDetail};
use app::validate::Rule;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Malformed or out-of-range input. `status` is 400 (malformed) or 422 (invalid value).
    /// `field` and `rule` say which field breaks which rule (a broken limit of ours); both are
    /// absent when the request could not be read at all.
    #[error("{message}")]
    Invalid {
        status: StatusCode,
        code: &'static str,
        field: Option<String>,
        rule: Option<Rule>,
        message: String,
    },
    #[error("not logged in")]
    Unauthorized,
    /// Same answer for unknown user and wrong password, so usernames are not revealed.
    #[error("wrong username or password")]
    InvalidCredentials,
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// Also used for things that exist but the caller may not see (existence is not leaked).
    #[error("not found")]
    NotFound,
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    #[error("too many requests; retry in {retry_after_ms} ms")]
    RateLimited { retry_after_ms: u64 },
    /// Too many failed logins, or registrations, from one username or client address. The
    /// answer carries `Retry-After` (whole seconds).
    #[error("{message}")]
    TooManyAttempts {
        code: &'static str,
        message: String,
        retry_after_secs: u64,
    },
    /// Answered with `Retry-After: 1`.
    #[error("the server is shutting down or overloaded")]
    Unavailable,
    /// A search ran past its deadline and was stopped (`503 search_timeout`, no `Retry-After`:
    /// the same search would take as long again).
    #[error("the search took longer than {deadline_ms} ms and was stopped; search one conversation or use longer words")]
    SearchTimeout { deadline_ms: u64 },
    /// The store failed; the cause chain is logged, the client sees `internal`.
    #[error("storage failed")]
    Store(#[from] crate::store::StoreError),
    /// Anything else that should not happen; built with context (`anyhow!`, `.context(…)`).
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    /// `422 invalid_input`: `field` breaks `rule` (docs/API.md §2); `message` says it in English.
    pub fn invalid(field: &str, rule: Rule, message: impl Into<String>) -> Self {
        AppError::Invalid {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "invalid_input",
            field: Some(field.to_string()),
            rule: Some(rule),
            message: message.into(),
        }
    }

    /// A 4xx of its own `code` without a field (the request as a whole is refused).
    pub fn refused(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        AppError::Invalid {
            status,
            code,
            field: None,
            rule: None,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        AppError::refused(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// A 400 with its own machine-readable code.
    pub fn bad_request_code(code: &'static str, message: impl Into<String>) -> Self {
        AppError::refused(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Invalid { status, .. } => *status,
            AppError::Unauthorized | AppError::InvalidCredentials => StatusCode::UNAUTHORIZED,
            AppError::Conflict { .. } => StatusCode::CONFLICT,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Forbidden { .. } => StatusCode::FORBIDDEN,
            AppError::RateLimited { .. } | AppError::TooManyAttempts { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            AppError::Unavailable | AppError::SearchTimeout { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            AppError::Store(_) | AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine-readable code clients switch on.
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Invalid { code, .. } => code,
            AppError::Unauthorized => "unauthorized",
            AppError::InvalidCredentials => "invalid_credentials",
            AppError::Conflict { code, .. } => code,
            AppError::NotFound => "not_found",
            AppError::Forbidden { code, .. } => code,
            AppError::RateLimited { .. } => "rate_limited",
            AppError::TooManyAttempts { code, .. } => code,
            AppError::Unavailable => "unavailable",
            AppError::SearchTimeout { .. } => "search_timeout",
            AppError::Store(_) | AppError::Internal(_) => "internal",
        }
    }

    /// What the client is told. Internal details stay in the log.
    pub fn public_message(&self) -> String {
        match self {
            AppError::Store(_) | AppError::Internal(_) => "internal server error".to_string(),
            other => other.to_string(),
        }
    }

    pub fn field(&self) -> Option<String> {
        match self {
            AppError::Invalid { field, .. } => field.clone(),
            _ => None,
        }
    }

    /// The rule `field` breaks, for validation errors.
    pub fn rule(&self) -> Option<Rule> {
        match self {
            AppError::Invalid { rule, .. } => *rule,
            _ => None,
        }
    }

    /// Whole seconds until a refused attempt may be repeated (the `Retry-After` header).
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            AppError::RateLimited { retry_after_ms } => Some(retry_after_ms.div_ceil(1000).max(1)),
            AppError::TooManyAttempts {
                retry_after_secs, ..
            } => Some((*retry_after_secs).max(1)),
            AppError::Unavailable => Some(1),
            _ => None,
        }
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code().to_string(),
                message: self.public_message(),
                field: self.field(),
                rule: self.rule().map(|r| r.as_str().to_string()),
                retry_after_secs: match self {
                    AppError::RateLimited { .. } | AppError::TooManyAttempts { .. } => {
                        self.retry_after_secs()
                    }
                    _ => None,
                },
            },
        }
    }

    /// Logs internal causes (once, where they are turned into an answer).
    pub fn log(&self) {
        match self {
            AppError::Store(e) => {
                tracing::error!(error = %e, cause = ?std::error::Error::source(e), "store error")
            }
            AppError::Internal(e) => tracing::error!(error = format!("{e:#}"), "internal error"),
            _ => {}
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        self.log();
        let mut res = (self.status(), Json(self.body())).into_response();
        if let Some(secs) = self.retry_after_secs() {
            res.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(secs),
            );
        }
        res
    }
}
