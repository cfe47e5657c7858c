//! newsqa-models: the local models, on one thread that they share.
//!
//! Owns loading a rust-bert extractive QA reader and a sentence encoder from
//! local directories (no downloads), and running them behind bounded queues:
//! rust-bert models are not `Sync`, so both live on one dedicated thread (the
//! lane, `worker.rs`, which says why one and not one each), whose jobs are served
//! tenant by tenant, and callers wait on a reply channel. A full queue is reported as
//! [`ModelError::Busy`] rather than blocking forever. It knows nothing of
//! tantivy or Discord.

mod bert;
mod error;
mod load;
mod precision;
mod worker;

pub mod encoder;
pub mod reader;

pub use encoder::{cosine, Encoder, EncoderConfig};
pub use error::{ModelError, Result};
pub use precision::{bound_onednn_caches, Precision};
pub use reader::{Reader, ReaderConfig, Span, VERIFIER_FILE};
pub use worker::Tenant;

/// Sets the number of threads libtorch uses for one operation, on the thread that runs every
/// model (libtorch's setting holds for the thread that makes it).
pub fn set_threads(threads: usize) -> Result<()> {
    if threads > 0 {
        worker::Lane::shared()?.run(move || tch::set_num_threads(threads as i32))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reader_and_the_encoder_run_on_one_thread() {
        let dir = env!("CARGO_MANIFEST_DIR");
        let reader = Reader::load(&ReaderConfig::new(format!("{dir}/minilm-squad"))).unwrap();
        let encoder =
            Encoder::load(&EncoderConfig::new(format!("{dir}/all-minilm-l6-v2"))).unwrap();
        let thread = reader.thread().unwrap();
        assert_eq!(encoder.thread().unwrap(), thread);
        assert_ne!(thread, std::thread::current().id());
        // ...and the thread count is set where the models run, not where it is called.
        let lane = worker::Lane::shared().unwrap();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        set_threads(1).unwrap();
        assert_eq!(lane.run(tch::get_num_threads).unwrap(), 1);
        set_threads(cores).unwrap();
        assert_eq!(lane.run(tch::get_num_threads).unwrap(), cores as i32);
    }
}
