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
    /// Sentences per forward pass.
    pub batch_size: usize,
}

impl EncoderConfig {
    /// Defaults for the encoder in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        EncoderConfig {
            dir: dir.into(),
            queue: 16,
            max_wait: None,
            batch_size: 32,
        }
    }
}

/// A handle to the sentence encoder on the model thread. Cheap to clone.
#[derive(Clone)]
pub struct Encoder {
    worker: Worker<Model>,
    batch_size: usize,
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
    fn encode(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        match self {
            Model::Packed(m) => Ok(m.encode(texts)),
            Model::Pipeline(m) => m.encode(texts).map_err(|source| ModelError::RustBert {
                model: "sentence encoder",
                source,
            }),
        }
    }
}

impl PackedEncoder {
    /// Unit-length mean of each text's last hidden states, as sentence-transformers pools.
    fn encode(&self, texts: &[&str]) -> Vec<Vec<f32>> {
        let ids: Vec<Vec<i64>> = self
            .tokenizer
            .encode_list(texts, self.max_len, &TruncationStrategy::LongestFirst, 0)
            .into_iter()
            .map(|t| t.token_ids)
            .collect();
        let packed = tch::no_grad(|| self.bert.forward(&ids, None));
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
        Vec::<Vec<f32>>::try_from(mean / norm).unwrap_or_default()
    }
}

/// Loads the encoder in `dir`: by the packed pass when `packed` and the model allows it,
/// else by rust-bert's sentence embeddings pipeline.
fn load_model(dir: &Path, packed: bool) -> Result<Model> {
    let files = ModelFiles::find(dir)?;
    let modules = require(dir, &["modules.json"])?;
    let pooling = require(&dir.join("1_Pooling"), &["config.json"])?;
    let sbert = require(dir, &["sentence_bert_config.json"])?;
    let tokenizer = require(dir, &["tokenizer_config.json"])?;
    if packed && is_plain_bert(files.model_type, &modules, &pooling)? {
        return load_packed(&files, &sbert, &tokenizer);
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
fn load_packed(files: &ModelFiles, sbert: &Path, tokenizer_config: &Path) -> Result<Model> {
    let err = |source| ModelError::RustBert {
        model: "sentence encoder",
        source,
    };
    let vars = load_weights(&files.config, &files.weights, |root, config| {
        BertModel::<BertEmbeddings>::new(root, config);
    })
    .map_err(err)?;
    let bert = Bert::new(&vars, "", &BertShape::read(&files.config)?)?;
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
        let worker = Worker::spawn("sentence encoder", cfg.queue, move || {
            tracing::info!(dir = %dir.display(), "loading sentence encoder");
            load_model(&dir, true)
        })?
        .with_max_wait(cfg.max_wait);
        Ok(Encoder {
            worker,
            batch_size: cfg.batch_size.max(1),
        })
    }

    /// The thread the encoder runs on.
    #[cfg(test)]
    pub(crate) fn thread(&self) -> Result<std::thread::ThreadId> {
        self.worker.run(true, |_| Ok(std::thread::current().id()))
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
                let vectors = model.encode(&inputs)?;
                for (&i, v) in chunk.iter().zip(vectors) {
                    out[i] = v;
                }
                if texts.len() > batch {
                    release_free_memory();
                }
            }
            Ok(out)
        })
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

    #[test]
    fn the_packed_pass_matches_rust_berts_pipeline() {
        let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/all-minilm-l6-v2"));
        let packed = load_model(dir, true).unwrap();
        assert!(matches!(packed, Model::Packed(_)));
        let pipeline = load_model(dir, false).unwrap();
        // Uneven lengths, so that the pipeline pads and the packed pass does not.
        let texts = [
            "Which agency is exempted from the order?",
            "The order seems to primarily impact cyber operations at the Cyber National \
             Mission Force, with the NSA specifically exempted from its parameters.",
            "Résumé: U.S. officials said so on Feb. 28.",
        ];
        let a = packed.encode(&texts).unwrap();
        let b = pipeline.encode(&texts).unwrap();
        assert_eq!(a.len(), 3);
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x.len(), y.len());
            let diff = x
                .iter()
                .zip(y)
                .map(|(p, q)| (p - q).abs())
                .fold(0.0, f32::max);
            assert!(diff < 1e-4, "largest difference {diff}");
        }
    }
}
