//! The engine's retrieval seam (`newsqa::Retriever`): a second implementation, held in
//! memory, stands in for the tantivy index, and the engine answers from it with its own
//! reader, encoder and fusion.

use std::sync::Arc;

use newsqa::{Config, Engine, Models, Retriever};
use newsqa_index::{Article, Metadata, PassageConfig, PassageHit, SentenceHit};

use crate::helpers::SEED_ARTICLE;

/// The seed article's passages with their sentence vectors, ranked for a question by the
/// share of its words they hold (a toy BM25).
struct InMemory {
    article: Article,
    vectors: Vec<Vec<f32>>,
    /// Questions it was asked.
    asked: std::sync::Mutex<Vec<String>>,
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 2)
        .map(str::to_lowercase)
        .collect()
}

impl Retriever for InMemory {
    fn search(&self, question: &str, limit: usize) -> newsqa_index::Result<Vec<PassageHit>> {
        self.asked.lock().unwrap().push(question.to_owned());
        let terms = words(question);
        let a = &self.article;
        let mut hits: Vec<PassageHit> = a
            .passages
            .iter()
            .map(|p| {
                let (start, end) = (a.sentences[p.start].start, a.sentences[p.end - 1].end);
                let text = a.text[start..end].to_owned();
                let sentences: Vec<SentenceHit> = (p.start..p.end)
                    .map(|i| {
                        let r = &a.sentences[i];
                        let held: Vec<bool> = {
                            let ws = words(&a.text[r.clone()]);
                            terms.iter().map(|t| ws.contains(t)).collect()
                        };
                        let matched = held
                            .iter()
                            .enumerate()
                            .filter(|(_, h)| **h)
                            .fold(0u64, |m, (i, _)| m | (1 << i.min(63)));
                        SentenceHit {
                            range: r.start - start..r.end - start,
                            vector: self.vectors[i].clone(),
                            overlap: held.iter().filter(|h| **h).count() as f32
                                / terms.len().max(1) as f32,
                            matched,
                        }
                    })
                    .collect();
                let score = sentences.iter().map(|s| s.overlap).sum::<f32>();
                PassageHit {
                    score,
                    article_id: a.id.clone(),
                    title: a.title.clone(),
                    url: a.url.clone(),
                    char_start: a.text[..start].chars().count(),
                    first_sentence: p.start,
                    text,
                    sentences,
                    term_weights: vec![1.0 / terms.len().max(1) as f32; terms.len().min(64)],
                }
            })
            .collect();
        hits.sort_by(|x, y| y.score.total_cmp(&x.score));
        hits.truncate(limit);
        Ok(hits)
    }
}

#[test]
fn the_engine_answers_through_another_retriever_with_its_own_reader_and_fusion() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::default();
    let models = Models::load(&config).unwrap();
    // Its own index stays empty: every passage comes from the retriever.
    let mut engine = Engine::open_with(config, models, &dir.path().join("index")).unwrap();
    let article = Article::parse(
        &std::fs::read(SEED_ARTICLE).unwrap(),
        Metadata::default(),
        u64::MAX,
        PassageConfig::default(),
    )
    .unwrap();
    let sentences = (0..article.sentences.len())
        .map(|i| article.sentence(i).to_owned())
        .collect();
    let vectors = engine.embed(sentences).unwrap();
    let memory = Arc::new(InMemory {
        article,
        vectors,
        asked: Default::default(),
    });
    engine.set_retriever(memory.clone());
    assert!(engine.articles().unwrap().is_empty());

    let reply = engine
        .ask("Which agency is exempted from the order?")
        .unwrap();
    let best = reply.best.expect("an answer");
    assert_eq!(best.answer, "the NSA");
    assert_eq!(
        best.citation,
        "The order seems to primarily impact cyber operations at the Cyber National Mission Force, with the NSA specifically exempted from its parameters."
    );
    assert_eq!(memory.asked.lock().unwrap().len(), 1);
    // A question the retriever has nothing for is abstained on, as with the index.
    let none = engine.ask("Who won the 2022 FIFA World Cup?").unwrap();
    assert!(none.best.is_none(), "{:?}", none.best);
}
