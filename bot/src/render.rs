//! What users see, as plain data: every reply the bot sends is built here, within Discord's
//! limits, and turned into serenity builders only at the edge. Snapshot-tested.

use serde::Serialize;

use crate::backend::{
    Announcement, Answer, AnswerKind, ArticleSummary, ArticleText, FeedInfo, IngestStatus, Ingested,
};

/// Longest message content Discord accepts, in characters.
pub const MESSAGE_LIMIT: usize = 2000;
/// Longest embed description.
pub const DESCRIPTION_LIMIT: usize = 4096;
/// Longest embed field value.
pub const FIELD_LIMIT: usize = 1024;
/// Longest embed title.
pub const TITLE_LIMIT: usize = 256;
/// Longest button label.
pub const LABEL_LIMIT: usize = 80;

/// Embed colour of answers.
const ANSWER_COLOUR: u32 = 0x2b6cb0;
/// Embed colour of lists and notices.
const NOTICE_COLOUR: u32 = 0x718096;

/// One reply: content and/or an embed, with buttons.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct View {
    /// Message text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// At most one embed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embed: Option<EmbedView>,
    /// Buttons, in one row.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<ButtonView>,
    /// Only the user who acted sees it.
    pub ephemeral: bool,
}

/// An embed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmbedView {
    /// Title (bold, at the top).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Where the title links to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Body text (markdown).
    pub description: String,
    /// Named fields: (name, value).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<(String, String)>,
    /// Small text at the bottom.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub footer: Option<String>,
    /// Side colour.
    pub colour: u32,
}

/// How a button looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ButtonStyle {
    /// Blue.
    Primary,
    /// Grey.
    Secondary,
    /// Red.
    Danger,
}

/// A button.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ButtonView {
    /// What the bot gets back when it is pressed.
    pub custom_id: String,
    /// Its text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Its emoji.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emoji: Option<String>,
    /// Its colour.
    pub style: ButtonStyle,
    /// Greyed out.
    pub disabled: bool,
}

impl View {
    fn text(content: impl Into<String>, ephemeral: bool) -> View {
        View {
            content: Some(truncate(&content.into(), MESSAGE_LIMIT)),
            embed: None,
            buttons: Vec::new(),
            ephemeral,
        }
    }
}

fn button(custom_id: String, label: &str, style: ButtonStyle) -> ButtonView {
    ButtonView {
        custom_id,
        label: Some(truncate(label, LABEL_LIMIT)),
        emoji: None,
        style,
        disabled: false,
    }
}

fn emoji_button(custom_id: String, emoji: &str) -> ButtonView {
    ButtonView {
        custom_id,
        label: None,
        emoji: Some(emoji.into()),
        style: ButtonStyle::Secondary,
        disabled: false,
    }
}

/// Custom ids of buttons: `<action>:<key>`, where the key finds the bot's own record.
pub mod ids {
    /// "Show passage" on an answer.
    pub const PASSAGE: &str = "passage";
    /// 👍 on an answer.
    pub const UP: &str = "up";
    /// 👎 on an answer.
    pub const DOWN: &str = "down";
    /// A page of `/articles`.
    pub const PAGE: &str = "page";
    /// Confirming `/forget`.
    pub const FORGET: &str = "forget";
    /// Cancelling `/forget`.
    pub const KEEP: &str = "keep";

    /// Splits a custom id into action and key.
    pub fn parse(custom_id: &str) -> Option<(&str, u64)> {
        let (action, key) = custom_id.split_once(':')?;
        Some((action, key.parse().ok()?))
    }
}

/// The answer to `/ask` or a mention: the answer, the quoted sentence, the linked article and
/// a confidence, with "Show passage" and 👍/👎. `key` finds the answer again when a button is
/// pressed.
pub fn answer(answer: &Answer, key: u64) -> View {
    let quote = quote_block(&answer.citation, DESCRIPTION_LIMIT);
    // A yes/no question is answered by the sentence that decides it.
    let title = match answer.kind {
        AnswerKind::Span => truncate(&answer.text, TITLE_LIMIT),
        AnswerKind::Sentence => "The article says:".to_owned(),
    };
    // A follow-up says which answer it continues.
    let content = answer.continues.as_ref().map(|e| {
        let said = e
            .answer
            .as_deref()
            .map(|a| format!(" → **{}**", escape(a)))
            .unwrap_or_default();
        truncate(
            &format!("↪ Following up *{}*{said}", escape(&e.question)),
            MESSAGE_LIMIT,
        )
    });
    let dated = |date: Option<&str>| date.map(|d| format!(" · {d}")).unwrap_or_default();
    let mut fields = vec![(
        "Source".to_owned(),
        linked_title(
            &answer.title,
            answer.url.as_deref(),
            &dated(answer.date.as_deref()),
        ),
    )];
    if let Some(older) = &answer.older {
        let says = format!(" ({}) says **{}**", older.date, escape(&older.text));
        fields.push((
            "An older article".to_owned(),
            linked_title(&older.title, older.url.as_deref(), &says),
        ));
    }
    View {
        content,
        embed: Some(EmbedView {
            title: Some(title),
            url: None,
            description: quote,
            fields,
            footer: Some(format!(
                "Confidence {:.0}% · answers are quoted from the articles shared in this server",
                answer.confidence * 100.0
            )),
            colour: ANSWER_COLOUR,
        }),
        buttons: vec![
            button(
                format!("{}:{key}", ids::PASSAGE),
                "Show passage",
                ButtonStyle::Secondary,
            ),
            emoji_button(format!("{}:{key}", ids::UP), "👍"),
            emoji_button(format!("{}:{key}", ids::DOWN), "👎"),
        ],
        ephemeral: false,
    }
}

/// An article's title, linked to its URL when the field has room for both, then `after`.
fn linked_title(title: &str, url: Option<&str>, after: &str) -> String {
    let room = FIELD_LIMIT.saturating_sub(after.chars().count());
    let linked = url.map(|url| format!("[{}]({url})", escape(title)));
    let title = match linked {
        Some(l) if l.chars().count() <= room => l,
        _ => truncate(&escape(title), room),
    };
    format!("{title}{after}")
}

/// The reply when the articles do not hold the answer, with the reason when there is a
/// specific one ("I found nothing about 2016 in the articles."). Never a guess.
pub fn abstain(reason: Option<&str>) -> View {
    match reason {
        Some(reason) => View::text(format!("{reason} So I won't guess."), false),
        None => View::text(
            "I couldn't find the answer in the articles shared in this server, so I won't guess.",
            false,
        ),
    }
}

/// The reply to a question in a server that has no articles yet.
pub fn no_articles() -> View {
    View::text(
        "No articles here yet: moderators can add some with /ingest, /watch or /feed add.",
        false,
    )
}

/// The reply to a message addressed to the bot that asks nothing ("thanks!", "lol").
pub fn chatter() -> View {
    View::text(
        "🙂 Any time! Ask me a question about the articles shared here, and I'll answer with \
         the sentence the answer comes from.",
        false,
    )
}

/// The reply when the models' queue is full.
pub fn busy() -> View {
    View::text(
        "I'm busy answering other questions — please try again in a moment.",
        false,
    )
}

/// The reply to anything asked while the bot is shutting down.
pub fn restarting() -> View {
    View::text("I'm restarting — please ask again in a minute.", true)
}

/// The reply to a question asked too soon after the last one.
pub fn cooldown(seconds_left: f64) -> View {
    View::text(
        format!(
            "You can ask again in {} s.",
            seconds_left.ceil().max(1.0) as u64
        ),
        true,
    )
}

/// The reply when something broke on the bot's side (the log has the details).
pub fn failure() -> View {
    View::text(
        "Sorry, something went wrong on my side. Please try again later.",
        true,
    )
}

/// The reply to a command that only works in a server.
pub fn guild_only() -> View {
    View::text(
        "Please use me in a server: each server has its own articles.",
        true,
    )
}

/// The reply to an empty question.
pub fn empty_question() -> View {
    View::text(
        "Ask me a question about the articles shared in this server.",
        true,
    )
}

/// The refusal for members who are not moderators.
pub fn not_moderator() -> View {
    View::text(
        "Sorry, only moderators can add or remove articles. Ask one of them to do it for you.",
        true,
    )
}

/// A reason the user's input was refused, told to them.
pub fn rejected(reason: &str) -> View {
    View::text(format!("I couldn't do that: {reason}"), true)
}

/// The reply to `/watch` and `/unwatch`.
pub fn watching(channel: u64, on: bool, members: bool, changed: bool, listed: bool) -> View {
    let whose = match members {
        true => "everyone's",
        false => "moderators'",
    };
    let text = match (on, changed) {
        (true, true) => format!(
            "Watching <#{channel}>: {whose} links and .txt/.html files posted there from now on are ingested. ✅ in, 🔁 already had it, ⚠️ failed (the reason goes in a thread on the post)."
        ),
        (true, false) => format!("<#{channel}> was already watched ({whose} posts)."),
        (false, true) if listed => format!(
            "Stopped watching <#{channel}>. The bot's config lists it, and it stays stopped until a moderator runs /watch there again. Its articles stay."
        ),
        (false, true) => {
            format!("Stopped watching <#{channel}>. The articles its posts brought in stay.")
        }
        (false, false) => format!("<#{channel}> was not watched."),
    };
    View::text(text, true)
}

/// Why a watched channel's post was not (all) ingested, in a thread on it.
pub fn post_failures(failures: &[String]) -> View {
    let lines: Vec<String> = failures
        .iter()
        .take(10)
        .map(|f| format!("- {}", escape(f)))
        .collect();
    View::text(
        truncate(
            &format!("I could not ingest this post:\n{}", lines.join("\n")),
            MESSAGE_LIMIT,
        ),
        false,
    )
}

/// The passage an answer came from, the answer in bold, for "Show passage".
pub fn passage(answer: &Answer) -> View {
    let body = match &answer.answer_in_passage {
        Some(r) if answer.passage.get(r.clone()).is_some() => format!(
            "{}**{}**{}",
            escape(&answer.passage[..r.start]),
            escape(&answer.passage[r.clone()]),
            escape(&answer.passage[r.end..])
        ),
        _ => escape(&answer.passage),
    };
    View {
        content: None,
        embed: Some(EmbedView {
            title: Some(truncate(&answer.title, TITLE_LIMIT)),
            url: answer.url.clone(),
            description: truncate(&body, DESCRIPTION_LIMIT),
            fields: Vec::new(),
            footer: None,
            colour: NOTICE_COLOUR,
        }),
        buttons: Vec::new(),
        ephemeral: true,
    }
}

/// Thanks for a vote.
pub fn voted(helpful: bool) -> View {
    let word = if helpful { "helpful" } else { "not helpful" };
    View::text(
        format!("Thanks! I noted that this answer was {word}."),
        true,
    )
}

/// A button whose record is gone (the bot restarted, or it is too old).
pub fn expired() -> View {
    View::text(
        "That answer is too old for this button; please ask again.",
        true,
    )
}

/// What `/ingest` did.
pub fn ingested(done: &Ingested) -> View {
    let what = match done.status {
        IngestStatus::Added => "Added a new article",
        IngestStatus::Updated => "Updated an article",
        IngestStatus::Unchanged => "Already had this article, unchanged",
    };
    let mut title = match &done.url {
        Some(url) => format!("[{}]({url})", escape(&done.title)),
        None => escape(&done.title),
    };
    if let Some(had) = done.cut_from {
        title += &format!(
            "\n\nOnly its first {} of {had} sentences were taken: that is more than one article holds.",
            done.sentences
        );
    }
    View {
        content: None,
        embed: Some(EmbedView {
            title: Some(what.into()),
            url: None,
            description: truncate(&title, DESCRIPTION_LIMIT),
            fields: vec![
                ("Sentences".into(), done.sentences.to_string()),
                (
                    "Id".into(),
                    truncate(&format!("`{}`", done.id), FIELD_LIMIT),
                ),
            ],
            footer: None,
            colour: NOTICE_COLOUR,
        }),
        buttons: Vec::new(),
        ephemeral: false,
    }
}

/// One page of `/articles` (pages count from 1), with buttons to the neighbouring pages.
pub fn articles(all: &[ArticleSummary], page: usize, per_page: usize) -> View {
    let per_page = per_page.max(1);
    if all.is_empty() {
        return View::text(
            "No articles yet. Moderators can add one with /ingest.",
            true,
        );
    }
    let pages = all.len().div_ceil(per_page);
    let page = page.clamp(1, pages);
    let mut lines = Vec::new();
    for (i, a) in all
        .iter()
        .enumerate()
        .skip((page - 1) * per_page)
        .take(per_page)
    {
        let title = truncate(&escape(&a.title), 120);
        let title = match &a.url {
            Some(url) if url.len() < 300 => format!("[{title}]({url})"),
            _ => title,
        };
        lines.push(format!(
            "{}. {title} · {} sentences · `{}`",
            i + 1,
            a.sentences,
            short_id(&a.id)
        ));
    }
    let mut buttons = Vec::new();
    if pages > 1 {
        let mut prev = button(
            format!("{}:{}", ids::PAGE, page.saturating_sub(1).max(1)),
            "Previous",
            ButtonStyle::Secondary,
        );
        prev.disabled = page == 1;
        let mut next = button(
            format!("{}:{}", ids::PAGE, (page + 1).min(pages)),
            "Next",
            ButtonStyle::Secondary,
        );
        next.disabled = page == pages;
        buttons = vec![prev, next];
    }
    View {
        content: None,
        embed: Some(EmbedView {
            title: Some(format!("{} articles", all.len())),
            url: None,
            description: truncate(&lines.join("\n"), DESCRIPTION_LIMIT),
            fields: Vec::new(),
            footer: Some(format!(
                "Page {page} of {pages} · /forget takes an id or URL"
            )),
            colour: NOTICE_COLOUR,
        }),
        buttons,
        ephemeral: true,
    }
}

/// Pages of an article's sentences, one a line, each page within an embed's description.
fn sentence_pages(sentences: &[String], limit: usize) -> Vec<String> {
    let mut pages = vec![String::new()];
    for s in sentences {
        let line = truncate(&escape(&one_line(s)), limit);
        let page = pages.last_mut().expect("one page at least");
        if !page.is_empty() && page.chars().count() + 1 + line.chars().count() > limit {
            pages.push(line);
        } else {
            if !page.is_empty() {
                page.push('\n');
            }
            page.push_str(&line);
        }
    }
    pages
}

/// `/article`: what newsqa took from a source, one sentence a line, paged to Discord's limits.
pub fn article_text(article: &ArticleText, page: usize) -> View {
    // Room for the footer and the date line within the description limit.
    let pages = sentence_pages(&article.sentences, DESCRIPTION_LIMIT - 200);
    let page = page.clamp(1, pages.len());
    let mut fields = Vec::new();
    if let Some(date) = &article.date {
        fields.push(("Date".to_owned(), truncate(&escape(date), 100)));
    }
    fields.push(("Source".to_owned(), truncate(&escape(&article.source), 200)));
    View {
        content: None,
        embed: Some(EmbedView {
            title: Some(truncate(&article.title, 256)),
            url: article.url.clone().filter(|u| u.len() < 500),
            description: pages[page - 1].clone(),
            fields,
            footer: Some(format!(
                "Page {page} of {} · {} sentences · {}{}",
                pages.len(),
                article.sentences.len(),
                short_id(&article.id),
                if pages.len() > 1 {
                    " · /article page: for more"
                } else {
                    ""
                }
            )),
            colour: NOTICE_COLOUR,
        }),
        buttons: Vec::new(),
        ephemeral: true,
    }
}

/// Asks the moderator to confirm `/forget`.
pub fn confirm_forget(article: &ArticleSummary, key: u64) -> View {
    View {
        content: Some(truncate(
            &format!(
                "Forget **{}** (`{}`, {} sentences)? Questions will no longer be answered from it.",
                escape(&article.title),
                short_id(&article.id),
                article.sentences
            ),
            MESSAGE_LIMIT,
        )),
        embed: None,
        buttons: vec![
            button(
                format!("{}:{key}", ids::FORGET),
                "Forget it",
                ButtonStyle::Danger,
            ),
            button(
                format!("{}:{key}", ids::KEEP),
                "Keep it",
                ButtonStyle::Secondary,
            ),
        ],
        ephemeral: true,
    }
}

/// After `/forget` was confirmed.
pub fn forgotten(title: &str) -> View {
    View::text(format!("Forgot **{}**.", escape(title)), true)
}

/// After `/forget` was cancelled, or found nothing to forget.
pub fn kept(note: &str) -> View {
    View::text(note, true)
}

/// After `/feed add`.
pub fn feed_added(feed: &FeedInfo, articles: usize) -> View {
    let name = feed.title.as_deref().unwrap_or(&feed.url);
    let whereto = match feed.channel {
        Some(c) => format!(" New articles will be announced in <#{c}>."),
        None => String::new(),
    };
    View::text(
        format!(
            "Following **{}**: {articles} article(s) ingested now; new ones are picked up as they appear.{whereto}",
            escape(name)
        ),
        true,
    )
}

/// `/feed list`.
pub fn feeds(list: &[FeedInfo]) -> View {
    if list.is_empty() {
        return View::text(
            "This server follows no feeds. Add one with /feed add.",
            true,
        );
    }
    let lines: Vec<String> = list
        .iter()
        .map(|f| {
            let name = escape(f.title.as_deref().unwrap_or("(not read yet)"));
            let mut line = format!("**{name}** · {} articles · <{}>", f.articles, f.url);
            if let Some(c) = f.channel {
                line.push_str(&format!(" · announced in <#{c}>"));
            }
            if let Some(e) = &f.last_error {
                let flag = if f.failing {
                    "⚠️ failing for days"
                } else {
                    "last poll failed"
                };
                line.push_str(&format!("\n  {flag}: {}", escape(&truncate(e, 300))));
            }
            if f.given_up > 0 {
                line.push_str(&format!(
                    "\n  gave up on {} item(s) that kept failing (dead links, PDFs, blocked sites)",
                    f.given_up
                ));
            }
            line
        })
        .collect();
    View {
        content: None,
        embed: Some(EmbedView {
            title: Some(format!("{} feeds", list.len())),
            url: None,
            description: truncate(&lines.join("\n"), DESCRIPTION_LIMIT),
            fields: Vec::new(),
            footer: Some("/feed remove takes a feed's address".into()),
            colour: NOTICE_COLOUR,
        }),
        buttons: Vec::new(),
        ephemeral: true,
    }
}

/// After `/feed remove`.
pub fn feed_removed(feed: &FeedInfo) -> View {
    View::text(
        format!(
            "No longer following **{}**; its {} article(s) stay (use /forget to remove them).",
            escape(feed.title.as_deref().unwrap_or(&feed.url)),
            feed.articles
        ),
        true,
    )
}

/// The notice posted in a channel when a feed brings a new article.
pub fn announcement(a: &Announcement) -> View {
    let title = escape(&a.title);
    let title = match &a.url {
        // Angle brackets: a link without a preview card.
        Some(url) => format!("[{title}](<{url}>)"),
        None => format!("**{title}**"),
    };
    View::text(format!("📰 New from {}: {title}", escape(&a.feed)), false)
}

/// An id short enough to show: URLs whole, text hashes to their first 12 hex digits.
pub fn short_id(id: &str) -> &str {
    match id.strip_prefix("sha256:") {
        Some(hex) => &id[..7 + hex.len().min(12)],
        None => id,
    }
}

/// A Discord block quote of `text`, escaped, at most `limit` characters.
fn quote_block(text: &str, limit: usize) -> String {
    truncate(&format!("> {}", escape(&one_line(text))), limit)
}

/// Text on one line: runs of whitespace (line breaks of wrapped text included) as one space.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Escapes Discord markdown so article text shows as written.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '*' | '_' | '~' | '`' | '|' | '[' | ']' | '<' | '>'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Cuts `text` to at most `max` characters, at a word boundary, ending in an ellipsis.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    if max == 0 {
        return String::new();
    }
    let keep: String = text.chars().take(max - 1).collect();
    // Back off to the last space unless that would throw away most of the text.
    let cut = match keep.rfind(char::is_whitespace) {
        Some(i) if i >= keep.len() / 2 => &keep[..i],
        _ => keep.as_str(),
    };
    let cut = cut.trim_end().trim_end_matches('\\');
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::OlderAnswer;

    fn nsa() -> Answer {
        let passage = "The order seems to primarily impact cyber operations at the Cyber National Mission Force, with the NSA specifically exempted from its parameters. Officials declined to comment.".to_string();
        let start = passage.find("the NSA").unwrap();
        Answer {
            question: "Which agency is exempted?".into(),
            kind: AnswerKind::Span,
            continues: None,
            text: "the NSA".into(),
            citation: "The order seems to primarily impact cyber operations at the Cyber National Mission Force, with the NSA specifically exempted from its parameters.".into(),
            article_id: "sha256:0123456789abcdef".into(),
            title: "Cyber Operations Targeting Russia Paused, But Order Came Before Trump-Zelensky Meeting".into(),
            url: Some("https://example.com/cyber".into()),
            date: None,
            confidence: 0.87,
            older: None,
            answer_in_passage: Some(start..start + "the NSA".len()),
            passage,
        }
    }

    #[test]
    fn answer_embed_shows_answer_quote_linked_title_and_confidence() {
        insta::assert_yaml_snapshot!(answer(&nsa(), 42));
    }

    #[test]
    fn answer_without_url_names_the_article_without_a_link() {
        let mut a = nsa();
        a.url = None;
        let view = answer(&a, 7);
        let source = &view.embed.unwrap().fields[0].1;
        assert_eq!(source, &a.title);
    }

    #[test]
    fn a_dated_answer_shows_its_date_and_names_the_older_article_it_was_preferred_to() {
        let mut a = nsa();
        a.date = Some("3 Mar 2025".into());
        a.older = Some(OlderAnswer {
            text: "the FBI".into(),
            title: "Cyber order *exempts* FBI".into(),
            url: Some("https://example.com/older".into()),
            date: "12 Jan 2024".into(),
        });
        let fields = answer(&a, 7).embed.unwrap().fields;
        assert_eq!(
            fields[0].1,
            format!("[{}](https://example.com/cyber) · 3 Mar 2025", a.title)
        );
        assert_eq!(
            fields[1],
            (
                "An older article".to_owned(),
                "[Cyber order \\*exempts\\* FBI](https://example.com/older) (12 Jan 2024) says **the FBI**"
                    .to_owned()
            )
        );
        a.title = "x".repeat(2000);
        let fields = answer(&a, 7).embed.unwrap().fields;
        assert!(fields[0].1.ends_with(" · 3 Mar 2025"), "{}", fields[0].1);
        assert!(fields[0].1.chars().count() <= FIELD_LIMIT);
    }

    #[test]
    fn a_yes_no_answer_quotes_the_deciding_sentence_and_a_follow_up_names_what_it_continues() {
        let mut a = nsa();
        a.kind = AnswerKind::Sentence;
        a.question = "Is the NSA exempted?".into();
        let view = answer(&a, 7);
        let e = view.embed.as_ref().unwrap();
        assert_eq!(e.title.as_deref(), Some("The article says:"));
        assert!(e.description.contains("the NSA specifically exempted"));
        assert_eq!(view.content, None);
        let mut b = nsa();
        b.continues = Some(crate::backend::Earlier {
            question: "Who *issued* the order?".into(),
            answer: Some("Pete Hegseth".into()),
            citation: None,
            article_id: None,
            title: None,
        });
        assert_eq!(
            answer(&b, 7).content.as_deref(),
            Some("↪ Following up *Who \\*issued\\* the order?* → **Pete Hegseth**")
        );
    }

    #[test]
    fn passage_view_bolds_the_answer() {
        insta::assert_yaml_snapshot!(passage(&nsa()));
    }

    #[test]
    fn abstention_busy_and_refusal_texts() {
        insta::assert_yaml_snapshot!([
            abstain(None),
            abstain(Some("I found nothing about 2016 in the articles.")),
            busy(),
            cooldown(4.2),
            not_moderator(),
            no_articles(),
            chatter()
        ]);
    }

    #[test]
    fn ingest_report_and_article_pages() {
        let done = Ingested {
            id: "https://example.com/cyber".into(),
            title: "Cyber Operations Targeting Russia Paused".into(),
            url: Some("https://example.com/cyber".into()),
            sentences: 21,
            cut_from: None,
            status: IngestStatus::Added,
        };
        let list: Vec<ArticleSummary> = (1..=12)
            .map(|i| ArticleSummary {
                id: format!("sha256:{i:016x}"),
                title: format!("Story number {i}"),
                url: None,
                sentences: i,
            })
            .collect();
        insta::assert_yaml_snapshot!([ingested(&done), articles(&list, 2, 10)]);
    }

    #[test]
    fn an_ingest_cut_to_its_first_sentences_says_so() {
        let done = Ingested {
            id: "sha256:0123456789abcdef".into(),
            title: "dump.txt".into(),
            url: None,
            sentences: 2000,
            cut_from: Some(48_213),
            status: IngestStatus::Added,
        };
        insta::assert_yaml_snapshot!(ingested(&done));
    }

    #[test]
    fn feed_list_flags_failing_feeds_and_announcements_link_quietly() {
        let list = vec![
            FeedInfo {
                url: "https://city.example/feed.xml".into(),
                title: Some("Town Crier".into()),
                articles: 12,
                channel: Some(3003),
                last_error: None,
                failing: false,
                given_up: 2,
            },
            FeedInfo {
                url: "https://gone.example/rss".into(),
                title: None,
                articles: 0,
                channel: None,
                last_error: Some("https://gone.example/rss: the server answered 404".into()),
                failing: true,
                given_up: 0,
            },
        ];
        let notice = announcement(&Announcement {
            guild: 1,
            channel: 3003,
            feed: "Town Crier".into(),
            title: "School term starts a week late".into(),
            url: Some("https://city.example/news/c".into()),
        });
        insta::assert_yaml_snapshot!([feeds(&list), feed_added(&list[0], 2), notice]);
    }

    #[test]
    fn first_page_disables_previous_and_last_disables_next() {
        let list: Vec<ArticleSummary> = (0..25)
            .map(|i| ArticleSummary {
                id: format!("id{i}"),
                title: format!("t{i}"),
                url: None,
                sentences: 1,
            })
            .collect();
        let first = articles(&list, 1, 10);
        assert!(first.buttons[0].disabled && !first.buttons[1].disabled);
        let last = articles(&list, 99, 10);
        assert!(!last.buttons[0].disabled && last.buttons[1].disabled);
        assert!(last
            .embed
            .unwrap()
            .footer
            .unwrap()
            .starts_with("Page 3 of 3"));
    }

    #[test]
    fn long_text_is_cut_at_a_word_boundary_with_an_ellipsis() {
        let text = "alpha beta gamma delta epsilon";
        assert_eq!(truncate(text, 14), "alpha beta…");
        assert_eq!(truncate(text, 100), text);
        let cut = truncate(&"word ".repeat(2000), MESSAGE_LIMIT);
        assert!(cut.chars().count() <= MESSAGE_LIMIT);
        assert!(cut.ends_with("word…"));
    }

    #[test]
    fn a_word_longer_than_the_limit_is_cut_inside_it() {
        let cut = truncate(&"x".repeat(50), 10);
        assert_eq!(cut, format!("{}…", "x".repeat(9)));
    }

    #[test]
    fn every_part_of_a_huge_answer_fits_discord_limits() {
        let mut a = nsa();
        a.text = "answer ".repeat(100);
        a.citation = "sentence ".repeat(1000);
        a.title = "Title ".repeat(400);
        a.passage = "passage ".repeat(1000);
        a.answer_in_passage = Some(0..7);
        let view = answer(&a, 1);
        let embed = view.embed.unwrap();
        assert!(embed.title.unwrap().chars().count() <= TITLE_LIMIT);
        assert!(embed.description.chars().count() <= DESCRIPTION_LIMIT);
        assert!(embed.description.ends_with('…'));
        assert!(embed
            .fields
            .iter()
            .all(|(_, v)| v.chars().count() <= FIELD_LIMIT));
        let shown = passage(&a).embed.unwrap();
        assert!(shown.description.chars().count() <= DESCRIPTION_LIMIT);
    }

    #[test]
    fn markdown_in_article_text_is_shown_literally() {
        assert_eq!(escape("a *b* _c_ [d](e)"), r"a \*b\* \_c\_ \[d\](e)");
    }

    #[test]
    fn button_ids_round_trip() {
        assert_eq!(ids::parse("passage:42"), Some(("passage", 42)));
        assert_eq!(ids::parse("passage:x"), None);
        assert_eq!(ids::parse("nothing"), None);
    }

    #[test]
    fn text_hash_ids_are_shortened_and_urls_are_not() {
        assert_eq!(short_id("sha256:0123456789abcdef"), "sha256:0123456789ab");
        assert_eq!(short_id("https://x.test/a"), "https://x.test/a");
    }

    #[test]
    fn a_long_article_is_paged_within_the_embed_limit_and_loses_no_sentence() {
        let sentences: Vec<String> = (0..300)
            .map(|i| format!("Sentence number {i} says something about the harbour works."))
            .collect();
        let article = ArticleText {
            id: "https://example.com/harbour".into(),
            title: "Harbour works".into(),
            url: Some("https://example.com/harbour".into()),
            date: Some("2025-03-10".into()),
            source: "https://example.com/harbour".into(),
            sentences: sentences.clone(),
        };
        let mut shown = Vec::new();
        let mut page = 1;
        loop {
            let view = article_text(&article, page);
            let embed = view.embed.unwrap();
            assert!(embed.description.chars().count() <= DESCRIPTION_LIMIT - 200);
            shown.extend(embed.description.lines().map(str::to_owned));
            let footer = embed.footer.unwrap();
            if footer.starts_with(&format!("Page {page} of {page} ")) {
                break;
            }
            page += 1;
        }
        assert!(page > 1);
        assert_eq!(shown, sentences);
        // A page past the end shows the last one.
        assert_eq!(article_text(&article, 99), article_text(&article, page));
    }
}
