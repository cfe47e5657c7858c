//! `newsqa eval`: the quality and speed benchmark on SQuAD-format files.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use newsqa_index::extract::Extracted;
use newsqa_index::{text_id, Article, Metadata};
use serde::{Deserialize, Serialize};

use crate::engine::{normalize_answer, Engine, Reply};
use crate::question::followup::Turn;

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
    /// For a yes/no question: what the articles say.
    pub yes_no: Option<YesNo>,
    /// The sentence a good answer cites, where the file gives it.
    pub citation: Option<String>,
}

/// What a yes/no question of a news set expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum YesNo {
    /// The cited sentence says it is so.
    Yes,
    /// The cited sentence says it is not.
    No,
}

/// A conversation of a news set: its turns are asked in order, each after the one before.
pub struct Conversation {
    pub id: String,
    pub turns: Vec<Question>,
}

/// One line of a news question set (`tests/data/news-questions.jsonl` and the sets written
/// the same way): a question, a yes/no question (`kind` "yesno", `answer` "yes", "no" or
/// null) or a conversation (`turns`).
#[derive(Deserialize)]
#[serde(untagged)]
enum NewsLine {
    Conversation(NewsConversation),
    Question(NewsQuestion),
}

#[derive(Deserialize)]
struct NewsQuestion {
    question: String,
    #[serde(default)]
    answers: Vec<String>,
    kind: String,
    split: String,
    /// The article file, relative to the corpus directory.
    article: Option<String>,
    /// A yes/no question's answer; null when no article decides it.
    #[serde(default)]
    answer: Option<YesNo>,
    #[serde(default)]
    citation: Option<NewsCitation>,
}

#[derive(Deserialize)]
struct NewsConversation {
    id: String,
    split: String,
    article: String,
    turns: Vec<NewsTurn>,
}

#[derive(Deserialize)]
struct NewsTurn {
    question: String,
    answers: Vec<String>,
    #[serde(default)]
    citation: Option<NewsCitation>,
}

/// A cited sentence: its byte offsets in the article file, or its text.
#[derive(Deserialize)]
#[serde(untagged)]
enum NewsCitation {
    Offsets { start: usize, end: usize },
    Text(String),
}

/// A SQuAD file as articles to ingest and questions to ask.
pub struct Dataset {
    /// One article per paragraph (context).
    pub articles: Vec<Article>,
    /// Every question, in file order.
    pub questions: Vec<Question>,
    /// Conversations (news sets only).
    pub conversations: Vec<Conversation>,
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
                        yes_no: None,
                        citation: None,
                    });
                }
            }
        }
        Ok(Dataset {
            articles,
            questions,
            conversations: Vec::new(),
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
        let cited =
            |article: Option<&str>, citation: Option<NewsCitation>| -> Result<Option<String>> {
                Ok(match (citation, article) {
                    (Some(NewsCitation::Text(t)), _) => Some(t),
                    (Some(NewsCitation::Offsets { start, end }), Some(a)) => {
                        let file = corpus.join(a);
                        let bytes = std::fs::read(&file)
                            .with_context(|| format!("reading {}", file.display()))?;
                        let text = bytes.get(start..end).with_context(|| {
                            format!(
                                "{}: the citation {start}..{end} is outside it",
                                file.display()
                            )
                        })?;
                        Some(String::from_utf8_lossy(text).into_owned())
                    }
                    _ => None,
                })
            };
        let mut questions = Vec::new();
        let mut conversations = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let item: NewsLine = serde_json::from_str(line).with_context(|| {
                format!(
                    "{} line {}: not a news question or conversation",
                    path.display(),
                    n + 1
                )
            })?;
            match item {
                NewsLine::Question(q) => {
                    if split.is_some_and(|s| s != q.split) {
                        continue;
                    }
                    let context_id = match &q.article {
                        Some(a) => parse(&corpus.join(a))?.id,
                        None => String::new(),
                    };
                    let yes_no = (q.kind == "yesno").then_some(q.answer).flatten();
                    questions.push(Question {
                        citation: cited(q.article.as_deref(), q.citation)?,
                        question: q.question,
                        answers: q.answers,
                        context_id,
                        kind: Some(q.kind),
                        yes_no,
                    });
                }
                NewsLine::Conversation(c) => {
                    if split.is_some_and(|s| s != c.split) {
                        continue;
                    }
                    let context_id = parse(&corpus.join(&c.article))?.id;
                    let turns = c
                        .turns
                        .into_iter()
                        .map(|t| {
                            Ok(Question {
                                citation: cited(Some(&c.article), t.citation)?,
                                question: t.question,
                                answers: t.answers,
                                context_id: context_id.clone(),
                                kind: Some("conversation".into()),
                                yes_no: None,
                            })
                        })
                        .collect::<Result<_>>()?;
                    conversations.push(Conversation { id: c.id, turns });
                }
            }
        }
        let files = crate::files::article_files(corpus)?;
        let articles = files.iter().map(|f| parse(f)).collect::<Result<_>>()?;
        Ok(Dataset {
            articles,
            questions,
            conversations,
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
    /// Yes/no questions, where the file has them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub yes_no: Option<YesNoReport>,
    /// Conversations, where the file has them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversations: Option<ConversationReport>,
}

/// How yes/no questions fared.
#[derive(Debug, Clone, Default, Serialize)]
pub struct YesNoReport {
    /// Yes/no questions asked.
    pub questions: usize,
    /// Of those, the ones an article decides ("yes" or "no").
    pub decided: usize,
    /// Of those, the ones given a sentence.
    pub given_a_sentence: usize,
    /// Of those, the ones whose cited sentence is the expected one.
    pub cited_right: usize,
    /// Share of the decided questions whose cited sentence is the expected one, in percent.
    pub cited_right_pct: f64,
    /// Yes/No verdicts given, and of those the right ones.
    pub verdicts: usize,
    pub verdicts_right: usize,
    /// Share of the decided questions given a verdict, and of the verdicts the right ones,
    /// in percent.
    pub verdict_pct: f64,
    pub verdicts_right_pct: f64,
    /// Questions no article decides, and of those the ones abstained on.
    pub undecided: usize,
    pub undecided_abstained: usize,
}

/// How conversations fared: first turns and later turns, each with and without the
/// conversation.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ConversationReport {
    pub conversations: usize,
    /// First turns, asked alone.
    pub first: TurnFigures,
    /// First turns, asked right after the previous conversation's last turn (a new question
    /// must not be bent by the one before).
    pub first_after_another: TurnFigures,
    /// Later turns, asked after the turns before them (the engine's own earlier answers).
    pub later: TurnFigures,
    /// Later turns, asked alone.
    pub later_alone: TurnFigures,
}

/// EM, F1 and answers for a group of turns.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TurnFigures {
    pub questions: usize,
    pub answered: usize,
    pub em: f64,
    pub f1: f64,
}

impl TurnFigures {
    fn add(&mut self, reply: &Reply, q: &Question) {
        let (em, f1) = score(answer_of(reply).unwrap_or(""), &q.answers);
        self.questions += 1;
        self.answered += usize::from(reply.best.is_some());
        self.em += em;
        self.f1 += f1;
    }

    fn finish(mut self) -> Self {
        let n = self.questions.max(1) as f64;
        self.em = round2(100.0 * self.em / n);
        self.f1 = round2(100.0 * self.f1 / n);
        self
    }
}

/// The answer a reply gives, if any.
fn answer_of(reply: &Reply) -> Option<&str> {
    reply.best.as_ref().map(|b| b.answer.as_str())
}

/// Whether a cited sentence is the expected one (whitespace aside; one holding the other
/// counts, for sentences split a little differently).
fn same_sentence(cited: &str, expected: &str) -> bool {
    let plain = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let (c, e) = (plain(cited), plain(expected));
    !c.is_empty() && !e.is_empty() && (c == e || c.contains(&e) || e.contains(&c))
}

/// One line of `--details`.
#[derive(Serialize)]
struct Detail<'a> {
    question: &'a str,
    /// The question as the engine read it, its form and constraints.
    read_as: &'a str,
    form: crate::question::Form,
    constraints: &'a [crate::answerable::Constraint],
    /// The conversation and turn, for a turn of one; whether it was asked after the turns
    /// before it.
    #[serde(skip_serializing_if = "Option::is_none")]
    conversation: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    turn: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    with_conversation: Option<bool>,
    /// For a yes/no question: the expected answer and whether the cited sentence is the
    /// expected one.
    #[serde(skip_serializing_if = "Option::is_none")]
    expected: Option<YesNo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cited_right: Option<bool>,
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
    sentence: &'a str,
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

/// Where a detail line comes from, besides its question and reply.
#[derive(Default)]
struct Origin<'a> {
    conversation: Option<&'a str>,
    turn: Option<usize>,
    with_conversation: Option<bool>,
    expected: Option<YesNo>,
    cited_right: Option<bool>,
}

/// Writes one line of `--details`.
fn write_detail(w: &mut dyn Write, q: &Question, reply: &Reply, at: Origin) -> Result<()> {
    let prediction = answer_of(reply);
    let (em, f1) = score(prediction.unwrap_or(""), &q.answers);
    let detail = Detail {
        question: &q.question,
        read_as: &reply.reading.question,
        form: reply.reading.form,
        constraints: &reply.reading.constraints,
        conversation: at.conversation,
        turn: at.turn,
        with_conversation: at.with_conversation,
        expected: at.expected,
        cited_right: at.cited_right,
        gold: &q.answers,
        prediction,
        citation: reply.best.as_ref().map(|b| b.citation.as_str()),
        score: reply.best.as_ref().map(|b| b.score),
        latency_ms: reply.latency_ms,
        em,
        f1,
        recall: reply.retrieved.contains(&q.context_id),
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
                sentence: &w.sentence,
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
    Ok(())
}

/// Asks a question, after an earlier turn when given.
fn ask(engine: &Engine, q: &Question, after: Option<&Turn>) -> Result<Reply> {
    engine
        .ask_after(&q.question, after, true)
        .with_context(|| format!("asking {:?}", q.question))
}

/// Asks every question (yes/no questions and conversations scored apart) and scores the
/// answers. Calls `progress` after each question or conversation.
pub fn run(
    engine: &Engine,
    questions: &[Question],
    conversations: &[Conversation],
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
    let mut yes_no = YesNoReport::default();
    let mut singles = 0;
    for q in questions {
        let reply = ask(engine, q, None)?;
        if q.kind.as_deref() == Some("yesno") {
            yes_no.questions += 1;
            let cited = reply.best.as_ref().map(|b| b.citation.as_str());
            let cited_right = match (q.yes_no, cited, &q.citation) {
                (Some(_), Some(c), Some(expected)) => Some(same_sentence(c, expected)),
                (Some(_), None, _) => Some(false),
                _ => None,
            };
            match q.yes_no {
                Some(_) => {
                    yes_no.decided += 1;
                    yes_no.given_a_sentence += usize::from(cited.is_some());
                    yes_no.cited_right += usize::from(cited_right == Some(true));
                }
                None => {
                    yes_no.undecided += 1;
                    yes_no.undecided_abstained += usize::from(cited.is_none());
                }
            }
            if let Some(w) = details.as_deref_mut() {
                let at = Origin {
                    expected: q.yes_no,
                    cited_right,
                    ..Origin::default()
                };
                write_detail(w, q, &reply, at)?;
            }
            progress();
            continue;
        }
        singles += 1;
        latencies.push(reply.latency_ms);
        checks.push(reply.check_ms);
        searches.push(reply.stages.search_ms);
        embeds.push(reply.stages.embed_ms);
        reads.push(reply.stages.read_ms);
        let prediction = answer_of(&reply);
        if let Some(kind) = &q.kind {
            let k = by_kind.entry(kind.clone()).or_default();
            k.questions += 1;
            k.answered += usize::from(prediction.is_some());
            k.f1 += score(prediction.unwrap_or(""), &q.answers).1;
            if let Some(a) = &reply.abstention {
                *k.reasons.entry(a.kind().to_owned()).or_default() += 1;
            }
        }
        recalled += usize::from(reply.retrieved.contains(&q.context_id));
        answered += usize::from(prediction.is_some());
        if q.answers.is_empty() {
            unanswerable += 1;
            unanswerable_abstained += usize::from(prediction.is_none());
        } else {
            answerable += 1;
            let s = score(prediction.unwrap_or(""), &q.answers);
            em += s.0;
            f1 += s.1;
            let first = reply.candidates.first().map_or("", |c| c.answer.as_str());
            let all = score(first, &q.answers);
            em_all += all.0;
            f1_all += all.1;
        }
        if let Some(w) = details.as_deref_mut() {
            write_detail(w, q, &reply, Origin::default())?;
        }
        progress();
    }
    let mut talk = ConversationReport::default();
    // The last turn of the conversation before, for asking a first turn after it.
    let mut before: Option<Turn> = None;
    for c in conversations {
        talk.conversations += 1;
        let mut earlier: Option<Turn> = None;
        for (k, q) in c.turns.iter().enumerate() {
            let alone = ask(engine, q, None)?;
            let with = if k == 0 {
                let after_another = ask(engine, q, before.as_ref())?;
                talk.first.add(&alone, q);
                talk.first_after_another.add(&after_another, q);
                after_another
            } else {
                let with = ask(engine, q, earlier.as_ref())?;
                talk.later.add(&with, q);
                talk.later_alone.add(&alone, q);
                with
            };
            if let Some(w) = details.as_deref_mut() {
                for (reply, with_conversation) in [(&alone, false), (&with, true)] {
                    let at = Origin {
                        conversation: Some(&c.id),
                        turn: Some(k + 1),
                        with_conversation: Some(with_conversation),
                        ..Origin::default()
                    };
                    write_detail(w, q, reply, at)?;
                }
            }
            // The conversation goes on from the engine's own answer, as a member's would.
            earlier = Some(if k == 0 { alone.turn() } else { with.turn() });
        }
        before = earlier;
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
    let n = singles.max(1) as f64;
    let a = answerable.max(1) as f64;
    let share = |part: usize, whole: usize| round2(100.0 * part as f64 / whole.max(1) as f64);
    yes_no.cited_right_pct = share(yes_no.cited_right, yes_no.decided);
    yes_no.verdict_pct = share(yes_no.verdicts, yes_no.decided);
    yes_no.verdicts_right_pct = share(yes_no.verdicts_right, yes_no.verdicts);
    Ok(Report {
        em: round2(100.0 * em / a),
        f1: round2(100.0 * f1 / a),
        em_no_abstain: round2(100.0 * em_all / a),
        f1_no_abstain: round2(100.0 * f1_all / a),
        answered,
        abstained: singles - answered,
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
        questions: singles,
        by_kind: by_kind
            .into_iter()
            .map(|(kind, mut k)| {
                k.f1 = round2(100.0 * k.f1 / k.questions.max(1) as f64);
                (kind, k)
            })
            .collect(),
        yes_no: (yes_no.questions > 0).then_some(yes_no),
        conversations: (talk.conversations > 0).then(|| ConversationReport {
            conversations: talk.conversations,
            first: talk.first.finish(),
            first_after_another: talk.first_after_another.finish(),
            later: talk.later.finish(),
            later_alone: talk.later_alone.finish(),
        }),
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
