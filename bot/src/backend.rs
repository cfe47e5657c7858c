//! What the bot needs from the engine, and nothing more: the engine implements [`Backend`] and
//! `newsqa serve` hands it to [`crate::run`]. The bot never sees the index or the models.

use std::ops::Range;

use serde::Serialize;

/// One Discord server (guild) id. Every call is scoped to one: each server has its own corpus.
pub type GuildId = u64;

/// The corpus and the models, as the bot sees them. Calls block (they run the models), so the
/// bot makes them from `spawn_blocking`.
pub trait Backend: Send + Sync + 'static {
    /// Answers a question from the guild's articles, or says they do not hold the answer.
    /// `after` is the member's earlier question in this conversation, if any: a question
    /// that follows it up ("when did he issue it?") is read with it, a new one as it is.
    /// Must not wait for a full model queue: that is [`BackendError::Busy`].
    fn ask(
        &self,
        guild: GuildId,
        question: &str,
        after: Option<&Earlier>,
    ) -> Result<Outcome, BackendError>;
    /// Adds or updates an article in the guild's corpus; searchable when this returns. The
    /// article is held by `by` from now on (as well as by whatever held it already).
    fn ingest(&self, guild: GuildId, source: Source, by: HeldBy) -> Result<Ingested, BackendError>;
    /// The guild's articles, in a stable order.
    fn articles(&self, guild: GuildId) -> Result<Vec<ArticleSummary>, BackendError>;
    /// Finds one article by id, URL or unique id prefix, without changing anything.
    fn lookup(&self, guild: GuildId, id_or_url: &str) -> Result<ArticleSummary, BackendError>;
    /// Removes an article (by exact id, never a prefix or a URL) and all its passages,
    /// whoever holds it: the moderator's override.
    fn forget(&self, guild: GuildId, id: &str) -> Result<Option<ArticleSummary>, BackendError>;
    /// Stores a member's 👍/👎 on an answer, for later evaluation.
    fn feedback(&self, feedback: &Feedback) -> Result<(), BackendError>;
    /// Largest article, in bytes, that ingest accepts.
    fn max_article_bytes(&self) -> u64;
    /// Extensions (lower case, no dot) of the files ingest accepts as articles.
    fn article_extensions(&self) -> &'static [&'static str];
    /// Subscribes the guild to a feed (announcing new articles in `channel`, if given) and
    /// ingests what it lists now; returns the feed and how many articles went in.
    fn feed_add(
        &self,
        guild: GuildId,
        url: &str,
        channel: Option<u64>,
    ) -> Result<(FeedInfo, usize), BackendError>;
    /// The guild's feeds.
    fn feeds(&self, guild: GuildId) -> Result<Vec<FeedInfo>, BackendError>;
    /// Unsubscribes a feed; `None` when the guild had no such feed.
    fn feed_remove(&self, guild: GuildId, url: &str) -> Result<Option<FeedInfo>, BackendError>;
    /// Polls every feed that is due, in every guild; returns what to announce.
    fn poll_feeds(&self) -> Vec<Announcement>;
    /// How often the bot should call [`Backend::poll_feeds`].
    fn feed_tick(&self) -> std::time::Duration;
    /// One article's extracted text, found by id, URL or unique id prefix (as `/forget`).
    fn article_text(&self, guild: GuildId, id_or_url: &str) -> Result<ArticleText, BackendError>;
    /// The bot is stopping: start no new long work (a feed round stops after its current
    /// feed). Calls in flight finish.
    fn stop(&self) {}
    /// Starts watching a channel: posts after message (or interaction) `since` count, and
    /// with `members` those of members who are not moderators too. False when it was
    /// watched already with the same setting.
    fn watch(
        &self,
        guild: GuildId,
        channel: u64,
        since: u64,
        members: bool,
    ) -> Result<bool, BackendError>;
    /// Stops watching a channel; false when it was not watched. Its posts' articles stay.
    /// A channel the config lists (`listed`) stays stopped until [`Backend::watch`] there.
    fn unwatch(&self, guild: GuildId, channel: u64, listed: bool) -> Result<bool, BackendError>;
    /// The watched channels of one server, or of every server this backend holds (those
    /// the config lists count once a post there was handled).
    fn watched(&self, guild: Option<GuildId>) -> Result<Vec<Watched>, BackendError>;
    /// The channels of a server that the config lists and a moderator stopped watching.
    fn unwatched(&self, guild: GuildId) -> Result<Vec<u64>, BackendError>;
    /// A message in a watched channel was handled (ingested or not): the catch-up after a
    /// restart starts after the newest one. Kept in memory, and written within a short while
    /// (a crash then reads a little history again, where recorded posts are skipped).
    fn post_seen(&self, guild: GuildId, channel: u64, message: u64) -> Result<(), BackendError>;
    /// The catch-up of a server's watched channels after a (re)start is done: what it
    /// handled is written now.
    fn caught_up(&self, guild: GuildId) -> Result<(), BackendError>;
    /// The links and attachments a post brought in when it was last handled; `None` for a
    /// post never handled.
    fn post_sources(
        &self,
        guild: GuildId,
        message: u64,
    ) -> Result<Option<Vec<String>>, BackendError>;
    /// Records what a post in a watched channel brought in (`sources`: its links and
    /// attachments; `articles`: the ids ingested, held by the post), replacing what it brought
    /// before (an edit). The post lets go of the articles it brings no longer; those nothing
    /// else holds (another post, a feed, a moderator's `/ingest`) are forgotten and returned.
    fn post(
        &self,
        guild: GuildId,
        channel: u64,
        message: u64,
        sources: Vec<String>,
        articles: Vec<String>,
    ) -> Result<Vec<ArticleSummary>, BackendError>;
    /// A post was deleted: it lets go of its articles, and those nothing else holds are
    /// forgotten and returned.
    fn post_deleted(
        &self,
        guild: GuildId,
        message: u64,
    ) -> Result<Vec<ArticleSummary>, BackendError>;
}

/// Who brings an article in through [`Backend::ingest`], and holds it from then on. An
/// article stays while anything holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeldBy {
    /// A moderator's `/ingest`: held until a moderator forgets it.
    Command,
    /// A post (by message id) in a watched channel: held until the post is deleted or edited
    /// to drop it.
    Post(u64),
}

/// A watched news channel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Watched {
    /// The server.
    pub guild: GuildId,
    /// The channel.
    pub channel: u64,
    /// The newest message handled there (the catch-up reads what came after it).
    pub last: u64,
    /// Posts by members who are not moderators are ingested too.
    pub members: bool,
}

/// A subscribed feed, as `/feed list` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedInfo {
    /// The feed's address.
    pub url: String,
    /// Its title, once read.
    pub title: Option<String>,
    /// Articles ingested from it.
    pub articles: u64,
    /// Where new articles are announced.
    pub channel: Option<u64>,
    /// The last poll's error, if it failed.
    pub last_error: Option<String>,
    /// Failing for longer than the configured report threshold.
    pub failing: bool,
    /// Items given up after failing in several polls (dead links, PDFs, blocked hosts).
    pub given_up: u64,
}

/// A new article from a feed, to post in a channel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Announcement {
    /// The server.
    pub guild: GuildId,
    /// The channel.
    pub channel: u64,
    /// The feed's title.
    pub feed: String,
    /// The article's title.
    pub title: String,
    /// The article's URL.
    pub url: Option<String>,
}

/// What a question gets: an answer, or none and, where there is one, why.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The answer, cited.
    Answer(Box<Answer>),
    /// The message asks nothing ("thanks!", "lol").
    NotAQuestion,
    /// The server has no articles yet.
    NoArticles,
    /// The articles do not hold the answer.
    NotFound {
        /// A short sentence saying why, when the reason is more than "nothing likely enough"
        /// (e.g. "I found nothing about 2016 in the articles.").
        reason: Option<String>,
    },
}

/// An earlier question and its answer, which a follow-up may continue.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Earlier {
    /// The question as it was read.
    pub question: String,
    /// The short answer given, if any (none for a yes/no question).
    pub answer: Option<String>,
    /// The sentence it was cited from.
    pub citation: Option<String>,
    /// The cited article.
    pub article_id: Option<String>,
    /// Its title.
    pub title: Option<String>,
}

/// What kind of answer it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerKind {
    /// A short answer quoted from its sentence ("the NSA").
    Span,
    /// The sentence that decides a yes/no question ("The article says: ...").
    Sentence,
}

/// An answer with the sentence it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answer {
    /// The question as the bot read it.
    pub question: String,
    /// A short answer, or the sentence that decides a yes/no question.
    pub kind: AnswerKind,
    /// The earlier question and answer this one follows up, when it does.
    pub continues: Option<Earlier>,
    /// The short answer.
    pub text: String,
    /// The whole sentence of the article that holds the answer, verbatim.
    pub citation: String,
    /// Id of the cited article.
    pub article_id: String,
    /// Title of the cited article.
    pub title: String,
    /// URL of the cited article, when known.
    pub url: Option<String>,
    /// The cited article's publication date, as shown ("12 Jan 2024"), when it has one.
    pub date: Option<String>,
    /// Confidence, 0..1.
    pub confidence: f32,
    /// An older article's different answer, close in confidence: news changed, and the
    /// answer comes from the newer article.
    pub older: Option<OlderAnswer>,
    /// The passage around the answer (for "Show passage").
    pub passage: String,
    /// Where the answer sits in `passage`, in bytes, when it is there verbatim.
    pub answer_in_passage: Option<Range<usize>>,
}

impl Answer {
    /// This question and answer, for a follow-up to continue.
    pub fn earlier(&self) -> Earlier {
        Earlier {
            question: self.question.clone(),
            answer: (self.kind == AnswerKind::Span).then(|| self.text.clone()),
            citation: Some(self.citation.clone()),
            article_id: Some(self.article_id.clone()),
            title: Some(self.title.clone()),
        }
    }
}

/// What an older article said, named beside an answer from a newer one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OlderAnswer {
    /// Its answer.
    pub text: String,
    /// Title of its article.
    pub title: String,
    /// URL of its article, when known.
    pub url: Option<String>,
    /// Its article's date, as shown ("12 Jan 2023").
    pub date: String,
}

/// An article to ingest, as a moderator gave it.
#[derive(Debug, Clone)]
pub enum Source {
    /// Pasted text.
    Text {
        /// The text.
        text: String,
        /// Title given by the moderator (default: extracted from the text).
        title: Option<String>,
    },
    /// An attached file (.txt or .html).
    File {
        /// The file's name.
        name: String,
        /// Its bytes.
        bytes: Vec<u8>,
        /// Title given by the moderator (default: extracted).
        title: Option<String>,
    },
    /// A web page to fetch.
    Url {
        /// The page's address.
        url: String,
        /// Title given by the moderator (default: extracted).
        title: Option<String>,
    },
}

/// Whether an ingested article was new.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IngestStatus {
    /// A new article.
    Added,
    /// A known article whose text changed.
    Updated,
    /// A known article, same text.
    Unchanged,
}

/// What an ingest did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ingested {
    /// Article id.
    pub id: String,
    /// Title.
    pub title: String,
    /// URL, when known.
    pub url: Option<String>,
    /// Sentences in the article.
    pub sentences: usize,
    /// How many sentences the text had, when only the first `sentences` were kept (a page
    /// that is an archive or a data dump rather than one article).
    pub cut_from: Option<usize>,
    /// New, updated or unchanged.
    pub status: IngestStatus,
}

/// One line of `/articles`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArticleSummary {
    /// Article id.
    pub id: String,
    /// Title.
    pub title: String,
    /// URL, when known.
    pub url: Option<String>,
    /// Sentences in the article.
    pub sentences: usize,
}

/// An article as newsqa took it from its source: what `/article` shows a moderator.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArticleText {
    /// Article id.
    pub id: String,
    /// Title.
    pub title: String,
    /// URL, when known.
    pub url: Option<String>,
    /// Publication date as written in the source, when known.
    pub date: Option<String>,
    /// Where it was ingested from.
    pub source: String,
    /// The body, one sentence each, as the engine split it.
    pub sentences: Vec<String>,
}

/// A member's verdict on an answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Feedback {
    /// The server.
    pub guild: GuildId,
    /// The member who voted.
    pub user: u64,
    /// The question asked.
    pub question: String,
    /// The answer given.
    pub answer: String,
    /// The cited article.
    pub article_id: String,
    /// True for 👍.
    pub helpful: bool,
}

/// Why a backend call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// The models' queue is full.
    #[error("busy")]
    Busy,
    /// The input is at fault; the message is for the user who gave it.
    #[error("{0}")]
    Rejected(String),
    /// No article matches.
    #[error("no article matches {0:?}")]
    NotFound(String),
    /// More than one article matches an id prefix.
    #[error("{count} articles match {prefix:?}; give more of the id")]
    Ambiguous {
        /// The prefix given.
        prefix: String,
        /// How many articles it matches.
        count: usize,
    },
    /// Anything else; logged, and the user is told something went wrong.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}
