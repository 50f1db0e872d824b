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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
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
