//! `newsqa shards plan` and `newsqa shards move`: sharded serving for operators.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use newsqa::feeds::FeedStore;
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

/// One server's data in a guilds directory: its corpus and its watched channels.
fn server_entries(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    for id in newsqa::library::servers_in(dir)? {
        for name in [id.to_string(), format!("{id}.watch.json")] {
            let path = dir.join(name);
            if path.exists() {
                out.push((id, path));
            }
        }
    }
    Ok(out)
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
    if from == to {
        bail!("--from and --to are the same directory");
    }
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    let _from_lock = newsqa::library::hold_serve_lock(from)
        .with_context(|| format!("{} is in use", from.display()))?;
    let _to_lock = newsqa::library::hold_serve_lock(to)
        .with_context(|| format!("{} is in use", to.display()))?;
    let moving: Vec<(u64, PathBuf)> = server_entries(from)?
        .into_iter()
        .filter(|(id, _)| set.owns(*id))
        .collect();
    // Nothing is moved when anything would land on data that is there already.
    for (_, path) in &moving {
        let target = to.join(path.file_name().context("a server entry without a name")?);
        if target.exists() {
            bail!(
                "{} exists already: move nothing rather than overwrite it",
                target.display()
            );
        }
    }
    let mut servers = std::collections::BTreeSet::new();
    for (id, path) in &moving {
        let target = to.join(path.file_name().context("a server entry without a name")?);
        move_path(path, &target)?;
        servers.insert(*id);
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

/// Renames a server's directory or file; across file systems, copies it completely (synced)
/// under a temporary name, renames that into place, and only then removes the original.
fn move_path(from: &Path, to: &Path) -> Result<()> {
    if std::fs::rename(from, to).is_ok() {
        return Ok(());
    }
    let tmp = to.with_extension("moving");
    let _ = std::fs::remove_dir_all(&tmp);
    copy_synced(from, &tmp).with_context(|| format!("copying {}", from.display()))?;
    std::fs::rename(&tmp, to).with_context(|| format!("placing {}", to.display()))?;
    match from.is_dir() {
        true => std::fs::remove_dir_all(from),
        false => std::fs::remove_file(from),
    }
    .with_context(|| format!("removing {} after copying it", from.display()))
}

fn copy_synced(from: &Path, to: &Path) -> Result<()> {
    if from.is_dir() {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            copy_synced(&entry.path(), &to.join(entry.file_name()))?;
        }
    } else {
        std::fs::copy(from, to)?;
        std::fs::File::open(to)?.sync_all()?;
    }
    Ok(())
}
