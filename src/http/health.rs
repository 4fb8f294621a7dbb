//! `GET /healthz` (200 when the database answers) and `GET /metrics` (Prometheus text).

use app::model::Health;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
}

async fn healthz(State(s): State<AppState>) -> impl IntoResponse {
    let version = env!("CARGO_PKG_VERSION").to_string();
    match s.store.ping().await {
        Ok(()) => (
            StatusCode::OK,
            Json(Health {
                status: "ok".into(),
                database: "ok".into(),
                version,
            }),
        ),
        Err(e) => {
            e.log();
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Health {
                    status: "unavailable".into(),
                    database: "unreachable".into(),
                    version,
                }),
            )
        }
    }
}

async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    // The backlog is read from the database at scrape time, so it is exact.
    match s.store.push_stats().await {
        Ok(stats) => {
            s.metrics.backlog_pending.set(stats.pending);
            s.metrics.backlog_failed.set(stats.failed);
        }
        Err(e) => e.log(),
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.encode(),
    )
}
