//! A question as a member typed it in Discord, read as plain words: mentions, custom emoji,
//! timestamps and markdown taken out, so that `<@&123>` or `**` is not searched for.

/// The words of a Discord message or option: user, role and channel mentions, `@everyone` and
/// `@here`, command mentions, custom emoji and timestamps removed; a markdown link read as its
/// text; emphasis, spoiler, code and quote markers dropped; whitespace collapsed.
pub fn plain(content: &str) -> String {
    let mut out = String::with_capacity(content.len());
    for line in content.lines() {
        out.push_str(strip_line_marker(line));
        out.push('\n');
    }
    let out = strip_tags(&out);
    let out = strip_links(&out);
    let out = out.replace("@everyone", " ").replace("@here", " ");
    let out = strip_markers(&out);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether a question has anything to search for: at least one letter or digit.
pub fn has_words(question: &str) -> bool {
    question.chars().any(char::is_alphanumeric)
}

/// Block quotes, headings and subtext at the start of a line.
fn strip_line_marker(line: &str) -> &str {
    let t = line.trim_start();
    for marker in [">>> ", "> ", "### ", "## ", "# ", "-# "] {
        if let Some(rest) = t.strip_prefix(marker) {
            return rest;
        }
    }
    t
}

/// `<@1>`, `<@!1>`, `<@&1>`, `<#1>`, `</cmd:1>`, `<:name:1>`, `<a:name:1>`, `<t:1:R>` and
/// `<id:customize>` become a space; any other `<...>` stays.
fn strip_tags(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('<') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        match tail[1..].find(['>', '<']).map(|i| i + 1) {
            Some(end) if tail.as_bytes()[end] == b'>' && is_discord_tag(&tail[1..end]) => {
                out.push(' ');
                rest = &tail[end + 1..];
            }
            _ => {
                out.push('<');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn is_discord_tag(inner: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let name = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | ' '))
    };
    if let Some(id) = inner
        .strip_prefix("@!")
        .or_else(|| inner.strip_prefix("@&"))
        .or_else(|| inner.strip_prefix('@'))
        .or_else(|| inner.strip_prefix('#'))
    {
        return digits(id);
    }
    if let Some(rest) = inner.strip_prefix('/') {
        return rest
            .rsplit_once(':')
            .is_some_and(|(n, id)| name(n) && digits(id));
    }
    if let Some(rest) = inner.strip_prefix("t:") {
        let ts = rest.split_once(':').map_or(rest, |(ts, _style)| ts);
        return digits(ts);
    }
    if let Some(rest) = inner.strip_prefix("id:") {
        return name(rest);
    }
    let emoji = inner.strip_prefix("a:").or_else(|| inner.strip_prefix(':'));
    emoji.is_some_and(|rest| {
        rest.split_once(':')
            .is_some_and(|(n, id)| name(n) && digits(id))
    })
}

/// `[text](url)` becomes `text`.
fn strip_links(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let tail = &rest[open..];
        let link = tail.find("](").and_then(|mid| {
            let close = tail[mid..].find(')')? + mid;
            let label = &tail[1..mid];
            (!label.contains('[') && !tail[mid + 2..close].contains(char::is_whitespace))
                .then_some((label, close))
        });
        out.push_str(&rest[..open]);
        match link {
            Some((label, close)) => {
                out.push_str(label);
                rest = &tail[close + 1..];
            }
            None => {
                out.push('[');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Emphasis, strike-through, spoiler and code markers, and the backslashes that escape them.
/// An underscore inside a word (`snake_case`) stays.
fn strip_markers(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        let prev = i.checked_sub(1).map(|j| chars[j]);
        let next = chars.get(i + 1).copied();
        let inside_word = |p: Option<char>, n: Option<char>| {
            p.is_some_and(char::is_alphanumeric) && n.is_some_and(char::is_alphanumeric)
        };
        match c {
            '*' | '`' | '|' | '~' => {}
            '_' if !inside_word(prev, next) => {}
            '\\' if next.is_some_and(|n| "*_`|~>#[]()\\".contains(n)) => {}
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{has_words, plain};

    #[test]
    fn mentions_emoji_and_timestamps_are_not_words() {
        assert_eq!(
            plain("@everyone <@&4242> <@!7> <@8> <#9> which agency is exempted? @here"),
            "which agency is exempted?"
        );
        assert_eq!(
            plain("<:pepe:123> what did </ask:55> say <t:1700000000:R>? <a:dance:9>"),
            "what did say ?"
        );
        // Angle brackets that are not Discord's stay.
        assert_eq!(plain("is 3 <5 and x> 2?"), "is 3 <5 and x> 2?");
        assert_eq!(plain("<@abc> <@ 1>"), "<@abc> <@ 1>");
    }

    #[test]
    fn markdown_is_read_as_its_text() {
        assert_eq!(
            plain("**which** [agency](https://evil.example/x) is ~~not~~ *exempted*? ||x|| `code`"),
            "which agency is not exempted? x code"
        );
        assert_eq!(plain("> who signed\n# the order?"), "who signed the order?");
        assert_eq!(
            plain("what is snake_case and __this__?"),
            "what is snake_case and this?"
        );
        assert_eq!(
            plain(r"a \*literal\* star [not a link]"),
            "a literal star [not a link]"
        );
    }

    #[test]
    fn a_question_needs_a_letter_or_a_digit() {
        assert!(has_words("who?"));
        assert!(has_words("2014?"));
        assert!(has_words("מי?"));
        assert!(!has_words("🙂🙂 ?!"));
        assert!(!has_words("\u{200b}"));
        assert!(!has_words(""));
    }
}
