//! Feed subscriptions: which RSS/Atom feeds feed which corpus, what each has already given,
//! and one poll of a feed (conditional GET, new items only, each item's page fetched, the
//! feed's own content when the page cannot be). The state lives in one JSON file, saved after
//! every feed, so a restart neither loses nor repeats anything.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use newsqa_index::{Metadata, Upsert};
use newsqa_web::{parse_feed, Conditional, Fetched, Fetcher, FEED_TYPES};
use serde::{Deserialize, Serialize};

use crate::engine::Engine;

/// Item ids remembered per feed (far more than any feed lists at once).
const SEEN_LIMIT: usize = 5000;

/// One subscribed feed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Subscription {
    /// The feed's address.
    pub url: String,
    /// The index its items go into.
    pub index: PathBuf,
    /// The Discord server that subscribed it, if any.
    #[serde(default)]
    pub guild: Option<u64>,
    /// The channel where new articles are announced, if any.
    #[serde(default)]
    pub channel: Option<u64>,
    /// The feed's title, once read.
    #[serde(default)]
    pub title: Option<String>,
    /// Validators of the last response.
    #[serde(default)]
    pub etag: Option<String>,
    /// Validators of the last response.
    #[serde(default)]
    pub last_modified: Option<String>,
    /// Ids of the items already ingested, oldest first.
    #[serde(default)]
    pub seen: Vec<String>,
    /// Articles ingested from it so far.
    #[serde(default)]
    pub ingested: u64,
    /// When it was subscribed (Unix seconds).
    pub added_at: u64,
    /// Last successful poll.
    #[serde(default)]
    pub last_success: Option<u64>,
    /// Start of the current run of failures.
    #[serde(default)]
    pub failing_since: Option<u64>,
    /// Failures in a row.
    #[serde(default)]
    pub failures: u32,
    /// The last failure, for `feed list`.
    #[serde(default)]
    pub last_error: Option<String>,
    /// Not polled before this time (backoff after failures).
    #[serde(default)]
    pub next_poll: u64,
}

impl Subscription {
    /// A new subscription, due at once.
    pub fn new(url: &str, index: &Path, guild: Option<u64>, channel: Option<u64>) -> Self {
        Subscription {
            url: url.trim().to_owned(),
            index: index.to_owned(),
            guild,
            channel,
            title: None,
            etag: None,
            last_modified: None,
            seen: Vec::new(),
            ingested: 0,
            added_at: now(),
            last_success: None,
            failing_since: None,
            failures: 0,
            last_error: None,
            next_poll: 0,
        }
    }

    /// Whether it has been failing for longer than `hours`.
    pub fn failing_for(&self, hours: f64, at: u64) -> bool {
        self.failing_since
            .is_some_and(|since| at.saturating_sub(since) as f64 >= hours * 3600.0)
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The subscriptions file.
#[derive(Debug, Clone)]
pub struct FeedStore {
    path: PathBuf,
}

impl FeedStore {
    /// The store at `path` (created on first save).
    pub fn new(path: impl Into<PathBuf>) -> FeedStore {
        FeedStore { path: path.into() }
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every subscription.
    pub fn load(&self) -> Result<Vec<Subscription>> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => serde_json::from_str(&text)
                .with_context(|| format!("reading the feed list {}", self.path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e).with_context(|| format!("reading {}", self.path.display())),
        }
    }

    /// Replaces the file atomically (write, then rename), so a crash leaves the old or the new.
    pub fn save(&self, subs: &[Subscription]) -> Result<()> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let tmp = self.path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(subs)?;
        std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &self.path)
            .with_context(|| format!("replacing {}", self.path.display()))
    }

    /// Adds a subscription; `false` (and nothing written) when the index already follows the feed.
    pub fn add(&self, sub: Subscription) -> Result<bool> {
        let mut subs = self.load()?;
        if subs
            .iter()
            .any(|s| s.url == sub.url && s.index == sub.index)
        {
            return Ok(false);
        }
        subs.push(sub);
        self.save(&subs)?;
        Ok(true)
    }

    /// Removes the subscription to `url` feeding `index`; returns it.
    pub fn remove(&self, url: &str, index: &Path) -> Result<Option<Subscription>> {
        let mut subs = self.load()?;
        let Some(at) = subs.iter().position(|s| {
            // By the address as given, or as `feed list` shows it (query hidden).
            (s.url == url.trim() || newsqa_web::shown_url(&s.url) == url.trim()) && s.index == index
        }) else {
            return Ok(None);
        };
        let gone = subs.remove(at);
        self.save(&subs)?;
        Ok(Some(gone))
    }

    /// Stores the new state of one subscription (matched by feed and index).
    pub fn update(&self, sub: &Subscription) -> Result<()> {
        let mut subs = self.load()?;
        if let Some(s) = subs
            .iter_mut()
            .find(|s| s.url == sub.url && s.index == sub.index)
        {
            *s = sub.clone();
            self.save(&subs)?;
        }
        Ok(())
    }
}

/// An article a poll added.
#[derive(Debug, Clone, Serialize)]
pub struct NewArticle {
    /// Its id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its URL, when known.
    pub url: Option<String>,
}

/// What one poll of one feed did.
#[derive(Debug, Clone, Serialize)]
pub struct PollReport {
    /// The feed.
    pub feed: String,
    /// 304: nothing changed.
    pub not_modified: bool,
    /// Articles ingested.
    pub added: Vec<NewArticle>,
    /// Items that could not be ingested (retried at the next poll).
    pub failed: Vec<String>,
    /// Why the feed itself failed, if it did.
    pub error: Option<String>,
}

/// Polls one feed into `engine`, updating `sub` (validators, seen items, failures, next poll).
pub async fn poll(
    sub: &mut Subscription,
    engine: &Engine,
    fetcher: &Fetcher,
    interval_secs: u64,
) -> PollReport {
    let mut report = PollReport {
        feed: newsqa_web::shown_url(&sub.url),
        not_modified: false,
        added: Vec::new(),
        failed: Vec::new(),
        error: None,
    };
    let at = now();
    let cond = Conditional {
        etag: sub.etag.clone(),
        last_modified: sub.last_modified.clone(),
    };
    let fetched = fetcher.get(&sub.url, FEED_TYPES, &cond).await;
    let mut validators = None;
    let feed = match fetched {
        Ok(Fetched::NotModified) => {
            report.not_modified = true;
            None
        }
        Ok(Fetched::Page(page)) => match parse_feed(&sub.url, &page.text) {
            Ok(feed) => {
                // Kept only once every item of this poll is in: a failed item must come back
                // in the next poll, not behind a 304.
                validators = Some((page.etag, page.last_modified));
                Some(feed)
            }
            Err(e) => {
                report.error = Some(e.to_string());
                None
            }
        },
        Err(e) => {
            report.error = Some(e.to_string());
            None
        }
    };
    if let Some(error) = &report.error {
        sub.failures += 1;
        sub.failing_since.get_or_insert(at);
        sub.last_error = Some(error.clone());
        // Back off: twice the interval per failure in a row, at most a day.
        let factor = 1u64 << sub.failures.min(6);
        sub.next_poll = at + (interval_secs * factor).min(86_400);
        tracing::warn!(feed = %newsqa_web::shown_url(&sub.url), failures = sub.failures, error = %error, "feed poll failed");
        return report;
    }
    sub.failures = 0;
    sub.failing_since = None;
    sub.last_error = None;
    sub.last_success = Some(at);
    sub.next_poll = at + interval_secs;
    let Some(feed) = feed else {
        return report;
    };
    if feed.title.is_some() {
        sub.title = feed.title;
    }
    // Feeds list the newest first; ingest in publication order, at most the cap a poll.
    let cap = engine.config().feeds.max_items_per_poll.max(1);
    let mut taken = 0;
    let mut left_over = false;
    for item in feed.items.into_iter().rev() {
        if sub.seen.contains(&item.id) {
            continue;
        }
        if taken == cap {
            left_over = true;
            break;
        }
        taken += 1;
        match ingest_item(engine, fetcher, &item).await {
            // Already in the index (the same story in another of the server's feeds, or a
            // crash after its commit): seen, not announced again.
            Ok((_, Upsert::Unchanged)) => sub.seen.push(item.id.clone()),
            Ok((article, _)) => {
                sub.seen.push(item.id.clone());
                sub.ingested += 1;
                report.added.push(article);
            }
            Err(e) => {
                tracing::warn!(feed = %newsqa_web::shown_url(&sub.url), item = %item.id, error = format!("{e:#}"), "feed item not ingested");
                report.failed.push(format!(
                    "{}: {e:#}",
                    item.link.as_deref().unwrap_or(&item.id)
                ));
            }
        }
    }
    // Items left for the next poll must not hide behind a 304 either.
    let complete = report.failed.is_empty() && !left_over;
    if let (Some((etag, last_modified)), true) = (validators, complete) {
        sub.etag = etag;
        sub.last_modified = last_modified;
    }
    if sub.seen.len() > SEEN_LIMIT {
        let extra = sub.seen.len() - SEEN_LIMIT;
        sub.seen.drain(..extra);
    }
    report
}

/// One item: its page when it can be fetched, else the feed's own copy of it.
async fn ingest_item(
    engine: &Engine,
    fetcher: &Fetcher,
    item: &newsqa_web::FeedItem,
) -> Result<(NewArticle, Upsert)> {
    let from_page = match &item.link {
        Some(link) => {
            crate::web::fetch_article(engine, fetcher, link, item.title.clone(), None).await
        }
        None => Err(anyhow::anyhow!("the item has no link")),
    };
    let article = match (from_page, &item.content) {
        (Ok(a), _) => a,
        (Err(e), Some(content)) => {
            tracing::info!(item = %item.id, error = format!("{e:#}"), "using the feed's own copy of the item");
            let body = match &item.title {
                // The feed's content is a fragment: give it its headline, as a page would.
                Some(t) => format!("<html><head><title>{t}</title></head><body><article><h1>{t}</h1>{content}</article></body></html>"),
                None => format!("<html><body><article>{content}</article></body></html>"),
            };
            engine.parse(
                body.as_bytes(),
                Metadata {
                    source: item.link.clone().unwrap_or_else(|| item.id.clone()),
                    title: item.title.clone(),
                    url: item.link.clone(),
                    fetched_from: None,
                },
            )?
        }
        (Err(e), None) => return Err(e),
    };
    let done = engine.ingest_one(&article)?;
    Ok((
        NewArticle {
            id: done.id,
            title: done.title,
            url: article.url,
        },
        done.status,
    ))
}
