//! Corpus growth: how a question's latency, where its time goes, and retrieval recall change
//! as one server's corpus grows (issue 13, SCALING.md).
//!
//!     cargo bench --bench growth -- CORPUS_DIR [COPIES] [QUESTIONS_FILE]
//!
//! CORPUS_DIR is a directory of article files (e.g. `../shared/data/news/bbc`). The corpus is
//! indexed once as it is, then again and again as rewritten copies until it holds COPIES
//! times as many articles (default 10): each copy of an article has its paragraphs (not its
//! headline) shuffled, and an address of its own (`https://copy-N.growth.invalid/PATH`), so
//! deduplication keeps it as a new article. After 1, 2, 5 and COPIES copies, every question
//! of QUESTIONS_FILE (default `tests/data/news-questions.jsonl`) is asked: p50 and p95 of
//! the whole question, the median of each stage (BM25 search, the question's embedding,
//! the reader, the answerability check), recall (an article with the gold article's text,
//! the original or a copy, among the retrieved passages) and the share answered, with the
//! index's size on disk and the process's memory.
//!
//! Only the questions are timed. The copies' sentences are the original's, so their vectors
//! are the ones the encoder gave the original (as `newsqa ingest` would give them again):
//! each distinct sentence is embedded once, and the copies are written straight into the
//! index. Ingest speed is measured on its own (BENCHMARKS.md, "Bulk ingest").
//!
//! Without CORPUS_DIR (as `cargo test --all-targets` runs it), a smoke run: the files of
//! `tests/data/`, three copies, the seed questions; it fails unless every copy is kept and
//! the seed questions find the seed article at every size.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use newsqa::{Config, Engine};
use newsqa_index::{Article, Metadata};

mod common;

use common::{percentile, rss_mb};

/// A question with the file (relative to the corpus) that answers it, if any.
struct Question {
    text: String,
    article: Option<String>,
}

fn main() -> Result<()> {
    newsqa_models::bound_onednn_caches();
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let (corpus, copies, question_file, default_article) = match args.first() {
        Some(dir) => (
            PathBuf::from(dir),
            args.get(1).map_or(Ok(10), |n| n.parse())?,
            args.get(2)
                .cloned()
                .unwrap_or_else(|| "tests/data/news-questions.jsonl".into()),
            None,
        ),
        None => (
            PathBuf::from("tests/data"),
            3,
            "tests/data/seed-questions.jsonl".into(),
            Some("seed-article.txt".to_owned()),
        ),
    };
    if copies == 0 {
        bail!("COPIES must be at least 1");
    }
    let smoke = args.is_empty();
    let questions = read_questions(&question_file, default_article)?;

    let dir = tempfile::tempdir()?;
    let mut config = Config::default();
    config.index.path = dir.path().join("index");
    let engine = Engine::open(config)?;
    println!(
        "models loaded: RSS {:.0} MB; {} questions from {question_file}",
        rss_mb(),
        questions.len()
    );

    // The corpus as it is: parsed, each distinct sentence embedded once.
    let files = newsqa::files::article_files(&corpus)?;
    let mut originals = Vec::with_capacity(files.len());
    for path in &files {
        let rel = path
            .strip_prefix(&corpus)
            .unwrap_or(path)
            .display()
            .to_string();
        let bytes = std::fs::read(path).with_context(|| format!("reading {rel}"))?;
        let meta = Metadata {
            source: rel.clone(),
            ..Default::default()
        };
        // The copies are rewritten from this text (a byte that is not UTF-8 becomes U+FFFD).
        let text = String::from_utf8_lossy(&bytes).into_owned();
        match engine.parse(&bytes, meta) {
            Ok(article) => originals.push((rel, text, article)),
            Err(e) => println!("skipping {rel}: {e:#}"),
        }
    }
    let mut vectors: HashMap<String, Vec<f32>> = HashMap::new();
    let started = Instant::now();
    embed_missing(&engine, originals.iter().map(|(_, _, a)| a), &mut vectors)?;
    println!(
        "{} articles, {} distinct sentences embedded in {:.0} s",
        originals.len(),
        vectors.len(),
        started.elapsed().as_secs_f64()
    );

    // For recall: each indexed article's original (by the original's id, as the corpus's
    // duplicate files share one), and each file's original.
    let mut origin: HashMap<String, String> = HashMap::new();
    let gold: HashMap<&str, &str> = originals
        .iter()
        .map(|(rel, _, a)| (rel.as_str(), a.id.as_str()))
        .collect();
    let mut checkpoints: Vec<usize> = [1, 2, 5, copies]
        .into_iter()
        .filter(|&c| c <= copies)
        .collect();
    checkpoints.dedup();
    println!(
        "copies  articles  index MB  RSS MB  p50 ms  p95 ms  search  embed   read  check  recall  answered"
    );
    let mut rows = Vec::new();
    let mut indexed = 0;
    for copy in 0..copies {
        let mut batch = Vec::with_capacity(originals.len());
        for (i, (rel, text, article)) in originals.iter().enumerate() {
            let article = match copy {
                0 => article.clone(),
                _ => rewrite(&engine, rel, text, copy, i)?,
            };
            origin.insert(article.id.clone(), gold[rel.as_str()].to_owned());
            batch.push(article);
        }
        embed_missing(&engine, batch.iter(), &mut vectors)?;
        for article in &batch {
            let v: Vec<Vec<f32>> = (0..article.sentences.len())
                .map(|i| vectors[article.sentence(i)].clone())
                .collect();
            engine.index().upsert(article, &v)?;
        }
        engine.commit()?;
        // Every copy is kept as new articles, or the corpus would not grow.
        let articles = engine.articles()?.len();
        if copy > 0 && articles != indexed + originals.len() {
            bail!(
                "copy {copy} added {} articles, not {}: deduplication merged copies",
                articles - indexed,
                originals.len()
            );
        }
        indexed = articles;
        if checkpoints.contains(&(copy + 1)) {
            let row = measure(
                &engine,
                &questions,
                &origin,
                &gold,
                copy + 1,
                indexed,
                dir.path(),
            )?;
            rows.push(row);
        }
    }
    if smoke && rows.iter().any(|r| r.recall < 1.0) {
        bail!("the seed article's questions must find it at every size");
    }
    if let (Some(first), Some(last)) = (rows.first(), rows.last()) {
        println!(
            "from {} to {} articles: p50 x{:.2}, p95 x{:.2}, search x{:.2}, check x{:.2}",
            first.articles,
            last.articles,
            last.p50 / first.p50,
            last.p95 / first.p95,
            last.search / first.search.max(1e-6),
            last.check / first.check.max(1e-6),
        );
        if last.articles > first.articles && first.articles >= 1000 {
            // The encoder embeds one question and the reader reads at most
            // `max_read_sentences` sentences whatever the corpus's size; what grows with it is
            // what reads the index: BM25 search (posting lists) and the answerability check
            // (term lookups). Their medians on a straight line through the first and last
            // checkpoints, carried on to 100,000 articles and added to the first p50.
            let thousands = (last.articles - first.articles) as f64 / 1000.0;
            let search = (last.search - first.search) / thousands;
            let check = (last.check - first.check) / thousands;
            let more = 100.0 - first.articles as f64 / 1000.0;
            let at = first.p50 + (search + check).max(0.0) * more;
            println!(
                "per 1,000 articles: search median {search:+.3} ms, check median {check:+.3} ms; \
                 at 100,000 articles: p50 about {at:.1} ms ({:.2}x the p50 at {})",
                at / first.p50,
                first.articles,
            );
        }
    }
    Ok(())
}

/// One checkpoint's figures.
struct Row {
    articles: usize,
    recall: f64,
    p50: f64,
    p95: f64,
    search: f64,
    check: f64,
}

fn measure(
    engine: &Engine,
    questions: &[Question],
    origin: &HashMap<String, String>,
    gold: &HashMap<&str, &str>,
    copies: usize,
    articles: usize,
    dir: &Path,
) -> Result<Row> {
    // A few questions first, so that the index's pages are read in before the timing.
    for q in questions.iter().take(20) {
        engine.ask(&q.text)?;
    }
    let (mut total, mut search, mut embed, mut read, mut check) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut recalled, mut with_gold, mut answered) = (0, 0, 0);
    for q in questions {
        let reply = engine.ask(&q.text)?;
        total.push(reply.latency_ms);
        search.push(reply.stages.search_ms);
        embed.push(reply.stages.embed_ms);
        read.push(reply.stages.read_ms);
        check.push(reply.check_ms);
        answered += usize::from(reply.best.is_some());
        if let Some(&want) = q.article.as_deref().and_then(|a| gold.get(a)) {
            with_gold += 1;
            let found: HashSet<&str> = reply
                .retrieved
                .iter()
                .filter_map(|id| origin.get(id).map(String::as_str))
                .collect();
            recalled += usize::from(found.contains(want));
        }
    }
    for v in [&mut total, &mut search, &mut embed, &mut read, &mut check] {
        v.sort_by(f64::total_cmp);
    }
    let row = Row {
        articles,
        recall: recalled as f64 / with_gold.max(1) as f64,
        p50: percentile(&total, 0.5),
        p95: percentile(&total, 0.95),
        search: percentile(&search, 0.5),
        check: percentile(&check, 0.5),
    };
    println!(
        "{copies:>6}  {articles:>8}  {:>8.1}  {:>6.0}  {:>6.1}  {:>6.1}  {:>6.1}  {:>5.1}  {:>5.1}  {:>5.1}  {:>5.1}%  {:>7.1}%",
        dir_mb(&dir.join("index")),
        rss_mb(),
        row.p50,
        row.p95,
        row.search,
        percentile(&embed, 0.5),
        percentile(&read, 0.5),
        row.check,
        100.0 * row.recall,
        100.0 * answered as f64 / questions.len().max(1) as f64,
    );
    Ok(row)
}

/// Copy `copy` of an article: its headline, then its paragraphs in an order drawn from the
/// copy and the article's number, under an address of its own.
fn rewrite(engine: &Engine, rel: &str, text: &str, copy: usize, i: usize) -> Result<Article> {
    let mut paragraphs: Vec<&str> = text
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    let body = if paragraphs.len() > 2 {
        &mut paragraphs[1..]
    } else {
        &mut paragraphs[..0]
    };
    let mut state = (copy as u64) << 32 ^ i as u64 ^ 0x9e37_79b9_7f4a_7c15;
    for k in (1..body.len()).rev() {
        // xorshift64*: enough to shuffle, and the same on every run.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let r = state.wrapping_mul(0x2545_f491_4f6c_dd1d);
        body.swap(k, (r % (k as u64 + 1)) as usize);
    }
    let meta = Metadata {
        source: rel.to_owned(),
        url: Some(format!("https://copy-{copy}.growth.invalid/{rel}")),
        ..Default::default()
    };
    engine.parse(paragraphs.join("\n\n").as_bytes(), meta)
}

/// Embeds the sentences of `articles` that have no vector yet.
fn embed_missing<'a>(
    engine: &Engine,
    articles: impl Iterator<Item = &'a Article>,
    vectors: &mut HashMap<String, Vec<f32>>,
) -> Result<()> {
    let mut missing: Vec<String> = Vec::new();
    let mut seen = HashSet::new();
    for a in articles {
        for i in 0..a.sentences.len() {
            let s = a.sentence(i);
            if !vectors.contains_key(s) && seen.insert(s.to_owned()) {
                missing.push(s.to_owned());
            }
        }
    }
    for chunk in missing.chunks(4096) {
        let embedded = engine.embed(chunk.to_vec())?;
        vectors.extend(chunk.iter().cloned().zip(embedded));
    }
    Ok(())
}

fn read_questions(path: &str, default_article: Option<String>) -> Result<Vec<Question>> {
    std::fs::read_to_string(path)
        .with_context(|| format!("reading {path}"))?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l)?;
            let answerable = match v["kind"].as_str() {
                Some(kind) => kind == "answerable",
                None => v["answers"].as_array().is_some_and(|a| !a.is_empty()),
            };
            Ok(Question {
                text: v["question"].as_str().unwrap_or_default().to_owned(),
                article: match answerable {
                    true => v["article"]
                        .as_str()
                        .map(str::to_owned)
                        .or_else(|| default_article.clone()),
                    false => None,
                },
            })
        })
        .collect()
}

/// Size of the files under `dir`, in MB.
fn dir_mb(dir: &Path) -> f64 {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len() as f64)
        .sum::<f64>()
        / 1e6
}
