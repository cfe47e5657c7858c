//! The `newsqa` command line: ingest, ask, articles, forget, eval.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use newsqa::engine::Ingested;
use newsqa::{eval, Config, Engine, Reply, ABSTAIN_MESSAGE};
use newsqa_index::{Metadata, Upsert, ARTICLE_EXTENSIONS};

/// Answers questions about news articles, quoting the sentence each answer comes from.
#[derive(Parser)]
#[command(name = "newsqa", version, about, long_about = None)]
struct Cli {
    /// Config file (default: ./config.toml when it exists; see config.example.toml).
    #[arg(long, global = true, env = "NEWSQA_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Index directory, overriding the config's [index] path.
    #[arg(long, global = true, value_name = "DIR")]
    index: Option<PathBuf>,
    /// Work on the Discord bot's index of this server (guild id) instead of the CLI's own.
    #[arg(long, global = true, value_name = "ID", conflicts_with = "index")]
    guild: Option<u64>,
    /// Log more (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum FeedCommand {
    /// Subscribe the index to an RSS or Atom feed, and ingest what it lists now.
    Add {
        /// The feed's address.
        url: String,
        /// With --guild: the Discord channel (id) where the bot announces new articles.
        #[arg(long, value_name = "ID")]
        channel: Option<u64>,
    },
    /// List the subscribed feeds, with their health.
    List {
        /// Print machine-readable JSON.
        #[arg(long)]
        json: bool,
    },
    /// Unsubscribe a feed (its articles stay; `forget` removes them).
    Remove {
        /// The feed's address, as `feed list` shows it.
        url: String,
    },
    /// Poll the index's feeds once now and ingest new items. A feed that is failing waits out
    /// its backoff, and one that another process is polling is left to it. A server's feeds
    /// (`--guild`) are polled by `newsqa serve`, which announces what they bring.
    Poll {
        /// Print one JSON report per feed.
        #[arg(long)]
        json: bool,
        /// Poll failing feeds too, before their backoff ends.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand)]
enum Command {
    /// Run the Discord bot until stopped (Ctrl-C or SIGTERM). Needs a bot token: see the README.
    Serve,
    /// Add articles to the index: text or HTML files, directories (recursively), web pages
    /// (http/https URLs) or - for stdin.
    Ingest {
        /// Files, directories, http(s) URLs or - (standard input).
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Title of the article (only with a single input; default: extracted).
        #[arg(long)]
        title: Option<String>,
        /// URL of the article (only with a single input); it becomes the article id.
        #[arg(long)]
        url: Option<String>,
        /// Print one JSON object per input instead of a summary.
        #[arg(long)]
        json: bool,
    },
    /// Answer a question from the indexed articles, citing the sentence the answer comes from.
    Ask {
        /// The question.
        question: String,
        /// Print machine-readable JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the indexed articles.
    Articles {
        /// Print machine-readable JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show what newsqa took from an article: title, date, URL, source, and the body one
    /// sentence a line, as the engine split it.
    Show {
        /// The article id (as `articles` shows it, or a unique prefix of 8+ characters) or URL.
        #[arg(value_name = "ID|URL")]
        article: String,
        /// Print machine-readable JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove an article and all its passages, by id or URL.
    Forget {
        /// The article id (as `articles` shows it) or its URL.
        #[arg(value_name = "ID|URL")]
        article: String,
    },
    /// Follow RSS/Atom feeds: new items are fetched and ingested as they appear.
    #[command(subcommand)]
    Feed(FeedCommand),
    /// Measure quality and speed on a SQuAD-format file (EM, F1, recall@k, latency), or on a
    /// news question set (`.jsonl`, with --corpus).
    Eval {
        /// A SQuAD v1.1 or v2.0 JSON file, or a news question set (JSON lines, see
        /// tests/data/news-questions.md).
        file: PathBuf,
        /// For a news question set: the directory of its article files (e.g. ../shared/data/news/bbc).
        #[arg(long, value_name = "DIR")]
        corpus: Option<PathBuf>,
        /// For a news question set: only the questions of this split (tune or test).
        #[arg(long, value_name = "NAME")]
        split: Option<String>,
        /// Turn the answerability check off ([answer] check_constraints = false), to measure it.
        #[arg(long)]
        no_check: bool,
        /// Ask only the first N questions.
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Do not ingest the file's contexts; ask against what is already indexed.
        #[arg(long)]
        no_ingest: bool,
        /// Write one JSON line per question (prediction, citation, candidates, latency) here.
        #[arg(long, value_name = "FILE.jsonl")]
        details: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A service logs what it does; a command-line tool only its warnings.
    let serving = matches!(cli.command, Command::Serve);
    init_logging(cli.verbose + u8::from(serving));
    if !serving {
        end_quietly_on_a_closed_pipe();
    }
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `newsqa articles --json | head` ends quietly when `head` stops reading, as Unix tools do,
/// instead of a panic on the failed write: the default SIGPIPE action comes back (Rust
/// ignores it). Not for `serve`, whose sockets report a closed peer as an error.
fn end_quietly_on_a_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to SIG_DFL at start-up, before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info,tantivy=warn",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

fn run(cli: Cli) -> Result<ExitCode> {
    let mut config = Config::load(cli.config.as_deref())?;
    if let Some(dir) = cli.index {
        config.index.path = dir;
    }
    if let Some(guild) = cli.guild {
        config.index.path = config.index.guilds.join(guild.to_string());
    }
    match cli.command {
        Command::Feed(cmd) => feed(config, cli.guild, cmd),
        Command::Serve => serve(config),
        Command::Ingest {
            paths,
            title,
            url,
            json,
        } => ingest(config, &paths, title, url, json),
        Command::Ask { question, json } => ask(config, &question, json),
        Command::Articles { json } => articles(config, json),
        Command::Forget { article } => forget(config, &article),
        Command::Show { article, json } => show(config, &article, json),
        Command::Eval {
            file,
            corpus,
            split,
            no_check,
            limit,
            json,
            no_ingest,
            details,
        } => {
            let mut config = config;
            if no_check {
                config.answer.check_constraints = false;
            }
            let source = EvalSource {
                file: &file,
                corpus: corpus.as_deref(),
                split: split.as_deref(),
            };
            run_eval(config, source, limit, json, no_ingest, details.as_deref())
        }
    }
}

fn feed(config: Config, guild: Option<u64>, cmd: FeedCommand) -> Result<ExitCode> {
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
            let mut sub =
                newsqa::feeds::Subscription::new(&url, &config.index.path, guild, channel);
            // Added already claimed: its first poll is this command's, not a running bot's.
            sub.claimed_until = newsqa::feeds::now() + newsqa::feeds::CLAIM_SECS;
            let shown = newsqa_web::shown_url(&url);
            if !store.add(sub.clone())? {
                bail!("already subscribed to {shown}");
            }
            println!("subscribed to {shown}");
            run_polls(config, vec![sub], false)
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
fn poll_feeds(config: Config, json: bool, force: bool) -> Result<ExitCode> {
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
fn run_polls(
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
    let interval = (config.feeds.poll_minutes * 60.0).max(60.0) as u64;
    let mut engines: std::collections::HashMap<PathBuf, std::rc::Rc<Engine>> =
        std::collections::HashMap::new();
    let polled = runtime.block_on(newsqa::feeds::poll_claimed(
        &store,
        &fetcher,
        interval,
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
                println!(
                    "{}: {} new article(s){}",
                    report.feed,
                    report.added.len(),
                    if report.failed.is_empty() {
                        String::new()
                    } else {
                        format!(
                            ", {} item(s) failed (retried next poll)",
                            report.failed.len()
                        )
                    }
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

/// Runs the Discord bot: one tokio runtime, the models loaded once, a corpus per server.
fn serve(config: Config) -> Result<ExitCode> {
    if config
        .discord
        .token
        .as_deref()
        .is_none_or(|t| t.trim().is_empty())
    {
        bail!(
            "no Discord token: set NEWSQA_DISCORD_TOKEN (or DISCORD_TOKEN), or [discord] token \
             in config.toml; the README explains how to create the bot"
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let discord = config.discord.clone();
    let guilds = config.index.guilds.clone();
    let library = newsqa::Library::open(config)?;
    tracing::info!(guilds = %guilds.display(), "models loaded");
    let served = runtime.block_on(newsqa_bot::run(
        discord,
        std::sync::Arc::new(library),
        stop_signal(),
    ));
    // The bot has drained its work (bounded) before disconnecting; a blocking call that is
    // still running (a page fetch of a feed round) is not waited for beyond this.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    served?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Resolves on Ctrl-C or SIGTERM, so that the bot can close its gateway connection cleanly.
async fn stop_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

fn collect_inputs(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" || !p.is_dir() {
            out.push(p.clone());
        } else {
            out.extend(newsqa::files::article_files(p)?);
        }
    }
    Ok(out)
}

fn read_input(path: &Path, cap: u64) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .take(cap + 1)
            .read_to_end(&mut bytes)
            .context("reading standard input")?;
    } else {
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
        let file =
            std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
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
    }
    Ok(bytes)
}

fn progress_bar(len: usize, what: &str) -> ProgressBar {
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

fn ingest(
    config: Config,
    paths: &[PathBuf],
    title: Option<String>,
    url: Option<String>,
    json: bool,
) -> Result<ExitCode> {
    let inputs = collect_inputs(paths)?;
    if inputs.is_empty() {
        bail!("no article files found in {paths:?} (looked for {ARTICLE_EXTENSIONS:?})");
    }
    if inputs.len() > 1 && (title.is_some() || url.is_some()) {
        bail!("--title and --url describe one article; give a single input with them");
    }
    let engine = Engine::open(config)?;
    let started = Instant::now();
    let bar = progress_bar(inputs.len(), "ingesting");
    let cap = engine.config().ingest.max_bytes;
    let batch = engine.config().ingest.batch_articles.max(1);
    let (mut added, mut updated, mut unchanged, mut failed, mut sentences) = (0, 0, 0, 0, 0);
    // Web pages need an async runtime and a fetcher; made only when some input is a URL.
    let url_of = |path: &Path| {
        path.to_str()
            .filter(|p| newsqa::web::is_url(p))
            .map(str::to_owned)
    };
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
    let mut report = |result: std::result::Result<&Ingested, (&Path, &anyhow::Error)>| match result
    {
        Ok(i) => {
            match i.status {
                Upsert::Added => added += 1,
                Upsert::Updated => updated += 1,
                Upsert::Unchanged => unchanged += 1,
            }
            if i.status != Upsert::Unchanged {
                sentences += i.sentences;
            }
            if json {
                println!("{}", serde_json::json!({"ok": true, "article": i}));
            } else if inputs.len() == 1 {
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
        }
        Err((path, e)) => {
            failed += 1;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"ok": false, "path": path, "error": format!("{e:#}")})
                );
            }
            bar.suspend(|| eprintln!("error: {e:#}"));
        }
    };
    for chunk in inputs.chunks(batch) {
        let mut articles = Vec::with_capacity(chunk.len());
        for path in chunk {
            let name = if path.as_os_str() == "-" {
                "-".to_owned()
            } else {
                path.display().to_string()
            };
            let meta = Metadata {
                source: name,
                title: title.clone(),
                url: url.clone(),
                ..Default::default()
            };
            let parsed = match (url_of(path), &web) {
                (Some(address), Some((runtime, fetcher))) => runtime.block_on(
                    newsqa::web::fetch_article(&engine, fetcher, &address, meta.title, meta.url),
                ),
                _ => read_input(path, cap).and_then(|b| engine.parse(&b, meta)),
            };
            match parsed {
                Ok(a) => articles.push(a),
                Err(e) => report(Err((path, &e))),
            }
            bar.inc(1);
        }
        for i in engine.write(&articles)? {
            report(Ok(&i));
        }
        engine.commit()?;
        if bar.is_hidden() && !json && inputs.len() > batch {
            // No terminal for a progress bar (a log, CI): a line per committed batch instead.
            let done = (bar.position() as usize).min(inputs.len());
            eprintln!(
                "ingested {done}/{} inputs ({:.0} s)",
                inputs.len(),
                started.elapsed().as_secs_f64()
            );
        }
    }
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    if !json && inputs.len() > 1 {
        let done = added + updated + unchanged;
        println!(
            "{} inputs: {added} added, {updated} updated, {unchanged} unchanged, {failed} failed \
             in {secs:.1} s ({:.1} articles/s, {:.0} new sentences/s)",
            inputs.len(),
            done as f64 / secs.max(1e-9),
            sentences as f64 / secs.max(1e-9),
        );
    }
    Ok(if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn ask(config: Config, question: &str, json: bool) -> Result<ExitCode> {
    if question.trim().is_empty() {
        bail!("the question is empty");
    }
    require_index(&config)?;
    let engine = Engine::open(config)?;
    let reply = engine.ask(question)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&reply_json(&reply))?);
    } else {
        print_reply(&reply, &mut std::io::stdout().lock())?;
    }
    Ok(ExitCode::SUCCESS)
}

fn reply_json(reply: &Reply) -> serde_json::Value {
    let alt = |c: &newsqa::Candidate| {
        serde_json::json!({
            "answer": c.answer, "score": c.score, "citation": c.citation,
            "article_id": c.article_id, "title": c.title, "url": c.url,
            "start": c.start, "end": c.end,
        })
    };
    let alternates: Vec<_> = reply.alternates.iter().map(alt).collect();
    match &reply.best {
        Some(b) => serde_json::json!({
            "question": reply.question,
            "answered": true,
            "answer": b.answer,
            "score": b.score,
            "citation": b.citation,
            "article_id": b.article_id,
            "title": b.title,
            "url": b.url,
            "start": b.start,
            "end": b.end,
            "alternates": alternates,
            "latency_ms": reply.latency_ms,
        }),
        None => serde_json::json!({
            "question": reply.question,
            "answered": false,
            "answer": null,
            "score": reply.candidates.first().map(|c| c.score),
            "citation": null,
            "article_id": null,
            "title": null,
            "url": null,
            "start": null,
            "end": null,
            "message": reply.abstention.as_ref().map_or_else(|| ABSTAIN_MESSAGE.to_owned(), |a| a.message()),
            "reason": reply.abstention,
            "alternates": alternates,
            "latency_ms": reply.latency_ms,
        }),
    }
}

fn print_reply(reply: &Reply, out: &mut impl Write) -> Result<()> {
    match &reply.best {
        Some(b) => {
            writeln!(out, "{}", b.answer)?;
            writeln!(
                out,
                "  \"{}\"",
                b.citation.split_whitespace().collect::<Vec<_>>().join(" ")
            )?;
            writeln!(out, "  {} (score {:.2})", b.title, b.score)?;
            if let Some(url) = &b.url {
                writeln!(out, "  {url}")?;
            }
        }
        None => writeln!(
            out,
            "{}",
            reply
                .abstention
                .as_ref()
                .map_or_else(|| ABSTAIN_MESSAGE.to_owned(), |a| a.message())
        )?,
    }
    Ok(())
}

/// Opens the index alone, for commands that need no model.
fn open_index(config: &Config) -> Result<newsqa_index::ArticleIndex> {
    let mut index = newsqa_index::ArticleIndex::open(&config.index.path)
        .with_context(|| format!("opening index at {}", config.index.path.display()))?;
    index.set_lock_wait(std::time::Duration::from_secs(config.index.lock_wait_secs));
    Ok(index)
}

/// Questions and removals need an index that exists: a mistyped `--index` is an error, not a
/// new empty index in the wrong place.
fn require_index(config: &Config) -> Result<()> {
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

fn articles(config: Config, json: bool) -> Result<ExitCode> {
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

fn show(config: Config, article: &str, json: bool) -> Result<ExitCode> {
    require_index(&config)?;
    let index = open_index(&config)?;
    let Some(info) = index.find(article)? else {
        eprintln!("error: no article with id or URL {article:?} (see `newsqa articles`)");
        return Ok(ExitCode::FAILURE);
    };
    let sentences = index.article_sentences(&info.id)?;
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
        println!("{}", s.split_whitespace().collect::<Vec<_>>().join(" "));
    }
    Ok(ExitCode::SUCCESS)
}

fn forget(config: Config, article: &str) -> Result<ExitCode> {
    require_index(&config)?;
    let index = open_index(&config)?;
    match index.forget(article)? {
        Some(a) => {
            println!("forgot: {} ({}, {} passages)", a.title, a.id, a.passages);
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!("error: no article with id or URL {article:?} (see `newsqa articles`)");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// What `eval` reads: a SQuAD file, or a news question set over a corpus directory.
struct EvalSource<'a> {
    file: &'a Path,
    corpus: Option<&'a Path>,
    split: Option<&'a str>,
}

fn run_eval(
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
        for chunk in data
            .articles
            .chunks(engine.config().ingest.batch_articles.max(1))
        {
            engine.write(chunk)?;
            bar.inc(chunk.len() as u64);
        }
        engine.commit()?;
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
    let bar = progress_bar(data.questions.len(), "asking");
    let report = eval::run(
        &engine,
        &data.questions,
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
    Ok(ExitCode::SUCCESS)
}
