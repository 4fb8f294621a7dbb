//! `/api/diagnostics`: the caller's connections and push records, for the `/message-test` page.
//! Server-wide figures (push counters, online users, open connections) are shown to operators
//! only (the role stored with the account, src/operators.rs): for anyone else they would
//! reveal how busy the server is.

use app::model::{Diagnostics, PushRecordsRequest, PushStats, PUSH_RECORDS_MAX_IDS};
use app::validate::Rule;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};

use super::extract::ApiJson;
use crate::clock::now_ms;
use crate::error::{AppError, AppResult};
use crate::web::session::CurrentUser;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/diagnostics", get(diagnostics))
        .route("/api/diagnostics/push-records", post(push_records))
}

/// The push records of exactly the caller's messages among `message_ids`: what the offline test
/// of `/message-test` watches, however many it sent (the recent-records list of
/// `/api/diagnostics` stops at 50). Ids of other senders' messages count for nothing.
async fn push_records(
    State(s): State<AppState>,
    CurrentUser(me): CurrentUser,
    ApiJson(req): ApiJson<PushRecordsRequest>,
) -> AppResult<Json<PushStats>> {
    if req.message_ids.len() > PUSH_RECORDS_MAX_IDS {
        return Err(AppError::invalid(
            "message_ids",
            Rule::Count,
            format!("at most {PUSH_RECORDS_MAX_IDS} ids"),
        ));
    }
    let mut ids = req.message_ids;
    ids.sort_unstable();
    ids.dedup();
    Ok(Json(s.store.push_stats_for_messages(me.id, &ids).await?))
}

async fn diagnostics(
    State(s): State<AppState>,
    CurrentUser(me): CurrentUser,
) -> AppResult<Json<Diagnostics>> {
    let operator = s.store.is_operator(me.id).await?;
    let (server, online_users, open_connections) = if operator {
        let (online, open) = s.delivery.connection_counts();
        (Some(s.store.push_stats().await?), Some(online), Some(open))
    } else {
        (None, None, None)
    };
    Ok(Json(Diagnostics {
        connections: s.delivery.connection_infos(me.id),
        my_records: s.store.push_stats_for_recipient(me.id).await?,
        sent_records: s.store.push_stats_for_sender(me.id).await?,
        recent_sent_records: s.store.recent_records_for_sender(me.id, 50).await?,
        server,
        online_users,
        open_connections,
        node: s.delivery.node(),
        server_time: now_ms(),
        user: me,
    }))
}
