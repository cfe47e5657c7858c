//! Soak: many questions against one server's corpus through the bot's backend
//! (`Library::ask`, exactly as `/ask` calls it), with the process's resident memory every
//! 1,000 questions. The memory must stay flat: growth from question 2,000 to the last one is
//! reported against the 5% bound of issue 12.
//!
//!     cargo bench --bench soak -- INDEX_DIR [QUESTIONS]
//!
//! INDEX_DIR is an index built by `newsqa ingest` (e.g. the BBC corpus:
//! `newsqa --index /tmp/bbc-index ingest ../shared/data/news/bbc`); it is served, read-only,
//! as one server's corpus. QUESTIONS defaults to 10,000, cycling through
//! `tests/data/news-questions.jsonl`. `scripts/reliability.sh` runs it.
//!
//! Without INDEX_DIR (as `cargo test --all-targets` runs it), a smoke run: the seed article
//! ingested through the backend and its questions asked 40 times.

use std::time::Instant;

use anyhow::{bail, Context, Result};
use newsqa::{Config, Library};
use newsqa_bot::backend::{Backend, HeldBy, Outcome, Source};

mod common;

use common::{peak_mb, percentile, rss_mb};

const GUILD: u64 = 4242;

fn main() -> Result<()> {
    newsqa_models::bound_onednn_caches();
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let index = args.first();
    let (total, question_file) = match index {
        Some(_) => (
            args.get(1).map_or(Ok(10_000), |n| n.parse())?,
            "tests/data/news-questions.jsonl",
        ),
        None => (40, "tests/data/seed-questions.jsonl"),
    };
    let questions: Vec<String> = std::fs::read_to_string(question_file)?
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l)?;
            Ok(v["question"].as_str().unwrap_or_default().to_owned())
        })
        .collect::<Result<_>>()?;

    // One server whose corpus is the given index (or the seed article).
    let guilds = tempfile::tempdir()?;
    if let Some(index) = index {
        let index = std::fs::canonicalize(index).with_context(|| format!("no index at {index}"))?;
        std::os::unix::fs::symlink(&index, guilds.path().join(GUILD.to_string()))?;
    }
    // The models' settings from the environment (NEWSQA_READER_PRECISION and the like).
    let mut config = Config::default();
    config.apply_env(|k| std::env::var(k).ok())?;
    config.index.guilds = guilds.path().to_owned();
    config.feeds.state = guilds.path().join("feeds.json");
    let before_models = rss_mb();
    let library = Library::open(config)?;
    let loaded = rss_mb();
    println!(
        "RSS: {before_models:.0} MB at start, {loaded:.0} MB with both models loaded \
         (peak while loading: {:.0} MB)",
        peak_mb()
    );
    if index.is_none() {
        println!("(no INDEX_DIR: a smoke run on the seed article)");
        let text = std::fs::read_to_string("tests/data/seed-article.txt")?;
        library
            .ingest(GUILD, Source::Text { text, title: None }, HeldBy::Command)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }

    let started = Instant::now();
    let mut block = Vec::with_capacity(1000);
    let (mut answered, mut abstained, mut failed) = (0, 0, 0);
    let mut at_2000 = None;
    let mut last = 0.0;
    println!("questions  RSS MB  p50 ms  p95 ms  answered  abstained  failed");
    for i in 0..total {
        let q = &questions[i % questions.len()];
        let t = Instant::now();
        match library.ask(GUILD, q, None) {
            Ok(Outcome::Answer(_)) => answered += 1,
            Ok(Outcome::NotFound { .. } | Outcome::NotAQuestion | Outcome::NoArticles) => {
                abstained += 1
            }
            Err(e) => {
                failed += 1;
                eprintln!("question {i} failed: {e}");
            }
        }
        block.push(t.elapsed().as_secs_f64() * 1e3);
        if (i + 1) % 1000 == 0 || i + 1 == total {
            block.sort_by(f64::total_cmp);
            last = rss_mb();
            if i + 1 == 2000 {
                at_2000 = Some(last);
            }
            println!(
                "{:>9}  {last:>6.0}  {:>6.1}  {:>6.1}  {answered:>8}  {abstained:>9}  {failed:>6}",
                i + 1,
                percentile(&block, 0.5),
                percentile(&block, 0.95),
            );
            block.clear();
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{total} questions in {secs:.0} s ({:.1} a second, one at a time)",
        total as f64 / secs
    );
    if failed > 0 {
        bail!("{failed} questions failed");
    }
    println!("peak RSS of the whole run: {:.0} MB", peak_mb());
    if let Some(base) = at_2000 {
        println!(
            "RSS growth from question 2,000 to {total}: {:+.1}% ({base:.0} -> {last:.0} MB; bound 5%)",
            100.0 * (last - base) / base
        );
    }
    Ok(())
}
