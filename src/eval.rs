//! `newsqa eval`: the quality and speed benchmark on SQuAD-format files.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use newsqa_index::extract::Extracted;
use newsqa_index::{text_id, Article, Metadata};
use serde::{Deserialize, Serialize};

use crate::engine::{normalize_answer, Engine};

#[derive(Deserialize)]
struct SquadFile {
    data: Vec<SquadArticle>,
}

#[derive(Deserialize)]
struct SquadArticle {
    title: String,
    paragraphs: Vec<SquadParagraph>,
}

#[derive(Deserialize)]
struct SquadParagraph {
    context: String,
    qas: Vec<SquadQa>,
}

#[derive(Deserialize)]
struct SquadQa {
    question: String,
    #[serde(default)]
    answers: Vec<SquadAnswer>,
    #[serde(default)]
    is_impossible: bool,
}

#[derive(Deserialize)]
struct SquadAnswer {
    text: String,
}

/// One question of the file, with its gold answers and the article its context became.
pub struct Question {
    /// The question text.
    pub question: String,
    /// Gold answers; empty for unanswerable questions.
    pub answers: Vec<String>,
    /// Id of the article made from the question's context.
    pub context_id: String,
    /// The kind of question, where the file says (news set: answerable, later-event, ...).
    pub kind: Option<String>,
}

/// One line of a news question set (`tests/data/news-questions.jsonl`).
#[derive(Deserialize)]
struct NewsQuestion {
    question: String,
    #[serde(default)]
    answers: Vec<String>,
    kind: String,
    split: String,
    /// The article file, relative to the corpus directory.
    article: Option<String>,
}

/// A SQuAD file as articles to ingest and questions to ask.
pub struct Dataset {
    /// One article per paragraph (context).
    pub articles: Vec<Article>,
    /// Every question, in file order.
    pub questions: Vec<Question>,
}

impl Dataset {
    /// Reads a SQuAD v1.1 or v2.0 JSON file.
    pub fn load(path: &Path, engine: &Engine) -> Result<Dataset> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let file: SquadFile = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a SQuAD-format JSON file", path.display()))?;
        let mut articles = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut questions = Vec::new();
        for art in file.data {
            let title = art.title.replace('_', " ");
            for p in art.paragraphs {
                let context_id = text_id(&p.context);
                if !p.context.trim().is_empty() && seen.insert(context_id.clone()) {
                    let extracted = Extracted {
                        title: title.clone(),
                        date: None,
                        author: None,
                        url: None,
                        body: p.context.clone(),
                    };
                    let meta = Metadata {
                        source: format!("{}#{}", path.display(), title),
                        ..Default::default()
                    };
                    articles.push(Article::from_extracted(
                        extracted,
                        meta,
                        engine.passage_config(),
                    )?);
                }
                for qa in p.qas {
                    let answers = if qa.is_impossible {
                        Vec::new()
                    } else {
                        qa.answers.into_iter().map(|a| a.text).collect()
                    };
                    questions.push(Question {
                        question: qa.question,
                        answers,
                        context_id: context_id.clone(),
                        kind: None,
                    });
                }
            }
        }
        Ok(Dataset {
            articles,
            questions,
        })
    }
}

impl Dataset {
    /// Reads a news question set (JSON lines: question, answers, kind, split, article file)
    /// over the article files in `corpus`; only the questions of `split` when given. Every
    /// article file of the corpus (as `newsqa ingest DIR` finds them) is an article to ingest.
    pub fn load_news(
        path: &Path,
        corpus: &Path,
        split: Option<&str>,
        engine: &Engine,
    ) -> Result<Dataset> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let parse = |file: &Path| -> Result<Article> {
            let bytes =
                std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
            let meta = Metadata {
                source: file.display().to_string(),
                ..Default::default()
            };
            engine
                .parse(&bytes, meta)
                .with_context(|| format!("parsing {}", file.display()))
        };
        let mut questions = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let q: NewsQuestion = serde_json::from_str(line).with_context(|| {
                format!("{} line {}: not a news question", path.display(), n + 1)
            })?;
            if split.is_some_and(|s| s != q.split) {
                continue;
            }
            let context_id = match &q.article {
                Some(a) => parse(&corpus.join(a))?.id,
                None => String::new(),
            };
            questions.push(Question {
                question: q.question,
                answers: q.answers,
                context_id,
                kind: Some(q.kind),
            });
        }
        let files = crate::files::article_files(corpus)?;
        let articles = files.iter().map(|f| parse(f)).collect::<Result<_>>()?;
        Ok(Dataset {
            articles,
            questions,
        })
    }
}

/// Figures for one kind of question.
#[derive(Debug, Clone, Default, Serialize)]
pub struct KindReport {
    /// Questions of this kind.
    pub questions: usize,
    /// Of those, the ones answered.
    pub answered: usize,
    /// F1 summed over them (answerable kinds), in percent of the kind's questions.
    pub f1: f64,
    /// Abstention reasons given, by kind of reason.
    pub reasons: std::collections::BTreeMap<String, usize>,
}

/// The figures `newsqa eval` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Exact match over the answerable questions, in percent.
    pub em: f64,
    /// Token F1 over the answerable questions, in percent.
    pub f1: f64,
    /// EM if the engine never abstained (its best candidate taken every time), like a reader
    /// without a threshold.
    pub em_no_abstain: f64,
    /// F1 if the engine never abstained.
    pub f1_no_abstain: f64,
    /// Questions the engine answered.
    pub answered: usize,
    /// Questions the engine abstained on.
    pub abstained: usize,
    /// Questions without a gold answer (SQuAD 2.0).
    pub unanswerable: usize,
    /// Of those, the ones the engine abstained on.
    pub unanswerable_abstained: usize,
    /// Share of questions whose gold context was among the retrieved passages, in percent.
    pub recall_at_k: f64,
    /// The k of recall@k: passages retrieved per question.
    pub k: usize,
    /// Median end-to-end latency per question.
    pub p50_ms: f64,
    /// 95th percentile latency.
    pub p95_ms: f64,
    /// Median time of the answerability check (part of the latency).
    pub check_p50_ms: f64,
    /// 95th percentile time of the answerability check.
    pub check_p95_ms: f64,
    /// Median time of each stage before the check: BM25 search, the question's embedding,
    /// and choosing and reading the sentences.
    pub search_p50_ms: f64,
    pub embed_p50_ms: f64,
    pub read_p50_ms: f64,
    /// Questions asked.
    pub questions: usize,
    /// By kind of question, where the file gives kinds (the news set).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub by_kind: std::collections::BTreeMap<String, KindReport>,
}

/// One line of `--details`.
#[derive(Serialize)]
struct Detail<'a> {
    question: &'a str,
    gold: &'a [String],
    prediction: Option<&'a str>,
    citation: Option<&'a str>,
    score: Option<f32>,
    latency_ms: f64,
    em: f64,
    f1: f64,
    recall: bool,
    /// Why no answer was given, when none was.
    #[serde(skip_serializing_if = "Option::is_none")]
    abstention: Option<&'a crate::answerable::Abstention>,
    candidates: Vec<DetailCandidate<'a>>,
    windows: Vec<DetailWindow<'a>>,
}

/// A window the reader read, with its sentence's features and its spans' EM/F1.
#[derive(Serialize)]
struct DetailWindow<'a> {
    similarity: f32,
    overlap: f32,
    bm25: f32,
    /// The reader's no-answer score for the window.
    no_answer: f32,
    /// The answer verifier's logit for the window.
    verifier: f32,
    /// (answer, reader score, within one sentence, em, f1)
    spans: Vec<(&'a str, f32, bool, f64, f64)>,
}

/// A scored candidate, so that fusion weights and thresholds can be tuned offline.
#[derive(Serialize)]
struct DetailCandidate<'a> {
    answer: &'a str,
    score: f32,
    citation: &'a str,
    overlap: f32,
    context_overlap: f32,
    agreement: f32,
    no_answer: f32,
    verifier: f32,
    reader: f32,
    similarity: f32,
    bm25: f32,
    em: f64,
    f1: f64,
}

/// Asks every question and scores the answers. Calls `progress` after each question.
pub fn run(
    engine: &Engine,
    questions: &[Question],
    mut details: Option<&mut dyn Write>,
    mut progress: impl FnMut(),
) -> Result<Report> {
    let mut em = 0.0;
    let mut f1 = 0.0;
    let mut em_all = 0.0;
    let mut f1_all = 0.0;
    let mut answerable = 0usize;
    let mut answered = 0;
    let mut unanswerable = 0;
    let mut unanswerable_abstained = 0;
    let mut recalled = 0;
    let mut latencies = Vec::with_capacity(questions.len());
    let mut checks = Vec::with_capacity(questions.len());
    let (mut searches, mut embeds, mut reads) = (Vec::new(), Vec::new(), Vec::new());
    let mut by_kind: std::collections::BTreeMap<String, KindReport> = Default::default();
    for q in questions {
        let reply = engine
            .ask(&q.question)
            .with_context(|| format!("asking {:?}", q.question))?;
        latencies.push(reply.latency_ms);
        checks.push(reply.check_ms);
        searches.push(reply.stages.search_ms);
        embeds.push(reply.stages.embed_ms);
        reads.push(reply.stages.read_ms);
        let prediction = reply.best.as_ref().map(|b| b.answer.as_str());
        if let Some(kind) = &q.kind {
            let k = by_kind.entry(kind.clone()).or_default();
            k.questions += 1;
            k.answered += usize::from(prediction.is_some());
            k.f1 += score(prediction.unwrap_or(""), &q.answers).1;
            if let Some(a) = &reply.abstention {
                *k.reasons.entry(a.kind().to_owned()).or_default() += 1;
            }
        }
        let recall = reply.retrieved.contains(&q.context_id);
        recalled += usize::from(recall);
        answered += usize::from(prediction.is_some());
        let (q_em, q_f1) = if q.answers.is_empty() {
            unanswerable += 1;
            unanswerable_abstained += usize::from(prediction.is_none());
            (0.0, 0.0)
        } else {
            answerable += 1;
            let s = score(prediction.unwrap_or(""), &q.answers);
            em += s.0;
            f1 += s.1;
            let first = reply.candidates.first().map_or("", |c| c.answer.as_str());
            let all = score(first, &q.answers);
            em_all += all.0;
            f1_all += all.1;
            s
        };
        if let Some(w) = details.as_deref_mut() {
            let detail = Detail {
                question: &q.question,
                gold: &q.answers,
                prediction,
                citation: reply.best.as_ref().map(|b| b.citation.as_str()),
                score: reply.best.as_ref().map(|b| b.score),
                latency_ms: reply.latency_ms,
                em: q_em,
                f1: q_f1,
                recall,
                abstention: reply.abstention.as_ref(),
                candidates: reply
                    .candidates
                    .iter()
                    .map(|c| {
                        let (em, f1) = score(&c.answer, &q.answers);
                        DetailCandidate {
                            answer: &c.answer,
                            score: c.score,
                            citation: &c.citation,
                            overlap: c.overlap,
                            context_overlap: c.context_overlap,
                            agreement: c.agreement,
                            no_answer: c.no_answer,
                            verifier: c.verifier,
                            reader: c.reader_score,
                            similarity: c.similarity,
                            bm25: c.bm25,
                            em,
                            f1,
                        }
                    })
                    .collect(),
                windows: reply
                    .trace
                    .iter()
                    .map(|w| DetailWindow {
                        similarity: w.similarity,
                        overlap: w.overlap,
                        bm25: w.bm25,
                        no_answer: w.no_answer,
                        verifier: w.verifier,
                        spans: w
                            .spans
                            .iter()
                            .map(|(text, reader, single)| {
                                let (em, f1) = score(text, &q.answers);
                                (text.as_str(), *reader, *single, em, f1)
                            })
                            .collect(),
                    })
                    .collect(),
            };
            serde_json::to_writer(&mut *w, &detail)?;
            writeln!(w)?;
        }
        progress();
    }
    for v in [
        &mut latencies,
        &mut checks,
        &mut searches,
        &mut embeds,
        &mut reads,
    ] {
        v.sort_by(f64::total_cmp);
    }
    let pct_of = |v: &[f64], p: f64| {
        if v.is_empty() {
            0.0
        } else {
            v[((v.len() - 1) as f64 * p) as usize]
        }
    };
    let pct = |p: f64| pct_of(&latencies, p);
    let n = questions.len().max(1) as f64;
    let a = answerable.max(1) as f64;
    Ok(Report {
        em: round2(100.0 * em / a),
        f1: round2(100.0 * f1 / a),
        em_no_abstain: round2(100.0 * em_all / a),
        f1_no_abstain: round2(100.0 * f1_all / a),
        answered,
        abstained: questions.len() - answered,
        unanswerable,
        unanswerable_abstained,
        recall_at_k: round2(100.0 * recalled as f64 / n),
        k: engine.config().answer.passages,
        p50_ms: round2(pct(0.5)),
        p95_ms: round2(pct(0.95)),
        check_p50_ms: round2(pct_of(&checks, 0.5)),
        check_p95_ms: round2(pct_of(&checks, 0.95)),
        search_p50_ms: round2(pct_of(&searches, 0.5)),
        embed_p50_ms: round2(pct_of(&embeds, 0.5)),
        read_p50_ms: round2(pct_of(&reads, 0.5)),
        questions: questions.len(),
        by_kind: by_kind
            .into_iter()
            .map(|(kind, mut k)| {
                k.f1 = round2(100.0 * k.f1 / k.questions.max(1) as f64);
                (kind, k)
            })
            .collect(),
    })
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// SQuAD's EM and F1 of a prediction against the best-matching gold answer (each 0 or 1 / 0..1);
/// (0, 0) when there is no gold answer.
pub fn score(prediction: &str, golds: &[String]) -> (f64, f64) {
    let mut best = (0.0f64, 0.0f64);
    let p = normalize_answer(prediction);
    for g in golds {
        let gn = normalize_answer(g);
        let em = f64::from(u8::from(p == gn));
        let pt: Vec<&str> = p.split_whitespace().collect();
        let gt: Vec<&str> = gn.split_whitespace().collect();
        let mut counts: HashMap<&str, i32> = HashMap::new();
        for t in &gt {
            *counts.entry(t).or_default() += 1;
        }
        let mut same = 0;
        for t in &pt {
            if let Some(c) = counts.get_mut(t) {
                if *c > 0 {
                    *c -= 1;
                    same += 1;
                }
            }
        }
        let f1 = if same == 0 {
            0.0
        } else {
            let precision = same as f64 / pt.len() as f64;
            let recall = same as f64 / gt.len() as f64;
            2.0 * precision * recall / (precision + recall)
        };
        best = (best.0.max(em), best.1.max(f1));
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_match_ignores_case_articles_and_punctuation() {
        assert_eq!(score("The NSA.", &["NSA".into()]), (1.0, 1.0));
    }

    #[test]
    fn f1_gives_partial_credit_for_overlapping_words() {
        let (em, f1) = score("defense secretary Pete Hegseth", &["Pete Hegseth".into()]);
        assert_eq!(em, 0.0);
        assert!((f1 - 2.0 * 0.5 * 1.0 / 1.5).abs() < 1e-9);
    }

    #[test]
    fn no_gold_answer_scores_zero() {
        assert_eq!(score("anything", &[]), (0.0, 0.0));
    }

    #[test]
    fn the_best_gold_answer_counts() {
        assert_eq!(
            score(
                "Denver Broncos",
                &["Broncos".into(), "Denver Broncos".into()]
            )
            .0,
            1.0
        );
        assert_eq!(score("", &["x".into()]), (0.0, 0.0));
    }
}
