//! Who holds each article of a corpus: a moderator's ingest (`/ingest`, `newsqa ingest`), a
//! post in a watched channel, a feed. An article stays while anything holds it; a post that is
//! deleted, or edited to drop a link, lets go of its articles, and only an article that nothing
//! else holds is forgotten. `/forget` and `newsqa forget` are the moderator's override: they
//! forget an article whoever holds it.
//!
//! One JSON file per corpus (`holders.json` in the index directory), changed under its lock
//! ([`crate::state::change`]), so the bot and the command line can share a corpus. An article
//! with no record (ingested before holders were kept) is held by nobody known, and is never
//! forgotten on a holder's behalf: losing a moderator's article is worse than keeping one.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::Result;
use serde::{Deserialize, Serialize};

/// What brought an article in and keeps it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Holder {
    /// A moderator's ingest: `/ingest`, or the command line.
    Manual,
    /// A post (by message id) in a watched channel.
    Post(u64),
    /// A feed subscription (by the feed's address).
    Feed(String),
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Holder::Manual => f.write_str("manual"),
            Holder::Post(message) => write!(f, "post:{message}"),
            Holder::Feed(url) => write!(f, "feed:{url}"),
        }
    }
}

/// A holder that is not `manual`, `post:<message id>` or `feed:<address>`.
#[derive(Debug)]
pub struct BadHolder(String);

impl fmt::Display for BadHolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not a holder (manual, post:<message id> or feed:<address>)",
            self.0
        )
    }
}

impl std::error::Error for BadHolder {}

impl FromStr for Holder {
    type Err = BadHolder;

    fn from_str(s: &str) -> Result<Holder, BadHolder> {
        let bad = || BadHolder(s.to_owned());
        match s.split_once(':') {
            None if s == "manual" => Ok(Holder::Manual),
            Some(("post", id)) => id.parse().map(Holder::Post).map_err(|_| bad()),
            Some(("feed", url)) if !url.is_empty() => Ok(Holder::Feed(url.to_owned())),
            _ => Err(bad()),
        }
    }
}

impl From<Holder> for String {
    fn from(h: Holder) -> String {
        h.to_string()
    }
}

impl TryFrom<String> for Holder {
    type Error = BadHolder;

    fn try_from(s: String) -> Result<Holder, BadHolder> {
        s.parse()
    }
}

/// The file's content: each article's holders, by article id.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Record {
    #[serde(default)]
    articles: BTreeMap<String, BTreeSet<Holder>>,
}

/// The holders of one corpus's articles.
#[derive(Debug, Clone)]
pub struct Holders {
    path: PathBuf,
}

impl Holders {
    /// The holders of the corpus whose index is in `dir`.
    pub fn of_corpus(dir: &Path) -> Holders {
        Holders {
            path: dir.join("holders.json"),
        }
    }

    /// Records `holder` as holding each of `ids`. Called before the articles are written, so
    /// that a crash in between leaves a holder of nothing (harmless) and never an article
    /// that a holder's release could forget under another holder.
    pub fn hold<'a>(&self, ids: impl IntoIterator<Item = &'a str>, holder: &Holder) -> Result<()> {
        crate::state::change(&self.path, |r: &mut Record| {
            let mut changed = false;
            for id in ids {
                changed |= r
                    .articles
                    .entry(id.to_owned())
                    .or_default()
                    .insert(holder.clone());
            }
            Ok(((), changed))
        })
    }

    /// `holder` lets go of `ids`: each article that nothing else holds now is handed to
    /// `forget` (which removes it from the index and says whether it was there), under the
    /// file's lock, so that an ingest holding it meanwhile waits and then writes it anew.
    /// Returns what `forget` returned for the articles it forgot.
    pub fn release<T>(
        &self,
        ids: &[String],
        holder: &Holder,
        mut forget: impl FnMut(&str) -> Result<Option<T>>,
    ) -> Result<Vec<T>> {
        crate::state::change(&self.path, |r: &mut Record| {
            let mut forgotten = Vec::new();
            let mut changed = false;
            for id in ids {
                let Some(held) = r.articles.get_mut(id) else {
                    continue; // No record: held by nobody known, kept.
                };
                changed |= held.remove(holder);
                if held.is_empty() {
                    if let Some(gone) = forget(id)? {
                        forgotten.push(gone);
                    }
                    r.articles.remove(id);
                    changed = true;
                }
            }
            Ok((forgotten, changed))
        })
    }

    /// An article was forgotten whoever held it (`/forget`): its record goes.
    pub fn forgotten(&self, id: &str) -> Result<()> {
        crate::state::change(&self.path, |r: &mut Record| {
            Ok(((), r.articles.remove(id).is_some()))
        })
    }

    /// What holds an article (empty when nothing known does).
    pub fn of(&self, id: &str) -> Result<Vec<Holder>> {
        let r: Record = crate::state::read(&self.path)?;
        Ok(r.articles
            .get(id)
            .map(|h| h.iter().cloned().collect())
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_holder_reads_back_as_written() {
        for h in [
            Holder::Manual,
            Holder::Post(123),
            Holder::Feed("https://example.com/feed?a=1:2".into()),
        ] {
            assert_eq!(h.to_string().parse::<Holder>().unwrap(), h);
        }
        for bad in ["", "post:x", "feed:", "moderator", "manual:1"] {
            assert!(bad.parse::<Holder>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_article_is_forgotten_only_when_its_last_holder_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let holders = Holders::of_corpus(dir.path());
        let (a, b) = ("https://example.com/a".to_owned(), "b".to_owned());
        holders.hold([a.as_str()], &Holder::Post(1)).unwrap();
        holders.hold([a.as_str()], &Holder::Manual).unwrap();
        holders.hold([b.as_str()], &Holder::Post(1)).unwrap();
        let mut forgotten = Vec::new();
        let gone = holders
            .release(&[a.clone(), b.clone()], &Holder::Post(1), |id| {
                forgotten.push(id.to_owned());
                Ok(Some(id.to_owned()))
            })
            .unwrap();
        assert_eq!(gone, [b.as_str()], "a moderator still holds {a}");
        assert_eq!(forgotten, [b.as_str()]);
        assert_eq!(holders.of(&a).unwrap(), [Holder::Manual]);
        assert!(holders.of(&b).unwrap().is_empty());
    }

    #[test]
    fn an_article_with_no_record_is_never_forgotten_for_a_holder() {
        let dir = tempfile::tempdir().unwrap();
        let holders = Holders::of_corpus(dir.path());
        let gone = holders
            .release(
                &["old".to_owned()],
                &Holder::Post(9),
                |_| -> Result<Option<()>> { panic!("an article nobody recorded is kept") },
            )
            .unwrap();
        assert!(gone.is_empty());
    }
}
