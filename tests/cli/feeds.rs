//! `newsqa feed`: a local feed server on 127.0.0.1 whose feed grows between polls.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::helpers::{spawn_app, App, Run};

#[derive(Default)]
pub struct Site {
    /// 1: items A and B; 2: C added.
    pub version: AtomicUsize,
    not_modified: AtomicUsize,
    /// Requests for the feed itself: each poll makes one.
    pub feed_requests: AtomicUsize,
    pub page_fetches: AtomicUsize,
    /// Story C's page answers 500 while this is set (it has no copy in the feed).
    fail_c: AtomicBool,
    /// While set, story C's page does not answer until `release_c` is notified; `c_held`
    /// counts the requests it held.
    pub hold_c: AtomicBool,
    /// While set, the feed itself answers 404.
    pub feed_gone: AtomicBool,
    pub c_held: AtomicUsize,
    pub release_c: tokio::sync::Notify,
}

const ITEM_A: &str = r#"<item><guid>story-a</guid><title>Water main repairs finished</title><link>BASE/news/a</link><description>short</description></item>"#;
const ITEM_B: &str = r#"<item><guid>story-b</guid><title>Museum adds Sunday hours</title><link>BASE/news/b-gone</link><description>&lt;p&gt;The city museum will open on Sundays from noon to five starting in June, the director announced.&lt;/p&gt;</description></item>"#;
const ITEM_C: &str = r#"<item><guid>story-c</guid><title>School term starts a week late</title><link>BASE/news/c</link></item>"#;

fn article(title: &str, body: &str) -> String {
    format!("<!DOCTYPE html><html><head><title>{title}</title></head><body><nav>Home | News</nav><article><h1>{title}</h1><p>{body}</p></article><footer>Contact</footer></body></html>")
}

async fn feed(State(site): State<Arc<Site>>, headers: HeaderMap) -> Response {
    site.feed_requests.fetch_add(1, Ordering::SeqCst);
    if site.feed_gone.load(Ordering::SeqCst) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let version = site.version.load(Ordering::SeqCst);
    let etag = format!("\"v{version}\"");
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(etag.as_str())
    {
        site.not_modified.fetch_add(1, Ordering::SeqCst);
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let base = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let items = if version >= 2 {
        format!("{ITEM_C}{ITEM_B}{ITEM_A}")
    } else {
        format!("{ITEM_B}{ITEM_A}")
    };
    let xml = format!(
        r#"<?xml version="1.0"?><rss version="2.0"><channel><title>Town Crier</title><link>http://{base}/</link><description>Local news</description>{}</channel></rss>"#,
        items.replace("BASE", &format!("http://{base}"))
    );
    (
        [
            (header::CONTENT_TYPE, "application/rss+xml; charset=utf-8"),
            (header::ETAG, etag.as_str()),
        ],
        xml,
    )
        .into_response()
}

pub async fn serve(site: Arc<Site>) -> String {
    let app = Router::new()
        .route("/feed.xml", get(feed))
        // The same stories in a second feed of the same site, and in many more.
        .route("/feed2.xml", get(feed))
        .route("/many/:n", get(feed))
        .route("/news/a", get(|State(s): State<Arc<Site>>| async move {
            s.page_fetches.fetch_add(1, Ordering::SeqCst);
            ([(header::CONTENT_TYPE, "text/html")], article("Water main repairs finished", "Crews finished replacing the water main under Elm Street on Thursday, two days ahead of schedule."))
        }))
        .route("/news/c", get(|State(s): State<Arc<Site>>| async move {
            s.page_fetches.fetch_add(1, Ordering::SeqCst);
            if s.hold_c.load(Ordering::SeqCst) {
                let released = s.release_c.notified();
                s.c_held.fetch_add(1, Ordering::SeqCst);
                released.await;
            }
            if s.fail_c.load(Ordering::SeqCst) {
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
            ([(header::CONTENT_TYPE, "text/html")], article("School term starts a week late", "The autumn term will start on September 9 because the new heating system is not ready, the school board said.")).into_response()
        }))
        .with_state(site);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

/// The site with stories A, B and C, C's page failing; and its feed's address.
async fn story_c_failing() -> (Arc<Site>, String) {
    let site = Arc::new(Site::default());
    site.version.store(2, Ordering::SeqCst);
    site.fail_c.store(true, Ordering::SeqCst);
    let base = serve(site.clone()).await;
    (site, format!("{base}/feed.xml"))
}

fn run(app: &App, args: &[&str]) -> Run {
    app.run_with_env(args, &[("NEWSQA_FETCH_ALLOW", "127.0.0.1")])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feeds_ingest_new_items_once_across_polls_and_restarts() {
    let site = Arc::new(Site::default());
    site.version.store(1, Ordering::SeqCst);
    let base = serve(site.clone()).await;
    let url = format!("{base}/feed.xml");
    let app = spawn_app();
    // Every CLI run is a fresh process: the state file is all that carries over.
    let (added, unchanged, grown, again, list, titles, answer) = tokio::task::spawn_blocking({
        let site = site.clone();
        move || {
            let added = run(&app, &["feed", "add", &url]);
            let unchanged = run(&app, &["feed", "poll"]);
            site.version.store(2, Ordering::SeqCst);
            let grown = run(&app, &["feed", "poll"]);
            let again = run(&app, &["feed", "poll", "--json"]);
            let list = run(&app, &["feed", "list", "--json"]);
            let titles: Vec<String> = app
                .articles()
                .iter()
                .map(|a| a["title"].as_str().unwrap().to_owned())
                .collect();
            let answer = app
                .ok(&["ask", "--json", "When will the museum open on Sundays?"])
                .json();
            assert!(run(&app, &["feed", "remove", &url]).ok);
            assert!(run(&app, &["feed", "list"]).stdout.contains("no feeds"));
            (added, unchanged, grown, again, list, titles, answer)
        }
    })
    .await
    .unwrap();
    assert!(added.ok, "{}\n{}", added.stdout, added.stderr);
    assert!(
        added.stdout.contains("2 new article(s)"),
        "{}",
        added.stdout
    );
    assert!(
        unchanged.stdout.contains("not modified"),
        "{}",
        unchanged.stdout
    );
    assert!(
        grown.stdout.contains("1 new article(s)")
            && grown.stdout.contains("School term starts a week late"),
        "{}",
        grown.stdout
    );
    let again: serde_json::Value = serde_json::from_str(again.stdout.trim()).unwrap();
    assert_eq!(again["not_modified"], true);
    assert_eq!(site.not_modified.load(Ordering::SeqCst), 2);
    // Item pages fetched once each; B's page is gone, so the feed's own copy went in.
    assert_eq!(site.page_fetches.load(Ordering::SeqCst), 2);
    assert_eq!(titles.len(), 3, "{titles:?}");
    assert!(
        titles.iter().any(|t| t == "Museum adds Sunday hours"),
        "{titles:?}"
    );
    assert_eq!(
        answer["citation"],
        "The city museum will open on Sundays from noon to five starting in June, the director announced.",
        "{answer}"
    );
    let list: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    assert_eq!(list[0]["title"], "Town Crier");
    assert_eq!(list[0]["ingested"], 3);
    assert_eq!(list[0]["seen"], 3);
    assert_eq!(list[0]["failing"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_feed_is_reported_and_backed_off() {
    let site = Arc::new(Site::default());
    site.version.store(1, Ordering::SeqCst);
    let base = serve(site.clone()).await;
    let app = spawn_app();
    let url = format!("{base}/feed.xml");
    let (added, failed, list, waiting, forced, after) = tokio::task::spawn_blocking(move || {
        let added = run(&app, &["feed", "add", &url]);
        // The feed goes away after it was subscribed.
        site.feed_gone.store(true, Ordering::SeqCst);
        (
            added,
            run(&app, &["feed", "poll"]),
            run(&app, &["feed", "list", "--json"]),
            // A poll from cron respects the backoff; --force does not.
            run(&app, &["feed", "poll"]),
            run(&app, &["feed", "poll", "--force"]),
            run(&app, &["feed", "list", "--json"]),
        )
    })
    .await
    .unwrap();
    assert!(added.ok, "{}", added.stderr);
    assert!(!failed.ok);
    assert!(
        failed.stderr.contains("the server answered 404"),
        "{}",
        failed.stderr
    );
    assert!(waiting.ok, "{}", waiting.stderr);
    assert!(
        waiting.stdout.contains("back off after failures"),
        "{}",
        waiting.stdout
    );
    assert!(!forced.ok);
    assert!(forced.stderr.contains("404"), "{}", forced.stderr);
    let after: serde_json::Value = serde_json::from_str(&after.stdout).unwrap();
    assert_eq!(after[0]["failures"], 2, "{after}");
    assert_eq!(after[0]["claimed_until"], 0, "{after}");
    let list: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    assert_eq!(list[0]["failures"], 1);
    assert!(list[0]["last_error"].as_str().unwrap().contains("404"));
    assert!(
        list[0]["next_poll"].as_u64().unwrap() > list[0]["last_success"].as_u64().unwrap() + 900
    );
}

/// Issue 35: `feed add` keeps only a feed that parses, and says why it did not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_add_keeps_only_a_feed_that_parses() {
    let base = serve(Arc::new(Site::default())).await;
    let app = spawn_app();
    let (missing, page, list) = tokio::task::spawn_blocking(move || {
        (
            run(&app, &["feed", "add", &format!("{base}/no-such-feed.xml")]),
            run(&app, &["feed", "add", &format!("{base}/news/a")]),
            run(&app, &["feed", "list"]),
        )
    })
    .await
    .unwrap();
    for (refused, why) in [
        (&missing, "the server answered 404"),
        (&page, "is not an RSS or Atom feed"),
    ] {
        assert!(!refused.ok);
        assert!(refused.stderr.contains(why), "{}", refused.stderr);
        assert!(
            refused.stderr.contains("not subscribed"),
            "{}",
            refused.stderr
        );
        assert!(
            !refused.stdout.contains("subscribed to"),
            "{}",
            refused.stdout
        );
    }
    assert!(list.stdout.contains("no feeds"), "{}", list.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_token_in_the_query_string_is_never_printed() {
    let site = Arc::new(Site::default());
    site.version.store(1, Ordering::SeqCst);
    let base = serve(site.clone()).await;
    let url = format!("{base}/feed.xml?token=s3cret");
    let app = spawn_app();
    let runs = tokio::task::spawn_blocking(move || {
        let mut runs = vec![run(&app, &["-v", "feed", "add", &url])];
        site.version.store(2, Ordering::SeqCst);
        runs.push(run(&app, &["-v", "feed", "poll"]));
        runs.push(run(&app, &["feed", "poll", "--json"]));
        runs.push(run(&app, &["feed", "list"]));
        runs.push(run(&app, &["feed", "list", "--json"]));
        // Removing by the address as listed works.
        let shown = format!("{base}/feed.xml?…");
        runs.push(run(&app, &["feed", "remove", &shown]));
        runs
    })
    .await
    .unwrap();
    for r in &runs {
        assert!(
            !r.stdout.contains("s3cret") && !r.stderr.contains("s3cret"),
            "{}\n{}",
            r.stdout,
            r.stderr
        );
    }
    // The list shows the address without its query.
    assert!(runs[3].stdout.contains("feed.xml?…"), "{}", runs[3].stdout);
    assert!(runs[5].ok, "{}\n{}", runs[5].stdout, runs[5].stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_that_failed_is_ingested_later_not_lost_behind_a_304() {
    let (site, url) = story_c_failing().await;
    let app = spawn_app();
    let (added, retried, fixed, titles) = tokio::task::spawn_blocking(move || {
        let added = run(&app, &["feed", "add", &url]);
        // The feed has not changed; story C still fails and must be tried again.
        let retried = run(&app, &["feed", "poll", "--json"]);
        site.fail_c.store(false, Ordering::SeqCst);
        let fixed = run(&app, &["feed", "poll", "--json"]);
        let titles: Vec<String> = app
            .articles()
            .iter()
            .map(|a| a["title"].as_str().unwrap().to_owned())
            .collect();
        (added, retried, fixed, titles)
    })
    .await
    .unwrap();
    assert!(
        added.stdout.contains("2 new article(s)"),
        "{}\n{}",
        added.stdout,
        added.stderr
    );
    let retried: serde_json::Value = serde_json::from_str(retried.stdout.trim()).unwrap();
    assert_eq!(retried["not_modified"], false, "{retried}");
    assert_eq!(retried["failed"].as_array().unwrap().len(), 1, "{retried}");
    let fixed: serde_json::Value = serde_json::from_str(fixed.stdout.trim()).unwrap();
    assert_eq!(
        fixed["added"][0]["title"], "School term starts a week late",
        "{fixed}"
    );
    assert!(
        titles.iter().any(|t| t == "School term starts a week late"),
        "{titles:?}"
    );
}

/// Issue 33 (11): an item that always fails is given up after a bounded number of polls,
/// and said so, instead of taking the per-poll cap forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_that_always_fails_is_given_up_and_counted() {
    let (site, url) = story_c_failing().await;
    let app = spawn_app();
    let site2 = site.clone();
    let (polls, fetches_before, last) = tokio::task::spawn_blocking(move || {
        let mut polls = vec![run(&app, &["feed", "add", &url])];
        for _ in 1..newsqa::feeds::ITEM_TRIES {
            polls.push(run(&app, &["feed", "poll", "--json"]));
        }
        let fetches_before = site2.page_fetches.load(Ordering::SeqCst);
        let last = run(&app, &["feed", "poll", "--json"]);
        let list = run(&app, &["feed", "list"]);
        assert!(
            list.stdout.contains("gave up on 1 item(s)"),
            "{}",
            list.stdout
        );
        (polls, fetches_before, last)
    })
    .await
    .unwrap();
    let given_up: serde_json::Value =
        serde_json::from_str(polls.last().unwrap().stdout.trim()).unwrap();
    assert_eq!(
        given_up["given_up"].as_array().map(Vec::len),
        Some(1),
        "{given_up}"
    );
    assert!(given_up["given_up"][0]
        .as_str()
        .unwrap()
        .ends_with("/news/c"));
    let last: serde_json::Value = serde_json::from_str(last.stdout.trim()).unwrap();
    assert_eq!(last["failed"], serde_json::json!([]), "{last}");
    assert_eq!(
        site.page_fetches.load(Ordering::SeqCst),
        fetches_before,
        "the given-up page is not fetched again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_story_in_two_feeds_is_announced_once() {
    let site = Arc::new(Site::default());
    site.version.store(1, Ordering::SeqCst);
    let base = serve(site.clone()).await;
    let app = spawn_app();
    let (first, second) = tokio::task::spawn_blocking(move || {
        (
            run(&app, &["feed", "add", &format!("{base}/feed.xml")]),
            run(&app, &["feed", "add", &format!("{base}/feed2.xml")]),
        )
    })
    .await
    .unwrap();
    assert!(
        first.stdout.contains("2 new article(s)"),
        "{}",
        first.stdout
    );
    assert!(second.ok, "{}", second.stderr);
    assert!(
        second.stdout.contains("0 new article(s)"),
        "{}",
        second.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_takes_at_most_the_cap_and_leaves_the_rest_for_the_next() {
    let site = Arc::new(Site::default());
    site.version.store(2, Ordering::SeqCst);
    let base = serve(site.clone()).await;
    let app = spawn_app();
    app.write("config.toml", b"[feeds]\nmax_items_per_poll = 2\n");
    let (added, next) = tokio::task::spawn_blocking(move || {
        let added = run(&app, &["feed", "add", &format!("{base}/feed.xml")]);
        let next = run(&app, &["feed", "poll", "--json"]);
        (added, next)
    })
    .await
    .unwrap();
    assert!(
        added.stdout.contains("2 new article(s)"),
        "{}",
        added.stdout
    );
    let next: serde_json::Value = serde_json::from_str(next.stdout.trim()).unwrap();
    assert_eq!(next["not_modified"], false, "{next}");
    // Oldest first: A and B went in first, the newest (C) now.
    assert_eq!(next["added"].as_array().unwrap().len(), 1, "{next}");
    assert_eq!(
        next["added"][0]["title"], "School term starts a week late",
        "{next}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_changing_the_feed_list_at_once_lose_nothing() {
    // Eight `feed add`s at once, each a read-modify-write of the one feed list: every
    // subscription is kept, and the file stays whole.
    let site = Arc::new(Site::default());
    site.version.store(1, Ordering::SeqCst);
    let base = serve(site).await;
    let app = spawn_app();
    let (list, runs) = tokio::task::spawn_blocking(move || {
        let children: Vec<_> = (0..8)
            .map(|i| {
                let url = format!("{base}/many/{i}");
                app.command(&["feed", "add", &url])
                    .env("NEWSQA_FETCH_ALLOW", "127.0.0.1")
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let runs: Vec<_> = children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect();
        (run(&app, &["feed", "list", "--json"]), runs)
    })
    .await
    .unwrap();
    for r in &runs {
        let stdout = String::from_utf8_lossy(&r.stdout);
        let stderr = String::from_utf8_lossy(&r.stderr);
        assert!(stdout.contains("subscribed to"), "{stdout}\n{stderr}");
    }
    assert!(list.ok, "{}", list.stderr);
    let list: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 8, "{list:?}");
    // Each first poll was stored, and each claim ended.
    for s in list {
        assert_eq!(s["failures"], 0, "{s}");
        assert!(s["last_success"].is_u64(), "{s}");
        assert_eq!(s["claimed_until"], 0, "{s}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_of_ten_thousand_items_is_followed_from_its_newest() {
    // Newest first, as feeds list them; each item carries its own copy (no link).
    let mut xml = String::from(
        r#"<?xml version="1.0"?><rss version="2.0"><channel><title>Archive</title><link>http://archive.example/</link><description>All of it</description>"#,
    );
    for n in (0..10_000).rev() {
        xml.push_str(&format!(
            "<item><guid>story-{n}</guid><title>Harbour report number {n}</title><description>&lt;p&gt;Harbour report number {n} counts {n} boats in the harbour on its day, the harbour master said.&lt;/p&gt;</description></item>"
        ));
    }
    xml.push_str("</channel></rss>");
    let app = Router::new().route(
        "/archive.xml",
        get(move || {
            let xml = xml.clone();
            async move { ([(header::CONTENT_TYPE, "application/rss+xml")], xml) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/archive.xml", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let newsqa = spawn_app();
    let (added, next) = tokio::task::spawn_blocking(move || {
        let added = run(&newsqa, &["feed", "add", &url]);
        let next = run(&newsqa, &["feed", "poll"]);
        (added, next)
    })
    .await
    .unwrap();
    assert!(added.ok, "{}", added.stderr);
    assert!(
        added
            .stdout
            .contains("50 new article(s), 450 more at the next poll")
            && added
                .stdout
                .contains("the feed lists 10000 items, and only the newest 500 are followed"),
        "{}",
        added.stdout
    );
    let numbers = |out: &str| -> Vec<u32> {
        out.lines()
            .filter_map(|l| l.trim().strip_prefix("added: Harbour report number "))
            .map(|n| n.parse().unwrap())
            .collect()
    };
    let first = numbers(&added.stdout);
    let second = numbers(&next.stdout);
    assert_eq!((first.len(), second.len()), (50, 50), "{}", next.stdout);
    // The newest 500 (9,500 to 9,999), oldest of them first; none twice.
    assert!(
        first.iter().chain(&second).all(|&n| n >= 9_500),
        "{first:?} {second:?}"
    );
    assert!(second.iter().all(|n| !first.contains(n)));
    assert!(
        next.stdout.contains("400 more at the next poll"),
        "{}",
        next.stdout
    );
}
