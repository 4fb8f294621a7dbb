//! The accept loop. `axum::serve` has no header-read timeout, so a client that sent half a
//! request, or nothing, kept its connection (and a file descriptor) forever (security review
//! #7). Here every connection is served by hyper's HTTP/1 server with a timer:
//!
//! - the request head must arrive within `limits.http_header_timeout_secs` of the connection
//!   opening or of the previous response (hyper restarts the timer whenever a keep-alive
//!   connection goes idle, so this is also the idle timeout), otherwise the socket is closed;
//! - a request gets `limits.http_request_timeout_secs` in all, body included (`408` after that).
//!   An upgraded WebSocket is no longer an HTTP request and is not affected.
//!
//! - a client address may hold at most `limits.connections_per_addr` connections (loopback
//!   exempt); past that new connections are closed as soon as they are accepted.
//!
//! Each request carries `ConnectInfo<SocketAddr>`, and shutdown is graceful: stop accepting,
//! let in-flight requests finish, close idle connections.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::{header, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt;
use tower_http::timeout::TimeoutLayer;

use crate::config::LimitsConfig;
use crate::error::AppError;

/// Serves `router` on `listener` until `signal` resolves, then shuts down gracefully.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: &LimitsConfig,
    signal: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let request_timeout = Duration::from_secs(limits.http_request_timeout_secs.max(1));
    let app = router
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            request_timeout,
        ))
        .layer(axum::middleware::map_response(json_timeout));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(limits.http_header_timeout_secs.max(1)));

    let per_addr = AddrCounter::new(limits.connections_per_addr);
    // Each connection task holds a receiver: `stop_tx.closed()` resolves when all are done.
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut signal = std::pin::pin!(signal);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    if !is_connection_error(&e) {
                        // Out of file descriptors, most likely: back off instead of spinning.
                        tracing::error!(error = %e, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    continue;
                }
            },
            _ = &mut signal => break,
        };
        let Some(slot) = per_addr.admit(remote.ip()) else {
            tracing::debug!(client = %remote, "connection refused: too many from this address");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = app.clone().map_request(move |mut req: Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(remote));
            req
        });
        let conn = http
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
            .with_upgrades();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let mut conn = std::pin::pin!(conn);
            let result = tokio::select! {
                r = conn.as_mut() => r,
                _ = async { stop.wait_for(|s| *s).await.map(|_| ()) } => {
                    conn.as_mut().graceful_shutdown();
                    conn.as_mut().await
                }
            };
            if let Err(e) = result {
                // Timeouts, resets and malformed requests: the client's problem, not ours.
                tracing::debug!(client = %remote, error = %e, "connection ended with an error");
            }
            drop(stop);
            drop(slot);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(stop_rx);
    stop_tx.closed().await;
    Ok(())
}

/// Open connections per client address, for the per-address cap.
#[derive(Clone)]
struct AddrCounter {
    cap: usize,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// Held by a connection's task; gives the address's place back when dropped.
struct AddrSlot {
    counter: AddrCounter,
    addr: IpAddr,
}

impl AddrCounter {
    fn new(cap: usize) -> AddrCounter {
        AddrCounter {
            cap,
            open: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// A place for a new connection from `addr`, or None when the address is at its cap.
    fn admit(&self, addr: IpAddr) -> Option<Option<AddrSlot>> {
        if self.cap == 0 || addr.is_loopback() {
            return Some(None);
        }
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(addr).or_insert(0);
        if *n >= self.cap {
            return None;
        }
        *n += 1;
        Some(Some(AddrSlot {
            counter: self.clone(),
            addr,
        }))
    }
}

impl Drop for AddrSlot {
    fn drop(&mut self) {
        let mut open = self.counter.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.addr) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.addr);
            }
        }
    }
}

/// Errors about one connection (the client went away before we accepted it), not the listener.
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}

/// The timeout layer answers an empty 408; API clients get the usual JSON error body.
async fn json_timeout(res: Response) -> Response {
    if res.status() == StatusCode::REQUEST_TIMEOUT
        && !res.headers().contains_key(header::CONTENT_TYPE)
    {
        let mut out = AppError::refused(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "the request took too long",
        )
        .into_response();
        out.headers_mut().insert(
            header::CONNECTION,
            header::HeaderValue::from_static("close"),
        );
        return out;
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_capped_and_loopback_is_exempt() {
        let c = AddrCounter::new(2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let first = c.admit(a).unwrap();
        let second = c.admit(a).unwrap();
        assert!(c.admit(a).is_none(), "third from the same address");
        assert!(
            c.admit("192.0.2.2".parse().unwrap()).is_some(),
            "another address"
        );
        drop(first);
        assert!(c.admit(a).is_some(), "a place came back");
        drop(second);
        for _ in 0..10 {
            assert!(c.admit("127.0.0.1".parse().unwrap()).is_some());
        }
        assert!(AddrCounter::new(0).admit(a).is_some(), "0 means no cap");
    }
}
