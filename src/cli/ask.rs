//! `newsqa ask`: one question, answered or abstained on.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{bail, Result};
use newsqa::{Abstention, Config, Engine, Reply, ABSTAIN_MESSAGE};

use super::articles::require_index;

pub(crate) fn ask(config: Config, question: &str, json: bool) -> Result<ExitCode> {
    if newsqa::question::normalize(question).is_empty() {
        bail!("the question is empty");
    }
    require_index(&config)?;
    let engine = Engine::open(config)?;
    let reply = engine.ask(question)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&reply.json())?);
    } else {
        print_reply(&reply, &mut std::io::stdout().lock())?;
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn print_reply(reply: &Reply, out: &mut impl Write) -> Result<()> {
    match &reply.best {
        Some(b) => {
            writeln!(out, "{}", b.answer)?;
            writeln!(out, "  \"{}\"", super::one_line(&b.citation))?;
            match b.date {
                Some(date) => writeln!(out, "  {} · {date} (score {:.2})", b.title, b.score)?,
                None => writeln!(out, "  {} (score {:.2})", b.title, b.score)?,
            }
            if let Some(url) = &b.url {
                writeln!(out, "  {url}")?;
            }
            if let Some(o) = &reply.older {
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
