//! The answerability check: an answer whose article does not support what the question names
//! is refused, with the reason; answerable questions are still answered.

use crate::helpers::*;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/answerability");

fn app_with_fixtures() -> App {
    let app = spawn_app();
    app.ok(&["ingest", FIXTURES]);
    app
}

fn ask(app: &App, question: &str) -> serde_json::Value {
    app.ok(&["ask", "--json", question]).json()
}

#[test]
fn a_question_about_a_year_the_article_predates_is_refused_with_the_reason() {
    let app = app_with_fixtures();
    let reply = ask(&app, "Who won the Northern Cup in 2014?");
    assert_eq!(reply["answered"], false, "{reply:#}");
    assert_eq!(reply["reason"]["kind"], "after_publication", "{reply:#}");
    assert_eq!(reply["reason"]["year"], 2014);
    assert_eq!(reply["reason"]["published"], 2005);
    let plain = app.ok(&["ask", "Who won the Northern Cup in 2014?"]).stdout;
    assert_eq!(
        plain.trim(),
        "The closest article is from 2005; it cannot say what happened in 2014."
    );
}

#[test]
fn a_question_naming_someone_the_article_never_mentions_is_refused() {
    let app = app_with_fixtures();
    let reply = ask(&app, "How much did Oracle pay for Lumina?");
    assert_eq!(reply["answered"], false, "{reply:#}");
    assert_eq!(reply["reason"]["kind"], "not_mentioned", "{reply:#}");
    assert_eq!(reply["reason"]["term"], "Oracle");
    assert_eq!(
        reply["message"],
        "I found nothing about Oracle in the articles."
    );
}

#[test]
fn answerable_questions_are_still_answered() {
    let app = app_with_fixtures();
    for (question, answer) in [
        ("How much did Korvel agree to pay for Lumina?", "$2.1bn"),
        ("Who is the chief executive of Korvel?", "Maria Santos"),
        ("How big was the crowd at the Northern Cup final?", "41,000"),
        (
            "In which year did Harbour Town win the Northern League?",
            "1987",
        ),
    ] {
        let reply = ask(&app, question);
        assert_eq!(reply["answered"], true, "{question}: {reply:#}");
        assert_eq!(reply["answer"], answer, "{question}: {reply:#}");
        assert!(reply["reason"].is_null(), "{reply:#}");
    }
}

#[test]
fn names_written_another_way_in_the_article_still_count() {
    let app = app_with_fixtures();
    for (question, answer) in [
        // An opening word that only starts the sentence is no name.
        (
            "Prior to the deal, in which city was Lumina founded?",
            "Helsinki",
        ),
        // "Korvel-owned", "Cup-winning": the name is the capitalised part.
        ("How many people does the Korvel-owned firm employ?", "900"),
        (
            "What is the Northern Cup-winning club's name?",
            "Harbour Town",
        ),
        // An acronym the article spells out.
        ("Which HT player scored the winning kick?", "Ellis Ward"),
    ] {
        let reply = ask(&app, question);
        assert_eq!(reply["answered"], true, "{question}: {reply:#}");
        let given = reply["answer"].as_str().unwrap_or_default();
        assert!(given.contains(answer), "{question}: {reply:#}");
    }
    // "US" for the article's "United States".
    let reply = ask(&app, "Where must US and other regulators approve the deal?");
    assert_eq!(reply["answered"], true, "{reply:#}");
}
