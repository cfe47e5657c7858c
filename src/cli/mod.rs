//! One module per command: each turns the library's results into output. The work itself
//! (ingest, answers, feeds, evaluation) lives in the `newsqa` library, where the bot calls
//! the same functions.

pub mod articles;
pub mod ask;
pub mod eval;
pub mod feed;
pub mod ingest;
pub mod serve;
pub mod shards;

/// Text on one line: runs of whitespace (line breaks of wrapped text included) as one space.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
