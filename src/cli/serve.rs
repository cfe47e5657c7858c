//! `newsqa serve`: the Discord bot, until Ctrl-C or SIGTERM.

use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use newsqa::Config;

/// Runs the Discord bot: one tokio runtime, the models loaded once, a corpus per server.
pub(crate) fn serve(config: Config) -> Result<ExitCode> {
    if config
        .discord
        .token
        .as_deref()
        .is_none_or(|t| t.trim().is_empty())
    {
        bail!(
            "no Discord token: set NEWSQA_DISCORD_TOKEN (or DISCORD_TOKEN), or [discord] token \
             in config.toml; the README explains how to create the bot"
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let discord = config.discord.clone();
    let shards = discord.shard_set().map_err(anyhow::Error::msg)?;
    let guilds = config.index.guilds.clone();
    let _serving = newsqa::guilds::Guilds::new(&guilds).hold_serve_lock()?;
    if let Some(set) = shards {
        // Servers of other shards are not answered here: their data belongs elsewhere.
        let foreign = newsqa::guilds::Guilds::new(&guilds)
            .servers()?
            .into_iter()
            .filter(|&g| !set.owns(g))
            .count();
        if foreign > 0 {
            tracing::warn!(
                servers = foreign,
                "{} holds servers of shards this process does not run; `newsqa shards move` carries them to theirs",
                guilds.display()
            );
        }
    }
    let library = newsqa::Library::open(config)?;
    tracing::info!(guilds = %guilds.display(), "models loaded");
    let served = runtime.block_on(newsqa_bot::run(
        discord,
        std::sync::Arc::new(library),
        stop_signal(),
    ));
    // The bot has drained its work (bounded) before disconnecting; a blocking call that is
    // still running (a page fetch of a feed round) is not waited for beyond this.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    served?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Resolves on Ctrl-C or SIGTERM, so that the bot can close its gateway connection cleanly.
pub(crate) async fn stop_signal() {
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
        _ = ctrl_c => {}
        _ = term => {}
    }
}
