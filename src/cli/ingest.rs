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
    let (inputs, skipped) = newsqa::ingest::collect_inputs(paths)?;
    if let Some(why) = skipped.describe() {
        eprintln!("note: {why}");
    }
    if inputs.is_empty() {
        bail!("no article files found in {paths:?} (looked for {ARTICLE_EXTENSIONS:?})");
    }
    let engine = Engine::open(config)?;
    let interrupted = on_interrupt();
    let started = Instant::now();
    let bar = progress_bar(inputs.len(), "ingesting");
    let batch = engine.config().ingest.batch_articles.max(1);
    let single = inputs.len() == 1;
    let totals = newsqa::ingest::ingest_inputs(
        &engine,
        &inputs,
        title,
        url,
        &interrupted,
        |event| match event {
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
        },
    )?;
    bar.finish_and_clear();
    if let Some(done) = totals.stopped_after {
        let saved = totals.added + totals.updated + totals.unchanged;
        eprintln!(
            "stopped: {saved} articles saved ({done} of {} inputs); run the same command again \
             to go on (what is saved is not embedded again)",
            inputs.len()
        );
        return Ok(ExitCode::from(130));
    }
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

/// Set by the first Ctrl-C (SIGINT) of an ingest: the batch being written is committed, and
/// then the ingest stops and says how far it got. A second Ctrl-C ends it at once.
static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn interrupt(_: libc::c_int) {
    if INTERRUPTED.swap(true, std::sync::atomic::Ordering::SeqCst) {
        // SAFETY: _exit is async-signal-safe; the second Ctrl-C means "now".
        unsafe { libc::_exit(130) };
    }
}

/// Installs the Ctrl-C handler; the returned check says whether it was pressed.
fn on_interrupt() -> impl Fn() -> bool {
    // SAFETY: the handler only stores to an atomic, or calls _exit; both are
    // async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, interrupt as *const () as libc::sighandler_t);
    }
    || INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst)
}
