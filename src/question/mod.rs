//! A member's message read as a question: made plain (invisible characters out, whitespace
//! collapsed), cleaned of what only surrounds the question (greetings, hedges, tails,
//! emoji, mentions: `clean.rs`), told apart as an open question, a yes/no question or no
//! question at all, and its constraints read with the articles' help (`names.rs`). Every
//! way in (CLI, bot, eval) goes through [`read`] before anything else reads the message.

pub mod clean;
pub mod followup;
pub mod grammar;
pub mod names;

use serde::Serialize;

pub use clean::Form;
pub use names::{Lexicon, NoArticles};

use crate::answerable::Constraint;

/// A message read as a question.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reading {
    /// The message as typed, made plain.
    pub asked: String,
    /// The question it asks, without what only surrounded it.
    pub question: String,
    /// Open, yes/no, or no question at all.
    pub form: Form,
    /// What the question names that an answer's article must mention.
    pub constraints: Vec<Constraint>,
}

/// Reads a message as a question, with the articles of `lexicon` to tell names from other
/// words.
pub fn read(message: &str, lexicon: &dyn Lexicon) -> Reading {
    let asked = normalize(message);
    let names = names::Names::new(lexicon);
    let cleaned = clean::clean(&asked, &names);
    let all_lower = !asked.chars().any(char::is_uppercase);
    let constraints = match cleaned.form {
        Form::Chatter => Vec::new(),
        _ => names::constraints(&cleaned.text, &names, all_lower),
    };
    Reading {
        asked,
        question: cleaned.text,
        form: cleaned.form,
        constraints,
    }
}

/// Characters that draw nothing and only hide or reorder text: zero-width spaces and joiners,
/// bidirectional marks and isolates, the soft hyphen, word joiners and the byte-order mark.
fn invisible(c: char) -> bool {
    matches!(c,
        '\u{00ad}'
        | '\u{061c}'
        | '\u{180e}'
        | '\u{200b}'..='\u{200f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206f}'
        | '\u{feff}'
        | '\u{fff9}'..='\u{fffb}')
}

/// The question with invisible characters removed, control characters read as spaces, and
/// whitespace collapsed and trimmed.
pub fn normalize(question: &str) -> String {
    let plain: String = question
        .chars()
        .filter(|&c| !invisible(c))
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    plain.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn invisible_and_control_characters_are_taken_out() {
        assert_eq!(
            normalize("which\u{200b} agen\u{00ad}cy\u{7} is\u{202e} exempted?\u{feff}"),
            "which agency is exempted?"
        );
        assert_eq!(normalize("  who\n\tsigned \r\n it?  "), "who signed it?");
        assert_eq!(normalize("\u{200b}\u{2060}\u{0}"), "");
        // Letters of every script stay.
        assert_eq!(normalize("מי חתם על הצו?"), "מי חתם על הצו?");
    }
}
