//! A question as typed, made plain: invisible characters out, control characters and runs
//! of whitespace to one space. Used by every way in (CLI, bot, eval) before anything reads it.

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
