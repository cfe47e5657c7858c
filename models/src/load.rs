//! Finding a model's files in a local directory and reading what kind of model it is.

use std::path::{Path, PathBuf};

use rust_bert::pipelines::common::ModelType;
use rust_bert::resources::LocalResource;

use crate::{ModelError, Result};

/// The files of a Hugging Face style model directory.
pub struct ModelFiles {
    pub dir: PathBuf,
    pub model_type: ModelType,
    pub config: PathBuf,
    pub vocab: PathBuf,
    pub merges: Option<PathBuf>,
    pub weights: PathBuf,
    pub lower_case: bool,
}

impl ModelFiles {
    /// Reads `config.json` (and `tokenizer_config.json` when present) in `dir`.
    pub fn find(dir: &Path) -> Result<ModelFiles> {
        let config = require(dir, &["config.json"])?;
        let json = read_json(&config)?;
        let type_name = json
            .get("model_type")
            .and_then(|v| v.as_str())
            .unwrap_or("bert")
            .to_owned();
        let model_type = match type_name.as_str() {
            "bert" => ModelType::Bert,
            "distilbert" => ModelType::DistilBert,
            "roberta" => ModelType::Roberta,
            "xlm-roberta" => ModelType::XLMRoberta,
            "albert" => ModelType::Albert,
            "mobilebert" => ModelType::MobileBert,
            "deberta" => ModelType::Deberta,
            "electra" => ModelType::Electra,
            "longformer" => ModelType::Longformer,
            _ => {
                return Err(ModelError::UnsupportedType {
                    dir: dir.to_owned(),
                    model_type: type_name,
                })
            }
        };
        let vocab = require(
            dir,
            &[
                "vocab.txt",
                "vocab.json",
                "spiece.model",
                "sentencepiece.bpe.model",
            ],
        )?;
        let merges = ["merges.txt"]
            .iter()
            .map(|f| dir.join(f))
            .find(|p| p.is_file());
        let weights = require(dir, &["model.safetensors", "rust_model.ot"])?;
        // Uncased BERT vocabularies are lower-cased; trust the tokenizer config when there is one.
        let tokenizer_config = dir.join("tokenizer_config.json");
        let lower_case = if tokenizer_config.is_file() {
            read_json(&tokenizer_config)?
                .get("do_lower_case")
                .and_then(|v| v.as_bool())
                .unwrap_or(matches!(
                    model_type,
                    ModelType::Bert | ModelType::DistilBert
                ))
        } else {
            matches!(model_type, ModelType::Bert) && !dir.to_string_lossy().contains("cased")
        };
        Ok(ModelFiles {
            dir: dir.to_owned(),
            model_type,
            config,
            vocab,
            merges,
            weights,
            lower_case,
        })
    }
}

/// The first of `names` that exists in `dir`.
pub fn require(dir: &Path, names: &[&str]) -> Result<PathBuf> {
    names
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
        .ok_or_else(|| ModelError::MissingFile {
            dir: dir.to_owned(),
            file: names.join(" or "),
        })
}

pub fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).map_err(|e| ModelError::Config {
        path: path.to_owned(),
        source: Box::new(e),
    })?;
    serde_json::from_str(&text).map_err(|e| ModelError::Config {
        path: path.to_owned(),
        source: Box::new(e),
    })
}

pub fn local(path: &Path) -> LocalResource {
    LocalResource::from(path.to_owned())
}
