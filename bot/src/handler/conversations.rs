//! Recent answers, remembered so that a member's next message can follow one up ("when did
//! he issue it?"): by the message that carries the answer (a Discord reply to it, or a
//! message in a thread opened on it, whose id is the message's), and as each member's last
//! answer in a channel (their next `/ask` there). Bounded in number (the least recently used
//! go) and in time (`[discord] followup_minutes`), and never read across servers.

use std::time::{Duration, Instant};

use super::Recent;
use crate::backend::Earlier;

/// An answer given.
#[derive(Clone)]
struct Said {
    guild: u64,
    /// The channel and member it was given to.
    member: (u64, u64),
    at: Instant,
    earlier: Earlier,
}

/// The answers a follow-up may continue.
#[derive(Default)]
pub(super) struct Conversations {
    /// By the message that carries each answer.
    by_message: Recent<Said>,
    /// Each member's last answer in a channel, by [`member_key`].
    by_member: Recent<Said>,
}

impl Conversations {
    /// Remembers an answer given to `user` in `channel`, carried by `message` when known.
    pub(super) fn remember(
        &mut self,
        guild: u64,
        channel: u64,
        user: u64,
        message: Option<u64>,
        earlier: Earlier,
        now: Instant,
    ) {
        let said = Said {
            guild,
            member: (channel, user),
            at: now,
            earlier,
        };
        if let Some(m) = message {
            self.by_message.insert(m, said.clone());
        }
        self.by_member
            .insert(member_key(guild, channel, user), said);
    }

    /// The answer a message of `user` in `channel` follows up, if any: the one it replies
    /// to, else the one whose thread it is in, else (with `last`) the member's last answer in
    /// the channel; each only of this server and younger than `window`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn earlier(
        &mut self,
        guild: u64,
        channel: u64,
        user: u64,
        replied_to: Option<u64>,
        last: bool,
        window: Duration,
        now: Instant,
    ) -> Option<Earlier> {
        let fresh = |s: Said| {
            (s.guild == guild && now.saturating_duration_since(s.at) < window).then_some(s.earlier)
        };
        let replied = replied_to
            .and_then(|m| self.by_message.get(m))
            .and_then(fresh);
        // A thread opened on a message has the message's id.
        let found = replied.or_else(|| self.by_message.get(channel).and_then(fresh));
        if found.is_some() || !last {
            return found;
        }
        self.by_member
            .get(member_key(guild, channel, user))
            .filter(|s| s.member == (channel, user))
            .and_then(fresh)
    }

    /// Whether `channel` is a thread opened on one of this server's answers younger than
    /// `window`.
    pub(super) fn is_answer_thread(
        &mut self,
        guild: u64,
        channel: u64,
        window: Duration,
        now: Instant,
    ) -> bool {
        self.by_message
            .get(channel)
            .is_some_and(|s| s.guild == guild && now.saturating_duration_since(s.at) < window)
    }
}

/// One key for a member in a channel of a server ([`Recent`] maps take one number); the
/// entry itself says whose it is, so a collision finds nothing.
fn member_key(guild: u64, channel: u64, user: u64) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (guild, channel, user).hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn said(q: &str) -> Earlier {
        Earlier {
            question: q.into(),
            answer: Some("Pete Hegseth".into()),
            citation: None,
            article_id: None,
            title: None,
        }
    }

    const MINUTE: Duration = Duration::from_secs(60);

    #[test]
    fn a_member_follows_up_their_own_last_answer_in_the_channel_within_the_window() {
        let mut c = Conversations::default();
        let t0 = Instant::now();
        c.remember(1, 10, 100, Some(555), said("Who issued the order?"), t0);
        let later = t0 + 5 * MINUTE;
        let q = |c: &mut Conversations, guild, channel, user, now| {
            c.earlier(guild, channel, user, None, true, 15 * MINUTE, now)
                .map(|e| e.question)
        };
        assert_eq!(
            q(&mut c, 1, 10, 100, later).as_deref(),
            Some("Who issued the order?")
        );
        // Another member, another channel, another server: nothing to continue.
        assert_eq!(q(&mut c, 1, 10, 101, later), None);
        assert_eq!(q(&mut c, 1, 11, 100, later), None);
        assert_eq!(q(&mut c, 2, 10, 100, later), None);
        // Too late.
        assert_eq!(q(&mut c, 1, 10, 100, t0 + 16 * MINUTE), None);
    }

    #[test]
    fn a_reply_or_a_thread_follows_up_the_answer_it_is_on_never_across_servers() {
        let mut c = Conversations::default();
        let t0 = Instant::now();
        c.remember(1, 10, 100, Some(555), said("Who issued the order?"), t0);
        c.remember(1, 10, 100, Some(556), said("Which agency is exempted?"), t0);
        let window = 15 * MINUTE;
        // Anyone replying to the first answer continues it, not the member's last one.
        let e = c.earlier(1, 10, 200, Some(555), true, window, t0);
        assert_eq!(e.unwrap().question, "Who issued the order?");
        // A thread opened on it has its id.
        assert!(c.is_answer_thread(1, 555, window, t0));
        let e = c.earlier(1, 555, 200, None, false, window, t0);
        assert_eq!(e.unwrap().question, "Who issued the order?");
        // The same message id seen from another server finds nothing.
        assert!(!c.is_answer_thread(2, 555, window, t0));
        assert_eq!(c.earlier(2, 10, 200, Some(555), true, window, t0), None);
    }

    #[test]
    fn memory_is_bounded() {
        let mut c = Conversations::default();
        let t0 = Instant::now();
        for m in 0..(super::super::REMEMBERED as u64 + 10) {
            c.remember(1, m, 100, Some(m), said("q"), t0);
        }
        assert!(c.by_message.map.len() <= super::super::REMEMBERED);
        assert!(c.by_member.map.len() <= super::super::REMEMBERED);
        assert!(!c.is_answer_thread(1, 0, MINUTE, t0), "the oldest went");
    }
}
