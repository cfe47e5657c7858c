//! Discord events in, engine calls out, rendered views back. No retrieval or scoring here.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serenity::all::{
    ButtonStyle as SerenityButton, Command, CommandInteraction, ComponentInteraction, Context,
    CreateActionRow, CreateAllowedMentions, CreateButton, CreateEmbed, CreateEmbedFooter,
    CreateInteractionResponse, CreateInteractionResponseMessage, CreateMessage,
    EditInteractionResponse, EventHandler, GuildId, Interaction, Member, Message, ReactionType,
    Ready, ResolvedOption, ResolvedValue, Unresolved, UserId,
};
use serenity::async_trait;

use crate::attachments::AttachmentPolicy;
use crate::backend::{Answer, Backend, BackendError, Feedback, Outcome, Source};
use crate::config::DiscordConfig;
use crate::lifecycle::Lifecycle;
use crate::render::{self, ids, ButtonStyle, View};

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
}

#[derive(Default)]
struct State {
    /// When each (guild, user) last asked.
    asked: HashMap<(u64, u64), Instant>,
    answers: Recent<Asked>,
    forgets: Recent<PendingForget>,
}

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
    pub fn new(backend: Arc<dyn Backend>, config: DiscordConfig, life: Arc<Lifecycle>) -> Handler {
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

    /// Asks the backend and renders the outcome, remembering answers for their buttons.
    async fn answer(&self, guild: u64, user: u64, question: String) -> View {
        let started = Instant::now();
        let q = question.clone();
        let result = self.call(move |b| b.ask(guild, &q)).await;
        let latency_ms = (started.elapsed().as_secs_f64() * 1e3).round() as u64;
        match result {
            Ok(Outcome::Answer(answer)) => {
                tracing::info!(guild, user, latency_ms, article = %answer.article_id, confidence = answer.confidence, "question answered");
                let key = self.key();
                let view = render::answer(&answer, key);
                self.state().answers.insert(
                    key,
                    Asked {
                        guild,
                        question,
                        answer,
                    },
                );
                view
            }
            Ok(Outcome::NotFound { reason }) => {
                tracing::info!(
                    guild,
                    user,
                    latency_ms,
                    reason = reason.as_deref().unwrap_or("low confidence"),
                    "question not answered: abstained"
                );
                render::abstain(reason.as_deref())
            }
            Err(BackendError::Busy) => {
                tracing::warn!(guild, user, latency_ms, "question not answered: busy");
                self.lift_cooldown(guild, user);
                render::busy()
            }
            Err(e) => {
                tracing::error!(guild, user, error = format!("{e:#}"), "question failed");
                self.lift_cooldown(guild, user);
                render::failure()
            }
        }
    }

    /// Moderators: Manage Messages (or Administrator), or a role named in the config.
    async fn is_moderator(&self, ctx: &Context, guild: GuildId, member: Option<&Member>) -> bool {
        let Some(member) = member else {
            return false;
        };
        if let Some(p) = member.permissions {
            if p.manage_messages() || p.administrator() {
                return true;
            }
        }
        if self.config.moderator_roles.is_empty() || member.roles.is_empty() {
            return false;
        }
        match guild.roles(&ctx.http).await {
            Ok(roles) => member.roles.iter().any(|id| {
                roles.get(id).is_some_and(|role| {
                    self.config
                        .moderator_roles
                        .iter()
                        .any(|name| name.eq_ignore_ascii_case(&role.name))
                })
            }),
            Err(e) => {
                tracing::warn!(guild = guild.get(), error = %e, "could not read the server's roles");
                false
            }
        }
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
            other => tracing::warn!(command = other, "unknown command"),
        }
    }

    #[tracing::instrument(skip_all, fields(guild, user = cmd.user.id.get()))]
    async fn ask(&self, ctx: &Context, cmd: &CommandInteraction, guild: u64) {
        let question = string_option(cmd, "question").unwrap_or_default();
        let question = question.trim().to_owned();
        if question.is_empty() {
            respond(ctx, cmd, render::empty_question()).await;
            return;
        }
        let user = cmd.user.id.get();
        if let Some(left) = self.cooldown(guild, user) {
            respond(ctx, cmd, render::cooldown(left)).await;
            return;
        }
        // Acknowledge at once: the models may take longer than Discord's 3 seconds.
        if let Err(e) = cmd.defer(&ctx.http).await {
            tracing::warn!(error = %e, "could not acknowledge /ask");
            return;
        }
        let view = self.answer(guild, user, question).await;
        edit(ctx, cmd, view).await;
    }

    #[tracing::instrument(skip_all, fields(guild, user = cmd.user.id.get()))]
    async fn ingest(&self, ctx: &Context, cmd: &CommandInteraction, guild: u64) {
        let options = cmd.data.options();
        let given_text = |name| string_in(&options, name).filter(|t| !t.trim().is_empty());
        let (title, url, text) = (given_text("title"), given_text("url"), given_text("text"));
        let file = match option(&options, "file") {
            Some(ResolvedValue::Attachment(a)) => Some((*a).clone()),
            _ => None,
        };
        let given =
            usize::from(url.is_some()) + usize::from(text.is_some()) + usize::from(file.is_some());
        if given != 1 {
            respond(
                ctx,
                cmd,
                render::rejected("give exactly one of `url`, `text` or `file`."),
            )
            .await;
            return;
        }
        if let Err(e) = cmd.defer_ephemeral(&ctx.http).await {
            tracing::warn!(error = %e, "could not acknowledge /ingest");
            return;
        }
        let source = if let Some(url) = url {
            Source::Url { url, title }
        } else if let Some(text) = text {
            Source::Text { text, title }
        } else if let Some(file) = file {
            match self.download(&file).await {
                Ok(bytes) => Source::File {
                    name: file.filename.clone(),
                    bytes,
                    title,
                },
                Err(reason) => {
                    edit(ctx, cmd, render::rejected(&reason)).await;
                    return;
                }
            }
        } else {
            return;
        };
        let view = match self.call(move |b| b.ingest(guild, source)).await {
            Ok(done) => {
                tracing::info!(article = %done.id, status = ?done.status, sentences = done.sentences, "article ingested");
                render::ingested(&done)
            }
            Err(e) => backend_error(e, "ingest"),
        };
        edit(ctx, cmd, view).await;
    }

    /// Fetches an attached article from Discord's CDN, refusing what ingest would refuse anyway.
    async fn download(&self, file: &serenity::all::Attachment) -> Result<Vec<u8>, String> {
        let name = file.filename.to_ascii_lowercase();
        let extension = name.rsplit_once('.').map_or("", |(_, e)| e);
        if !self.backend.article_extensions().contains(&extension) {
            return Err(format!("{} is not a .txt or .html file.", file.filename));
        }
        if let Some(why) = self.attachments.refusal(&file.url) {
            tracing::warn!(host = ?url::Url::parse(&file.url).ok().and_then(|u| u.host_str().map(str::to_owned)), "attachment not on Discord's CDN");
            return Err(why);
        }
        let cap = self.backend.max_article_bytes();
        if u64::from(file.size) > cap {
            return Err(format!(
                "{} is {} KB; the limit is {} KB.",
                file.filename,
                file.size / 1024,
                cap / 1024
            ));
        }
        let fetch = async {
            let mut response = self
                .downloads
                .get(&file.url)
                .send()
                .await?
                .error_for_status()?;
            let mut bytes = Vec::new();
            while let Some(chunk) = response.chunk().await? {
                bytes.extend_from_slice(&chunk);
                if bytes.len() as u64 > cap {
                    break;
                }
            }
            Ok::<_, reqwest::Error>(bytes)
        };
        match fetch.await {
            Ok(bytes) if bytes.len() as u64 > cap => Err(format!(
                "{} is larger than the {} KB limit.",
                file.filename,
                cap / 1024
            )),
            Ok(bytes) => Ok(bytes),
            Err(e) => {
                tracing::warn!(error = %e, "downloading an attachment failed");
                Err(format!("I could not download {}.", file.filename))
            }
        }
    }

    async fn articles(&self, ctx: &Context, cmd: &CommandInteraction, guild: u64) {
        let page = match option(&cmd.data.options(), "page") {
            Some(ResolvedValue::Integer(n)) => (*n).max(1) as usize,
            _ => 1,
        };
        let view = self.articles_page(guild, page).await;
        respond(ctx, cmd, view).await;
    }

    async fn articles_page(&self, guild: u64, page: usize) -> View {
        match self.call(move |b| b.articles(guild)).await {
            Ok(list) => render::articles(&list, page, self.config.articles_per_page),
            Err(e) => backend_error(e, "articles"),
        }
    }

    async fn forget(&self, ctx: &Context, cmd: &CommandInteraction, guild: u64) {
        let wanted = string_option(cmd, "article").unwrap_or_default();
        let wanted = wanted.trim().to_owned();
        let view = match self.call(move |b| b.lookup(guild, &wanted)).await {
            Ok(article) => {
                let key = self.key();
                let view = render::confirm_forget(&article, key);
                self.state().forgets.insert(
                    key,
                    PendingForget {
                        guild,
                        user: cmd.user.id.get(),
                        id: article.id,
                        title: article.title,
                    },
                );
                view
            }
            Err(e) => backend_error(e, "forget"),
        };
        respond(ctx, cmd, view).await;
    }

    /// `/article`: the text the bot took from one article, for moderators.
    async fn article(&self, ctx: &Context, cmd: &CommandInteraction, guild: u64) {
        let wanted = string_option(cmd, "article").unwrap_or_default();
        let wanted = wanted.trim().to_owned();
        let page = match option(&cmd.data.options(), "page") {
            Some(ResolvedValue::Integer(n)) => (*n).max(1) as usize,
            _ => 1,
        };
        if let Err(e) = cmd.defer_ephemeral(&ctx.http).await {
            tracing::warn!(error = %e, "could not acknowledge /article");
            return;
        }
        let view = match self.call(move |b| b.article_text(guild, &wanted)).await {
            Ok(article) => render::article_text(&article, page),
            Err(e) => backend_error(e, "article"),
        };
        edit(ctx, cmd, view).await;
    }

    #[tracing::instrument(skip_all, fields(guild, user = cmd.user.id.get()))]
    async fn feed(&self, ctx: &Context, cmd: &CommandInteraction, guild: u64) {
        let Some(sub) = cmd.data.options().into_iter().next() else {
            return;
        };
        let ResolvedValue::SubCommand(options) = sub.value else {
            return;
        };
        let text = |name| string_in(&options, name).map(|s| s.trim().to_owned());
        let channel = match option(&options, "channel") {
            Some(ResolvedValue::Channel(c)) => Some(c.id.get()),
            Some(ResolvedValue::Unresolved(Unresolved::Channel(id))) => Some(id.get()),
            _ => None,
        };
        match sub.name {
            "add" => {
                let url = text("url").unwrap_or_default();
                // The first poll fetches every item's page: acknowledge first.
                if let Err(e) = cmd.defer_ephemeral(&ctx.http).await {
                    tracing::warn!(error = %e, "could not acknowledge /feed add");
                    return;
                }
                let view = match self.call(move |b| b.feed_add(guild, &url, channel)).await {
                    Ok((feed, added)) => {
                        tracing::info!(feed = %feed.url, added, "feed subscribed");
                        render::feed_added(&feed, added)
                    }
                    Err(e) => backend_error(e, "feed add"),
                };
                edit(ctx, cmd, view).await;
            }
            "list" => {
                // The feed list is a file other processes may be changing: acknowledge first.
                if let Err(e) = cmd.defer_ephemeral(&ctx.http).await {
                    tracing::warn!(error = %e, "could not acknowledge /feed list");
                    return;
                }
                let view = match self.call(move |b| b.feeds(guild)).await {
                    Ok(list) => render::feeds(&list),
                    Err(e) => backend_error(e, "feed list"),
                };
                edit(ctx, cmd, view).await;
            }
            "remove" => {
                let url = text("url").unwrap_or_default();
                if let Err(e) = cmd.defer_ephemeral(&ctx.http).await {
                    tracing::warn!(error = %e, "could not acknowledge /feed remove");
                    return;
                }
                let view = match self.call(move |b| b.feed_remove(guild, &url)).await {
                    Ok(Some(feed)) => render::feed_removed(&feed),
                    Ok(None) => {
                        render::rejected("this server does not follow that feed (see /feed list).")
                    }
                    Err(e) => backend_error(e, "feed remove"),
                };
                edit(ctx, cmd, view).await;
            }
            _ => {}
        }
    }

    /// Polls the feeds for ever, posting a notice for each new article where one was asked for.
    async fn poll_feeds(
        backend: Arc<dyn Backend>,
        http: Arc<serenity::all::Http>,
        life: Arc<Lifecycle>,
    ) {
        let tick = backend.feed_tick();
        loop {
            tokio::time::sleep(tick).await;
            // A round (and its announcements) is a job: shutdown waits for it, bounded.
            let Some(_job) = life.start() else {
                return;
            };
            let b = Arc::clone(&backend);
            let news = match tokio::task::spawn_blocking(move || b.poll_feeds()).await {
                Ok(news) => news,
                Err(e) => {
                    tracing::error!(error = %e, "feed poll panicked");
                    continue;
                }
            };
            for a in news {
                let message = to_message(render::announcement(&a));
                if let Err(e) = serenity::all::ChannelId::new(a.channel)
                    .send_message(&http, message)
                    .await
                {
                    tracing::warn!(guild = a.guild, channel = a.channel, error = %e, "could not announce a new article");
                }
            }
        }
    }

    async fn component(&self, ctx: &Context, press: &ComponentInteraction) {
        let Some((action, key)) = ids::parse(&press.data.custom_id) else {
            return;
        };
        let Some(guild) = press.guild_id else {
            return;
        };
        let user = press.user.id.get();
        match action {
            ids::PASSAGE | ids::UP | ids::DOWN => {
                let asked = self.state().answers.get(key);
                let view = match asked {
                    Some(asked) if asked.guild == guild.get() => match action {
                        ids::PASSAGE => render::passage(&asked.answer),
                        _ => {
                            let helpful = action == ids::UP;
                            let feedback = Feedback {
                                guild: guild.get(),
                                user,
                                question: asked.question,
                                answer: asked.answer.text,
                                article_id: asked.answer.article_id,
                                helpful,
                            };
                            match self.call(move |b| b.feedback(&feedback)).await {
                                Ok(()) => render::voted(helpful),
                                Err(e) => backend_error(e, "feedback"),
                            }
                        }
                    },
                    _ => render::expired(),
                };
                respond_component(ctx, press, view).await;
            }
            ids::PAGE => {
                if !self.is_moderator(ctx, guild, press.member.as_ref()).await {
                    respond_component(ctx, press, render::not_moderator()).await;
                    return;
                }
                let view = self.articles_page(guild.get(), key as usize).await;
                update_component(ctx, press, view).await;
            }
            ids::FORGET | ids::KEEP => {
                let pending = self.state().forgets.get(key);
                let Some(pending) = pending.filter(|p| p.guild == guild.get() && p.user == user)
                else {
                    respond_component(ctx, press, render::expired()).await;
                    return;
                };
                self.state().forgets.take(key);
                if action == ids::KEEP {
                    update_component(ctx, press, render::kept("Kept it; nothing was removed."))
                        .await;
                    return;
                }
                if !self.is_moderator(ctx, guild, press.member.as_ref()).await {
                    update_component(ctx, press, render::not_moderator()).await;
                    return;
                }
                let id = pending.id.clone();
                let g = pending.guild;
                let view = match self.call(move |b| b.forget(g, &id)).await {
                    Ok(Some(gone)) => {
                        tracing::info!(guild = g, user, article = %gone.id, "article forgotten");
                        render::forgotten(&gone.title)
                    }
                    Ok(None) => render::kept(&format!(
                        "{} was already gone.",
                        render::escape(&pending.title)
                    )),
                    Err(e) => backend_error(e, "forget"),
                };
                update_component(ctx, press, view).await;
            }
            _ => {}
        }
    }

    #[tracing::instrument(skip_all, fields(guild, user = msg.author.id.get()))]
    async fn mention(&self, ctx: &Context, msg: &Message) {
        let Some(me) = self.me.get().copied() else {
            return;
        };
        if msg.author.bot || !msg.mentions.iter().any(|u| u.id == me) {
            return;
        }
        let Some(guild) = msg.guild_id else {
            return;
        };
        let guild = guild.get();
        let user = msg.author.id.get();
        let question = strip_mention(&msg.content, me);
        let view = if question.is_empty() {
            render::empty_question()
        } else if let Some(left) = self.cooldown(guild, user) {
            render::cooldown(left)
        } else {
            self.answer(guild, user, question).await
        };
        let reply = to_message(view).reference_message(msg);
        if let Err(e) = msg.channel_id.send_message(&ctx.http, reply).await {
            tracing::warn!(error = %e, "could not reply to a mention");
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

fn string_option(cmd: &CommandInteraction, name: &str) -> Option<String> {
    string_in(&cmd.data.options(), name)
}

/// The question in a message that mentions the bot: the mention removed.
fn strip_mention(content: &str, me: UserId) -> String {
    content
        .replace(&format!("<@{me}>"), " ")
        .replace(&format!("<@!{me}>"), " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
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

async fn respond(ctx: &Context, cmd: &CommandInteraction, view: View) {
    let r = CreateInteractionResponse::Message(to_response(view));
    if let Err(e) = cmd.create_response(&ctx.http, r).await {
        tracing::warn!(error = %e, "could not respond to a command");
    }
}

async fn edit(ctx: &Context, cmd: &CommandInteraction, view: View) {
    if let Err(e) = cmd.edit_response(&ctx.http, to_edit(view)).await {
        tracing::warn!(error = %e, "could not send the reply");
    }
}

async fn respond_component(ctx: &Context, press: &ComponentInteraction, view: View) {
    let r = CreateInteractionResponse::Message(to_response(view));
    if let Err(e) = press.create_response(&ctx.http, r).await {
        tracing::warn!(error = %e, "could not respond to a button");
    }
}

async fn update_component(ctx: &Context, press: &ComponentInteraction, view: View) {
    let r = CreateInteractionResponse::UpdateMessage(to_response(view));
    if let Err(e) = press.create_response(&ctx.http, r).await {
        tracing::warn!(error = %e, "could not update a message");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mention_is_taken_out_of_the_question() {
        let me = UserId::new(42);
        assert_eq!(
            strip_mention("<@42> who issued the order?", me),
            "who issued the order?"
        );
        assert_eq!(strip_mention("hey <@!42>   what  now", me), "hey what now");
    }

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
