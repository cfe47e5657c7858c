//! Watched news channels: a moderator's links and `.txt`/`.html` attachments posted there (or
//! in a thread of it) are ingested, and the post gets a reaction: ✅ in, 🔁 already had it,
//! ⚠️ failed (with the reason in a thread on the post). An edit that changes the links
//! replaces the post's articles; a deleted post's articles are forgotten unless another post
//! or a feed brought them too. After a restart the bot catches up from the last message it
//! handled in each channel.

use serenity::all::{
    Attachment, AutoArchiveDuration, ChannelId, ChannelType, CreateThread, MessageId,
    MessagePagination, MessageUpdateEvent, RoleId, User,
};

use super::*;
use crate::CONTENT_INTENT_OFF;

/// Links and files taken from one post at most.
const MAX_SOURCES: usize = 10;
/// Messages read per channel when catching up after a restart (bounded: a bot that was down
/// for weeks does not read a channel's whole history).
pub(super) const CATCH_UP_MESSAGES: usize = 500;
/// Threads whose parent channel is remembered (a busy server has many).
const THREADS_REMEMBERED: usize = 10_000;

pub(super) const DONE: &str = "✅";
pub(super) const HAD: &str = "🔁";
pub(super) const FAILED: &str = "⚠️";

/// A post as the bot reads it, from a new message, an edit or the channel's history.
struct Post {
    guild: u64,
    /// Where it was posted (a watched channel or a thread of one).
    channel: ChannelId,
    id: MessageId,
    author: User,
    /// The author's roles, when the event carried them.
    roles: Option<Vec<RoleId>>,
    content: String,
    attachments: Vec<Attachment>,
    /// When it was last edited, for an edit.
    edited: Option<serenity::all::Timestamp>,
}

impl Post {
    fn from_message(guild: u64, msg: &Message) -> Post {
        Post {
            guild,
            channel: msg.channel_id,
            id: msg.id,
            author: msg.author.clone(),
            roles: msg.member.as_ref().map(|m| m.roles.clone()),
            content: msg.content.clone(),
            attachments: msg.attachments.clone(),
            edited: msg.edited_timestamp,
        }
    }

    /// Its links and article files, in order, each once: the keys it is remembered by.
    fn sources(&self, extensions: &[&str]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for link in links(&self.content) {
            if !out.contains(&link) {
                out.push(link);
            }
        }
        for a in &self.attachments {
            let name = a.filename.to_ascii_lowercase();
            let ext = name.rsplit_once('.').map_or("", |(_, e)| e);
            if extensions.contains(&ext) {
                out.push(file_key(a));
            }
        }
        out.truncate(MAX_SOURCES);
        out
    }
}

/// How an attachment is remembered among a post's sources.
fn file_key(a: &Attachment) -> String {
    format!("file:{}:{}", a.id.get(), a.filename)
}

/// The http(s) links of a message: bare, in `<...>` (no preview) or in markdown `[text](...)`.
pub(crate) fn links(content: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = content;
    while let Some(at) = rest.find("http") {
        let tail = &rest[at..];
        if !(tail.starts_with("http://") || tail.starts_with("https://")) {
            rest = &tail[4..];
            continue;
        }
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '|' | '`'))
            .unwrap_or(tail.len());
        let mut link = &tail[..end];
        // A markdown link's closing parenthesis, and sentence punctuation, are not the URL's;
        // a parenthesis opened inside it (Wikipedia) is.
        loop {
            let trimmed = link.trim_end_matches(['.', ',', ';', ':', '!', '?', '*', '_', '~']);
            let trimmed = if trimmed.ends_with(')')
                && trimmed.matches(')').count() > trimmed.matches('(').count()
            {
                &trimmed[..trimmed.len() - 1]
            } else {
                trimmed
            };
            if trimmed == link {
                break;
            }
            link = trimmed;
        }
        if link.len() > "https://".len() {
            out.push(link.to_owned());
        }
        rest = &tail[end..];
    }
    out
}

/// The watched channel a post belongs to.
struct WatchedHere {
    /// The watched channel (the post's, or its thread's parent).
    channel: u64,
    /// Members' posts count there, not only moderators'.
    members: bool,
    /// The server's watch state has it; otherwise only the config lists it.
    recorded: bool,
}

/// What ingesting a post's sources came to.
#[derive(Default)]
struct Outcome {
    articles: Vec<String>,
    added: bool,
    had: bool,
    failures: Vec<String>,
}

impl Handler {
    /// `/watch channel: [members:]` and `/unwatch channel:`.
    #[tracing::instrument(skip_all, fields(guild, user = cmd.user.id.get()))]
    pub(super) async fn watch_command(
        &self,
        ctx: &Context,
        cmd: &CommandInteraction,
        guild: u64,
        on: bool,
    ) {
        let options = cmd.data.options();
        let channel = match option(&options, "channel") {
            Some(ResolvedValue::Channel(c)) => c.id.get(),
            Some(ResolvedValue::Unresolved(Unresolved::Channel(id))) => id.get(),
            _ => {
                respond(ctx, cmd, render::rejected("name a channel.")).await;
                return;
            }
        };
        let members = matches!(
            option(&options, "members"),
            Some(ResolvedValue::Boolean(true))
        );
        if on && !self.reads_posts() {
            let why = match self.message_content {
                false => format!("{CONTENT_INTENT_OFF}."),
                true => "watching channels is off: set `watch = true` under `[discord]` in the bot's config and restart it.".to_owned(),
            };
            respond(ctx, cmd, render::rejected(&why)).await;
            return;
        }
        let since = cmd.id.get();
        let changed = match on {
            true => {
                self.call(move |b| b.watch(guild, channel, since, members))
                    .await
            }
            false => {
                let listed = self.config.watch_channels.contains(&channel);
                self.call(move |b| b.unwatch(guild, channel, listed)).await
            }
        };
        let listed = self.config.watch_channels.contains(&channel);
        let view = match changed {
            Ok(changed) => {
                tracing::info!(channel, on, members, changed, "watch changed");
                render::watching(channel, on, members, changed, listed)
            }
            Err(e) => backend_error(e, "watch"),
        };
        respond(ctx, cmd, view).await;
    }

    /// Whether posts can be read: the intent is on and watching is configured.
    fn reads_posts(&self) -> bool {
        self.message_content && (self.config.watch || !self.config.watch_channels.is_empty())
    }

    /// A new message: a post to ingest when it is in a watched channel.
    pub(super) async fn watched_message(&self, ctx: &Context, msg: &Message) {
        let Some(guild) = msg.guild_id else {
            return;
        };
        if msg.author.bot || !self.reads_posts() {
            return;
        }
        let post = Post::from_message(guild.get(), msg);
        self.handle_post(ctx, post).await;
    }

    /// An edited message: handled again when its links or files changed.
    pub(super) async fn watched_edit(&self, ctx: &Context, event: &MessageUpdateEvent) {
        let (Some(guild), Some(author), Some(content)) = (
            event.guild_id,
            event.author.as_ref(),
            event.content.as_ref(),
        ) else {
            return;
        };
        if author.bot || !self.reads_posts() {
            return;
        }
        let post = Post {
            guild: guild.get(),
            channel: event.channel_id,
            id: event.id,
            author: author.clone(),
            roles: event.member.clone().flatten().map(|m| m.roles),
            content: content.clone(),
            attachments: event.attachments.clone().unwrap_or_default(),
            edited: event.edited_timestamp,
        };
        self.handle_post(ctx, post).await;
    }

    /// A deleted message: its articles are forgotten unless something else brought them.
    pub(super) async fn watched_delete(&self, guild: Option<GuildId>, message: MessageId) {
        let Some(guild) = guild.map(|g| g.get()) else {
            return;
        };
        if !self.reads_posts() {
            return;
        }
        let message = message.get();
        self.state().deleted.insert(message, ());
        // After a post's ingest that is still running: its record is written first, then
        // dropped here, and not written after the delete (articles held forever).
        let _after_its_ingest = self.post_lock(guild).lock_owned().await;
        match self.call(move |b| b.post_deleted(guild, message)).await {
            Ok(gone) => {
                tracing::info!(
                    guild,
                    message,
                    forgotten = gone.len(),
                    "a deleted post handled"
                );
            }
            Err(e) => {
                tracing::error!(guild, message, error = %e, "could not forget a deleted post's articles")
            }
        }
    }

    /// The watched channel a channel belongs to (itself, or a thread's parent); `None` when
    /// it is not watched.
    async fn watched_channel(
        &self,
        ctx: &Context,
        guild: u64,
        channel: ChannelId,
    ) -> Option<WatchedHere> {
        let read = self
            .call(move |b| Ok((b.watched(Some(guild))?, b.unwatched(guild)?)))
            .await;
        let (watched, unwatched) = match read {
            Ok(w) => w,
            Err(e) => {
                tracing::error!(guild, error = %e, "could not read the watched channels");
                return None;
            }
        };
        // The server's own record first (a /watch, or a listed channel already seen), then
        // the config's list, unless a moderator stopped it.
        let find = |id: u64| -> Option<WatchedHere> {
            watched
                .iter()
                .find(|w| w.channel == id)
                .map(|w| WatchedHere {
                    channel: id,
                    members: w.members,
                    recorded: true,
                })
                .or_else(|| {
                    (self.config.watch_channels.contains(&id) && !unwatched.contains(&id))
                        .then_some(WatchedHere {
                            channel: id,
                            members: self.config.watch_members,
                            recorded: false,
                        })
                })
        };
        if let Some(found) = find(channel.get()) {
            return Some(found);
        }
        if watched.is_empty() && self.config.watch_channels.is_empty() {
            return None;
        }
        // A thread of a watched channel counts as the channel.
        let known = self.state().threads.get(&channel.get()).copied();
        let parent = match known {
            Some(parent) => parent,
            None => {
                let parent = match ctx.http.get_channel(channel).await {
                    Ok(serenity::all::Channel::Guild(c))
                        if matches!(
                            c.kind,
                            ChannelType::PublicThread
                                | ChannelType::PrivateThread
                                | ChannelType::NewsThread
                        ) =>
                    {
                        c.parent_id.map(|p| p.get())
                    }
                    Ok(_) => None,
                    Err(e) => {
                        tracing::warn!(channel = channel.get(), error = %e, "could not read a channel");
                        return None;
                    }
                };
                let mut state = self.state();
                if state.threads.len() >= THREADS_REMEMBERED {
                    state.threads.clear();
                }
                state.threads.insert(channel.get(), parent);
                parent
            }
        };
        parent.and_then(find)
    }

    /// Ingests a post's links and files when it is in a watched channel and by a moderator
    /// (or anyone, where the channel says so), reacts, and records what it brought.
    async fn handle_post(&self, ctx: &Context, post: Post) {
        let guild = post.guild;
        let Some(here) = self.watched_channel(ctx, guild, post.channel).await else {
            return;
        };
        let (watched, members) = (here.channel, here.members);
        let _one_at_a_time = self.post_lock(guild).lock_owned().await;
        if self.state().deleted.get(post.id.get()).is_some() {
            tracing::info!(
                guild,
                message = post.id.get(),
                "a post deleted before it was handled left alone"
            );
            return;
        }
        if let Some(edited) = post.edited {
            let mut state = self.state();
            let key = post.id.get();
            if state.edits.get(key).is_some_and(|newest| newest > edited) {
                tracing::info!(
                    guild,
                    message = key,
                    "an edit older than one handled left alone"
                );
                return;
            }
            state.edits.insert(key, edited);
        }
        // A channel listed in the config is remembered like a /watch one, for the catch-up,
        // once: a moderator's /watch or /unwatch there since stands.
        if !here.recorded {
            let (since, members) = (post.id.get() - 1, self.config.watch_members);
            if let Err(e) = self
                .call(move |b| b.watch(guild, watched, since, members))
                .await
            {
                tracing::error!(guild, channel = watched, error = %e, "could not record a watched channel");
            }
        }
        let message = post.id.get();
        let channel = post.channel.get();
        let sources = post.sources(self.backend.article_extensions());
        let before = self
            .call(move |b| b.post_sources(guild, message))
            .await
            .unwrap_or_else(|e| {
                tracing::error!(guild, message, error = %e, "could not read a post's record");
                None
            });
        if before.as_ref() == Some(&sources) || (before.is_none() && sources.is_empty()) {
            // Nothing new: a message without links, or an edit that kept them (a preview).
            self.seen(guild, watched, &post).await;
            return;
        }
        if !members && !self.posted_by_moderator(ctx, &post, watched).await {
            tracing::info!(
                guild,
                channel,
                user = post.author.id.get(),
                "a member's post in a watched channel left alone"
            );
            self.seen(guild, watched, &post).await;
            return;
        }
        let outcome = self.ingest_post(&post, &sources).await;
        let articles = outcome.articles.clone();
        let recorded = self
            .call(move |b| b.post(guild, channel, message, sources, articles))
            .await;
        match recorded {
            Ok(gone) => {
                if !gone.is_empty() {
                    tracing::info!(
                        guild,
                        message,
                        forgotten = gone.len(),
                        "an edited post's old articles forgotten"
                    );
                }
            }
            Err(e) => tracing::error!(guild, message, error = %e, "could not record a post"),
        }
        tracing::info!(
            guild,
            channel,
            message,
            articles = outcome.articles.len(),
            failures = outcome.failures.len(),
            "post in a watched channel handled"
        );
        self.acknowledge_post(ctx, &post, &outcome, channel != watched)
            .await;
    }

    /// The server's post lock: its posts are handled (ingested, recorded, deleted) one at a
    /// time, in the order their events came.
    fn post_lock(&self, guild: u64) -> Arc<tokio::sync::Mutex<()>> {
        Arc::clone(self.state().post_locks.entry(guild).or_default())
    }

    /// Records a message of a watched channel as handled (the catch-up starts after it). A
    /// thread's messages are not caught up on: its parent's last message stays.
    async fn seen(&self, guild: u64, watched: u64, post: &Post) {
        if post.channel.get() != watched {
            return;
        }
        let message = post.id.get();
        if let Err(e) = self
            .call(move |b| b.post_seen(guild, watched, message))
            .await
        {
            tracing::error!(guild, error = %e, "could not record the last message handled");
        }
    }

    /// Whether a post's author moderates the watched channel: the server's owner, Manage
    /// Messages (or Administrator) in the channel as Discord computes it (the server's roles
    /// and the channel's overwrites), or a role named in `moderator_roles`.
    async fn posted_by_moderator(&self, ctx: &Context, post: &Post, watched: u64) -> bool {
        let guild = GuildId::new(post.guild);
        let Some(facts) = self.guild_facts(ctx, guild, &[]).await else {
            return false;
        };
        if post.author.id == facts.owner {
            return true;
        }
        let roles = match &post.roles {
            Some(r) => r.clone(),
            // From the channel's history: the message has no member; ask for it.
            None => match guild.member(&ctx.http, post.author.id).await {
                Ok(m) => m.roles,
                Err(e) => {
                    tracing::warn!(user = post.author.id.get(), error = %e, "could not read a member");
                    return false;
                }
            },
        };
        // Read again when the member has a role made since.
        let Some(facts) = self.guild_facts(ctx, guild, &roles).await else {
            return false;
        };
        let overwrites = self.overwrites(ctx, ChannelId::new(watched)).await;
        let permissions = facts.permissions_in(post.author.id, &roles, &overwrites);
        permissions.manage_messages()
            || permissions.administrator()
            || facts.has_role_named(&roles, &self.config.moderator_roles)
    }

    /// Ingests each source of a post, as `/ingest` would.
    async fn ingest_post(&self, post: &Post, sources: &[String]) -> Outcome {
        let mut out = Outcome::default();
        let guild = post.guild;
        for key in sources {
            // What to ingest, and how a failure names it: the link, or the file's name.
            let (source, shown) = match key.strip_prefix("file:") {
                None => (
                    Source::Url {
                        url: key.clone(),
                        title: None,
                    },
                    key.clone(),
                ),
                Some(_) => {
                    let Some(file) = post.attachments.iter().find(|a| file_key(a) == *key) else {
                        continue;
                    };
                    match self.download(file).await {
                        Ok(bytes) => (
                            Source::File {
                                name: file.filename.clone(),
                                bytes,
                                title: None,
                            },
                            file.filename.clone(),
                        ),
                        Err(reason) => {
                            out.failures.push(reason);
                            continue;
                        }
                    }
                }
            };
            let by = HeldBy::Post(post.id.get());
            match self.call(move |b| b.ingest(guild, source, by)).await {
                Ok(done) => {
                    match done.status {
                        crate::backend::IngestStatus::Unchanged => out.had = true,
                        _ => out.added = true,
                    }
                    out.articles.push(done.id);
                }
                Err(BackendError::Busy) => out.failures.push(format!(
                    "{shown}: the bot is busy; post it again in a minute."
                )),
                Err(BackendError::Rejected(reason)) => {
                    out.failures.push(format!("{shown}: {reason}"))
                }
                Err(e) => {
                    tracing::error!(error = format!("{e:#}"), "ingesting a post failed");
                    out.failures
                        .push(format!("{shown}: something went wrong on our side."));
                }
            }
        }
        out
    }

    /// Reacts to a handled post, and explains failures in a thread on it (or in its thread).
    async fn acknowledge_post(
        &self,
        ctx: &Context,
        post: &Post,
        outcome: &Outcome,
        in_thread: bool,
    ) {
        let mut reactions = Vec::new();
        if outcome.added {
            reactions.push(DONE);
        } else if outcome.had {
            reactions.push(HAD);
        }
        if !outcome.failures.is_empty() {
            reactions.push(FAILED);
        }
        for emoji in reactions {
            if let Err(e) = send::react(&ctx.http, post.channel, post.id, emoji).await {
                tracing::warn!(error = %e, "could not react to a post");
            }
        }
        if outcome.failures.is_empty() {
            return;
        }
        let view = render::post_failures(&outcome.failures);
        let target = if in_thread {
            Some(post.channel)
        } else {
            let thread = CreateThread::new("newsqa: not ingested")
                .auto_archive_duration(AutoArchiveDuration::OneDay);
            match post
                .channel
                .create_thread_from_message(&ctx.http, post.id, thread)
                .await
            {
                Ok(t) => Some(t.id),
                Err(e) => {
                    tracing::warn!(error = %e, "could not open a thread on a post");
                    None
                }
            }
        };
        if let Some(channel) = target {
            if let Err(e) = send::post(&ctx.http, channel, view, None).await {
                tracing::warn!(error = %e, "could not explain a failed post");
            }
        }
    }

    /// After a (re)start: the posts made in each watched channel of the shard's servers
    /// (`shard`: its id and the total) since the last message handled there, oldest first, at
    /// most [`CATCH_UP_MESSAGES`] a channel. What was handled already is not handled again.
    pub(super) async fn catch_up(&self, ctx: &Context, shard: Option<(u32, u32)>) {
        if !self.reads_posts() {
            return;
        }
        let watched = match self.call(|b| b.watched(None)).await {
            Ok(w) => w,
            Err(e) => {
                tracing::error!(error = %e, "could not read the watched channels");
                return;
            }
        };
        let ours = |guild: u64| shard.is_none_or(|(id, total)| crate::shard_of(guild, total) == id);
        for w in watched.into_iter().filter(|w| ours(w.guild)) {
            let channel = ChannelId::new(w.channel);
            let mut after = MessageId::new(w.last.max(1));
            let mut read = 0;
            let mut handled = 0;
            while read < CATCH_UP_MESSAGES {
                let page = ctx
                    .http
                    .get_messages(channel, Some(MessagePagination::After(after)), Some(100))
                    .await;
                let mut page = match page {
                    Ok(p) => p,
                    Err(e) => {
                        tracing::warn!(channel = w.channel, error = %e, "could not read a watched channel's history");
                        break;
                    }
                };
                if page.is_empty() {
                    break;
                }
                page.sort_by_key(|m| m.id);
                read += page.len();
                after = page.last().map_or(after, |m| m.id);
                for msg in page {
                    if msg.author.bot {
                        continue;
                    }
                    let message = msg.id.get();
                    let known = self
                        .call(move |b| b.post_sources(w.guild, message))
                        .await
                        .ok()
                        .flatten()
                        .is_some();
                    if !known {
                        self.handle_post(ctx, Post::from_message(w.guild, &msg))
                            .await;
                        handled += 1;
                    }
                }
            }
            let guild = w.guild;
            if let Err(e) = self.call(move |b| b.caught_up(guild)).await {
                tracing::error!(guild, error = %e, "could not record the catch-up");
            }
            tracing::info!(
                guild = w.guild,
                channel = w.channel,
                read,
                handled,
                "caught up with a watched channel"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::links;

    #[test]
    fn links_are_found_bare_in_angle_brackets_and_in_markdown() {
        assert_eq!(
            links("New: https://example.com/a?x=1, and <https://example.com/b> or [c](https://example.com/c). Also http://x.org/wiki/A_(b)."),
            [
                "https://example.com/a?x=1",
                "https://example.com/b",
                "https://example.com/c",
                "http://x.org/wiki/A_(b)",
            ]
        );
        assert!(links("httpx://no and https:// alone, http").is_empty());
        assert_eq!(
            links("**https://example.com/d**"),
            ["https://example.com/d"]
        );
    }
}
