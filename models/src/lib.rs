//! newsqa-models: the local models, each on a thread of its own.
//!
//! Owns loading a rust-bert extractive QA reader and a sentence encoder from
//! local directories (no downloads), and running them behind bounded queues:
//! rust-bert models are not `Sync`, so each lives on one dedicated thread and
//! callers wait on a reply channel. A full queue is reported as
//! [`ModelError::Busy`] rather than blocking forever. It knows nothing of
//! tantivy or Discord.

mod bert;
mod error;
mod load;
mod worker;

pub mod encoder;
pub mod reader;

pub use encoder::{cosine, Encoder, EncoderConfig};
pub use error::{ModelError, Result};
pub use reader::{Reader, ReaderConfig, Span};

/// Sets the number of threads libtorch uses for one operation (shared by both models).
pub fn set_threads(threads: usize) {
    if threads > 0 {
        tch::set_num_threads(threads as i32);
    }
}
