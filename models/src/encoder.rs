//! The sentence encoder: texts in, unit-length vectors out.

use std::path::PathBuf;

use rust_bert::pipelines::sentence_embeddings::{
    SentenceEmbeddingsConfig, SentenceEmbeddingsModel,
};
use tch::Device;

use crate::load::{local, require, ModelFiles};
use crate::worker::Worker;
use crate::{ModelError, Result};

/// Settings of the sentence encoder.
#[derive(Debug, Clone)]
pub struct EncoderConfig {
    /// A sentence-transformers directory (modules.json, 1_Pooling/, weights).
    pub dir: PathBuf,
    /// Requests that may wait before callers are told it is busy.
    pub queue: usize,
    /// Sentences per forward pass.
    pub batch_size: usize,
}

impl EncoderConfig {
    /// Defaults for the encoder in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        EncoderConfig {
            dir: dir.into(),
            queue: 16,
            batch_size: 32,
        }
    }
}

/// A handle to the encoder thread. Cheap to clone.
#[derive(Clone)]
pub struct Encoder {
    worker: Worker<SentenceEmbeddingsModel>,
    batch_size: usize,
}

impl Encoder {
    /// Loads the encoder from a local sentence-transformers directory on its own thread.
    pub fn load(cfg: &EncoderConfig) -> Result<Encoder> {
        let files = ModelFiles::find(&cfg.dir)?;
        let dir = cfg.dir.clone();
        let modules = require(&dir, &["modules.json"])?;
        let pooling = require(&dir.join("1_Pooling"), &["config.json"])?;
        let sbert = require(&dir, &["sentence_bert_config.json"])?;
        let tokenizer = require(&dir, &["tokenizer_config.json"])?;
        let worker = Worker::spawn("sentence encoder", cfg.queue, move || {
            let config = SentenceEmbeddingsConfig {
                modules_config_resource: Box::new(local(&modules)),
                transformer_type: files.model_type,
                transformer_config_resource: Box::new(local(&files.config)),
                transformer_weights_resource: Box::new(local(&files.weights)),
                pooling_config_resource: Box::new(local(&pooling)),
                dense_config_resource: None,
                dense_weights_resource: None,
                sentence_bert_config_resource: Box::new(local(&sbert)),
                tokenizer_config_resource: Box::new(local(&tokenizer)),
                tokenizer_vocab_resource: Box::new(local(&files.vocab)),
                tokenizer_merges_resource: files.merges.as_deref().map(|m| Box::new(local(m)) as _),
                device: Device::Cpu,
                kind: None,
            };
            tracing::info!(dir = %dir.display(), "loading sentence encoder");
            SentenceEmbeddingsModel::new(config).map_err(|source| ModelError::RustBert {
                model: "sentence encoder",
                source,
            })
        })?;
        Ok(Encoder {
            worker,
            batch_size: cfg.batch_size.max(1),
        })
    }

    /// Embeds texts into unit-length vectors, in input order. Texts are batched by length so that
    /// short sentences are not padded to the longest one. With `wait` false, a full queue gives
    /// [`ModelError::Busy`].
    pub fn embed(&self, texts: Vec<String>, wait: bool) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let batch = self.batch_size;
        self.worker.run(wait, move |model| {
            let mut order: Vec<usize> = (0..texts.len()).collect();
            order.sort_by_key(|&i| texts[i].len());
            let mut out = vec![Vec::new(); texts.len()];
            for chunk in order.chunks(batch) {
                let inputs: Vec<&str> = chunk.iter().map(|&i| texts[i].as_str()).collect();
                let vectors = model
                    .encode(&inputs)
                    .map_err(|source| ModelError::RustBert {
                        model: "sentence encoder",
                        source,
                    })?;
                for (&i, v) in chunk.iter().zip(vectors) {
                    out[i] = v;
                }
            }
            Ok(out)
        })
    }
}

/// Cosine similarity of two vectors (the dot product, for unit vectors).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}
