//! Finding article files on disk, for `newsqa ingest DIR` and `newsqa eval --corpus DIR`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use newsqa_index::ARTICLE_EXTENSIONS;

/// Every article file under `dir`, recursively, sorted: files with one of
/// [`ARTICLE_EXTENSIONS`] (any case); hidden files and directories are skipped.
pub fn article_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut stack = vec![dir.to_owned()];
    let mut found = Vec::new();
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir)
            .with_context(|| format!("reading directory {}", dir.display()))?;
        for entry in entries {
            let path = entry?.path();
            let hidden = path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if hidden {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else if path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| ARTICLE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
            {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}
