use crate::helpers::*;
use newsqa_index::{Article, Metadata, PassageConfig};

#[derive(serde::Deserialize)]
struct SeedQuestion {
    question: String,
    answers: Vec<String>,
    citation: Option<String>,
}

fn seed_questions() -> Vec<SeedQuestion> {
    std::fs::read_to_string(SEED_QUESTIONS)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn every_seed_question_gets_its_answer_and_exact_citation_or_an_abstention() {
    let app = spawn_app();
    app.ingest_seed();
    let body = Article::parse(
        &std::fs::read(SEED_ARTICLE).unwrap(),
        Metadata::default(),
        u64::MAX,
        PassageConfig::default(),
    )
    .unwrap()
    .text;
    let mut failures = Vec::new();
    for q in seed_questions() {
        let reply = app.ok(&["ask", "--json", &q.question]).json();
        if let Err(e) = check(&q, &reply, &body) {
            failures.push(e);
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Whether a reply is the expected answer with its exact citation, or the expected abstention.
fn check(q: &SeedQuestion, reply: &serde_json::Value, body: &str) -> Result<(), String> {
    let fail = |what: &str| Err(format!("{}: {what}: {reply:#}", q.question));
    if q.answers.is_empty() {
        if reply["answered"] != false || !reply["answer"].is_null() {
            return fail("expected an abstention");
        }
        return Ok(());
    }
    let Some(answer) = reply["answer"].as_str() else {
        return fail("expected an answer");
    };
    if !q.answers.iter().any(|a| a == answer) {
        return fail(&format!("expected one of {:?}", q.answers));
    }
    if reply["citation"].as_str() != q.citation.as_deref() {
        return fail("wrong citation");
    }
    assert_eq!(
        reply["title"],
        "Cyber Operations Targeting Russia Paused, But Order Came Before Trump-Zelensky Meeting"
    );
    // The offsets are characters of the article body and point at the answer.
    let start = reply["start"].as_u64().unwrap() as usize;
    let end = reply["end"].as_u64().unwrap() as usize;
    let at: String = body.chars().skip(start).take(end - start).collect();
    assert_eq!(at, answer);
    assert!(reply["alternates"].as_array().unwrap().len() <= 2);
    assert!(reply["article_id"].as_str().unwrap().starts_with("sha256:"));
    assert!(reply["score"].as_f64().unwrap() > 0.0);
    Ok(())
}

#[test]
fn the_plain_answer_shows_answer_quote_and_article() {
    let app = spawn_app();
    app.ingest_seed();
    let out = app
        .ok(&["ask", "Which agency is exempted from the order?"])
        .stdout;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "the NSA");
    assert_eq!(
        lines[1],
        "  \"The order seems to primarily impact cyber operations at the Cyber National Mission Force, with the NSA specifically exempted from its parameters.\""
    );
    assert!(lines[2].starts_with(
        "  Cyber Operations Targeting Russia Paused, But Order Came Before Trump-Zelensky Meeting · 10 Mar 2025 (score 0."
    ));
}

#[test]
fn page_furniture_after_the_article_is_never_cited() {
    let app = spawn_app();
    app.ingest_seed();
    let reply = app
        .ok(&["ask", "--json", "Which group claimed the DDoS attack on X?"])
        .json();
    assert_eq!(reply["answered"], false, "{reply:#}");
    let reply = app.ok(&["ask", "--json", "How can we help you?"]).json();
    assert_eq!(reply["answered"], false, "{reply:#}");
}

#[test]
fn an_empty_index_abstains_politely() {
    let app = spawn_app();
    // An index whose only article was forgotten: it exists and holds nothing.
    app.ingest_seed();
    let id = app.articles()[0]["id"].as_str().unwrap().to_owned();
    app.ok(&["forget", &id]);
    let out = app.ok(&["ask", "Who issued the order?"]).stdout;
    assert_eq!(
        out.trim(),
        "No articles in this index yet: add some with `newsqa ingest`."
    );
    let reply = app.ok(&["ask", "--json", "Who issued the order?"]).json();
    assert_eq!(reply["reason"]["kind"], "no_articles", "{reply:#}");
    let r = app.run(&["ask", "   "]);
    assert!(!r.ok);
    assert!(r.stderr.contains("the question is empty"), "{}", r.stderr);
}

#[test]
fn a_directory_without_an_index_is_an_error_for_ask_and_forget_and_empty_for_articles() {
    let app = spawn_app();
    for args in [
        &["ask", "Which agency is exempted?"][..],
        &["forget", "abc"],
    ] {
        let r = app.run(args);
        assert!(!r.ok, "{args:?} succeeded");
        assert!(r.stderr.contains("no index at"), "{}", r.stderr);
        assert!(r.stderr.contains("newsqa ingest"), "{}", r.stderr);
    }
    let list = app.ok(&["articles", "--json"]).json();
    assert_eq!(list, serde_json::json!([]));
    assert!(app.ok(&["articles"]).stdout.contains("no articles"));
    // None of them created an index where there was none.
    assert!(!app.index().exists());
}

#[test]
fn questions_with_operators_and_quotes_do_not_break_anything() {
    let app = spawn_app();
    app.ingest_seed();
    for q in ["\"NSA\" AND exempted: OR?", "title:(order", "***"] {
        app.ok(&["ask", "--json", q]).json();
    }
}

/// The two fixture articles that disagree a year apart, with their dates as written or
/// swapped: the same words, so only the dates tell them apart.
fn ingest_dated(app: &App, swap: bool) {
    let (old, new) = ("Published 12 January 2024", "Published 3 February 2025");
    for name in ["defence-2024.txt", "defence-2025.txt"] {
        let text = std::fs::read_to_string(format!(
            "{}/tests/data/dated/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let text = match swap {
            false => text,
            true => text
                .replace(old, "DATE-A")
                .replace(new, old)
                .replace("DATE-A", new),
        };
        let path = app.write(name, text.as_bytes());
        app.ok(&["ingest", path_str(&path)]);
    }
}

#[test]
fn of_two_close_answers_that_disagree_the_newer_articles_is_given_and_the_older_named() {
    for swap in [false, true] {
        let app = spawn_app();
        ingest_dated(&app, swap);
        let (newer, older) = match swap {
            false => ("Daniel Okafor", "Helen Carter"),
            true => ("Helen Carter", "Daniel Okafor"),
        };
        for question in [
            "Who is the defence secretary?",
            "Who is the new defence secretary?",
        ] {
            let reply = app.ok(&["ask", "--json", question]).json();
            let context = format!("{question} (dates swapped: {swap}): {reply:#}");
            assert_eq!(reply["answer"], newer, "{context}");
            assert_eq!(reply["date"], "2025-02-03", "{context}");
            assert_eq!(reply["older"]["answer"], older, "{context}");
            assert_eq!(reply["older"]["date"], "2024-01-12", "{context}");
            assert!(reply["older"]["citation"].as_str().unwrap().contains(older));
            let alternates = reply["alternates"].as_array().unwrap();
            assert!(!alternates.is_empty(), "{context}");
            for a in alternates {
                assert!(a["article_id"].as_str().unwrap().starts_with("sha256:"));
                assert!(a["date"].is_string(), "{context}");
            }
        }
        let plain = app.ok(&["ask", "Who is the defence secretary?"]).stdout;
        assert!(plain.contains("· 3 Feb 2025"), "{plain}");
        assert!(
            plain.contains(&format!("An older article (12 Jan 2024) says {older}")),
            "{plain}"
        );
    }
}

#[test]
fn an_answer_carries_its_articles_date_and_alone_names_no_older_one() {
    let app = spawn_app();
    app.ingest_seed();
    let reply = app
        .ok(&["ask", "--json", "Which agency is exempted from the order?"])
        .json();
    assert_eq!(reply["answer"], "the NSA", "{reply:#}");
    assert_eq!(reply["date"], "2025-03-10", "{reply:#}");
    assert!(reply.get("older").is_none(), "{reply:#}");
}
