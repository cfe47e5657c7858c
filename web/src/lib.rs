//! Articles and feeds from the web, fetched safely: only http(s), only public addresses
//! (checked after DNS resolution and on every redirect), with size caps and timeouts, and
//! RSS/Atom parsed with feed-rs. Knows nothing of the index, the models or Discord: it hands
//! back decoded text.

mod error;
pub mod feed;
pub mod fetch;
pub mod guard;

pub use error::{Result, WebError};
pub use feed::{parse_feed, Feed, FeedItem};
pub use fetch::{
    Conditional, FetchConfig, Fetched, Fetcher, Page, FEED_TYPES, PAGE_TYPES, USER_AGENT,
};
pub use guard::{Cidr, Guard, Refused, DEFAULT_PORTS};

/// A URL as it may be shown or logged: without its query string (a feed's address may carry
/// an access token there) and without a user name or password. "https://x.example/rss?key=1"
/// becomes "https://x.example/rss?…".
pub fn shown_url(url: &str) -> String {
    match url::Url::parse(url.trim()) {
        Ok(mut u) => {
            let had_query = u.query().is_some();
            u.set_query(None);
            u.set_fragment(None);
            let _ = u.set_username("");
            let _ = u.set_password(None);
            let mut out = u.to_string();
            if had_query {
                out.push_str("?…");
            }
            out
        }
        Err(_) => match url.split_once('?') {
            Some((head, _)) => format!("{head}?…"),
            None => url.to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_shown_url_has_no_query_and_no_credentials() {
        use super::shown_url;
        assert_eq!(
            shown_url("https://x.example/rss?key=s3cret&a=1"),
            "https://x.example/rss?…"
        );
        assert_eq!(
            shown_url("https://me:pw@x.example/feed.xml#top"),
            "https://x.example/feed.xml"
        );
        assert_eq!(
            shown_url("https://x.example/feed.xml"),
            "https://x.example/feed.xml"
        );
        assert_eq!(shown_url("not a url?token=1"), "not a url?…");
    }
}
