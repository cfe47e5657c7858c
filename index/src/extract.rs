//! From raw bytes (a text or HTML file) to a clean article: title, date, body text.

use crate::{IndexError, Result};

/// File extensions (lower case, without the dot) of the articles ingest looks for: taken from
/// directories by the CLI (files named explicitly are read whatever their name), accepted as
/// attachments by the bot.
pub const ARTICLE_EXTENSIONS: &[&str] = &["txt", "text", "html", "htm", "xhtml", "md"];

/// What kind of document some bytes hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Plain text; the first line is the headline.
    Text,
    /// An HTML page; readability picks out the article body.
    Html,
}

impl Format {
    /// Guesses the format from a file name and the first bytes of the content.
    pub fn detect(name: &str, text: &str) -> Format {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".html") || lower.ends_with(".htm") || lower.ends_with(".xhtml") {
            return Format::Html;
        }
        let head: String = text
            .trim_start_matches('\u{feff}')
            .trim_start()
            .chars()
            .take(512)
            .collect::<String>()
            .to_ascii_lowercase();
        if head.starts_with("<!doctype html")
            || head.starts_with("<html")
            || (head.starts_with('<') && (head.contains("<head") || head.contains("<body")))
        {
            Format::Html
        } else {
            Format::Text
        }
    }
}

/// An article after extraction, before sentence splitting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    /// The headline.
    pub title: String,
    /// The publication date as written in the source, if one was found.
    pub date: Option<String>,
    /// The author (byline), if the page names one.
    pub author: Option<String>,
    /// The canonical URL, if the page declares one.
    pub url: Option<String>,
    /// The article body, paragraphs separated by blank lines.
    pub body: String,
}

/// Decodes bytes to text: UTF-8 when valid, otherwise Windows-1252 (a superset of
/// ISO-8859-1, which older news archives use). Refuses binary files.
pub fn decode(name: &str, bytes: &[u8]) -> Result<String> {
    // Document formats known by their first bytes, whatever the file is called.
    for (magic, kind) in [
        (&b"%PDF-"[..], "a PDF"),
        (b"{\\rtf", "a rich-text (RTF) document"),
    ] {
        if bytes.starts_with(magic) {
            return Err(IndexError::Unreadable {
                name: name.into(),
                kind,
            });
        }
    }
    let text = match utf16(bytes) {
        Some(encoding) => encoding.decode_with_bom_removal(bytes).0.into_owned(),
        None => {
            let sample = &bytes[..bytes.len().min(8192)];
            let controls = sample
                .iter()
                .filter(|&&b| b < 0x20 && !matches!(b, b'\n' | b'\r' | b'\t' | 0x0c))
                .count();
            if sample.contains(&0) || controls * 20 > sample.len().max(1) {
                return Err(IndexError::Binary { name: name.into() });
            }
            match std::str::from_utf8(bytes) {
                Ok(s) => s.to_owned(),
                Err(_) => {
                    tracing::warn!(file = name, "not valid UTF-8; decoding as Windows-1252");
                    let (cow, _, _) = encoding_rs::WINDOWS_1252.decode(bytes);
                    cow.into_owned()
                }
            }
        }
    };
    Ok(text
        .trim_start_matches('\u{feff}')
        .replace("\r\n", "\n")
        .replace('\r', "\n"))
}

/// UTF-16, by its byte-order mark, or without one by zero bytes that fall (almost) only on
/// odd positions (little-endian) or only on even ones (big-endian), as in ASCII-range text.
fn utf16(bytes: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    match encoding_rs::Encoding::for_bom(bytes) {
        Some((e, _)) if e == encoding_rs::UTF_16LE || e == encoding_rs::UTF_16BE => return Some(e),
        Some(_) => return None,
        None => {}
    }
    let sample = &bytes[..bytes.len().min(8192) & !1];
    if sample.len() < 8 {
        return None;
    }
    let (mut even, mut odd) = (0, 0);
    for pair in sample.chunks_exact(2) {
        even += usize::from(pair[0] == 0);
        odd += usize::from(pair[1] == 0);
    }
    let pairs = sample.len() / 2;
    if odd * 10 >= pairs * 7 && even * 100 <= pairs {
        Some(encoding_rs::UTF_16LE)
    } else if even * 10 >= pairs * 7 && odd * 100 <= pairs {
        Some(encoding_rs::UTF_16BE)
    } else {
        None
    }
}

/// Extracts the article from decoded text of the given format.
pub fn extract(name: &str, text: &str, format: Format) -> Result<Extracted> {
    let extracted = match format {
        Format::Text => extract_text(text),
        Format::Html => extract_html(text),
    };
    if extracted.body.trim().is_empty() {
        return Err(IndexError::Empty { name: name.into() });
    }
    Ok(extracted)
}

/// Headings that start the page furniture at the end of a pasted article.
const FURNITURE: &[&str] = &[
    "recent posts",
    "related posts",
    "related articles",
    "related stories",
    "more stories",
    "read more",
    "more from",
    "share this",
    "share this article",
    "leave a reply",
    "leave a comment",
    "comments",
    "how can we help?",
    "subscribe to our newsletter",
    "sign up for our newsletter",
    "you may also like",
    "popular posts",
    "trending now",
];

fn extract_text(text: &str) -> Extracted {
    let mut lines = text.lines().peekable();
    while lines.peek().is_some_and(|l| l.trim().is_empty()) {
        lines.next();
    }
    let first = lines.next().unwrap_or("").trim().to_owned();
    let rest: Vec<&str> = lines.collect();
    // A one-line "title" that reads like prose is body text; the file has no headline.
    let (title, mut body_lines) = if first.chars().count() <= 200 {
        (first, rest)
    } else {
        let mut all = vec![text.lines().find(|l| !l.trim().is_empty()).unwrap_or("")];
        all.extend(rest);
        (String::new(), all)
    };

    // A byline/date line near the top ("by | Mar 10, 2025") is metadata, not prose.
    let mut date = None;
    for i in 0..body_lines.len().min(4) {
        let line = body_lines[i].trim();
        if line.is_empty() {
            continue;
        }
        if line.chars().count() <= 80 {
            if let Some(d) = find_date(line) {
                date = Some(d);
                body_lines.remove(i);
            }
        }
        break;
    }

    // Cut the page furniture at the end: a known heading in the last part of the text.
    let total = body_lines.len();
    if let Some(cut) = body_lines
        .iter()
        .enumerate()
        .position(|(i, l)| i * 2 >= total && FURNITURE.contains(&l.trim().to_lowercase().as_str()))
    {
        body_lines.truncate(cut);
    }

    let mut body = body_lines.join("\n").trim().to_owned();
    // A single paragraph with no headline above it: the line is the article.
    let mut title = title;
    if body.is_empty() && !title.is_empty() {
        body = std::mem::take(&mut title);
    }
    let title = if title.is_empty() {
        body.chars().take(80).collect()
    } else {
        title
    };
    Extracted {
        title,
        date,
        author: None,
        url: None,
        body,
    }
}

/// The deepest element nesting kept for extraction. Readability's scoring walks each node's
/// ancestors, so its time grows with the square of the depth: 10,000 nested `<div>`s took 21 s,
/// 100,000 would take hours. Real articles nest a few dozen levels deep.
const MAX_HTML_DEPTH: usize = 512;

/// Elements that never have an end tag, or whose end tag may be left out: they do not count
/// towards the nesting depth.
const UNNESTED: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr", "p", "li", "dt", "dd", "tr", "td", "th", "option", "optgroup", "thead",
    "tbody", "tfoot", "colgroup", "caption", "rb", "rt", "rp", "html", "head", "body",
];

/// The page with the tags below `cap` levels of nesting taken out (their text stays), or
/// `None` when it nests no deeper than that. Script, style, comment and CDATA contents are
/// passed over whole.
fn flatten_deep(html: &str, cap: usize) -> Option<String> {
    let mut out = String::new();
    let mut depth = 0usize;
    let mut deepest = 0usize;
    // html[..copied] is in `out`; 0 until the first tag is taken out.
    let mut copied = 0;
    let mut at = 0;
    while let Some(i) = html[at..].find('<').map(|i| i + at) {
        let rest = &html[i..];
        // Markup whose contents are not tags.
        let skip_to = |close: &str| rest.find(close).map_or(html.len(), |j| i + j + close.len());
        if rest.starts_with("<!--") {
            at = skip_to("-->");
            continue;
        }
        if rest.starts_with("<![CDATA[") {
            at = skip_to("]]>");
            continue;
        }
        let end = match rest.find('>') {
            Some(j) => i + j + 1,
            None => break,
        };
        let tag = &html[i + 1..end - 1];
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect::<String>()
            .to_ascii_lowercase();
        at = end;
        if name.is_empty() || UNNESTED.contains(&name.as_str()) || tag.ends_with('/') {
            continue;
        }
        if !closing && (name == "script" || name == "style") {
            let close = format!("</{name}");
            at = find_ignoring_case(&html[end..], &close).map_or(html.len(), |j| end + j);
            continue;
        }
        let elide = if closing {
            let deep = depth > cap;
            depth = depth.saturating_sub(1);
            deep
        } else {
            depth += 1;
            deepest = deepest.max(depth);
            depth > cap
        };
        if elide {
            if copied == 0 {
                out.reserve(html.len());
            }
            out.push_str(&html[copied..i]);
            out.push(' ');
            copied = end;
        }
    }
    if copied == 0 {
        return None;
    }
    out.push_str(&html[copied..]);
    tracing::warn!(
        depth = deepest,
        cap,
        "page nests elements too deeply; flattened the inner ones"
    );
    Some(out)
}

/// Where `needle` (ASCII) first occurs in `hay`, ignoring ASCII case.
fn find_ignoring_case(hay: &str, needle: &str) -> Option<usize> {
    let (hay, needle) = (hay.as_bytes(), needle.as_bytes());
    hay.windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

fn extract_html(html: &str) -> Extracted {
    let flattened = flatten_deep(html, MAX_HTML_DEPTH);
    let html = flattened.as_deref().unwrap_or(html);
    use dom_smoothie::{Config, Readability, TextMode};
    let cfg = Config {
        text_mode: TextMode::Formatted,
        ..Default::default()
    };
    let parsed = Readability::new(html, None, Some(cfg)).and_then(|mut r| r.parse());
    match parsed {
        Ok(article) => {
            let body = tidy_paragraphs(&article.text_content);
            let title = if article.title.trim().is_empty() {
                body.lines().next().unwrap_or("").chars().take(80).collect()
            } else {
                article.title.trim().to_owned()
            };
            let date = article
                .published_time
                .filter(|d| !d.trim().is_empty())
                .or_else(|| time_element(html));
            Extracted {
                title,
                date,
                author: article.byline.as_deref().and_then(clean_byline),
                url: canonical_link(html)
                    .or(article.url)
                    .filter(|u| u.starts_with("http")),
                body,
            }
        }
        Err(e) => {
            tracing::debug!(error = %e, "readability found no article; keeping the page text");
            let doc = dom_smoothie::Readability::new(html, None, None)
                .map(|r| r.doc.root().text().to_string())
                .unwrap_or_default();
            extract_text(&doc)
        }
    }
}

/// The author's name from a byline: "By Dana Whitfield · March 12, 2025" -> "Dana Whitfield".
fn clean_byline(byline: &str) -> Option<String> {
    let b = byline.trim();
    let b = b
        .strip_prefix("By ")
        .or_else(|| b.strip_prefix("by "))
        .unwrap_or(b);
    let name = b.split(['·', '|', '•', '—', '\n']).next()?.trim();
    let name = match find_date(name) {
        Some(_) => name.split(',').next()?.trim(),
        None => name,
    };
    (!name.is_empty() && name.chars().count() <= 120).then(|| name.to_owned())
}

/// The attributes of every `<name ...>` tag, lower-cased names, values with `&amp;` decoded.
fn tags(html: &str, name: &str) -> Vec<Vec<(String, String)>> {
    let lower = html.to_ascii_lowercase();
    let open = format!("<{name}");
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = lower[from..].find(&open).map(|i| i + from) {
        let start = at + open.len();
        let Some(len) = lower[start..].find('>') else {
            break;
        };
        from = start + len;
        if !lower[start..].starts_with(|c: char| c.is_whitespace() || c == '/' || c == '>') {
            continue;
        }
        out.push(attributes(&html[start..start + len]));
    }
    out
}

fn attributes(mut rest: &str) -> Vec<(String, String)> {
    let mut attrs = Vec::new();
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
        let name_len = rest
            .find(|c: char| c.is_whitespace() || c == '=' || c == '/')
            .unwrap_or(rest.len());
        if name_len == 0 {
            return attrs;
        }
        let name = rest[..name_len].to_ascii_lowercase();
        rest = rest[name_len..].trim_start();
        let mut value = String::new();
        if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start();
            let (v, tail) = match after.chars().next() {
                Some(q @ ('"' | '\'')) => {
                    let body = &after[1..];
                    let end = body.find(q).unwrap_or(body.len());
                    (&body[..end], body.get(end + 1..).unwrap_or(""))
                }
                _ => {
                    let end = after.find(char::is_whitespace).unwrap_or(after.len());
                    (&after[..end], &after[end..])
                }
            };
            value = v.replace("&amp;", "&");
            rest = tail;
        }
        attrs.push((name, value));
    }
}

fn attr<'a>(attrs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    attrs.iter().find(|(n, _)| n == name).map(|(_, v)| v.trim())
}

/// The page's canonical URL: `<link rel=canonical>`, else `og:url`.
fn canonical_link(html: &str) -> Option<String> {
    let link = tags(html, "link").into_iter().find_map(|a| {
        attr(&a, "rel")
            .is_some_and(|r| {
                r.split_whitespace()
                    .any(|r| r.eq_ignore_ascii_case("canonical"))
            })
            .then(|| attr(&a, "href").map(str::to_owned))
            .flatten()
    });
    link.or_else(|| {
        tags(html, "meta").into_iter().find_map(|a| {
            (attr(&a, "property") == Some("og:url"))
                .then(|| attr(&a, "content").map(str::to_owned))
                .flatten()
        })
    })
    .filter(|u| !u.is_empty())
}

/// The `datetime` of the first `<time>` element, for pages without date metadata.
fn time_element(html: &str) -> Option<String> {
    tags(html, "time").into_iter().find_map(|a| {
        attr(&a, "datetime")
            .filter(|d| !d.is_empty())
            .map(str::to_owned)
    })
}

/// Collapses runs of spaces and blank lines that HTML-to-text conversion leaves behind.
fn tidy_paragraphs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for para in text.split("\n\n") {
        let lines: Vec<String> = para
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|l| !l.is_empty())
            .collect();
        if lines.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push_str("\n\n");
        }
        out.push_str(&lines.join("\n"));
    }
    out
}

const MONTHS: &[&str] = &[
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// Finds a date written like "Mar 10, 2025", "10 March 2025" or "2025-03-10" in a short line.
fn find_date(line: &str) -> Option<String> {
    let words: Vec<&str> = line
        .split(|c: char| c.is_whitespace() || c == '|')
        .filter(|w| !w.is_empty())
        .collect();
    for (i, w) in words.iter().enumerate() {
        let clean = w.trim_matches(|c: char| !c.is_alphanumeric() && c != '-');
        let b = clean.as_bytes();
        if b.len() == 10 && b[4] == b'-' && b[7] == b'-' && clean[..4].parse::<u32>().is_ok() {
            return Some(clean.to_owned());
        }
        let lower = clean.to_lowercase();
        if MONTHS.iter().any(|m| lower.starts_with(m)) && clean.len() >= 3 {
            let year = |s: &str| {
                let s = s.trim_matches(|c: char| !c.is_ascii_digit());
                (s.len() == 4 && s.parse::<u32>().is_ok_and(|y| (1900..2200).contains(&y)))
                    .then(|| s.to_owned())
            };
            let day = |s: &str| {
                let s = s.trim_matches(|c: char| !c.is_ascii_digit());
                s.parse::<u32>().is_ok_and(|d| (1..=31).contains(&d))
            };
            // "Mar 10, 2025"
            if let (Some(d), Some(y)) = (words.get(i + 1), words.get(i + 2)) {
                if day(d) {
                    if let Some(y) = year(y) {
                        return Some(format!(
                            "{} {}, {}",
                            clean,
                            d.trim_matches(|c: char| !c.is_ascii_digit()),
                            y
                        ));
                    }
                }
            }
            // "10 March 2025"
            if let (Some(d), Some(y)) = (
                i.checked_sub(1).and_then(|j| words.get(j)),
                words.get(i + 1),
            ) {
                if day(d) {
                    if let Some(y) = year(y) {
                        return Some(format!("{d} {clean} {y}"));
                    }
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #[test]
    fn utf16_is_read_with_or_without_its_byte_order_mark() {
        let text = "Tide tables\r\n\r\nThe spring tide will peak at 6.2 metres — on Tuesday.";
        let le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let be: Vec<u8> = text.encode_utf16().flat_map(u16::to_be_bytes).collect();
        let want = text.replace("\r\n", "\n");
        for (bytes, bom) in [(le.clone(), vec![0xff, 0xfe]), (be, vec![0xfe, 0xff])] {
            assert_eq!(super::decode("t.txt", &bytes).unwrap(), want);
            let with_bom = [bom, bytes].concat();
            assert_eq!(super::decode("t.txt", &with_bom).unwrap(), want);
        }
        // Binary data with zero bytes is still refused.
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\x01\0\0\0\x01\0\x08\x06\0\0\0";
        assert!(super::decode("image.txt", png).is_err());
    }

    #[test]
    fn a_page_nested_too_deeply_is_flattened_and_keeps_its_text() {
        let n = 100_000;
        let page = format!(
            "<html><body>{}<p>Deep inside the page the mayor opened the new bridge on Monday. It cost four million pounds.</p>{}</body></html>",
            "<div class=\"x\">".repeat(n),
            "</div>".repeat(n)
        );
        let flat = super::flatten_deep(&page, 512).unwrap();
        assert_eq!(flat.matches("<div").count(), 512);
        assert_eq!(flat.matches("</div>").count(), 512);
        let article = super::extract("deep.html", &page, super::Format::Html).unwrap();
        assert!(
            article
                .body
                .contains("the mayor opened the new bridge on Monday"),
            "{}",
            article.body
        );
        // Shallow pages, and tags inside scripts and comments, are left alone.
        let shallow = format!(
            "<div><script>{}</script><!-- {} --><p>x</p></div>",
            "<div>".repeat(600),
            "<span>".repeat(600)
        );
        assert_eq!(super::flatten_deep(&shallow, 512), None);
    }

    use super::*;

    #[test]
    fn binary_files_are_refused() {
        let err = decode("x.bin", &[0x7f, b'E', b'L', b'F', 0, 0, 1, 2]).unwrap_err();
        assert!(matches!(err, IndexError::Binary { .. }), "{err}");
    }

    #[test]
    fn invalid_utf8_is_decoded_as_windows_1252() {
        let text = decode("old.txt", b"Caf\xe9 prices rose \x93sharply\x94.").unwrap();
        assert_eq!(text, "Café prices rose “sharply”.");
    }

    #[test]
    fn crlf_and_bom_are_normalised() {
        assert_eq!(
            decode("a", "\u{feff}A\r\nB\rC".as_bytes()).unwrap(),
            "A\nB\nC"
        );
    }

    #[test]
    fn text_title_date_and_furniture_are_separated_from_the_body() {
        let text = "Big Headline\n\nby | Mar 10, 2025\n\nFirst paragraph.\n\nSecond paragraph.\n\nRecent Posts\n\nOther story\n\nHow can we help?";
        let a = extract("a.txt", text, Format::Text).unwrap();
        assert_eq!(a.title, "Big Headline");
        assert_eq!(a.date.as_deref(), Some("Mar 10, 2025"));
        assert_eq!(a.body, "First paragraph.\n\nSecond paragraph.");
    }

    #[test]
    fn a_furniture_word_early_in_the_article_is_kept() {
        let text = "Title\n\nComments\n\nBody one.\n\nBody two.\n\nBody three.";
        let a = extract("a.txt", text, Format::Text).unwrap();
        assert!(a.body.starts_with("Comments"));
    }

    #[test]
    fn a_single_line_is_the_body_not_only_a_title() {
        let a = extract(
            "-",
            "Markets rallied on Tuesday. Analysts said so.\n",
            Format::Text,
        )
        .unwrap();
        assert_eq!(a.body, "Markets rallied on Tuesday. Analysts said so.");
        assert_eq!(a.title, "Markets rallied on Tuesday. Analysts said so.");
    }

    #[test]
    fn an_empty_file_is_an_error_naming_it() {
        let err = extract("empty.txt", "  \n\n", Format::Text).unwrap_err();
        assert!(err.to_string().contains("empty.txt"), "{err}");
    }

    #[test]
    fn html_is_detected_by_name_or_content() {
        assert_eq!(Format::detect("a.HTML", "hello"), Format::Html);
        assert_eq!(Format::detect("-", "<!DOCTYPE html><html>"), Format::Html);
        assert_eq!(Format::detect("a.txt", "Plain <b> text"), Format::Text);
    }

    #[test]
    fn html_article_text_comes_without_navigation_or_scripts() {
        let html = r#"<!doctype html><html><head><title>Site | Pause ordered</title>
            <meta property="og:title" content="Pause ordered">
            <meta property="article:published_time" content="2025-03-10T12:00:00Z">
            <link rel="canonical" href="https://example.com/pause">
            <script>var tracking = "do not index";</script></head>
            <body><nav><a href="/">Home</a> <a href="/news">News</a></nav>
            <article><h1>Pause ordered</h1>
            <p>The order was issued by new defense secretary Pete Hegseth, who also requested a risk assessment report outlining what missions would be halted.</p>
            <p>The order seems to primarily impact cyber operations at the Cyber National Mission Force, with the NSA specifically exempted from its parameters.</p>
            <p>The sources did clarify that the order only halts offensive cyber operations, and that defensive work continues as before in every agency.</p>
            </article><footer>Copyright 2025. All rights reserved.</footer></body></html>"#;
        let a = extract("page.html", html, Format::Html).unwrap();
        assert_eq!(a.title, "Pause ordered");
        assert!(a
            .body
            .contains("with the NSA specifically exempted from its parameters."));
        assert!(!a.body.contains("tracking"), "{}", a.body);
        assert!(!a.body.contains("Home"), "{}", a.body);
        assert!(!a.body.contains("Copyright"), "{}", a.body);
        assert!(a.date.as_deref().unwrap_or("").starts_with("2025-03-10"));
    }

    #[test]
    fn dates_are_found_in_common_spellings() {
        assert_eq!(
            find_date("by | Mar 10, 2025").as_deref(),
            Some("Mar 10, 2025")
        );
        assert_eq!(
            find_date("Published 10 March 2025").as_deref(),
            Some("10 March 2025")
        );
        assert_eq!(find_date("2025-03-10").as_deref(), Some("2025-03-10"));
        assert_eq!(find_date("Mayor speaks"), None);
    }

    fn page(name: &str) -> Extracted {
        let path = format!("{}/../tests/data/pages/{name}", env!("CARGO_MANIFEST_DIR"));
        let html = std::fs::read_to_string(&path).unwrap();
        extract(name, &html, Format::Html).unwrap()
    }

    /// Text that is page furniture in the test pages, never article text.
    const PAGE_FURNITURE: &[&str] = &[
        "cookie",
        "Related Posts",
        "Leave a Reply",
        "email address",
        "Post Comment",
        "All rights reserved",
        "How can we help",
        "Most Read",
        "newsletter",
        "Subscribe",
        "Log in",
        "Privacy",
        "Menu",
        "Sports",
    ];

    fn assert_clean(name: &str, body: &str) {
        for junk in PAGE_FURNITURE {
            assert!(!body.contains(junk), "{name}: body keeps {junk:?}:\n{body}");
        }
    }

    #[test]
    fn wordpress_post_keeps_the_article_and_drops_the_furniture() {
        let a = page("wordpress.html");
        assert_eq!(a.title, "Council Approves New Bike Lanes");
        assert_eq!(
            a.url.as_deref(),
            Some("https://riverside.example/2025/03/council-bike-lanes/")
        );
        assert!(a.date.as_deref().unwrap().starts_with("2025-03-12"));
        assert_eq!(a.author.as_deref(), Some("Dana Whitfield"));
        assert!(a.body.contains("six loading zones"));
        assert_clean("wordpress", &a.body);
    }

    #[test]
    fn arc_page_takes_headline_date_and_author_from_json_ld() {
        let a = page("arc.html");
        assert_eq!(a.title, "Harbor Tunnel to Close for Two Weekends in April");
        assert!(
            a.date.as_deref().unwrap().starts_with("2025-04-02"),
            "{:?}",
            a.date
        );
        assert_eq!(a.author.as_deref(), Some("Marcus Lee"));
        assert_eq!(
            a.url.as_deref(),
            Some("https://ledger.example/local/2025/04/02/harbor-tunnel-closure/")
        );
        assert!(a.body.contains("replace its ventilation fans"));
        assert!(a.body.contains("every fifteen minutes"));
        assert_clean("arc", &a.body);
    }

    #[test]
    fn paywall_teaser_keeps_the_teaser_only() {
        let a = page("paywall.html");
        assert_eq!(a.title, "Grain prices climb after dry spring");
        assert!(a.body.contains("Wheat futures rose 6 percent"));
        assert!(a.body.contains("15 percent smaller"));
        assert_clean("paywall", &a.body);
    }

    #[test]
    fn amp_page_keeps_the_story_and_points_at_the_canonical_page() {
        let a = page("amp.html");
        assert!(
            a.title.starts_with("Council Approves New Bike Lanes"),
            "{}",
            a.title
        );
        assert!(a
            .url
            .as_deref()
            .unwrap()
            .starts_with("https://riverside.example/2025/03/council-bike-lanes/"));
        assert!(a.body.contains("Councillor Priya Natarajan"));
        assert_clean("amp", &a.body);
    }

    #[test]
    fn bylines_give_the_name_alone() {
        assert_eq!(
            clean_byline("By Dana Whitfield · March 12, 2025").as_deref(),
            Some("Dana Whitfield")
        );
        assert_eq!(clean_byline("Marcus Lee").as_deref(), Some("Marcus Lee"));
        assert_eq!(clean_byline("  "), None);
    }

    #[test]
    fn a_time_element_gives_the_date_when_metadata_has_none() {
        assert_eq!(
            time_element(r#"<p>x</p><time class="d" datetime="2025-01-02T03:04:05Z">Jan 2</time>"#)
                .as_deref(),
            Some("2025-01-02T03:04:05Z")
        );
        assert_eq!(time_element("<p>no time here</p>"), None);
    }
}
