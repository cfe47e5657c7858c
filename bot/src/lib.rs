//! newsqa's Discord adapter: slash commands, permissions, cooldowns and rendering.
//!
//! It knows Discord and nothing of tantivy or the models: every question, article and vote
//! goes through the [`Backend`] trait, which the engine implements and `newsqa serve` passes
//! to [`run`]. What users see is built as plain data in [`render`], so it can be tested
//! without Discord.

mod attachments;
pub mod backend;
pub mod commands;
pub mod config;
mod handler;
mod lifecycle;
mod permissions;
pub mod question;
pub mod render;
pub mod shards;

use std::future::Future;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use serenity::all::{ClientBuilder, GatewayIntents, HttpBuilder};

pub use attachments::DISCORD_CDN_HOSTS;
pub use backend::{
    Announcement, Answer, AnswerKind, ArticleSummary, ArticleText, Backend, BackendError, Earlier,
    FeedInfo, Feedback, GuildId, HeldBy, IngestStatus, Ingested, OlderAnswer, Outcome, Source,
    Watched,
};
pub use config::DiscordConfig;
pub use shards::{shard_of, ShardRange, ShardSet};

/// Discord's own API; anything else is treated as a proxy (or a test's fake).
pub const DISCORD: &str = "https://discord.com";

/// The gateway intents the bot asks for: none privileged unless it reads messages (mentions,
/// watched channels) and the application may (`content`: its Message Content intent is on).
pub fn intents(config: &DiscordConfig, content: bool) -> GatewayIntents {
    let mut intents = GatewayIntents::GUILDS;
    if config.reads_messages() && content {
        intents |= GatewayIntents::GUILD_MESSAGES | GatewayIntents::MESSAGE_CONTENT;
    }
    intents
}

/// What the log and `/watch` say when the Message Content intent is off.
pub const CONTENT_INTENT_OFF: &str = "the Message Content intent is off for this bot, so it cannot read posts: switch it on in the Discord Developer Portal (your application > Bot > Privileged Gateway Intents > Message Content Intent) and restart the bot";

/// Whether the application may receive message content: its Message Content intent is
/// switched on (`GATEWAY_MESSAGE_CONTENT`, or `_LIMITED` below 100 servers). The call is
/// tried three times; when Discord still cannot say, the answer is no: asking for an intent
/// the application does not have ends the connection (close code 4014), while going without
/// it only leaves posts unread until a restart.
async fn content_intent_on(http: &serenity::http::Http) -> bool {
    use serenity::model::application::ApplicationFlags;
    const TRIES: u32 = 3;
    for attempt in 1..=TRIES {
        match http.get_current_application_info().await {
            Ok(app) => {
                return app.flags.is_some_and(|f| {
                    f.intersects(
                        ApplicationFlags::GATEWAY_MESSAGE_CONTENT
                            | ApplicationFlags::GATEWAY_MESSAGE_CONTENT_LIMITED,
                    )
                })
            }
            Err(e) if attempt < TRIES => {
                tracing::warn!(error = %e, attempt, "could not read the application's settings; trying again");
                tokio::time::sleep(std::time::Duration::from_millis(500 * u64::from(attempt)))
                    .await;
            }
            Err(e) => {
                tracing::error!(error = %e, "could not read the application's settings; not asking for the Message Content intent");
            }
        }
    }
    false
}

/// Connects to Discord and serves until `shutdown` resolves (or the connection fails for good).
pub async fn run(
    config: DiscordConfig,
    backend: Arc<dyn Backend>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let token = config
        .token
        .clone()
        .filter(|t| !t.trim().is_empty())
        .context("no Discord token: set NEWSQA_DISCORD_TOKEN (or DISCORD_TOKEN), or [discord] token in config.toml")?;
    let mut http = HttpBuilder::new(token.trim())
        .default_allowed_mentions(serenity::all::CreateAllowedMentions::new());
    let base = config.api_base.trim_end_matches('/');
    if base != DISCORD {
        // serenity's ratelimiter sends its requests to discord.com whatever the proxy says,
        // so a proxy (or the tests' fake) needs it off.
        http = http.proxy(base).ratelimiter_disabled(true);
    }
    let shard_set = config.shard_set().map_err(anyhow::Error::msg)?;
    let http = http.build();
    let content = !config.reads_messages() || content_intent_on(&http).await;
    if !content {
        // Asking for it anyway would end the connection (close code 4014).
        tracing::error!("{CONTENT_INTENT_OFF}; answering slash commands only");
    }
    let intents = intents(&config, content);
    tracing::info!(api = base, ?intents, "starting the Discord bot");
    let life = Arc::new(lifecycle::Lifecycle::default());
    let handler = handler::Handler::new(Arc::clone(&backend), config, Arc::clone(&life), content);
    let mut client = ClientBuilder::new_with_http(http, intents)
        .event_handler(handler)
        .await
        .context("building the Discord client")?;
    let shards = client.shard_manager.clone();
    tokio::spawn(async move {
        shutdown.await;
        // Stop taking work, let the answers and the feed in flight finish (bounded), then
        // close the gateway; replies go over REST, so they still reach Discord meanwhile.
        tracing::info!("shutting down: finishing the work in flight");
        backend.stop();
        let left = life.drain(lifecycle::DRAIN).await;
        if left > 0 {
            tracing::warn!(jobs = left, "shutting down with jobs still running");
        }
        shards.shutdown_all().await;
        tracing::info!("disconnected from Discord");
    });
    let started = match shard_set {
        // serenity's range is first..last with `last` included.
        Some(set) => {
            tracing::info!(shards = %set.range, total = set.total, "running some of the bot's shards");
            client
                .start_shard_range(set.range.first..set.range.last, set.total)
                .await
        }
        // As many shards as Discord recommends for the bot (GET /gateway/bot).
        None => client.start_autosharded().await,
    };
    started.context("connecting to Discord")?;
    Ok(())
}
