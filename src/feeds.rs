//! Feed subscriptions: which RSS/Atom feeds feed which corpus, what each has already given,
//! and one poll of a feed (conditional GET, new items only, each item's page fetched, the
//! feed's own content when the page cannot be). The state lives in one JSON file, saved after
//! every feed, so a restart neither loses nor repeats anything.
//!
//! Several processes may share the file (the bot, and `newsqa feed` from cron). Every change is
//! a read-modify-write under an exclusive lock on a lock file beside it, written to a temporary
//! file, synced, renamed over the old one and the directory synced. No lock is held while a
//! feed is fetched: a poller first *claims* the feeds it will poll (a lease in the file), so
//! that no two processes poll one feed at once, then polls them, then stores each result.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use newsqa_index::{Metadata, Origin, Upsert};
use newsqa_web::{parse_feed, Conditional, Fetched, Fetcher, FEED_TYPES};
use serde::{Deserialize, Serialize};

use crate::engine::Engine;
use crate::holders::Holder;

/// Item ids remembered per feed (far more than any feed lists at once).
const SEEN_LIMIT: usize = 5000;

/// The newest items of a feed that are followed. A feed that lists more (a whole archive) has
/// its older items left out: they would take hundreds of polls before the news, and more
/// than `SEEN_LIMIT` items would be fetched again and again as their ids are forgotten.
pub const FOLLOWED_ITEMS: usize = 500;
const _: () = assert!(FOLLOWED_ITEMS < SEEN_LIMIT);

/// Polls in which an item is tried before it is given up: an item that always fails (a dead
/// link, a PDF, a blocked host) must not take the per-poll cap forever and starve the news.
pub const ITEM_TRIES: u32 = 3;

/// How long a claim on a feed holds when its poller dies before storing the result (a poller
/// on the same host that is known to be dead loses it at once).
pub const CLAIM_SECS: u64 = 30 * 60;

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
    /// Items that failed, by id, and how many polls each failed in (given up at
    /// [`ITEM_TRIES`]).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub item_failures: std::collections::BTreeMap<String, u32>,
    /// Items given up after failing [`ITEM_TRIES`] times.
    #[serde(default)]
    pub given_up: u64,
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
    /// A poller has claimed the feed until this time (0: nobody polls it now).
    #[serde(default)]
    pub claimed_until: u64,
    /// Which poller holds the claim (`host:pid`), so that a restarted bot takes over at once
    /// the claims of a process on its host that died (SIGKILL, a crash) instead of waiting
    /// for them to run out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_by: Option<String>,
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
            item_failures: Default::default(),
            given_up: 0,
            added_at: now(),
            last_success: None,
            failing_since: None,
            failures: 0,
            last_error: None,
            next_poll: 0,
            claimed_until: 0,
            claimed_by: None,
        }
    }

    /// The subscription claimed for its first poll, so that it is added already claimed and
    /// no other poller (a running bot) takes that poll, which may announce nothing.
    pub fn claimed_for_first_poll(mut self) -> Subscription {
        self.claimed_until = now() + CLAIM_SECS;
        self.claimed_by = Some(holder_of(std::process::id()));
        self
    }

    /// Whether another poller holds a claim on it at `at`: a claim that has not run out, of a
    /// process that is not known to be dead.
    fn held_by_another(&self, at: u64) -> bool {
        self.claimed_until > at && !self.claimed_by.as_deref().is_some_and(holder_died)
    }

    /// Whether it is backing off after failures at `at`.
    pub fn backing_off(&self, at: u64) -> bool {
        self.failures > 0 && self.next_poll > at
    }

    /// Whether it has been failing for longer than `hours`.
    pub fn failing_for(&self, hours: f64, at: u64) -> bool {
        self.failing_since
            .is_some_and(|since| at.saturating_sub(since) as f64 >= hours * 3600.0)
    }
}

/// The name of a claim held by process `pid` of this host.
fn holder_of(pid: u32) -> String {
    format!("{}:{pid}", host_name())
}

fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most `buf.len()` bytes into the buffer it is given.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return String::from("localhost");
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// Whether the claim holder `host:pid` is a process of this host that no longer exists.
/// Claims of other hosts, and of live processes, are not known to be dead.
fn holder_died(holder: &str) -> bool {
    let Some((host, pid)) = holder.rsplit_once(':') else {
        return false;
    };
    let Ok(pid) = pid.parse::<i32>() else {
        return false;
    };
    if host != host_name() || pid <= 0 || pid as u32 == std::process::id() {
        return false;
    }
    // SAFETY: signal 0 sends nothing; it only asks whether the process exists.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
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
        crate::state::read(&self.path)
            .with_context(|| format!("reading the feed list {}", self.path.display()))
    }

    /// Runs `change` on the subscriptions under the file's exclusive lock, and saves them when
    /// it says they changed ([`crate::state::change`]).
    fn change<T>(
        &self,
        change: impl FnOnce(&mut Vec<Subscription>) -> Result<(T, bool)>,
    ) -> Result<T> {
        crate::state::change(&self.path, change)
    }

    /// Points the subscriptions of the servers that `moved` says moved from the guilds
    /// directory `from` to `to` (their index is `from/<id>`) at `to/<id>`; into the state file
    /// `into` when given (another process's), else in place. Returns how many.
    pub fn move_servers(
        &self,
        from: &Path,
        to: &Path,
        moved: &dyn Fn(u64) -> bool,
        into: Option<&FeedStore>,
    ) -> Result<usize> {
        // The index as it was given (`./g2/5`, `/srv/g2/5`): in `from`, named for its server.
        let takes = |s: &Subscription| {
            s.guild.is_some_and(|g| {
                moved(g)
                    && s.index.file_name() == Some(std::ffi::OsStr::new(&g.to_string()))
                    && s.index
                        .parent()
                        .is_some_and(|dir| crate::guilds::same_dir(dir, from))
            })
        };
        let repoint = |s: &mut Subscription| {
            if let Some(g) = s.guild {
                s.index = to.join(g.to_string());
            }
        };
        match into {
            None => self.change(|subs| {
                let mut n = 0;
                for s in subs.iter_mut().filter(|s| takes(s)) {
                    repoint(s);
                    n += 1;
                }
                Ok((n, n > 0))
            }),
            Some(target) => {
                // Added there first: a crash between the two leaves a feed in both files,
                // polled twice at worst, never lost.
                let taken: Vec<Subscription> = self
                    .load()?
                    .into_iter()
                    .filter(|s| takes(s))
                    .map(|mut s| {
                        repoint(&mut s);
                        s
                    })
                    .collect();
                for s in &taken {
                    target.add(s.clone())?;
                }
                self.change(|subs| {
                    let before = subs.len();
                    subs.retain(|s| !takes(s));
                    Ok(((), subs.len() != before))
                })?;
                Ok(taken.len())
            }
        }
    }

    /// Adds a subscription; `false` (and nothing written) when the index already follows the feed.
    pub fn add(&self, sub: Subscription) -> Result<bool> {
        self.change(|subs| {
            if subs
                .iter()
                .any(|s| s.url == sub.url && s.index == sub.index)
            {
                return Ok((false, false));
            }
            subs.push(sub);
            Ok((true, true))
        })
    }

    /// Removes the subscription to `url` feeding `index`; returns it.
    pub fn remove(&self, url: &str, index: &Path) -> Result<Option<Subscription>> {
        self.change(|subs| {
            let Some(at) = subs.iter().position(|s| {
                // By the address as given, or as `feed list` shows it (query hidden).
                (s.url == url.trim() || newsqa_web::shown_url(&s.url) == url.trim())
                    && s.index == index
            }) else {
                return Ok((None, false));
            };
            Ok((Some(subs.remove(at)), true))
        })
    }

    /// Stores the new state of one subscription (matched by feed and index) and releases its
    /// claim. A subscription removed meanwhile stays removed.
    pub fn update(&self, sub: &Subscription) -> Result<()> {
        self.change(|subs| {
            let Some(s) = subs
                .iter_mut()
                .find(|s| s.url == sub.url && s.index == sub.index)
            else {
                return Ok(((), false));
            };
            *s = Subscription {
                claimed_until: 0,
                claimed_by: None,
                ..sub.clone()
            };
            Ok(((), true))
        })
    }

    /// Claims, for [`CLAIM_SECS`], every subscription that `due` picks and that no other poller
    /// holds, and returns them. The caller polls them and stores each with [`FeedStore::update`],
    /// which ends its claim.
    pub fn claim(&self, due: impl Fn(&Subscription) -> bool) -> Result<Vec<Subscription>> {
        let at = now();
        let me = holder_of(std::process::id());
        self.change(|subs| {
            let mut claimed = Vec::new();
            for s in subs.iter_mut() {
                if s.held_by_another(at) || !due(s) {
                    continue;
                }
                if s.claimed_until > at {
                    tracing::warn!(feed = %newsqa_web::shown_url(&s.url), holder = s.claimed_by.as_deref().unwrap_or(""), "taking over the claim of a poller that died");
                }
                s.claimed_until = at + CLAIM_SECS;
                s.claimed_by = Some(me.clone());
                claimed.push(s.clone());
            }
            let changed = !claimed.is_empty();
            Ok((claimed, changed))
        })
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
    /// Items that could not be ingested (retried at the next poll, up to [`ITEM_TRIES`]).
    pub failed: Vec<String>,
    /// Items that failed for the last time: they are not tried again.
    pub given_up: Vec<String>,
    /// Why new items wait: the server's corpus is at its quotas.
    pub full: Option<String>,
    /// Why the feed itself failed, if it did.
    pub error: Option<String>,
    /// New items beyond this poll's cap (`[feeds] max_items_per_poll`), left for the next.
    pub left_for_next_poll: usize,
    /// Items listed beyond the newest [`FOLLOWED_ITEMS`], which are not followed.
    pub not_followed: usize,
}

/// How a round of polls shares its time: feeds are polled server by server, several servers
/// at once, and each server's feeds get a bounded time, so that a few slow feeds (a tarpit
/// answering one item every 30 s) delay only their own server's news.
#[derive(Debug, Clone, Copy)]
pub struct Round {
    /// Seconds between two polls of a feed.
    pub interval_secs: u64,
    /// Servers (or command-line indexes) whose feeds are polled at once.
    pub concurrent: usize,
    /// Time one server's feeds may take in a round; their items left then wait for the next.
    pub per_server: std::time::Duration,
}

/// Polls subscriptions that the caller has claimed ([`FeedStore::claim`]) and stores each
/// one's new state (ending its claim) as soon as it is polled. The feeds of one server (or one
/// command-line index) are polled one after another within [`Round::per_server`], up to
/// [`Round::concurrent`] servers at once. This is the one poll loop: the bot's background
/// poller, `/feed add`, `newsqa feed add` and `newsqa feed poll` all go through it.
/// `engine_for` opens the corpus a subscription feeds. Once `stop` says so (the bot is
/// shutting down), the feeds not yet polled are released untouched, to be polled by the next
/// round, and left out of the result.
pub async fn poll_claimed<E: std::ops::Deref<Target = Engine>>(
    store: &FeedStore,
    fetcher: &Fetcher,
    round: Round,
    claimed: Vec<Subscription>,
    mut engine_for: impl FnMut(&Subscription) -> Result<E>,
    stop: impl Fn() -> bool,
) -> Vec<(Subscription, Result<PollReport>)> {
    use futures_util::StreamExt;
    let release = |sub: &Subscription| {
        if let Err(e) = store.update(sub) {
            tracing::warn!(feed = %newsqa_web::shown_url(&sub.url), error = format!("{e:#}"), "could not release a feed's claim");
        }
    };
    // Each server's feeds, in the order claimed, with their corpus.
    let mut servers: Vec<(ServerKey, Vec<Claimed<E>>)> = Vec::new();
    for sub in claimed {
        if stop() {
            release(&sub);
            continue;
        }
        let key = match sub.guild {
            Some(g) => ServerKey::Guild(g),
            None => ServerKey::Index(sub.index.clone()),
        };
        let engine = engine_for(&sub);
        match servers.iter_mut().find(|(k, _)| *k == key) {
            Some((_, feeds)) => feeds.push((sub, engine)),
            None => servers.push((key, vec![(sub, engine)])),
        }
    }
    let (stop, release) = (&stop, &release);
    let rounds = servers.into_iter().map(|(_, feeds)| async move {
        let deadline = std::time::Instant::now() + round.per_server;
        let mut out = Vec::with_capacity(feeds.len());
        for (mut sub, engine) in feeds {
            if stop() {
                release(&sub);
                continue;
            }
            let report = match engine {
                Ok(engine) => Ok(poll(
                    &mut sub,
                    &engine,
                    fetcher,
                    round.interval_secs,
                    Some(deadline),
                )
                .await),
                Err(e) => Err(e),
            };
            // Stored even when the corpus could not be opened, to end the claim.
            let stored = store.update(&sub);
            let report = match (report, stored) {
                (Ok(r), Ok(())) => Ok(r),
                (Err(e), _) | (Ok(_), Err(e)) => Err(e),
            };
            out.push((sub, report));
        }
        out
    });
    futures_util::stream::iter(rounds)
        .buffer_unordered(round.concurrent.max(1))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// A claimed subscription and the corpus it feeds (or why that could not be opened).
type Claimed<E> = (Subscription, Result<E>);

/// Whose feeds a round polls one after another.
#[derive(Debug, PartialEq, Eq)]
enum ServerKey {
    Guild(u64),
    Index(PathBuf),
}

/// Polls one feed into `engine`, updating `sub` (validators, seen items, failures, next poll).
/// Items not begun by `deadline` wait for the next poll.
pub async fn poll(
    sub: &mut Subscription,
    engine: &Engine,
    fetcher: &Fetcher,
    interval_secs: u64,
    deadline: Option<std::time::Instant>,
) -> PollReport {
    let mut report = PollReport {
        feed: newsqa_web::shown_url(&sub.url),
        not_modified: false,
        added: Vec::new(),
        failed: Vec::new(),
        given_up: Vec::new(),
        full: None,
        error: None,
        left_for_next_poll: 0,
        not_followed: 0,
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
    let mut items = feed.items;
    if items.len() > FOLLOWED_ITEMS {
        report.not_followed = items.len() - FOLLOWED_ITEMS;
        items.truncate(FOLLOWED_ITEMS);
        tracing::warn!(feed = %newsqa_web::shown_url(&sub.url), listed = items.len() + report.not_followed, followed = FOLLOWED_ITEMS, "the feed lists more items than are followed; the older ones are left out");
    }
    let seen: std::collections::HashSet<String> = sub.seen.iter().cloned().collect();
    let listed: std::collections::HashSet<String> = items.iter().map(|i| i.id.clone()).collect();
    sub.item_failures.retain(|id, _| listed.contains(id));
    let holder = Holder::Feed(sub.url.clone());
    for item in items.into_iter().rev() {
        if seen.contains(&item.id) {
            continue;
        }
        let late = deadline.is_some_and(|d| std::time::Instant::now() >= d);
        if taken == cap || report.full.is_some() || late {
            report.left_for_next_poll += 1;
            continue;
        }
        // A server's feed stops at the server's quotas; its items wait for room.
        if sub.guild.is_some() {
            match crate::library::corpus_full(engine, &sub.index) {
                Ok(Some(full)) => {
                    tracing::warn!(feed = %newsqa_web::shown_url(&sub.url), reason = %full, "a server's corpus is full; the feed's new items wait");
                    sub.last_error = Some(full.clone());
                    report.full = Some(full);
                    report.left_for_next_poll += 1;
                    continue;
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(feed = %newsqa_web::shown_url(&sub.url), error = format!("{e:#}"), "could not check the server's quotas")
                }
            }
        }
        taken += 1;
        match ingest_item(engine, fetcher, &item, &holder).await {
            // Already in the index (the same story in another of the server's feeds, or a
            // crash after its commit): seen, not announced again.
            Ok((_, Upsert::Unchanged)) => {
                sub.item_failures.remove(&item.id);
                sub.seen.push(item.id.clone());
            }
            Ok((article, _)) => {
                sub.item_failures.remove(&item.id);
                sub.seen.push(item.id.clone());
                sub.ingested += 1;
                report.added.push(article);
            }
            Err(e) => {
                let shown = item.link.as_deref().unwrap_or(&item.id);
                let tries = sub.item_failures.entry(item.id.clone()).or_default();
                *tries += 1;
                tracing::warn!(feed = %newsqa_web::shown_url(&sub.url), item = %item.id, tries = *tries, error = format!("{e:#}"), "feed item not ingested");
                report.failed.push(format!("{shown}: {e:#}"));
                if *tries >= ITEM_TRIES {
                    sub.item_failures.remove(&item.id);
                    sub.seen.push(item.id.clone());
                    sub.given_up += 1;
                    report.given_up.push(shown.to_owned());
                }
            }
        }
    }
    // Items left for the next poll must not hide behind a 304 either.
    let complete = report.failed.len() == report.given_up.len() && report.left_for_next_poll == 0;
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
    holder: &Holder,
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
                    // The feed's copy may declare any page's address: only the item's own
                    // link names it.
                    origin: Origin::Upload,
                },
            )?
        }
        (Err(e), None) => return Err(e),
    };
    let done = engine.ingest_one(&article, holder)?;
    Ok((
        NewArticle {
            id: done.id,
            title: done.title,
            url: article.url,
        },
        done.status,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A site with three feeds of one item each, or three: `slow.xml`, whose page answers
    /// only once `release` is notified; `fast.xml`; and `tarpit.xml`, whose pages take 1.5 s.
    struct Site {
        release: tokio::sync::Notify,
        slow_waiting: std::sync::atomic::AtomicUsize,
    }

    async fn serve_site(site: std::sync::Arc<Site>) -> String {
        use axum::{extract::Path as UrlPath, extract::State, routing::get, Router};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let feed = |base: String| {
            move |UrlPath(name): UrlPath<String>| async move {
                let n = if name == "tarpit.xml" { 3 } else { 1 };
                let stem = name.trim_end_matches(".xml").to_owned();
                let items: String = (1..=n)
                    .map(|i| format!("<item><guid>{stem}-{i}</guid><title>{stem} {i}</title><link>{base}/{stem}/{i}</link></item>"))
                    .collect();
                (
                    [("content-type", "application/rss+xml")],
                    format!("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>{stem}</title>{items}</channel></rss>"),
                )
            }
        };
        let page = |stem: String, i: String| {
            (
                [("content-type", "text/html")],
                format!("<html><head><title>{stem} story {i}</title></head><body><article><h1>{stem} story {i}</h1><p>The {stem} council approved plan number {i} on Monday after a long debate.</p></article></body></html>"),
            )
        };
        let app = Router::new()
            .route("/:name", get(feed(base.clone())))
            .route(
                "/:stem/:i",
                get(
                    move |State(site): State<std::sync::Arc<Site>>,
                          UrlPath((stem, i)): UrlPath<(String, String)>| async move {
                        match stem.as_str() {
                            "slow" => {
                                let released = site.release.notified();
                                site.slow_waiting
                                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                                released.await;
                            }
                            "tarpit" => {
                                tokio::time::sleep(std::time::Duration::from_millis(1500)).await
                            }
                            _ => {}
                        }
                        page(stem, i)
                    },
                ),
            )
            .with_state(site);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        base
    }

    /// Issue 33 (9): one server's slow feed does not hold up another server's, and a server's
    /// round stops taking items once its time is up.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn servers_are_polled_at_once_and_each_within_its_time() {
        let site = std::sync::Arc::new(Site {
            release: tokio::sync::Notify::new(),
            slow_waiting: Default::default(),
        });
        let base = serve_site(site.clone()).await;
        let dir = tempfile::tempdir().unwrap();
        let config = crate::Config::default();
        let models = crate::Models::load(&config).unwrap();
        let store = FeedStore::new(dir.path().join("feeds.json"));
        let corpus = |g: u64| {
            std::sync::Arc::new(
                Engine::open_with(
                    config.clone(),
                    models.clone(),
                    &dir.path().join(g.to_string()),
                )
                .unwrap(),
            )
        };
        let (slow, fast, tarpit) = (corpus(1), corpus(2), corpus(3));
        for (feed, g) in [("slow", 1u64), ("fast", 2), ("tarpit", 3)] {
            let url = format!("{base}/{feed}.xml");
            let sub = Subscription::new(&url, &dir.path().join(g.to_string()), Some(g), None);
            store.add(sub).unwrap();
        }
        let claimed = store.claim(|_| true).unwrap();
        let fetcher = Fetcher::new(newsqa_web::FetchConfig {
            allow: vec!["127.0.0.0/8".parse().unwrap()],
            ..Default::default()
        });
        let round = Round {
            interval_secs: 60,
            concurrent: 3,
            per_server: std::time::Duration::from_secs(1),
        };
        let engines = [slow.clone(), fast.clone(), tarpit.clone()];
        let polling = poll_claimed(
            &store,
            &fetcher,
            round,
            claimed,
            |sub| Ok(engines[sub.guild.unwrap() as usize - 1].clone()),
            || false,
        );
        let watching = async {
            // The fast server's story comes in while the slow one's page is still held.
            let started = std::time::Instant::now();
            while fast.articles().unwrap().is_empty() {
                assert!(
                    started.elapsed() < std::time::Duration::from_secs(60),
                    "the fast feed waited for the slow one"
                );
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            assert_eq!(
                site.slow_waiting.load(std::sync::atomic::Ordering::SeqCst),
                1
            );
            site.release.notify_waiters();
        };
        let (polled, ()) = tokio::join!(polling, watching);
        assert_eq!(polled.len(), 3);
        let report = |g: u64| {
            polled
                .iter()
                .find(|(s, _)| s.guild == Some(g))
                .and_then(|(_, r)| r.as_ref().ok())
                .unwrap()
        };
        assert_eq!(report(1).added.len(), 1);
        assert_eq!(report(2).added.len(), 1);
        // The tarpit's first item took past its server's second; the two others wait.
        assert_eq!(report(3).added.len(), 1);
        assert_eq!(report(3).left_for_next_poll, 2);
    }

    #[tokio::test]
    async fn a_stopped_round_releases_its_claims_and_records_no_failure() {
        let dir = tempfile::tempdir().unwrap();
        let store = FeedStore::new(dir.path().join("feeds.json"));
        for n in 0..2 {
            let url = format!("https://example.com/feed-{n}.xml");
            store
                .add(Subscription::new(
                    &url,
                    &dir.path().join("index"),
                    None,
                    None,
                ))
                .unwrap();
        }
        let claimed = store.claim(|_| true).unwrap();
        assert_eq!(claimed.len(), 2);
        assert!(
            store.claim(|_| true).unwrap().is_empty(),
            "claimed feeds are skipped"
        );
        let fetcher = Fetcher::new(Default::default());
        let polled = poll_claimed(
            &store,
            &fetcher,
            Round {
                interval_secs: 60,
                concurrent: 4,
                per_server: std::time::Duration::from_secs(60),
            },
            claimed,
            |_| -> Result<std::sync::Arc<Engine>> { panic!("a stopped round opens nothing") },
            || true,
        )
        .await;
        assert!(polled.is_empty());
        let subs = store.load().unwrap();
        assert!(subs
            .iter()
            .all(|s| s.claimed_until == 0 && s.failures == 0 && s.next_poll == 0));
        // Released, so the next round takes them.
        assert_eq!(store.claim(|_| true).unwrap().len(), 2);
    }

    #[test]
    fn a_claim_whose_poller_died_is_taken_over_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = FeedStore::new(dir.path().join("feeds.json"));
        for url in ["http://a.example/feed", "http://b.example/feed"] {
            store
                .add(Subscription::new(
                    url,
                    &dir.path().join("index"),
                    None,
                    None,
                ))
                .unwrap();
        }
        // Feed a is claimed by a process that was killed (kill -9 leaves its claim behind),
        // feed b by one that is alive.
        let mut dead = std::process::Command::new("true").spawn().unwrap();
        let dead_pid = dead.id();
        dead.wait().unwrap();
        let mut alive = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .unwrap();
        let alive_pid = alive.id();
        store
            .change(|subs| {
                for (s, pid) in subs.iter_mut().zip([dead_pid, alive_pid]) {
                    s.claimed_until = now() + CLAIM_SECS;
                    s.claimed_by = Some(holder_of(pid));
                }
                Ok(((), true))
            })
            .unwrap();
        let claimed = store.claim(|_| true).unwrap();
        let _ = alive.kill();
        let _ = alive.wait();
        let urls: Vec<&str> = claimed.iter().map(|s| s.url.as_str()).collect();
        assert_eq!(urls, ["http://a.example/feed"]);
        let subs = store.load().unwrap();
        assert_eq!(subs[0].claimed_by, Some(holder_of(std::process::id())));
    }
}
