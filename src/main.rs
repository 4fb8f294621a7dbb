//! `courier`: parse flags → load config → start logging → build the app → serve until a signal.

use clap::Parser;
use courier::config::{AdminCommand, Command, Config, Flags};
use courier::{shutdown_signal, telemetry, Application};

fn main() {
    limit_malloc_arenas();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => fail(&format!("cannot start the async runtime: {e}")),
    };
    runtime.block_on(run());
}

async fn run() {
    let flags = Flags::parse();
    telemetry::init_tracing();
    let config = match Config::load(&flags, &|k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(e) => fail(&e),
    };
    match &flags.command {
        None | Some(Command::Serve) => serve(config).await,
        Some(Command::Admin(command)) => admin(config, command).await,
    }
}

async fn serve(config: Config) {
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

/// `courier admin …`: one command against the configured database, then exit.
async fn admin(config: Config, command: &AdminCommand) {
    let metrics = std::sync::Arc::new(courier::telemetry::Metrics::new());
    let store = match courier::store::connect(&config, metrics).await {
        Ok(s) => s,
        Err(e) => fail(&e),
    };
    match courier::operators::run_admin(store.as_ref(), command).await {
        Ok(out) => println!("{out}"),
        Err(e) => fail(&e),
    }
}

fn fail(message: &str) -> ! {
    eprintln!("courier: {message}");
    std::process::exit(1);
}

/// Password hashing takes 19 MiB per hash. By default glibc raises its mmap threshold after the
/// first such block is freed, so later ones come from the heap and are never returned: a few
/// dozen logins would leave hundreds of MiB resident. A fixed threshold keeps big blocks in
/// mmap (returned on free), and two arenas are plenty for this server.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only tunes the allocator; it runs before the runtime starts any thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1024 * 1024);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}
