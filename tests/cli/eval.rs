use crate::helpers::*;

/// A small SQuAD 2.0 file built from the seed article: answerable and unanswerable questions.
fn squad_file(app: &App) -> std::path::PathBuf {
    let data = serde_json::json!({
        "version": "v2.0",
        "data": [{
            "title": "Cyber_pause",
            "paragraphs": [
                {
                    "context": "The order was issued by new defense secretary Pete Hegseth, who also requested a risk assessment report outlining what missions would be halted and what threats would continue to be expected. The order seems to primarily impact cyber operations at the Cyber National Mission Force, with the NSA specifically exempted from its parameters.",
                    "qas": [
                        {"id": "1", "question": "Which agency is exempted from the order?", "answers": [{"text": "the NSA", "answer_start": 0}, {"text": "NSA", "answer_start": 0}], "is_impossible": false},
                        {"id": "2", "question": "Who issued the order?", "answers": [{"text": "Pete Hegseth", "answer_start": 0}], "is_impossible": false},
                        {"id": "3", "question": "Who won the 2022 FIFA World Cup?", "answers": [], "is_impossible": true}
                    ]
                },
                {
                    "context": "Markets rallied on Tuesday after the central bank held rates at 4.5%. Analysts at Barclays said the decision was expected.",
                    "qas": [
                        {"id": "4", "question": "At what level did the central bank hold rates?", "answers": [{"text": "4.5%", "answer_start": 0}], "is_impossible": false}
                    ]
                }
            ]
        }]
    });
    app.write("tiny-squad.json", data.to_string().as_bytes())
}

#[test]
fn eval_reports_quality_abstention_recall_and_latency() {
    let app = spawn_app();
    let file = squad_file(&app);
    let details = app.dir.path().join("details.jsonl");
    let report = app
        .ok(&[
            "eval",
            path_str(&file),
            "--json",
            "--details",
            path_str(&details),
        ])
        .json();
    for key in [
        "em",
        "f1",
        "answered",
        "abstained",
        "unanswerable",
        "unanswerable_abstained",
        "recall_at_k",
        "p50_ms",
        "p95_ms",
        "questions",
    ] {
        assert!(report.get(key).is_some(), "missing {key}: {report}");
    }
    assert_eq!(report["questions"], 4);
    assert_eq!(report["unanswerable"], 1);
    assert_eq!(report["unanswerable_abstained"], 1);
    assert_eq!(report["em"], 100.0);
    // The World Cup question shares no word with either context, so nothing is retrieved.
    assert_eq!(report["recall_at_k"], 75.0);
    assert!(report["p95_ms"].as_f64().unwrap() >= report["p50_ms"].as_f64().unwrap());
    // Three of the four questions retrieve something, so the median question embeds and reads.
    for stage in ["search_p50_ms", "embed_p50_ms", "read_p50_ms"] {
        let ms = report[stage].as_f64().unwrap_or(-1.0);
        assert!(ms > 0.0, "{stage}: {report}");
        assert!(
            ms <= report["p50_ms"].as_f64().unwrap() + 0.01,
            "{stage}: {report}"
        );
    }
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&details)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["prediction"], "the NSA");
    assert!(lines[0]["citation"]
        .as_str()
        .unwrap()
        .ends_with("exempted from its parameters."));
    assert!(lines[2]["prediction"].is_null());
}

#[test]
fn eval_with_no_ingest_uses_the_existing_index_and_limit_cuts_questions() {
    let app = spawn_app();
    let file = squad_file(&app);
    // Nothing indexed: every question abstains and nothing is recalled.
    let report = app
        .ok(&[
            "eval",
            path_str(&file),
            "--json",
            "--no-ingest",
            "--limit",
            "2",
        ])
        .json();
    assert_eq!(report["questions"], 2);
    assert_eq!(report["answered"], 0);
    assert_eq!(report["recall_at_k"], 0.0);
    assert!(app.articles().is_empty());
}

/// A news set over a one-article corpus (the seed article), with a chat-phrased question,
/// a conversation and yes/no questions, citations given as text.
fn chat_set(app: &App) -> (std::path::PathBuf, std::path::PathBuf) {
    let corpus = app.dir.path().join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    std::fs::copy(SEED_ARTICLE, corpus.join("seed.txt")).unwrap();
    let order = "The order was issued by new defense secretary Pete Hegseth, who also requested a risk assessment report outlining what missions would be halted and what threats would continue to be expected.";
    let nsa = "The order seems to primarily impact cyber operations at the Cyber National Mission Force, with the NSA specifically exempted from its parameters.";
    let lines = [
        serde_json::json!({"id": "q1", "split": "test", "kind": "answerable", "article": "seed.txt",
            "question": "hey, anyone know who issued the order? thx", "answers": ["Pete Hegseth"]}),
        serde_json::json!({"id": "c1", "split": "test", "article": "seed.txt", "turns": [
            {"question": "Who issued the order?", "answers": ["Pete Hegseth"], "citation": order},
            {"question": "what else did he ask for?", "answers": ["a risk assessment report"], "citation": order}]}),
        serde_json::json!({"id": "y1", "split": "test", "kind": "yesno", "article": "seed.txt",
            "question": "Is the NSA exempted from the order?", "answer": "yes", "citation": nsa}),
        serde_json::json!({"id": "y2", "split": "tune", "kind": "yesno", "article": null,
            "question": "Did Brazil win the 2026 World Cup?", "answer": null, "citation": null}),
    ];
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    (app.write("chat.jsonl", text.as_bytes()), corpus)
}

#[test]
fn eval_scores_chat_questions_conversations_and_yes_no_questions() {
    let app = spawn_app();
    let (file, corpus) = chat_set(&app);
    let details = app.dir.path().join("details.jsonl");
    let args = [
        "eval",
        path_str(&file),
        "--corpus",
        path_str(&corpus),
        "--json",
        "--details",
        path_str(&details),
    ];
    let report = app.ok(&args).json();
    assert_eq!(report["questions"], 1, "{report:#}");
    assert_eq!(report["f1"], 100.0, "{report:#}");
    let talk = &report["conversations"];
    assert_eq!(talk["conversations"], 1, "{report:#}");
    assert_eq!(talk["first"]["f1"], 100.0, "{report:#}");
    assert_eq!(talk["later"]["questions"], 1);
    assert_eq!(
        talk["later"]["f1"], 100.0,
        "with the conversation: {report:#}"
    );
    assert!(talk["later_alone"]["f1"].as_f64().is_some());
    let yes_no = &report["yes_no"];
    assert_eq!(yes_no["questions"], 2, "{report:#}");
    assert_eq!(yes_no["decided"], 1);
    assert_eq!(yes_no["cited_right"], 1, "{report:#}");
    assert_eq!(yes_no["undecided"], 1);
    assert_eq!(yes_no["undecided_abstained"], 1, "{report:#}");
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&details)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // The chat question: read without its greeting and tail, with its constraints.
    assert_eq!(
        lines[0]["read_as"], "who issued the order?",
        "{:#}",
        lines[0]
    );
    assert_eq!(lines[0]["constraints"], serde_json::json!([]));
    assert_eq!(lines[0]["form"], "open");
    // The yes/no questions, then each turn asked alone and in the conversation.
    assert_eq!(lines[1]["form"], "yes_no");
    assert_eq!(lines[1]["cited_right"], true);
    let later: Vec<&serde_json::Value> = lines.iter().filter(|l| l["turn"] == 2).collect();
    assert_eq!(later.len(), 2);
    assert_eq!(later[1]["with_conversation"], true);
    assert_eq!(later[1]["read_as"], "what else did Pete Hegseth ask for?");
    // --split keeps one split.
    let mut tune = args.to_vec();
    tune.extend(["--split", "tune"]);
    let report = app.ok(&tune).json();
    assert_eq!(report["yes_no"]["questions"], 1, "{report:#}");
    assert!(report.get("conversations").is_none());
}
