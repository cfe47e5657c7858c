//! The `newsqa` command line: ingest, ask, articles, show, forget, check, eval, feed, serve
//! and shards (plan, move). What each command does lives in the library; `cli/` holds one
//! module per command.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};
use newsqa::Config;

mod cli;

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
pub(crate) enum FeedCommand {
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
pub(crate) enum ShardsCommand {
    /// Print which process runs which shards (contiguous runs, as even as they can be).
    Plan {
        /// How many shards the bot has in all.
        #[arg(long, value_name = "N")]
        total_shards: u32,
        /// How many `newsqa serve` processes share them.
        #[arg(long, value_name = "P")]
        processes: u32,
        /// Print machine-readable JSON.
        #[arg(long)]
        json: bool,
    },
    /// Move the servers of some shards (their corpora, watched channels and feed
    /// subscriptions) from one process's guilds directory to another's. Stop the processes
    /// that use either directory first: it refuses while one serves from them.
    Move {
        /// The guilds directory the servers are in now.
        #[arg(long, value_name = "DIR")]
        from: PathBuf,
        /// The guilds directory of the process that will run their shards.
        #[arg(long, value_name = "DIR")]
        to: PathBuf,
        /// The bot's shard count after the change.
        #[arg(long, value_name = "N")]
        total_shards: u32,
        /// The shards (of the new count) whose servers move ("4-7").
        #[arg(long, value_name = "A-B")]
        shards: newsqa_bot::ShardRange,
        /// The other process's feed state file, when it is not this config's `[feeds] state`.
        #[arg(long, value_name = "FILE")]
        to_feeds: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum Command {
    /// Run the Discord bot until stopped (Ctrl-C or SIGTERM). Needs a bot token: see the README.
    Serve {
        /// Run only these gateway shards ("0-3"), of --total-shards: several processes, on one
        /// machine or several, share a bot's servers (see `newsqa shards plan`). Default: every
        /// shard, as many as Discord recommends.
        #[arg(long, value_name = "A-B")]
        shards: Option<newsqa_bot::ShardRange>,
        /// How many shards the bot has in all.
        #[arg(long, value_name = "N")]
        total_shards: Option<u32>,
    },
    /// Sharded serving: which process runs which shards, and moving servers' data between
    /// processes when the shard count changes.
    #[command(subcommand)]
    Shards(ShardsCommand),
    /// Add articles to the index: text or HTML files, directories (recursively), web pages
    /// (http/https URLs) or - for stdin.
    Ingest {
        /// Files, directories, http(s) URLs or - (standard input). A directory gives its
        /// .txt, .text, .html, .htm, .xhtml and .md files, hidden ones left out; what it
        /// skips is counted and said.
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
        /// The question, as a member would type it ("hey, who issued the order?").
        question: String,
        /// Print machine-readable JSON.
        #[arg(long)]
        json: bool,
        /// Ask a follow-up: FILE holds the previous question's `ask --json` output (- for
        /// standard input). A question that continues it ("when did he issue it?") is read
        /// with it; a new question is asked as it is.
        #[arg(long, value_name = "FILE")]
        after: Option<PathBuf>,
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
    /// Check that the index adds up: every article once, with all its passages, and no
    /// passage without its article (after a crash, a full disk or a copy). Exits 1 if not.
    Check {
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
    two_malloc_arenas();
    newsqa_models::bound_onednn_caches();
    let cli = Cli::parse();
    // A service logs what it does; a command-line tool only its warnings.
    let serving = matches!(cli.command, Command::Serve { .. });
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

/// At most two glibc malloc arenas, unless `MALLOC_ARENA_MAX` says otherwise. glibc gives
/// threads arenas of their own (up to 8 per core), and each keeps freed memory that the
/// heap trim after each batch of a bulk embedding does not return. A bulk embedding runs on
/// two threads: `bbc/tech` ingest peaked at 470 to 510 MB with the default arenas and 406 MB
/// with two, as fast, and the whole BBC corpus at 556 and 713 MB (BENCHMARKS.md, "Bulk
/// ingest: batches by token count").
fn two_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: a malloc setting, made at start-up before any other thread exists.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
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
    // A server's data is read and written only while no `shards move` runs on its
    // directory, and never where it moved away from.
    let _guild_held = match cli.guild {
        Some(guild) => {
            Some(newsqa::guilds::Guilds::new(&config.index.guilds).hold_for_command(guild)?)
        }
        None => None,
    };
    if let Some(guild) = cli.guild {
        config.index.path = newsqa::guilds::Guilds::new(&config.index.guilds).corpus(guild);
    }
    match cli.command {
        Command::Feed(cmd) => cli::feed::feed(config, cli.guild, cmd),
        Command::Serve {
            shards,
            total_shards,
        } => {
            if shards.is_some() || total_shards.is_some() {
                config.discord.shards = shards;
                config.discord.total_shards = total_shards;
            }
            cli::serve::serve(config)
        }
        Command::Shards(ShardsCommand::Plan {
            total_shards,
            processes,
            json,
        }) => cli::shards::plan(total_shards, processes, json),
        Command::Shards(ShardsCommand::Move {
            from,
            to,
            total_shards,
            shards,
            to_feeds,
        }) => cli::shards::move_servers(
            &config,
            &from,
            &to,
            total_shards,
            shards,
            to_feeds.as_deref(),
        ),
        Command::Ingest {
            paths,
            title,
            url,
            json,
        } => cli::ingest::ingest(config, &paths, title, url, json),
        Command::Ask {
            question,
            json,
            after,
        } => cli::ask::ask(config, &question, json, after.as_deref()),
        Command::Articles { json } => cli::articles::articles(config, json),
        Command::Check { json } => cli::articles::check(config, json),
        Command::Forget { article } => cli::articles::forget(config, &article),
        Command::Show { article, json } => cli::articles::show(config, &article, json),
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
            let source = cli::eval::EvalSource {
                file: &file,
                corpus: corpus.as_deref(),
                split: split.as_deref(),
            };
            cli::eval::run_eval(config, source, limit, json, no_ingest, details.as_deref())
        }
    }
}
