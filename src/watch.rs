//! Watched news channels: which channels of a server are watched, the last message handled
//! in each (the catch-up after a restart starts there), and what each post brought in (a
//! deleted post lets go of them: `holders.rs`).
//!
//! One small JSON file per server beside its corpus (`<guilds>/<id>.watch.json`),
//! replaced atomically after every change ([`crate::state`]). The bot is its one writer.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::Result;
use serde::{Deserialize, Serialize};

/// Posts remembered per server; past it the oldest are dropped (deleting one of those then
/// forgets nothing).
pub const POSTS_KEPT: usize = 20_000;

/// A server's watched channels and posts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GuildWatch {
    /// Watched channels by id.
    #[serde(default)]
    pub channels: BTreeMap<u64, Channel>,
    /// Posts that brought articles in, by message id.
    #[serde(default)]
    pub posts: BTreeMap<u64, Post>,
    /// Channels the bot's config lists that a moderator stopped watching (`/unwatch`): they
    /// stay stopped, across restarts, until a `/watch` there.
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub unwatched: std::collections::BTreeSet<u64>,
}

/// One watched channel.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Channel {
    /// The newest message handled (or, before any, the `/watch` that started it): the
    /// catch-up reads what came after it.
    pub last: u64,
    /// Posts by members who are not moderators are ingested too.
    #[serde(default)]
    pub members: bool,
}

/// What one post brought in.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Post {
    /// Its channel (or thread).
    pub channel: u64,
    /// Its links and attachment names, as last handled (an edit that changes none of them,
    /// such as Discord adding a preview, is not handled again).
    #[serde(default)]
    pub sources: Vec<String>,
    /// Ids of the articles it brought in.
    pub articles: Vec<String>,
}

/// Every server's watch state, read on first use and kept in memory.
pub struct WatchStore {
    root: PathBuf,
    guilds: Mutex<HashMap<u64, GuildWatch>>,
}

impl WatchStore {
    /// The store for the servers whose corpora live under `root`.
    pub fn new(root: &Path) -> WatchStore {
        WatchStore {
            root: root.to_owned(),
            guilds: Mutex::new(HashMap::new()),
        }
    }

    fn path(&self, guild: u64) -> PathBuf {
        self.root.join(format!("{guild}.watch.json"))
    }

    /// Runs `f` on a server's state (read from its file on first use) and returns what it
    /// returned. Nothing is copied: this is what every message in a server goes through.
    pub fn read<T>(&self, guild: u64, f: impl FnOnce(&GuildWatch) -> T) -> Result<T> {
        let mut guilds = self.guilds.lock().unwrap_or_else(|e| e.into_inner());
        Ok(f(self.cached(&mut guilds, guild)?))
    }

    /// Lets `f` change a server's state; `f` returns its result and whether it changed
    /// anything, and the file is written only then. When the write fails, the change is
    /// dropped with the cached state (the file still holds the old one) and the error
    /// returned.
    pub fn update<T>(&self, guild: u64, f: impl FnOnce(&mut GuildWatch) -> (T, bool)) -> Result<T> {
        let mut guilds = self.guilds.lock().unwrap_or_else(|e| e.into_inner());
        let state = self.cached(&mut guilds, guild)?;
        let (out, changed) = f(state);
        if changed {
            while state.posts.len() > POSTS_KEPT {
                state.posts.pop_first();
            }
            if let Err(e) = self.write(guild, state) {
                guilds.remove(&guild);
                return Err(e);
            }
        }
        Ok(out)
    }

    fn cached<'a>(
        &self,
        guilds: &'a mut HashMap<u64, GuildWatch>,
        guild: u64,
    ) -> Result<&'a mut GuildWatch> {
        Ok(match guilds.entry(guild) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => e.insert(self.load(guild)?),
        })
    }

    /// The servers that have a state file.
    pub fn guilds(&self) -> Result<Vec<u64>> {
        Ok(crate::library::servers_in(&self.root)?
            .into_iter()
            .filter(|&g| self.path(g).is_file())
            .collect())
    }

    fn load(&self, guild: u64) -> Result<GuildWatch> {
        crate::state::read(&self.path(guild))
    }

    fn write(&self, guild: u64, state: &GuildWatch) -> Result<()> {
        crate::state::write(&self.path(guild), state)
    }
}

impl GuildWatch {
    /// Records `message` as handled in `channel`, when the channel is watched: the catch-up
    /// after a restart starts after the newest. Whether that moved it.
    pub fn saw(&mut self, channel: u64, message: u64) -> bool {
        match self.channels.get_mut(&channel) {
            Some(c) if c.last < message => {
                c.last = message;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_survives_a_reopen_and_a_server_without_one_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let store = WatchStore::new(dir.path());
        assert_eq!(store.read(7, Clone::clone).unwrap(), GuildWatch::default());
        assert!(store.guilds().unwrap().is_empty(), "reading writes nothing");
        store
            .update(7, |s| {
                s.channels.insert(
                    70,
                    Channel {
                        last: 5,
                        members: false,
                    },
                );
                s.posts.insert(
                    6,
                    Post {
                        channel: 70,
                        sources: vec!["https://example.com/a".into()],
                        articles: vec!["https://example.com/a".into()],
                    },
                );
                ((), true)
            })
            .unwrap();
        let again = WatchStore::new(dir.path());
        assert_eq!(again.guilds().unwrap(), vec![7]);
        let state = again.read(7, Clone::clone).unwrap();
        assert_eq!(state.channels[&70].last, 5);
        assert_eq!(state.posts[&6].articles, ["https://example.com/a"]);
    }

    #[test]
    fn only_the_newest_posts_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = WatchStore::new(dir.path());
        store
            .update(1, |s| {
                for m in 0..(POSTS_KEPT as u64 + 3) {
                    s.posts.insert(m, Post::default());
                }
                ((), true)
            })
            .unwrap();
        let posts = store.read(1, |s| s.posts.clone()).unwrap();
        assert_eq!(posts.len(), POSTS_KEPT);
        assert_eq!(posts.keys().next(), Some(&3));
    }
}
