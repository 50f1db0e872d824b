//! `mock-upstream`: the in-repo mock of the Anthropic, OpenAI and Gemini APIs as a process, for
//! the Node end-to-end tests and the benchmark. Prints `mock upstream listening on URL` once
//! it accepts connections, serves until SIGTERM or Ctrl-C, and is steered at run time through
//! its `/_mock/...` control API.

use std::io::Write;
use std::net::SocketAddr;

use clap::Parser;
use mock_upstream::{Behavior, MockUpstream};

#[derive(Parser, Debug)]
#[command(
    name = "mock-upstream",
    about = "Mock Anthropic/OpenAI/Gemini upstream for tests"
)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Default delay before response headers, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Default number of text deltas per stream.
    #[arg(long, default_value_t = 3)]
    chunks: usize,
    /// Default delay between two text deltas, in milliseconds.
    #[arg(long, default_value_t = 0)]
    chunk_gap_ms: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let defaults = Behavior {
        latency_ms: args.latency_ms,
        chunks: args.chunks,
        chunk_gap_ms: args.chunk_gap_ms,
        ..Behavior::default()
    };
    let mock = MockUpstream::bind(args.listen, defaults).await?;
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "mock upstream listening on {}", mock.url())?;
        stdout.flush()?;
    }
    wait_for_shutdown_signal().await?;
    mock.shutdown();
    Ok(())
}

async fn wait_for_shutdown_signal() -> std::io::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result,
        _ = terminate.recv() => Ok(()),
    }
}
