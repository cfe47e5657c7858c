//! Articles from the web: fetch a page (safely, by `newsqa-web`) and parse it like a file.

use anyhow::{Context, Result};
use newsqa_index::{Article, Metadata, Origin};
use newsqa_web::{Fetcher, Page};

use crate::Engine;

/// Whether a command-line input names a web page rather than a file.
pub fn is_url(input: &str) -> bool {
    let lower = input.trim_start().to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// Fetches `url` and parses the page. The page's canonical URL (tracking parameters removed)
/// becomes the id, else the address it was finally fetched from; `url` overrides both.
pub async fn fetch_article(
    engine: &Engine,
    fetcher: &Fetcher,
    url: &str,
    title: Option<String>,
    url_override: Option<String>,
) -> Result<Article> {
    let page = fetcher.page(url).await?;
    article_from_page(engine, page, title, url_override)
        .with_context(|| format!("reading the page at {url}"))
}

/// Parses a fetched page.
pub fn article_from_page(
    engine: &Engine,
    page: Page,
    title: Option<String>,
    url_override: Option<String>,
) -> Result<Article> {
    // HTML is recognised by its content (doctype, <html>, <head>/<body>), as for files.
    let meta = Metadata {
        source: page.url.clone(),
        title,
        url: url_override,
        origin: Origin::Fetched(page.url.clone()),
    };
    engine.parse(page.text.as_bytes(), meta)
}
