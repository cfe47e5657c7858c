//! Bulk ingest: files, directories, standard input and web addresses into one engine, in
//! batches, each batch committed. `newsqa ingest` and `newsqa eval` go through it; the CLI
//! only reports what it says.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use newsqa_index::{Article, Metadata, Upsert};

use crate::engine::{Engine, Ingested};
use crate::holders::Holder;

/// The inputs named on a command line: files as given, directories walked for article files
/// (symlink loops skipped), `-` for standard input, http(s) addresses as they are; and what
/// the directory walks left out.
pub fn collect_inputs(paths: &[PathBuf]) -> Result<(Vec<PathBuf>, crate::files::Skipped)> {
    let mut out = Vec::new();
    let mut skipped = crate::files::Skipped::default();
    for p in paths {
        if p.as_os_str() == "-" || !p.is_dir() {
            out.push(p.clone());
        } else {
            out.extend(crate::files::article_files_noting(p, &mut skipped)?);
        }
    }
    Ok((out, skipped))
}

/// Reads a file (or standard input for `-`), refusing more than `cap` bytes by its size before
/// reading it. Another scheme than http(s) is an error that says how to give a local file.
pub fn read_input(path: &Path, cap: u64) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .take(cap + 1)
            .read_to_end(&mut bytes)
            .context("reading standard input")?;
        return Ok(bytes);
    }
    if let Some(text) = path.to_str().filter(|_| !path.exists()) {
        if let Some((scheme, rest)) = text.split_once("://") {
            let scheme_like = !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
            if scheme_like {
                let local = match scheme.eq_ignore_ascii_case("file") {
                    true => format!(" (here: {rest})"),
                    false => String::new(),
                };
                bail!(
                    "{text}: only http:// and https:// addresses are fetched; \
                     give a local file by its path{local}"
                );
            }
        }
    }
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    if size > cap {
        return Err(newsqa_index::IndexError::TooLarge {
            name: path.display().to_string(),
            size,
            cap,
        }
        .into());
    }
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(bytes)
}

/// What a bulk ingest reports as it goes.
pub enum Progress<'a> {
    /// One input was read (or failed to be), whatever came of it.
    Read,
    /// An article went into the index (committed with its batch), read from this input.
    Written(&'a Path, &'a Ingested),
    /// An input could not be read, fetched or parsed; the others go on.
    Failed(&'a Path, &'a anyhow::Error),
    /// A batch was committed: `done` of `total` inputs are through.
    Committed { done: usize, total: usize },
}

/// Counts of a bulk ingest.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    pub added: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub failed: usize,
    /// Sentences of the articles added or updated.
    pub sentences: usize,
    /// Inputs through when `stop` asked for the ingest to stop (after a committed batch).
    pub stopped_after: Option<usize>,
}

impl Totals {
    fn count(&mut self, i: &Ingested) {
        match i.status {
            Upsert::Added => self.added += 1,
            Upsert::Updated => self.updated += 1,
            Upsert::Unchanged => self.unchanged += 1,
        }
        if i.status != Upsert::Unchanged {
            self.sentences += i.sentences;
        }
    }
}

/// Ingests `inputs` into `engine` in batches of `[ingest] batch_articles`, each committed.
/// `title` and `url` describe a single input. A failed input is reported and skipped; a
/// failed write or commit ends the run with an error. Once `stop` says so (Ctrl-C), no new
/// batch starts: what is committed stays, and `stopped_after` says how far it got.
pub fn ingest_inputs(
    engine: &Engine,
    inputs: &[PathBuf],
    title: Option<String>,
    url: Option<String>,
    stop: &dyn Fn() -> bool,
    mut progress: impl FnMut(Progress),
) -> Result<Totals> {
    if inputs.len() > 1 && (title.is_some() || url.is_some()) {
        bail!("--title and --url describe one article; give a single input with them");
    }
    let cap = engine.config().ingest.max_bytes;
    let batch = engine.config().ingest.batch_articles.max(1);
    let url_of = |path: &Path| {
        path.to_str()
            .filter(|p| crate::web::is_url(p))
            .map(str::to_owned)
    };
    // Web pages need an async runtime and a fetcher; made only when some input is a URL.
    let web = match inputs.iter().any(|p| url_of(p).is_some()) {
        true => Some((
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the async runtime")?,
            engine.config().fetch.fetcher()?,
        )),
        false => None,
    };
    let mut totals = Totals::default();
    let mut done = 0;
    for chunk in inputs.chunks(batch) {
        if stop() {
            totals.stopped_after = Some(done);
            break;
        }
        let mut articles = Vec::with_capacity(chunk.len());
        let mut parsed_from = Vec::with_capacity(chunk.len());
        for path in chunk {
            let source = if path.as_os_str() == "-" {
                "-".to_owned()
            } else {
                path.display().to_string()
            };
            let meta = Metadata {
                source,
                title: title.clone(),
                url: url.clone(),
                ..Default::default()
            };
            let parsed = match (url_of(path), &web) {
                (Some(address), Some((runtime, fetcher))) => runtime.block_on(
                    crate::web::fetch_article(engine, fetcher, &address, meta.title, meta.url),
                ),
                _ => read_input(path, cap).and_then(|b| engine.parse(&b, meta)),
            };
            match parsed {
                Ok(a) => {
                    articles.push(a);
                    parsed_from.push(path);
                }
                Err(e) => {
                    totals.failed += 1;
                    progress(Progress::Failed(path, &e));
                }
            }
            progress(Progress::Read);
        }
        for (i, path) in write_batch(engine, &articles)?.iter().zip(parsed_from) {
            totals.count(i);
            progress(Progress::Written(path, i));
        }
        done += chunk.len();
        progress(Progress::Committed {
            done,
            total: inputs.len(),
        });
    }
    Ok(totals)
}

/// Writes parsed articles and commits them: one batch.
pub fn write_batch(engine: &Engine, articles: &[Article]) -> Result<Vec<Ingested>> {
    let written = engine.write(articles, &Holder::Manual)?;
    engine.commit()?;
    Ok(written)
}

/// Writes already parsed articles (an evaluation's contexts) in batches of
/// `[ingest] batch_articles`, calling `on_batch` with each batch's size, and commits once.
pub fn write_articles(
    engine: &Engine,
    articles: &[Article],
    mut on_batch: impl FnMut(usize),
) -> Result<Vec<Ingested>> {
    let mut written = Vec::with_capacity(articles.len());
    for chunk in articles.chunks(engine.config().ingest.batch_articles.max(1)) {
        written.extend(engine.write(chunk, &Holder::Manual)?);
        on_batch(chunk.len());
    }
    engine.commit()?;
    Ok(written)
}
