use std::path::PathBuf;

/// Everything that can go wrong loading or running a model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// The model directory lacks a file the model needs.
    #[error(
        "model directory {dir}: missing {file} (see the MODEL_CARD.md beside the shipped models)"
    )]
    MissingFile { dir: PathBuf, file: String },
    /// config.json names a model type this build cannot run.
    #[error("model directory {dir}: unsupported model_type {model_type:?} in config.json")]
    UnsupportedType { dir: PathBuf, model_type: String },
    /// A config file could not be read or parsed.
    #[error("reading {path}")]
    Config {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// rust-bert failed to build or run the model.
    #[error("{model}: {source}")]
    RustBert {
        model: &'static str,
        #[source]
        source: rust_bert::RustBertError,
    },
    /// The model's weights or config are a variant the packed BERT pass does not compute.
    #[error("unsupported model: {0}")]
    Unsupported(String),
    /// The model's queue is full; try again shortly.
    #[error("the {0} is busy; try again in a moment")]
    Busy(&'static str),
    /// The model's thread has stopped (it failed to load, or the process is shutting down).
    #[error("the {0} has stopped")]
    Stopped(&'static str),
    /// The model panicked on this one request. The model thread lives on and serves the next.
    #[error("the {model} failed on this request: {message}")]
    Panicked {
        model: &'static str,
        message: String,
    },
}

/// Result type of this crate.
pub type Result<T, E = ModelError> = std::result::Result<T, E>;
