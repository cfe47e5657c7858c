//! A packed BERT forward pass over the weights rust-bert loaded.
//!
//! Both shipped models are BERT (6 layers, 384 wide), read in batches of short texts of
//! uneven length. rust-bert's `BertModel` pads every text of a batch to the longest and runs
//! every layer over the padding too. This forward pass computes the same function with:
//! - packed batches: the token-wise work (the linear layers, about 90% of the FLOPs at these
//!   lengths, and the layer norms) runs on the real tokens only; only attention sees the
//!   padded layout, through one scatter and one gather per layer;
//! - the query, key and value projections fused into one matrix multiply;
//! - libtorch's fused attention (`scaled_dot_product_attention`) and GELU;
//! - the layers in bfloat16 where the CPU is faster at it ([`crate::Precision`]), the
//!   embeddings and the states returned in float32.
//!
//! The weights are those rust-bert would load (a `.safetensors` file is read here directly,
//! tensor by tensor; tests check both the tensors and that the result matches rust-bert's
//! forward pass).

use std::collections::HashMap;
use std::path::Path;

use rust_bert::bert::BertConfig;
use rust_bert::Config as _;
use tch::{nn, Device, Kind, Tensor};

use crate::{ModelError, Result};

/// The parts of a BERT `config.json` that the forward pass needs.
#[derive(Debug, Clone, serde::Deserialize)]
pub(crate) struct BertShape {
    hidden_size: i64,
    num_attention_heads: i64,
    num_hidden_layers: i64,
    #[serde(default = "default_eps")]
    layer_norm_eps: f64,
    #[serde(default = "default_act")]
    hidden_act: String,
    #[serde(default = "default_position")]
    position_embedding_type: String,
}

fn default_eps() -> f64 {
    1e-12
}

fn default_act() -> String {
    "gelu".into()
}

fn default_position() -> String {
    "absolute".into()
}

struct Linear {
    weight: Tensor,
    bias: Tensor,
}

/// The weight named `key`, as a contiguous float32 tensor.
fn weight(vars: &HashMap<String, Tensor>, key: &str) -> Result<Tensor> {
    vars.get(key)
        .map(|t| t.detach().to_kind(Kind::Float).contiguous())
        .ok_or_else(|| ModelError::Unsupported(format!("no weight named {key}")))
}

impl Linear {
    /// `{name}.weight` and `{name}.bias`.
    fn read(vars: &HashMap<String, Tensor>, name: &str) -> Result<Linear> {
        Ok(Linear {
            weight: weight(vars, &format!("{name}.weight"))?,
            bias: weight(vars, &format!("{name}.bias"))?,
        })
    }

    /// The same weights, each passed through `f` (shared, or converted).
    fn map(&self, f: impl Fn(&Tensor) -> Tensor) -> Linear {
        Linear {
            weight: f(&self.weight),
            bias: f(&self.bias),
        }
    }

    fn apply(&self, x: &Tensor) -> Tensor {
        x.linear(&self.weight, Some(&self.bias))
    }
}

struct Norm {
    weight: Tensor,
    bias: Tensor,
}

impl Norm {
    /// `{name}.weight` and `{name}.bias`.
    fn read(vars: &HashMap<String, Tensor>, name: &str) -> Result<Norm> {
        let Linear { weight, bias } = Linear::read(vars, name)?;
        Ok(Norm { weight, bias })
    }

    /// As [`Linear::map`].
    fn map(&self, f: impl Fn(&Tensor) -> Tensor) -> Norm {
        Norm {
            weight: f(&self.weight),
            bias: f(&self.bias),
        }
    }
}

struct Layer {
    qkv: Linear,
    attention_out: Linear,
    attention_norm: Norm,
    intermediate: Linear,
    output: Linear,
    output_norm: Norm,
}

impl Layer {
    /// The layer whose weights are named `{p}attention.self.query.weight` and so on, as in
    /// Hugging Face's `BertLayer`.
    fn read(vars: &HashMap<String, Tensor>, p: &str) -> Result<Layer> {
        let linear = |name: &str| Linear::read(vars, &format!("{p}{name}"));
        let norm = |name: &str| Norm::read(vars, &format!("{p}{name}"));
        let (q, k, v) = (
            linear("attention.self.query")?,
            linear("attention.self.key")?,
            linear("attention.self.value")?,
        );
        Ok(Layer {
            qkv: Linear {
                weight: Tensor::cat(&[q.weight, k.weight, v.weight], 0),
                bias: Tensor::cat(&[q.bias, k.bias, v.bias], 0),
            },
            attention_out: linear("attention.output.dense")?,
            attention_norm: norm("attention.output.LayerNorm")?,
            intermediate: linear("intermediate.dense")?,
            output: linear("output.dense")?,
            output_norm: norm("output.LayerNorm")?,
        })
    }

    /// Every weight of the layer passed through `f`: [`Tensor::shallow_clone`] to share them
    /// with another thread, a conversion to compute in another kind.
    fn map(&self, f: impl Fn(&Tensor) -> Tensor) -> Layer {
        Layer {
            qkv: self.qkv.map(&f),
            attention_out: self.attention_out.map(&f),
            attention_norm: self.attention_norm.map(&f),
            intermediate: self.intermediate.map(&f),
            output: self.output.map(&f),
            output_norm: self.output_norm.map(&f),
        }
    }
}

/// BERT's embeddings and encoder layers, run on packed batches.
pub(crate) struct Bert {
    word: Tensor,
    position: Tensor,
    token_type: Tensor,
    embedding_norm: Norm,
    layers: Vec<Layer>,
    /// The kind the layers compute in (their weights' kind); the embeddings and the states
    /// returned are float32.
    kind: Kind,
    hidden: i64,
    heads: i64,
    eps: f64,
}

/// A batch of token sequences packed into one row per real token.
pub(crate) struct Packed {
    /// Hidden states, `[tokens, hidden]`, sequence after sequence.
    pub(crate) states: Tensor,
    /// Where each sequence starts in `states`, plus the total at the end.
    pub(crate) starts: Vec<usize>,
}

/// Loads a BERT model's weights the way rust-bert does, in float32: `declare` builds the
/// rust-bert model struct over a fresh `VarStore` (which names its variables), then the weights
/// file fills them. Returns the variables by name.
///
/// A `.safetensors` file is read straight into float32 tensors instead, one tensor at a time
/// from the memory-mapped file: rust-bert's way first allocates (and randomly initialises) every
/// variable, then reads the whole file beside them, about 180 MB at once for a 45 MB model.
pub(crate) fn load_weights(
    config: &Path,
    weights: &Path,
    declare: impl FnOnce(nn::Path, &BertConfig),
) -> std::result::Result<HashMap<String, Tensor>, rust_bert::RustBertError> {
    if weights.extension().is_some_and(|e| e == "safetensors") {
        return read_safetensors(weights);
    }
    let mut vs = nn::VarStore::new(Device::Cpu);
    declare(vs.root(), &BertConfig::from_file(config));
    vs.load(weights)?;
    vs.set_kind(Kind::Float);
    Ok(vs.variables())
}

/// Every tensor of a `.safetensors` file, as float32, by name.
fn read_safetensors(
    path: &Path,
) -> std::result::Result<HashMap<String, Tensor>, rust_bert::RustBertError> {
    use rust_bert::RustBertError::{IOError, ValueError};
    let file =
        std::fs::File::open(path).map_err(|e| IOError(format!("{}: {e}", path.display())))?;
    // SAFETY: the model file is read-only input that nothing changes while it is loaded; the
    // map is dropped before this returns.
    let map = unsafe { memmap2::Mmap::map(&file) }
        .map_err(|e| IOError(format!("{}: {e}", path.display())))?;
    let st = safetensors::SafeTensors::deserialize(&map)
        .map_err(|e| ValueError(format!("{}: {e:?}", path.display())))?;
    let mut out = HashMap::new();
    for (name, view) in st.tensors() {
        let kind = match view.dtype() {
            safetensors::Dtype::F16 => Kind::Half,
            safetensors::Dtype::BF16 => Kind::BFloat16,
            safetensors::Dtype::F32 => Kind::Float,
            other => {
                return Err(ValueError(format!(
                    "{}: tensor {name} has type {other:?}",
                    path.display()
                )))
            }
        };
        let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
        let tensor = Tensor::f_from_data_size(view.data(), &shape, kind)?.to_kind(Kind::Float);
        out.insert(name, tensor);
    }
    Ok(out)
}

/// Word-embedding matrices already held by a loaded model. The shipped reader was trained
/// with its word embeddings frozen, so its matrix (30,522 x 384, 47 MB in float32) is bit for
/// bit the encoder's: the second model to load uses the first one's instead of its own copy.
static WORD_EMBEDDINGS: std::sync::Mutex<Vec<Tensor>> = std::sync::Mutex::new(Vec::new());

/// `word`, or a matrix already held that is equal to it (same shape, same values), shared.
fn shared(word: Tensor) -> Tensor {
    let mut held = WORD_EMBEDDINGS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(same) = held
        .iter()
        .find(|t| t.size() == word.size() && t.kind() == word.kind() && t.equal(&word))
    {
        tracing::info!(
            shape = ?word.size(),
            "word embeddings equal to another model's: holding them once"
        );
        return same.shallow_clone();
    }
    held.push(word.shallow_clone());
    word
}

impl BertShape {
    /// Reads the shape from a model's `config.json`.
    pub(crate) fn read(config: &Path) -> Result<BertShape> {
        serde_json::from_value(crate::load::read_json(config)?).map_err(|e| ModelError::Config {
            path: config.to_owned(),
            source: Box::new(e),
        })
    }
}

impl Bert {
    /// The same model over the same weights (not copied), for another thread: a tensor may be
    /// sent to another thread but not shared with it.
    pub(crate) fn shallow_clone(&self) -> Bert {
        Bert {
            word: self.word.shallow_clone(),
            position: self.position.shallow_clone(),
            token_type: self.token_type.shallow_clone(),
            embedding_norm: self.embedding_norm.map(Tensor::shallow_clone),
            layers: self
                .layers
                .iter()
                .map(|l| l.map(Tensor::shallow_clone))
                .collect(),
            kind: self.kind,
            hidden: self.hidden,
            heads: self.heads,
            eps: self.eps,
        }
    }

    /// Takes the weights named `{prefix}embeddings.*` and `{prefix}encoder.layer.N.*` from
    /// `vars` (a rust-bert `VarStore`'s variables). Refuses BERT variants this pass does not
    /// compute (another activation or relative positions).
    pub(crate) fn new(
        vars: &HashMap<String, Tensor>,
        prefix: &str,
        shape: &BertShape,
    ) -> Result<Bert> {
        if shape.hidden_act != "gelu" || shape.position_embedding_type != "absolute" {
            return Err(ModelError::Unsupported(format!(
                "BERT with hidden_act {:?} and position_embedding_type {:?}",
                shape.hidden_act, shape.position_embedding_type
            )));
        }
        let get = |name: &str| weight(vars, &format!("{prefix}{name}"));
        let layers = (0..shape.num_hidden_layers)
            .map(|i| Layer::read(vars, &format!("{prefix}encoder.layer.{i}.")))
            .collect::<Result<Vec<_>>>()?;
        Ok(Bert {
            word: shared(get("embeddings.word_embeddings.weight")?),
            position: get("embeddings.position_embeddings.weight")?,
            token_type: get("embeddings.token_type_embeddings.weight")?,
            embedding_norm: Norm::read(vars, &format!("{prefix}embeddings.LayerNorm"))?,
            layers,
            kind: Kind::Float,
            hidden: shape.hidden_size,
            heads: shape.num_attention_heads,
            eps: shape.layer_norm_eps,
        })
    }

    /// The same model with its layers computing in `kind` (their weights converted once).
    pub(crate) fn in_kind(self, kind: Kind) -> Bert {
        if kind == self.kind {
            return self;
        }
        Bert {
            layers: self
                .layers
                .iter()
                .map(|l| l.map(|t| t.to_kind(kind)))
                .collect(),
            kind,
            ..self
        }
    }

    fn norm(&self, x: &Tensor, n: &Norm) -> Tensor {
        x.layer_norm(
            [self.hidden],
            Some(&n.weight),
            Some(&n.bias),
            self.eps,
            false,
        )
    }

    /// Runs the encoder over `ids` (one sequence per entry, no padding), with token type ids
    /// when given (else all 0). Returns the last hidden states of the real tokens.
    pub(crate) fn forward<S: AsRef<[i64]>>(&self, ids: &[S], types: Option<&[Vec<i64>]>) -> Packed {
        self.forward_verified(ids, types, None).0
    }

    /// [`Bert::forward`], and with a verifier, its logit for each sequence, read from the
    /// states the last layer starts from.
    pub(crate) fn forward_verified<S: AsRef<[i64]>>(
        &self,
        ids: &[S],
        types: Option<&[Vec<i64>]>,
        verifier: Option<&Verifier>,
    ) -> (Packed, Option<Tensor>) {
        let mut starts = Vec::with_capacity(ids.len() + 1);
        let (mut flat_ids, mut flat_pos, mut flat_types) = (Vec::new(), Vec::new(), Vec::new());
        for (i, seq) in ids.iter().enumerate() {
            let seq = seq.as_ref();
            starts.push(flat_ids.len());
            flat_ids.extend_from_slice(seq);
            flat_pos.extend(0..seq.len() as i64);
            match types {
                Some(t) => flat_types.extend_from_slice(&t[i][..seq.len()]),
                None => flat_types.extend(std::iter::repeat_n(0, seq.len())),
            }
        }
        starts.push(flat_ids.len());
        let att = Attention::new(
            ids.iter().map(|s| s.as_ref().len()),
            self.hidden,
            self.heads,
        );
        let embedded = self.word.index_select(0, &Tensor::from_slice(&flat_ids))
            + self
                .position
                .index_select(0, &Tensor::from_slice(&flat_pos))
            + self
                .token_type
                .index_select(0, &Tensor::from_slice(&flat_types));
        let mut x = self
            .norm(&embedded, &self.embedding_norm)
            .to_kind(self.kind);
        let mut verified = None;
        let last = self.layers.len().saturating_sub(1);
        for (n, layer) in self.layers.iter().enumerate() {
            if n == last {
                // The verifier's weights are float32, whatever the layers compute in.
                verified = verifier.map(|v| self.verify(v, &x.to_kind(Kind::Float), &starts, &att));
            }
            x = self.layer(layer, &x, &att);
        }
        let states = x.to_kind(Kind::Float);
        (Packed { states, starts }, verified)
    }

    /// One encoder layer over packed states.
    fn layer(&self, layer: &Layer, x: &Tensor, att: &Attention) -> Tensor {
        let qkv = att.pad(layer.qkv.apply(x), 3 * self.hidden);
        // [batch, longest, 3, heads, head_dim] -> [3, batch, heads, longest, head_dim]
        let qkv = qkv
            .view([att.batch, att.longest, 3, self.heads, att.head_dim])
            .permute([2, 0, 3, 1, 4]);
        let context = att
            .attend(&qkv.get(0), &qkv.get(1), &qkv.get(2))
            .permute([0, 2, 1, 3])
            .reshape([att.batch * att.longest, self.hidden]);
        self.rest(layer, &att.unpad(context), x)
    }

    /// The rest of a layer after attention: its output projection, the residual and norm,
    /// then the feed-forward block, on the rows of `x` that `context` was computed for.
    fn rest(&self, layer: &Layer, context: &Tensor, x: &Tensor) -> Tensor {
        let x = self.norm(
            &(layer.attention_out.apply(context) + x),
            &layer.attention_norm,
        );
        let h = layer.intermediate.apply(&x).gelu("none");
        self.norm(&(layer.output.apply(&h) + &x), &layer.output_norm)
    }

    /// The verifier's logit for each sequence: its layer's output at the first token ([CLS])
    /// only, so the query, the attention output and the feed-forward run on one row per
    /// sequence; only the keys and values cover every token.
    fn verify(&self, v: &Verifier, x: &Tensor, starts: &[usize], att: &Attention) -> Tensor {
        let h = self.hidden;
        let first: Vec<i64> = starts[..starts.len() - 1]
            .iter()
            .map(|&s| s as i64)
            .collect();
        let cls = x.index_select(0, &Tensor::from_slice(&first));
        let weight = &v.layer.qkv.weight;
        let bias = &v.layer.qkv.bias;
        let query = cls
            .linear(&weight.narrow(0, 0, h), Some(&bias.narrow(0, 0, h)))
            .view([att.batch, 1, self.heads, att.head_dim])
            .transpose(1, 2);
        let kv = x.linear(&weight.narrow(0, h, 2 * h), Some(&bias.narrow(0, h, 2 * h)));
        let kv = att
            .pad(kv, 2 * h)
            .view([att.batch, att.longest, 2, self.heads, att.head_dim])
            .permute([2, 0, 3, 1, 4]);
        let context = att
            .attend(&query, &kv.get(0), &kv.get(1))
            .transpose(1, 2)
            .reshape([att.batch, h]);
        v.head
            .apply(&self.rest(&v.layer, &context, &cls))
            .view([att.batch])
    }
}

/// The padded layout attention works in, for one packed batch.
struct Attention {
    batch: i64,
    longest: i64,
    head_dim: i64,
    /// Whether sequences differ in length (else packed and padded layouts are the same).
    ragged: bool,
    /// Each real token's row in the padded layout.
    slots: Tensor,
    /// Which keys each sequence attends to, `[batch, 1, 1, longest]`. Always given: libtorch
    /// 2.4 reads an absent mask passed through tch as an undefined tensor and refuses it.
    mask: Tensor,
}

impl Attention {
    fn new(lengths: impl Iterator<Item = usize>, hidden: i64, heads: i64) -> Attention {
        let lengths: Vec<i64> = lengths.map(|n| n as i64).collect();
        let batch = lengths.len() as i64;
        let longest = lengths.iter().copied().max().unwrap_or(0);
        let slots: Vec<i64> = lengths
            .iter()
            .enumerate()
            .flat_map(|(i, &n)| (0..n).map(move |j| i as i64 * longest + j))
            .collect();
        let ragged = slots.len() as i64 != batch * longest;
        let mask = Tensor::arange(longest, (Kind::Int64, Device::Cpu))
            .unsqueeze(0)
            .lt_tensor(&Tensor::from_slice(&lengths).unsqueeze(1))
            .view([batch, 1, 1, longest]);
        Attention {
            batch,
            longest,
            head_dim: hidden / heads,
            ragged,
            slots: Tensor::from_slice(&slots),
            mask,
        }
    }

    /// Packed rows `[tokens, width]` scattered into the padded layout `[batch * longest, width]`.
    fn pad(&self, packed: Tensor, width: i64) -> Tensor {
        if !self.ragged {
            return packed;
        }
        Tensor::zeros(
            [self.batch * self.longest, width],
            (packed.kind(), Device::Cpu),
        )
        .index_copy(0, &self.slots, &packed)
    }

    /// libtorch's fused attention of `[batch, heads, queries, head_dim]` queries over the
    /// keys and values of each sequence's real tokens.
    fn attend(&self, query: &Tensor, key: &Tensor, value: &Tensor) -> Tensor {
        Tensor::scaled_dot_product_attention(query, key, value, Some(&self.mask), 0.0, false, None)
    }

    /// Padded rows gathered back into the packed layout.
    fn unpad(&self, padded: Tensor) -> Tensor {
        if self.ragged {
            padded.index_select(0, &self.slots)
        } else {
            padded
        }
    }
}

/// The reader's answerability verifier: one more encoder layer, run on the states the
/// reader's last layer starts from, and a linear unit on its output at [CLS]. Trained apart
/// from the reader, whose weights it leaves alone (`models/train/verifier.py`).
pub(crate) struct Verifier {
    layer: Layer,
    head: Linear,
}

impl Verifier {
    /// Reads `verifier.layer.*` and `verifier.head.*` from a `.safetensors` file.
    pub(crate) fn load(path: &Path) -> Result<Verifier> {
        let vars = read_safetensors(path).map_err(|source| ModelError::RustBert {
            model: "answer verifier",
            source,
        })?;
        let verifier = Verifier {
            layer: Layer::read(&vars, "verifier.layer.")?,
            head: Linear::read(&vars, "verifier.head")?,
        };
        if verifier.head.weight.size().first() != Some(&1) {
            return Err(ModelError::Unsupported(format!(
                "{}: the verifier's head has shape {:?}, not [1, hidden]",
                path.display(),
                verifier.head.weight.size()
            )));
        }
        Ok(verifier)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_bert::bert::BertForQuestionAnswering;

    #[test]
    fn safetensors_are_read_as_rust_bert_reads_them() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/minilm-squad");
        let config = std::path::PathBuf::from(format!("{dir}/config.json"));
        let weights = std::path::PathBuf::from(format!("{dir}/model.safetensors"));
        let ours = read_safetensors(&weights).unwrap();
        let mut vs = nn::VarStore::new(Device::Cpu);
        BertForQuestionAnswering::new(vs.root(), &BertConfig::from_file(&config));
        vs.load(&weights).unwrap();
        vs.set_kind(Kind::Float);
        let theirs = vs.variables();
        assert!(theirs.len() > 100);
        for (name, t) in &theirs {
            let mine = ours.get(name).unwrap_or_else(|| panic!("{name} missing"));
            assert_eq!(mine.kind(), Kind::Float, "{name}");
            assert!(mine.equal(t), "{name} differs");
        }
    }

    #[test]
    fn equal_word_embeddings_are_held_once() {
        let a = Tensor::from_slice(&[1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]).reshape([3, 2]);
        let first = shared(a.copy());
        let same = shared(a.copy());
        assert_eq!(
            first.data_ptr(),
            same.data_ptr(),
            "the second copy is not kept"
        );
        let other = shared(a.copy() + 1.0);
        assert_ne!(other.data_ptr(), first.data_ptr());
        assert_ne!(shared(a.reshape([2, 3])).data_ptr(), first.data_ptr());
    }

    /// Sequences of uneven lengths, `[CLS] x [SEP] y [SEP]`, with token types 0 then 1.
    fn ragged_batch(lengths: &[i64]) -> (Vec<Vec<i64>>, Vec<Vec<i64>>) {
        let seqs: Vec<Vec<i64>> = lengths
            .iter()
            .map(|&n| {
                let mut v = vec![101];
                v.extend((1..n - 1).map(|j| 2000 + (j * 389 + n * 17) % 20000));
                v.push(102);
                v
            })
            .collect();
        let types = seqs
            .iter()
            .map(|s| (0..s.len()).map(|j| i64::from(j >= s.len() / 2)).collect())
            .collect();
        (seqs, types)
    }

    #[test]
    fn the_verifier_reads_cls_as_its_whole_layer_would() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/minilm-squad");
        let config = std::path::PathBuf::from(format!("{dir}/config.json"));
        let vars = read_safetensors(&std::path::PathBuf::from(format!(
            "{dir}/model.safetensors"
        )))
        .unwrap();
        let mut shape = BertShape::read(&config).unwrap();
        let bert = Bert::new(&vars, "bert.", &shape).unwrap();
        shape.num_hidden_layers -= 1;
        let lower = Bert::new(&vars, "bert.", &shape).unwrap();
        // A verifier from the first layer's weights (not the last's, so that it differs from
        // anything the pass computes anyway) and a head of fixed values.
        let verifier = Verifier {
            layer: Layer::read(&vars, "bert.encoder.layer.0.").unwrap(),
            head: Linear {
                weight: Tensor::arange(384, (Kind::Float, Device::Cpu)).view([1, 384]) / 384.0
                    - 0.5,
                bias: Tensor::from_slice(&[0.25f32]),
            },
        };
        for lengths in [&[7i64, 23, 15][..], &[12, 12]] {
            let (seqs, types) = ragged_batch(lengths);
            let (packed, verified) =
                tch::no_grad(|| bert.forward_verified(&seqs, Some(&types), Some(&verifier)));
            let reference = tch::no_grad(|| {
                let x = lower.forward(&seqs, Some(&types));
                let att = Attention::new(seqs.iter().map(Vec::len), bert.hidden, bert.heads);
                let y = bert.layer(&verifier.layer, &x.states, &att);
                let first: Vec<i64> = x.starts[..seqs.len()].iter().map(|&s| s as i64).collect();
                verifier
                    .head
                    .apply(&y.index_select(0, &Tensor::from_slice(&first)))
                    .view([-1])
            });
            let verified = verified.expect("a verifier gives logits");
            assert_eq!(verified.size(), [seqs.len() as i64]);
            let diff = (&verified - &reference).abs().max().double_value(&[]);
            assert!(diff < 1e-4, "{lengths:?}: largest difference {diff}");
            // The reader's own states are the same with or without the verifier.
            let plain = tch::no_grad(|| bert.forward(&seqs, Some(&types)));
            assert!(plain.states.equal(&packed.states));
        }
    }

    #[test]
    fn the_packed_pass_matches_rust_berts_bert_on_a_ragged_batch() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/minilm-squad");
        let config = std::path::PathBuf::from(format!("{dir}/config.json"));
        let mut vs = nn::VarStore::new(Device::Cpu);
        let model = BertForQuestionAnswering::new(vs.root(), &BertConfig::from_file(&config));
        vs.load(format!("{dir}/model.safetensors")).unwrap();
        vs.set_kind(Kind::Float);
        let vars = vs.variables();
        let bert = Bert::new(&vars, "bert.", &BertShape::read(&config).unwrap()).unwrap();
        let (seqs, types) = ragged_batch(&[7, 23, 15]);
        let packed = tch::no_grad(|| bert.forward(&seqs, Some(&types)));
        let logits = packed
            .states
            .linear(&vars["qa_outputs.weight"], Some(&vars["qa_outputs.bias"]));
        let longest = 23;
        let pad = |v: &[i64]| {
            let mut v = v.to_vec();
            v.resize(longest, 0);
            Tensor::from_slice(&v)
        };
        let ids = Tensor::stack(&seqs.iter().map(|s| pad(s)).collect::<Vec<_>>(), 0);
        let tt = Tensor::stack(&types.iter().map(|s| pad(s)).collect::<Vec<_>>(), 0);
        let mask = Tensor::stack(
            &seqs
                .iter()
                .map(|s| pad(&vec![1; s.len()]))
                .collect::<Vec<_>>(),
            0,
        );
        let reference =
            tch::no_grad(|| model.forward_t(Some(&ids), Some(&mask), Some(&tt), None, None, false));
        for (i, s) in seqs.iter().enumerate() {
            let n = s.len() as i64;
            let ours = logits.narrow(0, packed.starts[i] as i64, n);
            for (k, theirs) in [&reference.start_logits, &reference.end_logits]
                .iter()
                .enumerate()
            {
                let theirs = theirs.get(i as i64).narrow(0, 0, n);
                let diff = (ours.select(1, k as i64) - theirs)
                    .abs()
                    .max()
                    .double_value(&[]);
                assert!(diff < 1e-3, "sequence {i}: largest difference {diff}");
            }
        }
    }
}
