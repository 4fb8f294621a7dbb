//! Serves the built client from `dist/`, with an SPA fallback to `index.html` so that deep
//! links such as `/message-test` load the app. Unknown `/api/…` paths get a JSON 404 instead.

use std::convert::Infallible;
use std::path::Path;

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower::ServiceExt;
use tower_http::services::{ServeDir, ServeFile};

use crate::error::AppError;
use crate::AppState;

pub fn router(dist: &Path) -> Router<AppState> {
    let index = dist.join("index.html");
    let files = ServeDir::new(dist).fallback(ServeFile::new(index));
    Router::new().fallback(move |req: Request| {
        let files = files.clone();
        async move {
            let path = req.uri().path();
            if path == "/api" || path.starts_with("/api/") || path == "/ws" {
                return Ok::<Response, Infallible>(AppError::NotFound.into_response());
            }
            Ok(match files.oneshot(req).await {
                Ok(res) => res.into_response(),
                Err(e) => match e {},
            })
        }
    })
}
