//! RSS 2.0 and Atom feeds, parsed with feed-rs into what ingest needs.

use serde::{Deserialize, Serialize};

use crate::{Result, WebError};

/// A parsed feed.
#[derive(Debug, Clone, PartialEq)]
pub struct Feed {
    /// The feed's title.
    pub title: Option<String>,
    /// Its items, as listed.
    pub items: Vec<FeedItem>,
}

/// One feed item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedItem {
    /// The item's stable id (guid, Atom id, or one feed-rs derives from the item).
    pub id: String,
    /// The article's address.
    pub link: Option<String>,
    /// The headline.
    pub title: Option<String>,
    /// Publication (or update) time, RFC 3339.
    pub published: Option<String>,
    /// The feed's own copy of the article (full content, else the summary), usually HTML.
    pub content: Option<String>,
}

/// Parses RSS 2.0, RSS 1.0 or Atom; relative item links are resolved against `url`.
pub fn parse_feed(url: &str, text: &str) -> Result<Feed> {
    let parsed = feed_rs::parser::parse(text.as_bytes()).map_err(|e| WebError::Feed {
        url: url.into(),
        reason: e.to_string(),
    })?;
    let base = url::Url::parse(url).ok();
    let items = parsed
        .entries
        .into_iter()
        .map(|e| {
            let link = e.links.first().map(|l| {
                base.as_ref()
                    .and_then(|b| b.join(&l.href).ok())
                    .map(|u| u.to_string())
                    .unwrap_or_else(|| l.href.clone())
            });
            FeedItem {
                id: e.id,
                link,
                title: e.title.map(|t| t.content.trim().to_owned()),
                published: e.published.or(e.updated).map(|d| d.to_rfc3339()),
                content: e
                    .content
                    .and_then(|c| c.body)
                    .or_else(|| e.summary.map(|s| s.content))
                    .filter(|c| !c.trim().is_empty()),
            }
        })
        .collect();
    Ok(Feed {
        title: parsed.title.map(|t| t.content.trim().to_owned()),
        items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rss_items_keep_guid_link_title_and_content() {
        let rss = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>City News</title>
            <item><guid>a-1</guid><title>Bridge reopens</title><link>/news/bridge</link>
            <description>&lt;p&gt;The bridge reopened on Monday.&lt;/p&gt;</description>
            <pubDate>Mon, 10 Mar 2025 09:00:00 GMT</pubDate></item></channel></rss>"#;
        let feed = parse_feed("https://city.example/feed.xml", rss).unwrap();
        assert_eq!(feed.title.as_deref(), Some("City News"));
        let item = &feed.items[0];
        assert_eq!(item.id, "a-1");
        assert_eq!(
            item.link.as_deref(),
            Some("https://city.example/news/bridge")
        );
        assert_eq!(item.title.as_deref(), Some("Bridge reopens"));
        assert!(item
            .content
            .as_deref()
            .unwrap()
            .contains("reopened on Monday"));
        assert!(item.published.as_deref().unwrap().starts_with("2025-03-10"));
    }

    #[test]
    fn atom_entries_are_read_too() {
        let atom = r#"<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">
            <title>Atom News</title><id>urn:x</id><updated>2025-03-10T09:00:00Z</updated>
            <entry><id>urn:e1</id><title>Library hours</title><link href="https://n.example/lib"/>
            <updated>2025-03-10T09:00:00Z</updated><content type="html">Open until 10 p.m.</content></entry></feed>"#;
        let feed = parse_feed("https://n.example/atom", atom).unwrap();
        assert_eq!(feed.items.len(), 1);
        assert_eq!(feed.items[0].id, "urn:e1");
        assert_eq!(feed.items[0].content.as_deref(), Some("Open until 10 p.m."));
    }

    #[test]
    fn a_web_page_is_not_a_feed() {
        let err = parse_feed("https://x.example/", "<html><body>hi</body></html>").unwrap_err();
        assert!(err.to_string().contains("not an RSS or Atom feed"), "{err}");
    }
}
