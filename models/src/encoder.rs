//! The sentence encoder: texts in, unit-length vectors out.

use std::path::{Path, PathBuf};

use rust_bert::bert::{BertEmbeddings, BertModel};
use rust_bert::pipelines::common::{ModelType, TokenizerOption};
use rust_bert::pipelines::sentence_embeddings::{
    SentenceEmbeddingsConfig, SentenceEmbeddingsModel,
};
use rust_tokenizers::tokenizer::TruncationStrategy;
use tch::{Device, Kind, Tensor};

use crate::bert::{load_weights, Bert, BertShape};
use crate::load::{local, read_json, require, ModelFiles};
use crate::precision::Precision;
use crate::worker::Worker;
use crate::{ModelError, Result};

/// Settings of the sentence encoder.
#[derive(Debug, Clone)]
pub struct EncoderConfig {
    /// A sentence-transformers directory (modules.json, 1_Pooling/, weights).
    pub dir: PathBuf,
    /// Requests that may wait, or run, before callers that will not wait are told it is busy.
    pub queue: usize,
    /// As [`crate::ReaderConfig::max_wait`].
    pub max_wait: Option<std::time::Duration>,
    /// Sentences per forward pass; fewer when they are long, as a batch holds at most
    /// `batch_size * 32` tokens.
    pub batch_size: usize,
    /// What the packed pass's layers compute in ([`Precision`]); rust-bert's pipeline, for
    /// models the packed pass does not run, computes in float32.
    pub precision: Precision,
    /// Most sentences one job on the model thread embeds: a long article is embedded in jobs
    /// of this many, so that questions (every server's) take their turn between them instead
    /// of waiting for the whole article. 0: the whole call is one job.
    pub job_sentences: usize,
}

impl EncoderConfig {
    /// Defaults for the encoder in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        EncoderConfig {
            dir: dir.into(),
            queue: 16,
            max_wait: None,
            batch_size: 32,
            precision: Precision::Auto,
            job_sentences: 64,
        }
    }
}

/// A handle to the sentence encoder on the model thread. Cheap to clone.
#[derive(Clone)]
pub struct Encoder {
    worker: Worker<Model>,
    batch_size: usize,
    job_sentences: usize,
}

enum Model {
    /// A BERT encoder with mean pooling (and normalisation), like the shipped one.
    Packed(Box<PackedEncoder>),
    /// Any other sentence-transformers model rust-bert supports, run by its own pipeline.
    Pipeline(Box<SentenceEmbeddingsModel>),
}

/// rust-bert's weights and tokenizer, run by the packed forward pass.
struct PackedEncoder {
    bert: Bert,
    tokenizer: TokenizerOption,
    max_len: usize,
}

impl Model {
    /// Embeds `texts` in input order, `batch` at a time, texts of about the same length
    /// together. When there is more than one batch, the heap's free memory is handed back
    /// after each.
    fn embed(&self, texts: &[String], batch: usize) -> Result<Vec<Vec<f32>>> {
        match self {
            Model::Packed(m) => m.embed(texts, batch),
            Model::Pipeline(m) => {
                let mut order: Vec<usize> = (0..texts.len()).collect();
                order.sort_by_key(|&i| texts[i].len());
                let chunks: Vec<&[usize]> = order.chunks(batch).collect();
                let done = each_batch(&chunks, 0, 1, |chunk| {
                    let inputs: Vec<&str> = chunk.iter().map(|&i| texts[i].as_str()).collect();
                    m.encode(&inputs).map_err(|source| ModelError::RustBert {
                        model: "sentence encoder",
                        source,
                    })
                })?;
                Ok(in_place(texts.len(), [done]))
            }
        }
    }
}

/// Embeds every `step`-th of `chunks` (each a batch of text indices) from the `first`,
/// handing the heap's free memory back after each when there is more than one batch in all.
/// Each vector comes with its text's index.
fn each_batch(
    chunks: &[&[usize]],
    first: usize,
    step: usize,
    mut encode: impl FnMut(&[usize]) -> Result<Vec<Vec<f32>>>,
) -> Result<Vec<(usize, Vec<f32>)>> {
    let mut done = Vec::new();
    for chunk in chunks.iter().skip(first).step_by(step) {
        done.extend(chunk.iter().copied().zip(encode(chunk)?));
        if chunks.len() > 1 {
            release_free_memory();
        }
    }
    Ok(done)
}

/// `n` vectors, each put at its text's index.
fn in_place(n: usize, done: impl IntoIterator<Item = Vec<(usize, Vec<f32>)>>) -> Vec<Vec<f32>> {
    let mut out = vec![Vec::new(); n];
    for (i, v) in done.into_iter().flatten() {
        out[i] = v;
    }
    out
}

impl PackedEncoder {
    /// Token ids of each text, truncated to the model's length.
    fn tokenize(&self, texts: &[String]) -> Vec<Vec<i64>> {
        self.tokenizer
            .encode_list(texts, self.max_len, &TruncationStrategy::LongestFirst, 0)
            .into_iter()
            .map(|t| t.token_ids)
            .collect()
    }

    /// Sorted by token count, most batches hold texts of one length, which the forward pass
    /// runs without padding, and so without scattering them into a padded layout and back.
    ///
    /// The batches are shared among as many streams as libtorch has threads here, each on a
    /// thread of its own running one libtorch thread: a batch's matrices are too small to be
    /// worth splitting, and threads that share each operation wait on each other at its end.
    fn embed(&self, texts: &[String], batch: usize) -> Result<Vec<Vec<f32>>> {
        let ids = self.tokenize(texts);
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by_key(|&i| ids[i].len());
        let chunks = batches(&order, &ids, batch);
        let streams = (tch::get_num_threads().max(1) as usize)
            .min(chunks.len())
            .max(1);
        // Stream `s` embeds every `streams`-th batch from the `s`-th.
        let run = |stream: usize, bert: &Bert| {
            each_batch(&chunks, stream, streams, |chunk| {
                Ok(pool(bert, &ids, chunk))
            })
        };
        if streams == 1 {
            return Ok(in_place(ids.len(), [run(0, &self.bert)?]));
        }
        let _one = OneThread::here();
        std::thread::scope(|scope| {
            let helpers: Vec<_> = (1..streams)
                .map(|s| {
                    let bert = self.bert.shallow_clone();
                    scope.spawn(move || {
                        let _one = OneThread::here();
                        run(s, &bert)
                    })
                })
                .collect();
            let mut done = vec![run(0, &self.bert)?];
            for helper in helpers {
                done.push(
                    helper
                        .join()
                        .unwrap_or_else(|p| std::panic::resume_unwind(p))?,
                );
            }
            Ok(in_place(ids.len(), done))
        })
    }
}

/// Tokens a batch of `batch` texts may hold, on average, per text: the shipped encoder's
/// sentences average about 27 tokens, so most batches are `batch` texts, while a batch of
/// long texts holds fewer of them and its activations stay as small.
const TOKENS_PER_TEXT: usize = 32;

/// `order` cut into batches of at most `batch` texts and `batch * TOKENS_PER_TEXT` tokens
/// (and at least one text).
fn batches<'a>(order: &'a [usize], ids: &[Vec<i64>], batch: usize) -> Vec<&'a [usize]> {
    let budget = batch * TOKENS_PER_TEXT;
    let mut out = Vec::new();
    let mut rest = order;
    while !rest.is_empty() {
        let mut tokens = 0;
        let n = rest
            .iter()
            .take(batch)
            .take_while(|&&i| {
                tokens += ids[i].len();
                tokens <= budget
            })
            .count()
            .max(1);
        let (head, tail) = rest.split_at(n);
        out.push(head);
        rest = tail;
    }
    out
}

/// libtorch set to one thread on this thread, until dropped.
struct OneThread(i32);

impl OneThread {
    fn here() -> OneThread {
        let before = tch::get_num_threads();
        tch::set_num_threads(1);
        OneThread(before)
    }
}

impl Drop for OneThread {
    fn drop(&mut self) {
        tch::set_num_threads(self.0);
    }
}

/// Unit-length mean of the last hidden states of the sequences `chunk` picks from `ids`, as
/// sentence-transformers pools.
fn pool(bert: &Bert, ids: &[Vec<i64>], chunk: &[usize]) -> Vec<Vec<f32>> {
    let ids: Vec<&[i64]> = chunk.iter().map(|&i| ids[i].as_slice()).collect();
    let packed = tch::no_grad(|| bert.forward(&ids, None));
    let segments: Vec<i64> = (0..ids.len())
        .flat_map(|i| std::iter::repeat_n(i as i64, packed.starts[i + 1] - packed.starts[i]))
        .collect();
    let lengths: Vec<f32> = ids.iter().map(|t| t.len().max(1) as f32).collect();
    let hidden = packed.states.size()[1];
    let sums = Tensor::zeros([ids.len() as i64, hidden], (Kind::Float, Device::Cpu)).index_add(
        0,
        &Tensor::from_slice(&segments),
        &packed.states,
    );
    let mean = sums / Tensor::from_slice(&lengths).unsqueeze(1);
    let norm = mean.norm_scalaropt_dim(2, [1], true).clamp_min(1e-12);
    Vec::<Vec<f32>>::try_from(mean / norm).expect("a float matrix converts to rows")
}

/// Loads the encoder in `dir`: by the packed pass in `precision` when `packed` and the model
/// allows it, else by rust-bert's sentence embeddings pipeline.
fn load_model(dir: &Path, packed: bool, precision: Precision) -> Result<Model> {
    let files = ModelFiles::find(dir)?;
    let modules = require(dir, &["modules.json"])?;
    let pooling = require(&dir.join("1_Pooling"), &["config.json"])?;
    let sbert = require(dir, &["sentence_bert_config.json"])?;
    let tokenizer = require(dir, &["tokenizer_config.json"])?;
    if packed && is_plain_bert(files.model_type, &modules, &pooling)? {
        return load_packed(&files, &sbert, &tokenizer, precision);
    }
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
    SentenceEmbeddingsModel::new(config)
        .map(|m| Model::Pipeline(Box::new(m)))
        .map_err(|source| ModelError::RustBert {
            model: "sentence encoder",
            source,
        })
}

/// True when the model is a BERT encoder that the packed pass computes exactly: a transformer,
/// mean pooling and at most a normalisation, nothing else (no dense layer).
fn is_plain_bert(model_type: ModelType, modules: &Path, pooling: &Path) -> Result<bool> {
    if model_type != ModelType::Bert {
        return Ok(false);
    }
    let modules = read_json(modules)?;
    let plain_modules = modules.as_array().is_some_and(|m| {
        m.iter().all(|m| {
            let kind = m.get("type").and_then(|t| t.as_str()).unwrap_or("");
            kind.ends_with(".Transformer")
                || kind.ends_with(".Pooling")
                || kind.ends_with(".Normalize")
        })
    });
    let pooling = read_json(pooling)?;
    let flag = |k: &str| pooling.get(k).and_then(|v| v.as_bool()).unwrap_or(false);
    Ok(plain_modules
        && flag("pooling_mode_mean_tokens")
        && !flag("pooling_mode_cls_token")
        && !flag("pooling_mode_max_tokens")
        && !flag("pooling_mode_mean_sqrt_len_tokens"))
}

/// Loads a plain BERT encoder for the packed pass, tokenised as rust-bert's pipeline does.
fn load_packed(
    files: &ModelFiles,
    sbert: &Path,
    tokenizer_config: &Path,
    precision: Precision,
) -> Result<Model> {
    let err = |source| ModelError::RustBert {
        model: "sentence encoder",
        source,
    };
    let vars = load_weights(&files.config, &files.weights, |root, config| {
        BertModel::<BertEmbeddings>::new(root, config);
    })
    .map_err(err)?;
    let bert = Bert::new(&vars, "", &BertShape::read(&files.config)?)?.in_kind(precision.kind());
    let sbert = read_json(sbert)?;
    let tok = read_json(tokenizer_config)?;
    let lower_case = tok
        .get("do_lower_case")
        .and_then(|v| v.as_bool())
        .or_else(|| sbert.get("do_lower_case").and_then(|v| v.as_bool()))
        .unwrap_or(false);
    let strip_accents = tok.get("strip_accents").and_then(|v| v.as_bool());
    let tokenizer = TokenizerOption::from_file(
        files.model_type,
        &files.vocab.to_string_lossy(),
        None,
        lower_case,
        strip_accents,
        None,
    )
    .map_err(err)?;
    let max_len = sbert
        .get("max_seq_length")
        .and_then(|v| v.as_u64())
        .unwrap_or(256) as usize;
    Ok(Model::Packed(Box::new(PackedEncoder {
        bert,
        tokenizer,
        max_len,
    })))
}

impl Encoder {
    /// Loads the encoder from a local sentence-transformers directory onto the model thread
    /// ([`crate::worker`]).
    pub fn load(cfg: &EncoderConfig) -> Result<Encoder> {
        // Check the files here, so that a bad directory fails before anything is queued on
        // the model thread.
        let dir = cfg.dir.clone();
        ModelFiles::find(&dir)?;
        let precision = cfg.precision;
        let worker = Worker::spawn("sentence encoder", cfg.queue, move || {
            tracing::info!(dir = %dir.display(), %precision, "loading sentence encoder");
            load_model(&dir, true, precision)
        })?
        .with_max_wait(cfg.max_wait);
        Ok(Encoder {
            worker,
            batch_size: cfg.batch_size.max(1),
            job_sentences: cfg.job_sentences,
        })
    }

    /// This handle's jobs are `tenant`'s: the model thread serves tenants in turn
    /// ([`crate::worker`]).
    pub fn for_tenant(&self, tenant: crate::Tenant) -> Encoder {
        Encoder {
            worker: self.worker.for_tenant(tenant),
            ..self.clone()
        }
    }

    /// The thread the encoder runs on.
    #[cfg(test)]
    pub(crate) fn thread(&self) -> Result<std::thread::ThreadId> {
        self.worker.run(true, |_| Ok(std::thread::current().id()))
    }

    /// Embeds texts into unit-length vectors, in input order. Texts are batched by length so that
    /// short sentences are not padded to the longest one. With `wait` false, a full queue gives
    /// [`ModelError::Busy`].
    ///
    /// More than `job_sentences` texts are embedded in jobs of that many, taken in order of
    /// length (so each job's batches stay as tight as one job's would), and other callers'
    /// jobs run between them.
    pub fn embed(&self, texts: Vec<String>, wait: bool) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let batch = self.batch_size;
        let per_job = self.job_sentences;
        if per_job == 0 || texts.len() <= per_job {
            return self
                .worker
                .run(wait, move |model| model.embed(&texts, batch));
        }
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let mut texts: Vec<Option<String>> = texts.into_iter().map(Some).collect();
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); texts.len()];
        for job in order.chunks(per_job) {
            let part: Vec<String> = job
                .iter()
                .map(|&i| texts[i].take().unwrap_or_default())
                .collect();
            let vectors = self
                .worker
                .run(wait, move |model| model.embed(&part, batch))?;
            for (&i, v) in job.iter().zip(vectors) {
                out[i] = v;
            }
        }
        Ok(out)
    }
}

/// Hands the heap's free memory back to the system. A bulk embedding allocates and frees
/// many activation buffers of varying sizes, which glibc otherwise keeps (on `bbc/tech`, peak
/// RSS 785 MB without this, against 416 MB when every buffer is its own mapping).
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap pages to the kernel; it takes no pointers.
    unsafe {
        libc::malloc_trim(0);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The shipped encoder.
    fn shipped() -> &'static Path {
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/all-minilm-l6-v2"))
    }

    const QUESTION: &str = "Which agency is exempted from the order?";
    const NSA: &str = "The order seems to primarily impact cyber operations at the Cyber \
                       National Mission Force, with the NSA specifically exempted from its \
                       parameters.";

    #[test]
    fn the_packed_pass_matches_rust_berts_pipeline() {
        let packed = load_model(shipped(), true, Precision::Float32).unwrap();
        assert!(matches!(packed, Model::Packed(_)));
        let pipeline = load_model(shipped(), false, Precision::Float32).unwrap();
        // Uneven lengths, so that the pipeline pads and the packed pass does not.
        let texts = [QUESTION, NSA, "Résumé: U.S. officials said so on Feb. 28."];
        let texts = texts.map(String::from);
        let a = packed.embed(&texts, 32).unwrap();
        let b = pipeline.embed(&texts, 32).unwrap();
        assert_eq!(a.len(), 3);
        for (x, y) in a.iter().zip(&b) {
            assert!(largest_difference(x, y) < 1e-4);
        }
    }

    fn largest_difference(x: &[f32], y: &[f32]) -> f32 {
        assert_eq!(x.len(), y.len());
        x.iter()
            .zip(y)
            .map(|(p, q)| (p - q).abs())
            .fold(0.0, f32::max)
    }

    #[test]
    fn bfloat16_layers_embed_texts_where_float32_ones_do() {
        let float = load_model(shipped(), true, Precision::Float32).unwrap();
        let bfloat = load_model(shipped(), true, Precision::BFloat16).unwrap();
        let texts = [
            QUESTION,
            NSA,
            "The minister opened a new bridge over the river on Tuesday.",
            "Shares in the chip maker rose 4% after its quarterly results.",
            "Defense Secretary Pete Hegseth ordered a pause on planning against Russia.",
        ]
        .map(String::from);
        let (x, y) = (
            float.embed(&texts, 32).unwrap(),
            bfloat.embed(&texts, 32).unwrap(),
        );
        for (a, b) in x.iter().zip(&y) {
            assert_ne!(a, b, "the layers computed in bfloat16");
            assert!(cosine(a, b) > 0.999, "{}", cosine(a, b));
            let norm: f32 = b.iter().map(|v| v * v).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-4);
        }
        // The sentences rank the same for the question.
        let rank = |v: &[Vec<f32>]| {
            let mut order: Vec<usize> = (1..v.len()).collect();
            order.sort_by(|&i, &j| cosine(&v[0], &v[j]).total_cmp(&cosine(&v[0], &v[i])));
            order
        };
        assert_eq!(rank(&x), rank(&y));
        assert_eq!(rank(&y)[0], 1);
    }

    #[test]
    fn a_long_embedding_in_small_jobs_keeps_every_text_in_its_place() {
        let mut cfg = EncoderConfig::new(shipped());
        cfg.precision = Precision::Float32;
        cfg.job_sentences = 0;
        let whole = Encoder::load(&cfg).unwrap();
        cfg.job_sentences = 3;
        let in_jobs = Encoder::load(&cfg).unwrap();
        let texts: Vec<String> = (0..11)
            .map(|i| format!("{} {}", "The minister spoke again.".repeat(i % 4 + 1), i))
            .collect();
        let a = whole.embed(texts.clone(), true).unwrap();
        let b = in_jobs.embed(texts, true).unwrap();
        assert_eq!(a.len(), 11);
        assert_eq!(b.len(), 11);
        for (x, y) in a.iter().zip(&b) {
            assert!(largest_difference(x, y) < 1e-5);
        }
    }

    #[test]
    fn batches_hold_at_most_batch_texts_and_their_share_of_tokens() {
        // Sorted by length: 40 texts of 10 tokens, 6 of 200, one of 2,000.
        let ids: Vec<Vec<i64>> = [(40, 10), (6, 200), (1, 2000)]
            .iter()
            .flat_map(|&(n, len)| std::iter::repeat_n(vec![0; len], n))
            .collect();
        let order: Vec<usize> = (0..ids.len()).collect();
        let sizes: Vec<usize> = batches(&order, &ids, 32).iter().map(|b| b.len()).collect();
        // 32 texts; the 8 other short ones and 4 long ones (880 tokens of 1,024); the 2 other
        // long ones; the longest alone, over the budget but never left out.
        assert_eq!(sizes, [32, 12, 2, 1]);
    }

    #[test]
    fn a_bulk_embedding_shared_among_threads_keeps_every_text_in_its_place() {
        let model = load_model(shipped(), true, Precision::Float32).unwrap();
        // 40 texts of 1 to 13 words, not in length order: 10 batches of 4, on two streams.
        let texts: Vec<String> = (0..40)
            .map(|i| {
                let words = ["news", "agency", "order", "minister", "exempted", "court"];
                let n = (i * 7) % 13 + 1;
                (0..n)
                    .map(|j| words[(i + j) % words.len()])
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        tch::set_num_threads(2);
        let bulk = model.embed(&texts, 4).unwrap();
        assert_eq!(tch::get_num_threads(), 2, "the thread count is set back");
        assert_eq!(bulk.len(), texts.len());
        for (text, v) in texts.iter().zip(&bulk) {
            let alone = model.embed(std::slice::from_ref(text), 4).unwrap();
            assert!(largest_difference(v, &alone[0]) < 1e-5, "{text}");
        }
    }
}
