//! `newsqa feed`: subscriptions of the command line's index, and one poll of its feeds.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use newsqa::{Config, Engine};

use crate::FeedCommand;

pub(crate) fn feed(config: Config, guild: Option<u64>, cmd: FeedCommand) -> Result<ExitCode> {
    let store = newsqa::feeds::FeedStore::new(&config.feeds.state);
    let report_after = config.feeds.report_after_hours;
    match cmd {
        FeedCommand::Add { url, channel } => {
            if !newsqa::web::is_url(&url) {
                bail!("{url:?} is not an http(s) address");
            }
            if channel.is_some() && guild.is_none() {
                bail!("--channel names a Discord channel; give the server with --guild too");
            }
            let sub = newsqa::feeds::Subscription::new(&url, &config.index.path, guild, channel)
                .claimed_for_first_poll();
            let shown = newsqa_web::shown_url(&url);
            if !store.add(sub.clone())? {
                bail!("already subscribed to {shown}");
            }
            // The first poll decides: an address that is not a feed that parses is not kept.
            let index = config.index.path.clone();
            let polled = run_polls(config, vec![sub.clone()], false)?;
            let first = store
                .load()?
                .into_iter()
                .find(|s| s.url == sub.url && s.index == index);
            match first {
                Some(s) if s.last_success.is_none() => {
                    store.remove(&sub.url, &index)?;
                    eprintln!("error: not subscribed to {shown}: see the reason above");
                    Ok(ExitCode::FAILURE)
                }
                _ => {
                    println!("subscribed to {shown}");
                    Ok(polled)
                }
            }
        }
        FeedCommand::List { json } => {
            let subs = store.load()?;
            let at = newsqa::feeds::now();
            if json {
                let list: Vec<_> = subs
                    .iter()
                    .map(|s| {
                        let mut v = serde_json::to_value(s).unwrap_or_default();
                        v["url"] = serde_json::json!(newsqa_web::shown_url(&s.url));
                        v["seen"] = serde_json::json!(s.seen.len());
                        v["failing"] = serde_json::json!(s.failing_for(report_after, at));
                        v
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else if subs.is_empty() {
                println!("no feeds; add one with `newsqa feed add URL`");
            } else {
                for s in &subs {
                    println!(
                        "{}  {}  {} articles  {}",
                        newsqa_web::shown_url(&s.url),
                        s.title.as_deref().unwrap_or("(not read yet)"),
                        s.ingested,
                        s.guild.map(|g| format!("server {g}")).unwrap_or_default()
                    );
                    if let Some(e) = &s.last_error {
                        let flag = if s.failing_for(report_after, at) {
                            "FAILING FOR DAYS"
                        } else {
                            "last poll failed"
                        };
                        println!("    {flag}: {e}");
                    }
                    if s.given_up > 0 {
                        println!(
                            "    gave up on {} item(s) that failed in {} polls",
                            s.given_up,
                            newsqa::feeds::ITEM_TRIES
                        );
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        FeedCommand::Remove { url } => match store.remove(&url, &config.index.path)? {
            Some(s) => {
                println!(
                    "unsubscribed from {} ({} articles stay)",
                    newsqa_web::shown_url(&s.url),
                    s.ingested
                );
                Ok(ExitCode::SUCCESS)
            }
            None => {
                eprintln!(
                    "error: no subscription to {:?} for this index (see `newsqa feed list`)",
                    newsqa_web::shown_url(&url)
                );
                Ok(ExitCode::FAILURE)
            }
        },
        FeedCommand::Poll { json, force } => poll_feeds(config, json, force),
    }
}

/// Polls the index's own feeds once. A feed backing off after failures waits unless `force`;
/// one that another process is polling is left to it; a server's feeds are left to the bot.
pub(crate) fn poll_feeds(config: Config, json: bool, force: bool) -> Result<ExitCode> {
    let store = newsqa::feeds::FeedStore::new(&config.feeds.state);
    let at = newsqa::feeds::now();
    let index = config.index.path.clone();
    let mine = |s: &newsqa::feeds::Subscription| s.index == index && s.guild.is_none();
    let claimed = store.claim(|s| mine(s) && (force || !s.backing_off(at)))?;
    if claimed.is_empty() {
        let subs = store.load()?;
        let servers = subs
            .iter()
            .filter(|s| s.index == index && s.guild.is_some())
            .count();
        let own = subs.iter().filter(|s| mine(s)).count();
        if own == 0 && servers > 0 {
            println!("this server's {servers} feed(s) are polled by `newsqa serve`");
        } else if own == 0 {
            println!("no feeds to poll");
        } else {
            println!(
                "no feed due: {own} feed(s) back off after failures (--force polls them) or \
                 are being polled by another process"
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    run_polls(config, claimed, json)
}

/// Polls claimed subscriptions through the one poll loop that the bot uses too, and reports.
pub(crate) fn run_polls(
    config: Config,
    claimed: Vec<newsqa::feeds::Subscription>,
    json: bool,
) -> Result<ExitCode> {
    let store = newsqa::feeds::FeedStore::new(&config.feeds.state);
    let fetcher = config.fetch.fetcher()?;
    let models = newsqa::Models::load(&config)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let mut engines: std::collections::HashMap<PathBuf, std::rc::Rc<Engine>> =
        std::collections::HashMap::new();
    let polled = runtime.block_on(newsqa::feeds::poll_claimed(
        &store,
        &fetcher,
        config.feeds.round(60.0),
        claimed,
        |sub| {
            if let Some(e) = engines.get(&sub.index) {
                return Ok(e.clone());
            }
            let engine = std::rc::Rc::new(Engine::open_with(
                config.clone(),
                models.clone(),
                &sub.index,
            )?);
            engines.insert(sub.index.clone(), engine.clone());
            Ok(engine)
        },
        || false,
    ));
    let mut failed = false;
    for (_, report) in polled {
        let report = match report {
            Ok(r) => r,
            Err(e) => {
                failed = true;
                eprintln!("error: {e:#}");
                continue;
            }
        };
        failed |= report.error.is_some();
        if json {
            println!("{}", serde_json::to_string(&report)?);
            continue;
        }
        match (&report.error, report.not_modified) {
            (Some(e), _) => eprintln!("error: {e}"),
            (None, true) => println!("{}: not modified", report.feed),
            (None, false) => {
                let mut notes = String::new();
                let retried = report.failed.len() - report.given_up.len();
                if retried > 0 {
                    notes += &format!(", {retried} item(s) failed (retried next poll)");
                }
                if !report.given_up.is_empty() {
                    notes += &format!(
                        ", {} item(s) given up after failing {} polls",
                        report.given_up.len(),
                        newsqa::feeds::ITEM_TRIES
                    );
                }
                if report.left_for_next_poll > 0 {
                    notes += &format!(
                        ", {} more at the next poll (at most [feeds] max_items_per_poll a poll)",
                        report.left_for_next_poll
                    );
                }
                if report.not_followed > 0 {
                    notes += &format!(
                        "; the feed lists {} items, and only the newest {} are followed",
                        report.not_followed + newsqa::feeds::FOLLOWED_ITEMS,
                        newsqa::feeds::FOLLOWED_ITEMS
                    );
                }
                println!(
                    "{}: {} new article(s){notes}",
                    report.feed,
                    report.added.len(),
                );
                for a in &report.added {
                    println!("  added: {}", a.title);
                }
                for f in &report.failed {
                    eprintln!("  error: {f}");
                }
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
