//! Median time of a question's two model calls, as the engine makes them: the question's
//! embedding, then the reader over 3 sentences; 200 rounds, the first 10 not counted.
//!
//!     cargo run --release -p newsqa-models --example model_times [both|reader|encoder] [threads]
use std::time::Instant;

use newsqa_models::{set_threads, Encoder, EncoderConfig, Reader, ReaderConfig};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> newsqa_models::Result<()> {
    newsqa_models::bound_onednn_caches();
    let dir = env!("CARGO_MANIFEST_DIR");
    let reader = Reader::load(&ReaderConfig::new(format!("{dir}/minilm-squad")))?;
    let encoder = Encoder::load(&EncoderConfig::new(format!("{dir}/all-minilm-l6-v2")))?;
    let mode = std::env::args().nth(1).unwrap_or_else(|| "both".into());
    if let Some(t) = std::env::args().nth(2) {
        set_threads(t.parse().expect("threads: a number"))?;
    }
    let question = "Which agency is exempted from the order of the secretary of defense?";
    let sentence = "The order, which was issued by Defense Secretary Pete Hegseth, applies to all \
                    of the Cyber Command's planning, with the NSA specifically exempted from its \
                    parameters.";
    let contexts: Vec<String> = (0..3).map(|i| format!("{sentence} {i}")).collect();
    let (mut embed, mut read) = (Vec::new(), Vec::new());
    for round in 0..200 {
        if mode != "reader" {
            let t = Instant::now();
            encoder.embed(vec![question.to_owned()], true)?;
            if round >= 10 {
                embed.push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
        if mode != "encoder" {
            let t = Instant::now();
            reader.read(question, contexts.clone(), 3, true)?;
            if round >= 10 {
                read.push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
    }
    if !embed.is_empty() {
        println!("question embedding: p50 {:.2} ms", median(embed));
    }
    if !read.is_empty() {
        println!("reader, 3 sentences: p50 {:.2} ms", median(read));
    }
    Ok(())
}
