use crate::helpers::*;

#[test]
fn reingesting_the_same_article_changes_nothing() {
    let app = spawn_app();
    let first = app.ingest_seed();
    assert!(
        first.stdout.starts_with("added: Cyber Operations"),
        "{}",
        first.stdout
    );
    let before = app.articles();
    let second = app.ingest_seed();
    assert!(
        second.stdout.starts_with("unchanged: "),
        "{}",
        second.stdout
    );
    let third = app.ok(&["ingest", "--json", SEED_ARTICLE]).json_lines();
    assert_eq!(third.len(), 1);
    assert_eq!(third[0]["ok"], true);
    // Every line names its input, as a failure's does (issue 35).
    assert_eq!(third[0]["path"], SEED_ARTICLE);
    assert_eq!(third[0]["article"]["status"], "unchanged");
    assert_eq!(third[0]["article"]["sentences"], 19);
    assert_eq!(app.articles(), before);
    assert_eq!(before.len(), 1);
    assert_eq!(before[0]["date"], "Mar 10, 2025");
}

#[test]
fn forgetting_removes_the_article_and_its_answers() {
    let app = spawn_app();
    app.ingest_seed();
    let id = app.articles()[0]["id"].as_str().unwrap().to_owned();
    let out = app.ok(&["forget", &id]).stdout;
    assert!(out.starts_with("forgot: Cyber Operations"), "{out}");
    assert!(app.articles().is_empty());
    let reply = app
        .ok(&[
            "ask",
            "--json",
            "Who issued the order to pause the cyber operations?",
        ])
        .json();
    assert_eq!(reply["answered"], false);
    let again = app.run(&["forget", &id]);
    assert!(!again.ok);
    assert!(
        again.stderr.contains("no article with id or URL"),
        "{}",
        again.stderr
    );
}

#[test]
fn a_directory_batch_reports_bad_files_and_ingests_the_rest() {
    let app = spawn_app();
    let seed = std::fs::read(SEED_ARTICLE).unwrap();
    app.write("batch/good/seed.txt", &seed);
    app.write("batch/empty.txt", b"   \n\n");
    app.write(
        "batch/binary.txt",
        &[0x7f, b'E', b'L', b'F', 0, 0, 0, 1, 2, 3],
    );
    app.write(
        "batch/latin1.txt",
        b"Caf\xe9 owners protest\n\nCaf\xe9 owners in Paris protested on Monday against new rent rules. The mayor said talks would continue.",
    );
    app.write("batch/notes.json", b"{}"); // not an article extension: skipped
    app.write("config.toml", b"[ingest]\nmax_bytes = 3000\n");
    app.write("batch/huge.txt", &vec![b'a'; 5000]);
    let run = app.run(&["ingest", path_str(&app.dir.path().join("batch"))]);
    assert!(!run.ok, "a batch with failures exits non-zero");
    assert!(
        run.stdout
            .contains("5 inputs: 1 added, 0 updated, 0 unchanged, 4 failed"),
        "{}",
        run.stdout
    );
    // Each error names its file and says what is wrong.
    assert!(
        run.stderr.contains("empty.txt: no article text found"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("binary.txt: looks like a binary file"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("huge.txt: 5000 bytes is over the ingest size cap of 3000 bytes"),
        "{}",
        run.stderr
    );
    // seed.txt is 3,662 bytes, over this config's cap too; the latin-1 file went in.
    let titles: Vec<String> = app
        .articles()
        .iter()
        .map(|a| a["title"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(titles, vec!["Café owners protest"]);
}

#[test]
fn stdin_with_title_and_url_uses_the_url_as_id() {
    let app = spawn_app();
    let text = "Markets rallied on Tuesday after the central bank held rates at 4.5%. Analysts at Barclays said the decision was expected.";
    let run = app.run_with_stdin(
        &[
            "ingest",
            "-",
            "--title",
            "Rates held",
            "--url",
            "https://news.example/rates",
        ],
        text.as_bytes(),
    );
    assert!(run.ok, "{}", run.stderr);
    let list = app.articles();
    assert_eq!(list[0]["id"], "https://news.example/rates");
    assert_eq!(list[0]["title"], "Rates held");
    let reply = app
        .ok(&[
            "ask",
            "--json",
            "At what level did the central bank hold rates?",
        ])
        .json();
    assert_eq!(reply["answer"], "4.5%");
    assert_eq!(reply["url"], "https://news.example/rates");
    app.ok(&["forget", "https://news.example/rates"]);
    assert!(app.articles().is_empty());
}

#[test]
fn an_html_page_is_ingested_without_its_navigation() {
    let app = spawn_app();
    let html = r#"<!doctype html><html><head><title>Pause ordered | Example News</title>
        <meta property="og:title" content="Pentagon pauses cyber operations">
        <script>window.ads = "Which agency is exempted? The ad agency.";</script></head>
        <body><nav><ul><li><a href="/">Home</a></li><li><a href="/world">World</a></li></ul></nav>
        <article><h1>Pentagon pauses cyber operations</h1>
        <p>The order was issued by new defense secretary Pete Hegseth, who also requested a risk assessment report.</p>
        <p>The order seems to primarily impact cyber operations at the Cyber National Mission Force, with the NSA specifically exempted from its parameters.</p>
        <p>CISA responded to the report by indicating that its defensive mission has not changed at all.</p>
        </article><aside>Subscribe to our newsletter for more stories like this one.</aside>
        <footer>© Example News 2025</footer></body></html>"#;
    let page = app.write("page.html", html.as_bytes());
    app.ok(&["ingest", path_str(&page)]);
    assert_eq!(
        app.articles()[0]["title"],
        "Pentagon pauses cyber operations"
    );
    let reply = app
        .ok(&["ask", "--json", "Which agency is exempted from the order?"])
        .json();
    assert_eq!(reply["answer"], "the NSA");
    assert_eq!(
        reply["citation"],
        "The order seems to primarily impact cyber operations at the Cyber National Mission Force, with the NSA specifically exempted from its parameters."
    );
}

#[test]
fn help_describes_every_command() {
    let app = spawn_app();
    let help = app.ok(&["--help"]).stdout;
    for cmd in [
        "ingest", "ask", "articles", "show", "forget", "eval", "feed", "serve",
    ] {
        assert!(help.contains(cmd), "{help}");
    }
    let help = app.ok(&["eval", "--help"]).stdout;
    for flag in ["--limit", "--json", "--no-ingest", "--details"] {
        assert!(help.contains(flag), "{help}");
    }
}

#[test]
fn an_ingest_waits_for_another_writer_then_says_the_index_is_busy() {
    use newsqa_index::{Article, ArticleIndex, Metadata, PassageConfig};
    let app = spawn_app();
    app.ingest_seed();
    // Another process in the middle of a write (say, the bot): it holds the writer lock
    // until it commits.
    let other = ArticleIndex::open(&app.index()).unwrap();
    let held = Article::parse(
        b"Rain\n\nIt rained all week in the north.",
        Metadata {
            source: "rain.txt".into(),
            ..Default::default()
        },
        1 << 20,
        PassageConfig::default(),
    )
    .unwrap();
    other
        .upsert(&held, &vec![vec![0.0; 384]; held.sentences.len()])
        .unwrap();
    let config = app.write("config.toml", b"[index]\nlock_wait_secs = 1\n");
    let file = app.write(
        "cup.txt",
        b"Cup final\n\nArsenal beat Manchester United on penalties in the FA Cup final.",
    );
    let args = ["--config", path_str(&config), "ingest", path_str(&file)];
    let busy = app.run(&args);
    assert!(!busy.ok, "{}", busy.stdout);
    assert!(
        busy.stderr
            .contains("index busy: another newsqa process is writing to it"),
        "{}",
        busy.stderr
    );
    // Once the other writer is done, the same ingest goes through.
    other.commit().unwrap();
    app.ok(&args);
    assert_eq!(app.articles().len(), 3);
}

#[test]
fn a_symlink_loop_in_an_ingest_directory_is_skipped() {
    let app = spawn_app();
    let seed = std::fs::read(SEED_ARTICLE).unwrap();
    app.write("batch/news/seed.txt", &seed);
    // A link back up the tree: followed naively it finds seed.txt again at every depth.
    std::os::unix::fs::symlink("..", app.dir.path().join("batch/news/up")).unwrap();
    let run = app.run(&["ingest", path_str(&app.dir.path().join("batch"))]);
    assert!(run.ok, "{}\n{}", run.stdout, run.stderr);
    // One input, added once; not found again under up/news/up/news/...
    assert_eq!(run.stdout.matches("added: ").count(), 1, "{}", run.stdout);
    assert!(!run.stdout.contains("inputs:"), "{}", run.stdout);
    assert!(run.stderr.contains("a symlink loop"), "{}", run.stderr);
}

#[test]
#[allow(clippy::incompatible_msrv)] // std::io::pipe, in the test only
fn a_closed_output_pipe_ends_a_command_quietly() {
    use std::os::unix::process::ExitStatusExt;
    let app = spawn_app();
    app.ingest_seed();
    // `newsqa articles --json | head -c 0`: the reader is gone before the first write.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = app
        .command(&["articles", "--json"])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    assert!(
        out.status.success() || out.status.signal() == Some(13),
        "{:?}",
        out.status
    );
}

#[test]
fn an_address_that_is_not_http_says_how_to_give_a_file() {
    let app = spawn_app();
    let run = app.run(&["ingest", "file:///etc/hostname"]);
    assert!(!run.ok);
    assert!(
        run.stderr.contains(
            "file:///etc/hostname: only http:// and https:// addresses are fetched; \
             give a local file by its path (here: /etc/hostname)"
        ),
        "{}",
        run.stderr
    );
    let run = app.run(&["ingest", "ftp://example.com/story.txt"]);
    assert!(
        run.stderr
            .contains("ftp://example.com/story.txt: only http:// and https:// addresses"),
        "{}",
        run.stderr
    );
}

#[test]
fn show_prints_what_was_taken_from_an_article_one_sentence_a_line() {
    let app = spawn_app();
    app.ok(&["ingest", SEED_ARTICLE]);
    let id = app.articles()[0]["id"].as_str().unwrap().to_owned();
    let shown = app.ok(&["show", &id]).stdout;
    assert!(
        shown.starts_with(
            "Cyber Operations Targeting Russia Paused, But Order Came Before Trump-Zelensky Meeting\n"
        ),
        "{shown}"
    );
    assert!(shown.contains(&format!("id:     {id}")), "{shown}");
    let nsa = "The order seems to primarily impact cyber operations at the Cyber National Mission Force, with the NSA specifically exempted from its parameters.";
    assert!(shown.lines().any(|l| l == nsa), "{shown}");
    // By a unique id prefix too, and as JSON with the sentences in order.
    let json = app.ok(&["show", &id[..16], "--json"]).json();
    let text = json["text"].as_array().unwrap();
    assert_eq!(text.len(), json["sentences"].as_u64().unwrap() as usize);
    assert!(text.iter().any(|s| s == nsa));
    let missing = app.run(&["show", "https://example.com/nothing"]);
    assert!(!missing.ok);
    assert!(missing.stderr.contains("no article"), "{}", missing.stderr);
}

#[test]
fn hostile_files_are_refused_or_read_and_the_rest_of_the_batch_goes_in() {
    let app = spawn_app();
    app.write("batch/seed.txt", &std::fs::read(SEED_ARTICLE).unwrap());
    app.write("batch/empty.txt", b"");
    // 50 MB (sparse): refused by its size before it is read.
    let big = app.write("batch/big.txt", b"");
    std::fs::File::options()
        .write(true)
        .open(&big)
        .unwrap()
        .set_len(50 << 20)
        .unwrap();
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\x01\0\0\0\x01\0\x08\x06\0\0\0".to_vec();
    png.extend((0..4000u32).map(|i| (i * 7919 % 251) as u8));
    app.write("batch/photo.txt", &png);
    let utf16 = |text: &str| -> Vec<u8> {
        [0xff, 0xfe]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
            .collect()
    };
    app.write(
        "batch/tides.html",
        &utf16("<html><head><title>Tide tables</title></head><body><article><p>The harbour master said the spring tide will peak at 6.2 metres on Tuesday morning.</p><p>Boats must leave the inner basin before dawn, she said.</p></article></body></html>"),
    );
    app.write(
        "batch/ferry.txt",
        &utf16("Ferry timetable changes\r\n\r\nThe island ferry will run every 40 minutes from Monday, the operator said."),
    );
    let n = 100_000;
    app.write(
        "batch/deep.html",
        format!(
            "<html><head><title>Bridge opens</title></head><body>{}<p>The mayor opened the new bridge over the river on Monday. It cost four million pounds, the council said.</p>{}</body></html>",
            "<div>".repeat(n),
            "</div>".repeat(n)
        )
        .as_bytes(),
    );
    let run = app.run(&["ingest", path_str(&app.dir.path().join("batch"))]);
    assert!(!run.ok, "a batch with failures exits non-zero");
    assert!(
        run.stdout
            .contains("7 inputs: 4 added, 0 updated, 0 unchanged, 3 failed"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    for expected in [
        "empty.txt: no article text found",
        "big.txt: 52428800 bytes is over the ingest size cap",
        "photo.txt: looks like a binary file",
    ] {
        assert!(run.stderr.contains(expected), "{expected}: {}", run.stderr);
    }
    let mut titles: Vec<String> = app
        .articles()
        .iter()
        .map(|a| a["title"].as_str().unwrap().to_owned())
        .collect();
    titles.sort();
    assert_eq!(titles.len(), 4, "{titles:?}");
    assert!(titles.contains(&"Tide tables".to_owned()), "{titles:?}");
    assert!(
        titles.contains(&"Ferry timetable changes".to_owned()),
        "{titles:?}"
    );
    assert!(titles.contains(&"Bridge opens".to_owned()), "{titles:?}");
    // What the UTF-16 and the deeply nested pages say can be asked about.
    let tide = app.ok(&["ask", "--json", "How high will the spring tide peak?"]);
    assert!(tide.stdout.contains("6.2 metres"), "{}", tide.stdout);
    let bridge = app.ok(&["ask", "--json", "How much did the new bridge cost?"]);
    assert!(
        bridge.stdout.contains("four million pounds"),
        "{}",
        bridge.stdout
    );
}

/// Issue 35: a directory ingest says what it left out and why, and which files it takes.
#[test]
fn a_directory_ingest_says_what_it_skipped() {
    let app = spawn_app();
    app.write(
        "corpus/a.txt",
        b"Harbor Bridge Reopens\n\nThe Harbor Bridge reopened to traffic on Monday.",
    );
    app.write("corpus/.hidden.txt", b"Hidden\n\nNot read at all.");
    app.write("corpus/noext", b"No extension\n\nNot an article file.");
    app.write("corpus/report.pdf", b"%PDF-1.4\n");
    let corpus = app.dir.path().join("corpus");
    let run = app.run(&["ingest", corpus.to_str().unwrap()]);
    assert!(run.ok, "{}", run.stderr);
    assert!(
        run.stdout.contains("added: Harbor Bridge Reopens"),
        "{}",
        run.stdout
    );
    for said in [
        "skipped 3",
        "1 .pdf",
        "1 without an extension",
        "1 hidden",
        "ingest takes .txt",
    ] {
        assert!(run.stderr.contains(said), "{said}: {}", run.stderr);
    }
}
