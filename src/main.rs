//! `courier`: parse flags → load config → start logging → build the app → serve until a signal.

use clap::Parser;
use courier::config::{Config, Flags};
use courier::{shutdown_signal, telemetry, Application};

#[tokio::main]
async fn main() {
    let flags = Flags::parse();
    telemetry::init_tracing();
    let config = match Config::load(&flags, &|k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(e) => fail(&e),
    };
    let app = match Application::build(config).await {
        Ok(a) => a,
        Err(e) => fail(&e),
    };
    let addr = app.local_addr();
    tracing::info!(%addr, "Courier is listening on http://{addr}");
    if let Err(e) = app.run_until(shutdown_signal()).await {
        fail(&format!("server error: {e}"));
    }
    tracing::info!("stopped");
}

fn fail(message: &str) -> ! {
    eprintln!("courier: {message}");
    std::process::exit(1);
}
