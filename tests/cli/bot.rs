//! The real bot (`newsqa serve`, real models, real serenity client) against a fake Discord on
//! 127.0.0.1: what it registers, how it acknowledges, and every reply it sends.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tempfile::TempDir;

use crate::discord::{
    attachment, button_press, interaction_token, message_create, reply_to, slash_command,
    FakeDiscord, FakeUser, Fault, APP_ID, BOT_USER_ID,
};
use crate::helpers::SEED_ARTICLE;

const GUILD_A: u64 = 1001;
const GUILD_B: u64 = 2002;
const CHANNEL: u64 = 3003;
const WAIT: Duration = Duration::from_secs(120);
const MESSAGE_CONTENT_INTENT: u64 = 1 << 15;
const EPHEMERAL: u64 = 1 << 6;

const NSA_QUESTION: &str = "Which agency is exempted from the order?";
const NSA_CITATION: &str = "The order seems to primarily impact cyber operations at the Cyber National Mission Force, with the NSA specifically exempted from its parameters.";

/// A running `newsqa serve` connected to its own fake Discord, with corpora in a temp dir.
struct Bot {
    dir: TempDir,
    fake: std::sync::Arc<FakeDiscord>,
    child: Child,
    /// Its `RUST_LOG`.
    log_filter: &'static str,
}

const DEFAULT_LOG: &str = "info,serenity=warn,tracing::span=warn";
const TOKEN: &str = "MTAw.fake.token-for-tests";

impl Bot {
    /// Writes a config (`extra` is appended), seeds guild A with the seed article when asked,
    /// starts the bot and waits until it is connected and has registered its commands.
    async fn start(extra: &str, seed: bool) -> Bot {
        Bot::start_logging(extra, seed, DEFAULT_LOG).await
    }

    /// Like [`Bot::start`], with `RUST_LOG` set to `log`.
    async fn start_logging(extra: &str, seed: bool, log: &'static str) -> Bot {
        let fake = std::sync::Arc::new(FakeDiscord::start().await);
        Bot::start_on(fake, extra, seed, log).await
    }

    /// Like [`Bot::start_logging`], against a fake Discord set up beforehand.
    async fn start_on(
        fake: std::sync::Arc<FakeDiscord>,
        extra: &str,
        seed: bool,
        log: &'static str,
    ) -> Bot {
        let dir = tempfile::tempdir().unwrap();
        let config = format!(
            "[index]\npath = \"{}\"\nguilds = \"{}\"\n{extra}\n",
            dir.path().join("index").display(),
            dir.path().join("guilds").display()
        );
        std::fs::write(dir.path().join("config.toml"), config).unwrap();
        if seed {
            let out = cli(
                dir.path(),
                &["--guild", &GUILD_A.to_string(), "ingest", SEED_ARTICLE],
            );
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let child = spawn_serve(dir.path(), &fake, log);
        let bot = Bot {
            dir,
            fake,
            child,
            log_filter: log,
        };
        bot.fake.wait_ready(WAIT).await;
        bot.fake
            .wait_for("global command registration", WAIT, |r| {
                r.method == "PUT" && r.path == format!("/api/v10/applications/{APP_ID}/commands")
            })
            .await;
        bot
    }

    /// Kills the process with SIGKILL: no shutdown, nothing flushed or released.
    fn kill9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Starts `serve` again on the same data and fake Discord; waits until it has identified.
    async fn restart(&mut self) {
        let identified = self.fake.identify_count();
        self.child = spawn_serve(self.dir.path(), &self.fake, self.log_filter);
        self.wait_until("no IDENTIFY after the restart", || {
            self.fake.identify_count() != identified
        })
        .await;
        self.fake.wait_ready(WAIT).await;
    }

    /// Posts `content` in [`CHANNEL`] of guild A as `user`, mentioning the bot; returns the
    /// message's id and the reply the bot posted (the first post Discord accepted).
    async fn mention(&self, content: &str, user: &FakeUser) -> (String, Value) {
        let msg = message_create(content, GUILD_A, CHANNEL, user, &[BOT_USER_ID]);
        let id = msg["id"].as_str().unwrap().to_owned();
        self.fake.dispatch("MESSAGE_CREATE", msg).await;
        let posted = self
            .fake
            .wait_for("reply to the mention", WAIT, |r| {
                r.method == "POST"
                    && r.path == format!("/api/v10/channels/{CHANNEL}/messages")
                    && r.status == 200
            })
            .await
            .body;
        (id, posted)
    }

    /// Waits until `done` holds (checked every 20 ms), failing with `what` and the bot's log
    /// after [`WAIT`].
    async fn wait_until(&self, what: &str, done: impl Fn() -> bool) {
        let start = Instant::now();
        while !done() {
            assert!(start.elapsed() < WAIT, "{what}:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("serve.log")).unwrap_or_default()
    }

    fn guild_articles(&self, guild: u64) -> Vec<Value> {
        let out = cli(
            self.dir.path(),
            &["--guild", &guild.to_string(), "articles", "--json"],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }

    /// Sends a slash command; returns its token.
    async fn command(
        &self,
        name: &str,
        options: Value,
        resolved: Option<Value>,
        guild: u64,
        user: &FakeUser,
    ) -> String {
        let data = slash_command(name, options, resolved, guild, CHANNEL, user);
        let token = interaction_token(&data);
        self.fake.dispatch("INTERACTION_CREATE", data).await;
        token
    }

    async fn ask(&self, question: &str, guild: u64, user: &FakeUser) -> String {
        self.command(
            "ask",
            json!([{"name": "question", "type": 3, "value": question}]),
            None,
            guild,
            user,
        )
        .await
    }

    /// Sends a slash command and returns what the user finally sees.
    async fn run(
        &self,
        name: &str,
        options: Value,
        resolved: Option<Value>,
        guild: u64,
        user: &FakeUser,
    ) -> Value {
        self.reply(&self.command(name, options, resolved, guild, user).await)
            .await
    }

    /// Asks `/ask` and returns what the user finally sees.
    async fn answer(&self, question: &str, guild: u64, user: &FakeUser) -> Value {
        self.reply(&self.ask(question, guild, user).await).await
    }

    /// The interaction callback for `token`.
    async fn callback(&self, token: &str) -> Value {
        let suffix = format!("/{token}/callback");
        self.fake
            .wait_for("interaction callback", WAIT, |r| {
                r.method == "POST" && r.path.contains(&suffix)
            })
            .await
            .body
    }

    /// The message the user finally sees for `token`: an immediate or updating callback, or the
    /// edit of a deferred one.
    async fn reply(&self, token: &str) -> Value {
        let callback = self.callback(token).await;
        match callback["type"].as_u64() {
            Some(4) | Some(7) => callback["data"].clone(),
            Some(5) | Some(6) => {
                let original = format!("/api/v10/webhooks/{APP_ID}/{token}/messages/@original");
                self.fake
                    .wait_for("edit of the deferred reply", WAIT, |r| {
                        r.method == "PATCH" && r.path.starts_with(&original)
                    })
                    .await
                    .body
            }
            other => panic!("unexpected callback type {other:?}: {callback}"),
        }
    }

    /// Presses a button (by its custom id) on the message the bot sent for `token`.
    async fn press(&self, token: &str, custom_id: &str, guild: u64, user: &FakeUser) -> String {
        let message = json!({"id": message_id_of(token)});
        let data = button_press(custom_id, &message, guild, CHANNEL, user);
        let press = interaction_token(&data);
        self.fake.dispatch("INTERACTION_CREATE", data).await;
        press
    }

    /// Sends SIGTERM.
    fn terminate(&self) {
        let pid = self.child.id().to_string();
        let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(killed.success());
    }

    async fn stop(mut self) -> std::process::ExitStatus {
        self.terminate();
        self.exited().await
    }

    /// Waits for the process to end (after `terminate`).
    async fn exited(&mut self) -> std::process::ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "serve ignored SIGTERM:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- serve.log ---\n{}", self.log());
        }
    }
}

/// The feed tests' site (`feeds.rs`), listing stories A and B; returns it and its address.
async fn feed_site() -> (std::sync::Arc<crate::feeds::Site>, String) {
    let site = std::sync::Arc::new(crate::feeds::Site::default());
    site.version.store(1, std::sync::atomic::Ordering::SeqCst);
    let base = crate::feeds::serve(site.clone()).await;
    (site, base)
}

/// The options of `/feed add url: channel:`, announcing in [`CHANNEL`].
fn feed_add(url: &str) -> Value {
    json!([{"name": "add", "type": 1, "options": [
        {"name": "url", "type": 3, "value": url},
        {"name": "channel", "type": 7, "value": CHANNEL.to_string()}
    ]}])
}

/// Checks that none of `messages` can ping anyone: no mention parsing, no user or role allowed.
fn assert_pings_no_one(messages: &[Value]) {
    for m in messages {
        assert_eq!(m["allowed_mentions"]["parse"], json!([]), "{m}");
        for key in ["users", "roles"] {
            assert!(
                m["allowed_mentions"][key]
                    .as_array()
                    .is_none_or(|v| v.is_empty()),
                "{m}"
            );
        }
    }
}

/// `newsqa serve` in `dir` against `fake`, its log appended to `serve.log`.
fn spawn_serve(dir: &Path, fake: &FakeDiscord, log_filter: &str) -> Child {
    let log = std::fs::File::options()
        .create(true)
        .append(true)
        .open(dir.join("serve.log"))
        .unwrap();
    base_command(dir)
        .arg("serve")
        .env("NEWSQA_DISCORD_TOKEN", TOKEN)
        .env("NEWSQA_DISCORD_API_BASE", fake.api_base())
        .env("RUST_LOG", log_filter)
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap()
}

fn base_command(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_newsqa"));
    cmd.arg("--config")
        .arg(dir.join("config.toml"))
        .current_dir(dir);
    for var in [
        "NEWSQA_CONFIG",
        "NEWSQA_INDEX",
        "NEWSQA_GUILDS",
        "NEWSQA_DISCORD_TOKEN",
        "DISCORD_TOKEN",
        "NEWSQA_DISCORD_API_BASE",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

fn cli(dir: &Path, args: &[&str]) -> std::process::Output {
    base_command(dir).args(args).output().unwrap()
}

/// The id the fake gives the original response of `token` (see `discord.rs`).
fn message_id_of(token: &str) -> String {
    token.trim_start_matches("tok-").to_owned()
}

fn embed(message: &Value) -> &Value {
    &message["embeds"][0]
}

fn button_ids(message: &Value) -> Vec<String> {
    message["components"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row["components"].as_array().cloned().unwrap_or_default())
        .filter_map(|b| b["custom_id"].as_str().map(str::to_owned))
        .collect()
}

fn is_ephemeral(message: &Value) -> bool {
    message["flags"].as_u64().unwrap_or(0) & EPHEMERAL != 0
}

/// Every message body the bot sent to Discord (callbacks, edits, followups, channel messages).
fn sent_messages(fake: &FakeDiscord) -> Vec<Value> {
    fake.requests()
        .into_iter()
        .filter_map(|r| {
            if r.method == "POST" && r.path.ends_with("/callback") {
                let data = r.body["data"].clone();
                (!data.is_null()).then_some(data)
            } else if (r.method == "PATCH" && r.path.contains("/webhooks/"))
                || (r.method == "POST"
                    && (r.path.contains("/webhooks/") || r.path.contains("/messages")))
            {
                Some(r.body)
            } else {
                None
            }
        })
        .collect()
}

fn text_of(message: &Value) -> String {
    format!(
        "{} {}",
        message["content"].as_str().unwrap_or(""),
        message["embeds"]
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ask_is_deferred_then_answered_with_the_cited_sentence() {
    let bot = Bot::start("[discord]\nask_cooldown_secs = 60.0\n", true).await;

    // Registered: the commands; moderators' ones hidden from members by default.
    let put = bot
        .fake
        .requests()
        .into_iter()
        .find(|r| r.method == "PUT")
        .unwrap();
    let names: Vec<&str> = put
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["ask", "ingest", "articles", "feed", "article", "forget", "watch", "unwatch"]
    );
    for c in put.body.as_array().unwrap().iter().skip(1) {
        assert_eq!(c["default_member_permissions"], json!("8192"), "{c}");
    }
    // Plain slash commands: no privileged intent.
    let identify = bot.fake.wait_ready(WAIT).await;
    assert_eq!(
        identify["intents"].as_u64().unwrap() & MESSAGE_CONTENT_INTENT,
        0
    );

    let alice = FakeUser::member(11, "alice");
    let asked = Instant::now();
    let token = bot.ask(NSA_QUESTION, GUILD_A, &alice).await;
    let callback_at = bot
        .fake
        .wait_for("deferral", WAIT, |r| {
            r.path.contains(&format!("/{token}/callback"))
        })
        .await;
    assert_eq!(
        callback_at.body["type"],
        json!(5),
        "the answer must be deferred"
    );
    assert!(
        callback_at.at.duration_since(asked) < Duration::from_secs(3),
        "deferral took {:?}",
        callback_at.at.duration_since(asked)
    );
    let reply = bot.reply(&token).await;
    let edited = bot
        .fake
        .requests()
        .into_iter()
        .find(|r| r.method == "PATCH" && r.path.contains(&token))
        .unwrap();
    eprintln!(
        "deferred after {:?}, answered after {:?}",
        callback_at.at.duration_since(asked),
        edited.at.duration_since(asked)
    );
    let e = embed(&reply);
    assert_eq!(e["title"], json!("the NSA"), "{reply}");
    assert_eq!(e["description"], json!(format!("> {NSA_CITATION}")));
    assert!(
        e["fields"][0]["value"]
            .as_str()
            .unwrap()
            .contains("Cyber Operations Targeting Russia Paused"),
        "{e}"
    );
    assert!(
        e["footer"]["text"]
            .as_str()
            .unwrap()
            .starts_with("Confidence "),
        "{e}"
    );
    assert_eq!(reply["allowed_mentions"]["parse"], json!([]));

    // "Show passage": only the asker sees it, with the answer in bold.
    let buttons = button_ids(&reply);
    assert_eq!(buttons.len(), 3, "{reply}");
    let shown = bot
        .reply(&bot.press(&token, &buttons[0], GUILD_A, &alice).await)
        .await;
    assert!(is_ephemeral(&shown), "{shown}");
    assert!(
        embed(&shown)["description"]
            .as_str()
            .unwrap()
            .contains("**the NSA**"),
        "{shown}"
    );

    // 👍 is recorded with the question, the answer and the article.
    let thanks = bot
        .reply(&bot.press(&token, &buttons[1], GUILD_A, &alice).await)
        .await;
    assert!(
        is_ephemeral(&thanks) && text_of(&thanks).contains("helpful"),
        "{thanks}"
    );
    let votes = std::fs::read_to_string(bot.dir.path().join("guilds/feedback.jsonl")).unwrap();
    let vote: Value = serde_json::from_str(votes.lines().next().unwrap()).unwrap();
    assert_eq!(vote["question"], json!(NSA_QUESTION));
    assert_eq!(vote["answer"], json!("the NSA"));
    assert_eq!(vote["helpful"], json!(true));
    assert!(vote["article_id"].as_str().unwrap().starts_with("sha256:"));

    // Cooldown: asking again at once is refused, privately, without deferring.
    let again = bot.answer("Who issued the order?", GUILD_A, &alice).await;
    assert!(
        is_ephemeral(&again) && text_of(&again).contains("You can ask again in"),
        "{again}"
    );

    // Abstention: a question the article does not answer gets no guess.
    let bob = FakeUser::member(12, "bob");
    let none = bot
        .answer("Who won the 1998 football World Cup final?", GUILD_A, &bob)
        .await;
    assert!(
        text_of(&none).contains("couldn't find the answer"),
        "{none}"
    );
    assert_eq!(none["embeds"], json!([]), "{none}");

    // Guild isolation: another server has none of guild A's articles.
    let carol = FakeUser::member(13, "carol");
    let elsewhere = bot.answer(NSA_QUESTION, GUILD_B, &carol).await;
    assert!(
        text_of(&elsewhere).contains("No articles here yet"),
        "{elsewhere}"
    );
    // A server that never ingested anything reads as empty, with nothing created on disk.
    assert!(
        !bot.dir
            .path()
            .join("guilds")
            .join(GUILD_B.to_string())
            .exists(),
        "asking created an index"
    );

    // Logs name guild, user and article, never the token.
    let log = bot.log();
    assert!(
        log.contains("question answered") && log.contains("guild=1001") && log.contains("user=11"),
        "{log}"
    );
    assert!(!log.contains("fake.token-for-tests"));

    let status = bot.stop().await;
    assert!(status.success(), "serve exited with {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moderators_ingest_and_forget_and_members_cannot() {
    let bot = Bot::start(
        "[fetch]\nallow = [\"127.0.0.1\"]\n[discord]\nask_cooldown_secs = 0.0\nmoderator_roles = [\"Newsdesk\"]\n",
        false,
    )
    .await;
    let member = FakeUser::member(21, "reader");
    let moderator = FakeUser::moderator(22, "mod");
    let text = "Harbor Bridge Reopens After Repairs\n\nThe Harbor Bridge reopened to traffic on Monday after eight months of repairs. \
                City engineer Maria Lopez said the repairs cost 42 million dollars. \
                Cyclists will get a separate lane starting in June.";
    let ingest_text = json!([{"name": "text", "type": 3, "value": text}]);

    // A member is refused politely and nothing changes.
    let refused = bot
        .run("ingest", ingest_text.clone(), None, GUILD_A, &member)
        .await;
    assert!(
        is_ephemeral(&refused) && text_of(&refused).contains("only moderators"),
        "{refused}"
    );
    assert!(bot.guild_articles(GUILD_A).is_empty());

    // A moderator's ingest reports what went in; a question then cites it.
    let added = bot
        .run("ingest", ingest_text, None, GUILD_A, &moderator)
        .await;
    assert_eq!(
        embed(&added)["title"],
        json!("Added a new article"),
        "{added}"
    );
    assert!(embed(&added)["description"]
        .as_str()
        .unwrap()
        .contains("Harbor Bridge Reopens After Repairs"));
    assert_eq!(embed(&added)["fields"][0]["value"], json!("3"), "{added}");
    let answer = bot
        .answer("How much did the bridge repairs cost?", GUILD_A, &member)
        .await;
    assert_eq!(
        embed(&answer)["title"],
        json!("42 million dollars"),
        "{answer}"
    );
    assert!(embed(&answer)["fields"][0]["value"]
        .as_str()
        .unwrap()
        .contains("Harbor Bridge Reopens"));

    // A role named in the config makes a moderator too; attachments are fetched and ingested.
    bot.fake.add_role(GUILD_A, 77, "Newsdesk");
    let editor = FakeUser::member(23, "editor").with_roles(&[77]);
    let page = b"<html><head><title>Library Extends Opening Hours</title></head><body><nav>Home | News</nav>\
        <article><h1>Library Extends Opening Hours</h1><p>The central library will stay open until 10 p.m. on weekdays from next month.</p>\
        <p>Head librarian Tom Baker said students had asked for longer hours.</p></article><footer>Contact us</footer></body></html>";
    let filed = bot
        .ingest_file(555, "hours.html", page, GUILD_A, &editor)
        .await;
    assert_eq!(
        embed(&filed)["title"],
        json!("Added a new article"),
        "{filed}"
    );
    assert!(
        text_of(&filed).contains("Library Extends Opening Hours"),
        "{filed}"
    );

    // A moderator sees what the bot took from an article, one sentence a line.
    let hours = bot
        .guild_articles(GUILD_A)
        .into_iter()
        .find(|a| a["title"] == "Library Extends Opening Hours")
        .unwrap();
    let shown = bot
        .run(
            "article",
            json!([{"name": "article", "type": 3, "value": hours["id"]}]),
            None,
            GUILD_A,
            &editor,
        )
        .await;
    assert_eq!(
        embed(&shown)["title"],
        json!("Library Extends Opening Hours")
    );
    let body = embed(&shown)["description"].as_str().unwrap();
    assert!(
        body.lines()
            .any(|l| l == "Head librarian Tom Baker said students had asked for longer hours."),
        "{shown}"
    );
    assert!(
        !body.contains("Contact us"),
        "the page's footer was not taken: {shown}"
    );
    let refused = bot
        .run(
            "article",
            json!([{"name": "article", "type": 3, "value": hours["id"]}]),
            None,
            GUILD_A,
            &member,
        )
        .await;
    assert!(text_of(&refused).contains("only moderators"), "{refused}");

    // An attachment that is not on Discord's CDN (nor the API's own origin) is not
    // downloaded: nothing listens on port 1, so a download would fail differently.
    let elsewhere = json!({"attachments": {"556": attachment(556, "other.html", 100, "http://127.0.0.1:1/other.html", "text/html")}});
    let refused = bot
        .run(
            "ingest",
            json!([{"name": "file", "type": 11, "value": "556"}]),
            Some(elsewhere),
            GUILD_A,
            &editor,
        )
        .await;
    assert!(
        text_of(&refused).contains("not on Discord's CDN"),
        "{refused}"
    );

    // The same text again is recognised, not duplicated.
    let again = bot
        .run(
            "ingest",
            json!([{"name": "text", "type": 3, "value": text}]),
            None,
            GUILD_A,
            &moderator,
        )
        .await;
    assert!(
        embed(&again)["title"]
            .as_str()
            .unwrap()
            .contains("unchanged"),
        "{again}"
    );

    // A link is fetched (the allow-list opens the fake's 127.0.0.1) and its canonical URL
    // (on the same site, as the page is made to say) kept.
    let site = bot.fake.serve_file("tunnel.html", Vec::new());
    let site = site.trim_end_matches("/attachments/tunnel.html").to_owned();
    let arc = std::fs::read_to_string(format!(
        "{}/tests/data/pages/arc.html",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
    .replace("https://ledger.example", &site);
    let link = bot.fake.serve_file("tunnel.html", arc.into_bytes());
    let linked = bot
        .run(
            "ingest",
            json!([{"name": "url", "type": 3, "value": link}]),
            None,
            GUILD_A,
            &moderator,
        )
        .await;
    assert_eq!(
        embed(&linked)["title"],
        json!("Added a new article"),
        "{linked}"
    );
    assert!(
        text_of(&linked).contains(&format!("{site}/local/2025/04/02/harbor-tunnel-closure")),
        "{linked}"
    );

    // /articles lists all three, privately.
    let list = bot
        .run("articles", json!([]), None, GUILD_A, &moderator)
        .await;
    assert!(is_ephemeral(&list));
    assert_eq!(embed(&list)["title"], json!("3 articles"), "{list}");

    // Guild isolation the other way round: guild B cannot see guild A's new article.
    let elsewhere = bot
        .answer("How much did the bridge repairs cost?", GUILD_B, &member)
        .await;
    assert!(
        text_of(&elsewhere).contains("No articles here yet"),
        "{elsewhere}"
    );

    // /forget asks first; a member cannot press on; the moderator confirms.
    let bridge = bot
        .guild_articles(GUILD_A)
        .into_iter()
        .find(|a| a["title"].as_str().unwrap().contains("Bridge"))
        .unwrap();
    let prefix = &bridge["id"].as_str().unwrap()[..14];
    let forget = bot
        .command(
            "forget",
            json!([{"name": "article", "type": 3, "value": prefix}]),
            None,
            GUILD_A,
            &moderator,
        )
        .await;
    let confirm = bot.reply(&forget).await;
    assert!(
        is_ephemeral(&confirm) && text_of(&confirm).contains("Harbor Bridge"),
        "{confirm}"
    );
    let buttons = button_ids(&confirm);
    assert_eq!(
        bot.guild_articles(GUILD_A).len(),
        3,
        "nothing is removed before confirming"
    );
    let nope = bot
        .reply(&bot.press(&forget, &buttons[0], GUILD_A, &member).await)
        .await;
    assert!(is_ephemeral(&nope), "{nope}");
    assert_eq!(bot.guild_articles(GUILD_A).len(), 3);
    let done = bot
        .reply(&bot.press(&forget, &buttons[0], GUILD_A, &moderator).await)
        .await;
    assert!(text_of(&done).contains("Forgot"), "{done}");
    assert_eq!(bot.guild_articles(GUILD_A).len(), 2);

    // Bad input is a clear, private message.
    let both = bot.run("ingest", json!([{"name": "text", "type": 3, "value": "x"}, {"name": "url", "type": 3, "value": "https://example.com"}]), None, GUILD_A, &moderator).await;
    assert!(
        is_ephemeral(&both) && text_of(&both).contains("exactly one"),
        "{both}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_makes_the_bot_say_busy_and_loses_no_question() {
    let bot = Bot::start(
        "[reader]\nqueue = 1\n[discord]\nask_cooldown_secs = 0.0\n",
        true,
    )
    .await;
    let users: Vec<FakeUser> = (0..12)
        .map(|i| FakeUser::member(100 + i, &format!("u{i}")))
        .collect();
    let mut tokens = Vec::new();
    for u in &users {
        tokens.push(bot.ask(NSA_QUESTION, GUILD_A, u).await);
    }
    let mut busy = 0;
    let mut answered = 0;
    for t in &tokens {
        let reply = bot.reply(t).await;
        let text = text_of(&reply);
        if text.contains("busy") {
            busy += 1;
        } else if embed(&reply)["title"] == json!("the NSA") {
            answered += 1;
        } else {
            panic!("neither answered nor busy: {reply}");
        }
    }
    eprintln!("{answered} answered, {busy} told busy, of {}", tokens.len());
    assert_eq!(busy + answered, tokens.len());
    assert!(busy >= 1, "12 questions at once never filled a queue of 1");
    assert!(answered >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentions_are_answered_and_no_reply_can_ping_or_overflow() {
    let bot = Bot::start(
        "[discord]\nmentions = true\nask_cooldown_secs = 0.0\n",
        false,
    )
    .await;
    let identify = bot.fake.wait_ready(WAIT).await;
    assert_ne!(
        identify["intents"].as_u64().unwrap() & MESSAGE_CONTENT_INTENT,
        0
    );

    let moderator = FakeUser::moderator(31, "mod");
    let filler = "and the organisers listed every street, square, park and bus stop of the old town in turn ".repeat(60);
    let text = format!(
        "Festival Plans Announced\n\nThe organisers told @everyone and <@&4242> to gather at the central stadium on Friday evening. \
         The parade will start at the harbour on Saturday at noon {filler}before the fireworks."
    );
    let added = bot
        .run(
            "ingest",
            json!([{"name": "text", "type": 3, "value": text}]),
            None,
            GUILD_A,
            &moderator,
        )
        .await;
    assert_eq!(
        embed(&added)["title"],
        json!("Added a new article"),
        "{added}"
    );

    // Without an allow-list, a link to a private address is refused with a clear reason.
    let private = bot
        .fake
        .serve_file("private.html", b"<html><p>secret</p></html>".to_vec());
    let refused = bot
        .run(
            "ingest",
            json!([{"name": "url", "type": 3, "value": private}]),
            None,
            GUILD_A,
            &moderator,
        )
        .await;
    assert!(
        text_of(&refused).contains("refused to fetch from 127.0.0.1"),
        "{refused}"
    );

    let member = FakeUser::member(32, "fan");
    let gather = bot
        .answer("Where should everyone gather on Friday?", GUILD_A, &member)
        .await;
    assert!(
        text_of(&gather).contains("@everyone"),
        "the quote keeps the text: {gather}"
    );
    let parade = bot
        .answer("Where will the parade start?", GUILD_A, &member)
        .await;
    let description = embed(&parade)["description"].as_str().unwrap();
    assert!(
        description.chars().count() <= 4096,
        "{}",
        description.chars().count()
    );
    assert!(description.ends_with('…'), "{description}");

    // A mention is answered as a reply in the channel.
    let (msg_id, posted) = bot
        .mention(
            &format!("<@{BOT_USER_ID}> Where will the parade start?"),
            &member,
        )
        .await;
    assert_eq!(
        posted["message_reference"]["message_id"],
        json!(msg_id),
        "{posted}"
    );
    assert!(embed(&posted)["title"].as_str().is_some(), "{posted}");

    // Nothing the bot sent may ping anyone.
    let sent = sent_messages(&bot.fake);
    assert!(sent.len() >= 5, "{sent:?}");
    assert_pings_no_one(&sent);
    for m in sent {
        if let Some(c) = m["content"].as_str() {
            assert!(c.chars().count() <= 2000);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_chat_with_the_bot_as_they_would_in_a_channel() {
    let bot = Bot::start(
        "[discord]\nmentions = true\nask_cooldown_secs = 0.0\n",
        true,
    )
    .await;
    let member = FakeUser::member(41, "fan");
    let other = FakeUser::member(42, "lurker");
    let title = |m: &Value| embed(m)["title"].as_str().unwrap_or("").to_owned();
    let follows = |m: &Value| m["content"].as_str().unwrap_or("").contains("Following up");

    // A greeting and a tail around the question change nothing.
    let token = bot
        .ask("Hey, who issued the order? thanks!", GUILD_A, &member)
        .await;
    let first = bot.reply(&token).await;
    assert_eq!(title(&first), "Pete Hegseth", "{first}");
    assert!(!follows(&first), "{first}");

    // The same member's next /ask in the channel follows it up, and says so.
    let more = bot
        .answer("what else did he ask for?", GUILD_A, &member)
        .await;
    assert!(follows(&more), "{more}");
    assert!(text_of(&more).contains("who issued the order"), "{more}");
    assert!(title(&more).contains("risk assessment report"), "{more}");

    // Another member's /ask is not their conversation.
    let alone = bot
        .answer("what else did he ask for?", GUILD_A, &other)
        .await;
    assert!(!follows(&alone), "{alone}");

    // A Discord reply to the first answer follows it up, whoever replies, ping or not.
    let answer_message = bot.fake.original(&token);
    let reply = reply_to(
        &answer_message,
        "what else did he ask for",
        GUILD_A,
        &other,
        false,
    );
    let reply_id = reply["id"].clone();
    bot.fake.dispatch("MESSAGE_CREATE", reply).await;
    let posted = bot
        .fake
        .wait_for("the reply to a reply", WAIT, |r| {
            r.method == "POST"
                && r.path == format!("/api/v10/channels/{CHANNEL}/messages")
                && r.body["message_reference"]["message_id"] == reply_id
        })
        .await
        .body;
    assert!(follows(&posted), "{posted}");
    assert!(
        title(&posted).contains("risk assessment report"),
        "{posted}"
    );

    // A message in a thread opened on the answer (the thread has the message's id) is read
    // with it, without a mention.
    let thread: u64 = answer_message["id"].as_str().unwrap().parse().unwrap();
    bot.fake.add_thread(GUILD_A, thread, CHANNEL);
    let in_thread = message_create("what else did he request?", GUILD_A, thread, &other, &[]);
    bot.fake.dispatch("MESSAGE_CREATE", in_thread).await;
    let posted = bot
        .fake
        .wait_for("the reply in the answer's thread", WAIT, |r| {
            r.method == "POST" && r.path == format!("/api/v10/channels/{thread}/messages")
        })
        .await
        .body;
    assert!(follows(&posted), "{posted}");

    // A yes/no question is answered by the sentence that decides it.
    let yes_no = bot
        .answer("Is the NSA exempted from the order?", GUILD_A, &other)
        .await;
    assert_eq!(title(&yes_no), "The article says:", "{yes_no}");
    assert!(
        embed(&yes_no)["description"]
            .as_str()
            .unwrap()
            .contains("with the NSA specifically exempted from its parameters"),
        "{yes_no}"
    );

    // A server without articles says how to add some.
    let empty = bot.answer("Who issued the order?", GUILD_B, &member).await;
    assert_eq!(
        empty["content"],
        "No articles here yet: moderators can add some with /ingest, /watch or /feed add.",
        "{empty}"
    );

    // Thanks get a friendly line, never a search.
    let thanks = message_create(
        &format!("<@{BOT_USER_ID}> thanks!"),
        GUILD_A,
        CHANNEL,
        &member,
        &[BOT_USER_ID],
    );
    let thanks_id = thanks["id"].clone();
    bot.fake.dispatch("MESSAGE_CREATE", thanks).await;
    let thanks = bot
        .fake
        .wait_for("the reply to thanks", WAIT, |r| {
            r.method == "POST" && r.body["message_reference"]["message_id"] == thanks_id
        })
        .await
        .body;
    assert!(
        thanks["content"]
            .as_str()
            .unwrap()
            .starts_with("🙂 Any time!"),
        "{thanks}"
    );
    assert!(
        thanks["embeds"].as_array().is_none_or(Vec::is_empty),
        "{thanks}"
    );
    assert_pings_no_one(&sent_messages(&bot.fake));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moderators_follow_feeds_and_new_articles_are_announced() {
    use std::sync::atomic::Ordering;
    let (site, base) = feed_site().await;
    let bot = Bot::start(
        "[fetch]\nallow = [\"127.0.0.1\"]\n[feeds]\npoll_minutes = 0.02\n[discord]\nask_cooldown_secs = 0.0\n",
        false,
    )
    .await;
    let moderator = FakeUser::moderator(41, "mod");
    let member = FakeUser::member(42, "reader");
    let url = format!("{base}/feed.xml");
    let list = json!([{"name": "list", "type": 1, "options": []}]);

    let refused = bot.run("feed", list.clone(), None, GUILD_A, &member).await;
    assert!(text_of(&refused).contains("only moderators"), "{refused}");

    let added = bot
        .run("feed", feed_add(&url), None, GUILD_A, &moderator)
        .await;
    assert!(
        text_of(&added).contains("Following **Town Crier**: 2 article(s)"),
        "{added}"
    );

    // The feed grows: the background poll ingests the new item and announces it, quietly.
    site.version.store(2, Ordering::SeqCst);
    let notice = bot
        .fake
        .wait_for("announcement of the new article", WAIT, |r| {
            r.method == "POST"
                && r.path == format!("/api/v10/channels/{CHANNEL}/messages")
                && r.body["content"]
                    .as_str()
                    .is_some_and(|c| c.contains("School term starts a week late"))
        })
        .await
        .body;
    assert!(
        notice["content"]
            .as_str()
            .unwrap()
            .starts_with("📰 New from Town Crier"),
        "{notice}"
    );
    assert_eq!(notice["allowed_mentions"]["parse"], json!([]));
    bot.assert_answer(
        "When will the autumn term start?",
        GUILD_A,
        &member,
        "September 9",
    )
    .await;
    // Only once, however often it polls: two more polls arrive, so at least one whole round
    // (poll and announcements) ran after the notice.
    let polls = site.feed_requests.load(Ordering::SeqCst);
    bot.wait_until("the bot stopped polling", || {
        site.feed_requests.load(Ordering::SeqCst) >= polls + 2
    })
    .await;
    let notices = sent_messages(&bot.fake)
        .into_iter()
        .filter(|m| {
            m["content"]
                .as_str()
                .is_some_and(|c| c.contains("School term"))
        })
        .count();
    assert_eq!(notices, 1);

    let listed = bot.run("feed", list, None, GUILD_A, &moderator).await;
    let text = embed(&listed)["description"].as_str().unwrap().to_owned();
    assert!(
        text.contains("Town Crier") && text.contains("3 articles"),
        "{listed}"
    );
    // Another server does not see this one's feeds.
    let other = bot
        .run(
            "feed",
            json!([{"name": "list", "type": 1, "options": []}]),
            None,
            GUILD_B,
            &moderator,
        )
        .await;
    assert!(text_of(&other).contains("follows no feeds"), "{other}");

    let remove = json!([{"name": "remove", "type": 1, "options": [{"name": "url", "type": 3, "value": url}]}]);
    let removed = bot.run("feed", remove, None, GUILD_A, &moderator).await;
    assert!(
        text_of(&removed).contains("No longer following"),
        "{removed}"
    );
}

#[test]
fn serve_without_a_token_says_how_to_get_one() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.toml"), "").unwrap();
    let out = cli(dir.path(), &["serve"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("NEWSQA_DISCORD_TOKEN") && err.contains("README"),
        "{err}"
    );
}

/// A web server whose one page answers only when the test says so; it says when asked.
async fn held_page(
    page: &'static str,
) -> (
    String,
    tokio::sync::mpsc::Receiver<()>,
    std::sync::Arc<tokio::sync::Notify>,
) {
    use axum::routing::get;
    let (asked_tx, asked_rx) = tokio::sync::mpsc::channel(4);
    let release = std::sync::Arc::new(tokio::sync::Notify::new());
    let gate = release.clone();
    let app = axum::Router::new().route(
        "/story",
        get(move || {
            let asked = asked_tx.clone();
            let gate = gate.clone();
            async move {
                let _ = asked.send(()).await;
                gate.notified().await;
                ([("content-type", "text/html")], page)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, asked_rx, release)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_work_in_flight_then_exits_cleanly() {
    let mut bot = Bot::start(
        "[fetch]\nallow = [\"127.0.0.1\"]\n[discord]\nask_cooldown_secs = 0.0\n",
        true,
    )
    .await;
    let (base, mut asked, release) = held_page(
        "<html><head><title>Ferry Service Resumes</title></head><body><article><h1>Ferry Service Resumes</h1>\
         <p>The island ferry resumed service on Friday after a two-week strike ended.</p>\
         <p>The operator said fares would stay at 12 pounds.</p></article></body></html>",
    )
    .await;
    // A moderator's ingest is in flight: the bot is fetching a page that has not answered.
    let moderator = FakeUser::moderator(45, "mod");
    let token = bot
        .command(
            "ingest",
            json!([{"name": "url", "type": 3, "value": format!("{base}/story")}]),
            None,
            GUILD_A,
            &moderator,
        )
        .await;
    asked.recv().await.expect("the bot fetches the page");
    bot.terminate();
    // Once the bot has begun to shut down, the page answers; the ingest still completes.
    let start = Instant::now();
    while !bot.log().contains("shutting down") {
        assert!(
            start.elapsed() < WAIT,
            "no shutdown in the log:\n{}",
            bot.log()
        );
        tokio::task::yield_now().await;
    }
    release.notify_one();
    let reply = bot.reply(&token).await;
    assert_eq!(
        embed(&reply)["title"],
        json!("Added a new article"),
        "{reply}"
    );
    let status = bot.exited().await;
    assert!(
        status.success(),
        "serve exited with {status}:\n{}",
        bot.log()
    );
    // The article was committed before the process ended.
    let titles: Vec<Value> = bot
        .guild_articles(GUILD_A)
        .iter()
        .map(|a| a["title"].clone())
        .collect();
    assert!(
        titles.contains(&json!("Ferry Service Resumes")),
        "{titles:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_answers_the_questions_in_flight_then_exits_cleanly() {
    let mut bot = Bot::start("[discord]\nask_cooldown_secs = 0.0\n", true).await;
    // Six questions at once; SIGTERM as soon as the first is acknowledged, while the reader
    // still works through the others.
    let mut tokens = Vec::new();
    for n in 0..6 {
        let member = FakeUser::member(40 + n, "asker");
        tokens.push(bot.ask(NSA_QUESTION, GUILD_A, &member).await);
    }
    let first = bot.callback(&tokens[0]).await;
    assert_eq!(first["type"], json!(5), "{first}");
    bot.terminate();
    // Every question taken before the signal is answered, none is dropped.
    for token in &tokens {
        let reply = bot.reply(token).await;
        assert_eq!(embed(&reply)["title"], json!("the NSA"), "{reply}");
    }
    let log = bot.log();
    let status = bot.exited().await;
    assert!(status.success(), "serve exited with {status}:\n{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_members_asking_at_once_are_all_answered() {
    // About 3 s of model time: a burst, not a backlog. The queue is bounded by the expected
    // wait ([reader] max_wait_secs), not by a small count, so nobody is told "busy".
    let bot = Bot::start("[discord]\nask_cooldown_secs = 0.0\n", true).await;
    let mut tokens = Vec::new();
    for n in 0..50 {
        let member = FakeUser::member(100 + n, "member");
        tokens.push(bot.ask(NSA_QUESTION, GUILD_A, &member).await);
    }
    let mut busy = 0;
    for token in &tokens {
        let reply = bot.reply(token).await;
        if text_of(&reply).contains("busy") {
            busy += 1;
            continue;
        }
        assert_eq!(embed(&reply)["title"], json!("the NSA"), "{reply}");
    }
    assert_eq!(busy, 0, "{busy} of 50 told busy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_questions_get_clear_replies_and_ping_no_one() {
    let bot = Bot::start(
        "[discord]\nmentions = true\nask_cooldown_secs = 0.0\n",
        true,
    )
    .await;
    let empty = "Ask me a question about the articles";
    let not_found = "won't guess";
    let long = "Which agency is exempted from the order and why was it left out? ".repeat(95);
    assert!(long.chars().count() >= 6_000);
    let cases: Vec<(String, &str)> = vec![
        (String::new(), empty),
        ("   \t ".into(), empty),
        ("🙂🙂🙂 ❓".into(), empty),
        ("\u{200b}\u{2060}\u{7}".into(), empty),
        ("<@&4242> @everyone".into(), empty),
        (long, ""),
        ("מי פטור מהצו של משרד ההגנה?".into(), not_found),
        ("ما هي الوكالة المستثناة؟".into(), not_found),
        (
            "Which\u{200b} agency is\u{7} exempted\u{202e} from the order?".into(),
            "NSA",
        ),
        (
            "@everyone @here <@&4242> <@99> <#3003> Which agency is exempted from the order? <@!98>"
                .into(),
            "NSA",
        ),
        (
            "**Which** [agency](https://evil.example/x) is `exempted` from the ~~order~~? ||x|| <:pepe:1234>"
                .into(),
            "NSA",
        ),
    ];
    for (i, (question, expected)) in cases.iter().enumerate() {
        let member = FakeUser::member(500 + i as u64, "member");
        let reply = bot.answer(question, GUILD_A, &member).await;
        let text = text_of(&reply);
        assert!(
            text.contains(expected) && text.trim().len() > 4,
            "{question:?}: {reply}"
        );
    }

    // The same through a mention, with a mention storm around it.
    let member = FakeUser::member(600, "member");
    let (_, posted) = bot
        .mention(
            &format!(
                "<@{BOT_USER_ID}> @everyone <@&4242> **Which agency** is exempted from the order?"
            ),
            &member,
        )
        .await;
    assert!(text_of(&posted).contains("NSA"), "{posted}");

    // The bot is still up and well, and nothing it sent may ping anyone.
    let after = bot.answer(NSA_QUESTION, GUILD_A, &member).await;
    assert!(text_of(&after).contains(NSA_CITATION), "{after}");
    assert_pings_no_one(&sent_messages(&bot.fake));
    assert!(!bot.log().contains("panicked"), "{}", bot.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_killed_in_a_feed_round_loses_nothing_and_announces_once_after_a_restart() {
    use std::sync::atomic::Ordering;
    let (site, base) = feed_site().await;
    let mut bot = Bot::start(
        "[fetch]\nallow = [\"127.0.0.1\"]\n[feeds]\npoll_minutes = 0.02\n[discord]\nask_cooldown_secs = 0.0\n",
        false,
    )
    .await;
    let moderator = FakeUser::moderator(71, "mod");
    let url = format!("{base}/feed.xml");
    let added = bot
        .run("feed", feed_add(&url), None, GUILD_A, &moderator)
        .await;
    assert!(text_of(&added).contains("2 article(s)"), "{added}");

    // A new story appears; the bot's round is fetching its page when it is killed.
    site.hold_c.store(true, Ordering::SeqCst);
    site.version.store(2, Ordering::SeqCst);
    bot.wait_until("the bot never fetched the new story", || {
        site.c_held.load(Ordering::SeqCst) > 0
    })
    .await;
    bot.kill9();
    site.hold_c.store(false, Ordering::SeqCst);
    site.release_c.notify_waiters();

    // After a restart the feed is polled at once (the dead process's claim is taken over),
    // the story goes in and is announced, once.
    bot.restart().await;
    let is_notice = |m: &Value| {
        m["content"]
            .as_str()
            .is_some_and(|c| c.starts_with("📰") && c.contains("School term starts a week late"))
    };
    bot.fake
        .wait_for("announcement after the restart", WAIT, |r| {
            r.method == "POST"
                && r.path == format!("/api/v10/channels/{CHANNEL}/messages")
                && is_notice(&r.body)
        })
        .await;
    // Two more polls: at least one whole round after the notice.
    let polls = site.feed_requests.load(Ordering::SeqCst);
    bot.wait_until("the bot stopped polling", || {
        site.feed_requests.load(Ordering::SeqCst) >= polls + 2
    })
    .await;
    let notices: Vec<Value> = sent_messages(&bot.fake)
        .into_iter()
        .filter(|m| m["content"].as_str().is_some_and(|c| c.starts_with("📰")))
        .collect();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(is_notice(&notices[0]), "{notices:?}");
    let mut titles: Vec<String> = bot
        .guild_articles(GUILD_A)
        .iter()
        .map(|a| a["title"].as_str().unwrap().to_owned())
        .collect();
    titles.sort();
    assert_eq!(
        titles,
        [
            "Museum adds Sunday hours",
            "School term starts a week late",
            "Water main repairs finished"
        ]
    );
    let check = cli(bot.dir.path(), &["--guild", &GUILD_A.to_string(), "check"]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
}

/// Issue 12's load benchmark, not a timed test: prints figures. `scripts/reliability.sh` runs
/// it (`cargo test --release --test cli load_benchmark -- --ignored --nocapture`).
/// 50 `/ask` at once from members of two servers, then a burst of 200 over 20 s. Checks that
/// each is acknowledged, answered (or told busy) exactly once, from its own server's article;
/// prints the acknowledgement times, p50/p95/p99 from question to final reply, throughput,
/// the busy count and the bot's peak RSS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark that prints figures: scripts/reliability.sh"]
async fn load_benchmark() {
    let bot = Bot::start("[discord]\nask_cooldown_secs = 0.0\n", true).await;
    let harbour = bot.dir.path().join("harbour.txt");
    std::fs::write(
        &harbour,
        "Harbour Bridge Reopens\n\nThe Harbour Bridge reopened to traffic on Sunday after eight months of repairs. \
         The repairs cost 14 million pounds, the city council said. Cyclists will get a separate lane from March.",
    )
    .unwrap();
    let out = cli(
        bot.dir.path(),
        &[
            "--guild",
            &GUILD_B.to_string(),
            "ingest",
            harbour.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let title_a = "Cyber Operations Targeting Russia Paused";
    let title_b = "Harbour Bridge Reopens";

    let mut member = 1000;
    for (phase, count, spacing) in [
        ("50 at once", 50, Duration::ZERO),
        ("200 over 20 s", 200, Duration::from_millis(100)),
    ] {
        let mut sent: Vec<(String, u64, Instant)> = Vec::new();
        let start = Instant::now();
        for n in 0..count {
            if !spacing.is_zero() {
                let due = start + spacing * n;
                tokio::time::sleep_until(due.into()).await;
            }
            member += 1;
            let user = FakeUser::member(member, "member");
            let (guild, question) = match n % 2 {
                0 => (GUILD_A, NSA_QUESTION),
                _ => (GUILD_B, "How much did the bridge repairs cost?"),
            };
            let at = Instant::now();
            let token = bot.ask(question, guild, &user).await;
            sent.push((token, guild, at));
        }
        let mut latencies = Vec::new();
        let (mut busy, mut answered, mut late_acks) = (0, 0, 0);
        let mut slowest_ack = Duration::ZERO;
        for (token, guild, at) in &sent {
            let reply = bot.reply(token).await;
            let requests = bot.fake.requests();
            let callbacks: Vec<_> = requests
                .iter()
                .filter(|r| r.method == "POST" && r.path.contains(&format!("/{token}/callback")))
                .collect();
            assert_eq!(callbacks.len(), 1, "one acknowledgement for {token}");
            let ack = callbacks[0].at.duration_since(*at);
            slowest_ack = slowest_ack.max(ack);
            if ack > Duration::from_secs(3) {
                late_acks += 1;
            }
            let edits: Vec<_> = requests
                .iter()
                .filter(|r| {
                    r.method == "PATCH" && r.path.contains(&format!("/{token}/messages/@original"))
                })
                .collect();
            assert_eq!(edits.len(), 1, "one final reply for {token}");
            latencies.push(edits[0].at.duration_since(*at).as_secs_f64() * 1e3);
            let text = text_of(&reply);
            if text.contains("busy") {
                busy += 1;
                continue;
            }
            answered += 1;
            let (own, other) = match *guild {
                GUILD_A => (title_a, title_b),
                _ => (title_b, title_a),
            };
            assert!(text.contains(own) && !text.contains(other), "{reply}");
        }
        let elapsed = sent
            .iter()
            .map(|(_, _, at)| *at)
            .min()
            .map(|first| {
                let last = bot
                    .fake
                    .requests()
                    .iter()
                    .filter(|r| r.method == "PATCH")
                    .map(|r| r.at)
                    .max()
                    .unwrap();
                last.duration_since(first).as_secs_f64()
            })
            .unwrap();
        latencies.sort_by(f64::total_cmp);
        let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];
        println!(
            "load {phase}: {count} questions, {answered} answered, {busy} told busy, 0 dropped, 0 twice; \
             acknowledged within 3 s: {} (slowest {:.0} ms); question to reply p50 {:.0} ms, p95 {:.0} ms, \
             p99 {:.0} ms; {:.1} replies a second over {elapsed:.1} s",
            count - late_acks,
            slowest_ack.as_secs_f64() * 1e3,
            pct(0.5),
            pct(0.95),
            pct(0.99),
            count as f64 / elapsed,
        );
    }
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", bot.child.id())).unwrap_or_default();
    for key in ["VmHWM", "VmRSS"] {
        if let Some(line) = status.lines().find(|l| l.starts_with(key)) {
            println!("bot {line}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_is_in_no_log_line_and_no_reply() {
    use std::sync::atomic::Ordering;
    let (site, base) = feed_site().await;
    // Everything logged, every crate at trace level, as an operator chasing a problem might.
    let bot = Bot::start_logging(
        "[fetch]\nallow = [\"127.0.0.1\"]\n[feeds]\npoll_minutes = 0.02\n[discord]\nmentions = true\nask_cooldown_secs = 0.0\n",
        true,
        "trace",
    )
    .await;
    let moderator = FakeUser::moderator(81, "mod");
    let member = FakeUser::member(82, "member");
    let mut replies = Vec::new();
    replies.push(
        bot.run(
            "ingest",
            json!([{"name": "text", "type": 3, "value": "Harbour Bridge Reopens\n\nThe Harbour Bridge reopened on Sunday after repairs that cost 14 million pounds."}]),
            None,
            GUILD_A,
            &moderator,
        )
        .await,
    );
    // A fetch that fails, and a feed that fails.
    replies.push(
        bot.run(
            "ingest",
            json!([{"name": "url", "type": 3, "value": format!("{base}/missing")}]),
            None,
            GUILD_A,
            &moderator,
        )
        .await,
    );
    for url in [format!("{base}/feed.xml"), format!("{base}/no-feed.xml")] {
        replies.push(
            bot.run("feed", feed_add(&url), None, GUILD_A, &moderator)
                .await,
        );
    }
    replies.push(bot.answer(NSA_QUESTION, GUILD_A, &member).await);
    replies.push(
        bot.answer("How much did the bridge repairs cost?", GUILD_A, &member)
            .await,
    );
    bot.mention(
        &format!("<@{BOT_USER_ID}> Which agency is exempted from the order?"),
        &member,
    )
    .await;
    // The feed grows and a background round announces the new story.
    site.version.store(2, Ordering::SeqCst);
    bot.fake
        .wait_for("announcement", WAIT, |r| {
            r.method == "POST"
                && r.body["content"]
                    .as_str()
                    .is_some_and(|c| c.contains("School term"))
        })
        .await;
    assert!(
        text_of(&replies[1]).contains("404"),
        "the failed fetch is reported: {}",
        replies[1]
    );

    let log = bot.log();
    assert!(log.lines().count() > 20, "{log}");
    let secret = TOKEN.split('.').next_back().unwrap();
    for (n, line) in log.lines().enumerate() {
        assert!(
            !line.contains(TOKEN) && !line.contains(secret),
            "the token is in log line {n}: {line}"
        );
    }
    for m in sent_messages(&bot.fake) {
        assert!(!m.to_string().contains(secret), "{m}");
    }
    for r in &replies {
        assert!(!r.to_string().contains(secret), "{r}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_server_errors_and_slow_responses_delay_answers_but_lose_none() {
    let bot = Bot::start(
        "[discord]\nmentions = true\nask_cooldown_secs = 0.0\n",
        true,
    )
    .await;
    const ORIGINAL: &str = "/messages/@original";
    type Injection = (&'static str, &'static str, Fault, usize);
    let cases: Vec<(&str, Vec<Injection>)> = vec![
        (
            "429 on the acknowledgement and on the reply",
            vec![
                (
                    "POST",
                    "/callback",
                    Fault::RateLimited { retry_after: 0.5 },
                    1,
                ),
                (
                    "PATCH",
                    ORIGINAL,
                    Fault::RateLimited { retry_after: 0.5 },
                    1,
                ),
            ],
        ),
        (
            "500s on the acknowledgement",
            vec![("POST", "/callback", Fault::ServerError, 2)],
        ),
        (
            "500s on the reply",
            vec![("PATCH", ORIGINAL, Fault::ServerError, 3)],
        ),
        (
            "a slow acknowledgement and a slow reply",
            vec![
                (
                    "POST",
                    "/callback",
                    Fault::Slow(Duration::from_millis(1500)),
                    1,
                ),
                ("PATCH", ORIGINAL, Fault::Slow(Duration::from_secs(3)), 1),
            ],
        ),
    ];
    for (n, (case, faults)) in cases.into_iter().enumerate() {
        for (method, path, fault, times) in faults {
            bot.fake.inject(method, path, fault, times);
        }
        let member = FakeUser::member(700 + n as u64, "member");
        let token = bot.ask(NSA_QUESTION, GUILD_A, &member).await;
        let edit = bot
            .fake
            .wait_for("the answer", WAIT, |r| {
                r.method == "PATCH" && r.path.contains(&token) && r.status == 200
            })
            .await
            .body;
        assert!(text_of(&edit).contains(NSA_CITATION), "{case}: {edit}");
    }
    let statuses: Vec<u16> = bot.fake.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses.iter().filter(|&&s| s == 429).count(), 2);
    assert_eq!(statuses.iter().filter(|&&s| s == 500).count(), 5);

    // A reply to a mention that meets a 500 is sent again, and posted once.
    bot.fake.inject(
        "POST",
        &format!("/channels/{CHANNEL}/messages"),
        Fault::ServerError,
        1,
    );
    let member = FakeUser::member(799, "member");
    bot.mention(&format!("<@{BOT_USER_ID}> {NSA_QUESTION}"), &member)
        .await;
    let posts: Vec<_> = bot
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/messages"))
        .collect();
    assert_eq!(posts.len(), 2, "one 500, then the reply");
    assert_eq!(posts[0].body["nonce"], posts[1].body["nonce"]);
    assert_eq!(posts[1].body["enforce_nonce"], json!(true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_resumes_a_dropped_gateway_and_identifies_again_after_an_invalid_session() {
    let bot = Bot::start("[discord]\nask_cooldown_secs = 0.0\n", true).await;
    let member = FakeUser::member(801, "member");

    bot.fake.drop_gateway();
    bot.wait_until("no RESUME", || bot.fake.resume_count() > 0)
        .await;
    bot.fake.wait_ready(WAIT).await;
    let answer = bot.answer(NSA_QUESTION, GUILD_A, &member).await;
    assert!(text_of(&answer).contains(NSA_CITATION), "{answer}");

    let identified = bot.fake.identify_count();
    bot.fake.invalidate_session();
    bot.wait_until("no IDENTIFY after the invalid session", || {
        bot.fake.identify_count() != identified
    })
    .await;
    bot.fake.wait_ready(WAIT).await;
    let answer = bot.answer(NSA_QUESTION, GUILD_A, &member).await;
    assert!(text_of(&answer).contains(NSA_CITATION), "{answer}");
}

/// The watched news channel of the watch tests, and a thread in it.
const NEWS: u64 = 3100;
const NEWS_THREAD: u64 = 3101;
const WATCH_CONFIG: &str = "[fetch]\nallow = [\"127.0.0.1\"]\n[discord]\nask_cooldown_secs = 0.0\nmoderator_roles = [\"Newsdesk\"]\n";

impl Bot {
    /// `/ingest url:`.
    async fn ingest_url(&self, url: &str, guild: u64, user: &FakeUser) -> Value {
        let option = json!([{"name": "url", "type": 3, "value": url}]);
        self.run("ingest", option, None, guild, user).await
    }

    /// `/ingest file:` of an HTML file attached as attachment `id`, the fake serving it.
    async fn ingest_file(
        &self,
        id: u64,
        name: &str,
        bytes: &[u8],
        guild: u64,
        user: &FakeUser,
    ) -> Value {
        let url = self.fake.serve_file(name, bytes.to_vec());
        let file = attachment(id, name, bytes.len() as u64, &url, "text/html");
        let resolved = json!({"attachments": {id.to_string(): file}});
        let option = json!([{"name": "file", "type": 11, "value": id.to_string()}]);
        self.run("ingest", option, Some(resolved), guild, user)
            .await
    }

    /// Waits until the bot's reactions to `message` are `expected`.
    async fn wait_reactions(&self, message: &Value, expected: &[&str]) {
        self.wait_until(
            &format!("reactions {expected:?} on {}", message["content"]),
            || self.fake.reactions(message) == expected,
        )
        .await;
    }

    /// Waits until the log has `line` at least `times` times.
    async fn wait_log(&self, line: &str, times: usize) {
        self.wait_until(&format!("{times} × {line:?} in the log"), || {
            self.log().matches(line).count() >= times
        })
        .await;
    }

    /// Asks `/ask` and checks that the answer shown holds `expected`.
    async fn assert_answer(&self, question: &str, guild: u64, user: &FakeUser, expected: &str) {
        let answer = self.answer(question, guild, user).await;
        let shown = embed(&answer)["title"].as_str().unwrap_or_default();
        assert!(shown.contains(expected), "{question}: {answer}");
    }

    fn article_urls(&self, guild: u64) -> Vec<String> {
        let mut urls: Vec<String> = self
            .guild_articles(guild)
            .iter()
            .map(|a| a["url"].as_str().unwrap_or_default().to_owned())
            .collect();
        urls.sort();
        urls
    }
}

/// `/watch channel:` options.
fn watch_options(channel: u64) -> Value {
    json!([{"name": "channel", "type": 7, "value": channel.to_string()}])
}

/// `/watch channel: members:true` options.
fn members_watch_options(channel: u64) -> Value {
    json!([
        {"name": "channel", "type": 7, "value": channel.to_string()},
        {"name": "members", "type": 5, "value": true}
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moderators_posts_in_a_watched_channel_are_ingested_acknowledged_replaced_and_forgotten() {
    let (_site, base) = feed_site().await;
    let bot = Bot::start(&format!("{WATCH_CONFIG}watch = true\n"), false).await;
    bot.fake.add_role(GUILD_A, 77, "Newsdesk");
    bot.fake.add_thread(GUILD_A, NEWS_THREAD, NEWS);
    let moderator = FakeUser::moderator(40, "mod");
    let editor = FakeUser::member(41, "editor").with_roles(&[77]);
    let reader = FakeUser::member(42, "reader");
    let (a, c, gone) = (
        format!("{base}/news/a"),
        format!("{base}/news/c"),
        format!("{base}/news/b-gone"),
    );

    // A member may not start a watch; a moderator may.
    let refused = bot
        .run("watch", watch_options(NEWS), None, GUILD_A, &reader)
        .await;
    assert!(text_of(&refused).contains("moderator"), "{refused}");
    let watching = bot
        .run("watch", watch_options(NEWS), None, GUILD_A, &moderator)
        .await;
    assert!(
        text_of(&watching).contains(&format!("Watching <#{NEWS}>")),
        "{watching}"
    );
    assert!(is_ephemeral(&watching));

    // A moderator's link goes in: ✅. A member's post is left alone. A repeat: 🔁.
    let first = bot
        .fake
        .post(
            GUILD_A,
            NEWS,
            &editor,
            &format!("Repairs done: <{a}>"),
            vec![],
            true,
        )
        .await;
    bot.wait_reactions(&first, &["✅"]).await;
    assert_eq!(bot.article_urls(GUILD_A), [a.as_str()]);
    let ignored = bot
        .fake
        .post(GUILD_A, NEWS, &reader, &format!("look {c}"), vec![], true)
        .await;
    bot.wait_log("a member's post in a watched channel left alone", 1)
        .await;
    assert!(bot.fake.reactions(&ignored).is_empty());
    let again = bot
        .fake
        .post(
            GUILD_A,
            NEWS,
            &editor,
            &format!("[same story]({a})"),
            vec![],
            true,
        )
        .await;
    bot.wait_reactions(&again, &["🔁"]).await;

    // A link that fails: ⚠️, and the reason in a thread on the post.
    let failed = bot
        .fake
        .post(GUILD_A, NEWS, &editor, &gone, vec![], true)
        .await;
    bot.wait_reactions(&failed, &["⚠️"]).await;
    let threads = bot.fake.threads_opened();
    assert_eq!(threads.len(), 1, "{threads:?}");
    let thread: u64 = threads[0]["id"].as_str().unwrap().parse().unwrap();
    bot.wait_until("the reason in the thread", || {
        !bot.fake.posted_in(thread).is_empty()
    })
    .await;
    let reason = bot.fake.posted_in(thread)[0]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        reason.contains("could not ingest") && reason.contains("b-gone") && reason.contains("404"),
        "{reason}"
    );
    assert_pings_no_one(&bot.fake.posted_in(thread));

    // A link in a thread of the watched channel counts; members can then ask about it.
    let in_thread = bot
        .fake
        .post(GUILD_A, NEWS_THREAD, &editor, &c, vec![], true)
        .await;
    bot.wait_reactions(&in_thread, &["✅"]).await;
    assert_eq!(bot.article_urls(GUILD_A), [a.clone(), c.clone()]);
    bot.assert_answer(
        "When will the autumn term start?",
        GUILD_A,
        &reader,
        "September 9",
    )
    .await;

    // An attached .txt goes in too; an attachment of another kind is not read.
    let brief = b"Ferry timetable changes\n\nThe harbour ferry will run every twenty minutes on weekdays from 3 March, the port authority said.";
    let url = bot.fake.serve_file("brief.txt", brief.to_vec());
    let files = vec![
        attachment(601, "brief.txt", brief.len() as u64, &url, "text/plain"),
        attachment(602, "photo.png", 10, &url, "image/png"),
    ];
    let with_file = bot
        .fake
        .post(
            GUILD_A,
            NEWS,
            &editor,
            "Timetable brief attached",
            files,
            true,
        )
        .await;
    bot.wait_reactions(&with_file, &["✅"]).await;
    bot.assert_answer(
        "How often will the harbour ferry run?",
        GUILD_A,
        &reader,
        "twenty minutes",
    )
    .await;
    bot.fake.delete_post(&with_file).await;

    // Deleting a post keeps an article another post also brought; deleting the last forgets it.
    bot.fake.delete_post(&first).await;
    bot.fake.delete_post(&again).await;
    bot.wait_until("the story forgotten with its last post", || {
        bot.article_urls(GUILD_A) == [c.clone()]
    })
    .await;

    // An edit to another link replaces the post's article; an edit that keeps it changes
    // nothing and adds no reaction.
    let post = bot
        .fake
        .post(GUILD_A, NEWS, &editor, &a, vec![], true)
        .await;
    bot.wait_reactions(&post, &["✅"]).await;
    let posts_before = bot
        .log()
        .matches("post in a watched channel handled")
        .count();
    // An edit made first whose event arrives last (Discord's events may).
    let stale = FakeDiscord::edit_json(&post, &format!("Back to {a}"));
    bot.fake.edit_post(&post, &format!("{a} (updated)")).await;
    let edited = bot
        .fake
        .edit_post(&post, &format!("Correction: {gone} and {c}"))
        .await;
    bot.wait_until("the edited post's old article forgotten", || {
        bot.article_urls(GUILD_A) == [c.clone()]
    })
    .await;
    assert_eq!(
        bot.log()
            .matches("post in a watched channel handled")
            .count(),
        posts_before + 1,
        "only the edit that changed the links is handled"
    );
    bot.wait_reactions(&edited, &["✅", "🔁", "⚠️"]).await;
    let line = "an edit older than one handled left alone";
    let stale_before = bot.log().matches(line).count();
    bot.fake.dispatch("MESSAGE_UPDATE", stale).await;
    bot.wait_log(line, stale_before + 1).await;
    assert_eq!(bot.article_urls(GUILD_A), [c.as_str()]);

    // Unwatched: posts are left alone, the articles stay.
    let stopped = bot
        .run("unwatch", watch_options(NEWS), None, GUILD_A, &moderator)
        .await;
    assert!(text_of(&stopped).contains("Stopped watching"), "{stopped}");
    let after = bot
        .fake
        .post(GUILD_A, NEWS, &editor, &a, vec![], true)
        .await;
    let probe = bot
        .answer("When will the autumn term start?", GUILD_A, &reader)
        .await;
    assert!(embed(&probe)["title"]
        .as_str()
        .unwrap()
        .contains("September 9"));
    assert!(bot.fake.reactions(&after).is_empty());
    assert_eq!(bot.article_urls(GUILD_A), [c]);
}

/// Issue 33 (1, 2, 3): in a channel open to members, a member's post of a moderator's article
/// does not hold it alone (deleting the post leaves it), and a post deleted while its ingest
/// still runs lets go of what it brought.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_cannot_make_an_article_disappear_and_a_post_deleted_mid_ingest_lets_go() {
    let (site, base) = feed_site().await;
    let bot = Bot::start(&format!("{WATCH_CONFIG}watch = true\n"), false).await;
    let moderator = FakeUser::moderator(40, "mod");
    let member = FakeUser::member(42, "reader");
    let (a, c) = (format!("{base}/news/a"), format!("{base}/news/c"));
    let watching = bot
        .run(
            "watch",
            members_watch_options(NEWS),
            None,
            GUILD_A,
            &moderator,
        )
        .await;
    assert!(text_of(&watching).contains("Watching"), "{watching}");
    let added = bot.ingest_url(&a, GUILD_A, &moderator).await;
    assert_eq!(
        embed(&added)["title"],
        json!("Added a new article"),
        "{added}"
    );

    // A member posts the moderator's link (🔁) and deletes the post: the article stays.
    let repost = bot
        .fake
        .post(GUILD_A, NEWS, &member, &a, vec![], true)
        .await;
    bot.wait_reactions(&repost, &["🔁"]).await;
    bot.fake.delete_post(&repost).await;
    bot.wait_log("a deleted post handled", 1).await;
    assert_eq!(bot.article_urls(GUILD_A), [a.as_str()]);

    // "Oops, wrong link": deleted while its page is still being fetched.
    site.hold_c.store(true, std::sync::atomic::Ordering::SeqCst);
    let oops = bot
        .fake
        .post(GUILD_A, NEWS, &member, &c, vec![], true)
        .await;
    bot.wait_until("the page fetch under way", || {
        site.c_held.load(std::sync::atomic::Ordering::SeqCst) >= 1
    })
    .await;
    bot.fake.delete_post(&oops).await;
    site.release_c.notify_one();
    bot.wait_reactions(&oops, &["✅"]).await;
    bot.wait_log("a deleted post handled", 2).await;
    assert_eq!(
        bot.article_urls(GUILD_A),
        [a.as_str()],
        "the deleted post's article is forgotten"
    );
}

/// Issue 33 (6): a file uploaded in Discord that declares a publisher's address as its own
/// is stored under its own id, and the publisher's story stays as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uploaded_page_cannot_replace_a_publishers_story() {
    let (_site, base) = feed_site().await;
    let bot = Bot::start(WATCH_CONFIG, false).await;
    let moderator = FakeUser::moderator(40, "mod");
    let a = format!("{base}/news/a");
    let added = bot.ingest_url(&a, GUILD_A, &moderator).await;
    assert_eq!(
        embed(&added)["title"],
        json!("Added a new article"),
        "{added}"
    );
    let spoof = format!(
        "<html><head><title>Water main repairs finished</title><link rel=\"canonical\" href=\"{a}\"></head>\
         <body><article><h1>Water main repairs finished</h1><p>Crews abandoned the water main under Elm Street on Thursday, and the city closed the road for a year.</p></article></body></html>"
    );
    let filed = bot
        .ingest_file(556, "spoof.html", spoof.as_bytes(), GUILD_A, &moderator)
        .await;
    assert_eq!(
        embed(&filed)["title"],
        json!("Added a new article"),
        "{filed}"
    );
    assert!(
        embed(&filed)["fields"][1]["value"]
            .as_str()
            .unwrap()
            .starts_with("`sha256:"),
        "{filed}"
    );
    let articles = bot.guild_articles(GUILD_A);
    assert_eq!(articles.len(), 2, "{articles:?}");
    assert!(articles.iter().any(|x| x["url"] == json!(a)));
    bot.assert_answer(
        "When were the water main repairs under Elm Street finished?",
        GUILD_A,
        &FakeUser::member(42, "reader"),
        "Thursday",
    )
    .await;
}

/// Issue 33 (5): the server's owner (who has every permission) and a member whose role has
/// Manage Messages on the watched channel only (an overwrite) post as moderators; a member
/// does not. The server's roles are read once, not for every post.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owners_posts_and_a_channels_own_moderators_are_taken() {
    let (_site, base) = feed_site().await;
    let bot = Bot::start(&format!("{WATCH_CONFIG}watch = true\n"), false).await;
    let owner = FakeUser::member(50, "owner");
    bot.fake.set_owner(GUILD_A, owner.id);
    bot.fake.add_role(GUILD_A, 88, "Desk");
    bot.fake.set_overwrites(
        GUILD_A,
        NEWS,
        &[(88, 0, crate::discord::MANAGE_MESSAGES, 0)],
    );
    let desk = FakeUser::member(51, "desk").with_roles(&[88]);
    let reader = FakeUser::member(52, "reader");
    let moderator = FakeUser::moderator(40, "mod");
    bot.run("watch", watch_options(NEWS), None, GUILD_A, &moderator)
        .await;
    for (who, link) in [(&owner, "a"), (&desk, "c")] {
        let post = bot
            .fake
            .post(
                GUILD_A,
                NEWS,
                who,
                &format!("{base}/news/{link}"),
                vec![],
                true,
            )
            .await;
        bot.wait_reactions(&post, &["✅"]).await;
    }
    let ignored = bot
        .fake
        .post(
            GUILD_A,
            NEWS,
            &reader,
            &format!("{base}/news/b-gone"),
            vec![],
            true,
        )
        .await;
    bot.wait_log("a member's post in a watched channel left alone", 1)
        .await;
    assert!(bot.fake.reactions(&ignored).is_empty());
    let guild_reads = bot
        .fake
        .requests()
        .iter()
        .filter(|r| {
            r.method == "GET"
                && r.path.starts_with(&format!("/api/v10/guilds/{GUILD_A}"))
                && !r.path.contains("/members/")
        })
        .count();
    assert_eq!(
        guild_reads, 1,
        "the server's roles are read once for three posts"
    );
}

/// Issue 33 (4): on a channel the config lists, a moderator's `/watch members:` stands (the
/// next post does not revert it) and `/unwatch` stops the watch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_and_unwatch_on_a_channel_the_config_lists_are_obeyed() {
    let (_site, base) = feed_site().await;
    let bot = Bot::start(&format!("{WATCH_CONFIG}watch_channels = [{NEWS}]\n"), false).await;
    let moderator = FakeUser::moderator(40, "mod");
    let member = FakeUser::member(42, "reader");
    let (a, c) = (format!("{base}/news/a"), format!("{base}/news/c"));
    let watching = bot
        .run(
            "watch",
            members_watch_options(NEWS),
            None,
            GUILD_A,
            &moderator,
        )
        .await;
    assert!(text_of(&watching).contains("Watching"), "{watching}");
    // Two members' posts: both count, the first does not put the config's setting back.
    for (n, link) in [&a, &c].into_iter().enumerate() {
        let post = bot
            .fake
            .post(GUILD_A, NEWS, &member, link, vec![], true)
            .await;
        bot.wait_reactions(&post, &["✅"]).await;
        assert_eq!(bot.article_urls(GUILD_A).len(), n + 1);
    }
    let stopped = bot
        .run("unwatch", watch_options(NEWS), None, GUILD_A, &moderator)
        .await;
    assert!(text_of(&stopped).contains("Stopped watching"), "{stopped}");
    let handled = bot
        .log()
        .matches("post in a watched channel handled")
        .count();
    let after = bot
        .fake
        .post(
            GUILD_A,
            NEWS,
            &moderator,
            &format!("{base}/news/b-gone"),
            vec![],
            true,
        )
        .await;
    // The answer comes after the post's event was read.
    bot.assert_answer(
        "When will the autumn term start?",
        GUILD_A,
        &member,
        "September 9",
    )
    .await;
    assert!(bot.fake.reactions(&after).is_empty());
    assert_eq!(
        bot.log()
            .matches("post in a watched channel handled")
            .count(),
        handled,
        "nothing handled in the unwatched channel"
    );
    let again = bot
        .run("unwatch", watch_options(NEWS), None, GUILD_A, &moderator)
        .await;
    assert!(text_of(&again).contains("was not watched"), "{again}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_bot_catches_up_with_the_posts_it_missed_and_repeats_none() {
    let (_site, base) = feed_site().await;
    let mut bot = Bot::start(&format!("{WATCH_CONFIG}watch_channels = [{NEWS}]\n"), false).await;
    bot.fake.add_role(GUILD_A, 77, "Newsdesk");
    let editor = FakeUser::member(41, "editor").with_roles(&[77]);
    let reader = FakeUser::member(42, "reader");
    let (a, c) = (format!("{base}/news/a"), format!("{base}/news/c"));

    let first = bot
        .fake
        .post(GUILD_A, NEWS, &editor, &a, vec![], true)
        .await;
    bot.wait_reactions(&first, &["✅"]).await;
    bot.kill9();
    // Posted while the bot is down: Discord will not replay them.
    let missed = bot
        .fake
        .post(GUILD_A, NEWS, &editor, &c, vec![], false)
        .await;
    let by_member = bot
        .fake
        .post(
            GUILD_A,
            NEWS,
            &reader,
            &format!("{base}/news/b-gone"),
            vec![],
            false,
        )
        .await;
    bot.restart().await;
    bot.wait_reactions(&missed, &["✅"]).await;
    bot.wait_log("caught up with a watched channel", 1).await;
    assert_eq!(bot.article_urls(GUILD_A), [a.clone(), c.clone()]);
    assert_eq!(
        bot.fake.reactions(&first),
        ["✅"],
        "the first post is not handled again"
    );
    assert!(bot.fake.reactions(&by_member).is_empty());
    // The member was looked up, as the history carries no roles.
    assert!(bot
        .fake
        .requests()
        .iter()
        .any(|r| r.path == format!("/api/v10/guilds/{GUILD_A}/members/{}", reader.id)));

    // Another restart reads nothing new and repeats nothing.
    let reactions = bot
        .fake
        .requests()
        .iter()
        .filter(|r| r.path.contains("/reactions/"))
        .count();
    bot.kill9();
    bot.restart().await;
    bot.wait_log("caught up with a watched channel", 2).await;
    assert!(bot.log().contains("read=0 handled=0"), "{}", bot.log());
    assert_eq!(
        bot.fake
            .requests()
            .iter()
            .filter(|r| r.path.contains("/reactions/"))
            .count(),
        reactions
    );
    assert_eq!(bot.article_urls(GUILD_A), [a, c]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_message_content_intent_is_reported_and_slash_commands_still_work() {
    let fake = std::sync::Arc::new(FakeDiscord::start().await);
    fake.set_app_flags(0);
    // Issue 33 (12): a passing error reading the application's flags is tried again, and the
    // intent is never asked for on a guess.
    fake.inject("GET", "/applications/@me", Fault::ServerError, 1);
    let bot = Bot::start_on(
        fake,
        &format!("{WATCH_CONFIG}watch = true\n"),
        true,
        DEFAULT_LOG,
    )
    .await;
    let identify = bot.fake.wait_ready(WAIT).await;
    assert_eq!(
        identify["intents"].as_u64().unwrap() & MESSAGE_CONTENT_INTENT,
        0,
        "asking for it would end the connection"
    );
    assert!(
        bot.log().contains("Message Content intent is off"),
        "{}",
        bot.log()
    );
    assert!(bot.log().contains("Privileged Gateway Intents"));
    let moderator = FakeUser::moderator(40, "mod");
    let reply = bot
        .run("watch", watch_options(NEWS), None, GUILD_A, &moderator)
        .await;
    let text = text_of(&reply);
    assert!(
        text.contains("Message Content intent is off") && text.contains("Developer Portal"),
        "{text}"
    );
    let answer = bot
        .answer(NSA_QUESTION, GUILD_A, &FakeUser::member(42, "reader"))
        .await;
    assert_eq!(embed(&answer)["description"], format!("> {NSA_CITATION}"));
}

/// Servers on shard 0 and shard 1 of 2.
const SHARD0_GUILD: u64 = (2 << 22) | 17;
const SHARD1_GUILD: u64 = (3 << 22) | 17;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_two_shards_each_answer_their_own_servers_once() {
    let fake = std::sync::Arc::new(FakeDiscord::start().await);
    fake.set_shard_count(2);
    fake.add_guild(SHARD0_GUILD);
    fake.add_guild(SHARD1_GUILD);
    let shard = |n: u32| {
        format!("[discord]\nask_cooldown_secs = 0.0\nshards = \"{n}\"\ntotal_shards = 2\n")
    };
    let first = Bot::start_on(fake.clone(), &shard(0), false, DEFAULT_LOG).await;
    assert_eq!(fake.wait_shard(0, 2).await, [SHARD0_GUILD]);
    let second = Bot::start_on(fake.clone(), &shard(1), false, DEFAULT_LOG).await;
    assert_eq!(fake.wait_shard(1, 2).await, [SHARD1_GUILD]);
    for (bot, guild) in [(&first, SHARD0_GUILD), (&second, SHARD1_GUILD)] {
        let out = cli(
            bot.dir.path(),
            &["--guild", &guild.to_string(), "ingest", SEED_ARTICLE],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let member = FakeUser::member(42, "reader");
    let mut tokens = Vec::new();
    for guild in [SHARD0_GUILD, SHARD1_GUILD, SHARD0_GUILD, SHARD1_GUILD] {
        let token = first.ask(NSA_QUESTION, guild, &member).await;
        let reply = first.reply(&token).await;
        assert_eq!(
            embed(&reply)["description"],
            format!("> {NSA_CITATION}"),
            "{reply}"
        );
        tokens.push(token);
    }
    // Every question was acknowledged once, by one process: the one running its shard.
    for token in &tokens {
        let callbacks = fake
            .requests()
            .iter()
            .filter(|r| r.path.contains(&format!("/{token}/callback")))
            .count();
        assert_eq!(callbacks, 1, "{token}");
    }
    for (bot, own, other) in [
        (&first, SHARD0_GUILD, SHARD1_GUILD),
        (&second, SHARD1_GUILD, SHARD0_GUILD),
    ] {
        let log = bot.log();
        assert_eq!(log.matches("question answered").count(), 2, "{log}");
        assert!(log.contains(&format!("guild={own}")), "{log}");
        assert!(!log.contains(&format!("guild={other}")), "{log}");
        // Its data directory holds only its own server.
        let servers: Vec<String> = std::fs::read_dir(bot.dir.path().join("guilds"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.parse::<u64>().is_ok())
            .collect();
        assert_eq!(servers, [own.to_string()]);
    }
}

#[test]
fn a_plan_shares_the_shards_and_a_move_carries_servers_to_their_new_process() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.toml"), "").unwrap();
    let plan = cli(
        dir.path(),
        &["shards", "plan", "--total-shards", "16", "--processes", "3"],
    );
    let text = String::from_utf8_lossy(&plan.stdout);
    assert!(plan.status.success());
    assert!(
        text.contains("newsqa serve --shards 0-5 --total-shards 16"),
        "{text}"
    );
    assert!(text.contains("--shards 11-15"), "{text}");
    let refused = cli(
        dir.path(),
        &["shards", "plan", "--total-shards", "2", "--processes", "3"],
    );
    assert!(!refused.status.success());

    // Both servers in one process's directory, one of them with a feed and a watched channel.
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::write(
        dir.path().join("config.toml"),
        format!("[index]\nguilds = \"{}\"\n", a.display()),
    )
    .unwrap();
    for guild in [SHARD0_GUILD, SHARD1_GUILD] {
        let out = cli(
            dir.path(),
            &["--guild", &guild.to_string(), "ingest", SEED_ARTICLE],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::fs::write(
        a.join(format!("{SHARD1_GUILD}.watch.json")),
        r#"{"channels":{"5":{"last":9}}}"#,
    )
    .unwrap();
    // Subscribed from the directory above, so the index is written as a relative path.
    let feed = serde_json::json!([{
        "url": "https://example.com/feed.xml", "index": format!("./a/{SHARD1_GUILD}"),
        "guild": SHARD1_GUILD, "added_at": 1
    }]);
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    std::fs::write(dir.path().join("data/feeds.json"), feed.to_string()).unwrap();

    // Not while a bot serves from either directory.
    let lock = std::fs::File::create(a.join("serve.lock")).unwrap();
    lock.lock().unwrap();
    let args = |to: &Path| {
        vec![
            "shards".to_owned(),
            "move".into(),
            "--from".into(),
            a.display().to_string(),
            "--to".into(),
            to.display().to_string(),
            "--total-shards".into(),
            "2".into(),
            "--shards".into(),
            "1".into(),
        ]
    };
    let run = |to: &Path| {
        let args = args(to);
        cli(
            dir.path(),
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
        )
    };
    let busy = run(&b);
    assert!(!busy.status.success());
    assert!(String::from_utf8_lossy(&busy.stderr).contains("a newsqa serve is using"));
    assert!(a.join(SHARD1_GUILD.to_string()).exists(), "nothing moved");
    drop(lock);

    let moved = run(&b);
    assert!(
        moved.status.success(),
        "{}",
        String::from_utf8_lossy(&moved.stderr)
    );
    let said = String::from_utf8_lossy(&moved.stdout);
    assert!(said.contains("moved 1 servers"), "{said}");
    // Issue 33 (14): the feed follows its server however its path was written.
    assert!(said.contains("1 feed subscriptions follow them"), "{said}");
    assert!(a.join(SHARD0_GUILD.to_string()).exists());
    assert!(!a.join(SHARD1_GUILD.to_string()).exists());
    assert!(b.join(format!("{SHARD1_GUILD}.watch.json")).exists());
    let feeds: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("data/feeds.json")).unwrap())
            .unwrap();
    assert_eq!(feeds[0]["index"], json!(b.join(SHARD1_GUILD.to_string())));
    // A command for the moved server on its old place says where it went, and recreates
    // nothing there.
    let stale = cli(
        dir.path(),
        &["--guild", &SHARD1_GUILD.to_string(), "ingest", SEED_ARTICLE],
    );
    let why = String::from_utf8_lossy(&stale.stderr);
    assert!(!stale.status.success());
    assert!(
        why.contains("moved") && why.contains(&b.display().to_string()),
        "{why}"
    );
    assert!(!a.join(SHARD1_GUILD.to_string()).exists());
    // The moved server answers from its new place.
    std::fs::write(
        dir.path().join("config.toml"),
        format!("[index]\nguilds = \"{}\"\n", b.display()),
    )
    .unwrap();
    let asked = cli(
        dir.path(),
        &["--guild", &SHARD1_GUILD.to_string(), "ask", NSA_QUESTION],
    );
    assert!(String::from_utf8_lossy(&asked.stdout).starts_with("the NSA"));
    // A second move onto data that is there already moves nothing.
    std::fs::create_dir_all(a.join(SHARD1_GUILD.to_string())).unwrap();
    let again = run(&b);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));
}

/// Memory per open server engine, for SCALING.md: `cargo test --release --test cli --
/// --ignored memory_per_open_server --nocapture`. Twenty servers with the seed article each;
/// the bot's RSS as their engines open one by one (a question in each).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: prints figures"]
async fn memory_per_open_server() {
    let servers: Vec<u64> = (1..=20).map(|i| 5000 + i).collect();
    let bot = Bot::start("[discord]\nask_cooldown_secs = 0.0\n", false).await;
    for &guild in &servers {
        let out = cli(
            bot.dir.path(),
            &["--guild", &guild.to_string(), "ingest", SEED_ARTICLE],
        );
        assert!(out.status.success());
    }
    let rss = || {
        let status = std::fs::read_to_string(format!("/proc/{}/status", bot.child.id())).unwrap();
        let line = status
            .lines()
            .find(|l| l.starts_with("VmRSS"))
            .unwrap()
            .to_owned();
        line.split_whitespace()
            .nth(1)
            .unwrap()
            .parse::<f64>()
            .unwrap()
            / 1024.0
    };
    let member = FakeUser::member(42, "reader");
    // The first question warms the models; engines are counted from the second server on.
    bot.assert_answer(NSA_QUESTION, servers[0], &member, "NSA")
        .await;
    let start = rss();
    println!("open engines 1: RSS {start:.1} MB");
    for (i, &guild) in servers.iter().enumerate().skip(1) {
        bot.assert_answer(NSA_QUESTION, guild, &member, "NSA").await;
        if (i + 1) % 5 == 0 {
            let now = rss();
            println!(
                "open engines {}: RSS {now:.1} MB, {:.2} MB per engine since the first",
                i + 1,
                (now - start) / i as f64
            );
        }
    }
}
