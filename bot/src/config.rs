//! The `[discord]` section of the config.

use serde::{Deserialize, Serialize};

use crate::shards::{ShardRange, ShardSet};

/// `[discord]`: how the bot connects and behaves.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DiscordConfig {
    /// The bot token (better: `NEWSQA_DISCORD_TOKEN` or `DISCORD_TOKEN` in the environment).
    #[serde(skip_serializing)]
    pub token: Option<String>,
    /// Where Discord's API is; tests point it at a local fake.
    pub api_base: String,
    /// Answer messages that mention the bot (needs the privileged MESSAGE_CONTENT intent,
    /// switched on for the application in the developer portal).
    pub mentions: bool,
    /// Roles, by name, whose members may ingest and forget (besides Manage Messages).
    pub moderator_roles: Vec<String>,
    /// Seconds a member waits between two questions.
    pub ask_cooldown_secs: f64,
    /// Minutes an answer can be followed up: a `/ask` by the same member in the same channel,
    /// a reply to the answer, or a message in a thread opened on it, within this time, is read
    /// with the answer before it ("when did he issue it?"). 0 turns follow-ups off.
    pub followup_minutes: f64,
    /// Articles per page of `/articles`.
    pub articles_per_page: usize,
    /// Hosts that `/ingest file:` downloads attachments from (https only), besides the API
    /// base's own origin: Discord's CDN.
    pub attachment_hosts: Vec<String>,
    /// Watched news channels: moderators' links and `.txt`/`.html` files posted there are
    /// ingested (needs the privileged MESSAGE_CONTENT intent). Also switched on by
    /// `watch_channels`.
    pub watch: bool,
    /// Channels watched from the start, besides those named with `/watch`.
    pub watch_channels: Vec<u64>,
    /// In the channels of `watch_channels`, posts by members who are not moderators are
    /// ingested too.
    pub watch_members: bool,
    /// The gateway shards this process runs ("0-3"), with `total_shards`. Without them it
    /// runs every shard, as many as Discord recommends.
    pub shards: Option<ShardRange>,
    /// How many shards the bot has in all, across its processes.
    pub total_shards: Option<u32>,
}

impl DiscordConfig {
    /// Whether the bot reads messages at all (mentions or watched channels): the privileged
    /// MESSAGE_CONTENT intent is asked for only then.
    pub fn reads_messages(&self) -> bool {
        self.mentions || self.watch || !self.watch_channels.is_empty()
    }

    /// The shards this process runs, when it runs only some: `shards` and `total_shards`
    /// together (one without the other is an error).
    pub fn shard_set(&self) -> Result<Option<ShardSet>, String> {
        match (self.shards, self.total_shards) {
            (None, None) => Ok(None),
            (Some(range), Some(total)) => ShardSet::new(range, total).map(Some),
            (None, Some(total)) => ShardSet::new(
                ShardRange {
                    first: 0,
                    last: total.saturating_sub(1),
                },
                total,
            )
            .map(Some),
            (Some(_), None) => {
                Err("shards need total_shards (--total-shards): how many the bot has in all".into())
            }
        }
    }

    /// Whether this process serves the server: it runs the server's shard (every server,
    /// when it runs every shard).
    pub fn owns(&self, guild: u64) -> bool {
        match self.shard_set() {
            Ok(Some(set)) => set.owns(guild),
            _ => true,
        }
    }
}

impl Default for DiscordConfig {
    fn default() -> Self {
        DiscordConfig {
            token: None,
            api_base: "https://discord.com".into(),
            mentions: false,
            moderator_roles: Vec::new(),
            ask_cooldown_secs: 10.0,
            followup_minutes: 15.0,
            articles_per_page: 10,
            attachment_hosts: crate::attachments::DISCORD_CDN_HOSTS
                .iter()
                .map(|h| h.to_string())
                .collect(),
            watch: false,
            watch_channels: Vec::new(),
            watch_members: false,
            shards: None,
            total_shards: None,
        }
    }
}

impl std::fmt::Debug for DiscordConfig {
    // The token never reaches a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscordConfig")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("api_base", &self.api_base)
            .field("mentions", &self.mentions)
            .field("moderator_roles", &self.moderator_roles)
            .field("ask_cooldown_secs", &self.ask_cooldown_secs)
            .field("followup_minutes", &self.followup_minutes)
            .field("articles_per_page", &self.articles_per_page)
            .field("attachment_hosts", &self.attachment_hosts)
            .field("watch", &self.watch)
            .field("watch_channels", &self.watch_channels)
            .field("watch_members", &self.watch_members)
            .field("shards", &self.shards)
            .field("total_shards", &self.total_shards)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_the_token() {
        let cfg = DiscordConfig {
            token: Some("secret-token".into()),
            ..Default::default()
        };
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("secret-token"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }
}
