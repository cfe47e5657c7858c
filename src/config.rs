//! Settings: defaults < `config.toml` < `NEWSQA_*` environment < command line.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use newsqa_bot::DiscordConfig;
use serde::{Deserialize, Serialize};

/// The directory the shipped models sit in (`models/` of this project).
const SHIPPED_MODELS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models");

/// All of newsqa's settings. Every field has a default, so no file is needed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the index lives.
    pub index: IndexConfig,
    /// How articles are read and split.
    pub ingest: IngestConfig,
    /// The extractive QA reader.
    pub reader: ReaderConfig,
    /// The sentence encoder.
    pub encoder: EncoderConfig,
    /// How answers are picked, scored and withheld.
    pub answer: AnswerConfig,
    /// Fetching pages and feeds from the web.
    pub fetch: FetchSection,
    /// Feed subscriptions.
    pub feeds: FeedsConfig,
    /// The Discord bot (`newsqa serve`).
    pub discord: DiscordConfig,
    /// What one Discord server may use of a bot shared by many.
    pub quotas: QuotasConfig,
}

/// `[quotas]`: what one Discord server may use of a bot that many share (anyone can make a
/// server and be its moderator). 0: no limit. The command line's own index has none.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QuotasConfig {
    /// Articles in one server's corpus (from `/ingest`, watched posts and feeds).
    pub articles: usize,
    /// Megabytes one server's corpus may take on disk.
    pub disk_mb: u64,
    /// Feeds one server follows.
    pub feeds: usize,
    /// Articles one server may send in (`/ingest`, watched posts) in a minute.
    pub ingests_per_minute: usize,
}

impl Default for QuotasConfig {
    fn default() -> Self {
        QuotasConfig {
            articles: 5000,
            disk_mb: 1024,
            feeds: 20,
            ingests_per_minute: 30,
        }
    }
}

/// `[fetch]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FetchSection {
    /// Largest page or feed accepted, in bytes.
    pub max_bytes: u64,
    /// Seconds allowed to connect.
    pub connect_timeout_secs: u64,
    /// Seconds allowed for a whole request, redirects included.
    pub timeout_secs: u64,
    /// Redirects followed before giving up.
    pub max_redirects: usize,
    /// Private networks (CIDR or single addresses) that may be fetched from anyway, e.g. for
    /// self-hosted sites; everything non-public is refused otherwise. An allowed network is
    /// open on every port.
    pub allow: Vec<String>,
    /// Ports of public addresses that pages and feeds are fetched from.
    pub ports: Vec<u16>,
}

impl Default for FetchSection {
    fn default() -> Self {
        FetchSection {
            max_bytes: 5 * 1024 * 1024,
            connect_timeout_secs: 10,
            timeout_secs: 30,
            max_redirects: 5,
            allow: Vec::new(),
            ports: newsqa_web::DEFAULT_PORTS.to_vec(),
        }
    }
}

impl FetchSection {
    /// The fetcher these settings describe.
    pub fn fetcher(&self) -> Result<newsqa_web::Fetcher> {
        let allow = self
            .allow
            .iter()
            .map(|a| {
                a.parse()
                    .map_err(|e: String| anyhow::anyhow!("[fetch] allow: {e}"))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(newsqa_web::Fetcher::new(newsqa_web::FetchConfig {
            max_bytes: self.max_bytes,
            connect_timeout: std::time::Duration::from_secs(self.connect_timeout_secs.max(1)),
            timeout: std::time::Duration::from_secs(self.timeout_secs.max(1)),
            max_redirects: self.max_redirects,
            allow,
            ports: self.ports.clone(),
        }))
    }
}

/// `[feeds]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeedsConfig {
    /// Minutes between two polls of a feed.
    pub poll_minutes: f64,
    /// Hours a feed may keep failing before `feed list` flags it to moderators.
    pub report_after_hours: f64,
    /// The subscriptions and what each feed has given so far. Env: NEWSQA_FEEDS.
    pub state: PathBuf,
    /// Most new items one poll of one feed ingests (oldest first); the rest wait for the
    /// next poll, so a feed that suddenly lists thousands of items cannot stall a round.
    pub max_items_per_poll: usize,
    /// Servers whose feeds are polled at once in a round.
    pub concurrent_servers: usize,
    /// Seconds one server's feeds may take in a round; their items left then wait for the
    /// next poll, so a few slow feeds delay only their own server's news.
    pub server_round_secs: f64,
}

impl FeedsConfig {
    /// How a round shares its time, with a poll interval of at least `min_interval_secs`.
    pub fn round(&self, min_interval_secs: f64) -> crate::feeds::Round {
        crate::feeds::Round {
            interval_secs: (self.poll_minutes * 60.0).max(min_interval_secs) as u64,
            concurrent: self.concurrent_servers.max(1),
            per_server: std::time::Duration::from_secs_f64(self.server_round_secs.max(1.0)),
        }
    }
}

impl Default for FeedsConfig {
    fn default() -> Self {
        FeedsConfig {
            poll_minutes: 15.0,
            report_after_hours: 48.0,
            state: PathBuf::from("data/feeds.json"),
            max_items_per_poll: 50,
            concurrent_servers: 4,
            server_round_secs: 120.0,
        }
    }
}

/// `[index]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IndexConfig {
    /// Directory of the tantivy index; created when missing.
    pub path: PathBuf,
    /// How much more a word in the title counts than one in the body.
    pub title_boost: f32,
    /// Directory of the bot's per-server indexes: one subdirectory per Discord server.
    pub guilds: PathBuf,
    /// Seconds a write waits for another process (the bot, a CLI ingest) to finish writing
    /// to the same index before it fails with "index busy".
    pub lock_wait_secs: u64,
    /// Servers whose corpus `newsqa serve` keeps open at once (each an index reader with its
    /// watcher thread); the least recently used is closed beyond that and reopened on demand.
    pub max_open_servers: usize,
}

impl Default for IndexConfig {
    fn default() -> Self {
        IndexConfig {
            path: PathBuf::from("data/index"),
            title_boost: 2.0,
            guilds: PathBuf::from("data/guilds"),
            lock_wait_secs: 30,
            max_open_servers: 64,
        }
    }
}

/// `[ingest]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestConfig {
    /// Files larger than this are refused.
    pub max_bytes: u64,
    /// Sentences per passage.
    pub passage_sentences: usize,
    /// Sentences shared by neighbouring passages.
    pub passage_overlap: usize,
    /// Articles embedded and written together in one step of a bulk ingest.
    pub batch_articles: usize,
    /// Sentences kept of one article; a longer text (an archive, a data dump) keeps its first
    /// ones and the ingest says so. 0: no limit.
    pub max_sentences: usize,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            max_bytes: 5 * 1024 * 1024,
            passage_sentences: 4,
            passage_overlap: 2,
            batch_articles: 64,
            max_sentences: 2000,
        }
    }
}

/// `[reader]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReaderConfig {
    /// Model directory (config.json, vocab, weights). The model type comes from config.json.
    pub model: PathBuf,
    /// libtorch threads per operation (0 = libtorch's default: one per core).
    pub threads: usize,
    /// Questions that may wait for the reader at most (a hard bound on memory).
    pub queue: usize,
    /// New questions are told "busy" when those ahead of them are expected to take longer
    /// than this many seconds, from the measured time per question (0: the queue alone).
    pub max_wait_secs: f64,
    /// Longest answer, in tokens.
    pub max_answer_tokens: usize,
    /// Pass BERT token type ids (question 0, context 1) to the reader.
    pub token_type_ids: bool,
    /// What the reader's layers compute in, as `[encoder] precision`.
    pub precision: newsqa_models::Precision,
}

impl Default for ReaderConfig {
    fn default() -> Self {
        ReaderConfig {
            model: PathBuf::from(SHIPPED_MODELS).join("minilm-squad"),
            threads: 0,
            queue: 256,
            max_wait_secs: 20.0,
            max_answer_tokens: 30,
            token_type_ids: true,
            precision: newsqa_models::Precision::Auto,
        }
    }
}

/// `[encoder]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EncoderConfig {
    /// sentence-transformers model directory.
    pub model: PathBuf,
    /// Sentences per forward pass at ingest.
    pub batch_size: usize,
    /// What the encoder's layers compute in: `auto` (bfloat16 where this machine multiplies
    /// matrices clearly faster in it, timed at start-up), `float32` or `bfloat16`.
    pub precision: newsqa_models::Precision,
    /// Most sentences embedded in one job on the model thread: a long article goes in jobs of
    /// this many, and questions from every server take their turn between them. 0: one job
    /// per ingest (questions wait for all of it).
    pub job_sentences: usize,
}

impl Default for EncoderConfig {
    fn default() -> Self {
        EncoderConfig {
            model: PathBuf::from(SHIPPED_MODELS).join("all-minilm-l6-v2"),
            batch_size: 32,
            precision: newsqa_models::Precision::Auto,
            job_sentences: 64,
        }
    }
}

/// `[answer]`: see ARCHITECTURE.md for the scoring formula and the measurements behind the weights.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnswerConfig {
    /// Passages fetched by BM25 for each question.
    pub passages: usize,
    /// Best sentences (by similarity and BM25) whose windows the reader always reads.
    pub read_sentences: usize,
    /// Further sentences are read while their ranking score is within this margin of the best
    /// sentence's (the ranking cannot tell them apart), up to `max_read_sentences` in all.
    pub read_margin: f32,
    /// Most sentences read for one question.
    pub max_read_sentences: usize,
    /// When the best answer of the first `read_sentences` already has at least this
    /// confidence, the further sentences within `read_margin` are not read. 0 = read them all
    /// in one pass (what a `--details` run for `scripts/tune_fusion.py` needs).
    pub confident_stop: f32,
    /// A yes/no question is answered by the sentence that decides it: the sentence read
    /// with the highest support, its cosine similarity to the question minus this weight
    /// times the reader's no-answer score...
    pub yes_no_no_answer_weight: f32,
    /// ...when that support reaches this; else the articles do not decide it.
    pub yes_no_threshold: f32,
    /// Neighbouring sentences on each side of a best sentence in its reader window.
    pub window_sentences: usize,
    /// Spans the reader returns per window.
    pub spans_per_window: usize,
    /// How much a sentence's similarity to sentences already chosen for the reader counts
    /// against it (maximal marginal relevance; 0 = rank by relevance alone).
    pub diversity: f32,
    /// Weight of the IDF-weighted share of question terms in a sentence when ranking sentences.
    pub rank_overlap_weight: f32,
    /// Weight of BM25 (normalised by the best passage's score) when ranking sentences.
    pub rank_bm25_weight: f32,
    /// Weight of the reader's span score (start + end logit) in the final score.
    pub reader_weight: f32,
    /// Weight of the reader's no-answer score (the [CLS] start + end logit of the span's
    /// sentence) in the final score; negative: the surer the reader is that the sentence holds
    /// no answer, the lower the confidence. 0 for a reader trained without unanswerable examples.
    pub no_answer_weight: f32,
    /// Weight of the answer verifier's logit (that the sentence answers the question) in the
    /// final score; it has no effect without a verifier in the reader's directory.
    pub verifier_weight: f32,
    /// Weight of question-sentence similarity in the final score.
    pub similarity_weight: f32,
    /// Weight of the sentence's share of question terms in the final score.
    pub overlap_weight: f32,
    /// Weight of normalised BM25 in the final score.
    pub bm25_weight: f32,
    /// Weight of the share of question terms (IDF-weighted) in the cited sentence with its
    /// neighbours (one on each side) in the final score.
    pub context_overlap_weight: f32,
    /// Weight of agreement in the final score: the summed confidence of other sentences'
    /// candidates with the same answer.
    pub agreement_weight: f32,
    /// Constant added before the logistic function that turns the fusion into a confidence.
    pub score_bias: f32,
    /// Below this final score the engine abstains.
    pub threshold: f32,
    /// Below this question-sentence similarity the engine abstains, whatever the reader says.
    pub min_similarity: f32,
    /// Refuse an answer whose article never mentions a year, number or name that the question
    /// names (or that was published before the year asked about); see ARCHITECTURE.md.
    pub check_constraints: bool,
    /// Candidates (best first) tried against that check before abstaining.
    pub check_candidates: usize,
    /// An undated article that does not name a year the question asks about may still be
    /// about it when the year is at most this many years after the latest year it names.
    pub undated_year_slack: i32,
    /// When another dated article gives a different answer with a confidence at most this
    /// far below the best (and above the threshold), the newer article's answer is given and
    /// the older one named beside it.
    pub newer_within: f32,
}

impl Default for AnswerConfig {
    fn default() -> Self {
        AnswerConfig {
            passages: 10,
            read_sentences: 3,
            read_margin: 0.4,
            max_read_sentences: 9,
            confident_stop: 0.35,
            yes_no_no_answer_weight: 0.05,
            yes_no_threshold: 0.30,
            window_sentences: 0,
            spans_per_window: 3,
            diversity: 0.3,
            rank_overlap_weight: 0.6,
            rank_bm25_weight: 0.3,
            reader_weight: 0.1919,
            no_answer_weight: -0.1152,
            verifier_weight: 0.0,
            similarity_weight: 0.3838,
            overlap_weight: 1.1515,
            bm25_weight: 0.1919,
            context_overlap_weight: 0.0,
            agreement_weight: 0.0,
            score_bias: -3.5335,
            threshold: 0.1,
            min_similarity: 0.2,
            check_constraints: true,
            check_candidates: 5,
            undated_year_slack: 2,
            newer_within: 0.2,
        }
    }
}

impl Config {
    /// Loads settings: the file at `path` (or `config.toml` in the working directory when it
    /// exists), then `NEWSQA_*` environment variables.
    pub fn load(path: Option<&Path>) -> Result<Config> {
        let mut config = match path {
            Some(p) => Self::from_file(p)?,
            None if Path::new("config.toml").is_file() => {
                Self::from_file(Path::new("config.toml"))?
            }
            None => Config::default(),
        };
        config.apply_env(|k| std::env::var(k).ok())?;
        config.validate()?;
        Ok(config)
    }

    fn from_file(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config file {}", path.display()))?;
        toml::from_str(&text).map_err(|e| {
            let hint = did_you_mean(e.message()).unwrap_or_default();
            anyhow::anyhow!("{}{hint}", e.message().trim_end())
                .context(format!("parsing config file {}", path.display()))
        })
    }

    /// Checks every value whose range is known, once, at load: a value out of its range is an
    /// error that names the key and the range (instead of, say, every question abstaining
    /// under `threshold = 5`).
    pub fn validate(&self) -> Result<()> {
        fn at_least(key: &str, value: f64, min: f64) -> Result<()> {
            if value.is_nan() || value < min {
                anyhow::bail!("config: {key} = {value} is out of range: it must be at least {min}");
            }
            Ok(())
        }
        fn within(key: &str, value: f64, min: f64, max: f64) -> Result<()> {
            if value.is_nan() || value < min || value > max {
                anyhow::bail!(
                    "config: {key} = {value} is out of range: it must be from {min} to {max}"
                );
            }
            Ok(())
        }
        let (i, a, r, f) = (&self.ingest, &self.answer, &self.reader, &self.feeds);
        at_least("[ingest] max_bytes", i.max_bytes as f64, 1.0)?;
        at_least(
            "[ingest] passage_sentences",
            i.passage_sentences as f64,
            1.0,
        )?;
        within(
            "[ingest] passage_overlap",
            i.passage_overlap as f64,
            0.0,
            i.passage_sentences.saturating_sub(1) as f64,
        )?;
        at_least("[ingest] batch_articles", i.batch_articles as f64, 1.0)?;
        at_least(
            "[index] max_open_servers",
            self.index.max_open_servers as f64,
            1.0,
        )?;
        at_least("[reader] queue", r.queue as f64, 1.0)?;
        at_least("[reader] max_wait_secs", r.max_wait_secs, 0.0)?;
        at_least("[encoder] batch_size", self.encoder.batch_size as f64, 1.0)?;
        at_least("[answer] passages", a.passages as f64, 1.0)?;
        at_least("[answer] read_sentences", a.read_sentences as f64, 1.0)?;
        at_least("[answer] spans_per_window", a.spans_per_window as f64, 1.0)?;
        at_least("[answer] check_candidates", a.check_candidates as f64, 1.0)?;
        within("[answer] threshold", f64::from(a.threshold), 0.0, 1.0)?;
        within(
            "[answer] yes_no_threshold",
            f64::from(a.yes_no_threshold),
            -1.0,
            1.0,
        )?;
        within(
            "[answer] min_similarity",
            f64::from(a.min_similarity),
            -1.0,
            1.0,
        )?;
        at_least("[answer] newer_within", f64::from(a.newer_within), 0.0)?;
        at_least("[feeds] poll_minutes", f.poll_minutes, 0.0)?;
        at_least(
            "[feeds] max_items_per_poll",
            f.max_items_per_poll as f64,
            1.0,
        )?;
        at_least(
            "[feeds] concurrent_servers",
            f.concurrent_servers as f64,
            1.0,
        )?;
        at_least("[feeds] server_round_secs", f.server_round_secs, 1.0)?;
        Ok(())
    }

    /// Applies `NEWSQA_INDEX`, `NEWSQA_GUILDS`, `NEWSQA_READER_MODEL`, `NEWSQA_ENCODER_MODEL`,
    /// `NEWSQA_READER_PRECISION`, `NEWSQA_ENCODER_PRECISION`, `NEWSQA_THREADS`, `NEWSQA_FETCH_ALLOW` (comma-separated), `NEWSQA_DISCORD_TOKEN` (or `DISCORD_TOKEN`) and
    /// `NEWSQA_DISCORD_API_BASE`.
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<()> {
        if let Some(v) = var("NEWSQA_INDEX") {
            self.index.path = v.into();
        }
        if let Some(v) = var("NEWSQA_GUILDS") {
            self.index.guilds = v.into();
        }
        if let Some(v) = var("NEWSQA_DISCORD_TOKEN").or_else(|| var("DISCORD_TOKEN")) {
            self.discord.token = Some(v);
        }
        if let Some(v) = var("NEWSQA_DISCORD_API_BASE") {
            self.discord.api_base = v;
        }
        if let Some(v) = var("NEWSQA_FEEDS") {
            self.feeds.state = v.into();
        }
        if let Some(v) = var("NEWSQA_FETCH_ALLOW") {
            self.fetch.allow = v
                .split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_owned)
                .collect();
        }
        if let Some(v) = var("NEWSQA_READER_MODEL") {
            self.reader.model = v.into();
        }
        if let Some(v) = var("NEWSQA_ENCODER_MODEL") {
            self.encoder.model = v.into();
        }
        let precision = |name: &str, v: String| {
            v.parse::<newsqa_models::Precision>()
                .map_err(|e| anyhow::anyhow!("{name}: {e}"))
        };
        if let Some(v) = var("NEWSQA_READER_PRECISION") {
            self.reader.precision = precision("NEWSQA_READER_PRECISION", v)?;
        }
        if let Some(v) = var("NEWSQA_ENCODER_PRECISION") {
            self.encoder.precision = precision("NEWSQA_ENCODER_PRECISION", v)?;
        }
        if let Some(v) = var("NEWSQA_THREADS") {
            self.reader.threads = v
                .parse()
                .with_context(|| format!("NEWSQA_THREADS={v:?} is not a number"))?;
        }
        Ok(())
    }
}

/// For serde's "unknown field `treshold`, expected one of `passages`, ...": the expected
/// key nearest to the one written, as " (did you mean `threshold`?)".
fn did_you_mean(message: &str) -> Option<String> {
    let (_, rest) = message.split_once("unknown field `")?;
    let (typed, rest) = rest.split_once('`')?;
    let expected = rest.split('`').skip(1).step_by(2);
    let (best, distance) = expected
        .map(|key| (key, strsim::damerau_levenshtein(typed, key)))
        .min_by_key(|&(_, d)| d)?;
    (distance <= 2.max(typed.len() / 3)).then(|| format!(" (did you mean `{best}`?)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_out_of_range_names_its_key_and_range_and_a_typo_its_nearest_key() {
        let c: Config = toml::from_str("[answer]\nthreshold = 5\n").unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(
            e.contains("[answer] threshold = 5") && e.contains("from 0 to 1"),
            "{e}"
        );
        let c: Config = toml::from_str("[answer]\npassages = 0\n").unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(
            e.contains("[answer] passages") && e.contains("at least 1"),
            "{e}"
        );
        assert!(Config::default().validate().is_ok());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "[answer]\ntreshold = 0.2\n").unwrap();
        let e = format!("{:#}", Config::load(Some(&path)).unwrap_err());
        assert!(e.contains("did you mean `threshold`?"), "{e}");
        assert_eq!(
            did_you_mean("unknown field `zzzzzzzz`, expected `a` or `b`"),
            None
        );
    }

    #[test]
    fn the_example_config_parses_and_matches_the_defaults() {
        let text = include_str!("../config.example.toml");
        let parsed: Config = toml::from_str(text).unwrap();
        let default = Config::default();
        assert_eq!(
            toml::to_string(&parsed.answer).unwrap(),
            toml::to_string(&default.answer).unwrap()
        );
        assert_eq!(parsed.ingest.max_bytes, default.ingest.max_bytes);
    }

    #[test]
    fn unknown_keys_are_an_error() {
        let err = toml::from_str::<Config>("[reader]\nthreds = 2\n").unwrap_err();
        assert!(err.to_string().contains("threds"), "{err}");
    }

    #[test]
    fn environment_overrides_the_file() {
        let mut c: Config = toml::from_str("[index]\npath = \"from-file\"\n").unwrap();
        c.apply_env(|k| (k == "NEWSQA_INDEX").then(|| "from-env".to_string()))
            .unwrap();
        assert_eq!(c.index.path, PathBuf::from("from-env"));
    }

    #[test]
    fn the_models_precision_is_read_from_the_file_or_the_environment() {
        use newsqa_models::Precision;
        let default = Config::default();
        assert_eq!(default.reader.precision, Precision::Auto);
        assert_eq!(default.encoder.precision, Precision::Auto);
        let file = "[reader]\nprecision = \"float32\"\n[encoder]\nprecision = \"bf16\"\n";
        let mut c: Config = toml::from_str(file).unwrap();
        assert_eq!(c.reader.precision, Precision::Float32);
        assert_eq!(c.encoder.precision, Precision::BFloat16);
        c.apply_env(|k| match k {
            "NEWSQA_READER_PRECISION" => Some("bfloat16".into()),
            "NEWSQA_ENCODER_PRECISION" => Some("float32".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.reader.precision, Precision::BFloat16);
        assert_eq!(c.encoder.precision, Precision::Float32);
        let err = c
            .apply_env(|k| (k == "NEWSQA_ENCODER_PRECISION").then(|| "half".into()))
            .unwrap_err();
        assert!(
            err.to_string().contains("auto, float32 or bfloat16"),
            "{err}"
        );
        assert!(toml::from_str::<Config>("[encoder]\nprecision = \"half\"\n").is_err());
    }

    #[test]
    fn the_discord_token_comes_from_either_variable_and_ours_wins() {
        let mut c = Config::default();
        c.apply_env(|k| (k == "DISCORD_TOKEN").then(|| "generic".to_string()))
            .unwrap();
        assert_eq!(c.discord.token.as_deref(), Some("generic"));
        c.apply_env(|k| match k {
            "DISCORD_TOKEN" => Some("generic".to_string()),
            "NEWSQA_DISCORD_TOKEN" => Some("ours".to_string()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.discord.token.as_deref(), Some("ours"));
    }
}
