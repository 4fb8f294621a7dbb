//! Serves the built client from `dist/`, with an SPA fallback to `index.html` so that deep
//! links such as `/message-test` load the app. Unknown `/api/…` paths get a JSON 404 instead.
//!
//! - **Precompressed.** The build writes `X.br` and `X.gz` next to each file
//!   (`tools/compress-dist.mjs`, a Trunk post-build hook); a browser that accepts `br` or `gzip`
//!   gets those bytes with `Content-Encoding`, anyone else the file itself. Compressible
//!   responses say `Vary: Accept-Encoding`.
//! - **Cached.** Trunk's hashed names (`name-<hex hash>.ext`, `…_bg.wasm`) never change content:
//!   `Cache-Control: public, max-age=31536000, immutable`. Everything else — `index.html`, which
//!   names the current hashes, and the SPA fallback — is `no-cache`: revalidated each time
//!   (`If-Modified-Since` → 304).
//! - **No HTML for a missing asset.** A missing `.wasm`/`.js`/`.css`/`.svg`/`.map`/`.ico`/`.png`
//!   is a 404, never `index.html`, so a stale page cannot get HTML as its script.

use std::convert::Infallible;
use std::path::Path;

use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower::ServiceExt;
use tower_http::services::{ServeDir, ServeFile};

use crate::error::AppError;
use crate::AppState;

/// Extensions that name a file, never a page of the app: missing ones are a 404.
const ASSET_EXTENSIONS: &[&str] = &["wasm", "js", "css", "svg", "map", "ico", "png"];
/// Extensions the build precompresses (`tools/compress-dist.mjs`).
const COMPRESSIBLE_EXTENSIONS: &[&str] = &["wasm", "js", "css", "svg", "html"];
/// Extensions Trunk gives content-hashed names.
const HASHED_EXTENSIONS: &[&str] = &["wasm", "js", "css", "svg", "ico", "png"];

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const NO_CACHE: &str = "no-cache";

pub fn router(dist: &Path) -> Router<AppState> {
    let assets = ServeDir::new(dist).precompressed_br().precompressed_gzip();
    let pages = assets.clone().fallback(
        ServeFile::new(dist.join("index.html"))
            .precompressed_br()
            .precompressed_gzip(),
    );
    Router::new().fallback(move |req: Request| {
        let assets = assets.clone();
        let pages = pages.clone();
        async move {
            let path = req.uri().path();
            if path == "/api" || path.starts_with("/api/") || path == "/ws" {
                return Ok::<Response, Infallible>(AppError::NotFound.into_response());
            }
            let kind = Kind::of(path);
            let mut res = match kind {
                Kind::Page => match pages.oneshot(req).await {
                    Ok(res) => res.into_response(),
                    Err(e) => match e {},
                },
                Kind::Asset { .. } => match assets.oneshot(req).await {
                    Ok(res) => res.into_response(),
                    Err(e) => match e {},
                },
            };
            if res.status() == StatusCode::NOT_FOUND {
                return Ok(AppError::NotFound.into_response());
            }
            if res.status().is_success() || res.status() == StatusCode::NOT_MODIFIED {
                let headers = res.headers_mut();
                let hashed = matches!(kind, Kind::Asset { hashed: true, .. });
                headers.insert(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static(if hashed { IMMUTABLE } else { NO_CACHE }),
                );
                if matches!(
                    kind,
                    Kind::Page
                        | Kind::Asset {
                            compressible: true,
                            ..
                        }
                ) {
                    headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
                }
            }
            Ok(res)
        }
    })
}

/// What a request path asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A file by an asset's name (404 when missing).
    Asset { hashed: bool, compressible: bool },
    /// Anything else: a file of `dist/` such as `/index.html`, or a route of the app, which
    /// gets `index.html`.
    Page,
}

impl Kind {
    fn of(path: &str) -> Kind {
        let name = path.rsplit('/').next().unwrap_or_default();
        let Some((stem, ext)) = name.rsplit_once('.') else {
            return Kind::Page;
        };
        let ext = ext.to_ascii_lowercase();
        if !ASSET_EXTENSIONS.contains(&ext.as_str()) {
            return Kind::Page;
        }
        Kind::Asset {
            hashed: HASHED_EXTENSIONS.contains(&ext.as_str()) && is_hashed(stem),
            compressible: COMPRESSIBLE_EXTENSIONS.contains(&ext.as_str()),
        }
    }
}

/// Trunk's content-hashed stems: `name-<hash>`, and the wasm's `name-<hash>_bg`, where the hash
/// is a 64-bit value in lowercase hex *without leading zeros* — usually 16 digits, one in 16
/// times 15, and so on (a build whose wasm hash had 15 was served uncached).
fn is_hashed(stem: &str) -> bool {
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    let Some((name, hash)) = stem.rsplit_once('-') else {
        return false;
    };
    !name.is_empty()
        && (12..=16).contains(&hash.len())
        && hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_paths() {
        let hashed = Kind::Asset {
            hashed: true,
            compressible: true,
        };
        assert_eq!(Kind::of("/courier-app-556643d96ed7d183_bg.wasm"), hashed);
        assert_eq!(Kind::of("/courier-app-556643d96ed7d183.js"), hashed);
        assert_eq!(Kind::of("/main-1aaf4c14fe1aab53.css"), hashed);
        assert_eq!(Kind::of("/favicon-f4b1772472607cfa.svg"), hashed);
        // The hash has no leading zeros: 15 digits here.
        assert_eq!(Kind::of("/courier-app-e3be6ac167d1e45_bg.wasm"), hashed);
        assert_eq!(
            Kind::of("/app.js"),
            Kind::Asset {
                hashed: false,
                compressible: true
            }
        );
        assert_eq!(
            Kind::of("/app-556643d96ed7d183.js.map"),
            Kind::Asset {
                hashed: false,
                compressible: false
            }
        );
        assert_eq!(
            Kind::of("/app-556643D96ED7D183.js"),
            Kind::Asset {
                hashed: false,
                compressible: true
            }
        );
        for page in ["/", "/c/5", "/index.html", "/message-test", "/u/a.b"] {
            assert_eq!(Kind::of(page), Kind::Page, "{page}");
        }
    }
}
