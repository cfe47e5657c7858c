//! Follow-up questions: "when did he issue it?" after "Who issued the order?" → "Pete
//! Hegseth".
//!
//! A question continues the conversation when it points back (a third-person or
//! demonstrative pronoun: "he", "it", "they", "that"), or is elliptical (it opens with
//! "and", "but", "so", "what about", or is a bare question word: "why?", "how much?"), and
//! does not name something new: a question whose names the earlier turn never mentions is a
//! new question, pronouns or not ("When did Sony say it would launch the PSP?"). A follow-up
//! is resolved against the earlier turn: its first pronoun stands for the earlier answer
//! when that is a name; an elliptical noun phrase takes the place of the earlier question's
//! last name ("and the CIA?" after "Is the NSA exempted?"); a bare question word asks about
//! what the earlier turn said ("why?" → "why Pete Hegseth issued the order?"). The earlier
//! question and answer also join the search, and the earlier article is searched too.

use serde::{Deserialize, Serialize};

use super::grammar::{self, ANAPHORS, AUXILIARIES, CONJUNCTIONS, FUNCTION_WORDS};
use super::Reading;
use crate::answerable::Constraint;

/// An earlier question and its answer, as `newsqa ask --json` printed them (the fields
/// read from it; others are ignored).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Turn {
    /// The question as the engine read it.
    pub question: String,
    /// The answer given, if any.
    #[serde(default)]
    pub answer: Option<String>,
    /// The sentence it was cited from.
    #[serde(default)]
    pub citation: Option<String>,
    /// The cited article.
    #[serde(default)]
    pub article_id: Option<String>,
    /// Its title.
    #[serde(default)]
    pub title: Option<String>,
}

/// A follow-up, resolved against the turn it continues.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FollowUp {
    /// The question to answer, with what it pointed back at filled in.
    pub question: String,
    /// Words of the earlier turn that join the search.
    #[serde(skip)]
    pub context: String,
    /// The earlier turn.
    pub continues: Turn,
}

/// Pronouns that stand for a person or a group; the others ("it", "this") may stand for
/// the earlier answer or for what the earlier question was about.
const PERSONAL: &[&str] = &[
    "he", "him", "his", "she", "her", "hers", "they", "them", "their",
];

/// The follow-up a reading is, if it continues `turn`; `None` for a new question.
pub fn follow_up(reading: &Reading, turn: &Turn) -> Option<FollowUp> {
    let q = reading.question.trim();
    let words: Vec<&str> = q.split_whitespace().collect();
    let lower: Vec<String> = words.iter().map(|w| bare(w).to_lowercase()).collect();
    if words.is_empty() {
        return None;
    }
    let pronoun = lower.iter().position(|w| grammar::is(ANAPHORS, w));
    let about =
        lower.len() >= 2 && matches!(lower[0].as_str(), "what" | "how") && lower[1] == "about";
    let joined = grammar::is(CONJUNCTIONS, &lower[0]) || about;
    let wh = lower
        .iter()
        .position(|w| grammar::question_word(w, |_| true).is_some());
    let content_words = lower
        .iter()
        .enumerate()
        .filter(|&(i, w)| {
            // "how much", "how come", "who else": the question word's own company.
            let with_question_word = i > 0
                && grammar::question_word(&lower[i - 1], |_| true).is_some()
                && matches!(
                    w.as_str(),
                    "else" | "about" | "much" | "many" | "long" | "come"
                );
            !with_question_word
                && !grammar::is(FUNCTION_WORDS, w)
                && !grammar::is(AUXILIARIES, w)
                && !grammar::is(CONJUNCTIONS, w)
                && grammar::question_word(w, |_| true).is_none()
        })
        .count();
    // "why?", "how much?", "who else?": a question word and nothing to ask it about.
    let bare_question = wh.is_some() && content_words == 0 && pronoun.is_none();
    if pronoun.is_none() && !joined && !bare_question {
        return None;
    }
    // A question that names something the earlier turn never mentions is a new one.
    let earlier = format!(
        "{} {} {} {}",
        turn.question,
        turn.answer.as_deref().unwrap_or(""),
        turn.citation.as_deref().unwrap_or(""),
        turn.title.as_deref().unwrap_or("")
    )
    .to_lowercase();
    let names: Vec<&str> = reading
        .constraints
        .iter()
        .filter_map(|c| match c {
            Constraint::Name(n) => Some(n.as_str()),
            _ => None,
        })
        .collect();
    let new_names = !names.is_empty()
        && names
            .iter()
            .all(|n| !n.split(' ').any(|w| earlier.contains(&w.to_lowercase())));
    if new_names && !joined {
        return None;
    }
    let answer = turn.answer.as_deref().filter(|a| is_name_like(a));
    let question = if bare_question && !joined {
        // "why?" → "why Pete Hegseth issued the order?"
        let asked = q.trim_end_matches(['?', '.', '!']);
        format!(
            "{asked} {}?",
            statement(&turn.question, turn.answer.as_deref())
        )
    } else if (about || (joined && wh.is_none()))
        && !lower.iter().any(|w| grammar::is(AUXILIARIES, w))
    {
        // "and the CIA?" → the earlier question about the CIA.
        let skip = if about { 2 } else { 1 };
        let fragment = words[skip.min(words.len())..]
            .join(" ")
            .trim_end_matches(['?', '.', '!'])
            .to_owned();
        replace_last_name(&turn.question, &fragment)
    } else {
        // The answer stands in for the first pronoun that can stand for a name ("he",
        // "they", "it", "his"); "that" or "there" are left to the search.
        let stands_in = lower
            .iter()
            .position(|w| grammar::is(PERSONAL, w) || matches!(w.as_str(), "it" | "its"));
        match (stands_in, answer) {
            (Some(k), Some(a)) => {
                let possessive = matches!(lower[k].as_str(), "his" | "its" | "their" | "hers");
                let mut out: Vec<String> = words.iter().map(|w| w.to_string()).collect();
                let trail: String = words[k]
                    .chars()
                    .skip_while(|c| c.is_alphanumeric() || *c == '\'')
                    .collect();
                out[k] = if possessive {
                    format!("{a}'s{trail}")
                } else {
                    format!("{a}{trail}")
                };
                out.join(" ")
            }
            _ => q.to_owned(),
        }
    };
    let context = format!("{} {}", turn.question, turn.answer.as_deref().unwrap_or(""));
    Some(FollowUp {
        question,
        context: context.trim().to_owned(),
        continues: turn.clone(),
    })
}

/// A word without the punctuation around it.
fn bare(word: &str) -> &str {
    word.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'')
}

/// Whether an answer reads as a name that a pronoun can stand for: short, capitalised, no
/// number ("Pete Hegseth", "LVMH", "the NSA"), not a date or an amount.
fn is_name_like(answer: &str) -> bool {
    let words: Vec<&str> = answer.split_whitespace().collect();
    !words.is_empty()
        && words.len() <= 6
        && !answer.chars().any(|c| c.is_ascii_digit())
        && words
            .iter()
            .any(|w| w.chars().next().is_some_and(char::is_uppercase))
        && !words
            .iter()
            .any(|w| grammar::is(grammar::NOT_NAMES, &w.to_lowercase()))
}

/// What an answered question states: "Who issued the order?" + "Pete Hegseth" → "Pete
/// Hegseth issued the order"; "When did Hegseth issue it?" → "Hegseth issue it".
fn statement(question: &str, answer: Option<&str>) -> String {
    let words: Vec<&str> = question
        .trim_end_matches(['?', '.', '!'])
        .split_whitespace()
        .collect();
    let lower: Vec<String> = words.iter().map(|w| bare(w).to_lowercase()).collect();
    let Some(k) = lower
        .iter()
        .position(|w| grammar::question_word(w, |_| true).is_some())
    else {
        return words.join(" ");
    };
    let mut rest = k + 1;
    // "which agency is exempted": the noun goes with the question word.
    if matches!(lower[k].as_str(), "which" | "what" | "whose")
        && rest < words.len()
        && !grammar::is(AUXILIARIES, &lower[rest])
        && rest + 1 < words.len()
        && !grammar::is(grammar::PREPOSITIONS, &lower[rest])
        && (grammar::is(AUXILIARIES, &lower[rest + 1]) || words.len() > rest + 2)
    {
        rest += 1;
    }
    let before = &words[..k];
    // "When did Hegseth issue it", "What did he ask for": an auxiliary and then a subject
    // is the question's inverted order; otherwise the question word was the subject.
    let inverted = rest + 1 < words.len()
        && grammar::is(AUXILIARIES, &lower[rest])
        && (grammar::is(grammar::SUBJECT_STARTERS, &lower[rest + 1])
            || bare(words[rest + 1])
                .chars()
                .next()
                .is_some_and(char::is_uppercase));
    let mut out: Vec<&str> = before.to_vec();
    if inverted {
        // The auxiliary goes, the rest stays.
        out.extend(&words[rest + 1..]);
    } else {
        // The answer takes the question word's place.
        if let Some(a) = answer {
            out.push(a);
        }
        out.extend(&words[rest..]);
    }
    out.join(" ")
}

/// The earlier question with its last name (a run of capitalised words after its first
/// word) replaced by `fragment`; the question and the fragment side by side when it names
/// nothing.
fn replace_last_name(question: &str, fragment: &str) -> String {
    let words: Vec<&str> = question.split_whitespace().collect();
    let capital = |w: &&str| bare(w).chars().next().is_some_and(char::is_uppercase);
    let Some(end) = (1..words.len()).rev().find(|&i| capital(&words[i])) else {
        return format!("{} {fragment}?", question.trim_end_matches(['?', '.', '!']));
    };
    let mut start = end;
    while start > 1 && capital(&words[start - 1]) {
        start -= 1;
    }
    // "the NSA": an article before the name goes with it.
    if start > 1 && grammar::is(grammar::DETERMINERS, &words[start - 1].to_lowercase()) {
        start -= 1;
    }
    let trail: String = words[end]
        .chars()
        .rev()
        .take_while(|c| !c.is_alphanumeric())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let mut out: Vec<String> = words[..start].iter().map(|w| w.to_string()).collect();
    out.push(format!("{fragment}{trail}"));
    out.extend(words[end + 1..].iter().map(|w| w.to_string()));
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::question::{read, NoArticles};

    fn turn(question: &str, answer: &str) -> Turn {
        Turn {
            question: question.into(),
            answer: Some(answer.into()),
            citation: Some(
                "The order was issued by new defense secretary Pete Hegseth, with the NSA \
                 specifically exempted."
                    .into(),
            ),
            article_id: Some("a".into()),
            title: Some("Cyber operations paused".into()),
        }
    }

    fn resolved(message: &str, t: &Turn) -> Option<String> {
        follow_up(&read(message, &NoArticles), t).map(|f| f.question)
    }

    #[test]
    fn a_pronoun_stands_for_the_earlier_answer() {
        let t = turn("Who issued the order?", "Pete Hegseth");
        assert_eq!(
            resolved("when did he issue it?", &t).as_deref(),
            Some("when did Pete Hegseth issue it?")
        );
        assert_eq!(
            resolved("what else did he ask for", &t).as_deref(),
            Some("what else did Pete Hegseth ask for")
        );
        assert_eq!(
            resolved("What was his job?", &t).as_deref(),
            Some("What was Pete Hegseth's job?")
        );
        let t = turn("Which agency is exempted?", "the NSA");
        assert_eq!(
            resolved("what does it do", &t).as_deref(),
            Some("what does the NSA do")
        );
    }

    #[test]
    fn a_bare_question_word_asks_about_the_earlier_statement() {
        let t = turn("Who issued the order?", "Pete Hegseth");
        assert_eq!(
            resolved("why?", &t).as_deref(),
            Some("why Pete Hegseth issued the order?")
        );
        let t = turn("When did Hegseth issue the order?", "Friday");
        assert_eq!(
            resolved("why", &t).as_deref(),
            Some("why Hegseth issue the order?")
        );
        let t = turn("Which agency is exempted?", "the NSA");
        assert_eq!(
            resolved("how come?", &t).as_deref(),
            Some("how come the NSA is exempted?")
        );
    }

    #[test]
    fn an_elliptical_phrase_takes_the_place_of_the_earlier_name() {
        let t = turn(
            "Is the NSA exempted from the order?",
            "the NSA specifically exempted",
        );
        assert_eq!(
            resolved("and the CIA?", &t).as_deref(),
            Some("Is the CIA exempted from the order?")
        );
        assert_eq!(
            resolved("what about Cyber Command", &t).as_deref(),
            Some("Is Cyber Command exempted from the order?")
        );
    }

    #[test]
    fn a_new_question_is_not_bent_by_the_conversation() {
        let t = turn("Who issued the order?", "Pete Hegseth");
        for q in [
            "Which luxury goods firm bought Glenmorangie?",
            "When did Sony say it would launch the PSP?",
            "Who won the 2004 Booker prize?",
            "What did Hegseth ask for?",
        ] {
            assert_eq!(resolved(q, &t), None, "{q}");
        }
    }

    #[test]
    fn a_previous_ask_json_reads_as_a_turn() {
        let json = r#"{"question": "Who issued the order?", "asked": "hey who issued the order",
            "answered": true, "answer": "Pete Hegseth", "score": 0.5, "citation": "The order...",
            "article_id": "sha256:1", "title": "T", "url": null, "alternates": []}"#;
        let t: Turn = serde_json::from_str(json).unwrap();
        assert_eq!(t.answer.as_deref(), Some("Pete Hegseth"));
        assert_eq!(t.article_id.as_deref(), Some("sha256:1"));
        let abstained = r#"{"question": "Who won?", "answer": null, "article_id": null}"#;
        let t: Turn = serde_json::from_str(abstained).unwrap();
        assert_eq!(t.answer, None);
    }
}
