//! Fetching one URL safely: http(s) only, public addresses only (checked after DNS resolution
//! and again on every redirect, with the connection pinned to the checked address), a size cap,
//! timeouts, and the charset decoded from the headers or the page's `<meta>`.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::header::{
    ACCEPT, CONTENT_TYPE, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, LOCATION,
};
use url::{Host, Url};

use crate::guard::{Cidr, Guard, Refused, DEFAULT_PORTS};
use crate::{Result, WebError};

/// The User-Agent newsqa sends.
pub const USER_AGENT: &str = concat!(
    "newsqa/",
    env!("CARGO_PKG_VERSION"),
    " (news question-answering bot; fetches article pages moderators share)"
);

/// Content types accepted as article pages.
pub const PAGE_TYPES: &[&str] = &["text/html", "application/xhtml+xml", "text/plain"];

/// Content types accepted as feeds (servers label RSS and Atom loosely).
pub const FEED_TYPES: &[&str] = &[
    "application/rss+xml",
    "application/atom+xml",
    "application/rdf+xml",
    "application/xml",
    "text/xml",
    "text/plain",
];

/// Limits of the fetcher.
#[derive(Debug, Clone)]
pub struct FetchConfig {
    /// Largest response body accepted, in bytes.
    pub max_bytes: u64,
    /// Time allowed to connect.
    pub connect_timeout: Duration,
    /// Time allowed for the whole request, redirects included.
    pub timeout: Duration,
    /// Redirects followed before giving up.
    pub max_redirects: usize,
    /// Networks re-opened despite being private (tests, self-hosting), on every port.
    pub allow: Vec<Cidr>,
    /// Ports of public addresses fetched from (80 and 443 by default).
    pub ports: Vec<u16>,
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            max_bytes: 5 * 1024 * 1024,
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            max_redirects: 5,
            allow: Vec::new(),
            ports: DEFAULT_PORTS.to_vec(),
        }
    }
}

/// A fetched document, decoded to text.
#[derive(Debug, Clone)]
pub struct Page {
    /// The address it was finally fetched from, after redirects.
    pub url: String,
    /// Its content type, without parameters (`text/html`).
    pub content_type: String,
    /// The body, decoded.
    pub text: String,
    /// The `ETag` header, for the next conditional request.
    pub etag: Option<String>,
    /// The `Last-Modified` header, for the next conditional request.
    pub last_modified: Option<String>,
}

/// What a conditional request found.
#[derive(Debug, Clone)]
pub enum Fetched {
    /// New content.
    Page(Page),
    /// 304: nothing changed since the validators given.
    NotModified,
}

/// Validators of an earlier response.
#[derive(Debug, Clone, Default)]
pub struct Conditional {
    /// Sent as `If-None-Match`.
    pub etag: Option<String>,
    /// Sent as `If-Modified-Since`.
    pub last_modified: Option<String>,
}

/// Fetches pages and feeds under one policy.
#[derive(Debug, Clone)]
pub struct Fetcher {
    cfg: FetchConfig,
    guard: Guard,
}

impl Fetcher {
    /// A fetcher with these limits.
    pub fn new(cfg: FetchConfig) -> Fetcher {
        let guard = Guard::new(cfg.allow.clone(), cfg.ports.clone());
        Fetcher { cfg, guard }
    }

    /// The limits in force.
    pub fn config(&self) -> &FetchConfig {
        &self.cfg
    }

    /// Fetches an article page (HTML or plain text).
    pub async fn page(&self, url: &str) -> Result<Page> {
        match self.get(url, PAGE_TYPES, &Conditional::default()).await? {
            Fetched::Page(p) => Ok(p),
            Fetched::NotModified => Err(WebError::Status {
                url: url.into(),
                status: 304,
            }),
        }
    }

    /// Fetches `url`, accepting only the given content types, conditionally when validators
    /// are given.
    pub async fn get(&self, url: &str, accept: &[&str], cond: &Conditional) -> Result<Fetched> {
        let secs = self.cfg.timeout.as_secs().max(1);
        match tokio::time::timeout(self.cfg.timeout, self.follow(url, accept, cond)).await {
            Ok(r) => r,
            Err(_) => Err(WebError::Timeout {
                url: url.into(),
                secs,
            }),
        }
    }

    async fn follow(&self, url: &str, accept: &[&str], cond: &Conditional) -> Result<Fetched> {
        let mut current =
            Url::parse(url.trim()).map_err(|_| WebError::BadUrl { url: url.into() })?;
        for _hop in 0..=self.cfg.max_redirects {
            let client = self.client_for(&current).await?;
            let mut request = client
                .get(current.clone())
                .header(ACCEPT, accept.join(", "));
            if let Some(etag) = &cond.etag {
                request = request.header(IF_NONE_MATCH, etag);
            }
            if let Some(lm) = &cond.last_modified {
                request = request.header(IF_MODIFIED_SINCE, lm);
            }
            let response = request.send().await.map_err(|e| http(&current, e))?;
            let status = response.status();
            if status.as_u16() == 304 {
                return Ok(Fetched::NotModified);
            }
            if status.is_redirection() {
                let next = response
                    .headers()
                    .get(LOCATION)
                    .and_then(|l| l.to_str().ok())
                    .and_then(|l| current.join(l).ok())
                    .ok_or_else(|| WebError::Status {
                        url: current.to_string(),
                        status: status.as_u16(),
                    })?;
                tracing::debug!(from = %crate::shown_url(current.as_str()), to = %crate::shown_url(next.as_str()), "redirect");
                current = next;
                continue;
            }
            if !status.is_success() {
                return Err(WebError::Status {
                    url: current.to_string(),
                    status: status.as_u16(),
                });
            }
            let header = |name| {
                response
                    .headers()
                    .get(name)
                    .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                    .map(str::to_owned)
            };
            let full_type = header(CONTENT_TYPE).unwrap_or_default();
            let content_type = full_type
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if !content_type.is_empty() && !accept.contains(&content_type.as_str()) {
                let wanted = match accept.contains(&"application/rss+xml") {
                    true => "an RSS or Atom feed",
                    false => "a web page or text",
                };
                return Err(WebError::ContentType {
                    url: current.to_string(),
                    content_type,
                    wanted,
                });
            }
            let etag = header(ETAG);
            let last_modified = header(LAST_MODIFIED);
            let cap = self.cfg.max_bytes;
            if response.content_length().is_some_and(|n| n > cap) {
                return Err(WebError::TooLarge {
                    url: current.to_string(),
                    cap,
                });
            }
            let mut body = Vec::new();
            let mut stream = response.bytes_stream();
            while let Some(chunk) = stream.next().await {
                body.extend_from_slice(&chunk.map_err(|e| http(&current, e))?);
                if body.len() as u64 > cap {
                    return Err(WebError::TooLarge {
                        url: current.to_string(),
                        cap,
                    });
                }
            }
            return Ok(Fetched::Page(Page {
                url: current.to_string(),
                text: decode(&body, &full_type),
                content_type,
                etag,
                last_modified,
            }));
        }
        Err(WebError::TooManyRedirects {
            url: url.into(),
            max: self.cfg.max_redirects,
        })
    }

    /// A client for one hop: the scheme and every address the host resolves to are checked,
    /// and the connection is pinned to those addresses so that a second DNS answer cannot
    /// swap in a private one.
    async fn client_for(&self, url: &Url) -> Result<reqwest::Client> {
        let shown = url.to_string();
        if !matches!(url.scheme(), "http" | "https") {
            return Err(WebError::Scheme { url: shown });
        }
        let port = url.port_or_known_default().unwrap_or(80);
        let mut builder = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(self.cfg.connect_timeout)
            .no_proxy();
        let check = |ip: IpAddr| match self.guard.check(ip, port) {
            Some(Refused::Address(why)) => Err(WebError::Blocked {
                url: shown.clone(),
                addr: ip,
                why,
            }),
            Some(Refused::Port(port)) => Err(WebError::Port {
                url: shown.clone(),
                port,
            }),
            None => Ok(()),
        };
        match url.host() {
            Some(Host::Ipv4(ip)) => check(IpAddr::V4(ip))?,
            Some(Host::Ipv6(ip)) => check(IpAddr::V6(ip))?,
            Some(Host::Domain(name)) => {
                let addrs: Vec<SocketAddr> = tokio::net::lookup_host((name, port))
                    .await
                    .map_err(|source| WebError::Resolve {
                        url: shown.clone(),
                        source,
                    })?
                    .collect();
                if addrs.is_empty() {
                    return Err(WebError::Resolve {
                        url: shown.clone(),
                        source: std::io::Error::other("no addresses"),
                    });
                }
                for a in &addrs {
                    check(a.ip())?;
                }
                builder = builder.resolve_to_addrs(name, &addrs);
            }
            None => return Err(WebError::BadUrl { url: shown }),
        }
        builder.build().map_err(|e| http(url, e))
    }
}

/// A network error, without the full address reqwest appends to its message: a feed's query
/// may hold a key, and the error is stored and shown (`shown_url` is what is shown).
fn http(url: &Url, source: reqwest::Error) -> WebError {
    WebError::Http {
        url: url.to_string(),
        source: source.without_url(),
    }
}

/// Decodes a body: the charset of the Content-Type header, else of a `<meta>` tag, else UTF-8
/// when valid, else Windows-1252 (which is what "ISO-8859-1" means on the web).
pub fn decode(body: &[u8], content_type: &str) -> String {
    // A byte-order mark outranks the header (WHATWG Encoding: "BOM sniff").
    if let Some((encoding, bom)) = encoding_rs::Encoding::for_bom(body) {
        return encoding
            .decode_without_bom_handling(&body[bom..])
            .0
            .into_owned();
    }
    let label = charset_param(content_type).or_else(|| meta_charset(body));
    if let Some(encoding) = label.and_then(|l| encoding_rs::Encoding::for_label(l.as_bytes())) {
        let (text, _, _) = encoding.decode(body);
        return text.into_owned();
    }
    match std::str::from_utf8(body) {
        Ok(s) => s.to_owned(),
        Err(_) => encoding_rs::WINDOWS_1252.decode(body).0.into_owned(),
    }
}

fn charset_param(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        (k.trim().eq_ignore_ascii_case("charset"))
            .then(|| v.trim().trim_matches(['"', '\'']).to_ascii_lowercase())
    })
}

/// The charset a page declares in its first 2 KB: `<meta charset=..>` or the http-equiv form.
fn meta_charset(body: &[u8]) -> Option<String> {
    let head = String::from_utf8_lossy(&body[..body.len().min(2048)]).to_ascii_lowercase();
    let mut rest = head.as_str();
    while let Some(at) = rest.find("<meta") {
        let tag = &rest[at..];
        let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
        if let Some(i) = tag.find("charset=") {
            let value: String = tag[i + 8..]
                .trim_start_matches(['"', '\''])
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'))
                .collect();
            if !value.is_empty() {
                return Some(value);
            }
        }
        rest = &rest[at + 5..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_network_error_never_shows_the_query_of_the_address() {
        // A port nothing listens on: connecting fails, with the address in reqwest's message.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let fetcher = Fetcher::new(FetchConfig {
            allow: vec!["127.0.0.0/8".parse().unwrap()],
            ..FetchConfig::default()
        });
        let url = format!("http://127.0.0.1:{port}/feed.xml?key=SECRET");
        let e = fetcher.get(&url, FEED_TYPES, &Conditional::default()).await;
        let e = e.expect_err("nothing listens there");
        assert!(matches!(e, WebError::Http { .. }), "{e:?}");
        let mut shown = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            shown.push_str(&format!(": {s}"));
            source = s.source();
        }
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("/feed.xml"), "{shown}");
    }

    #[test]
    fn charset_comes_from_the_header_first_then_the_meta_tag() {
        let latin1 = b"caf\xe9";
        assert_eq!(decode(latin1, "text/plain; charset=ISO-8859-1"), "café");
        let page =
            b"<html><head><meta charset=\"windows-1252\"></head><body>\x93quoted\x94</body></html>";
        assert!(decode(page, "text/html").contains("\u{201c}quoted\u{201d}"));
        let equiv = b"<meta http-equiv=\"Content-Type\" content=\"text/html; charset=iso-8859-1\"><p>na\xefve</p>";
        assert!(decode(equiv, "text/html").contains("naïve"));
        assert_eq!(decode("déjà".as_bytes(), "text/html"), "déjà");
        assert_eq!(decode(b"\xe9t\xe9", ""), "été");
        // UTF-16 with its byte-order mark, whatever the header says.
        let mut utf16 = vec![0xff, 0xfe];
        utf16.extend("<p>naïve</p>".encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(
            decode(&utf16, "text/html; charset=iso-8859-1"),
            "<p>naïve</p>"
        );
    }
}
