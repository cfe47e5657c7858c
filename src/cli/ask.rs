//! `newsqa ask`: one question, answered or abstained on.

use std::io::Write;
use std::process::ExitCode;

use std::path::Path;

use anyhow::{bail, Context, Result};
use newsqa::question::followup::Turn;
use newsqa::question::Form;
use newsqa::{Abstention, Config, Engine, Reply, ABSTAIN_MESSAGE};

use super::articles::require_index;

pub(crate) fn ask(
    config: Config,
    question: &str,
    json: bool,
    after: Option<&Path>,
) -> Result<ExitCode> {
    if newsqa::question::normalize(question).is_empty() {
        bail!("the question is empty");
    }
    let after = after.map(read_turn).transpose()?;
    require_index(&config)?;
    let engine = Engine::open(config)?;
    let reply = engine.ask_after(question, after.as_ref(), true)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&reply.json())?);
    } else {
        print_reply(&reply, &mut std::io::stdout().lock())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The earlier turn of a follow-up: a previous `ask --json` output, in a file or on stdin.
fn read_turn(path: &Path) -> Result<Turn> {
    let text = if path == Path::new("-") {
        std::io::read_to_string(std::io::stdin())
            .context("reading the earlier answer from stdin")?
    } else {
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?
    };
    serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not the output of `newsqa ask --json`",
            path.display()
        )
    })
}

pub(crate) fn print_reply(reply: &Reply, out: &mut impl Write) -> Result<()> {
    if let Some(turn) = &reply.continues {
        let answer = turn.answer.as_deref().unwrap_or("no answer");
        writeln!(
            out,
            "(following up \"{}\" → {answer}: read as \"{}\")",
            turn.question, reply.reading.question
        )?;
    }
    match &reply.best {
        Some(b) => {
            // A yes/no question is answered by the sentence that decides it.
            match reply.reading.form {
                Form::YesNo => writeln!(out, "The article says:")?,
                _ => writeln!(out, "{}", b.answer)?,
            }
            writeln!(out, "  \"{}\"", super::one_line(&b.citation))?;
            match b.date {
                Some(date) => writeln!(out, "  {} · {date} (score {:.2})", b.title, b.score)?,
                None => writeln!(out, "  {} (score {:.2})", b.title, b.score)?,
            }
            if let Some(url) = &b.url {
                writeln!(out, "  {url}")?;
            }
            if let Some(o) = reply
                .older
                .as_ref()
                .filter(|_| reply.reading.form != Form::YesNo)
            {
                let date = o.date.map(|d| d.to_string()).unwrap_or_default();
                writeln!(
                    out,
                    "  An older article ({date}) says {}: {}",
                    o.answer, o.title
                )?;
            }
        }
        None => match &reply.abstention {
            Some(Abstention::NoArticles) => writeln!(
                out,
                "No articles in this index yet: add some with `newsqa ingest`."
            )?,
            reason => writeln!(
                out,
                "{}",
                reason
                    .as_ref()
                    .map_or_else(|| ABSTAIN_MESSAGE.to_owned(), |a| a.message())
            )?,
        },
    }
    Ok(())
}
