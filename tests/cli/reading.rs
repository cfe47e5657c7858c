//! How deep the engine reads: the first picks at once, the ranking's close calls only when
//! the first reading gave no confident answer (`[answer] confident_stop`).

use newsqa::{Config, Engine, Models, Reply};
use newsqa_index::Metadata;

use crate::helpers::SEED_ARTICLE;

fn ask(config: &Config, questions: &[&str]) -> Vec<Reply> {
    let dir = tempfile::tempdir().unwrap();
    let models = Models::load(config).unwrap();
    let engine = Engine::open_with(config.clone(), models, &dir.path().join("index")).unwrap();
    let article = engine
        .parse(&std::fs::read(SEED_ARTICLE).unwrap(), Metadata::default())
        .unwrap();
    engine
        .ingest(&[article], &newsqa::holders::Holder::Manual)
        .unwrap();
    questions.iter().map(|q| engine.ask(q).unwrap()).collect()
}

const NSA: &str = "Which agency is exempted from the order?";
const KIND: &str = "What kind of cyber operations does the order halt?";
// Its answer sentence is a close call of the ranking: only the margin reading finds it.
const HEGSETH: &str = "Who issued the order to pause the cyber operations?";

#[test]
fn a_confident_first_reading_stops_and_a_doubtful_one_reads_the_close_calls() {
    let config = Config::default();
    let first = config.answer.read_sentences;
    let replies = ask(&config, &[KIND, HEGSETH]);

    // The first reading holds a confident answer: nothing more is read.
    let kind = &replies[0];
    let best = kind.best.as_ref().expect("an answer");
    assert_eq!(best.answer, "offensive");
    assert!(best.score >= config.answer.confident_stop, "{}", best.score);
    assert_eq!(kind.trace.len(), first, "{:?}", kind.trace);

    // The first reading's best ("The inside sources") is not confident: the close calls are
    // read too, and one of them holds the answer.
    let who = &replies[1];
    assert!(who.trace.len() > first, "{:?}", who.trace);
    let best = who.best.as_ref().expect("an answer");
    assert_eq!(best.answer, "Pete Hegseth");
    assert!(best
        .citation
        .starts_with("The order was issued by new defense secretary"));
}

#[test]
fn without_a_confident_stop_every_close_call_is_read_in_one_pass() {
    let mut config = Config::default();
    config.answer.confident_stop = 0.0;
    let first = config.answer.read_sentences;
    let replies = ask(&config, &[NSA]);
    let nsa = &replies[0];
    assert_eq!(nsa.best.as_ref().expect("an answer").answer, "the NSA");
    // What a `--details` run for scripts/tune_fusion.py needs: every window is in the trace.
    assert!(nsa.trace.len() > first, "{:?}", nsa.trace);
}
