//! `newsqa ingest`: reports what the library's bulk ingest does.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Result};
use indicatif::{ProgressBar, ProgressStyle};
use newsqa::ingest::Progress;
use newsqa::{Config, Engine};
use newsqa_index::{Upsert, ARTICLE_EXTENSIONS};

pub(crate) fn progress_bar(len: usize, what: &str) -> ProgressBar {
    if len < 2 || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{spinner}} {what} [{{bar:40}}] {{pos}}/{{len}} ({{per_sec}}, eta {{eta}})"
        ))
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar
}

pub(crate) fn ingest(
    config: Config,
    paths: &[PathBuf],
    title: Option<String>,
    url: Option<String>,
    json: bool,
) -> Result<ExitCode> {
    let inputs = newsqa::ingest::collect_inputs(paths)?;
    if inputs.is_empty() {
        bail!("no article files found in {paths:?} (looked for {ARTICLE_EXTENSIONS:?})");
    }
    let engine = Engine::open(config)?;
    let started = Instant::now();
    let bar = progress_bar(inputs.len(), "ingesting");
    let batch = engine.config().ingest.batch_articles.max(1);
    let single = inputs.len() == 1;
    let totals =
        newsqa::ingest::ingest_inputs(&engine, &inputs, title, url, |event| match event {
            Progress::Read => bar.inc(1),
            Progress::Written(path, i) => {
                if json {
                    println!(
                        "{}",
                        serde_json::json!({"ok": true, "path": path, "article": i})
                    );
                } else if single {
                    let verb = match i.status {
                        Upsert::Added => "added",
                        Upsert::Updated => "updated",
                        Upsert::Unchanged => "unchanged",
                    };
                    println!(
                        "{verb}: {} ({} sentences) id {}",
                        i.title, i.sentences, i.id
                    );
                }
                if let (Some(had), false) = (i.cut_from, json) {
                    bar.suspend(|| {
                        eprintln!(
                            "note: {}: only its first {} of {had} sentences were kept: that is \
                             more than one article holds ([ingest] max_sentences)",
                            i.title, i.sentences
                        )
                    });
                }
            }
            Progress::Failed(path, e) => {
                if json {
                    println!(
                        "{}",
                        serde_json::json!({"ok": false, "path": path, "error": format!("{e:#}")})
                    );
                }
                bar.suspend(|| eprintln!("error: {e:#}"));
            }
            Progress::Committed { done, total } => {
                if bar.is_hidden() && !json && total > batch {
                    // No terminal for a progress bar (a log, CI): a line per committed batch.
                    eprintln!(
                        "ingested {done}/{total} inputs ({:.0} s)",
                        started.elapsed().as_secs_f64()
                    );
                }
            }
        })?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    if !json && inputs.len() > 1 {
        let t = totals;
        let done = t.added + t.updated + t.unchanged;
        println!(
            "{} inputs: {} added, {} updated, {} unchanged, {} failed \
             in {secs:.1} s ({:.1} articles/s, {:.0} new sentences/s)",
            inputs.len(),
            t.added,
            t.updated,
            t.unchanged,
            t.failed,
            done as f64 / secs.max(1e-9),
            t.sentences as f64 / secs.max(1e-9),
        );
    }
    Ok(if totals.failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
