//! newsqa: answers questions about news articles with a cited sentence.
//!
//! This crate is the engine that joins the index (`newsqa-index`) and the models
//! (`newsqa-models`), the configuration, and the evaluation; `main.rs` is the CLI.

pub mod answerable;
pub mod config;
pub mod engine;
pub mod eval;
pub mod feeds;
pub mod files;
pub mod guilds;
pub mod holders;
pub mod ingest;
pub mod library;
pub mod question;
pub mod state;
pub mod watch;
pub mod web;

pub use answerable::Abstention;
pub use config::Config;
pub use engine::{Candidate, Engine, Ingested, Models, Reply, Retriever, Stages, ABSTAIN_MESSAGE};
pub use library::Library;
