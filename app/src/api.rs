//! Typed HTTP calls, one function per endpoint of the API (docs/API.md).
//!
//! Same-origin relative URLs: the session cookie (`courier_session`, HttpOnly) goes along by
//! the browser's default `same-origin` credentials mode, so nothing here touches it.

use std::fmt;

use gloo_net::http::{Request, RequestBuilder, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::model::{
    AckRequest, AckResponse, Conversation, ConversationId, CreateGroupRequest, Diagnostics,
    ErrorBody, ErrorDetail, HistoryPage, LeftConversation, LoginRequest, MarkOfflineReadRequest,
    MarkOfflineReadResponse, MarkReadRequest, Message, MessageId, MessageReceipts, OfflinePage,
    PushRecordsRequest, PushStats, ReadPosition, RegisterRequest, SearchPage, SendAck,
    SendMessageRequest, Seq, SessionInfo, StartDirectRequest, User, UserId,
};

/// Why a call failed.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// The server answered with an error status and its JSON error body. `retry_after_ms`
    /// comes from a `Retry-After` header (whole seconds; a `429` or `503` carries one).
    Server {
        status: u16,
        error: ErrorDetail,
        retry_after_ms: Option<u64>,
    },
    /// An error status without a readable error body (a proxy, a crash page…).
    Status {
        status: u16,
        text: String,
        retry_after_ms: Option<u64>,
    },
    /// The request did not get an answer (offline, server down, connection reset).
    Network(String),
    /// A 2xx answer that does not parse as the expected type.
    Decode(String),
}

impl ApiError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Server { status, .. } | ApiError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
    /// The session is gone: the UI should return to the login page.
    pub fn is_unauthorized(&self) -> bool {
        self.status() == Some(401)
    }
    /// The server's stable error code, when there is one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ApiError::Server { error, .. } => Some(&error.code),
            _ => None,
        }
    }
    /// How long the server asks us to wait before trying again (`Retry-After`), if it said.
    pub fn retry_after_ms(&self) -> Option<u64> {
        match self {
            ApiError::Server { retry_after_ms, .. } | ApiError::Status { retry_after_ms, .. } => {
                *retry_after_ms
            }
            _ => None,
        }
    }
    /// Refused for sending too fast (`429`): the same request may go again after the wait.
    pub fn is_rate_limited(&self) -> bool {
        self.status() == Some(429)
    }
    /// The request field at fault, for validation errors.
    pub fn field(&self) -> Option<&str> {
        match self {
            ApiError::Server { error, .. } => error.field.as_deref(),
            _ => None,
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Server { error, .. } => write!(f, "{}", error.message),
            ApiError::Status { status, text, .. } if text.is_empty() => write!(f, "HTTP {status}"),
            ApiError::Status { status, text, .. } => write!(f, "HTTP {status}: {text}"),
            ApiError::Network(e) => write!(f, "network error: {e}"),
            ApiError::Decode(e) => write!(f, "unexpected answer: {e}"),
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

async fn check(resp: Response) -> ApiResult<Response> {
    if resp.ok() {
        return Ok(resp);
    }
    let status = resp.status();
    let retry_after_ms = resp
        .headers()
        .get("retry-after")
        .and_then(|v| parse_retry_after_ms(&v));
    let text = resp.text().await.unwrap_or_default();
    Err(match serde_json::from_str::<ErrorBody>(&text) {
        Ok(body) => ApiError::Server {
            status,
            error: body.error,
            retry_after_ms,
        },
        Err(_) => ApiError::Status {
            status,
            text: text.chars().take(200).collect(),
            retry_after_ms,
        },
    })
}

/// `Retry-After` in delay-seconds (the form Courier sends); an HTTP date is not understood.
pub fn parse_retry_after_ms(value: &str) -> Option<u64> {
    value
        .trim()
        .parse::<u64>()
        .ok()
        .map(|s| s.saturating_mul(1000))
}

async fn decode<T: DeserializeOwned>(resp: Response) -> ApiResult<T> {
    let resp = check(resp).await?;
    resp.json::<T>()
        .await
        .map_err(|e| ApiError::Decode(e.to_string()))
}

async fn get<T: DeserializeOwned>(builder: RequestBuilder) -> ApiResult<T> {
    let resp = builder
        .send()
        .await
        .map_err(|e| ApiError::Network(e.to_string()))?;
    decode(resp).await
}

fn json_request<B: Serialize + ?Sized>(url: &str, body: &B) -> ApiResult<Request> {
    Request::post(url)
        .json(body)
        .map_err(|e| ApiError::Network(e.to_string()))
}

async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(url: &str, body: &B) -> ApiResult<T> {
    let resp = json_request(url, body)?
        .send()
        .await
        .map_err(|e| ApiError::Network(e.to_string()))?;
    decode(resp).await
}

pub async fn register(req: &RegisterRequest) -> ApiResult<User> {
    post("/api/auth/register", req).await
}

pub async fn login(req: &LoginRequest) -> ApiResult<User> {
    post("/api/auth/login", req).await
}

pub async fn logout() -> ApiResult<()> {
    // JSON like every mutation: the server refuses body-less form-style POSTs (CSRF).
    let resp = json_request("/api/auth/logout", &serde_json::json!({}))?
        .send()
        .await
        .map_err(|e| ApiError::Network(e.to_string()))?;
    check(resp).await.map(|_| ())
}

/// Who is logged in here, if anyone, and whether they are an operator (`GET /api/auth/session`:
/// 200 either way, so a logged-out visit puts no failed request in the console).
pub async fn session() -> ApiResult<SessionInfo> {
    get(Request::get("/api/auth/session")).await
}

/// Who is logged in here, if anyone (`Ok(None)` when nobody is).
pub async fn me() -> ApiResult<Option<User>> {
    Ok(session().await?.user)
}

pub async fn search_users(q: &str, limit: u32) -> ApiResult<Vec<User>> {
    let limit = limit.to_string();
    get(Request::get("/api/users").query([("q", q), ("limit", limit.as_str())])).await
}

/// Message search over my conversations, newest hit first; `before` is the previous page's
/// `next_before`.
pub async fn search_messages(
    q: &str,
    before: Option<MessageId>,
    limit: u32,
) -> ApiResult<SearchPage> {
    let limit = limit.to_string();
    let before = before.map(|b| b.to_string());
    let mut params = vec![("q", q), ("limit", limit.as_str())];
    if let Some(b) = before.as_deref() {
        params.push(("before", b));
    }
    get(Request::get("/api/search").query(params)).await
}

pub async fn conversations() -> ApiResult<Vec<Conversation>> {
    get(Request::get("/api/conversations")).await
}

pub async fn start_direct(user_id: UserId) -> ApiResult<Conversation> {
    post("/api/conversations/direct", &StartDirectRequest { user_id }).await
}

pub async fn create_group(req: &CreateGroupRequest) -> ApiResult<Conversation> {
    post("/api/conversations/group", req).await
}

pub async fn conversation(id: ConversationId) -> ApiResult<Conversation> {
    get(Request::get(&format!("/api/conversations/{id}"))).await
}

/// Mutes or unmutes a conversation for me (`POST /api/conversations/{id}/mute`).
pub async fn set_muted(id: ConversationId, muted: bool) -> ApiResult<Conversation> {
    post(
        &format!("/api/conversations/{id}/mute"),
        &crate::model::MuteRequest { muted },
    )
    .await
}

/// Leaves a group (direct conversations cannot be left: 422 `direct_conversation`).
pub async fn leave_conversation(id: ConversationId) -> ApiResult<LeftConversation> {
    post(
        &format!("/api/conversations/{id}/leave"),
        &serde_json::json!({}),
    )
    .await
}

/// One page of history: the newest when `before` is `None`, else the page before that seq.
pub async fn history(
    id: ConversationId,
    before: Option<Seq>,
    limit: i64,
) -> ApiResult<HistoryPage> {
    let url = format!("/api/conversations/{id}/messages");
    let limit = limit.to_string();
    let mut params = vec![("limit", limit)];
    if let Some(b) = before {
        params.push(("before", b.to_string()));
    }
    get(Request::get(&url).query(params.iter().map(|(k, v)| (*k, v.as_str())))).await
}

pub async fn send_message(id: ConversationId, req: &SendMessageRequest) -> ApiResult<SendAck> {
    post(&format!("/api/conversations/{id}/messages"), req).await
}

pub async fn mark_read(id: ConversationId, seq: Seq) -> ApiResult<ReadPosition> {
    post(
        &format!("/api/conversations/{id}/read"),
        &MarkReadRequest { seq },
    )
    .await
}

pub async fn recall(message_id: MessageId) -> ApiResult<Message> {
    post(
        &format!("/api/messages/{message_id}/recall"),
        &serde_json::json!({}),
    )
    .await
}

pub async fn receipts(message_id: MessageId) -> ApiResult<MessageReceipts> {
    get(Request::get(&format!(
        "/api/messages/{message_id}/receipts"
    )))
    .await
}

pub async fn offline_messages(limit: u32) -> ApiResult<OfflinePage> {
    let limit = limit.to_string();
    get(Request::get("/api/offline-messages").query([("limit", limit.as_str())])).await
}

pub async fn ack_offline(message_ids: Vec<MessageId>) -> ApiResult<AckResponse> {
    post("/api/offline-messages/ack", &AckRequest { message_ids }).await
}

pub async fn mark_offline_read(
    conversation_id: Option<ConversationId>,
) -> ApiResult<MarkOfflineReadResponse> {
    post(
        "/api/offline-messages/read",
        &MarkOfflineReadRequest { conversation_id },
    )
    .await
}

pub async fn diagnostics() -> ApiResult<Diagnostics> {
    get(Request::get("/api/diagnostics")).await
}

/// The push records of exactly these messages of mine (`/message-test`'s offline test).
pub async fn push_records(message_ids: Vec<MessageId>) -> ApiResult<PushStats> {
    post(
        "/api/diagnostics/push-records",
        &PushRecordsRequest { message_ids },
    )
    .await
}
