use std::path::PathBuf;

/// Everything that can go wrong between a file on disk and a passage in the index.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IndexError {
    /// The input held no text once decoded and cleaned.
    #[error("{name}: no article text found (the input is empty or only whitespace/markup)")]
    Empty { name: String },
    /// The input looks like a binary file (NUL bytes or mostly control characters).
    #[error("{name}: looks like a binary file, not text or HTML")]
    Binary { name: String },
    /// The input is a document format newsqa does not read (a PDF, say).
    #[error(
        "{name}: is {kind}, which newsqa cannot read; save its text as a .txt file and ingest that"
    )]
    Unreadable {
        name: String,
        /// What it is ("a PDF").
        kind: &'static str,
    },
    /// The text has no sentence of prose: a page of links or headings, not an article.
    #[error("{name}: no article text: it has no sentence of prose, only {words} words of links, headings or labels ({sample:?})")]
    NoProse {
        name: String,
        words: usize,
        /// Its first words.
        sample: String,
    },
    /// The input is larger than the configured cap.
    #[error(
        "{name}: {size} bytes is over the ingest size cap of {cap} bytes (see [ingest] max_bytes)"
    )]
    TooLarge { name: String, size: u64, cap: u64 },
    /// Reading a file failed.
    #[error("reading {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The index directory could not be created.
    #[error("creating the index directory {path}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The sentence vectors handed to `upsert` do not match the article's sentences.
    #[error("article {id}: {got} sentence vectors for {want} sentences")]
    VectorCount { id: String, got: usize, want: usize },
    /// An id prefix matches more than one article.
    #[error("{key:?} matches {matches} articles; give more of the id, or the URL")]
    Ambiguous { key: String, matches: usize },
    /// An error from tantivy.
    #[error("index error: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    /// The index directory holds an index that newsqa cannot open.
    #[error("opening the index at {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: tantivy::TantivyError,
    },
    /// Another process (or handle) held the index's writer lock for longer than the wait.
    #[error(
        "index busy: another newsqa process is writing to it ({path}); waited {waited_secs} s, try again when it is done"
    )]
    Busy { path: String, waited_secs: u64 },
    /// A stored document could not be decoded (written by another version?).
    #[error("corrupt stored document: {0}")]
    Corrupt(String),
}

/// Result type of this crate.
pub type Result<T, E = IndexError> = std::result::Result<T, E>;
