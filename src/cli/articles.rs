//! `newsqa articles`, `show` and `forget`: what the index holds.

use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use newsqa::Config;

/// Opens the index alone, for commands that need no model.
pub(crate) fn open_index(config: &Config) -> Result<newsqa_index::ArticleIndex> {
    let mut index = newsqa_index::ArticleIndex::open(&config.index.path)
        .with_context(|| format!("opening index at {}", config.index.path.display()))?;
    index.set_lock_wait(std::time::Duration::from_secs(config.index.lock_wait_secs));
    Ok(index)
}

/// Questions and removals need an index that exists: a mistyped `--index` is an error, not a
/// new empty index in the wrong place.
pub(crate) fn require_index(config: &Config) -> Result<()> {
    let dir = &config.index.path;
    if !newsqa_index::ArticleIndex::exists(dir) {
        bail!(
            "no index at {}: nothing has been ingested there. Ingest articles first \
             (`newsqa ingest PATH`), or point --index (NEWSQA_INDEX, [index] path) at your index",
            dir.display()
        );
    }
    Ok(())
}

pub(crate) fn articles(config: Config, json: bool) -> Result<ExitCode> {
    // Listing a directory without an index shows no articles and creates nothing there.
    let list = if newsqa_index::ArticleIndex::exists(&config.index.path) {
        open_index(&config)?.articles()?
    } else {
        Vec::new()
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&list)?);
    } else if list.is_empty() {
        println!("no articles in {}", config.index.path.display());
    } else {
        for a in &list {
            let date = a
                .date
                .as_deref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            println!("{}  {}{}  [{} sentences]", a.id, a.title, date, a.sentences);
        }
        println!("{} articles", list.len());
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn check(config: Config, json: bool) -> Result<ExitCode> {
    require_index(&config)?;
    let health = open_index(&config)?.check()?;
    if json {
        println!("{}", serde_json::to_string_pretty(&health)?);
    } else {
        println!(
            "{}: {} articles, {} passages",
            config.index.path.display(),
            health.articles,
            health.passages
        );
        for id in &health.duplicate_articles {
            println!("article stored more than once: {id}");
        }
        for p in &health.wrong_passage_counts {
            println!(
                "article with {} of its {} passages: {}",
                p.stored, p.expected, p.id
            );
        }
        for id in &health.orphan_passages {
            println!("passages without their article: {id}");
        }
        if health.ok() {
            println!("ok");
        } else {
            println!("the index does not add up: re-ingest the articles named above (`newsqa forget ID`, then ingest it again)");
        }
    }
    Ok(if health.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

pub(crate) fn show(config: Config, article: &str, json: bool) -> Result<ExitCode> {
    require_index(&config)?;
    let index = open_index(&config)?;
    let Some((info, sentences)) = index.show(article)? else {
        eprintln!("error: no article with id or URL {article:?} (see `newsqa articles`)");
        return Ok(ExitCode::FAILURE);
    };
    if json {
        let mut v = serde_json::to_value(&info)?;
        v["text"] = serde_json::json!(sentences);
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("{}", info.title);
    println!("id:     {}", info.id);
    if let Some(url) = &info.url {
        println!("url:    {url}");
    }
    if let Some(date) = &info.date {
        println!("date:   {date}");
    }
    if let Some(author) = &info.author {
        println!("author: {author}");
    }
    println!("source: {}", info.source);
    println!("{} sentences, {} passages\n", info.sentences, info.passages);
    for s in &sentences {
        println!("{}", super::one_line(s));
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn forget(config: Config, article: &str) -> Result<ExitCode> {
    require_index(&config)?;
    let index = open_index(&config)?;
    match index.forget(article)? {
        Some(a) => {
            newsqa::holders::Holders::of_corpus(&config.index.path).forgotten(&a.id)?;
            println!("forgot: {} ({}, {} passages)", a.title, a.id, a.passages);
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!("error: no article with id or URL {article:?} (see `newsqa articles`)");
            Ok(ExitCode::FAILURE)
        }
    }
}
