//! Bulk embedding throughput: every sentence of the text files under a folder, embedded in one
//! call as an ingest does, a few rounds; prints each round's time and sentences per second.
//!
//!     cargo run --release -p newsqa-models --example embed_bench -- DIR [rounds] [precision]
//!
//! `precision`: auto (the default), float32 or bfloat16.
use std::time::Instant;

use newsqa_models::{Encoder, EncoderConfig, Precision};

#[path = "../../benches/common/mod.rs"]
mod common;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    newsqa_models::bound_onednn_caches();
    let mut args = std::env::args().skip(1);
    let dir = args.next().expect("a folder of .txt files");
    let rounds: usize = args
        .next()
        .map_or(3, |r| r.parse().expect("rounds: a number"));
    let precision: Precision = args.next().map_or(Ok(Precision::Auto), |p| p.parse())?;
    let mut sentences = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&dir)?.collect::<Result<_, _>>()?;
    files.sort_by_key(|f| f.path());
    for f in files {
        let text = std::fs::read_to_string(f.path()).unwrap_or_default();
        // A plain split at sentence ends: close enough to the engine's for a throughput test.
        for s in text.split_inclusive(['.', '!', '?']) {
            let s = s.trim();
            if s.len() > 10 {
                sentences.push(s.to_owned());
            }
        }
    }
    let model = format!("{}/all-minilm-l6-v2", env!("CARGO_MANIFEST_DIR"));
    let encoder = Encoder::load(&EncoderConfig {
        precision,
        ..EncoderConfig::new(model)
    })?;
    println!("precision {precision}: {:?}", precision.kind());
    encoder.embed(sentences[..64.min(sentences.len())].to_vec(), true)?;
    for round in 0..rounds {
        let t = Instant::now();
        encoder.embed(sentences.clone(), true)?;
        let s = t.elapsed().as_secs_f64();
        println!(
            "round {round}: {} sentences in {s:.2} s, {:.0} sentences/s, RSS {:.0} MB",
            sentences.len(),
            sentences.len() as f64 / s,
            common::rss_mb()
        );
    }
    Ok(())
}
