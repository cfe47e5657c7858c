//! A sentence splitter for news prose.
//!
//! Rule-based, in the spirit of Punkt: a sentence ends at `.`, `!`, `?` or `…`
//! (plus any closing quotes or brackets) when the next word starts like a
//! sentence: a capital letter, a digit or an opening quote. Known
//! abbreviations (titles, months, "No."), single initials ("John F. Kennedy")
//! and dotted acronyms ("U.S.") do not end a sentence unless the next word is a
//! typical sentence opener ("The", "He", ...). Decimals never split, because a
//! boundary needs whitespace after the stop.
//!
//! Blank lines always end a sentence. A single line break ends one when the
//! line before it looks finished (ends in punctuation) or looks like a heading
//! (a short line followed by a capitalised one); otherwise it is a wrapped line.

use std::ops::Range;

/// Titles and other abbreviations that are followed by a name or number, not a new sentence.
const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "sen", "rep", "gov", "gen", "col", "lt", "sgt", "capt",
    "cmdr", "adm", "maj", "st", "jr", "sr", "rev", "hon", "pres", "supt", "det", "insp", "fr",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "no",
    "nos", "vs", "v", "approx", "dept", "est", "fig", "mt", "ft", "vol", "op", "cf", "al", "ave",
    "blvd", "rd", "u.s", "u.k", "u.n", "e.g", "i.e", "a.m", "p.m",
];

/// Words that usually open a sentence; after an acronym ("... in the U.S. The
/// president ...") they mark a boundary after all.
const SENTENCE_OPENERS: &[&str] = &[
    "The",
    "A",
    "An",
    "He",
    "She",
    "It",
    "They",
    "We",
    "I",
    "You",
    "This",
    "That",
    "These",
    "Those",
    "But",
    "And",
    "Yet",
    "So",
    "However",
    "Meanwhile",
    "In",
    "On",
    "At",
    "As",
    "If",
    "When",
    "While",
    "There",
    "Its",
    "His",
    "Her",
    "Their",
    "Our",
    "Some",
    "Many",
    "Most",
    "Officials",
    "According",
    "After",
    "Before",
    "Since",
    "Still",
    "Now",
    "Last",
    "Next",
];

/// Splits `text` into sentences, as byte ranges into `text`, trimmed of surrounding whitespace.
pub fn split_sentences(text: &str) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    for block in blocks(text) {
        split_block(text, block, &mut out);
    }
    out
}

/// Cuts the text at blank lines and at hard single line breaks.
fn blocks(text: &str) -> Vec<Range<usize>> {
    let mut lines: Vec<Range<usize>> = Vec::new();
    let mut start = 0;
    for (i, b) in text.bytes().enumerate() {
        if b == b'\n' {
            lines.push(start..i);
            start = i + 1;
        }
    }
    lines.push(start..text.len());

    let mut blocks = Vec::new();
    let mut current: Option<Range<usize>> = None;
    for line in lines {
        let content = text[line.clone()].trim();
        if content.is_empty() {
            if let Some(b) = current.take() {
                blocks.push(b);
            }
            continue;
        }
        current = match current {
            None => Some(line),
            Some(b) => {
                if is_hard_break(text[b.clone()].trim_end(), content) {
                    blocks.push(b);
                    Some(line)
                } else {
                    Some(b.start..line.end)
                }
            }
        };
    }
    if let Some(b) = current {
        blocks.push(b);
    }
    blocks
}

/// Whether a line break between `prev` (the block so far) and `next` ends a sentence.
fn is_hard_break(prev: &str, next: &str) -> bool {
    let last_line = prev.rsplit('\n').next().unwrap_or(prev).trim();
    let ends_finished = last_line
        .chars()
        .last()
        .is_some_and(|c| ".!?:;\"”’)…|=".contains(c));
    let next_capital = next
        .chars()
        .next()
        .is_some_and(|c| c.is_uppercase() || c.is_ascii_digit() || "\"“‘(×•-*".contains(c));
    ends_finished || (next_capital && last_line.chars().count() < 70)
}

fn split_block(text: &str, block: Range<usize>, out: &mut Vec<Range<usize>>) {
    let s = &text[block.clone()];
    let chars: Vec<(usize, char)> = s.char_indices().collect();
    // The sentence being read starts at this char index (and at its byte offset).
    let mut sentence_start = 0usize;
    let mut i = 0;
    while i < chars.len() {
        let (_, c) = chars[i];
        if matches!(c, '.' | '!' | '?' | '…') {
            // Swallow runs like "?!", "..." and closing quotes/brackets.
            let mut j = i + 1;
            while j < chars.len() && matches!(chars[j].1, '.' | '!' | '?' | '…') {
                j += 1;
            }
            while j < chars.len() && matches!(chars[j].1, '"' | '\'' | '”' | '’' | ')' | ']') {
                j += 1;
            }
            let end = chars.get(j).map_or(s.len(), |&(b, _)| b);
            if j < chars.len() && chars[j].1.is_whitespace() {
                let mut k = j;
                while k < chars.len() && chars[k].1.is_whitespace() {
                    k += 1;
                }
                if k < chars.len() && is_boundary(s, &chars, sentence_start, i, c, k) {
                    let from = chars[sentence_start].0;
                    push_trimmed(text, block.start + from, block.start + end, out);
                    sentence_start = k;
                }
                i = k;
                continue;
            }
            i = j;
            continue;
        }
        i += 1;
    }
    let from = chars.get(sentence_start).map_or(s.len(), |&(b, _)| b);
    push_trimmed(text, block.start + from, block.end, out);
}

/// Decides whether the stop at char index `stop` (char `c`), with the next word at char index
/// `next`, ends the sentence that starts at char index `sentence_start`. It reads only the
/// token before the stop and the word after it, so splitting stays linear in the text.
fn is_boundary(
    s: &str,
    chars: &[(usize, char)],
    sentence_start: usize,
    stop: usize,
    c: char,
    next: usize,
) -> bool {
    let next_word = word_at(s, chars[next].0);
    let first = next_word.chars().next().unwrap_or(' ');
    let starts_like_sentence = first.is_uppercase()
        || first.is_ascii_digit()
        || ("\"“‘'(['".contains(first)
            && next_word
                .chars()
                .nth(1)
                .is_some_and(|c| c.is_uppercase() || c.is_ascii_digit()));
    if !starts_like_sentence {
        return false;
    }
    if c != '.' {
        return true;
    }
    // The token that the period ends, e.g. "Mr", "U.S", "F", "3".
    let token_start = chars[sentence_start..stop]
        .iter()
        .rposition(|&(_, ch)| ch.is_whitespace() || "\"“‘(".contains(ch))
        .map_or(sentence_start, |p| sentence_start + p + 1);
    let token: String = chars[token_start..stop].iter().map(|&(_, ch)| ch).collect();
    if token.is_empty() {
        return true;
    }
    let lower = token.to_lowercase();
    let opener = SENTENCE_OPENERS
        .iter()
        .any(|w| next_word.trim_start_matches(['"', '“', '‘', '\'', '(']) == *w);
    let is_initial = token.chars().count() == 1 && token.chars().all(|c| c.is_uppercase());
    let is_acronym = token.contains('.') && token.split('.').all(|p| p.chars().count() <= 2);
    if ABBREVIATIONS.contains(&lower.as_str()) {
        // Titles and months are followed by names and numbers; an acronym may end a sentence.
        return (lower.contains('.') || is_acronym) && opener;
    }
    if is_initial || is_acronym {
        return opener;
    }
    true
}

/// The whitespace-delimited word that starts at byte `at`, punctuation trimmed at its end.
fn word_at(s: &str, at: usize) -> &str {
    let rest = &s[at..];
    let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    rest[..end].trim_end_matches([',', ';', ':', '.'])
}

fn push_trimmed(text: &str, start: usize, end: usize, out: &mut Vec<Range<usize>>) {
    let piece = &text[start..end];
    let lead = piece.len() - piece.trim_start().len();
    let trail = piece.len() - piece.trim_end().len();
    if lead + trail < piece.len() {
        out.push(start + lead..end - trail);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> Vec<&str> {
        split_sentences(text)
            .into_iter()
            .map(|r| &text[r])
            .collect()
    }

    #[test]
    fn plain_sentences_split_at_stops() {
        assert_eq!(
            split("The order was paused. Officials declined to comment! Why? Nobody knows."),
            vec![
                "The order was paused.",
                "Officials declined to comment!",
                "Why?",
                "Nobody knows."
            ]
        );
    }

    #[test]
    fn us_and_titles_do_not_end_a_sentence() {
        assert_eq!(
            split(
                "The U.S. Cyber Command said Mr. Hegseth and Dr. Jones met Gen. Smith. They left."
            ),
            vec![
                "The U.S. Cyber Command said Mr. Hegseth and Dr. Jones met Gen. Smith.",
                "They left."
            ]
        );
    }

    #[test]
    fn an_acronym_before_a_sentence_opener_ends_the_sentence() {
        assert_eq!(
            split("Troops returned to the U.S. The president spoke."),
            vec!["Troops returned to the U.S.", "The president spoke."]
        );
    }

    #[test]
    fn month_abbreviations_and_dates_stay_whole() {
        assert_eq!(
            split("The meeting on Feb. 28 ended badly. A deal is off."),
            vec!["The meeting on Feb. 28 ended badly.", "A deal is off."]
        );
    }

    #[test]
    fn decimals_and_numbers_stay_whole() {
        assert_eq!(
            split("Shares rose 3.5% to $12.75 on Monday. No. 10 said nothing."),
            vec![
                "Shares rose 3.5% to $12.75 on Monday.",
                "No. 10 said nothing."
            ]
        );
    }

    #[test]
    fn quotes_close_with_their_sentence() {
        assert_eq!(
            split("He said: \"We will not stop.\" Then he left. \"Is it over?\" she asked."),
            vec![
                "He said: \"We will not stop.\"",
                "Then he left.",
                "\"Is it over?\" she asked."
            ]
        );
        assert_eq!(
            split("“Boots on the ground,” he said. “Never.” It ended."),
            vec!["“Boots on the ground,” he said.", "“Never.”", "It ended."]
        );
    }

    #[test]
    fn initials_in_names_do_not_split() {
        assert_eq!(
            split("John F. Kennedy was elected in 1960. He was young."),
            vec!["John F. Kennedy was elected in 1960.", "He was young."]
        );
    }

    #[test]
    fn lowercase_after_a_stop_continues_the_sentence() {
        assert_eq!(
            split("Prices rose at 9 a.m. and fell by noon. Markets closed."),
            vec!["Prices rose at 9 a.m. and fell by noon.", "Markets closed."]
        );
    }

    #[test]
    fn headings_and_paragraphs_are_their_own_sentences() {
        let text = "Cyber operations paused\n\nThe sources said so. They did.\nRecent Posts\nDDoS Attack on X";
        assert_eq!(
            split(text),
            vec![
                "Cyber operations paused",
                "The sources said so.",
                "They did.",
                "Recent Posts",
                "DDoS Attack on X"
            ]
        );
    }

    #[test]
    fn wrapped_lines_join_into_one_sentence() {
        let text = "The order seems to primarily impact cyber operations at the Cyber National\nMission Force, with the NSA exempted. Next one.";
        assert_eq!(
            split(text),
            vec![
                "The order seems to primarily impact cyber operations at the Cyber National\nMission Force, with the NSA exempted.",
                "Next one."
            ]
        );
    }

    #[test]
    fn offsets_point_into_the_original_text() {
        let text = "  Über alles. Ça va? Oui.  ";
        for r in split_sentences(text) {
            assert!(text.is_char_boundary(r.start) && text.is_char_boundary(r.end));
        }
        assert_eq!(split(text), vec!["Über alles.", "Ça va?", "Oui."]);
    }

    #[test]
    fn a_long_paragraph_splits_as_its_parts_do() {
        // One line of many sentences (the 5 MB page of the big_page benchmark, smaller): the
        // same sentences as each part alone, wherever it sits in the paragraph.
        let unit = "Mr. J. Smith met Gen. A. Jones in the U.S. on Feb. 28. The talks ended! ";
        let alone = split(unit);
        let text = unit.repeat(2000);
        let got = split(&text);
        assert_eq!(got.len(), alone.len() * 2000);
        for (i, s) in got.iter().enumerate() {
            assert_eq!(*s, alone[i % alone.len()]);
        }
    }

    #[test]
    fn empty_text_has_no_sentences() {
        assert!(split_sentences("").is_empty());
        assert!(split_sentences(" \n\n ").is_empty());
    }
}
