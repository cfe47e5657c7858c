//! A 5 MB page on one line, split and parsed: the time must grow with the size, not its square.
//!
//! `cargo bench -p newsqa-index --bench big_page [-- MB...]` prints the seconds for 1.25, 2.5 and
//! 5 MB (or the sizes given) of each shape; a linear splitter takes about twice as long for twice
//! the text.

use std::time::Instant;

use newsqa_index::sentences::split_sentences;
use newsqa_index::{Article, Metadata, PassageConfig};

/// One paragraph of `bytes` bytes, built by repeating `unit`, with no line break.
fn paragraph(unit: &str, bytes: usize) -> String {
    let mut s = String::with_capacity(bytes + unit.len());
    while s.len() < bytes {
        s.push_str(unit);
    }
    s
}

fn time<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let t = Instant::now();
    let out = f();
    (out, t.elapsed().as_secs_f64())
}

fn main() {
    let mut sizes: Vec<f64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    if sizes.is_empty() {
        sizes = vec![1.25, 2.5, 5.0];
    }
    let shapes = [
        (
            "news prose",
            "Mr. J. Smith met Gen. A. Jones in the U.S. on Feb. 28 at 9 a.m. and said 3.5% was fine. The talks ended! ",
        ),
        ("initials", "A. B. C. D. E. F. G. H. "),
        ("no stops", "and the talks went on and on "),
    ];
    println!(
        "{:<12} {:>6} {:>10} {:>10} {:>12}",
        "shape", "MB", "split s", "parse s", "sentences"
    );
    for (name, unit) in shapes {
        for &mb in &sizes {
            // One sentence of prose at the end: a text with none is refused as no article.
            let text = paragraph(unit, (mb * 1024.0 * 1024.0) as usize) + " The end.";
            let (sentences, split_s) = time(|| split_sentences(&text).len());
            let meta = Metadata {
                source: "big.txt".into(),
                title: Some("A big page".into()),
                url: None,
                origin: Default::default(),
            };
            let (parsed, parse_s) =
                time(|| Article::parse(text.as_bytes(), meta, u64::MAX, PassageConfig::default()));
            assert!(parsed.is_ok(), "{name}: {:?}", parsed.err());
            println!("{name:<12} {mb:>6.2} {split_s:>10.3} {parse_s:>10.3} {sentences:>12}");
        }
    }
}
