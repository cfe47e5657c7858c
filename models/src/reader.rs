//! The extractive QA reader: question and short contexts in, scored answer spans out.
//!
//! rust-bert's `QuestionAnsweringModel::predict` is not used, for three reasons, each
//! measured on SQuAD (see BENCHMARKS.md):
//! - it scores spans by a softmax within each context, so a span from one context cannot
//!   be compared with a span from another; newsqa reads several short contexts and needs
//!   scores that compare, so this reader returns raw start+end logits;
//! - for BERT it runs the model without token type ids, which BERT QA models are usually
//!   trained with (question = 0, context = 1); here that is a setting;
//! - it tokenises the question again for every context; here it is tokenised once;
//! - it pads every context of a batch to the longest and computes the padding too; a BERT
//!   reader here is run by the packed forward pass of `bert.rs` over rust-bert's weights,
//!   which computes the same logits (a test checks it) on the real tokens only.

use std::path::PathBuf;

use rust_bert::bert::BertForQuestionAnswering;
use rust_bert::pipelines::common::{ModelResource, ModelType, TokenizerOption};
use rust_bert::pipelines::question_answering::{QuestionAnsweringConfig, QuestionAnsweringOption};
use rust_tokenizers::TokenIdsWithOffsets;
use tch::{Device, Kind, Tensor};

use crate::bert::{load_weights, Bert, BertShape, Verifier};
use crate::load::{local, ModelFiles};
use crate::precision::Precision;
use crate::worker::Worker;
use crate::{ModelError, Result};

/// The answer verifier's file in the reader's directory (optional).
pub const VERIFIER_FILE: &str = "verifier.safetensors";

/// Settings of the reader.
#[derive(Debug, Clone)]
pub struct ReaderConfig {
    /// Directory with config.json, vocab and weights.
    pub dir: PathBuf,
    /// Requests that may wait for the reader, or run, before callers that will not wait are
    /// told it is busy.
    pub queue: usize,
    /// Callers that will not wait are told "busy" when the requests ahead are expected to
    /// take longer than this (from the measured time per request); `None`: the queue alone.
    pub max_wait: Option<std::time::Duration>,
    /// Longest answer, in tokens.
    pub max_answer_tokens: usize,
    /// Longest input (question + context), in tokens; longer contexts are cut.
    pub max_seq_len: usize,
    /// Longest question, in tokens.
    pub max_question_tokens: usize,
    /// Give BERT token type ids (question 0, context 1), as the shipped reader was trained.
    /// rust-bert's own QA pipeline does not.
    pub token_types: bool,
    /// What the packed pass's layers compute in ([`Precision`]); rust-bert's pipeline, for
    /// models the packed pass does not run, computes in float32.
    pub precision: Precision,
}

impl ReaderConfig {
    /// Defaults for the reader in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        ReaderConfig {
            dir: dir.into(),
            queue: 16,
            max_wait: None,
            max_answer_tokens: 30,
            max_seq_len: 384,
            max_question_tokens: 64,
            token_types: true,
            precision: Precision::Auto,
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
    /// Start logit plus end logit: comparable across contexts and questions.
    pub score: f64,
    /// The context's no-answer score: the start plus end logit of the first token ([CLS]),
    /// where a reader trained with unanswerable examples points when the context holds no
    /// answer. The same for every span of one context; only meaningful for such a reader.
    pub no_answer: f64,
    /// The answer verifier's logit that the context answers the question (the same for
    /// every span of one context); 0 when the reader's directory has no verifier.
    pub verifier: f64,
}

enum Model {
    /// BERT: rust-bert's weights, run by the packed forward pass (no compute on padding).
    Bert {
        encoder: Bert,
        /// The span head: `[2, hidden]` weight and `[2]` bias (start, end).
        head: (Tensor, Tensor),
        /// The answer verifier, when the directory has `verifier.safetensors`.
        verifier: Option<Box<Verifier>>,
    },
    /// Any other architecture rust-bert supports for QA.
    Other(Box<QuestionAnsweringOption>),
}

struct Loaded {
    model: Model,
    tokenizer: TokenizerOption,
    pad: i64,
    sep: i64,
    /// Special tokens around a single sequence ([CLS] q [SEP] for BERT).
    added_single: usize,
    cfg: ReaderConfig,
}

/// A handle to the QA reader on the model thread. Cheap to clone.
#[derive(Clone)]
pub struct Reader {
    worker: Worker<Loaded>,
}

impl Reader {
    /// Loads the reader from a local directory onto the model thread ([`crate::worker`]).
    pub fn load(cfg: &ReaderConfig) -> Result<Reader> {
        let files = ModelFiles::find(&cfg.dir)?;
        let max_wait = cfg.max_wait;
        let cfg = cfg.clone();
        let worker = Worker::spawn("QA reader", cfg.queue, move || {
            tracing::info!(dir = %files.dir.display(), model_type = ?files.model_type, "loading QA reader");
            let err = |source| ModelError::RustBert {
                model: "QA reader",
                source,
            };
            let tokenizer = TokenizerOption::from_file(
                files.model_type,
                &files.vocab.to_string_lossy(),
                files
                    .merges
                    .as_deref()
                    .map(|m| m.to_string_lossy())
                    .as_deref(),
                files.lower_case,
                None,
                None,
            )
            .map_err(err)?;
            let model = if files.model_type == ModelType::Bert {
                let vars = load_weights(&files.config, &files.weights, |root, config| {
                    BertForQuestionAnswering::new(root, config);
                })
                .map_err(err)?;
                let head = |name: &str| {
                    vars.get(name)
                        .map(Tensor::shallow_clone)
                        .ok_or_else(|| ModelError::Unsupported(format!("no weight named {name}")))
                };
                let encoder = Bert::new(&vars, "bert.", &BertShape::read(&files.config)?)?
                    .in_kind(cfg.precision.kind());
                let verifier = files.dir.join(VERIFIER_FILE);
                let verifier = if verifier.exists() {
                    tracing::info!(path = %verifier.display(), "loading the answer verifier");
                    Some(Box::new(Verifier::load(&verifier)?))
                } else {
                    None
                };
                Model::Bert {
                    encoder,
                    head: (head("qa_outputs.weight")?, head("qa_outputs.bias")?),
                    verifier,
                }
            } else {
                let mut qa = QuestionAnsweringConfig::new(
                    files.model_type,
                    ModelResource::Torch(Box::new(local(&files.weights))),
                    local(&files.config),
                    local(&files.vocab),
                    files.merges.as_deref().map(local),
                    files.lower_case,
                    None,
                    None,
                );
                qa.device = Device::Cpu;
                Model::Other(Box::new(QuestionAnsweringOption::new(&qa).map_err(err)?))
            };
            let pad = tokenizer.get_pad_id().unwrap_or(0);
            let sep = tokenizer.get_sep_id().unwrap_or(-1);
            let added_single = tokenizer
                .build_input_with_special_tokens(empty(), None)
                .token_ids
                .len();
            Ok(Loaded {
                model,
                tokenizer,
                pad,
                sep,
                added_single,
                cfg,
            })
        })?
        .with_max_wait(max_wait);
        Ok(Reader { worker })
    }

    /// This handle's jobs are `tenant`'s: the model thread serves tenants in turn
    /// ([`crate::worker`]).
    pub fn for_tenant(&self, tenant: crate::Tenant) -> Reader {
        Reader {
            worker: self.worker.for_tenant(tenant),
        }
    }

    /// The thread the reader runs on.
    #[cfg(test)]
    pub(crate) fn thread(&self) -> Result<std::thread::ThreadId> {
        self.worker.run(true, |_| Ok(std::thread::current().id()))
    }

    /// Reads every context in one batched forward pass and returns the best `top_k` spans of
    /// each, best first. With `wait` false, a full queue gives [`ModelError::Busy`].
    pub fn read(
        &self,
        question: &str,
        contexts: Vec<String>,
        top_k: usize,
        wait: bool,
    ) -> Result<Vec<Vec<Span>>> {
        if contexts.is_empty() {
            return Ok(Vec::new());
        }
        let question = question.to_owned();
        self.worker.run(wait, move |m| {
            Ok(m.read(&question, &contexts, top_k.max(1)))
        })
    }
}

fn empty() -> TokenIdsWithOffsets {
    TokenIdsWithOffsets {
        ids: vec![],
        offsets: vec![],
        reference_offsets: vec![],
        masks: vec![],
    }
}

/// One encoded question + context pair.
struct Feature {
    ids: Vec<i64>,
    types: Vec<i64>,
    /// Char offsets into the context for context tokens, None elsewhere.
    offsets: Vec<Option<(usize, usize)>>,
}

impl Loaded {
    fn encode(&self, text: &str, max: usize) -> TokenIdsWithOffsets {
        let mut t = self.tokenizer.tokenize_with_offsets(text);
        t.tokens.truncate(max);
        t.offsets.truncate(max);
        t.reference_offsets.truncate(max);
        t.masks.truncate(max);
        TokenIdsWithOffsets {
            ids: self.tokenizer.convert_tokens_to_ids(&t.tokens),
            offsets: t.offsets,
            reference_offsets: t.reference_offsets,
            masks: t.masks,
        }
    }

    fn read(&self, question: &str, contexts: &[String], top_k: usize) -> Vec<Vec<Span>> {
        let q = self.encode(question, self.cfg.max_question_tokens);
        let question_len = q.ids.len() + self.added_single;
        let room = self
            .cfg
            .max_seq_len
            .saturating_sub(question_len + 2)
            .max(16);
        let features: Vec<Feature> = contexts
            .iter()
            .map(|c| {
                let input = self
                    .tokenizer
                    .build_input_with_special_tokens(q.clone(), Some(self.encode(c, room)));
                let offsets = input
                    .token_offsets
                    .iter()
                    .enumerate()
                    .map(|(i, o)| {
                        let in_context = i >= question_len && input.token_ids[i] != self.sep;
                        o.filter(|_| in_context)
                            .map(|o| (o.begin as usize, o.end as usize))
                    })
                    .collect();
                Feature {
                    types: input.segment_ids.iter().map(|&s| i64::from(s)).collect(),
                    ids: input.token_ids,
                    offsets,
                }
            })
            .collect();
        let (start, end, verified) = self.logits(&features);
        features
            .iter()
            .enumerate()
            .map(|(i, f)| {
                // A forward pass that returned fewer rows than features scores them as nothing.
                let s = start.get(i).map(Vec::as_slice).unwrap_or(&[]);
                let e = end.get(i).map(Vec::as_slice).unwrap_or(&[]);
                let max_len = self.cfg.max_answer_tokens;
                let mut spans = best_spans(i, f, &contexts[i], s, e, top_k, max_len);
                let verifier = verified.get(i).copied().map_or(0.0, f64::from);
                for span in &mut spans {
                    span.verifier = verifier;
                }
                spans
            })
            .collect()
    }

    /// Start and end logits of every feature, from one batched forward pass, and the
    /// verifier's logit of each (empty without a verifier).
    fn logits(&self, features: &[Feature]) -> (Vec<Vec<f32>>, Vec<Vec<f32>>, Vec<f32>) {
        match &self.model {
            Model::Bert {
                encoder,
                head,
                verifier,
            } => {
                let ids: Vec<Vec<i64>> = features.iter().map(|f| f.ids.clone()).collect();
                let types: Vec<Vec<i64>> = features.iter().map(|f| f.types.clone()).collect();
                let types = self.cfg.token_types.then_some(types.as_slice());
                let (packed, verified) =
                    tch::no_grad(|| encoder.forward_verified(&ids, types, verifier.as_deref()));
                let verified = verified
                    .map(|v| Vec::<f32>::try_from(v.contiguous()).unwrap_or_default())
                    .unwrap_or_default();
                let logits = packed.states.linear(&head.0, Some(&head.1));
                // [tokens, 2] row-major: start, end, start, end, ...
                let flat = Vec::<f32>::try_from(logits.contiguous().view(-1)).unwrap_or_default();
                let row = |i: usize, k: usize| {
                    (packed.starts[i]..packed.starts[i + 1])
                        .map(|t| flat.get(2 * t + k).copied().unwrap_or(f32::MIN))
                        .collect()
                };
                let (start, end) = (0..features.len()).map(|i| (row(i, 0), row(i, 1))).unzip();
                (start, end, verified)
            }
            Model::Other(m) => {
                let len = features.iter().map(|f| f.ids.len()).max().unwrap_or(0);
                let pad = |v: &[i64], with: i64| {
                    let mut v = v.to_vec();
                    v.resize(len, with);
                    Tensor::from_slice(&v)
                };
                let stack = |rows: Vec<Tensor>| Tensor::stack(&rows, 0);
                let ids = stack(features.iter().map(|f| pad(&f.ids, self.pad)).collect());
                let types = stack(features.iter().map(|f| pad(&f.types, 0)).collect());
                let mask = stack(
                    features
                        .iter()
                        .map(|f| pad(&vec![1; f.ids.len()], 0))
                        .collect(),
                );
                let (start, end) = tch::no_grad(|| {
                    m.forward_t(Some(&ids), Some(&mask), None, Some(&types), false)
                });
                let to_vec = |t: Tensor| -> Vec<Vec<f32>> {
                    Vec::<Vec<f32>>::try_from(t.to_kind(Kind::Float)).unwrap_or_default()
                };
                (to_vec(start), to_vec(end), Vec::new())
            }
        }
    }
}

/// The `top_k` highest start+end logit spans of one feature, at most `max_answer_tokens` long.
#[allow(clippy::too_many_arguments)]
fn best_spans(
    context_index: usize,
    f: &Feature,
    context: &str,
    start: &[f32],
    end: &[f32],
    top_k: usize,
    max_answer_tokens: usize,
) -> Vec<Span> {
    let max_len = max_answer_tokens.max(1);
    let mut scored: Vec<(f32, usize, usize)> = Vec::new();
    // Only tokens with a logit on both sides: a short logit row never indexes past its end.
    let logits = f.offsets.len().min(start.len()).min(end.len());
    let in_context: Vec<usize> = (0..logits).filter(|&i| f.offsets[i].is_some()).collect();
    for (k, &s) in in_context.iter().enumerate() {
        for &e in in_context[k..].iter().take_while(|&&e| e < s + max_len) {
            scored.push((start[s] + end[e], s, e));
        }
    }
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let char_count = context.chars().count();
    let no_answer =
        f64::from(start.first().copied().unwrap_or(0.0) + end.first().copied().unwrap_or(0.0));
    let mut out: Vec<Span> = Vec::with_capacity(top_k);
    for (score, s, e) in scored {
        if out.len() >= top_k {
            break;
        }
        let (begin, _) = f.offsets[s].expect("context token");
        let (_, finish) = f.offsets[e].expect("context token");
        let finish = finish.min(char_count);
        if finish <= begin || out.iter().any(|o| o.start == begin && o.end == finish) {
            continue;
        }
        let text: String = context.chars().skip(begin).take(finish - begin).collect();
        if text.trim().is_empty() {
            continue;
        }
        out.push(Span {
            context: context_index,
            start: begin,
            end: finish,
            text,
            score: f64::from(score),
            no_answer,
            verifier: 0.0,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feature(context: &str) -> Feature {
        // [CLS] q [SEP] then one token per word of the context, [SEP].
        let mut offsets = vec![None, None, None];
        let mut at = 0;
        for w in context.split(' ') {
            offsets.push(Some((at, at + w.chars().count())));
            at += w.chars().count() + 1;
        }
        offsets.push(None);
        Feature {
            ids: vec![0; offsets.len()],
            types: vec![0; offsets.len()],
            offsets,
        }
    }

    #[test]
    fn spans_come_from_the_best_logits() {
        let context = "the NSA was exempted";
        let f = feature(context);
        let start = [5.0, 0.0, 0.0, 1.0, 4.0, 0.0, 0.0, 0.0];
        let end = [5.0, 0.0, 0.0, 0.0, 4.0, 0.0, 0.0, 0.0];
        let spans = best_spans(0, &f, context, &start, &end, 2, 30);
        assert_eq!(spans[0].text, "NSA");
        assert_eq!(spans[0].score, 8.0);
        assert_eq!(spans[0].no_answer, 10.0);
        assert_eq!(spans[1].text, "the NSA");
    }

    #[test]
    fn short_or_missing_logit_rows_give_fewer_spans_not_a_panic() {
        let context = "the NSA was exempted";
        let f = feature(context);
        // Rows shorter than the feature: only tokens with both logits are read.
        let spans = best_spans(0, &f, context, &[0.0, 0.0, 0.0, 1.0, 3.0], &[0.0; 4], 3, 30);
        assert!(spans.iter().all(|s| s.text == "the"), "{spans:?}");
        assert!(best_spans(0, &f, context, &[], &[], 3, 30).is_empty());
        // Offsets past the context's end (odd tokenizer output) are clipped or skipped.
        let mut odd = feature(context);
        odd.offsets[6] = Some((40, 44));
        let spans = best_spans(0, &odd, context, &[0.0; 8], &[0.0; 8], 10, 30);
        assert!(spans.iter().all(|s| s.end <= context.chars().count()));
    }
}
