//! The engine: joins the index and the models into "article in, indexed" and
//! "question in, cited answer out".
//!
//! A question goes: BM25 passages -> every sentence of them ranked by similarity to the
//! question (vectors stored at ingest; only the question is embedded now) plus a little
//! BM25 -> short windows around the best few sentences -> one batched reader call ->
//! spans scored by linear fusion of reader, similarity and BM25 -> the best span, cited
//! by the whole sentence that holds it, or an abstention.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use newsqa_index::{
    Article, ArticleIndex, ArticleInfo, Date, Metadata, PassageConfig, PassageHit, Upsert,
};
use newsqa_models::{cosine, Encoder, EncoderConfig, Reader, ReaderConfig};
use serde::Serialize;

use crate::answerable::{self, Abstention, Constraint};
use crate::config::{AnswerConfig, Config};
use crate::holders::{Holder, Holders};
use crate::question::followup::{self, Turn};
use crate::question::{self, Form, Reading};

/// What users are told when the articles do not hold the answer.
pub const ABSTAIN_MESSAGE: &str = "I could not find the answer in the ingested articles.";

/// Question in, cited answer out; article in, indexed.
pub struct Engine {
    index: ArticleIndex,
    /// Where questions find their passages, when not in `index` (see [`Retriever`]).
    retriever: Option<std::sync::Arc<dyn Retriever>>,
    reader: Reader,
    encoder: Encoder,
    config: Config,
    /// Who holds each article (`holders.rs`): every write records its holder.
    holders: Holders,
}

/// Where the engine finds a question's candidate passages: BM25 candidates with their
/// sentences and the sentence vectors stored at ingest. The tantivy [`ArticleIndex`] is the
/// one implementation in the product, and the default. A server whose archive outgrows one
/// machine would put a distributed engine behind this seam (SCALING.md); the reader, the
/// encoder and the fusion stay as they are. The answerability check and the dates still read
/// the engine's own index.
pub trait Retriever: Send + Sync {
    /// The best `limit` passages for the question, best first, each with its sentences (byte
    /// ranges, stored vectors and the question terms they hold) and its BM25 score.
    fn search(&self, question: &str, limit: usize) -> newsqa_index::Result<Vec<PassageHit>>;

    /// The best `limit` passages of one article for the question, scored as
    /// [`Retriever::search`] scores them: a follow-up reads the article the earlier answer
    /// came from. None by default: follow-ups then search everywhere, as any question.
    fn search_in(
        &self,
        article: &str,
        question: &str,
        limit: usize,
    ) -> newsqa_index::Result<Vec<PassageHit>> {
        let _ = (article, question, limit);
        Ok(Vec::new())
    }
}

impl Retriever for ArticleIndex {
    fn search(&self, question: &str, limit: usize) -> newsqa_index::Result<Vec<PassageHit>> {
        ArticleIndex::search(self, question, limit)
    }

    fn search_in(
        &self,
        article: &str,
        question: &str,
        limit: usize,
    ) -> newsqa_index::Result<Vec<PassageHit>> {
        ArticleIndex::search_in(self, Some(article), question, limit)
    }
}

/// Passages of the earlier answer's article that a follow-up reads besides its own search.
const FOLLOW_UP_PASSAGES: usize = 3;

/// One answer candidate with its citation.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    /// The answer span.
    pub answer: String,
    /// Confidence that the answer is right, 0..1: a logistic function of the linear fusion of
    /// reader, similarity, overlap and BM25 scores, plus the answer verifier's logit (see
    /// ARCHITECTURE.md).
    pub score: f32,
    /// The fusion without the verifier, which ranks the candidates: the verifier says how far
    /// to trust a sentence's answer, not which span of it is the answer.
    #[serde(skip)]
    pub rank: f32,
    /// The whole sentence of the article holding the span, exactly as written.
    pub citation: String,
    /// Id of the cited article.
    pub article_id: String,
    /// Title of the cited article.
    pub title: String,
    /// URL of the cited article, if known.
    pub url: Option<String>,
    /// Start of the answer, in characters of the article body.
    pub start: usize,
    /// End (exclusive) of the answer, in characters of the article body.
    pub end: usize,
    /// The reader's span score (start + end logit).
    pub reader_score: f32,
    /// The reader's no-answer score for the cited sentence ([CLS] start + end logit).
    pub no_answer: f32,
    /// The answer verifier's logit that the cited sentence answers the question (0 without
    /// a verifier).
    pub verifier: f32,
    /// Cosine similarity of the question and the cited sentence.
    pub similarity: f32,
    /// IDF-weighted share of the question's terms in the cited sentence.
    pub overlap: f32,
    /// IDF-weighted share of the question's terms in the cited sentence with its neighbours
    /// (one on each side, within the passage).
    pub context_overlap: f32,
    /// Summed first-fusion confidence of other sentences' candidates with the same answer.
    pub agreement: f32,
    /// BM25 of the passage, divided by the best passage's BM25.
    pub bm25: f32,
    /// The cited article's publication date (filled in for the answer, the alternates and
    /// the candidates compared by age).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<Date>,
    /// The passage the answer came from (for "show passage").
    #[serde(skip)]
    pub passage: String,
}

impl Candidate {
    /// Whether the candidate reaches `score` and its sentence the similarity floor: the test
    /// for an answer to give (at `threshold`) and for a first reading to stop at
    /// (`confident_stop`).
    fn clears(&self, score: f32, cfg: &AnswerConfig) -> bool {
        self.score >= score && self.similarity >= cfg.min_similarity
    }
}

/// The engine's reply to a question.
#[derive(Debug, Clone, Serialize)]
pub struct Reply {
    /// The message read as a question: as typed, the question read from it, its form and
    /// constraints.
    pub reading: Reading,
    /// The earlier question and answer this one follows up, when it does.
    pub continues: Option<Turn>,
    /// The best candidate, when it clears the threshold.
    pub best: Option<Candidate>,
    /// The next candidates with other answers (at most 2), also when abstaining.
    pub alternates: Vec<Candidate>,
    /// Why there is no answer, when there is none.
    pub abstention: Option<Abstention>,
    /// An older article's different answer, close in confidence to the answer given from a
    /// newer one (`[answer] newer_within`).
    pub older: Option<Candidate>,
    /// Every scored candidate, best first (for evaluation and calibration).
    #[serde(skip)]
    pub candidates: Vec<Candidate>,
    /// Ids of the retrieved passages' articles, best first.
    #[serde(skip)]
    pub retrieved: Vec<String>,
    /// What the reader read and found, for evaluation and tuning.
    #[serde(skip)]
    pub trace: Vec<WindowTrace>,
    /// Time taken, in milliseconds.
    pub latency_ms: f64,
    /// Of which the answerability check took this many.
    #[serde(skip)]
    pub check_ms: f64,
    /// And the stages before it.
    #[serde(skip)]
    pub stages: Stages,
}

/// Where a question's time went before the answerability check, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Stages {
    /// Retrieval: BM25 passages with their sentences and stored vectors.
    pub search_ms: f64,
    /// The question's embedding.
    pub embed_ms: f64,
    /// Choosing the sentences to read, and the reader.
    pub read_ms: f64,
}

/// What `newsqa ask --json` prints for a reply: the answer and its citation (nulls when the
/// engine abstains, with the message and reason), and the alternates.
#[derive(Debug, Serialize)]
pub struct ReplyJson<'a> {
    /// The question as the engine read it: what only surrounded it ("hey, ", " thanks!")
    /// taken off.
    pub question: &'a str,
    /// The message as typed (made plain).
    pub asked: &'a str,
    /// "open", "yes_no" or "chatter".
    pub form: Form,
    /// What the question names that an answer's article must mention.
    pub constraints: &'a [Constraint],
    /// The earlier question and answer this one follows up, when it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub continues: Option<&'a Turn>,
    pub answered: bool,
    pub answer: Option<&'a str>,
    pub score: Option<f32>,
    pub citation: Option<&'a str>,
    pub article_id: Option<&'a str>,
    pub title: Option<&'a str>,
    pub url: Option<&'a str>,
    /// The cited article's publication date, "2024-01-12", when it has one.
    pub date: Option<Date>,
    pub start: Option<usize>,
    pub end: Option<usize>,
    /// Only when abstaining: what the user is told, and why.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub abstained: Option<AbstainedJson<'a>>,
    /// An older article's different answer, close in confidence (the answer came from a
    /// newer article).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub older: Option<AlternateJson<'a>>,
    pub alternates: Vec<AlternateJson<'a>>,
    pub latency_ms: f64,
}

/// Why a reply has no answer, in [`ReplyJson`].
#[derive(Debug, Serialize)]
pub struct AbstainedJson<'a> {
    pub message: String,
    pub reason: Option<&'a Abstention>,
}

/// One alternate answer, in [`ReplyJson`].
#[derive(Debug, Serialize)]
pub struct AlternateJson<'a> {
    pub answer: &'a str,
    pub score: f32,
    pub citation: &'a str,
    pub article_id: &'a str,
    pub title: &'a str,
    pub url: Option<&'a str>,
    pub date: Option<Date>,
    pub start: usize,
    pub end: usize,
}

impl<'a> From<&'a Candidate> for AlternateJson<'a> {
    fn from(c: &'a Candidate) -> Self {
        AlternateJson {
            answer: &c.answer,
            score: c.score,
            citation: &c.citation,
            article_id: &c.article_id,
            title: &c.title,
            url: c.url.as_deref(),
            date: c.date,
            start: c.start,
            end: c.end,
        }
    }
}

impl Reply {
    /// The short answer given: none when abstaining, nor for a yes/no question, which is
    /// answered by the sentence that decides it.
    pub fn short_answer(&self) -> Option<&str> {
        self.best
            .as_ref()
            .filter(|_| self.reading.form != Form::YesNo)
            .map(|b| b.answer.as_str())
    }

    /// This question and its answer, as a later follow-up reads them.
    pub fn turn(&self) -> Turn {
        let best = self.best.as_ref();
        Turn {
            question: self.reading.question.clone(),
            answer: self.short_answer().map(str::to_owned),
            citation: best.map(|b| b.citation.clone()),
            article_id: best.map(|b| b.article_id.clone()),
            title: best.map(|b| b.title.clone()),
        }
    }

    /// A reply that searched nothing, for `reason`.
    fn nothing(reading: Reading, reason: Abstention, started: Instant) -> Reply {
        Reply {
            reading,
            continues: None,
            best: None,
            alternates: Vec::new(),
            abstention: Some(reason),
            older: None,
            candidates: Vec::new(),
            retrieved: Vec::new(),
            trace: Vec::new(),
            latency_ms: started.elapsed().as_secs_f64() * 1e3,
            check_ms: 0.0,
            stages: Stages::default(),
        }
    }

    /// The reply as `newsqa ask --json` prints it.
    pub fn json(&self) -> ReplyJson<'_> {
        let best = self.best.as_ref();
        ReplyJson {
            question: &self.reading.question,
            asked: &self.reading.asked,
            form: self.reading.form,
            constraints: &self.reading.constraints,
            continues: self.continues.as_ref(),
            answered: best.is_some(),
            answer: self.short_answer(),
            // Abstaining, the score is the best candidate's, which fell short.
            score: best.or(self.candidates.first()).map(|c| c.score),
            citation: best.map(|b| b.citation.as_str()),
            article_id: best.map(|b| b.article_id.as_str()),
            title: best.map(|b| b.title.as_str()),
            url: best.and_then(|b| b.url.as_deref()),
            date: best.and_then(|b| b.date),
            start: best.map(|b| b.start),
            end: best.map(|b| b.end),
            abstained: best.is_none().then(|| AbstainedJson {
                message: self
                    .abstention
                    .as_ref()
                    .map_or_else(|| ABSTAIN_MESSAGE.to_owned(), |a| a.message()),
                reason: self.abstention.as_ref(),
            }),
            older: self.older.as_ref().map(AlternateJson::from),
            alternates: self.alternates.iter().map(AlternateJson::from).collect(),
            latency_ms: self.latency_ms,
        }
    }
}

/// One reader window: the features of its central sentence and the spans found in it.
#[derive(Debug, Clone, Serialize)]
pub struct WindowTrace {
    /// The sentence the window was picked for.
    pub sentence: String,
    /// Cosine similarity of the question and the sentence.
    pub similarity: f32,
    /// IDF-weighted share of the question's terms in the sentence.
    pub overlap: f32,
    /// BM25 of the passage over the best passage's.
    pub bm25: f32,
    /// The reader's no-answer score for the window (0 before it is read).
    pub no_answer: f32,
    /// The answer verifier's logit for the window (0 before it is read, or without one).
    pub verifier: f32,
    /// Spans found: text, reader score, and whether a single sentence holds it.
    pub spans: Vec<(String, f32, bool)>,
}

/// What happened to one input of an ingest.
#[derive(Debug, Clone, Serialize)]
pub struct Ingested {
    /// Article id.
    pub id: String,
    /// Title.
    pub title: String,
    /// Sentences in the article.
    pub sentences: usize,
    /// How many sentences its text had, when only the first were kept.
    pub cut_from: Option<usize>,
    /// Added, updated or unchanged.
    pub status: Upsert,
}

/// The two models, loaded once and shared by every engine (one per corpus). Cheap to clone.
#[derive(Clone)]
pub struct Models {
    reader: Reader,
    encoder: Encoder,
}

impl Models {
    /// Loads the reader and the encoder named by the config, on the one thread that runs
    /// them both (`newsqa_models`' worker module says why one).
    pub fn load(config: &Config) -> Result<Models> {
        newsqa_models::set_threads(config.reader.threads)
            .context("setting libtorch's thread count")?;
        let mut reader_cfg = ReaderConfig::new(&config.reader.model);
        reader_cfg.queue = config.reader.queue;
        let max_wait = (config.reader.max_wait_secs > 0.0)
            .then(|| std::time::Duration::from_secs_f64(config.reader.max_wait_secs));
        reader_cfg.max_wait = max_wait;
        reader_cfg.max_answer_tokens = config.reader.max_answer_tokens;
        reader_cfg.token_types = config.reader.token_type_ids;
        reader_cfg.precision = config.reader.precision;
        let reader = Reader::load(&reader_cfg).with_context(|| {
            format!(
                "loading the QA reader from {}",
                config.reader.model.display()
            )
        })?;
        let mut encoder_cfg = EncoderConfig::new(&config.encoder.model);
        encoder_cfg.batch_size = config.encoder.batch_size;
        encoder_cfg.precision = config.encoder.precision;
        encoder_cfg.job_sentences = config.encoder.job_sentences;
        encoder_cfg.queue = config.reader.queue;
        encoder_cfg.max_wait = max_wait;
        let encoder = Encoder::load(&encoder_cfg).with_context(|| {
            format!(
                "loading the sentence encoder from {}",
                config.encoder.model.display()
            )
        })?;
        Ok(Models { reader, encoder })
    }

    /// The models, their jobs `tenant`'s: the model thread serves tenants (each server's
    /// corpus) in turn, so one server's burst waits behind its own work.
    pub fn for_tenant(&self, tenant: newsqa_models::Tenant) -> Models {
        Models {
            reader: self.reader.for_tenant(tenant),
            encoder: self.encoder.for_tenant(tenant),
        }
    }
}

impl Engine {
    /// Opens the index and loads both models.
    pub fn open(config: Config) -> Result<Engine> {
        let models = Models::load(&config)?;
        let path = config.index.path.clone();
        Engine::open_with(config, models, &path)
    }

    /// Opens (or creates) the index at `path` and answers from it with models already loaded.
    pub fn open_with(config: Config, models: Models, path: &Path) -> Result<Engine> {
        let mut index = ArticleIndex::open(path)
            .with_context(|| format!("opening index at {}", path.display()))?;
        index.set_title_boost(config.index.title_boost);
        index.set_lock_wait(std::time::Duration::from_secs(config.index.lock_wait_secs));
        Ok(Engine {
            index,
            retriever: None,
            reader: models.reader,
            encoder: models.encoder,
            config,
            holders: Holders::of_corpus(path),
        })
    }

    /// Questions find their passages through `retriever` instead of the engine's index.
    pub fn set_retriever(&mut self, retriever: std::sync::Arc<dyn Retriever>) {
        self.retriever = Some(retriever);
    }

    /// Sentence vectors as ingest makes them, for a [`Retriever`] to hold.
    pub fn embed(&self, sentences: Vec<String>) -> Result<Vec<Vec<f32>>> {
        Ok(self.encoder.embed(sentences, true)?)
    }

    /// The settings in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The article index.
    pub fn index(&self) -> &ArticleIndex {
        &self.index
    }

    /// How articles are cut into passages.
    pub fn passage_config(&self) -> PassageConfig {
        PassageConfig {
            sentences: self.config.ingest.passage_sentences,
            overlap: self.config.ingest.passage_overlap,
        }
    }

    /// Parses raw bytes (text or HTML) into an article, applying the size cap and keeping at
    /// most `[ingest] max_sentences` sentences ([`Article::cut`]: `cut_from` says it was cut).
    pub fn parse(&self, bytes: &[u8], meta: Metadata) -> Result<Article> {
        let mut article = Article::parse(
            bytes,
            meta,
            self.config.ingest.max_bytes,
            self.passage_config(),
        )?;
        if let Some(had) = article.cut(self.config.ingest.max_sentences, self.passage_config()) {
            tracing::warn!(source = %article.source, had, kept = article.sentences.len(), "an article cut to its first sentences");
        }
        Ok(article)
    }

    /// Embeds and writes articles, then commits: they are searchable when this returns.
    /// Unchanged articles are not embedded again.
    pub fn ingest(&self, articles: &[Article], holder: &Holder) -> Result<Vec<Ingested>> {
        let out = self.write(articles, holder)?;
        self.index.commit().context("committing the index")?;
        Ok(out)
    }

    /// Ingests one article (see [`Engine::ingest`]) and says what happened to it.
    pub fn ingest_one(&self, article: &Article, holder: &Holder) -> Result<Ingested> {
        self.ingest(std::slice::from_ref(article), holder)?
            .pop()
            .context("ingest reported nothing")
    }

    /// Embeds and writes articles without committing (bulk ingest commits once at the end),
    /// each held by `holder` from now on (recorded first: see [`Holders::hold`]).
    pub fn write(&self, articles: &[Article], holder: &Holder) -> Result<Vec<Ingested>> {
        self.holders
            .hold(articles.iter().map(|a| a.id.as_str()), holder)?;
        let mut statuses = Vec::with_capacity(articles.len());
        let mut texts = Vec::new();
        let mut batch: HashMap<&str, &str> = HashMap::new();
        for a in articles {
            // A repeat within this batch is not in the index yet; judge it by the batch.
            let status = match batch.insert(&a.id, &a.content_hash) {
                Some(hash) if hash == a.content_hash => Upsert::Unchanged,
                Some(_) => Upsert::Updated,
                None => self.index.status(&a.id, &a.content_hash)?,
            };
            if status != Upsert::Unchanged {
                texts.extend((0..a.sentences.len()).map(|i| a.sentence(i).to_owned()));
            }
            statuses.push(status);
        }
        let mut vectors = self.encoder.embed(texts, true)?.into_iter();
        let mut out = Vec::with_capacity(articles.len());
        for (a, status) in articles.iter().zip(statuses) {
            if status != Upsert::Unchanged {
                let v: Vec<Vec<f32>> = vectors.by_ref().take(a.sentences.len()).collect();
                self.index.upsert(a, &v)?;
            }
            out.push(Ingested {
                id: a.id.clone(),
                title: a.title.clone(),
                sentences: a.sentences.len(),
                cut_from: a.cut_from,
                status,
            });
        }
        Ok(out)
    }

    /// Commits what `write` wrote.
    pub fn commit(&self) -> Result<()> {
        Ok(self.index.commit()?)
    }

    /// Every indexed article.
    pub fn articles(&self) -> Result<Vec<ArticleInfo>> {
        Ok(self.index.articles()?)
    }

    /// The article with exactly this id, if there is one.
    pub fn find_id(&self, id: &str) -> Result<Option<ArticleInfo>> {
        Ok(self.index.article(id)?)
    }

    /// Finds an article by id, URL or unique id prefix, changing nothing.
    pub fn find(&self, id_or_url: &str) -> Result<Option<ArticleInfo>> {
        Ok(self.index.find(id_or_url)?)
    }

    /// An article found as [`Engine::find`] finds it, with its sentences as the engine split
    /// and stored them (what `newsqa show` and `/article` print).
    pub fn show(&self, id_or_url: &str) -> Result<Option<(ArticleInfo, Vec<String>)>> {
        Ok(self.index.show(id_or_url)?)
    }

    /// Removes an article by id, URL or unique id prefix (as a person types it), whoever
    /// holds it; `None` when there is no such article.
    pub fn forget(&self, id_or_url: &str) -> Result<Option<ArticleInfo>> {
        let gone = self.index.forget(id_or_url)?;
        if let Some(a) = &gone {
            self.holders.forgotten(&a.id)?;
        }
        Ok(gone)
    }

    /// Removes the article with exactly this id, whoever holds it; `None` when there is none.
    pub fn forget_id(&self, id: &str) -> Result<Option<ArticleInfo>> {
        let gone = self.index.remove(id)?;
        if gone.is_some() {
            self.holders.forgotten(id)?;
        }
        Ok(gone)
    }

    /// `holder` lets go of articles: those nothing else holds now are forgotten (exactly by
    /// id) and returned.
    pub fn release(&self, ids: &[String], holder: &Holder) -> Result<Vec<ArticleInfo>> {
        self.holders
            .release(ids, holder, |id| Ok(self.index.remove(id)?))
    }

    /// What holds an article (empty when nothing known does).
    pub fn holders_of(&self, id: &str) -> Result<Vec<Holder>> {
        self.holders.of(id)
    }

    /// Answers a question from the indexed articles, or abstains.
    pub fn ask(&self, question: &str) -> Result<Reply> {
        self.ask_with(question, true)
    }

    /// Like [`Engine::ask`]; with `wait` false a full model queue is an error at once ("busy").
    pub fn ask_with(&self, message: &str, wait: bool) -> Result<Reply> {
        self.ask_after(message, None, wait)
    }

    /// Like [`Engine::ask_with`], in a conversation: a message that follows up the earlier
    /// turn `after` ("when did he issue it?") is read with it (`question/followup.rs`): what
    /// it points back at is filled in, the earlier question and answer join the search, and
    /// the earlier answer's article is searched too. A new question is asked as it is.
    pub fn ask_after(&self, message: &str, after: Option<&Turn>, wait: bool) -> Result<Reply> {
        let started = Instant::now();
        // What another process (a CLI ingest) committed a moment ago counts.
        self.index.catch_up()?;
        let mut reading = question::read(message, &self.index);
        // Nothing to search for, or nothing to search in: say so at once.
        let nothing = if reading.form == Form::Chatter {
            Some(Abstention::NotAQuestion)
        } else if self.retriever.is_none() && self.index.is_empty() {
            Some(Abstention::NoArticles)
        } else {
            None
        };
        if let Some(reason) = nothing {
            return Ok(Reply::nothing(reading, reason, started));
        }
        let follow = after.and_then(|turn| followup::follow_up(&reading, turn));
        if let Some(f) = &follow {
            // The question written out is read again: its form and names are its own
            // ("and the CIA?" asks what the earlier question asked).
            let resolved = question::read(&f.question, &self.index);
            reading.form = resolved.form;
            reading.constraints = resolved.constraints;
            reading.question = resolved.question;
        }
        let question = reading.question.as_str();
        let cfg = &self.config.answer;
        let retriever: &dyn Retriever = match &self.retriever {
            Some(r) => r.as_ref(),
            None => &self.index,
        };
        let hits = match &follow {
            None => retriever.search(question, cfg.passages)?,
            Some(f) => {
                let search = format!("{question} {}", f.context);
                let mut hits = retriever.search(&search, cfg.passages)?;
                if let Some(id) = &f.continues.article_id {
                    for h in retriever.search_in(id, &search, FOLLOW_UP_PASSAGES)? {
                        let seen = hits.iter().any(|x| {
                            x.article_id == h.article_id && x.first_sentence == h.first_sentence
                        });
                        if !seen {
                            hits.push(h);
                        }
                    }
                }
                hits
            }
        };
        let searched = started.elapsed();
        let retrieved = hits.iter().map(|h| h.article_id.clone()).collect();
        let mut candidates = Vec::new();
        let mut trace = Vec::new();
        // For a yes/no question: the sentences read, best support first.
        let mut deciding: Vec<Candidate> = Vec::new();
        let mut stages = Stages {
            search_ms: searched.as_secs_f64() * 1e3,
            ..Stages::default()
        };
        if !hits.is_empty() {
            let qvec = self
                .encoder
                .embed(vec![question.to_owned()], wait)?
                .pop()
                .unwrap_or_default();
            let embedded = started.elapsed();
            let windows = pick_windows(&hits, &qvec, cfg);
            trace = windows
                .iter()
                .map(|w| {
                    let s = &hits[w.hit].sentences[w.center];
                    WindowTrace {
                        sentence: hits[w.hit].text[s.range.clone()].to_owned(),
                        similarity: cosine(&qvec, &s.vector),
                        overlap: s.overlap,
                        bm25: w.bm25,
                        no_answer: 0.0,
                        verifier: 0.0,
                        spans: Vec::new(),
                    }
                })
                .collect();
            // The first picks are read at once; the further ones (close calls of the ranking)
            // only when none of the first gave a confident answer.
            let first = if cfg.confident_stop > 0.0 {
                cfg.read_sentences.max(1).min(windows.len())
            } else {
                windows.len()
            };
            let confident = |c: &Candidate| c.clears(cfg.confident_stop, cfg);
            let mut read = 0;
            for pass in [0..first, first..windows.len()] {
                if pass.is_empty() || (pass.start > 0 && candidates.iter().any(confident)) {
                    continue;
                }
                let contexts = windows[pass.clone()]
                    .iter()
                    .map(|w| w.text(&hits).to_owned())
                    .collect();
                let spans = self
                    .reader
                    .read(question, contexts, cfg.spans_per_window, wait)?;
                for span in spans.into_iter().flatten() {
                    let k = pass.start + span.context;
                    let candidate = windows[k].candidate(&hits, &qvec, &span, cfg);
                    trace[k].no_answer = span.no_answer as f32;
                    trace[k].verifier = span.verifier as f32;
                    trace[k].spans.push((
                        span.text.clone(),
                        span.score as f32,
                        candidate.is_some(),
                    ));
                    candidates.extend(candidate);
                }
                read = pass.end;
            }
            // The trace holds the windows read.
            trace.truncate(read);
            if reading.form == Form::YesNo {
                // A yes/no question is answered by the sentence that decides it: of those
                // read, the one most like the question where the reader saw something to
                // answer (a low no-answer score).
                deciding = windows[..read]
                    .iter()
                    .zip(&trace)
                    .filter_map(|(w, t)| {
                        let support = t.similarity - cfg.yes_no_no_answer_weight * t.no_answer;
                        w.sentence_candidate(&hits, &qvec, support)
                    })
                    .collect();
                deciding.sort_by(|a, b| b.rank.total_cmp(&a.rank));
            }
            stages.embed_ms = (embedded - searched).as_secs_f64() * 1e3;
            stages.read_ms = (started.elapsed() - embedded).as_secs_f64() * 1e3;
            tracing::debug!(
                search_ms = stages.search_ms,
                embed_ms = stages.embed_ms,
                read_ms = stages.read_ms,
                windows = windows.len(),
                read,
                "stages"
            );
            candidates = dedup(candidates);
            agree(&mut candidates, cfg.agreement_weight);
        }
        let checking = Instant::now();
        let Choice {
            mut best,
            older,
            abstention,
        } = match reading.form {
            Form::YesNo => self.decide(&reading.constraints, &deciding)?,
            _ => self.choose(&reading.constraints, &mut candidates)?,
        };
        let check_ms = checking.elapsed().as_secs_f64() * 1e3;
        let mut alternates: Vec<Candidate> = Vec::new();
        for c in &candidates {
            let key = normalize_answer(&c.answer);
            let taken = best
                .iter()
                .chain(alternates.iter())
                .any(|b| normalize_answer(&b.answer) == key);
            if !taken && alternates.len() < 2 {
                alternates.push(c.clone());
            }
        }
        for c in best.iter_mut().chain(alternates.iter_mut()) {
            if c.date.is_none() {
                c.date = self.published(&c.article_id)?;
            }
        }
        let reply = Reply {
            reading,
            continues: follow.map(|f| f.continues),
            best,
            alternates,
            abstention,
            older,
            candidates,
            retrieved,
            trace,
            latency_ms: started.elapsed().as_secs_f64() * 1e3,
            check_ms,
            stages,
        };
        tracing::debug!(
            latency_ms = reply.latency_ms,
            answered = reply.best.is_some(),
            article = reply.best.as_ref().map(|b| b.article_id.as_str()),
            "answered"
        );
        Ok(reply)
    }
}

/// What [`Engine::choose`] picked.
struct Choice {
    best: Option<Candidate>,
    /// An older article's different answer, close in confidence to `best`.
    older: Option<Candidate>,
    abstention: Option<Abstention>,
}

impl Engine {
    /// The answer among the candidates (best first): the first that clears the threshold and
    /// the similarity floor and whose article supports what the question names; else why not.
    /// Then news changes: of the candidates with other answers from other dated articles
    /// within `newer_within` of its confidence, the newest that passes the same check is
    /// given instead, and the close older one is named beside it.
    fn choose(&self, constraints: &[Constraint], candidates: &mut [Candidate]) -> Result<Choice> {
        let cfg = &self.config.answer;
        let Some(top) = candidates.first() else {
            return Ok(Choice {
                best: None,
                older: None,
                abstention: Some(Abstention::NothingRelevant),
            });
        };
        let top_score = top.score;
        let top_similarity = top.similarity;
        let constraints = if cfg.check_constraints {
            constraints
        } else {
            &[]
        };
        let unmet = std::cell::RefCell::new(None);
        // The check depends on the article only: its verdict holds for every candidate of it.
        let mut verdicts: HashMap<String, bool> = HashMap::new();
        let mut passes = |c: &Candidate| -> Result<bool> {
            if let Some(&ok) = verdicts.get(&c.article_id) {
                return Ok(ok);
            }
            let reason = self.unmet(constraints, c)?;
            let ok = reason.is_none();
            verdicts.insert(c.article_id.clone(), ok);
            if let Some(r) = reason {
                unmet.borrow_mut().get_or_insert(r);
            }
            Ok(ok)
        };
        let mut chosen = None;
        for (i, c) in candidates
            .iter()
            .enumerate()
            .take(cfg.check_candidates.max(1))
        {
            if !c.clears(cfg.threshold, cfg) {
                break;
            }
            if passes(c)? {
                chosen = Some(i);
                break;
            }
        }
        let Some(i) = chosen else {
            let reason = unmet
                .into_inner()
                .unwrap_or(if top_similarity < cfg.min_similarity {
                    Abstention::NothingRelevant
                } else {
                    Abstention::LowConfidence { score: top_score }
                });
            return Ok(Choice {
                best: None,
                older: None,
                abstention: Some(reason),
            });
        };
        // The close rivals: other answers from other articles, within `newer_within`.
        let floor = (candidates[i].score - cfg.newer_within).max(cfg.threshold);
        let key = normalize_answer(&candidates[i].answer);
        let mut close = vec![i];
        // Ranked by the fusion, not by confidence: with a verifier, a later candidate may
        // still be close.
        for (j, c) in candidates.iter().enumerate().skip(i + 1) {
            if c.score < floor {
                continue;
            }
            // `close` holds the chosen candidate: one rival per other article.
            if c.similarity >= cfg.min_similarity
                && normalize_answer(&c.answer) != key
                && !close
                    .iter()
                    .any(|&k| candidates[k].article_id == c.article_id)
            {
                close.push(j);
            }
        }
        let mut best = i;
        let mut older = None;
        if close.len() > 1 {
            for &k in &close {
                candidates[k].date = self.published(&candidates[k].article_id)?;
            }
            if candidates[i].date.is_some() {
                let mut dated: Vec<usize> = close
                    .iter()
                    .copied()
                    .filter(|&k| candidates[k].date.is_some())
                    .collect();
                // Newest first; the same day keeps the confidence order.
                dated.sort_by(|&a, &b| candidates[b].date.cmp(&candidates[a].date));
                // The chosen candidate passed already (its verdict is kept).
                for &k in &dated {
                    if passes(&candidates[k])? {
                        best = k;
                        break;
                    }
                }
                let best_key = normalize_answer(&candidates[best].answer);
                for &k in &close {
                    let c = &candidates[k];
                    if c.date < candidates[best].date
                        && normalize_answer(&c.answer) != best_key
                        && passes(c)?
                    {
                        older = Some(k);
                        break;
                    }
                }
            }
        }
        Ok(Choice {
            best: Some(candidates[best].clone()),
            older: older.map(|k| candidates[k].clone()),
            abstention: None,
        })
    }

    /// The sentence that decides a yes/no question, among `sentences` (best support first):
    /// the first whose article names what the question names, when its support reaches
    /// `[answer] yes_no_threshold`; else why none. A number the question names need not be
    /// in the article: a sentence with another number decides "no" ("£104.99", asked about
    /// "£149.99").
    fn decide(&self, constraints: &[Constraint], sentences: &[Candidate]) -> Result<Choice> {
        let cfg = &self.config.answer;
        let wanted: Vec<Constraint> = constraints
            .iter()
            .filter(|c| cfg.check_constraints && !matches!(c, Constraint::Number(_)))
            .cloned()
            .collect();
        let mut unmet = None;
        for s in sentences.iter().take(cfg.check_candidates.max(1)) {
            if s.rank < cfg.yes_no_threshold {
                break;
            }
            match self.unmet(&wanted, s)? {
                None => {
                    return Ok(Choice {
                        best: Some(s.clone()),
                        older: None,
                        abstention: None,
                    })
                }
                Some(reason) => {
                    unmet.get_or_insert(reason);
                }
            }
        }
        let reason = match (unmet, sentences.first()) {
            (Some(reason), _) => reason,
            (None, None) => Abstention::NothingRelevant,
            (None, Some(best)) => Abstention::Undecided { score: best.score },
        };
        Ok(Choice {
            best: None,
            older: None,
            abstention: Some(reason),
        })
    }

    /// The first constraint of the question that the candidate's article does not meet
    /// (answerable.rs), or `None` when it meets them all.
    fn unmet(&self, constraints: &[Constraint], c: &Candidate) -> Result<Option<Abstention>> {
        if constraints.is_empty() {
            return Ok(None);
        }
        let published = self
            .index
            .article(&c.article_id)?
            .and_then(|a| a.date)
            .and_then(|d| answerable::year_of(&d));
        // The article's text, read once and only when the check needs it: for an undated
        // article's years, or to find an acronym spelled out.
        let text = std::cell::OnceCell::new();
        let passages = || self.article_text(&text, &c.article_id);
        let latest_mentioned = match published {
            Some(_) => None,
            None => answerable::latest_year(passages()?.iter().map(String::as_str)),
        };
        let spelled_out = |acronym: &str| {
            passages().map(|p| answerable::spells_out(p.iter().map(String::as_str), acronym))
        };
        let time = answerable::ArticleTime {
            published,
            latest_mentioned,
            slack: self.config.answer.undated_year_slack,
        };
        let failure = std::cell::RefCell::new(None);
        let fail_open = |r: newsqa_index::Result<bool>| {
            r.unwrap_or_else(|e| {
                failure.borrow_mut().get_or_insert(e);
                true
            })
        };
        let reason = answerable::check(
            constraints,
            time,
            |phrase| {
                fail_open(self.index.mentions(&c.article_id, phrase))
                    || (answerable::is_acronym(phrase) && fail_open(spelled_out(phrase)))
            },
            |phrase| fail_open(self.index.mentions_anywhere(phrase)),
        );
        if let Some(e) = failure.into_inner() {
            return Err(e).context("checking the answer's article");
        }
        Ok(reason)
    }

    /// An article's publication date, when it has one that reads as a date.
    fn published(&self, article_id: &str) -> Result<Option<Date>> {
        Ok(self.index.article(article_id)?.and_then(|a| a.published()))
    }
}

impl Engine {
    /// An article's passages, read from the index into `cell` on first use.
    fn article_text<'a>(
        &self,
        cell: &'a std::cell::OnceCell<Vec<String>>,
        id: &str,
    ) -> newsqa_index::Result<&'a [String]> {
        if let Some(text) = cell.get() {
            return Ok(text);
        }
        let text = self.index.article_passages(id)?;
        Ok(cell.get_or_init(|| text))
    }
}

/// A reader window: a run of sentences of one retrieved passage around a chosen sentence.
struct Window {
    hit: usize,
    /// Sentence indices within the hit.
    sentences: std::ops::Range<usize>,
    /// The chosen sentence the window is built around.
    center: usize,
    bm25: f32,
}

impl Window {
    fn byte_range(&self, hits: &[PassageHit]) -> std::ops::Range<usize> {
        let s = &hits[self.hit].sentences;
        s[self.sentences.start].range.start..s[self.sentences.end - 1].range.end
    }

    fn text<'a>(&self, hits: &'a [PassageHit]) -> &'a str {
        &hits[self.hit].text[self.byte_range(hits)]
    }

    /// The window's own sentence as a candidate (a yes/no question's answer), ranked and
    /// scored by its `support`.
    fn sentence_candidate(
        &self,
        hits: &[PassageHit],
        qvec: &[f32],
        support: f32,
    ) -> Option<Candidate> {
        let hit = &hits[self.hit];
        let window = self.byte_range(hits);
        let sentence = &hit.sentences[self.center].range;
        let chars = |b: usize| hit.text[window.start..b].chars().count();
        let span = newsqa_models::Span {
            context: 0,
            start: chars(sentence.start),
            end: chars(sentence.end),
            text: hit.text[sentence.clone()].to_owned(),
            score: 0.0,
            no_answer: 0.0,
            verifier: 0.0,
        };
        let mut c = self.candidate(hits, qvec, &span, &AnswerConfig::default())?;
        c.answer = c.citation.clone();
        c.rank = support;
        c.score = support.clamp(0.0, 1.0);
        Some(c)
    }

    /// Turns a reader span (char offsets in the window) into a cited, scored candidate.
    fn candidate(
        &self,
        hits: &[PassageHit],
        qvec: &[f32],
        span: &newsqa_models::Span,
        cfg: &AnswerConfig,
    ) -> Option<Candidate> {
        let hit = &hits[self.hit];
        let window_start = self.byte_range(hits).start;
        let window = self.text(hits);
        let byte_of = |chars: usize| {
            window_start
                + window
                    .char_indices()
                    .nth(chars)
                    .map_or(window.len(), |(b, _)| b)
        };
        let (start_b, end_b) = (byte_of(span.start), byte_of(span.end));
        // The sentences the span touches.
        let touched: Vec<usize> = self
            .sentences
            .clone()
            .filter(|&i| {
                let r = &hit.sentences[i].range;
                r.start < end_b && start_b < r.end
            })
            .collect();
        // A span running across a sentence boundary is not an answer that one sentence can cite.
        let [sentence] = touched[..] else {
            return None;
        };
        let cite = hit.sentences[sentence].range.clone();
        let start_b = with_article(&hit.text, start_b, cite.start);
        let similarity = cosine(qvec, &hit.sentences[sentence].vector);
        let overlap = hit.sentences[sentence].overlap;
        let neighbours = sentence.saturating_sub(1)..(sentence + 2).min(hit.sentences.len());
        let matched = neighbours.fold(0u64, |m, i| m | hit.sentences[i].matched);
        let context_overlap: f32 = hit
            .term_weights
            .iter()
            .enumerate()
            .filter(|(i, _)| matched & (1 << i) != 0)
            .map(|(_, w)| w)
            .sum();
        let chars_before = |b: usize| hit.text[..b].chars().count();
        let reader_score = span.score as f32;
        let no_answer = span.no_answer as f32;
        let verifier = span.verifier as f32;
        let z = cfg.score_bias
            + cfg.reader_weight * reader_score
            + cfg.no_answer_weight * no_answer
            + cfg.similarity_weight * similarity
            + cfg.overlap_weight * overlap
            + cfg.bm25_weight * self.bm25
            + cfg.context_overlap_weight * context_overlap;
        let score = sigmoid(z + cfg.verifier_weight * verifier);
        Some(Candidate {
            answer: hit.text[start_b..end_b].trim().to_owned(),
            score,
            rank: z,
            citation: hit.text[cite].to_owned(),
            article_id: hit.article_id.clone(),
            title: hit.title.clone(),
            url: hit.url.clone(),
            start: hit.char_start + chars_before(start_b),
            end: hit.char_start + chars_before(end_b),
            reader_score,
            no_answer,
            verifier,
            similarity,
            overlap,
            context_overlap,
            agreement: 0.0,
            bm25: self.bm25,
            date: None,
            passage: hit.text.clone(),
        })
    }
}

/// Ranks every sentence of the retrieved passages and returns reader windows around the best.
/// A sentence seen in two overlapping passages counts once, in the passage where it is most central.
fn pick_windows(hits: &[PassageHit], qvec: &[f32], cfg: &AnswerConfig) -> Vec<Window> {
    let top_bm25 = hits
        .iter()
        .map(|h| h.score)
        .fold(f32::MIN, f32::max)
        .max(1e-6);
    // (article, sentence number in article) -> (score, hit, sentence index in hit, centrality)
    let mut best: HashMap<(&str, usize), (f32, usize, usize, usize)> = HashMap::new();
    for (h, hit) in hits.iter().enumerate() {
        let bm25 = hit.score / top_bm25;
        let n = hit.sentences.len();
        for (i, s) in hit.sentences.iter().enumerate() {
            let score = cosine(qvec, &s.vector)
                + cfg.rank_overlap_weight * s.overlap
                + cfg.rank_bm25_weight * bm25;
            let centrality = i.min(n - 1 - i);
            let key = (hit.article_id.as_str(), hit.first_sentence + i);
            let entry = best.entry(key).or_insert((score, h, i, centrality));
            entry.0 = entry.0.max(score);
            if centrality > entry.3 {
                (entry.1, entry.2, entry.3) = (h, i, centrality);
            }
        }
    }
    let mut ranked: Vec<_> = best.into_values().collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
    let top = ranked.first().map_or(0.0, |r| r.0);
    // The reading depth adapts to the ranking's certainty: the best `read_sentences` are always
    // read, and further picks (up to `max_read_sentences`) only while their score is within
    // `read_margin` of the best sentence's, i.e. when the ranking cannot tell them apart.
    let most = cfg.max_read_sentences.max(cfg.read_sentences);
    // Maximal marginal relevance: each pick is penalised by its similarity to the sentences
    // already picked, so near-paraphrases do not use up the reader's budget.
    let mut pool: Vec<_> = ranked.into_iter().take(4 * most.max(1)).collect();
    // Highest cosine of each pool entry to the sentences picked so far, kept up to date.
    let mut redundancy = vec![0.0f32; pool.len()];
    let mut windows: Vec<Window> = Vec::new();
    // The texts of the sentences picked: the same sentence in another article (a syndicated
    // story, a republished page) would be read to the same spans, so it is passed over and
    // does not use up the budget.
    let mut read: HashSet<&str> = HashSet::new();
    let mut picks = 0;
    while picks < most {
        if pool.is_empty() {
            break;
        }
        // The best MMR score; ties go to the earlier (more relevant) entry.
        let mut pick = 0;
        let mut pick_mmr = f32::NEG_INFINITY;
        for (k, entry) in pool.iter().enumerate() {
            let mmr = entry.0 - cfg.diversity * redundancy[k];
            if mmr > pick_mmr {
                (pick, pick_mmr) = (k, mmr);
            }
        }
        let (score, h, i, _) = pool.remove(pick);
        redundancy.remove(pick);
        let picked = &hits[h].sentences[i].vector;
        for (k, &(_, ph, pi, _)) in pool.iter().enumerate() {
            redundancy[k] = redundancy[k].max(cosine(picked, &hits[ph].sentences[pi].vector));
        }
        let hit = &hits[h];
        let n = hit.sentences.len();
        let start = i.saturating_sub(cfg.window_sentences);
        let end = (i + cfg.window_sentences + 1).min(n);
        let text = &hit.text[hit.sentences[start].range.start..hit.sentences[end - 1].range.end];
        if !read.insert(text.trim()) {
            continue;
        }
        picks += 1;
        if picks > cfg.read_sentences && score < top - cfg.read_margin {
            continue;
        }
        // A window already covering this sentence reads it anyway.
        let covered = windows.iter().any(|w| {
            hits[w.hit].article_id == hits[h].article_id
                && (hits[w.hit].first_sentence + w.sentences.start
                    ..hits[w.hit].first_sentence + w.sentences.end)
                    .contains(&(hits[h].first_sentence + i))
        });
        if !covered {
            windows.push(Window {
                hit: h,
                sentences: start..end,
                center: i,
                bm25: hits[h].score / top_bm25,
            });
        }
    }
    windows
}

fn sigmoid(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
}

/// Candidates agree when sentences read apart give the same answer. Each candidate's
/// agreement is the summed confidence of other sentences' candidates with its answer
/// (normalised as SQuAD does); `weight` times it is added to its fusion, and the candidates
/// are ranked again.
fn agree(candidates: &mut [Candidate], weight: f32) {
    let keys: Vec<String> = candidates
        .iter()
        .map(|c| normalize_answer(&c.answer))
        .collect();
    let agreement: Vec<f32> = candidates
        .iter()
        .enumerate()
        .map(|(i, c)| {
            candidates
                .iter()
                .enumerate()
                .filter(|&(j, o)| {
                    j != i
                        && !keys[i].is_empty()
                        && keys[j] == keys[i]
                        && (o.article_id != c.article_id || o.citation != c.citation)
                })
                .map(|(_, o)| o.score)
                .sum()
        })
        .collect();
    for (c, a) in candidates.iter_mut().zip(agreement) {
        c.agreement = a;
        if weight != 0.0 {
            let p = c.score.clamp(1e-6, 1.0 - 1e-6);
            c.score = sigmoid((p / (1.0 - p)).ln() + weight * a);
            c.rank += weight * a;
        }
    }
    if weight != 0.0 {
        candidates.sort_by(|a, b| b.rank.total_cmp(&a.rank));
    }
}

/// Keeps the best-ranked candidate for each article span, best first.
fn dedup(mut candidates: Vec<Candidate>) -> Vec<Candidate> {
    candidates.sort_by(|a, b| b.rank.total_cmp(&a.rank));
    let mut seen = std::collections::HashSet::new();
    candidates.retain(|c| seen.insert((c.article_id.clone(), c.start, c.end)));
    candidates
}

/// Where an answer span starting at byte `start` begins once the article right before it
/// ("the", "a", "an", not before `floor`, the cited sentence's start) is taken in: the reader
/// may leave it out ("NSA" in "with the NSA specifically exempted"), and "the NSA" is what a
/// reader of the answer expects. SQuAD's scoring drops articles, so scores are unchanged.
fn with_article(text: &str, start: usize, floor: usize) -> usize {
    let before = &text[floor..start];
    let Some(head) = before.strip_suffix(' ') else {
        return start;
    };
    let word_at = head.rfind(|c: char| !c.is_alphabetic()).map_or(0, |i| {
        i + head[i..].chars().next().map_or(1, char::len_utf8)
    });
    if is_article(&head[word_at..].to_lowercase()) {
        floor + word_at
    } else {
        start
    }
}

/// English articles, as SQuAD's normalisation drops them (lower case).
fn is_article(word: &str) -> bool {
    matches!(word, "a" | "an" | "the")
}

/// SQuAD's answer normalisation: lower case, no punctuation, no articles, single spaces.
pub fn normalize_answer(s: &str) -> String {
    let lower: String = s
        .to_lowercase()
        .chars()
        .filter(|c| !c.is_ascii_punctuation())
        .collect();
    lower
        .split_whitespace()
        .filter(|w| !is_article(w))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use newsqa_index::SentenceHit;

    fn hit(id: &str, first: usize, sentences: &[(&str, Vec<f32>)], score: f32) -> PassageHit {
        let mut text = String::new();
        let mut out = Vec::new();
        for (s, v) in sentences {
            if !text.is_empty() {
                text.push(' ');
            }
            let start = text.len();
            text.push_str(s);
            out.push(SentenceHit {
                range: start..text.len(),
                vector: v.clone(),
                overlap: 0.0,
                matched: 0,
            });
        }
        PassageHit {
            score,
            article_id: id.into(),
            title: "T".into(),
            url: None,
            text,
            char_start: 0,
            first_sentence: first,
            sentences: out,
            term_weights: Vec::new(),
        }
    }

    #[test]
    fn a_sentence_in_two_overlapping_passages_is_read_once() {
        let cfg = AnswerConfig {
            read_sentences: 3,
            max_read_sentences: 3,
            window_sentences: 0,
            ..Default::default()
        };
        let hits = vec![
            hit(
                "a",
                0,
                &[("S0.", vec![0.0, 1.0]), ("S1.", vec![1.0, 0.0])],
                2.0,
            ),
            hit(
                "a",
                1,
                &[("S1.", vec![1.0, 0.0]), ("S2.", vec![0.0, 1.0])],
                1.0,
            ),
        ];
        let windows = pick_windows(&hits, &[1.0, 0.0], &cfg);
        let texts: Vec<&str> = windows.iter().map(|w| w.text(&hits)).collect();
        assert_eq!(texts.iter().filter(|t| **t == "S1.").count(), 1);
        assert_eq!(texts[0], "S1.");
    }

    #[test]
    fn a_story_syndicated_in_two_articles_is_read_once_and_the_budget_goes_on() {
        let cfg = AnswerConfig {
            read_sentences: 2,
            max_read_sentences: 2,
            window_sentences: 0,
            diversity: 0.0,
            ..Default::default()
        };
        let story = [
            ("The deal was signed by Ann Lee.", vec![0.9, 0.436]),
            ("It closes in May.", vec![0.5, 0.866]),
        ];
        let hits = vec![
            hit("wire", 0, &story, 2.0),
            hit("reprint", 0, &story, 2.0),
            hit("other", 4, &[("Ann Lee spoke.", vec![0.7, 0.714])], 1.0),
        ];
        let texts: Vec<String> = pick_windows(&hits, &[1.0, 0.0], &cfg)
            .iter()
            .map(|w| w.text(&hits).to_owned())
            .collect();
        assert_eq!(
            texts,
            vec!["The deal was signed by Ann Lee.", "Ann Lee spoke."]
        );
    }

    #[test]
    fn diversity_spends_the_budget_on_different_sentences() {
        let hits = vec![hit(
            "a",
            0,
            &[
                // Cosine to the question 0.90, 0.89 and 0.85; the first two are near-paraphrases.
                ("Lead.", vec![0.9, 0.436, 0.0]),
                ("Lead again.", vec![0.89, 0.456, 0.0]),
                ("Other angle.", vec![0.85, 0.0, 0.527]),
            ],
            1.0,
        )];
        let q = [1.0, 0.0, 0.0];
        let picks = |diversity| {
            let cfg = AnswerConfig {
                read_sentences: 2,
                max_read_sentences: 2,
                window_sentences: 0,
                diversity,
                ..Default::default()
            };
            pick_windows(&hits, &q, &cfg)
                .iter()
                .map(|w| w.text(&hits).to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(picks(0.0), vec!["Lead.", "Lead again."]);
        assert_eq!(picks(0.3), vec!["Lead.", "Other angle."]);
    }

    #[test]
    fn close_calls_read_more_sentences_and_clear_cuts_read_the_minimum() {
        // Unit vectors at a given cosine to the question [1, 0].
        let at = |c: f32| vec![c, (1.0 - c * c).sqrt()];
        let sentences = |cosines: &[f32]| -> Vec<(String, Vec<f32>)> {
            cosines
                .iter()
                .enumerate()
                .map(|(i, &c)| (format!("S{i}."), at(c)))
                .collect()
        };
        let read = |cosines: &[f32]| {
            let owned = sentences(cosines);
            let refs: Vec<(&str, Vec<f32>)> =
                owned.iter().map(|(t, v)| (t.as_str(), v.clone())).collect();
            let hits = vec![hit("a", 0, &refs, 1.0)];
            let cfg = AnswerConfig {
                read_sentences: 2,
                read_margin: 0.2,
                max_read_sentences: 4,
                diversity: 0.0,
                window_sentences: 0,
                ..Default::default()
            };
            pick_windows(&hits, &[1.0, 0.0], &cfg).len()
        };
        // One sentence well ahead of the rest: only the minimum is read.
        assert_eq!(read(&[0.9, 0.5, 0.45, 0.4, 0.35]), 2);
        // Five sentences the ranking cannot tell apart: up to the maximum.
        assert_eq!(read(&[0.9, 0.85, 0.8, 0.78, 0.75]), 4);
        // In between: the minimum, plus those within the margin of the best.
        assert_eq!(read(&[0.9, 0.8, 0.75, 0.6, 0.5]), 3);
    }

    fn candidate(answer: &str, score: f32, citation: &str, start: usize) -> Candidate {
        Candidate {
            answer: answer.into(),
            score,
            rank: (score / (1.0 - score)).ln(),
            citation: citation.into(),
            article_id: "a".into(),
            title: "t".into(),
            url: None,
            start,
            end: start + answer.chars().count(),
            reader_score: 0.0,
            no_answer: 0.0,
            verifier: 0.0,
            similarity: 0.0,
            overlap: 0.0,
            context_overlap: 0.0,
            agreement: 0.0,
            bm25: 0.0,
            date: None,
            passage: String::new(),
        }
    }

    #[test]
    fn an_answer_takes_in_the_article_right_before_it_within_its_sentence() {
        let text = "Old news. With the NSA exempted, an order (a pause) holds. They soothe nerves";
        let at = |w: &str| text.find(w).unwrap();
        assert_eq!(
            &text[with_article(text, at("NSA"), 0)..at("NSA") + 3],
            "the NSA"
        );
        assert_eq!(
            &text[with_article(text, at("order"), 0)..at("order") + 5],
            "an order"
        );
        // The article only, not the bracket; not a word merely ending in "the"; not before
        // the sentence's start.
        assert_eq!(with_article(text, at("pause"), 0), at("pause") - 2);
        assert_eq!(with_article(text, at("nerves"), 0), at("nerves"));
        assert_eq!(with_article(text, at("NSA"), at("NSA") - 1), at("NSA"));
        assert_eq!(with_article(text, at("Old"), 0), at("Old"));
    }

    #[test]
    fn the_same_span_from_two_passages_counts_once() {
        let c = |score: f32| candidate("the NSA", score, "x", 5);
        let out = dedup(vec![c(0.2), c(0.9), c(0.5)]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].score, 0.9);
    }

    #[test]
    fn the_fusion_ranks_the_candidates_and_the_verifier_only_sets_their_confidence() {
        // The verifier doubts the best-ranked sentence: its answer stays first, with the
        // lower confidence, so the engine abstains rather than answer from the second.
        let mut doubted = candidate("the NSA", 0.3, "x", 5);
        doubted.rank = 2.0;
        let mut trusted = candidate("CISA", 0.6, "y", 50);
        trusted.rank = 1.0;
        let out = dedup(vec![trusted, doubted]);
        assert_eq!(out[0].answer, "the NSA");
        assert_eq!(out[0].score, 0.3);
    }

    #[test]
    fn candidates_from_other_sentences_with_the_same_answer_agree() {
        let candidates = || {
            vec![
                candidate("Rosneft", 0.5, "Rosneft bought it.", 0),
                candidate("Gazprom", 0.4, "Gazprom bid.", 20),
                candidate("rosneft", 0.3, "It went to Rosneft.", 40),
                // The same answer from the same sentence is no second opinion.
                candidate("Gazprom bid", 0.2, "Gazprom bid.", 20),
                candidate("Gazprom", 0.1, "Gazprom bid again.", 60),
            ]
        };
        let mut c = candidates();
        agree(&mut c, 0.0);
        let agreement: Vec<f32> = c.iter().map(|c| c.agreement).collect();
        assert_eq!(agreement, vec![0.3, 0.1, 0.5, 0.0, 0.4]);
        // With no weight, scores and order stay as they were.
        assert_eq!(c[0].score, 0.5);
        assert_eq!(c[1].answer, "Gazprom");
        // With a weight, agreement raises the confidence and re-ranks.
        let mut c = candidates();
        agree(&mut c, 4.0);
        assert_eq!(c[1].answer, "rosneft", "third before, now second");
        assert!(c[0].score > 0.5 && c[0].score < 1.0);
        assert!(c.windows(2).all(|w| w[0].score >= w[1].score));
    }

    #[test]
    fn answers_are_normalised_like_squad() {
        assert_eq!(normalize_answer("The  N.S.A.!"), "nsa");
        assert_eq!(normalize_answer("an Apple a day"), "apple day");
    }
}
