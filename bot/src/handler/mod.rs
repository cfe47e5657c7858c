//! Discord events in, engine calls out, rendered views back. No retrieval or scoring here.
//! Each command has its own module; this one holds the state they share and the dispatch.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serenity::all::{
    ButtonStyle as SerenityButton, Command, CommandInteraction, ComponentInteraction, Context,
    CreateActionRow, CreateAllowedMentions, CreateButton, CreateEmbed, CreateEmbedFooter,
    CreateInteractionResponseMessage, CreateMessage, EditInteractionResponse, EventHandler,
    GuildId, Interaction, Member, Message, ReactionType, Ready, ResolvedOption, ResolvedValue,
    Unresolved, UserId,
};
use serenity::async_trait;

use crate::attachments::AttachmentPolicy;
use crate::backend::{Answer, Backend, BackendError, Earlier, Feedback, HeldBy, Outcome, Source};
use crate::config::DiscordConfig;
use crate::lifecycle::Lifecycle;
use crate::permissions::GuildFacts;
use crate::render::{self, ids, ButtonStyle, View};
use conversations::Conversations;

mod articles;
mod ask;
mod buttons;
mod conversations;
mod feed;
mod ingest;
mod send;
mod watch;

use send::{defer, edit, post, respond, respond_component, update_component};

/// Answers and pending confirmations remembered for their buttons.
const REMEMBERED: usize = 1000;

/// The bot's event handler.
pub struct Handler {
    backend: Arc<dyn Backend>,
    config: DiscordConfig,
    me: OnceLock<UserId>,
    polling: std::sync::atomic::AtomicBool,
    next_key: AtomicU64,
    state: Mutex<State>,
    attachments: AttachmentPolicy,
    downloads: reqwest::Client,
    life: Arc<Lifecycle>,
    /// The application's Message Content intent is on (posts and mentions can be read).
    message_content: bool,
}

#[derive(Default)]
struct State {
    /// When each (guild, user) last asked.
    asked: HashMap<(u64, u64), Instant>,
    answers: Recent<Asked>,
    forgets: Recent<PendingForget>,
    /// Threads seen in watched servers, and their parent channel (`None`: not a thread).
    threads: HashMap<u64, Option<u64>>,
    /// One lock per server: its posts are handled one at a time (Discord's events arrive
    /// each in its own task, so two edits of one post could otherwise race).
    post_locks: HashMap<u64, Arc<tokio::sync::Mutex<()>>>,
    /// The newest edit handled of each recent post: an older edit that arrives late is stale.
    edits: Recent<serenity::all::Timestamp>,
    /// Posts deleted lately: a post whose delete overtook its own message event (each event
    /// runs in its own task) is not ingested after it.
    deleted: Recent<()>,
    /// Recent answers, for follow-ups.
    conversations: Conversations,
    /// Servers' owners and roles, and channels' permission overwrites, as last read, for
    /// [`FACTS_FOR`]: a watched post's author's permissions are computed from them.
    guild_facts: HashMap<u64, (Instant, Arc<GuildFacts>)>,
    overwrites: HashMap<u64, (Instant, Arc<Vec<serenity::all::PermissionOverwrite>>)>,
}

/// How long a server's roles and a channel's overwrites are used before they are read again.
const FACTS_FOR: Duration = Duration::from_secs(300);

/// An answer given, for "Show passage" and votes.
#[derive(Clone)]
struct Asked {
    guild: u64,
    question: String,
    answer: Answer,
}

/// A `/forget` waiting for its confirm button.
#[derive(Clone)]
struct PendingForget {
    guild: u64,
    user: u64,
    id: String,
    title: String,
}

/// A bounded map of button keys that forgets the least recently used entry beyond
/// [`REMEMBERED`]: a button pressed long ago finds nothing and says so.
struct Recent<T> {
    map: lru::LruCache<u64, T>,
}

impl<T> Default for Recent<T> {
    fn default() -> Self {
        Recent {
            map: lru::LruCache::new(std::num::NonZeroUsize::new(REMEMBERED).expect("not zero")),
        }
    }
}

impl<T: Clone> Recent<T> {
    fn insert(&mut self, key: u64, value: T) {
        self.map.put(key, value);
    }

    fn get(&mut self, key: u64) -> Option<T> {
        self.map.get(&key).cloned()
    }

    fn take(&mut self, key: u64) -> Option<T> {
        self.map.pop(&key)
    }
}

impl Handler {
    /// A handler answering from `backend`.
    pub fn new(
        backend: Arc<dyn Backend>,
        config: DiscordConfig,
        life: Arc<Lifecycle>,
        message_content: bool,
    ) -> Handler {
        // Keys start at the clock so that buttons from before a restart find nothing
        // rather than someone else's answer.
        let start = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(1);
        let attachments = AttachmentPolicy::new(&config.api_base, &config.attachment_hosts);
        let downloads = attachments.client();
        Handler {
            backend,
            config,
            me: OnceLock::new(),
            polling: std::sync::atomic::AtomicBool::new(false),
            next_key: AtomicU64::new(start),
            state: Mutex::new(State::default()),
            attachments,
            downloads,
            life,
            message_content,
        }
    }

    fn key(&self) -> u64 {
        self.next_key.fetch_add(1, Ordering::Relaxed)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Seconds left before this member may ask again; when none, starts their cooldown.
    fn cooldown(&self, guild: u64, user: u64) -> Option<f64> {
        let wait = Duration::from_secs_f64(self.config.ask_cooldown_secs.max(0.0));
        let now = Instant::now();
        let mut state = self.state();
        if let Some(last) = state.asked.get(&(guild, user)) {
            let since = now.duration_since(*last);
            if since < wait {
                return Some((wait - since).as_secs_f64());
            }
        }
        state.asked.retain(|_, t| now.duration_since(*t) < wait);
        state.asked.insert((guild, user), now);
        None
    }

    /// How long an answer can be followed up.
    fn followup_window(&self) -> Duration {
        Duration::from_secs_f64(self.config.followup_minutes.max(0.0) * 60.0)
    }

    /// Remembers an answer for follow-ups (see [`Conversations`]).
    fn remember(&self, guild: u64, channel: u64, user: u64, message: Option<u64>, e: Earlier) {
        if !self.followup_window().is_zero() {
            let now = Instant::now();
            let mut state = self.state();
            state
                .conversations
                .remember(guild, channel, user, message, e, now);
        }
    }

    /// The answer a message follows up, if any (see [`Conversations::earlier`]).
    fn earlier(
        &self,
        guild: u64,
        channel: u64,
        user: u64,
        replied_to: Option<u64>,
        last: bool,
    ) -> Option<Earlier> {
        let window = self.followup_window();
        self.state().conversations.earlier(
            guild,
            channel,
            user,
            replied_to,
            last,
            window,
            Instant::now(),
        )
    }

    /// Whether `channel` is a thread opened on one of this server's recent answers.
    fn is_answer_thread(&self, guild: u64, channel: u64) -> bool {
        let window = self.followup_window();
        self.state()
            .conversations
            .is_answer_thread(guild, channel, window, Instant::now())
    }

    /// Lifts a cooldown, for a question that could not be answered through no fault of the asker.
    fn lift_cooldown(&self, guild: u64, user: u64) {
        self.state().asked.remove(&(guild, user));
    }

    /// Runs a blocking backend call off the async threads.
    async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Backend) -> Result<T, BackendError> + Send + 'static,
    ) -> Result<T, BackendError> {
        let backend = Arc::clone(&self.backend);
        match tokio::task::spawn_blocking(move || f(backend.as_ref())).await {
            Ok(r) => r,
            Err(e) => Err(BackendError::Internal(anyhow::anyhow!(
                "backend call panicked: {e}"
            ))),
        }
    }

    /// Moderators: Manage Messages (or Administrator), or a role named in the config.
    async fn is_moderator(&self, ctx: &Context, guild: GuildId, member: Option<&Member>) -> bool {
        let Some(member) = member else {
            return false;
        };
        // Discord computes an interaction's permissions in its channel (owner and overwrites).
        if let Some(p) = member.permissions {
            if p.manage_messages() || p.administrator() {
                return true;
            }
        }
        if self.config.moderator_roles.is_empty() {
            return false;
        }
        self.guild_facts(ctx, guild, &member.roles)
            .await
            .is_some_and(|f| f.has_role_named(&member.roles, &self.config.moderator_roles))
    }

    /// A server's owner and roles, read again after [`FACTS_FOR`], after Discord said they
    /// changed (role and server events), or when `member_roles` holds a role they lack (one
    /// made since).
    async fn guild_facts(
        &self,
        ctx: &Context,
        guild: GuildId,
        member_roles: &[serenity::all::RoleId],
    ) -> Option<Arc<GuildFacts>> {
        let cached = self.state().guild_facts.get(&guild.get()).cloned();
        if let Some((at, facts)) = cached {
            let knows_roles = member_roles.iter().all(|r| facts.roles.contains_key(r));
            if at.elapsed() < FACTS_FOR && knows_roles {
                return Some(facts);
            }
        }
        match ctx.http.get_guild(guild).await {
            Ok(g) => {
                let facts = Arc::new(GuildFacts {
                    id: guild,
                    owner: g.owner_id,
                    roles: g.roles,
                });
                let mut state = self.state();
                if state.guild_facts.len() >= REMEMBERED {
                    state.guild_facts.clear();
                }
                state
                    .guild_facts
                    .insert(guild.get(), (Instant::now(), Arc::clone(&facts)));
                Some(facts)
            }
            Err(e) => {
                tracing::warn!(guild = guild.get(), error = %e, "could not read the server's roles");
                None
            }
        }
    }

    /// A channel's permission overwrites, read at most every [`FACTS_FOR`]; none when they
    /// cannot be read (the server's permissions then decide).
    async fn overwrites(
        &self,
        ctx: &Context,
        channel: serenity::all::ChannelId,
    ) -> Arc<Vec<serenity::all::PermissionOverwrite>> {
        let cached = self.state().overwrites.get(&channel.get()).cloned();
        if let Some((at, o)) = cached {
            if at.elapsed() < FACTS_FOR {
                return o;
            }
        }
        let read = match ctx.http.get_channel(channel).await {
            Ok(serenity::all::Channel::Guild(c)) => c.permission_overwrites,
            Ok(_) => Vec::new(),
            Err(e) => {
                tracing::warn!(channel = channel.get(), error = %e, "could not read a channel's permissions");
                return Arc::new(Vec::new());
            }
        };
        let read = Arc::new(read);
        let mut state = self.state();
        if state.overwrites.len() >= REMEMBERED {
            state.overwrites.clear();
        }
        state
            .overwrites
            .insert(channel.get(), (Instant::now(), Arc::clone(&read)));
        read
    }

    async fn command(&self, ctx: &Context, cmd: &CommandInteraction) {
        let Some(guild) = cmd.guild_id else {
            respond(ctx, cmd, render::guild_only()).await;
            return;
        };
        let name = cmd.data.name.as_str();
        if name != "ask" && !self.is_moderator(ctx, guild, cmd.member.as_deref()).await {
            tracing::info!(
                guild = guild.get(),
                user = cmd.user.id.get(),
                command = name,
                "refused: not a moderator"
            );
            respond(ctx, cmd, render::not_moderator()).await;
            return;
        }
        match name {
            "ask" => self.ask(ctx, cmd, guild.get()).await,
            "ingest" => self.ingest(ctx, cmd, guild.get()).await,
            "articles" => self.articles(ctx, cmd, guild.get()).await,
            "forget" => self.forget(ctx, cmd, guild.get()).await,
            "article" => self.article(ctx, cmd, guild.get()).await,
            "feed" => self.feed(ctx, cmd, guild.get()).await,
            "watch" => self.watch_command(ctx, cmd, guild.get(), true).await,
            "unwatch" => self.watch_command(ctx, cmd, guild.get(), false).await,
            other => tracing::warn!(command = other, "unknown command"),
        }
    }
}

#[async_trait]
impl EventHandler for Handler {
    async fn ready(&self, ctx: Context, ready: Ready) {
        let _ = self.me.set(ready.user.id);
        // Reconnects send READY again; one poller is enough.
        if !self.polling.swap(true, Ordering::SeqCst) {
            tokio::spawn(Handler::poll_feeds(
                Arc::clone(&self.backend),
                Arc::clone(&ctx.http),
                Arc::clone(&self.life),
            ));
        }
        tracing::info!(bot = %ready.user.name, guilds = ready.guilds.len(), "connected to Discord");
        match Command::set_global_commands(&ctx.http, crate::commands::all()).await {
            Ok(commands) => tracing::info!(commands = commands.len(), "slash commands registered"),
            Err(e) => tracing::error!(error = %e, "registering slash commands failed"),
        }
        // Discord does not replay what was posted while the bot was away: read it.
        if let Some(_job) = self.life.start() {
            let shard = ready.shard.map(|s| (s.id.0, s.total));
            self.catch_up(&ctx, shard).await;
        }
    }

    async fn interaction_create(&self, ctx: Context, interaction: Interaction) {
        let Some(_job) = self.life.start() else {
            // Stopping: say so rather than leave the interaction to time out.
            match interaction {
                Interaction::Command(cmd) => respond(&ctx, &cmd, render::restarting()).await,
                Interaction::Component(press) => {
                    respond_component(&ctx, &press, render::restarting()).await
                }
                _ => {}
            }
            return;
        };
        match interaction {
            Interaction::Command(cmd) => self.command(&ctx, &cmd).await,
            Interaction::Component(press) => self.component(&ctx, &press).await,
            _ => {}
        }
    }

    async fn message(&self, ctx: Context, msg: Message) {
        let Some(_job) = self.life.start() else {
            return;
        };
        if self.config.mentions {
            self.mention(&ctx, &msg).await;
        }
        self.watched_message(&ctx, &msg).await;
    }

    async fn guild_role_create(&self, _ctx: Context, new: serenity::all::Role) {
        self.state().guild_facts.remove(&new.guild_id.get());
    }

    async fn guild_role_update(
        &self,
        _ctx: Context,
        _old: Option<serenity::all::Role>,
        new: serenity::all::Role,
    ) {
        self.state().guild_facts.remove(&new.guild_id.get());
    }

    async fn guild_role_delete(
        &self,
        _ctx: Context,
        guild: GuildId,
        _role: serenity::all::RoleId,
        _data: Option<serenity::all::Role>,
    ) {
        self.state().guild_facts.remove(&guild.get());
    }

    async fn guild_update(
        &self,
        _ctx: Context,
        _old: Option<serenity::all::Guild>,
        new: serenity::all::PartialGuild,
    ) {
        self.state().guild_facts.remove(&new.id.get());
    }

    async fn channel_update(
        &self,
        _ctx: Context,
        _old: Option<serenity::all::GuildChannel>,
        new: serenity::all::GuildChannel,
    ) {
        self.state().overwrites.remove(&new.id.get());
    }

    async fn message_update(
        &self,
        ctx: Context,
        _old: Option<Message>,
        _new: Option<Message>,
        event: serenity::all::MessageUpdateEvent,
    ) {
        let Some(_job) = self.life.start() else {
            return;
        };
        self.watched_edit(&ctx, &event).await;
    }

    async fn message_delete(
        &self,
        _ctx: Context,
        _channel: serenity::all::ChannelId,
        message: serenity::all::MessageId,
        guild: Option<GuildId>,
    ) {
        let Some(_job) = self.life.start() else {
            return;
        };
        self.watched_delete(guild, message).await;
    }

    async fn message_delete_bulk(
        &self,
        _ctx: Context,
        _channel: serenity::all::ChannelId,
        messages: Vec<serenity::all::MessageId>,
        guild: Option<GuildId>,
    ) {
        let Some(_job) = self.life.start() else {
            return;
        };
        for message in messages {
            self.watched_delete(guild, message).await;
        }
    }
}

/// The view for a failed backend call: the user's fault is told to them, ours is logged.
fn backend_error(e: BackendError, what: &str) -> View {
    match e {
        BackendError::Busy => render::busy(),
        BackendError::Rejected(reason) => render::rejected(&reason),
        e @ (BackendError::NotFound(_) | BackendError::Ambiguous { .. }) => {
            render::rejected(&e.to_string())
        }
        e => {
            tracing::error!(
                error = format!("{e:#}"),
                action = what,
                "backend call failed"
            );
            render::failure()
        }
    }
}

/// The value of the option called `name`.
fn option<'a, 'b>(options: &'b [ResolvedOption<'a>], name: &str) -> Option<&'b ResolvedValue<'a>> {
    options.iter().find(|o| o.name == name).map(|o| &o.value)
}

/// The string option called `name`.
fn string_in(options: &[ResolvedOption<'_>], name: &str) -> Option<String> {
    match option(options, name)? {
        ResolvedValue::String(s) => Some((*s).to_owned()),
        _ => None,
    }
}

/// The `page` option (1 when absent).
fn page_option(cmd: &CommandInteraction) -> usize {
    match option(&cmd.data.options(), "page") {
        Some(ResolvedValue::Integer(n)) => (*n).max(1) as usize,
        _ => 1,
    }
}

/// The `article` option of `/article` and `/forget`: an id or URL, trimmed.
fn article_option(cmd: &CommandInteraction) -> String {
    string_option(cmd, "article")
        .unwrap_or_default()
        .trim()
        .to_owned()
}

fn string_option(cmd: &CommandInteraction, name: &str) -> Option<String> {
    string_in(&cmd.data.options(), name)
}

/// No reply may ping anyone, whatever the article text says.
fn no_mentions() -> CreateAllowedMentions {
    CreateAllowedMentions::new()
}

fn embed(view: &render::EmbedView) -> CreateEmbed {
    let mut e = CreateEmbed::new()
        .description(&view.description)
        .colour(view.colour);
    if let Some(t) = &view.title {
        e = e.title(t);
    }
    if let Some(u) = &view.url {
        e = e.url(u);
    }
    for (name, value) in &view.fields {
        e = e.field(name, value, false);
    }
    if let Some(f) = &view.footer {
        e = e.footer(CreateEmbedFooter::new(f));
    }
    e
}

fn rows(view: &View) -> Vec<CreateActionRow> {
    if view.buttons.is_empty() {
        return Vec::new();
    }
    let buttons = view
        .buttons
        .iter()
        .map(|b| {
            let mut button = CreateButton::new(&b.custom_id)
                .style(match b.style {
                    ButtonStyle::Primary => SerenityButton::Primary,
                    ButtonStyle::Secondary => SerenityButton::Secondary,
                    ButtonStyle::Danger => SerenityButton::Danger,
                })
                .disabled(b.disabled);
            if let Some(label) = &b.label {
                button = button.label(label);
            }
            if let Some(emoji) = &b.emoji {
                button = button.emoji(ReactionType::Unicode(emoji.clone()));
            }
            button
        })
        .collect();
    vec![CreateActionRow::Buttons(buttons)]
}

fn to_response(view: View) -> CreateInteractionResponseMessage {
    let mut m = CreateInteractionResponseMessage::new()
        .ephemeral(view.ephemeral)
        .allowed_mentions(no_mentions())
        .components(rows(&view));
    m = m.content(view.content.clone().unwrap_or_default());
    m = m.embeds(view.embed.iter().map(embed).collect());
    m
}

fn to_edit(view: View) -> EditInteractionResponse {
    EditInteractionResponse::new()
        .content(view.content.clone().unwrap_or_default())
        .embeds(view.embed.iter().map(embed).collect())
        .components(rows(&view))
        .allowed_mentions(no_mentions())
}

fn to_message(view: View) -> CreateMessage {
    let mut m = CreateMessage::new()
        .allowed_mentions(no_mentions())
        .components(rows(&view));
    if let Some(c) = &view.content {
        m = m.content(c);
    }
    if let Some(e) = &view.embed {
        m = m.embed(embed(e));
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_entries_are_forgotten_past_the_bound() {
        let mut r = Recent::default();
        for i in 0..(REMEMBERED as u64 + 5) {
            r.insert(i, i);
            // An answer whose buttons are in use stays.
            assert_eq!(r.get(0), Some(0));
        }
        assert_eq!(r.get(1), None);
        assert_eq!(r.get(0), Some(0));
        assert_eq!(r.get(REMEMBERED as u64 + 4), Some(REMEMBERED as u64 + 4));
        assert_eq!(r.take(0), Some(0));
        assert_eq!(r.get(0), None);
    }
}
