use std::net::IpAddr;

/// Everything that can go wrong fetching a page or a feed. Each message is fit to show to the
/// moderator who asked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebError {
    /// Not a URL at all.
    #[error("{url:?} is not a valid URL")]
    BadUrl { url: String },
    /// A scheme other than http and https.
    #[error("{shown}: only http and https links can be fetched", shown = crate::shown_url(.url))]
    Scheme { url: String },
    /// The host is, or resolves to, an address newsqa must not reach.
    #[error("{shown}: refused to fetch from {addr} ({why}); only public addresses are allowed", shown = crate::shown_url(.url))]
    Blocked {
        url: String,
        addr: IpAddr,
        why: &'static str,
    },
    /// The address is public but the port is not one newsqa fetches from.
    #[error("{shown}: refused to fetch from port {port}; only ports 80 and 443 are fetched from unless [fetch] ports names more", shown = crate::shown_url(.url))]
    Port { url: String, port: u16 },
    /// The host name did not resolve.
    #[error("{shown}: could not resolve the host name", shown = crate::shown_url(.url))]
    Resolve {
        url: String,
        #[source]
        source: std::io::Error,
    },
    /// More redirects than allowed.
    #[error("{shown}: more than {max} redirects", shown = crate::shown_url(.url))]
    TooManyRedirects { url: String, max: usize },
    /// The server answered with an error status.
    #[error("{shown}: the server answered {status}", shown = crate::shown_url(.url))]
    Status { url: String, status: u16 },
    /// A content type other than the ones asked for.
    #[error("{shown}: {content_type:?} is not {wanted}", shown = crate::shown_url(.url))]
    ContentType {
        url: String,
        content_type: String,
        /// What was asked for: "a web page or text", "an RSS or Atom feed".
        wanted: &'static str,
    },
    /// The response is larger than the cap.
    #[error("{shown}: the response is larger than {cap} bytes", shown = crate::shown_url(.url))]
    TooLarge { url: String, cap: u64 },
    /// Connecting or the whole request took too long.
    #[error("{shown}: timed out after {secs} s", shown = crate::shown_url(.url))]
    Timeout { url: String, secs: u64 },
    /// A network or protocol error.
    #[error("{shown}: {source}", shown = crate::shown_url(.url))]
    Http {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// A feed that does not parse as RSS or Atom.
    #[error("{shown}: not an RSS or Atom feed ({reason})", shown = crate::shown_url(.url))]
    Feed { url: String, reason: String },
    /// The feed list could not be read or written.
    #[error("feed list {path}: {source}")]
    Store {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Result type of this crate.
pub type Result<T, E = WebError> = std::result::Result<T, E>;
