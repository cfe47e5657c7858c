//! The extractive QA reader: question and short contexts in, scored answer spans out.

use std::path::PathBuf;

use rust_bert::pipelines::common::ModelResource;
use rust_bert::pipelines::question_answering::{
    QaInput, QuestionAnsweringConfig, QuestionAnsweringModel,
};
use tch::Device;

use crate::load::{local, ModelFiles};
use crate::worker::Worker;
use crate::{ModelError, Result};

/// Settings of the reader.
#[derive(Debug, Clone)]
pub struct ReaderConfig {
    /// Directory with config.json, vocab and weights.
    pub dir: PathBuf,
    /// Requests that may wait for the reader before callers are told it is busy.
    pub queue: usize,
    /// Longest answer, in tokens.
    pub max_answer_tokens: usize,
    /// Longest input (question + context), in tokens; longer contexts are read in strides.
    pub max_seq_len: usize,
    /// Contexts per forward pass.
    pub batch_size: usize,
}

impl ReaderConfig {
    /// Defaults for the reader in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        ReaderConfig {
            dir: dir.into(),
            queue: 16,
            max_answer_tokens: 30,
            max_seq_len: 256,
            batch_size: 16,
        }
    }
}

/// An answer span found by the reader.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    /// Index of the context it came from.
    pub context: usize,
    /// Start, in characters of the context.
    pub start: usize,
    /// End (exclusive), in characters of the context.
    pub end: usize,
    /// The span text.
    pub text: String,
    /// The reader's score: start probability times end probability, within its context.
    pub score: f64,
}

/// A handle to the QA reader thread. Cheap to clone.
#[derive(Clone)]
pub struct Reader {
    worker: Worker<QuestionAnsweringModel>,
}

impl Reader {
    /// Loads the reader from a local directory on its own thread.
    pub fn load(cfg: &ReaderConfig) -> Result<Reader> {
        let files = ModelFiles::find(&cfg.dir)?;
        let cfg = cfg.clone();
        let worker = Worker::spawn("QA reader", cfg.queue, move || {
            let mut qa = QuestionAnsweringConfig::custom_new(
                files.model_type,
                ModelResource::Torch(Box::new(local(&files.weights))),
                local(&files.config),
                local(&files.vocab),
                files.merges.as_deref().map(local),
                files.lower_case,
                None,
                None,
                cfg.max_seq_len,
                (cfg.max_seq_len / 2).min(128),
                64,
                cfg.max_answer_tokens,
            );
            qa.device = Device::Cpu;
            tracing::info!(dir = %files.dir.display(), model_type = ?files.model_type, "loading QA reader");
            QuestionAnsweringModel::new(qa).map_err(|source| ModelError::RustBert {
                model: "QA reader",
                source,
            })
        })?;
        Ok(Reader { worker })
    }

    /// Reads every context in one batched call and returns the best `top_k` spans of each.
    /// With `wait` false, a full queue gives [`ModelError::Busy`].
    pub fn read(
        &self,
        question: &str,
        contexts: Vec<String>,
        top_k: usize,
        batch_size: usize,
        wait: bool,
    ) -> Result<Vec<Vec<Span>>> {
        if contexts.is_empty() {
            return Ok(Vec::new());
        }
        let question = question.to_owned();
        self.worker.run(wait, move |model| {
            let inputs: Vec<QaInput> = contexts
                .into_iter()
                .map(|context| QaInput {
                    question: question.clone(),
                    context,
                })
                .collect();
            let answers = model.predict(&inputs, top_k.max(1) as i64, batch_size.max(1));
            Ok(answers
                .into_iter()
                .enumerate()
                .map(|(context, spans)| {
                    spans
                        .into_iter()
                        .filter(|a| a.end > a.start && !a.answer.trim().is_empty())
                        .map(|a| Span {
                            context,
                            start: a.start,
                            end: a.end,
                            text: a.answer,
                            score: a.score,
                        })
                        .collect()
                })
                .collect())
        })
    }
}
