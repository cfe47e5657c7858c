//! Watched news channels: which channels of a server are watched, the last message handled
//! in each (the catch-up after a restart starts there), and what each post brought in (a
//! deleted post lets go of them: `holders.rs`).
//!
//! One small JSON file per server beside its corpus (`<guilds>/<id>.watch.json`),
//! replaced atomically after every change ([`crate::state`]). The bot is its one writer.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::Result;

use crate::guilds::Guilds;
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

/// How long a moved cursor (a message handled that changed nothing else) may wait in memory
/// before it is written: a crash then reads at most this much history again at the catch-up,
/// where posts already recorded are skipped.
pub const CURSOR_WRITE_SECS: u64 = 30;

/// Servers whose state is kept in memory; past it, the one idle longest is dropped (written
/// first when its cursor moved) and read again on its next message.
pub const SERVERS_KEPT: usize = 1000;

/// One server's state in memory.
struct Cached {
    state: GuildWatch,
    /// Since when the cursor moved without being written.
    dirty_since: Option<std::time::Instant>,
    used: std::time::Instant,
}

/// Every server's watch state, read on first use and kept in memory, each behind a lock of
/// its own: one server's messages never wait for another's file.
pub struct WatchStore {
    guilds: Guilds,
    kept: usize,
    states: Mutex<HashMap<u64, Arc<Mutex<Cached>>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl WatchStore {
    /// The store of the servers of a guilds directory.
    pub fn new(guilds: Guilds) -> WatchStore {
        WatchStore::keeping(guilds, SERVERS_KEPT)
    }

    /// The store, keeping at most `kept` servers in memory.
    pub fn keeping(guilds: Guilds, kept: usize) -> WatchStore {
        WatchStore {
            guilds,
            kept: kept.max(1),
            states: Mutex::new(HashMap::new()),
        }
    }

    fn path(&self, guild: u64) -> PathBuf {
        self.guilds.watch_file(guild)
    }

    /// A server's state, read from its file on first use; the server idle longest is dropped
    /// when more than `kept` are in memory.
    fn entry(&self, guild: u64) -> Result<Arc<Mutex<Cached>>> {
        let mut guilds = lock(&self.states);
        if let Some(c) = guilds.get(&guild) {
            return Ok(Arc::clone(c));
        }
        if guilds.len() >= self.kept {
            let idle = guilds
                .iter()
                .filter_map(|(&g, c)| c.try_lock().ok().map(|c| (c.used, g)))
                .min();
            if let Some((_, g)) = idle {
                if let Some(c) = guilds.remove(&g) {
                    if let Err(e) = self.write_waiting(g, &mut lock(&c)) {
                        tracing::warn!(
                            guild = g,
                            error = format!("{e:#}"),
                            "could not write a watch state"
                        );
                    }
                }
            }
        }
        let cached = Arc::new(Mutex::new(Cached {
            state: self.load(guild)?,
            dirty_since: None,
            used: std::time::Instant::now(),
        }));
        guilds.insert(guild, Arc::clone(&cached));
        Ok(cached)
    }

    /// Runs `f` on a server's state and returns what it returned. Nothing is copied: this
    /// is what every message in a server goes through.
    pub fn read<T>(&self, guild: u64, f: impl FnOnce(&GuildWatch) -> T) -> Result<T> {
        let entry = self.entry(guild)?;
        let mut c = lock(&entry);
        c.used = std::time::Instant::now();
        Ok(f(&c.state))
    }

    /// Lets `f` change a server's state; `f` returns its result and whether it changed
    /// anything, and the file is written only then (with any cursor not yet written). When
    /// the write fails, the state is read again from the file (which holds the old one) and
    /// the error returned.
    pub fn update<T>(&self, guild: u64, f: impl FnOnce(&mut GuildWatch) -> (T, bool)) -> Result<T> {
        let entry = self.entry(guild)?;
        let mut c = lock(&entry);
        c.used = std::time::Instant::now();
        let (out, changed) = f(&mut c.state);
        if changed {
            while c.state.posts.len() > POSTS_KEPT {
                c.state.posts.pop_first();
            }
            if let Err(e) = self.write(guild, &c.state) {
                c.state = self.load(guild).unwrap_or_default();
                c.dirty_since = None;
                return Err(e);
            }
            c.dirty_since = None;
        }
        Ok(out)
    }

    /// Records `message` as handled in a watched `channel` (the catch-up starts after it): in
    /// memory, and in the file once it has waited [`CURSOR_WRITE_SECS`] (or with the next
    /// change, or at [`WatchStore::flush`]).
    pub fn saw(&self, guild: u64, channel: u64, message: u64) -> Result<()> {
        let entry = self.entry(guild)?;
        let mut c = lock(&entry);
        let now = std::time::Instant::now();
        c.used = now;
        if !c.state.saw(channel, message) {
            return Ok(());
        }
        let since = *c.dirty_since.get_or_insert(now);
        if now.duration_since(since).as_secs() >= CURSOR_WRITE_SECS {
            self.write(guild, &c.state)?;
            c.dirty_since = None;
        }
        Ok(())
    }

    /// Writes a server's cursor when it waits to be.
    pub fn flush_guild(&self, guild: u64) -> Result<()> {
        let entry = lock(&self.states).get(&guild).cloned();
        match entry {
            Some(entry) => self.write_waiting(guild, &mut lock(&entry)),
            None => Ok(()),
        }
    }

    /// Writes every cursor not yet written (the bot is stopping).
    pub fn flush(&self) -> Result<()> {
        let entries: Vec<(u64, Arc<Mutex<Cached>>)> = lock(&self.states)
            .iter()
            .map(|(&g, c)| (g, Arc::clone(c)))
            .collect();
        for (guild, entry) in entries {
            self.write_waiting(guild, &mut lock(&entry))?;
        }
        Ok(())
    }

    /// The servers that have a state file.
    pub fn guilds(&self) -> Result<Vec<u64>> {
        Ok(self
            .guilds
            .servers()?
            .into_iter()
            .filter(|&g| self.path(g).is_file())
            .collect())
    }

    fn load(&self, guild: u64) -> Result<GuildWatch> {
        crate::state::read(&self.path(guild))
    }

    /// Writes a server's state when a moved cursor waits to be written.
    fn write_waiting(&self, guild: u64, c: &mut Cached) -> Result<()> {
        if c.dirty_since.is_some() {
            self.write(guild, &c.state)?;
            c.dirty_since = None;
        }
        Ok(())
    }

    fn write(&self, guild: u64, state: &GuildWatch) -> Result<()> {
        crate::state::write(&self.path(guild), state)
    }
}

impl Drop for WatchStore {
    fn drop(&mut self) {
        if let Err(e) = self.flush() {
            tracing::error!(
                error = format!("{e:#}"),
                "could not write the watched channels' last messages"
            );
        }
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
        let store = WatchStore::new(Guilds::new(dir.path()));
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
        let again = WatchStore::new(Guilds::new(dir.path()));
        assert_eq!(again.guilds().unwrap(), vec![7]);
        let state = again.read(7, Clone::clone).unwrap();
        assert_eq!(state.channels[&70].last, 5);
        assert_eq!(state.posts[&6].articles, ["https://example.com/a"]);
    }

    /// Issue 33 (10): a message that only moves the cursor is not a file write; a change
    /// is, and takes the cursor with it; stopping writes what waits.
    #[test]
    fn the_cursor_is_written_lazily_and_a_change_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = WatchStore::new(Guilds::new(dir.path()));
        let on_disk =
            || crate::state::read::<GuildWatch>(&dir.path().join("7.watch.json")).unwrap();
        store
            .update(7, |s| {
                s.channels.insert(70, Channel::default());
                ((), true)
            })
            .unwrap();
        for m in 1..=100 {
            store.saw(7, 70, m).unwrap();
        }
        assert_eq!(on_disk().channels[&70].last, 0, "no write per message");
        assert_eq!(store.read(7, |s| s.channels[&70].last).unwrap(), 100);
        store.flush().unwrap();
        assert_eq!(on_disk().channels[&70].last, 100);
        store.saw(7, 70, 101).unwrap();
        store
            .update(7, |s| {
                s.posts.insert(101, Post::default());
                ((), true)
            })
            .unwrap();
        assert_eq!(on_disk().channels[&70].last, 101, "written with the change");
    }

    #[test]
    fn idle_servers_leave_memory_and_keep_what_they_had() {
        let dir = tempfile::tempdir().unwrap();
        let store = WatchStore::keeping(Guilds::new(dir.path()), 2);
        for g in 1..=3 {
            store
                .update(g, |s| {
                    s.channels.insert(g * 10, Channel::default());
                    ((), true)
                })
                .unwrap();
            store.saw(g, g * 10, 5).unwrap();
        }
        assert_eq!(
            lock(&store.states).len(),
            2,
            "the idlest server was dropped"
        );
        // Its moved cursor was written as it left, and it reads back when it speaks again.
        assert_eq!(store.read(1, |s| s.channels[&10].last).unwrap(), 5);
    }

    #[test]
    fn only_the_newest_posts_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = WatchStore::new(Guilds::new(dir.path()));
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
