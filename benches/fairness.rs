//! Fairness (issue 33): server A uploads a big text file (a data dump, 4.9 MB) while server
//! B's members ask questions about their own article. All servers share one model thread, so
//! every question of B's waits for what runs there before it. Reported for three settings,
//! one after another in one run, each with its own fresh servers:
//!
//! - as before: the upload embedded in one job, all its sentences (`[encoder] job_sentences
//!   = 0`, `[ingest] max_sentences = 0`);
//! - the upload embedded in jobs of 64 sentences, all its sentences (`job_sentences = 64`);
//! - now: jobs of 64, and at most 2,000 sentences kept of one article (the defaults).
//!
//! B's members ask as a channel does, one question a second whatever the others' fate (each
//! waits its turn, as the CLI asks). For each setting: B's questions' time to an answer (p50,
//! p95, max), and how long A's upload took and what it kept.
//!
//!     cargo bench --bench fairness [-- BYTES QUESTIONS]
//!
//! Without `--bench` (as `cargo test --all-targets` runs it), a smoke run: a 60 kB upload
//! and 3 questions.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use newsqa::{Config, Library};
use newsqa_bot::backend::{Backend, HeldBy, Source};

mod common;

use common::percentile;

const A: u64 = 1;
const B: u64 = 2;

/// A text of about `bytes` bytes that reads as one long page of short news sentences.
fn dump(bytes: usize) -> String {
    let towns = [
        "Ashford",
        "Bexley",
        "Carlow",
        "Dunmore",
        "Eastleigh",
        "Fenwick",
    ];
    let mut out = String::from("Council notices, all years\n\n");
    let mut n = 0usize;
    while out.len() < bytes {
        let town = towns[n % towns.len()];
        out.push_str(&format!(
            "In {town}, the council approved {} new homes on the {} site, the mayor said. ",
            n % 997 + 3,
            n % 41 + 1
        ));
        n += 1;
        if n.is_multiple_of(8) {
            out.push_str("\n\n");
        }
    }
    out
}

fn main() -> Result<()> {
    newsqa_models::bound_onednn_caches();
    let full = std::env::args().any(|a| a == "--bench");
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let bytes: usize = match (args.first(), full) {
        (Some(b), _) => b.parse().context("BYTES")?,
        (None, true) => 4_900_000,
        (None, false) => 60_000,
    };
    let asked: usize = match (args.get(1), full) {
        (Some(q), _) => q.parse().context("QUESTIONS")?,
        (None, true) => 20,
        (None, false) => 3,
    };
    let upload = dump(bytes).into_bytes();
    let seed = std::fs::read_to_string("tests/data/seed-article.txt")?;
    let questions: Vec<String> = std::fs::read_to_string("tests/data/seed-questions.jsonl")?
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l)?;
            Ok(v["question"].as_str().unwrap_or_default().to_owned())
        })
        .collect::<Result<_>>()?;
    println!(
        "server A uploads {:.1} MB of text while server B's members ask {asked} questions, one a second",
        upload.len() as f64 / 1e6
    );
    for (name, job_sentences, max_sentences) in [
        ("before: one job, every sentence", 0, 0),
        ("jobs of 64 sentences, every sentence", 64, 0),
        ("now: jobs of 64, at most 2,000 sentences", 64, 2000),
    ] {
        let guilds = tempfile::tempdir()?;
        let mut config = Config::default();
        config.apply_env(|k| std::env::var(k).ok())?;
        config.index.guilds = guilds.path().to_owned();
        config.feeds.state = guilds.path().join("feeds.json");
        config.ingest.max_bytes = config.ingest.max_bytes.max(upload.len() as u64);
        config.encoder.job_sentences = job_sentences;
        config.ingest.max_sentences = max_sentences;
        let library = Arc::new(Library::open(config)?);
        let text = Source::Text {
            text: seed.clone(),
            title: None,
        };
        library.ingest(B, text, HeldBy::Command)?;
        let b = library.corpus(B)?;
        b.ask(&questions[0])?; // warm

        let (uploader, file) = (Arc::clone(&library), upload.clone());
        let started = Instant::now();
        let a = std::thread::spawn(move || {
            let source = Source::File {
                name: "dump.txt".into(),
                bytes: file,
                title: None,
            };
            let done = uploader.ingest(A, source, HeldBy::Command);
            (done, started.elapsed())
        });
        // Parsing and splitting a large upload takes a moment before it reaches the models.
        std::thread::sleep(Duration::from_millis(if full { 3000 } else { 200 }));
        let first = Instant::now();
        let members: Vec<_> = questions
            .iter()
            .cycle()
            .take(asked)
            .enumerate()
            .map(|(i, q)| {
                let (b, q) = (Arc::clone(&b), q.clone());
                let at = first + Duration::from_millis(if full { 1000 } else { 100 }) * i as u32;
                std::thread::spawn(move || -> Result<f64> {
                    std::thread::sleep(at.saturating_duration_since(Instant::now()));
                    let t = Instant::now();
                    b.ask(&q)?;
                    Ok(t.elapsed().as_secs_f64() * 1000.0)
                })
            })
            .collect();
        let mut waits = Vec::with_capacity(asked);
        for m in members {
            waits.push(m.join().expect("a member's thread")?);
        }
        let (done, took) = a.join().expect("the upload thread");
        let done = done.map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut sorted = waits.clone();
        sorted.sort_by(f64::total_cmp);
        println!(
            "{name}: B's questions p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms; A's upload {:.1} s, \
             {} sentences kept{}",
            percentile(&sorted, 0.5),
            percentile(&sorted, 0.95),
            sorted.last().copied().unwrap_or(0.0),
            took.as_secs_f64(),
            done.sentences,
            done.cut_from
                .map(|had| format!(" of {had}"))
                .unwrap_or_default()
        );
    }
    Ok(())
}
