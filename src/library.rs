//! The bot's side of the engine: one corpus (index) per Discord server, all sharing one pair of
//! models, behind the [`newsqa_bot::Backend`] trait the adapter calls.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use newsqa_bot::{
    Announcement, Answer, AnswerKind, ArticleSummary, ArticleText, Backend, BackendError, Earlier,
    FeedInfo, Feedback, GuildId, HeldBy, IngestStatus, Ingested, OlderAnswer, Outcome, Source,
    Watched,
};
use newsqa_index::{ArticleInfo, IndexError, Metadata, Origin, Upsert};
use newsqa_models::ModelError;

use crate::answerable::Abstention;
use crate::engine::{Candidate, Engine, Models, Reply};
use crate::feeds::{FeedStore, PollReport, Subscription};
use crate::guilds::Guilds;
use crate::holders::Holder;
use crate::question::followup::Turn;
use crate::question::Form;
use crate::watch::{Channel as WatchedChannel, Post as WatchedPost, WatchStore};
use crate::Config;

/// Every server's corpus, opened on first use.
pub struct Library {
    config: Config,
    models: Models,
    /// The servers' directory: corpora, watch files, locks (`guilds.rs`).
    guilds: Guilds,
    /// Open corpora, at most `[index] max_open_servers`; the least recently used is closed
    /// (dropped once no call still holds it) when another must open.
    engines: Mutex<lru::LruCache<GuildId, Arc<Engine>>>,
    feedback: Mutex<()>,
    fetcher: newsqa_web::Fetcher,
    feeds: FeedStore,
    /// Set when the bot is shutting down: feed rounds stop after their current feed.
    stopping: std::sync::atomic::AtomicBool,
    /// Watched news channels and their posts, per server.
    watches: WatchStore,
    /// When each server's recent ingests came, for `[quotas] ingests_per_minute`.
    recent_ingests:
        Mutex<std::collections::HashMap<GuildId, std::collections::VecDeque<std::time::Instant>>>,
}

/// Why a server may not add an article now, or `None`: its corpus holds `[quotas] articles`
/// or takes `disk_mb` on disk. Said to the moderator as it is.
pub fn corpus_full(engine: &Engine, dir: &std::path::Path) -> Result<Option<String>> {
    let quotas = &engine.config().quotas;
    let articles = engine.index().article_count()?;
    if quotas.articles > 0 && articles >= quotas.articles {
        return Ok(Some(format!(
            "this server has {articles} articles, the most it may have. Forget some with /forget (see /articles), or ask the bot's operator to raise `[quotas] articles`."
        )));
    }
    let mb = dir_bytes(dir) / (1024 * 1024);
    if quotas.disk_mb > 0 && mb >= quotas.disk_mb {
        return Ok(Some(format!(
            "this server's articles take {mb} MB, the most they may. Forget some with /forget (see /articles), or ask the bot's operator to raise `[quotas] disk_mb`."
        )));
    }
    Ok(None)
}

/// The bytes of the files in a directory and below it (an index is a few dozen files).
fn dir_bytes(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            _ => e.metadata().map_or(0, |m| m.len()),
        })
        .sum()
}

impl Library {
    /// Loads the models; corpora live in subdirectories of the config's `[index] guilds`.
    pub fn open(config: Config) -> Result<Library> {
        let root = config.index.guilds.clone();
        std::fs::create_dir_all(&root)
            .with_context(|| format!("creating the server index directory {}", root.display()))?;
        let guilds = Guilds::new(&root);
        let fetcher = config.fetch.fetcher()?;
        let models = Models::load(&config)?;
        let open_cap = std::num::NonZeroUsize::new(config.index.max_open_servers.max(1))
            .expect("at least one");
        Ok(Library {
            fetcher,
            feeds: FeedStore::new(&config.feeds.state),
            watches: WatchStore::new(guilds.clone()),
            stopping: std::sync::atomic::AtomicBool::new(false),
            config,
            models,
            guilds,
            engines: Mutex::new(lru::LruCache::new(open_cap)),
            feedback: Mutex::new(()),
            recent_ingests: Mutex::new(std::collections::HashMap::new()),
        })
    }

    /// The engine answering from one server's articles.
    pub fn corpus(&self, guild: GuildId) -> Result<Arc<Engine>> {
        let mut engines = self.engines.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = engines.get(&guild) {
            return Ok(Arc::clone(e));
        }
        let path = self.guilds.corpus(guild);
        let engine = Arc::new(Engine::open_with(
            self.config.clone(),
            self.models.for_tenant(guild),
            &path,
        )?);
        if let Some((closed, _)) = engines.push(guild, Arc::clone(&engine)) {
            tracing::debug!(
                guild = closed,
                "closed the least recently used server corpus"
            );
        }
        Ok(engine)
    }

    /// How many server corpora are open now (at most `[index] max_open_servers`).
    pub fn open_servers(&self) -> usize {
        self.engines.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// The engine of a server that has articles; `None` for one that never ingested any, so
    /// that asking or listing there creates nothing on disk and keeps no engine.
    fn existing_corpus(&self, guild: GuildId) -> Result<Option<Arc<Engine>>> {
        let known = self
            .engines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&guild);
        if !known && !newsqa_index::ArticleIndex::exists(&self.guild_dir(guild)) {
            return Ok(None);
        }
        self.corpus(guild).map(Some)
    }

    fn guild_dir(&self, guild: GuildId) -> PathBuf {
        self.guilds.corpus(guild)
    }

    fn poll_interval(&self) -> u64 {
        (self.config.feeds.poll_minutes * 60.0).max(1.0) as u64
    }

    fn feed_info(&self, s: &Subscription) -> FeedInfo {
        FeedInfo {
            url: newsqa_web::shown_url(&s.url),
            title: s.title.clone(),
            articles: s.ingested,
            channel: s.channel,
            last_error: s.last_error.clone(),
            failing: s.failing_for(self.config.feeds.report_after_hours, crate::feeds::now()),
            given_up: s.given_up,
        }
    }

    /// Polls claimed subscriptions of this library's servers through the one poll loop
    /// ([`crate::feeds::poll_claimed`]) and stores each one's new state.
    fn poll_claimed(
        &self,
        claimed: Vec<Subscription>,
    ) -> Result<Vec<(Subscription, Result<PollReport>)>> {
        if claimed.is_empty() {
            return Ok(Vec::new());
        }
        let runtime = tokio::runtime::Handle::try_current()
            .context("polling needs the bot's async runtime")?;
        Ok(runtime.block_on(crate::feeds::poll_claimed(
            &self.feeds,
            &self.fetcher,
            self.config.feeds.round(1.0),
            claimed,
            |sub| {
                let guild = sub
                    .guild
                    .context("a feed of the command line's own index")?;
                self.corpus(guild)
            },
            || self.stopping.load(std::sync::atomic::Ordering::SeqCst),
        )))
    }

    /// Whether a subscription is one of this library's server feeds.
    fn owns(&self, sub: &Subscription) -> bool {
        sub.guild
            .is_some_and(|g| sub.index == self.guild_dir(g) && self.config.discord.owns(g))
    }

    /// Counts an ingest against `[quotas] ingests_per_minute`, or says why it may not run.
    fn take_ingest_turn(&self, guild: GuildId) -> Result<(), BackendError> {
        let per_minute = self.config.quotas.ingests_per_minute;
        if per_minute == 0 {
            return Ok(());
        }
        let now = std::time::Instant::now();
        let minute = std::time::Duration::from_secs(60);
        let mut recent = self
            .recent_ingests
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if recent.len() > 10_000 {
            recent.retain(|_, q| q.back().is_some_and(|t| now.duration_since(*t) < minute));
        }
        let turns = recent.entry(guild).or_default();
        while turns
            .front()
            .is_some_and(|t| now.duration_since(*t) >= minute)
        {
            turns.pop_front();
        }
        if turns.len() >= per_minute {
            let wait = turns
                .front()
                .map_or(60, |t| 60 - now.duration_since(*t).as_secs().min(59));
            return Err(BackendError::Rejected(format!(
                "this server has sent in {} articles in the last minute, the most it may; try again in {wait} s.",
                turns.len()
            )));
        }
        turns.push_back(now);
        Ok(())
    }

    /// Where votes are appended, one JSON object per line.
    pub fn feedback_path(&self) -> PathBuf {
        self.guilds.root().join("feedback.jsonl")
    }
}

/// The article a lookup by id, URL or id prefix found, or why none: not found, or a prefix
/// that several ids share.
fn found<T>(wanted: &str, lookup: Result<Option<T>>) -> Result<T, BackendError> {
    match lookup {
        Ok(Some(found)) => Ok(found),
        Ok(None) => Err(BackendError::NotFound(wanted.to_owned())),
        Err(e) => match e.downcast_ref::<IndexError>() {
            Some(IndexError::Ambiguous { matches, .. }) => Err(BackendError::Ambiguous {
                prefix: wanted.to_owned(),
                count: *matches,
            }),
            _ => Err(internal(e)),
        },
    }
}

fn is_busy(e: &anyhow::Error) -> bool {
    e.chain()
        .any(|c| matches!(c.downcast_ref::<ModelError>(), Some(ModelError::Busy(_))))
}

/// Whether another process held the index's writer lock for longer than the wait.
fn is_index_busy(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<IndexError>(),
            Some(IndexError::Busy { .. })
        )
    })
}

fn internal(e: anyhow::Error) -> BackendError {
    if is_busy(&e) {
        BackendError::Busy
    } else if is_index_busy(&e) {
        // Another process (a CLI bulk ingest) holds the server's index for longer than the
        // wait: the moderator can try again, nothing is wrong.
        BackendError::Rejected(
            "The article index is busy: another newsqa process is writing to it. \
             Try again when it is done."
                .into(),
        )
    } else {
        BackendError::Internal(e)
    }
}

fn summary(a: ArticleInfo) -> ArticleSummary {
    ArticleSummary {
        id: a.id,
        title: a.title,
        url: a.url,
        sentences: a.sentences,
    }
}

/// The engine's answer as the bot shows it, with the answer located in its passage, and the
/// older article's answer it was preferred to.
fn to_answer(reply: Reply, c: Candidate) -> Answer {
    let older = reply.older;
    let answer_in_passage = c
        .passage
        .find(&c.citation)
        .and_then(|at| {
            c.citation
                .find(&c.answer)
                .map(|i| at + i..at + i + c.answer.len())
        })
        .or_else(|| c.passage.find(&c.answer).map(|i| i..i + c.answer.len()));
    let kind = match reply.reading.form {
        Form::YesNo => AnswerKind::Sentence,
        _ => AnswerKind::Span,
    };
    Answer {
        question: reply.reading.question,
        kind,
        continues: reply.continues.map(|t| Earlier {
            question: t.question,
            answer: t.answer,
            citation: t.citation,
            article_id: t.article_id,
            title: t.title,
        }),
        text: c.answer,
        citation: c.citation,
        article_id: c.article_id,
        title: c.title,
        url: c.url,
        date: c.date.map(|d| d.to_string()),
        confidence: c.score,
        older: older.and_then(|o| {
            Some(OlderAnswer {
                date: o.date?.to_string(),
                text: o.answer,
                title: o.title,
                url: o.url,
            })
        }),
        passage: c.passage,
        answer_in_passage,
    }
}

impl Backend for Library {
    fn ask(
        &self,
        guild: GuildId,
        question: &str,
        after: Option<&Earlier>,
    ) -> Result<Outcome, BackendError> {
        let Some(engine) = self.existing_corpus(guild)? else {
            return Ok(Outcome::NoArticles);
        };
        let after = after.map(|e| Turn {
            question: e.question.clone(),
            answer: e.answer.clone(),
            citation: e.citation.clone(),
            article_id: e.article_id.clone(),
            title: e.title.clone(),
        });
        let mut reply = engine
            .ask_after(question, after.as_ref(), false)
            .map_err(internal)?;
        Ok(match (reply.best.take(), &reply.abstention) {
            (Some(best), _) => Outcome::Answer(Box::new(to_answer(reply, best))),
            (None, Some(Abstention::NotAQuestion)) => Outcome::NotAQuestion,
            (None, Some(Abstention::NoArticles)) => Outcome::NoArticles,
            (None, reason) => Outcome::NotFound {
                reason: reason.as_ref().and_then(|a| a.specific_message()),
            },
        })
    }

    fn ingest(&self, guild: GuildId, source: Source, by: HeldBy) -> Result<Ingested, BackendError> {
        let engine = self.corpus(guild)?;
        let holder = match by {
            HeldBy::Command => Holder::Manual,
            HeldBy::Post(message) => Holder::Post(message),
        };
        self.take_ingest_turn(guild)?;
        // Pasted or uploaded in a chat: the page's declared URL is never believed (it could
        // claim, and replace, any publisher's story).
        let text_meta = |source: String, title| Metadata {
            source,
            title,
            url: None,
            origin: Origin::Upload,
        };
        let parsed = match source {
            Source::Text { text, title } => {
                engine.parse(text.as_bytes(), text_meta("discord message".into(), title))
            }
            Source::File { name, bytes, title } => engine.parse(&bytes, text_meta(name, title)),
            Source::Url { url, title } => {
                let fetched = tokio::runtime::Handle::try_current()
                    .context("fetching needs the bot's async runtime")?
                    .block_on(self.fetcher.page(&url));
                match fetched {
                    // Every fetch refusal (private address, size, type, status) is for the moderator.
                    Err(e) => return Err(BackendError::Rejected(e.to_string())),
                    Ok(page) => crate::web::article_from_page(&engine, page, title, None),
                }
            }
        };
        let article = parsed.map_err(|e| match e.downcast_ref::<IndexError>() {
            Some(index_error) => BackendError::Rejected(index_error.to_string()),
            None => internal(e),
        })?;
        // A new article must fit the server's quotas; an update of one it has always does.
        if engine.find_id(&article.id)?.is_none() {
            if let Some(full) = corpus_full(&engine, &self.guild_dir(guild))? {
                return Err(BackendError::Rejected(full));
            }
        }
        let done = engine.ingest_one(&article, &holder).map_err(internal)?;
        Ok(Ingested {
            id: done.id,
            title: done.title,
            url: article.url,
            sentences: done.sentences,
            cut_from: done.cut_from,
            status: match done.status {
                Upsert::Added => IngestStatus::Added,
                Upsert::Updated => IngestStatus::Updated,
                _ => IngestStatus::Unchanged,
            },
        })
    }

    fn articles(&self, guild: GuildId) -> Result<Vec<ArticleSummary>, BackendError> {
        let Some(engine) = self.existing_corpus(guild)? else {
            return Ok(Vec::new());
        };
        Ok(engine.articles()?.into_iter().map(summary).collect())
    }

    fn lookup(&self, guild: GuildId, id_or_url: &str) -> Result<ArticleSummary, BackendError> {
        let wanted = id_or_url.trim();
        let Some(engine) = self.existing_corpus(guild)? else {
            return Err(BackendError::NotFound(wanted.to_owned()));
        };
        found(wanted, engine.find(wanted)).map(summary)
    }

    fn article_text(&self, guild: GuildId, id_or_url: &str) -> Result<ArticleText, BackendError> {
        let wanted = id_or_url.trim();
        let Some(engine) = self.existing_corpus(guild)? else {
            return Err(BackendError::NotFound(wanted.to_owned()));
        };
        let (info, sentences) = found(wanted, engine.show(wanted))?;
        Ok(ArticleText {
            id: info.id,
            title: info.title,
            url: info.url,
            date: info.date,
            source: info.source,
            sentences,
        })
    }

    fn forget(&self, guild: GuildId, id: &str) -> Result<Option<ArticleSummary>, BackendError> {
        let Some(engine) = self.existing_corpus(guild)? else {
            return Ok(None);
        };
        Ok(engine.forget_id(id)?.map(summary))
    }

    fn feedback(&self, feedback: &Feedback) -> Result<(), BackendError> {
        #[derive(serde::Serialize)]
        struct Line<'a> {
            at: u64,
            #[serde(flatten)]
            feedback: &'a Feedback,
        }
        let at = crate::feeds::now();
        let mut line = serde_json::to_string(&Line { at, feedback }).context("encoding a vote")?;
        line.push('\n');
        let path = self.feedback_path();
        let _one_writer = self.feedback.lock().unwrap_or_else(|e| e.into_inner());
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(line.as_bytes()))
            .with_context(|| format!("appending to {}", path.display()))?;
        Ok(())
    }

    fn max_article_bytes(&self) -> u64 {
        self.config.ingest.max_bytes
    }

    fn article_extensions(&self) -> &'static [&'static str] {
        newsqa_index::ARTICLE_EXTENSIONS
    }

    fn feed_add(
        &self,
        guild: GuildId,
        url: &str,
        channel: Option<u64>,
    ) -> Result<(FeedInfo, usize), BackendError> {
        let url = url.trim();
        if !crate::web::is_url(url) {
            return Err(BackendError::Rejected(format!(
                "{url:?} is not an http(s) address."
            )));
        }
        let most = self.config.quotas.feeds;
        let follows = self.feeds(guild)?.len();
        if most > 0 && follows >= most {
            return Err(BackendError::Rejected(format!(
                "this server follows {follows} feeds, the most it may; remove one first (/feed remove), or ask the bot's operator to raise `[quotas] feeds`."
            )));
        }
        let sub = Subscription::new(url, &self.guild_dir(guild), Some(guild), channel)
            .claimed_for_first_poll();
        if !self.feeds.add(sub.clone())? {
            return Err(BackendError::Rejected(format!(
                "this server already follows {}.",
                newsqa_web::shown_url(url)
            )));
        }
        // The first poll decides: a link that is not a feed is refused and not kept.
        let polled = self.poll_claimed(vec![sub])?;
        let Some((sub, report)) = polled.into_iter().next() else {
            return Err(anyhow::anyhow!("the first poll did not run").into());
        };
        let report = report?;
        if let Some(error) = report.error {
            self.feeds.remove(&sub.url, &sub.index)?;
            return Err(BackendError::Rejected(error));
        }
        Ok((self.feed_info(&sub), report.added.len()))
    }

    fn feeds(&self, guild: GuildId) -> Result<Vec<FeedInfo>, BackendError> {
        let dir = self.guild_dir(guild);
        Ok(self
            .feeds
            .load()?
            .iter()
            .filter(|s| s.guild == Some(guild) && s.index == dir)
            .map(|s| self.feed_info(s))
            .collect())
    }

    fn feed_remove(&self, guild: GuildId, url: &str) -> Result<Option<FeedInfo>, BackendError> {
        Ok(self
            .feeds
            .remove(url, &self.guild_dir(guild))?
            .map(|s| self.feed_info(&s)))
    }

    fn poll_feeds(&self) -> Vec<Announcement> {
        let at = crate::feeds::now();
        let polled = self
            .feeds
            .claim(|s| self.owns(s) && s.next_poll <= at)
            .and_then(|claimed| self.poll_claimed(claimed));
        let polled = match polled {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = format!("{e:#}"), "polling the feeds");
                return Vec::new();
            }
        };
        let mut news = Vec::new();
        for (sub, report) in polled {
            let Some(guild) = sub.guild else { continue };
            match report {
                Ok(report) => {
                    if !report.added.is_empty() {
                        tracing::info!(guild, feed = %newsqa_web::shown_url(&sub.url), added = report.added.len(), "feed brought new articles");
                    }
                    if let Some(channel) = sub.channel {
                        let feed = sub
                            .title
                            .clone()
                            .unwrap_or_else(|| newsqa_web::shown_url(&sub.url));
                        news.extend(report.added.into_iter().map(|a| Announcement {
                            guild,
                            channel,
                            feed: feed.clone(),
                            title: a.title,
                            url: a.url,
                        }));
                    }
                }
                Err(e) => {
                    tracing::error!(guild, feed = %newsqa_web::shown_url(&sub.url), error = format!("{e:#}"), "feed poll failed")
                }
            }
        }
        news
    }

    fn stop(&self) {
        self.stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
        if let Err(e) = self.watches.flush() {
            tracing::error!(
                error = format!("{e:#}"),
                "could not write the watched channels' last messages"
            );
        }
    }

    fn feed_tick(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.poll_interval().clamp(1, 60))
    }

    fn watch(
        &self,
        guild: GuildId,
        channel: u64,
        since: u64,
        members: bool,
    ) -> Result<bool, BackendError> {
        Ok(self.watches.update(guild, |s| {
            let resumed = s.unwatched.remove(&channel);
            let changed = resumed
                | match s.channels.get_mut(&channel) {
                    Some(c) if c.members == members => false,
                    Some(c) => {
                        c.members = members;
                        true
                    }
                    None => {
                        let last = since;
                        s.channels.insert(channel, WatchedChannel { last, members });
                        true
                    }
                };
            (changed, changed)
        })?)
    }

    fn unwatch(&self, guild: GuildId, channel: u64, listed: bool) -> Result<bool, BackendError> {
        Ok(self.watches.update(guild, |s| {
            let removed = s.channels.remove(&channel).is_some();
            let stopped = listed && s.unwatched.insert(channel);
            (removed || stopped, removed || stopped)
        })?)
    }

    fn unwatched(&self, guild: GuildId) -> Result<Vec<u64>, BackendError> {
        Ok(self
            .watches
            .read(guild, |s| s.unwatched.iter().copied().collect())?)
    }

    fn watched(&self, guild: Option<GuildId>) -> Result<Vec<Watched>, BackendError> {
        let guilds = match guild {
            Some(g) => vec![g],
            // This process's servers: those of its shards.
            None => self
                .watches
                .guilds()?
                .into_iter()
                .filter(|&g| self.config.discord.owns(g))
                .collect(),
        };
        let mut out = Vec::new();
        for guild in guilds {
            self.watches.read(guild, |state| {
                out.extend(state.channels.iter().map(|(&channel, c)| Watched {
                    guild,
                    channel,
                    last: c.last,
                    members: c.members,
                }))
            })?;
        }
        Ok(out)
    }

    fn post_seen(&self, guild: GuildId, channel: u64, message: u64) -> Result<(), BackendError> {
        Ok(self.watches.saw(guild, channel, message)?)
    }

    fn caught_up(&self, guild: GuildId) -> Result<(), BackendError> {
        Ok(self.watches.flush_guild(guild)?)
    }

    fn post_sources(
        &self,
        guild: GuildId,
        message: u64,
    ) -> Result<Option<Vec<String>>, BackendError> {
        Ok(self
            .watches
            .read(guild, |s| s.posts.get(&message).map(|p| p.sources.clone()))?)
    }

    fn post(
        &self,
        guild: GuildId,
        channel: u64,
        message: u64,
        sources: Vec<String>,
        articles: Vec<String>,
    ) -> Result<Vec<ArticleSummary>, BackendError> {
        let before = self.watches.update(guild, |s| {
            s.saw(channel, message);
            let post = WatchedPost {
                channel,
                sources,
                articles: articles.clone(),
            };
            (s.posts.insert(message, post).map(|p| p.articles), true)
        })?;
        let dropped: Vec<String> = before
            .unwrap_or_default()
            .into_iter()
            .filter(|a| !articles.contains(a))
            .collect();
        self.release(guild, message, &dropped)
    }

    fn post_deleted(
        &self,
        guild: GuildId,
        message: u64,
    ) -> Result<Vec<ArticleSummary>, BackendError> {
        let removed = self.watches.update(guild, |s| {
            let post = s.posts.remove(&message);
            let changed = post.is_some();
            (post, changed)
        })?;
        let Some(post) = removed else {
            return Ok(Vec::new());
        };
        self.release(guild, message, &post.articles)
    }
}

impl Library {
    /// Post `message` lets go of `articles`; those nothing else holds are forgotten.
    fn release(
        &self,
        guild: GuildId,
        message: u64,
        articles: &[String],
    ) -> Result<Vec<ArticleSummary>, BackendError> {
        if articles.is_empty() {
            return Ok(Vec::new());
        }
        let Some(engine) = self.existing_corpus(guild)? else {
            return Ok(Vec::new());
        };
        let forgotten = engine.release(articles, &Holder::Post(message))?;
        for gone in &forgotten {
            tracing::info!(guild, article = %gone.id, "forgot an article that nothing holds any more");
        }
        Ok(forgotten.into_iter().map(summary).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 33 (1): what a post recorded is removed by its exact id or not at all, never
    /// by a URL match or a prefix of another article's id.
    #[test]
    fn a_deleted_post_forgets_exactly_its_own_articles() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.index.guilds = dir.path().join("guilds");
        config.feeds.state = dir.path().join("feeds.json");
        let library = Library::open(config).unwrap();
        let engine = library.corpus(1).unwrap();
        let page = |url: &str, body: &str| {
            let meta = Metadata {
                source: url.into(),
                url: Some(url.into()),
                ..Default::default()
            };
            engine
                .parse(format!("Council news\n\n{body}").as_bytes(), meta)
                .unwrap()
        };
        let story = page(
            "https://site.example/story",
            "The council approved the plan on Monday after a long debate.",
        );
        let update = page(
            "https://site.example/story-update",
            "The council delayed the plan again on Friday, its leader said.",
        );
        engine.ingest_one(&story, &Holder::Post(5)).unwrap();
        let sources = vec![story.id.clone()];
        library
            .post(1, 70, 5, sources.clone(), sources.clone())
            .unwrap();
        // A moderator forgets the story, and brings in the update by hand.
        assert_eq!(library.forget(1, &story.id).unwrap().unwrap().id, story.id);
        engine.ingest_one(&update, &Holder::Manual).unwrap();
        assert!(library.post_deleted(1, 5).unwrap().is_empty());
        let left: Vec<String> = library
            .articles(1)
            .unwrap()
            .into_iter()
            .map(|a| a.id)
            .collect();
        assert_eq!(left, [update.id]);
    }

    /// Issue 33 (9): a server's quotas, with a reply that says which was reached.
    #[test]
    fn a_server_at_its_quotas_is_told_which() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.index.guilds = dir.path().join("guilds");
        config.feeds.state = dir.path().join("feeds.json");
        config.quotas.articles = 2;
        config.quotas.ingests_per_minute = 4;
        config.quotas.feeds = 1;
        let library = Library::open(config).unwrap();
        let text = |town: &str| Source::Text {
            text: format!(
                "{town} Library Reopens\n\nThe library in {town} reopened on Monday after repairs."
            ),
            title: None,
        };
        for town in ["Ashford", "Bexley"] {
            library.ingest(1, text(town), HeldBy::Command).unwrap();
        }
        let full = library.ingest(1, text("Carlow"), HeldBy::Command);
        match full {
            Err(BackendError::Rejected(why)) => {
                assert!(
                    why.contains("2 articles") && why.contains("/forget"),
                    "{why}"
                )
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        // What it has may be sent again (unchanged); other servers are not concerned.
        library.ingest(1, text("Ashford"), HeldBy::Command).unwrap();
        library.ingest(2, text("Carlow"), HeldBy::Command).unwrap();
        // Four sends a minute: the fifth waits.
        match library.ingest(1, text("Ashford"), HeldBy::Command) {
            Err(BackendError::Rejected(why)) => {
                assert!(
                    why.contains("in the last minute") && why.contains("try again"),
                    "{why}"
                )
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        // One feed a server: the second is refused before anything is fetched.
        library
            .feeds
            .add(Subscription::new(
                "https://example.com/feed.xml",
                &library.guild_dir(3),
                Some(3),
                None,
            ))
            .unwrap();
        match library.feed_add(3, "https://example.org/rss", None) {
            Err(BackendError::Rejected(why)) => {
                assert!(
                    why.contains("follows 1 feeds") && why.contains("/feed remove"),
                    "{why}"
                )
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn only_the_most_recently_used_servers_stay_open() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.index.guilds = dir.path().join("guilds");
        config.feeds.state = dir.path().join("feeds.json");
        config.index.max_open_servers = 2;
        let library = Library::open(config).unwrap();
        let towns = ["Ashford", "Bexley", "Carlow"];
        for (g, town) in (1..).zip(towns) {
            let text = format!(
                "{town} Library Reopens\n\nThe library in {town} reopened on Monday after repairs. \
                 The mayor of {town} said the repairs cost {g} million pounds."
            );
            library
                .ingest(g, Source::Text { text, title: None }, HeldBy::Command)
                .unwrap();
        }
        // Three servers ingested, two kept open: the first one was closed (nothing holds it).
        assert_eq!(library.open_servers(), 2);
        let first = Arc::downgrade(&library.corpus(3).unwrap());
        library.corpus(2).unwrap();
        library.corpus(1).unwrap(); // reopens 1, closes 3
        assert!(
            first.upgrade().is_none(),
            "the least recently used corpus is closed"
        );
        assert_eq!(library.open_servers(), 2);
        // A closed server answers from its own articles when asked again.
        match library
            .ask(3, "How much did the repairs in Carlow cost?", None)
            .unwrap()
        {
            Outcome::Answer(a) => assert_eq!(a.text, "3 million pounds"),
            other => panic!("expected an answer, got {other:?}"),
        }
    }
}
