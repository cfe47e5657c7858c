//! Finding article files on disk, for `newsqa ingest DIR` and `newsqa eval --corpus DIR`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use newsqa_index::ARTICLE_EXTENSIONS;

/// Every article file under `dir`, recursively, sorted: files with one of
/// [`ARTICLE_EXTENSIONS`] (any case); hidden files and directories are skipped. Symbolic
/// links are followed, and a link back into its own ancestors (a loop) is skipped with a
/// warning instead of being walked again at every depth.
pub fn article_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let hidden =
        |e: &walkdir::DirEntry| e.depth() > 0 && e.file_name().to_string_lossy().starts_with('.');
    let mut found = Vec::new();
    for entry in walkdir::WalkDir::new(dir)
        .follow_links(true)
        .into_iter()
        .filter_entry(|e| !hidden(e))
    {
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
        let article = entry.file_type().is_file()
            && entry
                .path()
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| ARTICLE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()));
        if article {
            found.push(entry.into_path());
        }
    }
    found.sort();
    Ok(found)
}
