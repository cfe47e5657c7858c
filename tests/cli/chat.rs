//! Questions as members type them in a chat: greetings in front, tails behind, lower case,
//! no question mark; and messages that ask nothing.

use crate::helpers::*;

const ORDER: &str = "The order was issued by new defense secretary Pete Hegseth, who also \
    requested a risk assessment report outlining what missions would be halted and what \
    threats would continue to be expected.";

fn ask(app: &App, message: &str) -> serde_json::Value {
    app.ok(&["ask", "--json", message]).json()
}

#[test]
fn greetings_hedges_and_tails_do_not_change_the_answer() {
    let app = spawn_app();
    app.ingest_seed();
    for message in [
        "Hey, who issued the order?",
        "Quick question: who issued the order?",
        "hey who issued the order",
        "sorry if this was asked already, but who issued the order? thanks!",
        "@newsqa who issued the order?? lol",
        "Heya, does anybody know who issued the order 🙂",
    ] {
        let reply = ask(&app, message);
        assert_eq!(reply["answer"], "Pete Hegseth", "{message}: {reply:#}");
        assert_eq!(reply["citation"], ORDER, "{message}");
        assert_eq!(reply["asked"], message.trim(), "{message}");
        assert_eq!(
            reply["question"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .trim_end_matches('?'),
            "who issued the order",
            "{message}"
        );
        assert_eq!(reply["constraints"], serde_json::json!([]), "{message}");
    }
    let reply = ask(&app, "Anyone know which agency is exempted?");
    assert_eq!(reply["answer"], "the NSA", "{reply:#}");
    assert_eq!(reply["question"], "which agency is exempted?");
}

#[test]
fn names_are_told_by_how_the_articles_write_them() {
    let app = spawn_app();
    app.ingest_seed();
    // A name typed in lower case is still one the article must mention...
    let reply = ask(&app, "did hegseth issue the order");
    assert_eq!(
        reply["constraints"],
        serde_json::json!([{"kind": "name", "value": "hegseth"}]),
        "{reply:#}"
    );
    // ...and a capitalised word the articles never use, mid-question, is one too.
    let reply = ask(&app, "Who did Kowalski say issued the order?");
    assert_eq!(
        reply["constraints"],
        serde_json::json!([{"kind": "name", "value": "Kowalski"}]),
        "{reply:#}"
    );
    assert_eq!(reply["answered"], false, "{reply:#}");
}

#[test]
fn a_question_over_the_bbc_keeps_its_answer_behind_a_greeting() {
    let psp = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/data/news/bbc/tech/112.txt"
    );
    let app = spawn_app();
    app.ok(&["ingest", psp]);
    let bare = ask(&app, "When will the PSP go on sale in Japan?");
    let greeted = ask(&app, "Hey, when will the PSP go on sale in Japan?");
    assert_eq!(bare["answer"], "12 December", "{bare:#}");
    assert_eq!(greeted["answer"], bare["answer"], "{greeted:#}");
    assert_eq!(greeted["citation"], bare["citation"]);
}

#[test]
fn a_message_that_asks_nothing_gets_a_friendly_line_and_no_search() {
    let app = spawn_app();
    app.ingest_seed();
    for message in ["thanks!", "lol", "@newsqa thanks!", "ok cool 👍"] {
        let reply = ask(&app, message);
        assert_eq!(reply["answered"], false, "{message}");
        assert_eq!(reply["form"], "chatter", "{message}");
        assert_eq!(reply["reason"]["kind"], "not_a_question", "{message}");
        assert!(reply["alternates"].as_array().unwrap().is_empty());
    }
    let out = app.ok(&["ask", "thanks!"]).stdout;
    assert!(out.starts_with("Ask me a question"), "{out}");
}

#[test]
fn a_follow_up_is_read_with_the_answer_before_it_and_a_new_question_is_not() {
    let app = spawn_app();
    app.ingest_seed();
    let first = app.ok(&["ask", "--json", "Who issued the order?"]).stdout;
    let earlier = app.write("earlier.json", first.as_bytes());
    let after = |q: &str| {
        app.ok(&["ask", "--json", "--after", path_str(&earlier), q])
            .json()
    };
    let follow = after("what else did he ask for?");
    assert_eq!(
        follow["question"], "what else did Pete Hegseth ask for?",
        "{follow:#}"
    );
    assert_eq!(follow["continues"]["answer"], "Pete Hegseth");
    assert_eq!(follow["answer"], "a risk assessment report", "{follow:#}");
    // A question that names what it asks about, and points back at nothing, is a new one.
    let new = after("Which agency did the Trump administration exempt from the order?");
    assert!(new.get("continues").is_none(), "{new:#}");
    // One that names nothing is read with it, and still answered for itself.
    let nameless = after("Which agency is exempted from the order?");
    assert_eq!(
        nameless["continues"]["answer"], "Pete Hegseth",
        "{nameless:#}"
    );
    assert_eq!(nameless["answer"], "the NSA");
    // The plain output says what it continues; stdin works as the file.
    let plain = app.run_with_stdin(
        &["ask", "--after", "-", "what else did he ask for?"],
        first.as_bytes(),
    );
    assert!(plain.ok, "{}", plain.stderr);
    assert!(
        plain
            .stdout
            .starts_with("(following up \"Who issued the order?\" → Pete Hegseth"),
        "{}",
        plain.stdout
    );
    let bad = app.write("bad.json", b"not json");
    let r = app.run(&["ask", "--after", path_str(&bad), "why?"]);
    assert!(!r.ok);
    assert!(
        r.stderr
            .contains("is not the output of `newsqa ask --json`"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_yes_no_question_is_answered_by_the_sentence_that_decides_it() {
    let app = spawn_app();
    app.ingest_seed();
    let reply = ask(&app, "Is the NSA exempted from the order?");
    assert_eq!(reply["form"], "yes_no", "{reply:#}");
    assert_eq!(reply["answered"], true);
    assert!(reply["answer"].is_null());
    assert_eq!(
        reply["citation"],
        "The order seems to primarily impact cyber operations at the Cyber National Mission Force, with the NSA specifically exempted from its parameters."
    );
    let out = app.ok(&["ask", "did hegseth issue the order"]).stdout;
    assert!(out.starts_with("The article says:\n"), "{out}");
    // What the articles do not decide, they do not.
    let reply = ask(&app, "Did Brazil win the 2026 World Cup?");
    assert_eq!(reply["answered"], false, "{reply:#}");
}
