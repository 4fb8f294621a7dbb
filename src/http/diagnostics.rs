//! `/api/diagnostics`: the caller's connections and push records, for the `/message-test` page.
//! Server-wide figures (push counters, online users, open connections) are shown to operators
//! only (the `operators` setting): for anyone else they would reveal how busy the server is.

use app::model::Diagnostics;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use super::session::CurrentUser;
use crate::delivery::now_ms;
use crate::error::AppResult;
use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/api/diagnostics", get(diagnostics))
}

async fn diagnostics(
    State(s): State<AppState>,
    CurrentUser(me): CurrentUser,
) -> AppResult<Json<Diagnostics>> {
    let operator = s.config.is_operator(&me.username);
    let (server, online_users, open_connections) = if operator {
        let (online, open) = s.delivery.fanout.counts();
        (Some(s.store.push_stats().await?), Some(online), Some(open))
    } else {
        (None, None, None)
    };
    Ok(Json(Diagnostics {
        connections: s.delivery.fanout.connection_infos(me.id),
        my_records: s.store.push_stats_for_recipient(me.id).await?,
        sent_records: s.store.push_stats_for_sender(me.id).await?,
        recent_sent_records: s.store.recent_records_for_sender(me.id, 50).await?,
        server,
        online_users,
        open_connections,
        node: s.delivery.fanout.node(),
        server_time: now_ms(),
        user: me,
    }))
}
