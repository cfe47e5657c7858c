use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tempfile::TempDir;

/// The project's own copy of the seed article and its questions.
pub const SEED_ARTICLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/seed-article.txt");
pub const SEED_QUESTIONS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/seed-questions.jsonl"
);

/// A newsqa with its own empty index in a temp dir.
pub struct App {
    pub dir: TempDir,
}

/// What a command printed and how it ended.
pub struct Run {
    pub stdout: String,
    pub stderr: String,
    pub ok: bool,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", self.stdout, self.stderr))
    }

    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

pub fn spawn_app() -> App {
    App {
        dir: tempfile::tempdir().unwrap(),
    }
}

impl App {
    pub fn index(&self) -> PathBuf {
        self.dir.path().join("index")
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_newsqa"));
        cmd.arg("--index").arg(self.index()).args(args);
        // No config.toml of the developer's may leak in.
        cmd.current_dir(self.dir.path()).env_remove("NEWSQA_CONFIG");
        cmd.env_remove("NEWSQA_INDEX");
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Run {
        finish(self.command(args).output().unwrap())
    }

    pub fn run_with_stdin(&self, args: &[&str], stdin: &[u8]) -> Run {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        finish(child.wait_with_output().unwrap())
    }

    /// Runs with extra environment variables (others of ours removed, as always).
    pub fn run_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = self.command(args);
        cmd.env_remove("NEWSQA_FETCH_ALLOW")
            .env_remove("NEWSQA_FEEDS");
        cmd.envs(env.iter().copied());
        finish(cmd.output().unwrap())
    }

    /// Runs and asserts success.
    pub fn ok(&self, args: &[&str]) -> Run {
        let r = self.run(args);
        assert!(r.ok, "newsqa {args:?} failed:\n{}\n{}", r.stdout, r.stderr);
        r
    }

    pub fn ingest_seed(&self) -> Run {
        self.ok(&["ingest", SEED_ARTICLE])
    }

    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
        path
    }

    pub fn articles(&self) -> Vec<serde_json::Value> {
        self.ok(&["articles", "--json"])
            .json()
            .as_array()
            .unwrap()
            .clone()
    }
}

fn finish(out: Output) -> Run {
    Run {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        ok: out.status.success(),
    }
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}
