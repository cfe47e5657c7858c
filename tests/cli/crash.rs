//! Crash safety: a bulk ingest killed with SIGKILL keeps every article it reported, leaves an
//! index that adds up, and a second ingest of the same directory completes it without
//! duplicates. (`scripts/reliability.sh` does the same to the BBC corpus at random moments.)

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::Stdio;

use crate::helpers::*;

const ARTICLES: usize = 30;

fn article_text(i: usize) -> String {
    let towns = ["Ashby", "Brill", "Corfe", "Dunster", "Eyam", "Frome"];
    let town = towns[i % towns.len()];
    format!(
        "{town} library opens wing number {i}\n\n\
         The town of {town} opened wing number {i} of its library on Monday. \
         It holds {} books and a reading room for {} people, the council said. \
         Building work took {} months and was paid for by a local trust.\n\n\
         The mayor thanked the volunteers who moved the books. \
         Opening hours are nine to five on weekdays.",
        1000 + 37 * i,
        20 + i,
        3 + i % 9
    )
}

/// The ids the ingest reported as written, each with its status.
fn reported(line: &str) -> Option<(String, String)> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let article = v.get("article")?;
    Some((
        article["id"].as_str()?.to_owned(),
        article["status"].as_str()?.to_owned(),
    ))
}

/// Checks the index with `newsqa check`, and returns the ids it lists.
fn check_and_list(app: &App) -> BTreeSet<String> {
    let check = app.run(&["check", "--json"]);
    let health = check.json();
    assert!(check.ok, "the index does not add up: {health}");
    let list: BTreeSet<String> = app
        .articles()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(health["articles"], list.len(), "{health}");
    list
}

#[test]
fn a_killed_bulk_ingest_keeps_what_it_reported_and_a_rerun_completes_it() {
    let app = spawn_app();
    // Small batches: many commits, so the kills land between and inside them.
    app.write("config.toml", b"[ingest]\nbatch_articles = 3\n");
    for i in 0..ARTICLES {
        app.write(&format!("corpus/a{i:02}.txt"), article_text(i).as_bytes());
    }
    let corpus = app.dir.path().join("corpus");
    let mut seen = BTreeSet::new();
    // Kill after 2 articles were reported, then (a rerun skipping what is in) after 7 more.
    for kill_after in [2, 7] {
        let mut child = app
            .command(&["ingest", "--json", path_str(&corpus)])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let mut added = 0;
        for line in stdout.lines() {
            let line = line.unwrap();
            let (id, status) = reported(&line).unwrap_or_else(|| panic!("{line}"));
            seen.insert(id);
            if status == "added" {
                added += 1;
                if added == kill_after {
                    break;
                }
            }
        }
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        assert!(!status.success(), "the ingest ended before it was killed");
        let list = check_and_list(&app);
        let lost: Vec<_> = seen.difference(&list).collect();
        assert!(lost.is_empty(), "reported but not in the index: {lost:?}");
    }
    let run = app.run(&["ingest", "--json", path_str(&corpus)]);
    assert!(run.ok, "{}", run.stderr);
    let statuses: Vec<(String, String)> = run.stdout.lines().filter_map(reported).collect();
    assert_eq!(statuses.len(), ARTICLES, "{}", run.stdout);
    let list = check_and_list(&app);
    assert_eq!(list.len(), ARTICLES, "no duplicates and none missing");
    // What the kills left is answered from.
    let answer = app.ok(&["ask", "--json", "How many books does wing number 7 hold?"]);
    assert!(answer.stdout.contains("1259"), "{}", answer.stdout);
}

/// Issue 35: Ctrl-C in a bulk ingest finishes the batch being written, keeps what is
/// committed, and says how to go on; the same command then completes it.
#[test]
fn ctrl_c_in_a_bulk_ingest_keeps_what_is_committed_and_says_how_to_go_on() {
    let app = spawn_app();
    app.write("config.toml", b"[ingest]\nbatch_articles = 3\n");
    for i in 0..ARTICLES {
        app.write(&format!("corpus/a{i:02}.txt"), article_text(i).as_bytes());
    }
    let corpus = app.dir.path().join("corpus");
    let mut child = app
        .command(&["ingest", "--json", path_str(&corpus)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert!(reported(&first).is_some(), "{first}");
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let reported_lines = 1 + stdout.lines().count();
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(
        stderr.contains("stopped:") && stderr.contains("run the same command again"),
        "{stderr}"
    );
    let kept = check_and_list(&app);
    assert_eq!(
        kept.len(),
        reported_lines,
        "what was reported is what is kept"
    );
    assert!(kept.len() < ARTICLES, "it stopped early");
    let run = app.run(&["ingest", "--json", path_str(&corpus)]);
    assert!(run.ok, "{}", run.stderr);
    assert_eq!(check_and_list(&app).len(), ARTICLES);
}
