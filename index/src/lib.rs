//! newsqa-index: articles in, passages out.
//!
//! Owns text extraction (plain text and HTML), sentence splitting with offsets,
//! passage windows, stable article ids and dedup, and the tantivy index with
//! BM25 search. It stores the sentence vectors it is given but knows nothing of
//! the models that make them, nor of Discord.

mod article;
mod date;
mod error;
pub mod extract;
pub mod sentences;
mod store;

pub use article::{
    canonical_url, passage_windows, text_id, Article, Metadata, Origin, PassageConfig,
};
pub use date::{is_calendar_word, Date};
pub use error::{IndexError, Result};
pub use extract::ARTICLE_EXTENSIONS;
pub use store::{
    ArticleIndex, ArticleInfo, Casing, Health, PassageCount, PassageHit, SentenceHit, Upsert,
};
