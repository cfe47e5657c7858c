//! The shipped models, loaded from their local directories and run for real.

use newsqa_models::{cosine, Encoder, EncoderConfig, ModelError, Reader, ReaderConfig};

const READER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/minilm-squad");
const ENCODER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/all-minilm-l6-v2");

const NSA: &str = "The order seems to primarily impact cyber operations at the Cyber National Mission Force, with the NSA specifically exempted from its parameters.";
const CISA: &str =
    "CISA responded to the report by indicating that its defensive mission has not changed at all.";

#[test]
fn the_reader_finds_the_span_with_char_offsets() {
    let reader = Reader::load(&ReaderConfig::new(READER)).unwrap();
    let context = format!("Überraschung! {NSA}");
    let spans = reader
        .read(
            "Which agency is exempted from the order?",
            vec![context.clone()],
            1,
            true,
        )
        .unwrap();
    let best = &spans[0][0];
    assert!(best.text.ends_with("NSA"), "{:?}", best.text);
    // Offsets are characters, not bytes: the 'Ü' takes two bytes.
    let by_chars: String = context
        .chars()
        .skip(best.start)
        .take(best.end - best.start)
        .collect();
    assert_eq!(by_chars, best.text);
    // Raw logits compare across contexts: the answer scores higher in its own sentence.
    let other = reader
        .read(
            "Which agency is exempted from the order?",
            vec![CISA.into(), NSA.into()],
            1,
            true,
        )
        .unwrap();
    assert_eq!(other[1][0].text, "NSA");
    assert!(other[1][0].score > other[0][0].score);
}

#[test]
fn the_encoder_ranks_the_answering_sentence_first() {
    let encoder = Encoder::load(&EncoderConfig::new(ENCODER)).unwrap();
    let v = encoder
        .embed(
            vec![
                "Which agency is exempted from the order?".into(),
                CISA.into(),
                NSA.into(),
                "Who won the 2022 FIFA World Cup?".into(),
            ],
            true,
        )
        .unwrap();
    assert_eq!(v.len(), 4);
    assert_eq!(v[0].len(), 384);
    let nsa = cosine(&v[0], &v[2]);
    let cisa = cosine(&v[0], &v[1]);
    assert!(nsa > cisa + 0.1, "nsa {nsa} cisa {cisa}");
    assert!(
        (nsa - 0.547).abs() < 0.02,
        "model card says 0.547, got {nsa}"
    );
    assert!(cosine(&v[3], &v[2]) < 0.2);
    // Unit length, and batching by length keeps input order.
    let norm: f32 = v[2].iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-3);
    let alone = encoder.embed(vec![NSA.into()], true).unwrap();
    assert!(cosine(&alone[0], &v[2]) > 0.999);
}

#[test]
fn a_missing_model_directory_names_the_missing_file() {
    let err = Reader::load(&ReaderConfig::new("/nonexistent/model"))
        .err()
        .unwrap();
    assert!(matches!(err, ModelError::MissingFile { .. }));
    assert!(err.to_string().contains("config.json"), "{err}");
}

/// The JSON header of a safetensors file: tensor name -> dtype, shape, data offsets.
fn safetensors_header(path: &str) -> (serde_json::Map<String, serde_json::Value>, Vec<u8>) {
    let bytes = std::fs::read(path).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let data = bytes[8 + n..].to_vec();
    (header.as_object().unwrap().clone(), data)
}

#[test]
fn the_shipped_reader_has_every_tensor_rust_bert_looks_up_in_float16() {
    use rust_bert::bert::{BertConfig, BertForQuestionAnswering};
    use rust_bert::Config;
    let (header, _) = safetensors_header(&format!("{READER}/model.safetensors"));
    let vs = tch::nn::VarStore::new(tch::Device::Cpu);
    let config = BertConfig::from_file(format!("{READER}/config.json"));
    let _model = BertForQuestionAnswering::new(vs.root(), &config);
    let vars = vs.variables();
    assert!(vars.len() > 100, "{} variables", vars.len());
    for (name, tensor) in &vars {
        let entry = header
            .get(name)
            .unwrap_or_else(|| panic!("{READER}/model.safetensors has no tensor {name}"));
        assert_eq!(entry["dtype"], "F16", "{name}");
        let shape: Vec<i64> = entry["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_i64().unwrap())
            .collect();
        assert_eq!(shape, tensor.size(), "{name}");
    }
}

#[test]
fn the_reader_shares_the_encoders_word_embeddings_bit_for_bit() {
    // The reader is trained with frozen word embeddings (models/train/), so its 47 MB
    // embedding matrix is the encoder's, byte for byte.
    let slice = |path: &str, name: &str| {
        let (header, data) = safetensors_header(path);
        let offsets = &header[name]["data_offsets"];
        let (a, b) = (
            offsets[0].as_u64().unwrap() as usize,
            offsets[1].as_u64().unwrap() as usize,
        );
        data[a..b].to_vec()
    };
    let reader = slice(
        &format!("{READER}/model.safetensors"),
        "bert.embeddings.word_embeddings.weight",
    );
    let encoder = slice(
        &format!("{ENCODER}/model.safetensors"),
        "embeddings.word_embeddings.weight",
    );
    assert_eq!(reader.len(), 30522 * 384 * 2);
    assert!(
        reader == encoder,
        "the reader's word embeddings differ from the encoder's"
    );
}

/// A directory with the shipped reader's files, linked, and a verifier made of its last
/// layer's weights and a head of 0.01s; none with `verifier` false.
fn reader_dir(verifier: bool) -> tempfile::TempDir {
    use safetensors::tensor::{Dtype, TensorView};
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(READER).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap();
        if name != newsqa_models::VERIFIER_FILE && path.is_file() {
            std::os::unix::fs::symlink(&path, dir.path().join(name)).unwrap();
        }
    }
    if verifier {
        let bytes = std::fs::read(format!("{READER}/model.safetensors")).unwrap();
        let model = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let prefix = "bert.encoder.layer.5.";
        let mut tensors: Vec<(String, TensorView)> = model
            .tensors()
            .into_iter()
            .filter_map(|(name, view)| {
                let rest = name.strip_prefix(prefix)?.to_owned();
                Some((format!("verifier.layer.{rest}"), view))
            })
            .collect();
        assert_eq!(tensors.len(), 16, "a BERT layer has 16 tensors");
        let half = |x: f32| half_bits(x).to_le_bytes();
        let weight: Vec<u8> = (0..384).flat_map(|_| half(0.01)).collect();
        let bias: Vec<u8> = half(0.5).to_vec();
        tensors.push((
            "verifier.head.weight".into(),
            TensorView::new(Dtype::F16, vec![1, 384], &weight).unwrap(),
        ));
        tensors.push((
            "verifier.head.bias".into(),
            TensorView::new(Dtype::F16, vec![1], &bias).unwrap(),
        ));
        let out = safetensors::serialize(tensors, &None).unwrap();
        std::fs::write(dir.path().join(newsqa_models::VERIFIER_FILE), out).unwrap();
    }
    dir
}

/// IEEE half-precision bits of a small normal float.
fn half_bits(x: f32) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exponent = ((bits >> 23) & 0xff) as i32 - 127 + 15;
    let mantissa = ((bits >> 13) & 0x3ff) as u16;
    sign | ((exponent as u16) << 10) | mantissa
}

#[test]
fn a_verifier_in_the_readers_directory_scores_each_context_and_leaves_the_spans_alone() {
    let question = "Which agency is exempted from the order?";
    let read = |dir: &std::path::Path| {
        let reader = Reader::load(&ReaderConfig::new(dir)).unwrap();
        reader
            .read(question, vec![NSA.into(), CISA.into()], 2, true)
            .unwrap()
    };
    let plain = read(reader_dir(false).path());
    let verified = read(reader_dir(true).path());
    assert_eq!(plain[0][0].text, "NSA");
    for (p, v) in plain.iter().flatten().zip(verified.iter().flatten()) {
        assert_eq!(p.verifier, 0.0, "no verifier, no score");
        assert!(v.verifier.is_finite() && v.verifier != 0.0, "{v:?}");
        assert_eq!(
            (&p.text, p.score, p.no_answer),
            (&v.text, v.score, v.no_answer)
        );
    }
    // One score per context: the same for each span of a context, different across contexts.
    assert_eq!(verified[0][0].verifier, verified[0][1].verifier);
    assert_ne!(verified[0][0].verifier, verified[1][0].verifier);
}

#[test]
fn a_reader_in_bfloat16_finds_the_spans_it_finds_in_float32() {
    use newsqa_models::Precision;
    let questions = [
        "Which agency is exempted from the order?",
        "What has not changed?",
    ];
    let read = |precision| {
        let reader = Reader::load(&ReaderConfig {
            precision,
            ..ReaderConfig::new(READER)
        })
        .unwrap();
        questions.map(|q| {
            reader
                .read(q, vec![NSA.into(), CISA.into()], 3, true)
                .unwrap()
        })
    };
    let (float, bfloat) = (read(Precision::Float32), read(Precision::BFloat16));
    assert_eq!(float[0][0][0].text, "NSA");
    for (f, b) in float.iter().flatten().zip(bfloat.iter().flatten()) {
        let texts = |spans: &[newsqa_models::Span]| {
            spans.iter().map(|s| s.text.clone()).collect::<Vec<_>>()
        };
        assert_eq!(texts(f), texts(b));
        for (f, b) in f.iter().zip(b) {
            assert_ne!(f.score, b.score, "the layers computed in bfloat16");
            assert!((f.score - b.score).abs() < 0.5, "{f:?} {b:?}");
            assert!((f.no_answer - b.no_answer).abs() < 0.5, "{f:?} {b:?}");
        }
    }
}
