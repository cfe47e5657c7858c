//! `newsqa eval`: SQuAD or news question sets, scored.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use newsqa::{eval, Config, Engine};

use super::ingest::progress_bar;

/// What `eval` reads: a SQuAD file, or a news question set over a corpus directory.
pub(crate) struct EvalSource<'a> {
    pub file: &'a Path,
    pub corpus: Option<&'a Path>,
    pub split: Option<&'a str>,
}

pub(crate) fn run_eval(
    config: Config,
    source: EvalSource,
    limit: Option<usize>,
    json: bool,
    no_ingest: bool,
    details: Option<&Path>,
) -> Result<ExitCode> {
    let engine = Engine::open(config)?;
    let news = source.file.extension().is_some_and(|e| e == "jsonl");
    let mut data = match (news, source.corpus) {
        (true, Some(corpus)) => {
            eval::Dataset::load_news(source.file, corpus, source.split, &engine)?
        }
        (true, None) => bail!(
            "{} is a news question set: name the directory of its articles with --corpus",
            source.file.display()
        ),
        (false, _) => eval::Dataset::load(source.file, &engine)?,
    };
    if let Some(n) = limit {
        data.questions.truncate(n);
    }
    let mut ingest_s = 0.0;
    if !no_ingest {
        let started = Instant::now();
        let bar = progress_bar(data.articles.len(), "ingesting contexts");
        newsqa::ingest::write_articles(&engine, &data.articles, |n| bar.inc(n as u64))?;
        bar.finish_and_clear();
        ingest_s = started.elapsed().as_secs_f64();
        if !json {
            eprintln!(
                "ingested {} contexts in {ingest_s:.1} s",
                data.articles.len()
            );
        }
    }
    let mut details_file = match details {
        Some(p) => Some(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => None,
    };
    let bar = progress_bar(data.questions.len() + data.conversations.len(), "asking");
    let report = eval::run(
        &engine,
        &data.questions,
        &data.conversations,
        details_file.as_mut().map(|w| w as &mut dyn Write),
        || bar.inc(1),
    )?;
    bar.finish_and_clear();
    if let Some(mut w) = details_file {
        w.flush()?;
    }
    if json {
        let mut v = serde_json::to_value(&report)?;
        v["ingest_s"] = serde_json::json!((ingest_s * 100.0).round() / 100.0);
        println!("{v}");
    } else {
        let r = &report;
        // A file of only conversations or yes/no questions has no single questions.
        let singles = r.questions > 0 || (r.yes_no.is_none() && r.conversations.is_none());
        if singles {
            print_singles(r, ingest_s, no_ingest);
        }
        if let Some(y) = &r.yes_no {
            println!(
                "yes/no         {} questions; of the {} an article decides, {} given a sentence, \
                 the expected one {} ({:.1}%); verdicts {} ({:.1}%), right {} ({:.1}%); \
                 undecided {}, abstained {}",
                y.questions,
                y.decided,
                y.given_a_sentence,
                y.cited_right,
                y.cited_right_pct,
                y.verdicts,
                y.verdict_pct,
                y.verdicts_right,
                y.verdicts_right_pct,
                y.undecided,
                y.undecided_abstained
            );
        }
        if let Some(c) = &r.conversations {
            println!("conversations  {}", c.conversations);
            for (name, t) in [
                ("first turns", &c.first),
                ("  after another", &c.first_after_another),
                ("later turns", &c.later),
                ("  asked alone", &c.later_alone),
            ] {
                println!(
                    "{name:<17}{} questions, answered {}, EM / F1 {:.2} / {:.2}",
                    t.questions, t.answered, t.em, t.f1
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The figures of the single questions (not conversations or yes/no questions).
fn print_singles(r: &eval::Report, ingest_s: f64, no_ingest: bool) {
    println!("questions      {}", r.questions);
    println!(
        "answered       {} (abstained {}; unanswerable {}, of which abstained {})",
        r.answered, r.abstained, r.unanswerable, r.unanswerable_abstained
    );
    println!(
        "EM / F1        {:.2} / {:.2} (over answerable questions)",
        r.em, r.f1
    );
    println!(
        "never abstaining {:.2} / {:.2} (the best candidate taken every time)",
        r.em_no_abstain, r.f1_no_abstain
    );
    println!("recall@{:<7} {:.2}%", r.k, r.recall_at_k);
    println!(
        "latency        p50 {:.1} ms, p95 {:.1} ms (answerability check: p50 {:.2} ms, p95 {:.2} ms)",
        r.p50_ms, r.p95_ms, r.check_p50_ms, r.check_p95_ms
    );
    println!(
        "stages, p50    search {:.1} ms, question embedding {:.1} ms, reading {:.1} ms",
        r.search_p50_ms, r.embed_p50_ms, r.read_p50_ms
    );
    if !no_ingest {
        println!("ingest         {ingest_s:.1} s");
    }
    for (kind, k) in &r.by_kind {
        let reasons: Vec<String> = k.reasons.iter().map(|(r, n)| format!("{r} {n}")).collect();
        println!(
            "{kind:<15}{} questions, answered {} ({:.1}%), F1 {:.2}; abstained: {}",
            k.questions,
            k.answered,
            100.0 * k.answered as f64 / k.questions.max(1) as f64,
            k.f1,
            if reasons.is_empty() {
                "-".to_owned()
            } else {
                reasons.join(", ")
            }
        );
    }
}
