//! Discord's gateway sharding: which shard a server belongs to, and which shards a process
//! runs. A bot in more than 2,500 servers must shard; every server's corpus lives with the
//! process that runs its shard, so no two processes ever serve one server.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The shard of a server: `(server_id >> 22) % total_shards`, as Discord computes it.
pub fn shard_of(guild: u64, total: u32) -> u32 {
    ((guild >> 22) % u64::from(total.max(1))) as u32
}

/// A run of shards, first to last inclusive ("0-3", or "5" for one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ShardRange {
    /// The first shard.
    pub first: u32,
    /// The last shard (inclusive).
    pub last: u32,
}

impl ShardRange {
    /// Whether `shard` is in the run.
    pub fn contains(&self, shard: u32) -> bool {
        (self.first..=self.last).contains(&shard)
    }

    /// How many shards the run has.
    pub fn len(&self) -> u32 {
        self.last - self.first + 1
    }

    /// Never empty; here for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        false
    }
}

impl FromStr for ShardRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not a shard or a range of shards such as 0-3");
        let (a, b) = match s.trim().split_once('-') {
            Some((a, b)) => (a, b),
            None => (s.trim(), s.trim()),
        };
        let first: u32 = a.trim().parse().map_err(|_| bad())?;
        let last: u32 = b.trim().parse().map_err(|_| bad())?;
        if last < first {
            return Err(bad());
        }
        Ok(ShardRange { first, last })
    }
}

impl TryFrom<String> for ShardRange {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<ShardRange> for String {
    fn from(r: ShardRange) -> String {
        r.to_string()
    }
}

impl fmt::Display for ShardRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.first == self.last {
            true => write!(f, "{}", self.first),
            false => write!(f, "{}-{}", self.first, self.last),
        }
    }
}

/// The shards one process runs, of how many in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardSet {
    /// The shards it runs.
    pub range: ShardRange,
    /// All the bot's shards.
    pub total: u32,
}

impl ShardSet {
    /// Checks that the run lies within the total.
    pub fn new(range: ShardRange, total: u32) -> Result<ShardSet, String> {
        if total == 0 {
            return Err("the total number of shards must be at least 1".into());
        }
        if range.last >= total {
            return Err(format!(
                "shards {range} do not exist among {total} (they are numbered 0 to {})",
                total - 1
            ));
        }
        Ok(ShardSet { range, total })
    }

    /// Whether this process runs the server's shard.
    pub fn owns(&self, guild: u64) -> bool {
        self.range.contains(shard_of(guild, self.total))
    }
}

/// How `processes` processes share `total` shards: contiguous runs, as even as they can be
/// (the first ones take one more when it does not divide).
pub fn plan(total: u32, processes: u32) -> Result<Vec<ShardRange>, String> {
    if total == 0 || processes == 0 {
        return Err("the shards and the processes must each be at least 1".into());
    }
    if processes > total {
        return Err(format!(
            "{processes} processes for {total} shards would leave some with none: use at most {total}"
        ));
    }
    let (each, extra) = (total / processes, total % processes);
    let mut first = 0;
    Ok((0..processes)
        .map(|p| {
            let n = each + u32::from(p < extra);
            let r = ShardRange {
                first,
                last: first + n - 1,
            };
            first += n;
            r
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_belongs_to_the_shard_discord_says() {
        // Discord's documented example: (197038439483310086 >> 22) % 2 = 1... and % 16.
        let guild = 197_038_439_483_310_086;
        assert_eq!(shard_of(guild, 1), 0);
        assert_eq!(shard_of(guild, 2), ((guild >> 22) % 2) as u32);
        assert_eq!(shard_of(5 << 22, 4), 1);
    }

    #[test]
    fn ranges_read_and_show_alike() {
        assert_eq!("0-3".parse(), Ok(ShardRange { first: 0, last: 3 }));
        assert_eq!("7".parse(), Ok(ShardRange { first: 7, last: 7 }));
        assert_eq!(ShardRange { first: 2, last: 5 }.to_string(), "2-5");
        assert!("3-1".parse::<ShardRange>().is_err());
        assert!("a-b".parse::<ShardRange>().is_err());
        assert!(ShardSet::new("0-3".parse().unwrap(), 4).is_ok());
        assert!(ShardSet::new("0-4".parse().unwrap(), 4).is_err());
    }

    #[test]
    fn a_plan_covers_every_shard_once() {
        for total in 1..40 {
            for processes in 1..=total {
                let p = plan(total, processes).unwrap();
                assert_eq!(p.len() as u32, processes);
                assert_eq!(p[0].first, 0);
                assert_eq!(p.last().unwrap().last, total - 1);
                for w in p.windows(2) {
                    assert_eq!(w[1].first, w[0].last + 1);
                    assert!(w[0].len() >= w[1].len() && w[0].len() - w[1].len() <= 1);
                }
            }
        }
        assert!(plan(4, 5).is_err());
        assert_eq!(
            plan(16, 3)
                .unwrap()
                .iter()
                .map(|r| r.to_string())
                .collect::<Vec<_>>(),
            ["0-5", "6-10", "11-15"]
        );
    }
}
