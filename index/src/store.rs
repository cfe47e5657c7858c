//! The tantivy index: one document per article (metadata) and one per passage (searchable).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, PhraseQuery, Query, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, STORED, STRING,
};
use tantivy::{doc, Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use crate::article::Article;
use crate::{Date, IndexError, Result};

const KIND_ARTICLE: &str = "article";
const KIND_PASSAGE: &str = "passage";
const WRITER_HEAP: usize = 64 * 1024 * 1024;

/// Words too common in questions to help retrieval.
const STOPWORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "did", "do", "does", "for", "from", "had",
    "has", "have", "how", "in", "is", "it", "its", "of", "on", "or", "that", "the", "to", "was",
    "were", "what", "when", "where", "which", "who", "whom", "whose", "why", "with", "this",
    "these", "those", "there", "their", "they", "he", "she", "his", "her", "i", "you", "we", "can",
    "could", "would", "should", "will", "about", "into", "than", "then", "also", "not",
];

/// Stored facts about one article, as `articles` lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArticleInfo {
    /// The article id (canonical URL or text hash).
    pub id: String,
    /// The headline.
    pub title: String,
    /// Canonical URL, if known.
    pub url: Option<String>,
    /// Publication date as written in the source.
    pub date: Option<String>,
    /// The author, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// Where it was ingested from.
    pub source: String,
    /// Number of sentences.
    pub sentences: usize,
    /// Number of passages.
    pub passages: usize,
    /// Length of the body in characters.
    pub chars: usize,
    /// Hash of the stored content.
    pub content_hash: String,
}

impl ArticleInfo {
    /// The publication date, when the source gave one in a form [`Date::parse`] reads.
    pub fn published(&self) -> Option<Date> {
        self.date.as_deref().and_then(Date::parse)
    }
}

/// What [`ArticleIndex::check`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Health {
    /// Article documents.
    pub articles: usize,
    /// Passage documents.
    pub passages: usize,
    /// Ids stored as more than one article.
    pub duplicate_articles: Vec<String>,
    /// Articles whose stored passages are not the number they were written with.
    pub wrong_passage_counts: Vec<PassageCount>,
    /// Article ids that have passages but no article document.
    pub orphan_passages: Vec<String>,
}

/// An article whose passages do not add up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PassageCount {
    pub id: String,
    pub stored: usize,
    pub expected: usize,
}

impl Health {
    /// Whether nothing is wrong.
    pub fn ok(&self) -> bool {
        self.duplicate_articles.is_empty()
            && self.wrong_passage_counts.is_empty()
            && self.orphan_passages.is_empty()
    }
}

/// What `upsert` did with an article.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Upsert {
    /// The id was new.
    Added,
    /// The id was known with other content; the old passages were replaced.
    Updated,
    /// The id was known with the same content; nothing was written.
    Unchanged,
}

/// One sentence of a retrieved passage.
#[derive(Debug, Clone, PartialEq)]
pub struct SentenceHit {
    /// Byte range in the passage text.
    pub range: std::ops::Range<usize>,
    /// The sentence vector stored at ingest.
    pub vector: Vec<f32>,
    /// Share of the question's search terms found in this sentence, weighted by IDF (0..=1).
    pub overlap: f32,
    /// Which of the question's search terms (bit i: term i, the first 64) this sentence holds.
    pub matched: u64,
}

/// A passage returned by search.
#[derive(Debug, Clone, PartialEq)]
pub struct PassageHit {
    /// BM25 score.
    pub score: f32,
    /// Id of the article it belongs to.
    pub article_id: String,
    /// The article's headline.
    pub title: String,
    /// The article's URL, if known.
    pub url: Option<String>,
    /// The passage text, exactly as in the article.
    pub text: String,
    /// Character offset of the passage in the article body.
    pub char_start: usize,
    /// Index of the passage's first sentence in the article.
    pub first_sentence: usize,
    /// The passage's sentences with their vectors.
    pub sentences: Vec<SentenceHit>,
    /// Each search term's share of the question's IDF weight (the first 64 terms), so that
    /// the overlap of several sentences is the sum over the terms any of them holds.
    pub term_weights: Vec<f32>,
}

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    kind: Field,
    title: Field,
    body: Field,
    url: Field,
    meta: Field,
    char_start: Field,
    first_sentence: Field,
    sentences: Field,
}

/// The article index: ingest, dedup, forget, search.
pub struct ArticleIndex {
    index: Index,
    reader: IndexReader,
    /// Open only between the first write and the commit: the directory's lock is held no
    /// longer, so that other processes (the bot, a CLI ingest) can take their turn.
    writer: Mutex<Option<IndexWriter>>,
    fields: Fields,
    title_boost: f32,
    /// How long to wait for another process's writer lock before saying the index is busy.
    lock_wait: std::time::Duration,
    /// Where the index lives, for messages.
    place: String,
    /// Its `meta.json` (none in memory), and how it looked at the last reload: another
    /// process's commit changes it.
    meta: Option<std::path::PathBuf>,
    meta_seen: Mutex<Option<MetaStamp>>,
}

/// When a file was last changed, and its size.
type MetaStamp = (Option<std::time::SystemTime>, u64);

fn stamp(path: &Path) -> Option<MetaStamp> {
    std::fs::metadata(path)
        .ok()
        .map(|m| (m.modified().ok(), m.len()))
}

/// Default wait for another writer to finish (see [`ArticleIndex::set_lock_wait`]).
pub const DEFAULT_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("en_stem")
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
        .set_stored();
    let fields = Fields {
        id: b.add_text_field("id", STRING | STORED),
        kind: b.add_text_field("kind", STRING),
        title: b.add_text_field("title", text.clone()),
        body: b.add_text_field("body", text),
        url: b.add_text_field("url", STRING | STORED),
        meta: b.add_text_field("meta", STORED),
        char_start: b.add_u64_field("char_start", STORED),
        first_sentence: b.add_u64_field("first_sentence", STORED),
        sentences: b.add_bytes_field("sentences", STORED),
    };
    (b.build(), fields)
}

impl ArticleIndex {
    /// Whether `dir` holds an index, i.e. whether [`ArticleIndex::open`] would open one rather
    /// than create it.
    pub fn exists(dir: &Path) -> bool {
        dir.join("meta.json").is_file()
    }

    /// Opens the index in `dir`, creating it (and the directory) when missing.
    pub fn open(dir: &Path) -> Result<ArticleIndex> {
        std::fs::create_dir_all(dir).map_err(|source| IndexError::CreateDir {
            path: dir.to_owned(),
            source,
        })?;
        let (schema, fields) = schema();
        let mmap = tantivy::directory::MmapDirectory::open(dir).map_err(|e| IndexError::Open {
            path: dir.to_owned(),
            source: e.into(),
        })?;
        let index = Index::open_or_create(mmap, schema).map_err(|source| IndexError::Open {
            path: dir.to_owned(),
            source,
        })?;
        let mut opened = Self::with_index(index, fields, dir.display().to_string())?;
        let meta = dir.join("meta.json");
        opened.meta_seen = Mutex::new(stamp(&meta));
        opened.meta = Some(meta);
        Ok(opened)
    }

    /// An index in memory, for tests.
    pub fn in_ram() -> Result<ArticleIndex> {
        let (schema, fields) = schema();
        Self::with_index(Index::create_in_ram(schema), fields, "in memory".into())
    }

    fn with_index(index: Index, fields: Fields, place: String) -> Result<ArticleIndex> {
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::OnCommitWithDelay)
            .try_into()?;
        Ok(ArticleIndex {
            index,
            reader,
            writer: Mutex::new(None),
            fields,
            title_boost: 2.0,
            lock_wait: DEFAULT_LOCK_WAIT,
            place,
            meta: None,
            meta_seen: Mutex::new(None),
        })
    }

    /// Sees at once what another process committed (a CLI ingest while the bot runs): the
    /// reader reloads when the index's `meta.json` changed since it last looked. One `stat`
    /// when nothing changed. Without it the reader would follow only after tantivy's file
    /// watcher noticed, up to a second or so later.
    pub fn catch_up(&self) -> Result<()> {
        let Some(meta) = &self.meta else {
            return Ok(());
        };
        let now = stamp(meta);
        let mut seen = self.meta_seen.lock().unwrap_or_else(|e| e.into_inner());
        if *seen != now {
            self.reader.reload()?;
            *seen = now;
        }
        Ok(())
    }

    /// Sets how long a write waits for another process's writer lock before it fails with
    /// [`IndexError::Busy`].
    pub fn set_lock_wait(&mut self, wait: std::time::Duration) {
        self.lock_wait = wait;
    }

    /// Sets how much more a title match counts than a body match.
    pub fn set_title_boost(&mut self, boost: f32) {
        self.title_boost = boost;
    }

    /// What `upsert` would do with an article of this id and content hash,
    /// so that callers can skip embedding unchanged articles.
    pub fn status(&self, id: &str, content_hash: &str) -> Result<Upsert> {
        Ok(match self.article(id)? {
            None => Upsert::Added,
            Some(info) if info.content_hash == content_hash => Upsert::Unchanged,
            Some(_) => Upsert::Updated,
        })
    }

    /// Adds or replaces an article and its passages. `vectors` holds one vector per sentence.
    /// Nothing is searchable until [`ArticleIndex::commit`].
    pub fn upsert(&self, article: &Article, vectors: &[Vec<f32>]) -> Result<Upsert> {
        if vectors.len() != article.sentences.len() {
            return Err(IndexError::VectorCount {
                id: article.id.clone(),
                got: vectors.len(),
                want: article.sentences.len(),
            });
        }
        let status = self.status(&article.id, &article.content_hash)?;
        if status == Upsert::Unchanged {
            return Ok(status);
        }
        let f = self.fields;
        let info = ArticleInfo {
            id: article.id.clone(),
            title: article.title.clone(),
            url: article.url.clone(),
            date: article.date.clone(),
            author: article.author.clone(),
            source: article.source.clone(),
            sentences: article.sentences.len(),
            passages: article.passages.len(),
            chars: article.text.chars().count(),
            content_hash: article.content_hash.clone(),
        };
        let meta = serde_json::to_string(&info).map_err(|e| IndexError::Corrupt(e.to_string()))?;
        let url = article.url.clone().unwrap_or_default();

        let mut guard = self.writer()?;
        let writer = guard.as_mut().expect("writer is open");
        writer.delete_term(Term::from_field_text(f.id, &article.id));
        writer.add_document(doc!(
            f.id => article.id.as_str(),
            f.kind => KIND_ARTICLE,
            f.url => url.as_str(),
            f.meta => meta,
        ))?;
        // Char offsets of each sentence start, computed in one pass over the text.
        let mut char_pos = 0usize;
        let mut byte_pos = 0usize;
        let mut sentence_chars = Vec::with_capacity(article.sentences.len());
        for s in &article.sentences {
            char_pos += article.text[byte_pos..s.start].chars().count();
            byte_pos = s.start;
            sentence_chars.push(char_pos);
        }
        for p in &article.passages {
            let start = article.sentences[p.start].start;
            let end = article.sentences[p.end - 1].end;
            let mut blob = Vec::new();
            let dim = vectors.first().map_or(0, Vec::len);
            blob.extend_from_slice(&(p.len() as u32).to_le_bytes());
            blob.extend_from_slice(&(dim as u32).to_le_bytes());
            for i in p.clone() {
                let s = &article.sentences[i];
                blob.extend_from_slice(&((s.start - start) as u32).to_le_bytes());
                blob.extend_from_slice(&((s.end - start) as u32).to_le_bytes());
                for &x in &vectors[i] {
                    blob.extend_from_slice(&half::f16::from_f32(x).to_le_bytes());
                }
            }
            writer.add_document(doc!(
                f.id => article.id.as_str(),
                f.kind => KIND_PASSAGE,
                f.title => article.title.as_str(),
                f.body => &article.text[start..end],
                f.url => url.as_str(),
                f.char_start => sentence_chars[p.start] as u64,
                f.first_sentence => p.start as u64,
                f.sentences => blob,
            ))?;
        }
        Ok(status)
    }

    /// Makes everything written so far durable and searchable, and lets go of the
    /// directory's writer lock.
    pub fn commit(&self) -> Result<()> {
        let mut guard = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(mut writer) = guard.take() {
            writer.commit()?;
            self.reader.reload()?;
            // Merges the commit started finish before the lock goes.
            writer.wait_merging_threads()?;
        }
        Ok(())
    }

    /// The writer, opened on first use: waits up to `lock_wait` for another process's lock.
    fn writer(&self) -> Result<std::sync::MutexGuard<'_, Option<IndexWriter>>> {
        let mut guard = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            let started = std::time::Instant::now();
            let mut pause = std::time::Duration::from_millis(10);
            let writer = loop {
                match self.index.writer(WRITER_HEAP) {
                    Ok(w) => break w,
                    Err(tantivy::TantivyError::LockFailure(
                        tantivy::directory::error::LockError::LockBusy,
                        _,
                    )) => {
                        let waited = started.elapsed();
                        if waited >= self.lock_wait {
                            return Err(IndexError::Busy {
                                path: self.place.clone(),
                                waited_secs: waited.as_secs(),
                            });
                        }
                        // Polls the lock file: the other holder gives no signal to wait on.
                        std::thread::sleep(pause.min(self.lock_wait - waited));
                        pause = (pause * 2).min(std::time::Duration::from_millis(500));
                    }
                    Err(e) => return Err(e.into()),
                }
            };
            *guard = Some(writer);
        }
        Ok(guard)
    }

    /// Looks an article up by id.
    pub fn article(&self, id: &str) -> Result<Option<ArticleInfo>> {
        let searcher = self.reader.searcher();
        let q = BooleanQuery::new(vec![
            (Occur::Must, term_query(self.fields.id, id)),
            (Occur::Must, term_query(self.fields.kind, KIND_ARTICLE)),
        ]);
        let top = searcher.search(&q, &TopDocs::with_limit(1))?;
        match top.first() {
            Some(&(_, addr)) => Ok(Some(self.info(&searcher.doc(addr)?)?)),
            None => Ok(None),
        }
    }

    /// Finds one article by id, URL (tracking parameters or not) or a unique id prefix of at
    /// least 8 characters. An ambiguous prefix is an error: it must not pick at random.
    pub fn find(&self, id_or_url: &str) -> Result<Option<ArticleInfo>> {
        let key = id_or_url.trim();
        if key.is_empty() {
            return Ok(None);
        }
        if let Some(info) = self.article(key)? {
            return Ok(Some(info));
        }
        let canonical = crate::canonical_url(key);
        if canonical != key {
            if let Some(info) = self.article(&canonical)? {
                return Ok(Some(info));
            }
        }
        let mut matches: Vec<ArticleInfo> = self
            .articles()?
            .into_iter()
            .filter(|a| a.url.as_deref() == Some(key) || (key.len() >= 8 && a.id.starts_with(key)))
            .collect();
        if matches.len() > 1 {
            return Err(IndexError::Ambiguous {
                key: key.to_owned(),
                matches: matches.len(),
            });
        }
        Ok(matches.pop())
    }

    /// Removes an article, found as [`ArticleIndex::find`] finds it, with all its passages.
    /// Commits.
    pub fn forget(&self, id_or_url: &str) -> Result<Option<ArticleInfo>> {
        let found = self.find(id_or_url)?;
        let Some(info) = found else { return Ok(None) };
        self.delete(info)
    }

    /// Removes the article with exactly this id, with all its passages, and commits; `None`
    /// when there is none. Never falls back to a URL or a prefix, as [`ArticleIndex::forget`]
    /// does for a person typing: what a program recorded is removed, or nothing.
    pub fn remove(&self, id: &str) -> Result<Option<ArticleInfo>> {
        let Some(info) = self.article(id)? else {
            return Ok(None);
        };
        self.delete(info)
    }

    fn delete(&self, info: ArticleInfo) -> Result<Option<ArticleInfo>> {
        {
            let mut guard = self.writer()?;
            let writer = guard.as_mut().expect("writer is open");
            writer.delete_term(Term::from_field_text(self.fields.id, &info.id));
        }
        self.commit()?;
        Ok(Some(info))
    }

    /// Every article in the index, sorted by title.
    pub fn articles(&self) -> Result<Vec<ArticleInfo>> {
        let searcher = self.reader.searcher();
        let q = term_query(self.fields.kind, KIND_ARTICLE);
        let n = searcher.num_docs() as usize;
        let mut out = Vec::new();
        for (_, addr) in searcher.search(&q, &TopDocs::with_limit(n.max(1)))? {
            out.push(self.info(&searcher.doc(addr)?)?);
        }
        out.sort_by(|a, b| a.title.cmp(&b.title).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// Reads every document and checks that the index adds up: each article once, with as
    /// many passages as it was stored with, and no passage without its article.
    pub fn check(&self) -> Result<Health> {
        let f = self.fields;
        let searcher = self.reader.searcher();
        // Per article id: how many article documents, and the passages each was written with.
        let mut articles: HashMap<String, (usize, usize)> = HashMap::new();
        let mut passages: HashMap<String, usize> = HashMap::new();
        let mut health = Health::default();
        for segment in searcher.segment_readers() {
            let store = segment
                .get_store_reader(64)
                .map_err(tantivy::TantivyError::from)?;
            for doc_id in segment.doc_ids_alive() {
                let doc: TantivyDocument = store.get(doc_id)?;
                let text = |field| doc.get_first(field).and_then(|v| v.as_str()).unwrap_or("");
                let id = text(f.id).to_owned();
                // The kind is indexed, not stored: an article document is the one with metadata.
                let is_article = doc.get_first(f.meta).is_some();
                let is_passage = doc.get_first(f.first_sentence).is_some();
                match (is_article, is_passage) {
                    (true, false) => {
                        health.articles += 1;
                        let entry = articles.entry(id).or_default();
                        entry.0 += 1;
                        entry.1 = self.info(&doc)?.passages;
                    }
                    (false, true) => {
                        health.passages += 1;
                        *passages.entry(id).or_default() += 1;
                    }
                    _ => {
                        return Err(IndexError::Corrupt(format!(
                            "document {doc_id} of article {id:?} is neither article nor passage"
                        )))
                    }
                }
            }
        }
        for (id, &(copies, want)) in &articles {
            if copies > 1 {
                health.duplicate_articles.push(id.clone());
            }
            let stored = passages.get(id).copied().unwrap_or(0);
            if stored != want * copies {
                health.wrong_passage_counts.push(PassageCount {
                    id: id.clone(),
                    stored,
                    expected: want,
                });
            }
        }
        health.orphan_passages = passages
            .keys()
            .filter(|id| !articles.contains_key(*id))
            .cloned()
            .collect();
        health.duplicate_articles.sort();
        health.wrong_passage_counts.sort_by(|a, b| a.id.cmp(&b.id));
        health.orphan_passages.sort();
        Ok(health)
    }

    /// Whether the index holds no article at all.
    pub fn is_empty(&self) -> bool {
        self.reader.searcher().num_docs() == 0
    }

    /// How many articles the index holds.
    pub fn article_count(&self) -> Result<usize> {
        let searcher = self.reader.searcher();
        Ok(searcher.search(
            &term_query(self.fields.kind, KIND_ARTICLE),
            &tantivy::collector::Count,
        )?)
    }

    /// How many passage documents the index holds.
    pub fn passage_count(&self) -> Result<usize> {
        let searcher = self.reader.searcher();
        Ok(searcher.search(
            &term_query(self.fields.kind, KIND_PASSAGE),
            &tantivy::collector::Count,
        )?)
    }

    fn info(&self, doc: &TantivyDocument) -> Result<ArticleInfo> {
        let meta = doc
            .get_first(self.fields.meta)
            .and_then(|v| v.as_str())
            .ok_or_else(|| IndexError::Corrupt("article without metadata".into()))?;
        serde_json::from_str(meta).map_err(|e| IndexError::Corrupt(e.to_string()))
    }

    /// The search terms of a question: analysed like the body (lower-cased, stemmed), stopwords and
    /// duplicates dropped. Never fails, whatever punctuation or operators the question holds.
    pub fn query_terms(&self, question: &str) -> Result<Vec<String>> {
        let mut analyzer = self.index.tokenizer_for_field(self.fields.body)?;
        let mut seen = HashSet::new();
        let mut terms = Vec::new();
        let mut stream = analyzer.token_stream(question);
        while let Some(token) = stream.next() {
            let raw = question
                .get(token.offset_from..token.offset_to)
                .unwrap_or("")
                .to_lowercase();
            if STOPWORDS.contains(&raw.as_str()) {
                continue;
            }
            if seen.insert(token.text.clone()) {
                terms.push(token.text.clone());
            }
        }
        Ok(terms)
    }

    /// Whether the article `id` holds `phrase` (its words in a row, analysed like the body:
    /// lower-cased and stemmed) in its title or body. A phrase with no indexable word is
    /// held by every article.
    pub fn mentions(&self, id: &str, phrase: &str) -> Result<bool> {
        self.mentions_in(Some(id), phrase)
    }

    fn mentions_in(&self, id: Option<&str>, phrase: &str) -> Result<bool> {
        let f = self.fields;
        let mut analyzer = self.index.tokenizer_for_field(f.body)?;
        let mut words = Vec::new();
        let mut stream = analyzer.token_stream(phrase);
        while let Some(token) = stream.next() {
            words.push(token.text.clone());
        }
        if words.is_empty() {
            return Ok(true);
        }
        let in_field = |field: Field| -> Box<dyn Query> {
            if words.len() == 1 {
                term_query(field, &words[0])
            } else {
                Box::new(PhraseQuery::new(
                    words
                        .iter()
                        .map(|w| Term::from_field_text(field, w))
                        .collect(),
                ))
            }
        };
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(
            Occur::Must,
            Box::new(BooleanQuery::new(vec![
                (Occur::Should, in_field(f.body)),
                (Occur::Should, in_field(f.title)),
            ])),
        )];
        if let Some(id) = id {
            clauses.push((Occur::Must, term_query(f.id, id)));
        }
        let q = BooleanQuery::new(clauses);
        let searcher = self.reader.searcher();
        Ok(searcher.search(&q, &tantivy::collector::Count)? > 0)
    }

    /// How the articles write `phrase` in the middle of a sentence: capitalised ("the NSA
    /// said", "a Quick Fit deal") or in lower case ("a quick deal"), counted in the bodies of
    /// at most `sample` passages that hold it. Only uses right after a lower-case word, a
    /// digit or a comma count: there, a capital says the writer took it for a name, where at
    /// the start of a sentence, a quote or a heading it says nothing.
    pub fn casing(&self, phrase: &str, sample: usize) -> Result<Casing> {
        let f = self.fields;
        let mut analyzer = self.index.tokenizer_for_field(f.body)?;
        let mut terms = Vec::new();
        let mut stream = analyzer.token_stream(phrase);
        while let Some(token) = stream.next() {
            terms.push(Term::from_field_text(f.body, &token.text));
        }
        let wanted: Vec<String> = words(phrase).map(|(_, w)| w.to_lowercase()).collect();
        let mut casing = Casing::default();
        if terms.is_empty() || wanted.is_empty() || sample == 0 {
            return Ok(casing);
        }
        let query: Box<dyn Query> = if terms.len() == 1 {
            Box::new(TermQuery::new(terms.remove(0), IndexRecordOption::Basic))
        } else {
            Box::new(PhraseQuery::new(terms))
        };
        let searcher = self.reader.searcher();
        // Passages overlap: each sentence of an article is read once.
        let mut seen: HashSet<(String, u64)> = HashSet::new();
        for (_, addr) in searcher.search(&query, &TopDocs::with_limit(sample))? {
            let doc: TantivyDocument = searcher.doc(addr)?;
            let body = doc.get_first(f.body).and_then(|v| v.as_str()).unwrap_or("");
            let id = doc.get_first(f.id).and_then(|v| v.as_str()).unwrap_or("");
            let first = doc
                .get_first(f.first_sentence)
                .and_then(|v| v.as_u64())
                .unwrap_or(0);
            let blob = doc
                .get_first(f.sentences)
                .and_then(|v| v.as_bytes())
                .unwrap_or(&[]);
            for (k, sentence) in decode_sentences(blob)?.into_iter().enumerate() {
                if seen.insert((id.to_owned(), first + k as u64)) {
                    casing.add(body.get(sentence.range).unwrap_or(""), &wanted);
                }
            }
        }
        Ok(casing)
    }

    /// How many passages hold `word` (analysed like the body); 0 for a word the articles
    /// never use.
    pub fn passages_with(&self, word: &str) -> Result<u64> {
        let f = self.fields;
        let mut analyzer = self.index.tokenizer_for_field(f.body)?;
        let mut stream = analyzer.token_stream(word);
        let Some(token) = stream.next() else {
            return Ok(0);
        };
        let term = Term::from_field_text(f.body, &token.text);
        Ok(self.reader.searcher().doc_freq(&term)?)
    }

    /// Whether any article holds `phrase` (see [`ArticleIndex::mentions`]).
    pub fn mentions_anywhere(&self, phrase: &str) -> Result<bool> {
        self.mentions_in(None, phrase)
    }

    /// The text of an article's passages (overlapping), in order: for checks that read the
    /// whole article, such as which years it mentions.
    pub fn article_passages(&self, id: &str) -> Result<Vec<String>> {
        let f = self.fields;
        let mut out = Vec::new();
        for doc in self.passage_docs(id)? {
            let first = doc
                .get_first(f.first_sentence)
                .and_then(|v| v.as_u64())
                .unwrap_or(0);
            let body = doc
                .get_first(f.body)
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_owned();
            out.push((first, body));
        }
        out.sort();
        Ok(out.into_iter().map(|(_, b)| b).collect())
    }

    /// An article found as [`ArticleIndex::find`] finds it, with its sentences as
    /// [`ArticleIndex::article_sentences`] gives them (what `newsqa show` and `/article` print).
    pub fn show(&self, id_or_url: &str) -> Result<Option<(ArticleInfo, Vec<String>)>> {
        let Some(info) = self.find(id_or_url)? else {
            return Ok(None);
        };
        let sentences = self.article_sentences(&info.id)?;
        Ok(Some((info, sentences)))
    }

    /// Every passage document of one article, in no particular order.
    fn passage_docs(&self, id: &str) -> Result<Vec<TantivyDocument>> {
        let f = self.fields;
        let q = BooleanQuery::new(vec![
            (Occur::Must, term_query(f.id, id)),
            (Occur::Must, term_query(f.kind, KIND_PASSAGE)),
        ]);
        let searcher = self.reader.searcher();
        let n = searcher.num_docs() as usize;
        searcher
            .search(&q, &TopDocs::with_limit(n.max(1)))?
            .into_iter()
            .map(|(_, addr)| Ok(searcher.doc(addr)?))
            .collect()
    }

    /// An article's sentences, in order, as the engine split and stored them: what newsqa took
    /// from the page. Overlapping passages give each sentence once.
    pub fn article_sentences(&self, id: &str) -> Result<Vec<String>> {
        let f = self.fields;
        let mut sentences = std::collections::BTreeMap::new();
        for doc in self.passage_docs(id)? {
            let first = doc
                .get_first(f.first_sentence)
                .and_then(|v| v.as_u64())
                .unwrap_or(0);
            let body = doc.get_first(f.body).and_then(|v| v.as_str()).unwrap_or("");
            let blob = doc
                .get_first(f.sentences)
                .and_then(|v| v.as_bytes())
                .unwrap_or(&[]);
            for (k, hit) in decode_sentences(blob)?.into_iter().enumerate() {
                let text = body.get(hit.range).ok_or_else(|| {
                    IndexError::Corrupt("a sentence range outside its passage".into())
                })?;
                sentences.insert(first + k as u64, text.to_owned());
            }
        }
        Ok(sentences.into_values().collect())
    }

    /// BM25 search over passages, with title matches boosted. Returns at most `limit` passages.
    pub fn search(&self, question: &str, limit: usize) -> Result<Vec<PassageHit>> {
        self.search_in(None, question, limit)
    }

    /// [`ArticleIndex::search`] within one article when `article` names one (a follow-up
    /// question reads the article the earlier answer came from), scored the same way.
    pub fn search_in(
        &self,
        article: Option<&str>,
        question: &str,
        limit: usize,
    ) -> Result<Vec<PassageHit>> {
        let terms = self.query_terms(question)?;
        if terms.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let f = self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for t in &terms {
            clauses.push((Occur::Should, term_query(f.body, t)));
            clauses.push((
                Occur::Should,
                Box::new(BoostQuery::new(term_query(f.title, t), self.title_boost)),
            ));
        }
        let mut query = BooleanQuery::new(clauses);
        if let Some(id) = article {
            // The article's own id adds nothing to the score.
            query = BooleanQuery::new(vec![
                (Occur::Must, Box::new(query) as Box<dyn Query>),
                (
                    Occur::Must,
                    Box::new(BoostQuery::new(term_query(f.id, id), 0.0)),
                ),
            ]);
        }
        let searcher = self.reader.searcher();
        let top = searcher.search(&query, &TopDocs::with_limit(limit))?;
        // IDF of each term over passages, to weigh which sentence matches the question best.
        let n = searcher.num_docs() as f32;
        let mut idf = Vec::with_capacity(terms.len());
        for t in &terms {
            let df = searcher.doc_freq(&Term::from_field_text(f.body, t))? as f32;
            idf.push((1.0 + (n - df + 0.5) / (df + 0.5)).ln());
        }
        let total: f32 = idf.iter().sum::<f32>().max(1e-6);
        let mut analyzer = self.index.tokenizer_for_field(f.body)?;
        let mut hits = Vec::with_capacity(top.len());
        for (score, addr) in top {
            let doc: TantivyDocument = searcher.doc(addr)?;
            let mut hit = self.passage(score, &doc)?;
            for s in &mut hit.sentences {
                let mut words = HashSet::new();
                let mut stream = analyzer.token_stream(&hit.text[s.range.clone()]);
                while let Some(token) = stream.next() {
                    words.insert(token.text.clone());
                }
                let mut matched = 0.0;
                for (i, (t, w)) in terms.iter().zip(&idf).enumerate() {
                    if words.contains(t.as_str()) {
                        matched += w;
                        if i < 64 {
                            s.matched |= 1 << i;
                        }
                    }
                }
                s.overlap = matched / total;
            }
            hit.term_weights = idf.iter().take(64).map(|w| w / total).collect();
            hits.push(hit);
        }
        Ok(hits)
    }

    fn passage(&self, score: f32, doc: &TantivyDocument) -> Result<PassageHit> {
        let f = self.fields;
        let text_of = |field| {
            doc.get_first(field)
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_owned()
        };
        let u64_of = |field| doc.get_first(field).and_then(|v| v.as_u64()).unwrap_or(0);
        let blob = doc
            .get_first(f.sentences)
            .and_then(|v| v.as_bytes())
            .ok_or_else(|| IndexError::Corrupt("passage without sentences".into()))?;
        let url = text_of(f.url);
        Ok(PassageHit {
            score,
            article_id: text_of(f.id),
            title: text_of(f.title),
            url: (!url.is_empty()).then_some(url),
            text: text_of(f.body),
            char_start: u64_of(f.char_start) as usize,
            first_sentence: u64_of(f.first_sentence) as usize,
            sentences: decode_sentences(blob)?,
            term_weights: Vec::new(),
        })
    }
}

/// How a text writes a word or phrase mid-sentence: see [`ArticleIndex::casing`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Casing {
    /// Uses with every word capitalised and in lower case after its capital ("Yukos",
    /// "World Cup").
    pub title: u32,
    /// Uses with every word in capitals ("NSA", "OK").
    pub upper: u32,
    /// Uses with the first word in lower case, or mixed.
    pub lower: u32,
}

impl Casing {
    /// The uses written as `typed` is: in capitals for a word typed in capitals ("NSA" is
    /// not "Nsa"), capitalised for one typed capitalised, either for one typed in lower case.
    pub fn named(&self, typed: &str) -> u32 {
        let letters = || typed.chars().filter(|c| c.is_alphabetic());
        if letters().count() >= 2 && letters().all(char::is_uppercase) {
            self.upper
        } else if typed.chars().next().is_some_and(char::is_uppercase) {
            self.title
        } else {
            self.title + self.upper
        }
    }

    /// Counts the mid-sentence uses of the phrase `wanted` (its words in lower case) in
    /// `text`. A capitalised use followed by another capitalised word is part of a longer
    /// name ("Hey Jude", "New York Times") and says nothing of the phrase alone: it is not
    /// counted.
    pub fn add(&mut self, text: &str, wanted: &[String]) {
        let found: Vec<(usize, &str)> = words(text).collect();
        if wanted.is_empty() {
            return;
        }
        let in_a_row = |a: (usize, &str), b: (usize, &str)| {
            text[a.0 + a.1.len()..b.0]
                .chars()
                .all(|c| c == ' ' || c == '-')
        };
        let capital = |w: &str| w.chars().next().is_some_and(char::is_uppercase);
        for (k, window) in found.windows(wanted.len()).enumerate() {
            let same = window
                .iter()
                .zip(wanted)
                .all(|((_, w), x)| w.chars().flat_map(char::to_lowercase).eq(x.chars()));
            // Words in a row: only spaces or a hyphen between them ("World Cup", "Coca-Cola").
            if !same || !window.windows(2).all(|pair| in_a_row(pair[0], pair[1])) {
                continue;
            }
            let before = text[..found[k].0].trim_end_matches(' ').chars().next_back();
            let mid_sentence =
                before.is_some_and(|c| c.is_lowercase() || c.is_ascii_digit() || c == ',');
            if !mid_sentence {
                continue;
            }
            if !window.iter().all(|(_, w)| capital(w)) {
                self.lower += 1;
                continue;
            }
            // A longer name goes on with a capitalised word, or with a short lower-case
            // word and then one ("Guys and Dolls", "Bank of England").
            let last = window[window.len() - 1];
            let next = found.get(k + wanted.len()).copied();
            let after = found.get(k + wanted.len() + 1).copied();
            let longer = next.is_some_and(|next| {
                in_a_row(last, next)
                    && (capital(next.1)
                        || (next.1.len() <= 3
                            && after.is_some_and(|a| capital(a.1) && in_a_row(next, a))))
            });
            if longer {
                continue;
            }
            if window.iter().all(|(_, w)| {
                w.chars()
                    .filter(|c| c.is_alphabetic())
                    .all(char::is_uppercase)
            }) {
                self.upper += 1;
            } else {
                self.title += 1;
            }
        }
    }
}

/// The words of a text (runs of letters and digits) with their byte offsets.
fn words(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(move |w| (w.as_ptr() as usize - text.as_ptr() as usize, w))
}

fn term_query(field: Field, text: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, text),
        IndexRecordOption::WithFreqs,
    ))
}

fn decode_sentences(blob: &[u8]) -> Result<Vec<SentenceHit>> {
    let corrupt = || IndexError::Corrupt("truncated sentence data".into());
    let u32_at = |at: usize| -> Result<u32> {
        blob.get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(corrupt)
    };
    let n = u32_at(0)? as usize;
    let dim = u32_at(4)? as usize;
    let mut at = 8;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let start = u32_at(at)? as usize;
        let end = u32_at(at + 4)? as usize;
        at += 8;
        let raw = blob.get(at..at + 2 * dim).ok_or_else(corrupt)?;
        let vector = raw
            .chunks_exact(2)
            .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect();
        at += 2 * dim;
        out.push(SentenceHit {
            range: start..end,
            vector,
            overlap: 0.0,
            matched: 0,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Metadata, PassageConfig};

    fn article(text: &str, url: Option<&str>) -> Article {
        Article::parse(
            text.as_bytes(),
            Metadata {
                source: "test.txt".into(),
                url: url.map(Into::into),
                title: None,
                ..Default::default()
            },
            1 << 20,
            PassageConfig::default(),
        )
        .unwrap()
    }

    fn vectors(a: &Article) -> Vec<Vec<f32>> {
        (0..a.sentences.len())
            .map(|i| vec![i as f32, 0.5])
            .collect()
    }

    fn add(index: &ArticleIndex, a: &Article) -> Upsert {
        let r = index.upsert(a, &vectors(a)).unwrap();
        index.commit().unwrap();
        r
    }

    #[test]
    fn a_search_within_one_article_finds_only_its_passages_scored_alike() {
        let index = ArticleIndex::in_ram().unwrap();
        let a = article(
            "Oil\n\nYukos sold its oil unit to Rosneft.",
            Some("https://a.example/1"),
        );
        let b = article(
            "More oil\n\nOil prices rose as Yukos oil output fell.",
            Some("https://b.example/2"),
        );
        add(&index, &a);
        add(&index, &b);
        let everywhere = index.search("Yukos oil", 10).unwrap();
        assert_eq!(everywhere.len(), 2);
        let within = index.search_in(Some(&a.id), "Yukos oil", 10).unwrap();
        assert_eq!(within.len(), 1);
        assert_eq!(within[0].article_id, a.id);
        let same = everywhere.iter().find(|h| h.article_id == a.id).unwrap();
        assert!(
            (within[0].score - same.score).abs() < 1e-4,
            "the id adds no score"
        );
    }

    #[test]
    fn casing_counts_how_the_articles_write_a_word_mid_sentence() {
        let index = ArticleIndex::in_ram().unwrap();
        let a = article(
            "Quick sale\n\nQuick thinking saved the deal. The firm made a quick sale to the NSA, \
             and the NSA said so. Anyone could see it, said the head of the World Cup bid. \
             The fund at the Bank of England grew. \
             He thanked the world for its support, and the World Cup body agreed.",
            None,
        );
        add(&index, &a);
        let casing = |p: &str| index.casing(p, 20).unwrap();
        let c = |title, upper, lower| Casing {
            title,
            upper,
            lower,
        };
        // "Quick" opening a sentence says nothing; "a quick sale" says it is no name.
        assert_eq!(casing("Quick"), c(0, 0, 1));
        assert_eq!(casing("NSA"), c(0, 2, 0));
        assert_eq!(casing("NSA").named("NSA"), 2);
        assert_eq!(casing("NSA").named("Nsa"), 0, "another spelling");
        assert_eq!(casing("NSA").named("nsa"), 2);
        assert_eq!(
            casing("anyone"),
            c(0, 0, 0),
            "only at the start of a sentence"
        );
        assert_eq!(casing("World Cup"), c(2, 0, 0));
        // "the World Cup bid": "World" is part of a longer name there.
        assert_eq!(casing("world"), c(0, 0, 1));
        assert_eq!(casing("Hegseth"), c(0, 0, 0));
        // "the Bank of England": "Bank" is part of a longer name.
        assert_eq!(casing("Bank"), c(0, 0, 0));
        assert!(index.passages_with("quick").unwrap() > 0);
        assert_eq!(index.passages_with("hegseth").unwrap(), 0);
    }

    #[test]
    fn mentions_finds_words_and_phrases_of_one_article_only() {
        let index = ArticleIndex::in_ram().unwrap();
        let a = article(
            "Yukos sale\n\nThe Russian oil firm Yukos was sold in December 2004. Its main unit went to Rosneft.",
            Some("https://a.example/yukos"),
        );
        let b = article(
            "Cup final\n\nArsenal beat Manchester United on penalties in the FA Cup final.",
            Some("https://b.example/cup"),
        );
        add(&index, &a);
        add(&index, &b);
        let mentions = |id: &str, p: &str| index.mentions(id, p).unwrap();
        assert!(mentions(&a.id, "2004"));
        assert!(mentions(&a.id, "Rosneft"));
        assert!(mentions(&a.id, "yukos sale"), "the title counts");
        assert!(!mentions(&a.id, "2016"));
        assert!(!mentions(&a.id, "Arsenal"), "another article's word");
        assert!(mentions(&b.id, "FA Cup"));
        assert!(mentions(&b.id, "Manchester United"));
        assert!(
            !mentions(&b.id, "United Manchester"),
            "words out of order are no phrase"
        );
        assert!(mentions(&b.id, "?!"), "nothing to look for");
        assert!(index.mentions_anywhere("Arsenal").unwrap());
        assert!(!index.mentions_anywhere("2016").unwrap());
        let passages = index.article_passages(&a.id).unwrap();
        assert!(
            passages[0].starts_with("The Russian oil firm Yukos"),
            "{passages:?}"
        );
    }

    const SEED: &str =
        "Cyber pause\n\nThe order was issued by Pete Hegseth. It halts offensive operations. \
        The NSA is exempted from its parameters. CISA said its mission has not changed. \
        Talks continue in Europe. Nobody commented.";

    #[test]
    fn an_article_is_searchable_right_after_commit() {
        let index = ArticleIndex::in_ram().unwrap();
        let a = article(SEED, None);
        assert_eq!(add(&index, &a), Upsert::Added);
        let hits = index.search("Which agency is exempted?", 5).unwrap();
        assert!(!hits.is_empty());
        let best = &hits[0];
        assert!(best.text.contains("NSA is exempted"));
        assert_eq!(best.article_id, a.id);
        assert_eq!(best.title, "Cyber pause");
        // Sentence ranges and vectors survive the round trip.
        let s = &best.sentences[0];
        assert_eq!(&best.text[s.range.clone()], a.sentence(best.first_sentence));
        assert_eq!(s.vector, vec![best.first_sentence as f32, 0.5]);
    }

    #[test]
    fn each_sentence_knows_which_question_terms_it_holds() {
        let index = ArticleIndex::in_ram().unwrap();
        let a = article(SEED, None);
        add(&index, &a);
        let hits = index.search("Which agency did Hegseth exempt?", 5).unwrap();
        let hit = &hits[0];
        let total: f32 = hit.term_weights.iter().sum();
        assert!((total - 1.0).abs() < 1e-4, "{:?}", hit.term_weights);
        for s in &hit.sentences {
            // The overlap is the weight of the terms the sentence holds.
            let of_bits: f32 = hit
                .term_weights
                .iter()
                .enumerate()
                .filter(|(i, _)| s.matched & (1 << i) != 0)
                .map(|(_, w)| w)
                .sum();
            assert!((of_bits - s.overlap).abs() < 1e-5);
        }
        let text = |s: &SentenceHit| &hit.text[s.range.clone()];
        let hegseth = hit.sentences.iter().find(|s| text(s).contains("Hegseth"));
        assert!(hegseth.is_some_and(|s| s.matched != 0 && s.overlap > 0.0));
    }

    #[test]
    fn two_processes_take_turns_writing_to_one_index() {
        // Two handles on one directory stand for the bot and a CLI ingest: each holds the
        // directory's writer lock only while it writes.
        let dir = tempfile::tempdir().unwrap();
        let bot = ArticleIndex::open(dir.path()).unwrap();
        let cli = ArticleIndex::open(dir.path()).unwrap();
        let a = article(SEED, None);
        let b = article(
            "Cup final\n\nArsenal beat Manchester United on penalties in the FA Cup final.",
            None,
        );
        add(&bot, &a);
        assert_eq!(add(&cli, &b), Upsert::Added, "the bot let go of the lock");
        add(&bot, &article("Other\n\nA third article about rain.", None));
        let fresh = ArticleIndex::open(dir.path()).unwrap();
        assert_eq!(fresh.articles().unwrap().len(), 3);
    }

    #[test]
    fn a_reader_sees_what_another_process_committed_without_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let bot = ArticleIndex::open(dir.path()).unwrap();
        let cli = ArticleIndex::open(dir.path()).unwrap();
        assert!(bot.articles().unwrap().is_empty());
        add(&cli, &article(SEED, None));
        // tantivy's watcher reloads the bot's reader when meta.json changes.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while bot.articles().unwrap().is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "the commit never showed"
            );
            std::thread::yield_now();
        }
        assert!(!bot
            .search("Which agency is exempted?", 5)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn a_writer_that_cannot_get_the_lock_in_time_says_the_index_is_busy() {
        let dir = tempfile::tempdir().unwrap();
        let first = ArticleIndex::open(dir.path()).unwrap();
        let mut second = ArticleIndex::open(dir.path()).unwrap();
        second.set_lock_wait(std::time::Duration::from_millis(200));
        let a = article(SEED, None);
        // Written, not committed yet: the first still holds the lock.
        first.upsert(&a, &vectors(&a)).unwrap();
        let b = article("Cup final\n\nArsenal won the FA Cup final.", None);
        let err = second.upsert(&b, &vectors(&b)).unwrap_err();
        assert!(matches!(err, IndexError::Busy { .. }), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("index busy: another newsqa process is writing to it"),
            "{err}"
        );
        first.commit().unwrap();
        second.upsert(&b, &vectors(&b)).unwrap();
        second.commit().unwrap();
        assert_eq!(
            ArticleIndex::open(dir.path())
                .unwrap()
                .articles()
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn reingesting_the_same_article_changes_nothing() {
        let index = ArticleIndex::in_ram().unwrap();
        let a = article(SEED, None);
        add(&index, &a);
        let passages = index.passage_count().unwrap();
        assert_eq!(add(&index, &a), Upsert::Unchanged);
        assert_eq!(index.articles().unwrap().len(), 1);
        assert_eq!(index.passage_count().unwrap(), passages);
    }

    #[test]
    fn a_changed_article_with_the_same_url_replaces_the_old_one() {
        let index = ArticleIndex::in_ram().unwrap();
        add(&index, &article(SEED, Some("https://example.com/a")));
        let b = article(
            "Cyber pause\n\nA short correction. Only two sentences.",
            Some("https://example.com/a"),
        );
        assert_eq!(add(&index, &b), Upsert::Updated);
        assert_eq!(index.articles().unwrap().len(), 1);
        assert_eq!(index.passage_count().unwrap(), 1);
        assert!(index.search("Hegseth", 5).unwrap().is_empty());
    }

    #[test]
    fn an_articles_sentences_come_back_once_each_in_order() {
        let index = ArticleIndex::in_ram().unwrap();
        let text =
            "Ferry Service Resumes\n\nThe ferry resumed on Friday. A strike had stopped it. \
                    Fares stay at 12 pounds. The operator apologised. More boats come in May. \
                    Tickets are sold online.";
        let article = article(text, None);
        let expected: Vec<String> = (0..article.sentences.len())
            .map(|i| article.sentence(i).to_owned())
            .collect();
        add(&index, &article);
        let got = index.article_sentences(&article.id).unwrap();
        assert_eq!(got, expected);
        assert!(index.article_sentences("no-such-id").unwrap().is_empty());
    }

    #[test]
    fn forgetting_removes_every_passage() {
        let index = ArticleIndex::in_ram().unwrap();
        let a = article(SEED, Some("https://example.com/a"));
        add(&index, &a);
        add(
            &index,
            &article(
                "Other news\n\nMarkets rose today. Hegseth was not involved.",
                None,
            ),
        );
        let gone = index.forget("https://example.com/a").unwrap().unwrap();
        assert_eq!(gone.id, a.id);
        assert_eq!(index.articles().unwrap().len(), 1);
        assert!(index
            .search("Hegseth exempted NSA", 10)
            .unwrap()
            .iter()
            .all(|h| h.article_id != a.id));
        assert!(index.forget("https://example.com/a").unwrap().is_none());
    }

    /// Issue 33 (13): a commit by another process is seen by the next question, not a
    /// second later.
    #[test]
    fn another_handles_commit_is_seen_as_soon_as_it_catches_up() {
        let dir = tempfile::tempdir().unwrap();
        let writer = ArticleIndex::open(dir.path()).unwrap();
        let reader = ArticleIndex::open(dir.path()).unwrap();
        assert!(reader.articles().unwrap().is_empty());
        add(&writer, &article(SEED, Some("https://example.com/a")));
        reader.catch_up().unwrap();
        assert_eq!(reader.articles().unwrap().len(), 1);
    }

    #[test]
    fn removing_by_id_never_falls_back_to_a_url_or_a_prefix() {
        let index = ArticleIndex::in_ram().unwrap();
        let update = article(SEED, Some("https://site.example/story-update"));
        add(&index, &update);
        // The id of an article forgotten earlier: a prefix of another's, and a URL.
        assert!(index
            .remove("https://site.example/story")
            .unwrap()
            .is_none());
        assert!(index.remove(&update.id[..10]).unwrap().is_none());
        assert_eq!(
            index.articles().unwrap().len(),
            1,
            "nothing else was removed"
        );
        assert_eq!(index.remove(&update.id).unwrap().unwrap().id, update.id);
        assert!(index.articles().unwrap().is_empty());
    }

    #[test]
    fn an_id_prefix_forgets_only_when_it_is_unique() {
        let index = ArticleIndex::in_ram().unwrap();
        let a = article("One\n\nFirst story here.", None);
        // Another story whose id starts like a's (found by trying; the same every run).
        let b = (0..)
            .map(|n| article(&format!("Two\n\nStory number {n}."), None))
            .find(|b| b.id[..8] == a.id[..8])
            .unwrap();
        add(&index, &a);
        add(&index, &b);
        let err = index.forget(&a.id[..8]).unwrap_err();
        assert!(
            matches!(err, IndexError::Ambiguous { matches: 2, .. }),
            "{err}"
        );
        assert_eq!(index.articles().unwrap().len(), 2);
        let gone = index.forget(&a.id[..16]).unwrap().unwrap();
        assert_eq!(gone.id, a.id);
        assert_eq!(index.articles().unwrap().len(), 1);
    }

    #[test]
    fn questions_with_operators_and_punctuation_never_fail() {
        let index = ArticleIndex::in_ram().unwrap();
        add(&index, &article(SEED, None));
        for q in [
            "\"NSA\" AND exempted: OR NOT?",
            "title:foo (bar",
            "***",
            "",
            "what?",
            "C++ && || ! ~2 ^3 [a TO b]",
        ] {
            index.search(q, 5).unwrap();
        }
        assert!(index.search("what?", 5).unwrap().is_empty());
        assert_eq!(
            index
                .query_terms("Who issued the ORDERS, AND why?")
                .unwrap(),
            vec!["issu", "order"]
        );
    }

    #[test]
    fn vectors_must_match_the_sentences() {
        let index = ArticleIndex::in_ram().unwrap();
        let a = article(SEED, None);
        let err = index.upsert(&a, &[vec![0.0]]).unwrap_err();
        assert!(matches!(err, IndexError::VectorCount { .. }));
    }

    #[test]
    fn check_finds_what_does_not_add_up() {
        let index = ArticleIndex::in_ram().unwrap();
        let a = article("Bridge opens\n\nThe mayor opened the bridge. It cost four million pounds. Traffic will start on Monday.", None);
        let b = article(
            "Tide tables\n\nThe spring tide will peak at 6.2 metres on Tuesday.",
            None,
        );
        for x in [&a, &b] {
            index.upsert(x, &vectors(x)).unwrap();
        }
        index.commit().unwrap();
        let health = index.check().unwrap();
        assert!(health.ok(), "{health:?}");
        assert_eq!(health.articles, 2);
        assert_eq!(health.passages, a.passages.len() + b.passages.len());

        // A passage left without its article, and an article left without its passages.
        let mut writer = index.index.writer::<TantivyDocument>(15_000_000).unwrap();
        writer.delete_term(Term::from_field_text(index.fields.kind, KIND_ARTICLE));
        writer.commit().unwrap();
        drop(writer);
        index.reader.reload().unwrap();
        let health = index.check().unwrap();
        assert!(!health.ok());
        assert_eq!(health.orphan_passages.len(), 2, "{health:?}");
    }
}
