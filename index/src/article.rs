//! An article ready for the index: text, sentences, passages and a stable id.

use std::ops::Range;

use sha2::{Digest, Sha256};

use crate::extract::{self, Extracted, Format};
use crate::sentences::split_sentences;
use crate::{IndexError, Result};

/// How sentences are grouped into passages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PassageConfig {
    /// Sentences in one passage.
    pub sentences: usize,
    /// Sentences shared by two neighbouring passages.
    pub overlap: usize,
}

impl Default for PassageConfig {
    fn default() -> Self {
        PassageConfig {
            sentences: 4,
            overlap: 2,
        }
    }
}

/// Where an article came from and what the user said about it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    /// The file name or "-" (for messages).
    pub source: String,
    /// A title that overrides the extracted one.
    pub title: Option<String>,
    /// A URL that overrides the extracted canonical URL; it also becomes the id.
    pub url: Option<String>,
    /// Where the bytes came from, which decides whether the page's own canonical URL (and so
    /// its id) is believed.
    pub origin: Origin,
}

/// Where an article's bytes came from. A page's declared canonical URL becomes its id and
/// replaces the article stored under that id, so it is believed only where nobody could use
/// it to overwrite another publisher's story.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Origin {
    /// A file or text given by whoever runs newsqa: its declared URL is believed.
    #[default]
    Local,
    /// Fetched from this address (after redirects): its declared URL is believed when it is on
    /// the same site, and the address is the URL when it declares none.
    Fetched(String),
    /// A file or text uploaded by someone in a chat, or an item's copy in a feed: a declared
    /// URL is never believed.
    Upload,
}

/// An article split into sentences and passages, not yet in the index.
#[derive(Debug, Clone, PartialEq)]
pub struct Article {
    /// Stable id: the canonical URL, or `sha256:` and a hash of the normalised text.
    pub id: String,
    /// The headline.
    pub title: String,
    /// Canonical URL, if known.
    pub url: Option<String>,
    /// Publication date as written in the source.
    pub date: Option<String>,
    /// The author, when the source names one.
    pub author: Option<String>,
    /// File name or other origin, for messages.
    pub source: String,
    /// The article body, exactly as cited.
    pub text: String,
    /// Sentences as byte ranges into `text`.
    pub sentences: Vec<Range<usize>>,
    /// Passages as ranges of sentence indices.
    pub passages: Vec<Range<usize>>,
    /// Hash of everything stored, to tell an unchanged re-ingest from an update.
    pub content_hash: String,
    /// How many sentences the text had when [`Article::cut`] kept only the first ones.
    pub cut_from: Option<usize>,
}

impl Article {
    /// Decodes, extracts and splits raw bytes, refusing empty, binary and oversized input.
    pub fn parse(
        bytes: &[u8],
        meta: Metadata,
        max_bytes: u64,
        passages: PassageConfig,
    ) -> Result<Article> {
        let name = meta.source.clone();
        if bytes.len() as u64 > max_bytes {
            return Err(IndexError::TooLarge {
                name,
                size: bytes.len() as u64,
                cap: max_bytes,
            });
        }
        let text = extract::decode(&name, bytes)?;
        let format = Format::detect(&name, &text);
        let extracted = extract::extract(&name, &text, format)?;
        Article::from_extracted(extracted, meta, passages)
    }

    /// Builds an article from already extracted parts.
    pub fn from_extracted(
        extracted: Extracted,
        meta: Metadata,
        passages: PassageConfig,
    ) -> Result<Article> {
        let text = extracted.body;
        let sentences = split_sentences(&text);
        if sentences.is_empty() {
            return Err(IndexError::Empty { name: meta.source });
        }
        if !sentences.iter().any(|r| is_prose(&text[r.clone()])) {
            let words: Vec<&str> = text.split_whitespace().collect();
            return Err(IndexError::NoProse {
                name: meta.source,
                words: words.len(),
                sample: words.iter().take(8).copied().collect::<Vec<_>>().join(" "),
            });
        }
        let title = meta
            .title
            .filter(|t| !t.trim().is_empty())
            .unwrap_or(extracted.title)
            .trim()
            .to_owned();
        // A fetched page's own canonical URL counts only when it is on the site it was fetched
        // from: a page on one host must not claim (and replace) another site's article. An
        // upload's counts never.
        let (declared, fetched) = match meta.origin {
            Origin::Local => (extracted.url, None),
            Origin::Fetched(from) => (
                extracted.url.filter(|declared| same_site(&from, declared)),
                Some(from),
            ),
            Origin::Upload => (None, None),
        };
        let url = meta
            .url
            .or(declared)
            .or(fetched)
            .map(|u| canonical_url(&u))
            .filter(|u| !u.is_empty());
        let id = match &url {
            Some(u) => u.clone(),
            None => text_id(&text),
        };
        let passages = passage_windows(sentences.len(), passages);
        let mut article = Article {
            id,
            title,
            url,
            date: extracted.date,
            author: extracted.author,
            source: meta.source,
            text,
            sentences,
            passages,
            content_hash: String::new(),
            cut_from: None,
        };
        article.content_hash = article.hash();
        Ok(article)
    }

    /// The hash of everything stored.
    fn hash(&self) -> String {
        let mut h = Sha256::new();
        for part in [
            &self.id,
            &self.title,
            self.url.as_deref().unwrap_or(""),
            self.date.as_deref().unwrap_or(""),
            &self.text,
        ] {
            h.update(part.as_bytes());
            h.update([0u8]);
        }
        hex(&h.finalize()[..16])
    }

    /// Keeps the first `max` sentences and the text up to the end of the last of them, when
    /// there are more (a page that is a whole archive or a data dump, not an article); returns
    /// how many there were. The id stays what the whole text gave.
    pub fn cut(&mut self, max: usize, passages: PassageConfig) -> Option<usize> {
        let had = self.sentences.len();
        if max == 0 || had <= max {
            return None;
        }
        self.sentences.truncate(max);
        let end = self.sentences.last().map_or(0, |r| r.end);
        self.text.truncate(end);
        self.passages = passage_windows(max, passages);
        self.content_hash = self.hash();
        self.cut_from = Some(had);
        Some(had)
    }

    /// The text of sentence `i`.
    pub fn sentence(&self, i: usize) -> &str {
        &self.text[self.sentences[i].clone()]
    }
}

/// Whether a sentence reads as prose: words that end as a sentence ends. A page whose every
/// "sentence" is a menu, a heading or a label ("Home About", "Sign in") holds no article.
fn is_prose(sentence: &str) -> bool {
    let s = sentence.trim_end_matches(|c: char| {
        c.is_whitespace()
            || matches!(
                c,
                '"' | '\'' | '\u{201d}' | '\u{2019}' | ')' | ']' | '*' | '_'
            )
    });
    s.ends_with(['.', '!', '?', '\u{2026}', ':', ';'])
        && sentence
            .split_whitespace()
            .any(|w| w.chars().any(char::is_alphanumeric))
}

/// Query parameters that only track where a click came from.
const TRACKING: &[&str] = &[
    "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "igshid",
    "mc_cid", "mc_eid", "_ga", "_gl", "ref_src", "cmpid", "ocid", "smid", "mkt_tok",
];

/// Whether two URLs are on one site: the same host, or a host and the site's own root under
/// one registrable domain as the Public Suffix List defines it ("www.bbc.co.uk" and
/// "bbc.co.uk", "amp.example.com" and "www.example.com"). Two other hosts under one domain
/// are two sites: "alice.github.io" and "bob.github.io" (the List's suffix is "github.io"),
/// and "alice.substack.com" and "bob.substack.com" (the List does not name every host that
/// gives out subdomains). A host with no registrable domain (an address, "localhost") is
/// only itself.
fn same_site(a: &str, b: &str) -> bool {
    let host = |u: &str| {
        url::Url::parse(u).ok().and_then(|u| {
            u.host_str()
                .map(|h| h.trim_end_matches('.').to_ascii_lowercase())
        })
    };
    let (Some(a), Some(b)) = (host(a), host(b)) else {
        return false;
    };
    if a == b {
        return true;
    }
    let (Some(domain), Some(other)) = (psl::domain_str(&a), psl::domain_str(&b)) else {
        return false;
    };
    let is_root = |h: &str| h == domain || h.strip_prefix("www.") == Some(domain);
    domain == other && (is_root(&a) || is_root(&b))
}

/// The form of a URL used as an article id: fragment and tracking parameters (`utm_*`,
/// `fbclid`, ...) removed, host lower-cased, default port dropped. Not-URLs are kept as given.
pub fn canonical_url(raw: &str) -> String {
    let raw = raw.trim();
    let Ok(mut url) = url::Url::parse(raw) else {
        return raw.to_owned();
    };
    if !matches!(url.scheme(), "http" | "https") {
        return raw.to_owned();
    }
    url.set_fragment(None);
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| {
            let k = k.to_ascii_lowercase();
            !k.starts_with("utm_") && !TRACKING.contains(&k.as_str())
        })
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if kept.is_empty() {
        url.set_query(None);
    } else {
        url.query_pairs_mut().clear().extend_pairs(kept);
    }
    url.to_string()
}

/// The id of an article with no URL: a hash of its text, lower-cased and with whitespace collapsed,
/// so re-pasting the same story with other line breaks finds the same article.
pub fn text_id(text: &str) -> String {
    let normal = text
        .split_whitespace()
        .map(|w| w.to_lowercase())
        .collect::<Vec<_>>()
        .join(" ");
    format!("sha256:{}", hex(&Sha256::digest(normal.as_bytes())[..8]))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Windows of `cfg.sentences` sentences, each sharing `cfg.overlap` with the one before.
/// The last window always reaches the last sentence.
pub fn passage_windows(n: usize, cfg: PassageConfig) -> Vec<Range<usize>> {
    let size = cfg.sentences.max(1);
    let stride = size.saturating_sub(cfg.overlap).max(1);
    let mut out = Vec::new();
    let mut start = 0;
    while start < n {
        let end = (start + size).min(n);
        out.push(start..end);
        if end == n {
            break;
        }
        start += stride;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_overlap_and_cover_every_sentence() {
        let cfg = PassageConfig {
            sentences: 4,
            overlap: 2,
        };
        assert_eq!(passage_windows(9, cfg), vec![0..4, 2..6, 4..8, 6..9]);
        assert_eq!(passage_windows(3, cfg), vec![0..3]);
        assert_eq!(passage_windows(0, cfg), Vec::<Range<usize>>::new());
    }

    #[test]
    fn an_overlap_as_large_as_the_window_still_moves_forward() {
        let cfg = PassageConfig {
            sentences: 2,
            overlap: 5,
        };
        assert_eq!(passage_windows(3, cfg), vec![0..2, 1..3]);
    }

    #[test]
    fn the_same_text_with_other_whitespace_gets_the_same_id() {
        assert_eq!(
            text_id("A  story.\nIt ends."),
            text_id("a story. it\n\nends.")
        );
        assert_ne!(text_id("A story."), text_id("Another story."));
    }

    #[test]
    fn a_url_is_the_id_and_overrides_the_text_hash() {
        let meta = Metadata {
            source: "a.txt".into(),
            url: Some("https://example.com/a".into()),
            title: Some("Given title".into()),
            ..Default::default()
        };
        let a = Article::parse(
            b"Headline\n\nOne. Two.",
            meta,
            1 << 20,
            PassageConfig::default(),
        )
        .unwrap();
        assert_eq!(a.id, "https://example.com/a");
        assert_eq!(a.title, "Given title");
        assert_eq!(a.sentence(1), "Two.");
    }

    #[test]
    fn oversized_input_is_refused_with_its_name() {
        let meta = Metadata {
            source: "big.txt".into(),
            ..Default::default()
        };
        let err = Article::parse(&[b'a'; 100], meta, 10, PassageConfig::default()).unwrap_err();
        assert!(matches!(err, IndexError::TooLarge { .. }));
        assert!(err.to_string().contains("big.txt"));
    }

    #[test]
    fn sentence_offsets_match_the_stored_text() {
        let meta = Metadata {
            source: "a.txt".into(),
            ..Default::default()
        };
        let a = Article::parse(
            "Título\n\nEl señor habló. “Sí,” dijo él. Fin.".as_bytes(),
            meta,
            1 << 20,
            PassageConfig::default(),
        )
        .unwrap();
        let got: Vec<&str> = (0..a.sentences.len()).map(|i| a.sentence(i)).collect();
        assert_eq!(got, vec!["El señor habló.", "“Sí,” dijo él.", "Fin."]);
    }

    #[test]
    fn tracking_parameters_and_fragments_leave_the_canonical_url() {
        assert_eq!(
            canonical_url(
                "https://News.Example:443/a/b?utm_source=tw&id=7&fbclid=x&UTM_MEDIUM=y#top"
            ),
            "https://news.example/a/b?id=7"
        );
        assert_eq!(
            canonical_url("https://x.example/p?utm_campaign=z"),
            "https://x.example/p"
        );
        assert_eq!(canonical_url("not a url"), "not a url");
    }

    #[test]
    fn two_links_to_one_story_give_one_id() {
        let cfg = PassageConfig {
            sentences: 4,
            overlap: 2,
        };
        let text = b"Title\n\nThe bridge reopened on Monday after repairs.";
        let a = Article::parse(
            text,
            Metadata {
                source: "a".into(),
                origin: Origin::Fetched("https://x.example/s?utm_source=a".into()),
                ..Default::default()
            },
            1 << 20,
            cfg,
        )
        .unwrap();
        let b = Article::parse(
            text,
            Metadata {
                source: "b".into(),
                origin: Origin::Fetched("https://x.example/s#comments".into()),
                ..Default::default()
            },
            1 << 20,
            cfg,
        )
        .unwrap();
        assert_eq!(a.id, "https://x.example/s");
        assert_eq!(a.id, b.id);
    }

    #[test]
    fn a_page_without_a_sentence_of_prose_is_no_article() {
        let parse = |name: &str, bytes: &[u8]| {
            Article::parse(
                bytes,
                Metadata {
                    source: name.into(),
                    ..Default::default()
                },
                1 << 20,
                PassageConfig::default(),
            )
        };
        let nav = parse(
            "nav.html",
            b"<html><body><nav>Home About</nav></body></html>",
        );
        let e = nav.unwrap_err().to_string();
        assert!(
            e.contains("no article text") && e.contains("Home About"),
            "{e}"
        );
        let pdf = parse("report.txt", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj");
        let e = pdf.unwrap_err().to_string();
        assert!(e.contains("is a PDF") && e.contains(".txt"), "{e}");
        // A short article is one.
        assert!(parse("short.txt", b"Brief\n\nThe council met today.").is_ok());
    }

    #[test]
    fn a_cut_article_keeps_its_first_sentences_whole() {
        let body: String = (0..50)
            .map(|i| format!("Sentence number {i} is here. "))
            .collect();
        let mut a = Article::parse(
            format!("Dump\n\n{body}").as_bytes(),
            Metadata::default(),
            1 << 20,
            PassageConfig::default(),
        )
        .unwrap();
        let (id, hash) = (a.id.clone(), a.content_hash.clone());
        assert_eq!(a.cut(100, PassageConfig::default()), None);
        assert_eq!(a.cut(10, PassageConfig::default()), Some(50));
        assert_eq!(a.sentences.len(), 10);
        assert_eq!(a.sentence(9), "Sentence number 9 is here.");
        assert!(a.text.ends_with("Sentence number 9 is here."));
        assert!(a.passages.iter().all(|p| p.end <= 10));
        assert_eq!(a.id, id, "the id is the whole text's");
        assert_ne!(a.content_hash, hash);
    }

    #[test]
    fn a_page_cannot_claim_another_sites_url() {
        let page = |canonical: &str, fetched: &str| {
            let html = format!(
                "<html><head><title>Story</title><link rel=\"canonical\" href=\"{canonical}\">\
                 </head><body><article><h1>Story</h1><p>The council approved the plan on \
                 Monday after a long debate.</p></article></body></html>"
            );
            Article::parse(
                html.as_bytes(),
                Metadata {
                    source: fetched.into(),
                    origin: Origin::Fetched(fetched.into()),
                    ..Default::default()
                },
                1 << 20,
                PassageConfig::default(),
            )
            .unwrap()
            .id
        };
        // Another site's URL: the address it was fetched from stays the id.
        assert_eq!(
            page("https://www.bbc.co.uk/news/1", "https://evil.example/copy"),
            "https://evil.example/copy"
        );
        assert_eq!(
            page("https://news.example.co.uk/a", "https://other.co.uk/a"),
            "https://other.co.uk/a"
        );
        // The same site, another host or form of the address: the page's own URL wins.
        assert_eq!(
            page(
                "https://www.bbc.co.uk/news/1",
                "https://bbc.co.uk/news/1?at_medium=rss"
            ),
            "https://www.bbc.co.uk/news/1"
        );
        assert_eq!(
            page("https://example.com/s", "https://amp.example.com/s"),
            "https://example.com/s"
        );
        // Sites that share a public suffix are different sites.
        for (other, fetched) in [
            (
                "https://alice.github.io/story",
                "https://mallory.github.io/copy",
            ),
            (
                "https://alice.substack.com/p/a",
                "https://mallory.substack.com/p/a",
            ),
            ("https://news.blogspot.com/a", "https://x.blogspot.com/a"),
        ] {
            assert_eq!(page(other, fetched), fetched, "{fetched} claimed {other}");
        }
    }

    #[test]
    fn an_uploaded_page_cannot_claim_any_url() {
        let html = "<html><head><title>Story</title>\
            <link rel=\"canonical\" href=\"https://www.bbc.co.uk/news/real\"></head><body><article>\
            <h1>Story</h1><p>The council approved the plan on Monday after a long debate.</p>\
            </article></body></html>";
        let parse = |origin| {
            Article::parse(
                html.as_bytes(),
                Metadata {
                    source: "story.html".into(),
                    origin,
                    ..Default::default()
                },
                1 << 20,
                PassageConfig::default(),
            )
            .unwrap()
        };
        let uploaded = parse(Origin::Upload);
        assert!(uploaded.id.starts_with("sha256:"), "{}", uploaded.id);
        assert_eq!(uploaded.url, None);
        // The operator's own file is believed.
        assert_eq!(parse(Origin::Local).id, "https://www.bbc.co.uk/news/real");
    }
}
