//! Finding article files on disk, for `newsqa ingest DIR` and `newsqa eval --corpus DIR`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use newsqa_index::ARTICLE_EXTENSIONS;

/// Every article file under `dir`, recursively, sorted: files with one of
/// [`ARTICLE_EXTENSIONS`] (any case); hidden files and directories are skipped. Symbolic
/// links are followed, and a link back into its own ancestors (a loop) is skipped with a
/// warning instead of being walked again at every depth.
pub fn article_files(dir: &Path) -> Result<Vec<PathBuf>> {
    article_files_noting(dir, &mut Skipped::default())
}

/// What a directory walk left out, and why.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Skipped {
    /// Hidden files and directories (their names start with a dot).
    pub hidden: usize,
    /// Files of other types, by extension ("" for none).
    pub other: std::collections::BTreeMap<String, usize>,
}

impl Skipped {
    /// How many entries were left out.
    pub fn total(&self) -> usize {
        self.hidden + self.other.values().sum::<usize>()
    }

    /// One line saying what was left out and what is taken, when anything was.
    pub fn describe(&self) -> Option<String> {
        if self.total() == 0 {
            return None;
        }
        let mut why: Vec<String> = self
            .other
            .iter()
            .map(|(ext, n)| match ext.as_str() {
                "" => format!("{n} without an extension"),
                ext => format!("{n} .{ext}"),
            })
            .collect();
        if self.hidden > 0 {
            why.push(format!("{} hidden", self.hidden));
        }
        let taken: Vec<String> = ARTICLE_EXTENSIONS.iter().map(|e| format!(".{e}")).collect();
        Some(format!(
            "skipped {} ({}); ingest takes {} files",
            self.total(),
            why.join(", "),
            taken.join(", ")
        ))
    }
}

/// [`article_files`], counting what it leaves out in `skipped`.
pub fn article_files_noting(dir: &Path, skipped: &mut Skipped) -> Result<Vec<PathBuf>> {
    let hidden =
        |e: &walkdir::DirEntry| e.depth() > 0 && e.file_name().to_string_lossy().starts_with('.');
    let mut found = Vec::new();
    let mut hidden_seen = 0;
    let walk = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .into_iter()
        .filter_entry(|e| {
            let h = hidden(e);
            hidden_seen += usize::from(h);
            !h
        });
    for entry in walk {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) if e.loop_ancestor().is_some() => {
                let shown =
                    |p: Option<&Path>| p.map_or_else(String::new, |p| p.display().to_string());
                tracing::warn!(
                    "skipping {}: a symlink loop (it leads back to {})",
                    shown(e.path()),
                    shown(e.loop_ancestor())
                );
                continue;
            }
            Err(e) => {
                let path = e
                    .path()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| dir.to_owned());
                return Err(e).with_context(|| format!("reading directory {}", path.display()));
            }
        };
        if !entry.file_type().is_file() {
            continue;
        }
        let ext = entry
            .path()
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        if ARTICLE_EXTENSIONS.contains(&ext.as_str()) {
            found.push(entry.into_path());
        } else {
            *skipped.other.entry(ext).or_default() += 1;
        }
    }
    skipped.hidden += hidden_seen;
    found.sort();
    Ok(found)
}
