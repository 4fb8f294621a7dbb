//! Serving the built client: precompressed variants by `Accept-Encoding`, long-lived caching of
//! Trunk's hashed files, `no-cache` for `index.html` and the SPA fallback, 404 (not HTML) for a
//! missing asset, and the security headers on all of it.

use reqwest::StatusCode;

use crate::helpers::{spawn_app_with, TestApp};

const WASM: &str = "/courier-app-0123456789abcdef_bg.wasm";
const WASM_RAW: &[u8] = b"\0asm raw bytes of the module";
const WASM_BR: &[u8] = b"brotli bytes";
const WASM_GZ: &[u8] = b"gzip bytes";
const INDEX: &str = "<!doctype html><title>Courier fake dist</title>\
    <script type=\"module\">import init from '/courier-app-0123456789abcdef.js';</script>";
const INDEX_BR: &[u8] = b"brotli index";
const INDEX_GZ: &[u8] = b"gzip index";

/// A server on a fake `dist/`: one hashed wasm with `.br`/`.gz` variants, a hashed script
/// without any, and an `index.html` with both.
async fn app() -> TestApp {
    spawn_app_with(|c| {
        let d = &c.dist_dir;
        let write = |name: &str, bytes: &[u8]| std::fs::write(d.join(name), bytes).unwrap();
        write(&WASM[1..], WASM_RAW);
        write(&format!("{}.br", &WASM[1..]), WASM_BR);
        write(&format!("{}.gz", &WASM[1..]), WASM_GZ);
        write("courier-app-0123456789abcdef.js", b"export default 1;");
        write("index.html", INDEX.as_bytes());
        write("index.html.br", INDEX_BR);
        write("index.html.gz", INDEX_GZ);
    })
    .await
}

async fn get(app: &TestApp, path: &str, accept_encoding: Option<&str>) -> reqwest::Response {
    // reqwest is built without its decompression features: bodies arrive as sent.
    let mut req = reqwest::Client::new().get(app.url(path));
    if let Some(ae) = accept_encoding {
        req = req.header("accept-encoding", ae);
    }
    req.send().await.unwrap()
}

fn header<'a>(res: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    res.headers().get(name).map(|v| v.to_str().unwrap())
}

#[tokio::test]
async fn hashed_asset_is_served_precompressed_by_accept_encoding() {
    let app = app().await;
    for (ae, encoding, body) in [
        (Some("gzip, deflate, br, zstd"), Some("br"), WASM_BR),
        (Some("br"), Some("br"), WASM_BR),
        (Some("gzip"), Some("gzip"), WASM_GZ),
        (Some("identity"), None, WASM_RAW),
        (None, None, WASM_RAW),
    ] {
        let res = get(&app, WASM, ae).await;
        assert_eq!(res.status(), StatusCode::OK, "{ae:?}");
        assert_eq!(header(&res, "content-encoding"), encoding, "{ae:?}");
        assert_eq!(
            header(&res, "content-type"),
            Some("application/wasm"),
            "{ae:?}"
        );
        assert_eq!(
            header(&res, "cache-control"),
            Some("public, max-age=31536000, immutable"),
            "{ae:?}"
        );
        assert_eq!(header(&res, "vary"), Some("Accept-Encoding"), "{ae:?}");
        assert_eq!(res.bytes().await.unwrap().as_ref(), body, "{ae:?}");
    }
    // A hashed file with no variants: the file itself, still immutable.
    let res = get(&app, "/courier-app-0123456789abcdef.js", Some("br, gzip")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(header(&res, "content-encoding"), None);
    assert_eq!(
        header(&res, "cache-control"),
        Some("public, max-age=31536000, immutable")
    );
}

#[tokio::test]
async fn index_and_spa_fallback_are_no_cache_and_precompressed() {
    let app = app().await;
    for path in ["/", "/index.html", "/c/5", "/message-test"] {
        let res = get(&app, path, None).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_eq!(header(&res, "cache-control"), Some("no-cache"), "{path}");
        assert_eq!(header(&res, "vary"), Some("Accept-Encoding"), "{path}");
        assert!(header(&res, "last-modified").is_some(), "{path}");
        assert!(
            header(&res, "content-type")
                .unwrap()
                .starts_with("text/html"),
            "{path}"
        );
        assert_eq!(header(&res, "content-encoding"), None, "{path}");
        assert_eq!(res.text().await.unwrap(), INDEX, "{path}");

        let res = get(&app, path, Some("br")).await;
        assert_eq!(header(&res, "content-encoding"), Some("br"), "{path}");
        assert_eq!(header(&res, "cache-control"), Some("no-cache"), "{path}");
        assert_eq!(res.bytes().await.unwrap().as_ref(), INDEX_BR, "{path}");

        let res = get(&app, path, Some("gzip")).await;
        assert_eq!(header(&res, "content-encoding"), Some("gzip"), "{path}");
        assert_eq!(res.bytes().await.unwrap().as_ref(), INDEX_GZ, "{path}");
    }
}

#[tokio::test]
async fn index_revalidates_with_not_modified() {
    let app = app().await;
    let res = get(&app, "/", Some("br")).await;
    let last_modified = header(&res, "last-modified").unwrap().to_string();
    let res = reqwest::Client::new()
        .get(app.url("/"))
        .header("accept-encoding", "br")
        .header("if-modified-since", last_modified)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header(&res, "cache-control"), Some("no-cache"));
}

#[tokio::test]
async fn missing_asset_is_404_not_index_html() {
    let app = app().await;
    for path in [
        "/courier-app-0000000000000000_bg.wasm",
        "/courier-app-0000000000000000.js",
        "/main-0000000000000000.css",
        "/courier-app-0123456789abcdef.js.map",
        "/favicon.ico",
        "/c/5/logo.png",
        "/x.svg",
    ] {
        let res = get(&app, path, Some("br, gzip")).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(header(&res, "cache-control"), None, "{path}");
        assert!(
            header(&res, "content-type")
                .unwrap()
                .starts_with("application/json"),
            "{path}"
        );
        assert!(header(&res, "content-security-policy").is_some(), "{path}");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found", "{path}: {body}");
    }
}

#[tokio::test]
async fn security_headers_on_client_responses() {
    let app = app().await;
    for path in ["/", "/c/5", "/index.html", WASM] {
        let res = get(&app, path, Some("br")).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_eq!(header(&res, "x-content-type-options"), Some("nosniff"));
        assert_eq!(header(&res, "x-frame-options"), Some("DENY"));
        assert_eq!(
            header(&res, "referrer-policy"),
            Some("strict-origin-when-cross-origin")
        );
        // The policy still hashes the inline module script of the (uncompressed) index.html.
        let csp = header(&res, "content-security-policy").unwrap();
        assert!(csp.contains("'wasm-unsafe-eval' 'sha256-"), "{path}: {csp}");
    }
}
