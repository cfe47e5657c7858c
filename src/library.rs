//! The bot's side of the engine: one corpus (index) per Discord server, all sharing one pair of
//! models, behind the [`newsqa_bot::Backend`] trait the adapter calls.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use newsqa_bot::{
    Answer, ArticleSummary, Backend, BackendError, Feedback, GuildId, IngestStatus, Ingested,
    Source,
};
use newsqa_index::{ArticleInfo, IndexError, Metadata, Upsert};
use newsqa_models::ModelError;

use crate::engine::{Candidate, Engine, Models};
use crate::Config;

/// Every server's corpus, opened on first use.
pub struct Library {
    config: Config,
    models: Models,
    root: PathBuf,
    engines: Mutex<HashMap<GuildId, Arc<Engine>>>,
    feedback: Mutex<()>,
    fetcher: newsqa_web::Fetcher,
}

impl Library {
    /// Loads the models; corpora live in subdirectories of the config's `[index] guilds`.
    pub fn open(config: Config) -> Result<Library> {
        let root = config.index.guilds.clone();
        std::fs::create_dir_all(&root)
            .with_context(|| format!("creating the server index directory {}", root.display()))?;
        let fetcher = config.fetch.fetcher()?;
        let models = Models::load(&config)?;
        Ok(Library {
            fetcher,
            config,
            models,
            root,
            engines: Mutex::new(HashMap::new()),
            feedback: Mutex::new(()),
        })
    }

    /// The engine answering from one server's articles.
    pub fn corpus(&self, guild: GuildId) -> Result<Arc<Engine>> {
        let mut engines = self.engines.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = engines.get(&guild) {
            return Ok(Arc::clone(e));
        }
        let path = self.root.join(guild.to_string());
        let engine = Arc::new(Engine::open_with(
            self.config.clone(),
            self.models.clone(),
            &path,
        )?);
        engines.insert(guild, Arc::clone(&engine));
        Ok(engine)
    }

    /// Where votes are appended, one JSON object per line.
    pub fn feedback_path(&self) -> PathBuf {
        self.root.join("feedback.jsonl")
    }
}

fn is_busy(e: &anyhow::Error) -> bool {
    e.chain()
        .any(|c| matches!(c.downcast_ref::<ModelError>(), Some(ModelError::Busy(_))))
}

fn internal(e: anyhow::Error) -> BackendError {
    if is_busy(&e) {
        BackendError::Busy
    } else {
        BackendError::Internal(e)
    }
}

fn summary(a: ArticleInfo) -> ArticleSummary {
    ArticleSummary {
        id: a.id,
        title: a.title,
        url: a.url,
        sentences: a.sentences,
    }
}

/// The engine's answer as the bot shows it, with the answer located in its passage.
fn to_answer(c: Candidate) -> Answer {
    let answer_in_passage = c
        .passage
        .find(&c.citation)
        .and_then(|at| {
            c.citation
                .find(&c.answer)
                .map(|i| at + i..at + i + c.answer.len())
        })
        .or_else(|| c.passage.find(&c.answer).map(|i| i..i + c.answer.len()));
    Answer {
        text: c.answer,
        citation: c.citation,
        article_id: c.article_id,
        title: c.title,
        url: c.url,
        confidence: c.score,
        passage: c.passage,
        answer_in_passage,
    }
}

impl Backend for Library {
    fn ask(&self, guild: GuildId, question: &str) -> Result<Option<Answer>, BackendError> {
        let engine = self.corpus(guild)?;
        let reply = engine.ask_with(question, false).map_err(internal)?;
        Ok(reply.best.map(to_answer))
    }

    fn ingest(&self, guild: GuildId, source: Source) -> Result<Ingested, BackendError> {
        let engine = self.corpus(guild)?;
        let (bytes, meta) = match source {
            Source::Text { text, title } => (
                text.into_bytes(),
                Metadata {
                    source: "discord message".into(),
                    title,
                    url: None,
                    ..Default::default()
                },
            ),
            Source::File { name, bytes, title } => (
                bytes,
                Metadata {
                    source: name,
                    title,
                    url: None,
                    ..Default::default()
                },
            ),
            Source::Url { url, title } => {
                let fetched = tokio::runtime::Handle::try_current()
                    .context("fetching needs the bot's async runtime")?
                    .block_on(self.fetcher.page(&url));
                match fetched {
                    // Every fetch refusal (private address, size, type, status) is for the moderator.
                    Err(e) => return Err(BackendError::Rejected(e.to_string())),
                    Ok(page) => {
                        let fetched_from = Some(page.url.clone());
                        (
                            page.text.into_bytes(),
                            Metadata {
                                source: url,
                                title,
                                url: None,
                                fetched_from,
                            },
                        )
                    }
                }
            }
        };
        let article = match engine.parse(&bytes, meta) {
            Ok(a) => a,
            Err(e) => match e.downcast_ref::<IndexError>() {
                Some(index_error) => return Err(BackendError::Rejected(index_error.to_string())),
                None => return Err(internal(e)),
            },
        };
        let done = engine
            .ingest(std::slice::from_ref(&article))
            .map_err(internal)?;
        let done = done.into_iter().next().context("ingest reported nothing")?;
        Ok(Ingested {
            id: done.id,
            title: done.title,
            url: article.url.clone(),
            sentences: done.sentences,
            status: match done.status {
                Upsert::Added => IngestStatus::Added,
                Upsert::Updated => IngestStatus::Updated,
                _ => IngestStatus::Unchanged,
            },
        })
    }

    fn articles(&self, guild: GuildId) -> Result<Vec<ArticleSummary>, BackendError> {
        let engine = self.corpus(guild)?;
        Ok(engine.articles()?.into_iter().map(summary).collect())
    }

    fn lookup(&self, guild: GuildId, id_or_url: &str) -> Result<ArticleSummary, BackendError> {
        let wanted = id_or_url.trim();
        if wanted.is_empty() {
            return Err(BackendError::NotFound(String::new()));
        }
        let all = self.corpus(guild)?.articles()?;
        if let Some(a) = all.iter().find(|a| {
            a.id == wanted
                || a.url.as_deref() == Some(wanted)
                || a.url.as_deref() == Some(newsqa_index::canonical_url(wanted).as_str())
        }) {
            return Ok(summary(a.clone()));
        }
        let mut matches = all.into_iter().filter(|a| a.id.starts_with(wanted));
        match (matches.next(), matches.count()) {
            (Some(a), 0) => Ok(summary(a)),
            (Some(_), more) => Err(BackendError::Ambiguous {
                prefix: wanted.to_owned(),
                count: more + 1,
            }),
            (None, _) => Err(BackendError::NotFound(wanted.to_owned())),
        }
    }

    fn forget(&self, guild: GuildId, id: &str) -> Result<Option<ArticleSummary>, BackendError> {
        let engine = self.corpus(guild)?;
        Ok(engine.forget(id)?.map(summary))
    }

    fn feedback(&self, feedback: &Feedback) -> Result<(), BackendError> {
        #[derive(serde::Serialize)]
        struct Line<'a> {
            at: u64,
            #[serde(flatten)]
            feedback: &'a Feedback,
        }
        let at = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut line = serde_json::to_string(&Line { at, feedback }).context("encoding a vote")?;
        line.push('\n');
        let path = self.feedback_path();
        let _one_writer = self.feedback.lock().unwrap_or_else(|e| e.into_inner());
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(line.as_bytes()))
            .with_context(|| format!("appending to {}", path.display()))?;
        Ok(())
    }

    fn max_article_bytes(&self) -> u64 {
        self.config.ingest.max_bytes
    }
}
