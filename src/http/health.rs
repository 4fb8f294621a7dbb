//! `GET /healthz` (200 when the database and the writer answer) and `GET /metrics`
//! (Prometheus text). Metrics are served on their own listener (`metrics_addr`, loopback by
//! default); on the main listener only to `Authorization: Bearer <metrics_token>` when a token
//! is configured, and not at all otherwise — they reveal how busy the server is.

use std::time::Duration;

use app::model::Health;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_with_token))
}

/// The router of the separate metrics listener.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn metrics_with_token(
    State(s): State<AppState>,
    headers: HeaderMap,
) -> axum::response::Response {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match (&s.config.metrics_token, given) {
        (Some(token), Some(given)) if constant_time_eq(token.as_bytes(), given.as_bytes()) => {
            metrics(State(s)).await.into_response()
        }
        _ => crate::error::AppError::NotFound.into_response(),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn healthz(State(s): State<AppState>) -> impl IntoResponse {
    let version = env!("CARGO_PKG_VERSION").to_string();
    // A database server that stopped answering must not hold the health check for the pool's
    // whole acquire timeout: a load balancer asks again soon.
    let database = match tokio::time::timeout(Duration::from_secs(3), s.store.ping()).await {
        Ok(Ok(())) => "ok",
        Ok(Err(e)) => {
            crate::error::AppError::from(e).log();
            "unreachable"
        }
        Err(_) => {
            tracing::error!("health check: the database did not answer within 3 s");
            "unreachable"
        }
    };
    // The database answering is not enough: every send goes through the one writer task.
    let writer = if s.delivery.writer_alive().await {
        "ok"
    } else {
        tracing::error!("health check: the writer does not answer");
        "stalled"
    };
    let ok = database == "ok" && writer == "ok";
    (
        if ok {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        Json(Health {
            status: if ok { "ok" } else { "unavailable" }.into(),
            database: database.into(),
            backend: s.store.backend().into(),
            writer: writer.into(),
            version,
        }),
    )
}

async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    // The backlog is read from the database at scrape time, so it is exact.
    match s.store.push_stats().await {
        Ok(stats) => {
            s.metrics.backlog_pending.set(stats.pending);
            s.metrics.backlog_failed.set(stats.failed);
        }
        Err(e) => crate::error::AppError::from(e).log(),
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.encode(),
    )
}
