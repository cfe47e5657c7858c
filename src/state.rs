//! Small state files (feed subscriptions, watched channels, who holds an article): JSON read
//! whole, and replaced atomically and durably, so that a crash leaves the old state or the new
//! one, never a torn file. Every state file of newsqa is written here and nowhere else.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Opens (creating it, keeping what is in it) a file that is only ever locked, not read.
pub(crate) fn lock_file(path: &Path) -> Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))
}

/// The directory a state file lives in (`.` for a bare file name).
fn dir_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Reads a JSON state file; a file that is not there is the default (empty) state.
pub fn read<T: DeserializeOwned + Default>(path: &Path) -> Result<T> {
    match std::fs::read(path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes).with_context(|| format!("reading {}", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Replaces a JSON state file atomically and durably: a temporary file in the same directory
/// (created if missing), synced, renamed over the old one, then the directory synced.
pub fn write<T: Serialize + ?Sized>(path: &Path, value: &T) -> Result<()> {
    let mut bytes =
        serde_json::to_vec_pretty(value).with_context(|| format!("encoding {}", path.display()))?;
    bytes.push(b'\n');
    replace(path, &bytes)
}

/// Replaces a small text file atomically and durably, as [`write`] does.
pub fn write_text(path: &Path, text: &str) -> Result<()> {
    replace(path, text.as_bytes())
}

fn replace(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let dir = dir_of(path);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(&dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    tmp.write_all(bytes)
        .and_then(|_| tmp.as_file().sync_all())
        .with_context(|| format!("writing {}", tmp.path().display()))?;
    tmp.persist(path)
        .with_context(|| format!("replacing {}", path.display()))?;
    std::fs::File::open(&dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing {}", dir.display()))
}

/// Runs `change` on a state file's content under an exclusive lock on a lock file beside it
/// (`<name>.lock`), and writes it back when `change` says it changed something. Processes
/// that share the file (the bot, and the command line) wait for each other's change, which
/// takes milliseconds.
pub fn change<S, T>(path: &Path, change: impl FnOnce(&mut S) -> Result<(T, bool)>) -> Result<T>
where
    S: Serialize + DeserializeOwned + Default,
{
    let dir = dir_of(path);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut lock_name = path.file_name().unwrap_or_default().to_owned();
    lock_name.push(".lock");
    let lock_path = path.with_file_name(lock_name);
    let lock = lock_file(&lock_path)?;
    lock.lock()
        .with_context(|| format!("locking {}", lock_path.display()))?;
    let mut state: S = read(path)?;
    let (out, changed) = change(&mut state)?;
    if changed {
        write(path, &state)?;
    }
    drop(lock);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_reads_as_empty_and_a_change_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deep/state.json");
        assert_eq!(read::<Vec<u32>>(&path).unwrap(), Vec::<u32>::new());
        let n = change(&path, |v: &mut Vec<u32>| {
            v.push(7);
            Ok((v.len(), true))
        })
        .unwrap();
        assert_eq!(n, 1);
        assert_eq!(read::<Vec<u32>>(&path).unwrap(), vec![7]);
        // A change that says it changed nothing writes nothing.
        change(&path, |v: &mut Vec<u32>| {
            v.push(8);
            Ok(((), false))
        })
        .unwrap();
        assert_eq!(read::<Vec<u32>>(&path).unwrap(), vec![7]);
        assert!(
            dir.path().join("deep/state.json.lock").is_file(),
            "the lock file sits beside the state"
        );
    }

    #[test]
    fn a_torn_file_is_an_error_that_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, "[1, 2").unwrap();
        let e = read::<Vec<u32>>(&path).unwrap_err();
        assert!(format!("{e:#}").contains("state.json"), "{e:#}");
    }
}
