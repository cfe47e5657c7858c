//! `newsqa shards plan` and `newsqa shards move`: sharded serving for operators.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use newsqa::feeds::FeedStore;
use newsqa::guilds::Guilds;
use newsqa::Config;
use newsqa_bot::{shards, ShardRange, ShardSet};

/// Prints which process runs which shards.
pub(crate) fn plan(total: u32, processes: u32, json: bool) -> Result<ExitCode> {
    let plan = shards::plan(total, processes).map_err(anyhow::Error::msg)?;
    if json {
        let rows: Vec<serde_json::Value> = plan
            .iter()
            .enumerate()
            .map(|(i, r)| serde_json::json!({"process": i, "shards": r.to_string(), "count": r.len()}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!("{total} shards over {processes} processes:");
    for (i, r) in plan.iter().enumerate() {
        println!(
            "  process {i}: newsqa serve --shards {r} --total-shards {total}   ({} shard{})",
            r.len(),
            if r.len() == 1 { "" } else { "s" }
        );
    }
    println!(
        "Each process needs its own [index] guilds directory; after a change of the shard \
         count, `newsqa shards move` carries each server's data to its new process."
    );
    Ok(ExitCode::SUCCESS)
}

/// Moves the servers of shards `range` (of `total`) from one guilds directory to another,
/// with their watched channels, and points their feed subscriptions at the new place.
/// Refused while a `newsqa serve` uses either directory, so that no server is ever served
/// by two processes, or by none with its data half moved.
pub(crate) fn move_servers(
    config: &Config,
    from: &Path,
    to: &Path,
    total: u32,
    range: ShardRange,
    to_feeds: Option<&Path>,
) -> Result<ExitCode> {
    let set = ShardSet::new(range, total).map_err(anyhow::Error::msg)?;
    if newsqa::guilds::same_dir(from, to) {
        bail!("--from and --to are the same directory");
    }
    let (source, target) = (Guilds::new(from), Guilds::new(to));
    let _from_lock = source
        .hold_for_move()
        .with_context(|| format!("{} is in use", from.display()))?;
    let _to_lock = target
        .hold_for_move()
        .with_context(|| format!("{} is in use", to.display()))?;
    let moving: Vec<u64> = source
        .servers()?
        .into_iter()
        .filter(|id| set.owns(*id))
        .collect();
    // Nothing is moved when anything would land on data that is there already.
    for &id in &moving {
        for path in source.entries(id) {
            let there = to.join(path.file_name().context("a server entry without a name")?);
            if there.exists() {
                bail!(
                    "{} exists already: move nothing rather than overwrite it",
                    there.display()
                );
            }
        }
    }
    let mut servers = std::collections::BTreeSet::new();
    for &id in &moving {
        source.move_server(id, &target)?;
        servers.insert(id);
    }
    let feeds = FeedStore::new(&config.feeds.state);
    let target_feeds = to_feeds.map(FeedStore::new);
    let repointed = feeds.move_servers(from, to, &|g| set.owns(g), target_feeds.as_ref())?;
    println!(
        "moved {} servers of shards {range} (of {total}) from {} to {}; {repointed} feed subscriptions follow them",
        servers.len(),
        from.display(),
        to.display()
    );
    Ok(ExitCode::SUCCESS)
}
