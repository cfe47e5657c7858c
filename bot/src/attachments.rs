//! Where `/ingest file:` may download an attachment from: Discord's CDN only.
//!
//! An attachment's URL comes inside the interaction, so it is Discord's to set; still, the
//! download is the one request the bot makes to an address it did not choose. It goes only to
//! the CDN hosts (over https), or to the origin of the configured API base (a proxy, or the
//! tests' fake), and follows a redirect only to those.

use std::time::Duration;

use url::{Origin, Url};

/// Discord's CDN hosts, where attachments live.
pub const DISCORD_CDN_HOSTS: &[&str] = &["cdn.discordapp.com", "media.discordapp.net"];

/// The origins attachments may be downloaded from.
#[derive(Debug, Clone)]
pub struct AttachmentPolicy {
    origins: Vec<Origin>,
}

impl AttachmentPolicy {
    /// https on each CDN host, plus the origin of `api_base`.
    pub fn new(api_base: &str, cdn_hosts: &[String]) -> AttachmentPolicy {
        let mut origins: Vec<Origin> = cdn_hosts
            .iter()
            .filter_map(|h| Url::parse(&format!("https://{h}/")).ok())
            .map(|u| u.origin())
            .collect();
        if let Ok(base) = Url::parse(api_base) {
            origins.push(base.origin());
        }
        AttachmentPolicy { origins }
    }

    /// Whether `url` may be downloaded from.
    pub fn allows(&self, url: &Url) -> bool {
        let origin = url.origin();
        origin.is_tuple() && self.origins.contains(&origin)
    }

    /// Why `url` may not be downloaded from, for the moderator, or `None`.
    pub fn refusal(&self, url: &str) -> Option<String> {
        match Url::parse(url) {
            Ok(u) if self.allows(&u) => None,
            Ok(u) => Some(format!(
                "that attachment is not on Discord's CDN ({}), so I did not download it.",
                u.host_str().unwrap_or("no host")
            )),
            Err(_) => Some("that attachment has no valid address.".into()),
        }
    }

    /// An HTTP client for downloads that follows redirects only within the policy.
    pub fn client(&self) -> reqwest::Client {
        let policy = self.clone();
        reqwest::Client::builder()
            .user_agent(concat!("newsqa/", env!("CARGO_PKG_VERSION")))
            .timeout(Duration::from_secs(30))
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= 5 {
                    attempt.error("too many redirects")
                } else if policy.allows(attempt.url()) {
                    attempt.follow()
                } else {
                    attempt.error("an attachment redirected off Discord's CDN")
                }
            }))
            .build()
            .expect("building an HTTP client")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(api_base: &str) -> AttachmentPolicy {
        let hosts: Vec<String> = DISCORD_CDN_HOSTS.iter().map(|h| h.to_string()).collect();
        AttachmentPolicy::new(api_base, &hosts)
    }

    #[test]
    fn only_the_cdn_over_https_and_the_api_origin_are_allowed() {
        let p = policy("https://discord.com");
        for ok in [
            "https://cdn.discordapp.com/attachments/1/2/a.html",
            "https://media.discordapp.net/attachments/1/2/a.txt?ex=1",
            "https://discord.com/x.txt",
        ] {
            assert_eq!(p.refusal(ok), None, "{ok}");
        }
        for bad in [
            "http://cdn.discordapp.com/attachments/1/2/a.html",
            "https://cdn.discordapp.com:8443/a.html",
            "https://cdn.discordapp.com.evil.example/a.html",
            "https://169.254.169.254/latest/meta-data/",
            "http://127.0.0.1:1/a.html",
            "file:///etc/passwd",
            "not a url",
        ] {
            assert!(p.refusal(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn a_local_api_base_opens_its_own_origin_only() {
        let p = policy("http://127.0.0.1:4567");
        assert_eq!(p.refusal("http://127.0.0.1:4567/attachments/a.html"), None);
        assert!(p
            .refusal("http://127.0.0.1:4568/attachments/a.html")
            .is_some());
        assert!(p
            .refusal("http://localhost:4567/attachments/a.html")
            .is_some());
    }
}
