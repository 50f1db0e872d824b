use clap::Parser;
use tokio_util::sync::CancellationToken;
use tollgate::cli::{Cli, Command};
use tollgate::config::{ServeOpts, Settings};
use tollgate::startup::{shutdown_signal, Application};

/// jemalloc rather than the system allocator: less memory held after bursts (measured with
/// `.ci/bench`, README "Benchmark"). Only the binary; tests run on the system allocator.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> anyhow::Result<()> {
    one_c_heap();
    tokio::runtime::Runtime::new()?.block_on(run())
}

/// SQLite is the only user of the C library's `malloc` here, and glibc gives every thread that
/// calls it an arena of its own: one per pooled SQLite connection's thread (5 at idle, up to 8),
/// each holding its free pages. One arena for them all took 1 MB off the idle RSS in
/// `.ci/bench` (README "Benchmark") with no change in throughput; its lock is only taken for
/// allocations glibc's per-thread cache does not serve, and the relay never waits on SQLite.
/// Called before any thread exists, as `mallopt` wants.
fn one_c_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only sets a tunable of glibc's allocator; no other thread runs yet.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tollgate::telemetry::init(&cli.common.log_level, cli.common.log_format);
    match cli.command {
        None => serve(cli.common, ServeOpts::from_env()).await,
        Some(Command::Serve(opts)) => serve(cli.common, *opts).await,
        Some(Command::Migrate) => tollgate::cli::migrate(&cli.common).await,
        Some(Command::Admin { command }) => tollgate::cli::admin(&cli.common, command).await,
        Some(Command::Keys { command }) => {
            std::process::exit(tollgate::cli::keys::run(&cli.common, command).await)
        }
        Some(Command::Accounts { command }) => {
            std::process::exit(tollgate::cli::accounts::run(&cli.common, command).await)
        }
        Some(Command::Usage { command }) => {
            std::process::exit(tollgate::cli::usage::run(&cli.common, command).await)
        }
        Some(Command::Import { command }) => {
            std::process::exit(tollgate::cli::import::run(&cli.common, command).await)
        }
    }
}

async fn serve(common: tollgate::config::CommonOpts, serve: ServeOpts) -> anyhow::Result<()> {
    let settings = Settings { common, serve };
    let admin_user = settings.serve.admin_username.clone();
    let app = Application::build(settings).await?;
    if let Some(password) = &app.generated_admin_password {
        // Printed once, on stdout only; never logged or stored in plaintext.
        println!("First start: created administrator '{admin_user}' with password: {password}");
        println!("Change it under Settings after signing in.");
    }
    let addr = app.local_addr();
    println!("Tollgate listening on http://{addr} (dashboard and relay)");
    tracing::info!(%addr, "listening");
    let shutdown = CancellationToken::new();
    let trigger = shutdown.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        trigger.cancel();
    });
    app.run(shutdown).await
}
