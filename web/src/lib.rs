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
pub use guard::{Cidr, Guard};
