//! `/api/diagnostics`: the caller's connections, push records and server-wide push counters,
//! for the `/message-test` page and for operators.

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
    let (online_users, open_connections) = s.delivery.hub.counts();
    Ok(Json(Diagnostics {
        connections: s.delivery.hub.connection_infos(me.id),
        my_records: s.store.push_stats_for_recipient(me.id).await?,
        sent_records: s.store.push_stats_for_sender(me.id).await?,
        recent_sent_records: s.store.recent_records_for_sender(me.id, 50).await?,
        server: s.store.push_stats().await?,
        online_users,
        open_connections,
        server_time: now_ms(),
        user: me,
    }))
}
