//! The one owner of a guilds directory's layout (`[index] guilds`): each Discord server's
//! corpus (`<id>/`, its index with its `holders.json`) and watched channels
//! (`<id>.watch.json`), the lock of the `newsqa serve` that serves them (`serve.lock`), the
//! lock that `--guild` commands share and `newsqa shards move` takes alone (`move.lock`),
//! and the note a moved server leaves behind (`<id>.moved`). Others ask here; nobody else
//! formats these paths.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::state::lock_file;

/// A guilds directory.
#[derive(Debug, Clone)]
pub struct Guilds {
    root: PathBuf,
}

impl Guilds {
    /// The guilds directory at `root` (created when something is written there).
    pub fn new(root: &Path) -> Guilds {
        Guilds {
            root: root.to_owned(),
        }
    }

    /// Where it is.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A server's corpus (index) directory.
    pub fn corpus(&self, guild: u64) -> PathBuf {
        self.root.join(guild.to_string())
    }

    /// A server's watched channels.
    pub fn watch_file(&self, guild: u64) -> PathBuf {
        self.root.join(format!("{guild}.watch.json"))
    }

    /// The note a server moved away leaves: where it went.
    fn moved_note(&self, guild: u64) -> PathBuf {
        self.root.join(format!("{guild}.moved"))
    }

    /// Everything a server has here, each path once: what a move carries.
    pub fn entries(&self, guild: u64) -> Vec<PathBuf> {
        [self.corpus(guild), self.watch_file(guild)]
            .into_iter()
            .filter(|p| p.exists())
            .collect()
    }

    /// The servers that have data here (a corpus, or watched channels).
    pub fn servers(&self) -> Result<Vec<u64>> {
        let mut out = std::collections::BTreeSet::new();
        let entries = match std::fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", self.root.display())),
        };
        for entry in entries {
            let name = entry?.file_name();
            if let Some(id) = name
                .to_str()
                .map(|n| n.strip_suffix(".watch.json").unwrap_or(n))
                .and_then(|n| n.parse().ok())
            {
                out.insert(id);
            }
        }
        Ok(out.into_iter().collect())
    }

    /// Holds the exclusive "a bot serves from here" lock (`serve.lock`) for as long as the
    /// returned file lives: two `newsqa serve` processes never serve the same servers, and
    /// `newsqa shards move` never moves data a bot is serving. The kernel releases it when
    /// the process ends, however it ends.
    pub fn hold_serve_lock(&self) -> Result<std::fs::File> {
        self.hold("serve.lock", "a newsqa serve is using")
    }

    /// For a `--guild` command: where the server's data went when it was moved away, and
    /// otherwise a shared hold on the directory, which `newsqa shards move` waits for.
    pub fn hold_for_command(&self, guild: u64) -> Result<std::fs::File> {
        std::fs::create_dir_all(&self.root)
            .with_context(|| format!("creating {}", self.root.display()))?;
        let path = self.root.join("move.lock");
        let file = lock_file(&path)?;
        file.lock_shared()
            .with_context(|| format!("locking {}", path.display()))?;
        if let Ok(to) = std::fs::read_to_string(self.moved_note(guild)) {
            bail!(
                "server {guild} was moved from {} to {} (newsqa shards move): point [index] guilds (or NEWSQA_GUILDS) at {}",
                self.root.display(),
                to.trim(),
                to.trim()
            );
        }
        Ok(file)
    }

    /// For `newsqa shards move`: the directory alone, or why not (a `--guild` command, or a
    /// bot, is using it).
    pub fn hold_for_move(&self) -> Result<(std::fs::File, std::fs::File)> {
        let serving = self.hold_serve_lock()?;
        let moving = self.hold("move.lock", "a newsqa --guild command is using")?;
        Ok((serving, moving))
    }

    fn hold(&self, name: &str, busy: &str) -> Result<std::fs::File> {
        std::fs::create_dir_all(&self.root)
            .with_context(|| format!("creating {}", self.root.display()))?;
        let path = self.root.join(name);
        let file = lock_file(&path)?;
        match file.try_lock() {
            Ok(()) => Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => bail!(
                "{busy} {} (it holds {})",
                self.root.display(),
                path.display()
            ),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(e).with_context(|| format!("locking {}", path.display()))
            }
        }
    }

    /// Moves a server's data to another guilds directory (both held with
    /// [`Guilds::hold_for_move`]), leaving a note of where it went. Nothing is overwritten:
    /// when the target has data of the server already, nothing moves.
    pub fn move_server(&self, guild: u64, to: &Guilds) -> Result<()> {
        let entries = self.entries(guild);
        for path in &entries {
            let target = to
                .root
                .join(path.file_name().context("a server entry without a name")?);
            if target.exists() {
                bail!(
                    "{} exists already: move nothing rather than overwrite it",
                    target.display()
                );
            }
        }
        std::fs::create_dir_all(&to.root)
            .with_context(|| format!("creating {}", to.root.display()))?;
        let _ = std::fs::remove_file(to.moved_note(guild));
        let destination = std::path::absolute(&to.root).unwrap_or_else(|_| to.root.clone());
        crate::state::write_text(&self.moved_note(guild), &destination.display().to_string())?;
        for path in entries {
            let target = to
                .root
                .join(path.file_name().context("a server entry without a name")?);
            move_path(&path, &target)?;
        }
        Ok(())
    }
}

/// Whether two paths name one directory, however they were written (`./g2` and `/srv/g2`).
pub fn same_dir(a: &Path, b: &Path) -> bool {
    let real = |p: &Path| {
        std::fs::canonicalize(p)
            .or_else(|_| std::path::absolute(p))
            .unwrap_or_else(|_| p.to_owned())
    };
    a == b || real(a) == real(b)
}

/// Renames a server's directory or file; across file systems, copies it completely (synced)
/// under a temporary name, renames that into place, syncs the directory it is in, and only
/// then removes the original.
fn move_path(from: &Path, to: &Path) -> Result<()> {
    if std::fs::rename(from, to).is_ok() {
        return sync_parent(to);
    }
    let tmp = to.with_extension("moving");
    let _ = std::fs::remove_dir_all(&tmp);
    let _ = std::fs::remove_file(&tmp);
    copy_synced(from, &tmp).with_context(|| format!("copying {}", from.display()))?;
    std::fs::rename(&tmp, to).with_context(|| format!("placing {}", to.display()))?;
    sync_parent(to)?;
    match from.is_dir() {
        true => std::fs::remove_dir_all(from),
        false => std::fs::remove_file(from),
    }
    .with_context(|| format!("removing {} after copying it", from.display()))?;
    sync_parent(from)
}

/// Makes a rename into (or out of) a directory durable.
fn sync_parent(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing {}", dir.display()))
}

/// Copies a file or a directory tree, each file and each directory synced.
fn copy_synced(from: &Path, to: &Path) -> Result<()> {
    if from.is_dir() {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            copy_synced(&entry.path(), &to.join(entry.file_name()))?;
        }
        std::fs::File::open(to)?.sync_all()?;
    } else {
        std::fs::copy(from, to)?;
        std::fs::File::open(to)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_moved_server_leaves_a_note_that_its_commands_read() {
        let dir = tempfile::tempdir().unwrap();
        let (from, to) = (
            Guilds::new(&dir.path().join("a")),
            Guilds::new(&dir.path().join("b")),
        );
        std::fs::create_dir_all(from.corpus(5)).unwrap();
        std::fs::write(from.corpus(5).join("meta.json"), "{}").unwrap();
        std::fs::write(from.watch_file(5), "{}").unwrap();
        assert_eq!(from.servers().unwrap(), [5]);
        let held = from.hold_for_command(5).unwrap();
        assert!(
            from.hold_for_move().is_err(),
            "a --guild command holds the directory"
        );
        drop(held);
        let both = (from.hold_for_move().unwrap(), to.hold_for_move().unwrap());
        from.move_server(5, &to).unwrap();
        drop(both);
        assert!(to.corpus(5).join("meta.json").is_file() && to.watch_file(5).is_file());
        assert!(from.servers().unwrap().is_empty());
        let e = from.hold_for_command(5).unwrap_err().to_string();
        assert!(e.contains("moved") && e.contains("NEWSQA_GUILDS"), "{e}");
        assert!(to.hold_for_command(5).is_ok());
        assert!(same_dir(&dir.path().join("b/../a"), &dir.path().join("a")));
    }
}
