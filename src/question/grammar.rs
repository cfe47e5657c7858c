//! The closed word classes of English that the question reader leans on: question words,
//! auxiliaries, prepositions, determiners and pronouns. These classes are finite and do not
//! grow with what members write; greetings, hedges and slang ("hey", "anyone know", "lol")
//! are open-ended and appear in no list here: the reader recognises them by their place
//! around the question and by how the articles write them (`names.rs`).

/// Words that open an open question ("who", "how much").
pub const QUESTION_WORDS: &[&str] = &[
    "who", "whom", "whose", "what", "which", "when", "where", "why", "how",
];

/// Auxiliary and modal verbs: a question opened by one asks yes or no ("Is the NSA
/// exempted?", "Did Hegseth sign it?").
pub const AUXILIARIES: &[&str] = &[
    "is",
    "are",
    "was",
    "were",
    "am",
    "do",
    "does",
    "did",
    "has",
    "have",
    "had",
    "can",
    "could",
    "will",
    "would",
    "shall",
    "should",
    "may",
    "might",
    "must",
    "isn't",
    "aren't",
    "wasn't",
    "weren't",
    "don't",
    "doesn't",
    "didn't",
    "hasn't",
    "haven't",
    "hadn't",
    "can't",
    "couldn't",
    "won't",
    "wouldn't",
    "shouldn't",
];

/// Words that make the clause after them a yes/no question inside a sentence ("anyone
/// know if the deal was signed").
pub const EMBEDDED_YES_NO: &[&str] = &["if", "whether"];

/// Prepositions: one right before a question word belongs to the question ("In which year",
/// "by whom").
pub const PREPOSITIONS: &[&str] = &[
    "about",
    "above",
    "across",
    "after",
    "against",
    "along",
    "among",
    "around",
    "as",
    "at",
    "before",
    "behind",
    "below",
    "beneath",
    "beside",
    "between",
    "beyond",
    "by",
    "despite",
    "down",
    "during",
    "except",
    "for",
    "from",
    "in",
    "inside",
    "into",
    "like",
    "near",
    "of",
    "off",
    "on",
    "onto",
    "out",
    "outside",
    "over",
    "past",
    "since",
    "through",
    "throughout",
    "till",
    "to",
    "toward",
    "towards",
    "under",
    "underneath",
    "until",
    "unto",
    "up",
    "upon",
    "via",
    "with",
    "within",
    "without",
];

/// Determiners and pronouns: what a subject starts with, right after the auxiliary of a
/// yes/no question ("is THE deal signed", "did HE resign").
pub const SUBJECT_STARTERS: &[&str] = &[
    "the", "a", "an", "this", "that", "these", "those", "it", "he", "she", "they", "there", "his",
    "her", "its", "their", "my", "your", "our", "any", "some", "all", "every", "each", "no",
    "both", "either", "neither", "you", "we", "i", "anyone", "anybody", "someone", "somebody",
    "everyone", "many", "most", "more",
];

/// Determiners: a clause starting with one names a thing ("the man who ...", "the order
/// was issued when?"), it is no preamble to a question.
pub const DETERMINERS: &[&str] = &[
    "the", "a", "an", "this", "that", "these", "those", "his", "her", "its", "their", "my", "your",
    "our",
];

/// Third-person and demonstrative pronouns: in a follow-up they point back at the earlier
/// answer or its topic ("when did HE issue IT?").
pub const ANAPHORS: &[&str] = &[
    "he", "him", "his", "she", "her", "hers", "it", "its", "they", "them", "their", "theirs",
    "this", "that", "these", "those", "there", "then",
];

/// Words that join a follow-up to what came before ("and the NSA?", "so why?").
pub const CONJUNCTIONS: &[&str] = &["and", "but", "or", "so", "also", "then"];

/// Words too common to name anything: function words of the classes above and a few more.
pub const FUNCTION_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "been", "being", "but", "by", "for", "from", "if",
    "in", "into", "is", "it", "its", "of", "on", "or", "so", "than", "that", "the", "then",
    "there", "these", "they", "this", "those", "to", "too", "very", "was", "were", "what", "which",
    "who", "with", "not", "no", "yes", "i", "me", "my", "you", "your", "we", "us", "our", "he",
    "him", "his", "she", "her", "them", "their", "do", "does", "did",
];

/// Capitalised words that name nothing by themselves: the pronoun "I" and titles before a
/// name ("Mr Blair" names Blair).
const NOT_NAMES: &[&str] = &["i", "mr", "mrs", "ms", "dr", "sir"];

/// Whether a word (lower case) names nothing by itself: one of [`NOT_NAMES`], or a month or a
/// day (covered by the year; articles say "last month" or "on Tuesday").
pub fn not_a_name(word: &str) -> bool {
    is(NOT_NAMES, word) || newsqa_index::is_calendar_word(word)
}

/// Whether `word` (lower case) is in `class`.
pub fn is(class: &[&str], word: &str) -> bool {
    class.contains(&word)
}

/// The question word `word` (lower case) is, or stands for when mistyped ("wich", "waht",
/// "wehn": one letter added, dropped, changed or two swapped). A mistyping is only read in
/// words of four letters or more that `known` (the articles' vocabulary) does not hold, so
/// that real words one letter away ("then", "there", "whole") stay what they are.
pub fn question_word(word: &str, known: impl FnOnce(&str) -> bool) -> Option<&'static str> {
    // "what's", "who’s": the question word and a verb.
    let word = word.split(['\'', '\u{2019}']).next().unwrap_or(word);
    if let Some(w) = QUESTION_WORDS.iter().find(|w| **w == word) {
        return Some(w);
    }
    if word.chars().count() < 4 || is(FUNCTION_WORDS, word) || is(PREPOSITIONS, word) {
        return None;
    }
    let typo = QUESTION_WORDS
        .iter()
        .find(|w| w.len() >= 4 && one_edit_apart(word, w))
        .copied()?;
    (!known(word)).then_some(typo)
}

/// Damerau-Levenshtein distance of exactly one.
fn one_edit_apart(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a == b {
        return false;
    }
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let (ra, rb) = (&a[prefix..], &b[prefix..]);
    match ra.len() as isize - rb.len() as isize {
        0 => {
            ra[1..] == rb[1..]
                || (ra.len() >= 2 && ra[0] == rb[1] && ra[1] == rb[0] && ra[2..] == rb[2..])
        }
        1 => ra[1..] == *rb,
        -1 => *ra == rb[1..],
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mistyped_question_word_is_read_as_the_word() {
        let unknown = |_: &str| false;
        assert_eq!(question_word("which", unknown), Some("which"));
        assert_eq!(question_word("wich", unknown), Some("which"));
        assert_eq!(question_word("waht", unknown), Some("what"));
        assert_eq!(question_word("wehn", unknown), Some("when"));
        assert_eq!(question_word("wheree", unknown), Some("where"));
        assert_eq!(question_word("what's", unknown), Some("what"));
        assert_eq!(question_word("who\u{2019}s", unknown), Some("who"));
        // Short words, function words and words the articles use stay what they are.
        assert_eq!(question_word("hat", unknown), None);
        assert_eq!(question_word("with", unknown), None);
        assert_eq!(question_word("then", unknown), None);
        assert_eq!(question_word("whole", |w| w == "whole"), None);
        assert_eq!(question_word("whale", unknown), None);
    }
}
