//! The `quflux-server` binary.
//!
//! ```text
//! quflux-server serve     the REST API and websocket on QUFLUX_BIND (default 127.0.0.1:8080)
//! quflux-server worker    a publishing worker
//! quflux-server all       both in one process (the default for a single machine)
//! quflux-server migrate   apply the database migrations and exit
//! ```
//!
//! With nothing configured it runs on an embedded SQLite file (`quflux.db`), local media files
//! (`quflux-media/`) and the offline AI. Settings are listed in the README and in
//! [`quflux_server::config`]; `--config FILE` (or `QUFLUX_CONFIG`) adds a TOML file.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use quflux_core::{Error, Result};
use quflux_server::config::{Config, Settings, redact_url};
use quflux_server::{AppState, serve, spawn_worker};

#[derive(Debug, Parser)]
#[command(name = "quflux-server", version, about = "Quflux reference server")]
struct Cli {
    /// A TOML file of settings (keys are the setting names without `QUFLUX_`, lower case).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the REST API and the websocket.
    Serve,
    /// Run a publishing worker.
    Worker,
    /// Serve the API and run a worker in one process.
    All,
    /// Apply the database migrations and exit.
    Migrate,
}

fn init_logs(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("QUFLUX_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if json {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init();
    } else {
        builder.init();
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

async fn run(cli: Cli) -> Result<()> {
    let settings = Settings::load(cli.config.as_deref())?;
    let config = Config::from_settings(&settings)?;
    init_logs(config.log_json);
    if let Command::Migrate = cli.command {
        quflux_store::open(&config.database_url).await?;
        tracing::info!(database = %redact_url(&config.database_url), "migrations applied");
        return Ok(());
    }
    let state = AppState::build(config.clone(), settings).await?;
    for s in &state.platforms.summary.platforms {
        tracing::info!(platform = s.platform.as_str(), state = %s.state, "{}", s.detail);
    }
    let worker = match cli.command {
        Command::Worker | Command::All => Some(spawn_worker(&state)),
        _ => None,
    };
    match cli.command {
        Command::Serve | Command::All => {
            let listener = tokio::net::TcpListener::bind(config.bind)
                .await
                .map_err(|e| {
                    Error::Config(format!(
                        "QUFLUX_BIND: cannot listen on {}: {e}",
                        config.bind
                    ))
                })?;
            tracing::info!(
                address = %config.bind,
                database = %redact_url(&config.database_url),
                "listening; API docs at http://{}/openapi.json",
                config.bind
            );
            serve(state, listener, shutdown_signal()).await?;
        }
        _ => {
            tracing::info!("worker running; Ctrl-C to stop");
            shutdown_signal().await;
        }
    }
    tracing::info!("shutting down");
    if let Some(w) = worker {
        w.shutdown().await?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", e.detailed_message());
            ExitCode::FAILURE
        }
    }
}
