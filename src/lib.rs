//! Courier's server. [`Application::build`] assembles everything (so integration tests can
//! start the real server on port 0); `main.rs` only parses flags and runs it.

pub mod accounts;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod delivery;
pub mod error;
pub mod http;
pub mod limits;
pub mod operators;
pub mod scheduler;
pub mod serve;
pub mod store;
pub mod telemetry;
pub mod web;
pub mod ws;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Config;
use crate::delivery::Delivery;
use crate::store::Store;
use crate::telemetry::Metrics;
use crate::ws::hub::Hub;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub delivery: Arc<Delivery>,
    pub metrics: Arc<Metrics>,
    /// This process's WebSocket connections (the engine reaches them through its fan-out).
    pub hub: Arc<Hub>,
    /// Login and registration throttles and the password-hashing queue bound.
    pub auth_limits: Arc<accounts::AuthLimits>,
    /// Search's rate limit, concurrency cap and deadline.
    pub search_limits: Arc<http::search_limits::SearchLimits>,
    /// Flips to true when the server is shutting down; socket tasks close on it.
    pub shutdown: watch::Receiver<bool>,
}

pub struct Application {
    listener: TcpListener,
    metrics_addr: Option<SocketAddr>,
    router: axum::Router,
    pub state: AppState,
    shutdown_tx: watch::Sender<bool>,
}

impl Application {
    /// Checks the client build, opens and migrates the database, binds the address.
    /// Every failure is one line that says what to do.
    pub async fn build(config: Config) -> Result<Application, String> {
        let index = config.dist_dir.join("index.html");
        if !index.is_file() {
            return Err(format!(
                "the web client is not built: {} is missing (run `make run`, or build it with `trunk build` and set COURIER_DIST_DIR)",
                index.display()
            ));
        }
        let metrics = Arc::new(Metrics::new());
        let store = store::connect(&config, metrics.clone()).await?;
        operators::apply_setting(store.as_ref(), &config.operators)
            .await
            .map_err(|e| format!("cannot record the `operators` setting: {e:?}"))?;
        let listener = TcpListener::bind(config.addr).await.map_err(|e| {
            format!(
                "cannot listen on {}: {e} (set COURIER_ADDR to a free address)",
                config.addr
            )
        })?;
        if !config.addr.ip().is_loopback() && !config.secure_cookies {
            tracing::warn!(
                addr = %config.addr,
                "listening beyond loopback with secure_cookies off: behind HTTPS, set COURIER_SECURE_COOKIES=true (see docs/SECURITY.md)"
            );
        }
        let config = Arc::new(config);
        let hub =
            Hub::new(metrics.clone()).with_connection_cap(config.limits.ws_connections_per_user);
        // One node, or one of a cluster: the fan-out the engine pushes through.
        let (hub, fanout): (Arc<Hub>, Arc<dyn delivery::Fanout>) = match &config.nats_url {
            None => {
                let hub = Arc::new(hub);
                (hub.clone(), hub)
            }
            Some(url) => {
                let node = cluster::new_node_id();
                let (presence_tx, presence_rx) = tokio::sync::mpsc::unbounded_channel();
                let hub = Arc::new(hub.in_cluster(node, presence_tx));
                let fanout = cluster::nats::NatsFanout::start(
                    url,
                    hub.clone(),
                    node,
                    presence_rx,
                    metrics.clone(),
                )
                .await?;
                (hub, fanout)
            }
        };
        let auth_limits = Arc::new(accounts::AuthLimits::new(&config.limits, metrics.clone()));
        let delivery = Delivery::new(store.clone(), fanout, metrics.clone(), config.clone());
        let search_limits = Arc::new(http::search_limits::SearchLimits::new(&config.search));
        let (shutdown_tx, shutdown) = watch::channel(false);
        scheduler::start(delivery.clone(), shutdown.clone());
        let state = AppState {
            config,
            store,
            delivery,
            metrics,
            hub,
            auth_limits,
            search_limits,
            shutdown,
        };
        let router = http::router(state.clone(), ws::router());
        let metrics_addr = serve_metrics(&state).await?;
        Ok(Application {
            listener,
            metrics_addr,
            router,
            state,
            shutdown_tx,
        })
    }

    /// Where `/metrics` is served (None when `metrics_addr` is empty).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("bound listener has an address")
    }

    /// Serves until `stop` resolves, then closes sockets and finishes in-flight requests.
    pub async fn run_until(
        self,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let Application {
            listener,
            router,
            state,
            shutdown_tx,
            ..
        } = self;
        let shutdown_signal = async move {
            stop.await;
            tracing::info!("shutting down");
            let _ = shutdown_tx.send(true);
        };
        // Not `axum::serve`: it has no header-read timeout (see `serve`).
        serve::serve(listener, router, &state.config.limits, shutdown_signal).await
    }
}

/// Starts the metrics listener (`metrics_addr`), which stops with the server.
async fn serve_metrics(state: &AppState) -> Result<Option<SocketAddr>, String> {
    let addr = state.config.metrics_addr.trim();
    if addr.is_empty() {
        return Ok(None);
    }
    let listener = TcpListener::bind(addr).await.map_err(|e| {
        format!("cannot listen for metrics on {addr}: {e} (set COURIER_METRICS_ADDR to a free address, or to an empty value to turn it off)")
    })?;
    let local = listener.local_addr().ok();
    let mut shutdown = state.shutdown.clone();
    let router = http::health::metrics_router(state.clone());
    let config = state.config.clone();
    tokio::spawn(async move {
        let stop = async move {
            let _ = shutdown.wait_for(|s| *s).await;
        };
        if let Err(e) = serve::serve(listener, router, &config.limits, stop).await {
            tracing::error!(error = %e, "metrics listener failed");
        }
    });
    Ok(local)
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
