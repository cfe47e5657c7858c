//! A packed BERT forward pass over the weights rust-bert loaded.
//!
//! Both shipped models are BERT (6 layers, 384 wide), read in batches of short texts of
//! uneven length. rust-bert's `BertModel` pads every text of a batch to the longest and runs
//! every layer over the padding too. This forward pass computes the same function with:
//! - packed batches: the token-wise work (the linear layers, about 90% of the FLOPs at these
//!   lengths, and the layer norms) runs on the real tokens only; only attention sees the
//!   padded layout, through one scatter and one gather per layer;
//! - the query, key and value projections fused into one matrix multiply;
//! - libtorch's fused attention (`scaled_dot_product_attention`) and GELU.
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

impl Linear {
    fn shallow_clone(&self) -> Linear {
        Linear {
            weight: self.weight.shallow_clone(),
            bias: self.bias.shallow_clone(),
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
    fn shallow_clone(&self) -> Norm {
        Norm {
            weight: self.weight.shallow_clone(),
            bias: self.bias.shallow_clone(),
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

/// BERT's embeddings and encoder layers, run on packed batches.
pub(crate) struct Bert {
    word: Tensor,
    position: Tensor,
    token_type: Tensor,
    embedding_norm: Norm,
    layers: Vec<Layer>,
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

impl Layer {
    fn shallow_clone(&self) -> Layer {
        Layer {
            qkv: self.qkv.shallow_clone(),
            attention_out: self.attention_out.shallow_clone(),
            attention_norm: self.attention_norm.shallow_clone(),
            intermediate: self.intermediate.shallow_clone(),
            output: self.output.shallow_clone(),
            output_norm: self.output_norm.shallow_clone(),
        }
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
            embedding_norm: self.embedding_norm.shallow_clone(),
            layers: self.layers.iter().map(Layer::shallow_clone).collect(),
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
        let get = |name: &str| -> Result<Tensor> {
            let key = format!("{prefix}{name}");
            vars.get(&key)
                .map(|t| t.detach().to_kind(Kind::Float).contiguous())
                .ok_or_else(|| ModelError::Unsupported(format!("no weight named {key}")))
        };
        let linear = |name: &str| -> Result<Linear> {
            Ok(Linear {
                weight: get(&format!("{name}.weight"))?,
                bias: get(&format!("{name}.bias"))?,
            })
        };
        let norm = |name: &str| -> Result<Norm> {
            Ok(Norm {
                weight: get(&format!("{name}.weight"))?,
                bias: get(&format!("{name}.bias"))?,
            })
        };
        let mut layers = Vec::new();
        for i in 0..shape.num_hidden_layers {
            let p = format!("encoder.layer.{i}.");
            let (q, k, v) = (
                linear(&format!("{p}attention.self.query"))?,
                linear(&format!("{p}attention.self.key"))?,
                linear(&format!("{p}attention.self.value"))?,
            );
            layers.push(Layer {
                qkv: Linear {
                    weight: Tensor::cat(&[q.weight, k.weight, v.weight], 0),
                    bias: Tensor::cat(&[q.bias, k.bias, v.bias], 0),
                },
                attention_out: linear(&format!("{p}attention.output.dense"))?,
                attention_norm: norm(&format!("{p}attention.output.LayerNorm"))?,
                intermediate: linear(&format!("{p}intermediate.dense"))?,
                output: linear(&format!("{p}output.dense"))?,
                output_norm: norm(&format!("{p}output.LayerNorm"))?,
            });
        }
        Ok(Bert {
            word: shared(get("embeddings.word_embeddings.weight")?),
            position: get("embeddings.position_embeddings.weight")?,
            token_type: get("embeddings.token_type_embeddings.weight")?,
            embedding_norm: norm("embeddings.LayerNorm")?,
            layers,
            hidden: shape.hidden_size,
            heads: shape.num_attention_heads,
            eps: shape.layer_norm_eps,
        })
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
        let batch = ids.len() as i64;
        let longest = ids.iter().map(|s| s.as_ref().len()).max().unwrap_or(0) as i64;
        let mut starts = Vec::with_capacity(ids.len() + 1);
        let (mut flat_ids, mut flat_pos, mut flat_types, mut slots) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (i, seq) in ids.iter().enumerate() {
            let seq = seq.as_ref();
            starts.push(flat_ids.len());
            flat_ids.extend_from_slice(seq);
            flat_pos.extend(0..seq.len() as i64);
            match types {
                Some(t) => flat_types.extend_from_slice(&t[i][..seq.len()]),
                None => flat_types.extend(std::iter::repeat_n(0, seq.len())),
            }
            slots.extend((0..seq.len() as i64).map(|j| i as i64 * longest + j));
        }
        starts.push(flat_ids.len());
        let tokens = flat_ids.len() as i64;
        let ragged = tokens != batch * longest;
        let slots = Tensor::from_slice(&slots);
        // Which keys each sequence attends to. Always given: libtorch 2.4 reads an absent mask
        // passed through tch as an undefined tensor and refuses it.
        let lengths: Vec<i64> = ids.iter().map(|s| s.as_ref().len() as i64).collect();
        let mask = Tensor::arange(longest, (Kind::Int64, Device::Cpu))
            .unsqueeze(0)
            .lt_tensor(&Tensor::from_slice(&lengths).unsqueeze(1))
            .view([batch, 1, 1, longest]);
        let head_dim = self.hidden / self.heads;
        let embedded = self.word.index_select(0, &Tensor::from_slice(&flat_ids))
            + self
                .position
                .index_select(0, &Tensor::from_slice(&flat_pos))
            + self
                .token_type
                .index_select(0, &Tensor::from_slice(&flat_types));
        let mut x = self.norm(&embedded, &self.embedding_norm);
        for layer in &self.layers {
            let qkv = layer.qkv.apply(&x);
            let padded = if ragged {
                Tensor::zeros(
                    [batch * longest, 3 * self.hidden],
                    (Kind::Float, Device::Cpu),
                )
                .index_copy(0, &slots, &qkv)
            } else {
                qkv
            };
            // [batch, longest, 3, heads, head_dim] -> [3, batch, heads, longest, head_dim]
            let qkv = padded
                .view([batch, longest, 3, self.heads, head_dim])
                .permute([2, 0, 3, 1, 4]);
            let context = Tensor::scaled_dot_product_attention(
                &qkv.get(0),
                &qkv.get(1),
                &qkv.get(2),
                Some(&mask),
                0.0,
                false,
                None,
            )
            .permute([0, 2, 1, 3])
            .reshape([batch * longest, self.hidden]);
            let context = if ragged {
                context.index_select(0, &slots)
            } else {
                context
            };
            x = self.norm(
                &(layer.attention_out.apply(&context) + &x),
                &layer.attention_norm,
            );
            let h = layer.intermediate.apply(&x).gelu("none");
            x = self.norm(&(layer.output.apply(&h) + &x), &layer.output_norm);
        }
        Packed { states: x, starts }
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
        // [CLS] x [SEP] y [SEP] of uneven lengths, token types 0 then 1.
        let seqs: Vec<Vec<i64>> = [7i64, 23, 15]
            .iter()
            .map(|&n| {
                let mut v = vec![101];
                v.extend((1..n - 1).map(|j| 2000 + (j * 389 + n * 17) % 20000));
                v.push(102);
                v
            })
            .collect();
        let types: Vec<Vec<i64>> = seqs
            .iter()
            .map(|s| (0..s.len()).map(|j| i64::from(j >= s.len() / 2)).collect())
            .collect();
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
