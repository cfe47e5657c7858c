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

/// Pronouns that stand for one person.
const SINGULAR: &[&str] = &["he", "him", "his", "she", "her", "hers"];

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
    // A question that names nothing ("how many officials were accused?") asked right after
    // an answer is read in its light: a new question names what it is about.
    let names_nothing = reading.constraints.is_empty();
    if pronoun.is_none() && !joined && !bare_question && !names_nothing {
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
        in_place_of(&turn.question, &fragment)
    } else {
        // The answer stands in for the first pronoun that can stand for one name ("he",
        // "she", "it", "his"); "they", "that" or "there" are left to the search.
        let stands_in = lower
            .iter()
            .position(|w| grammar::is(SINGULAR, w) || matches!(w.as_str(), "it" | "its"));
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
        && !words.iter().any(|w| grammar::not_a_name(&w.to_lowercase()))
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

/// The earlier question asked of `fragment` ("and the inheritance tax threshold?" after "To
/// what level did Brown raise the stamp duty threshold?"): the phrase of the question whose
/// head word the fragment shares ("threshold") gives way to it; else its last name does;
/// else the fragment follows the question's question word ("By how much ... the headline
/// index?").
fn in_place_of(question: &str, fragment: &str) -> String {
    let words: Vec<&str> = question
        .trim_end_matches(['?', '.', '!'])
        .split_whitespace()
        .collect();
    let lower: Vec<String> = words.iter().map(|w| bare(w).to_lowercase()).collect();
    let stem = |w: &str| w.trim_end_matches('s').to_owned();
    let shared: Vec<String> = fragment
        .split_whitespace()
        .map(|w| bare(w).to_lowercase())
        .filter(|w| !grammar::is(FUNCTION_WORDS, w) && !grammar::is(grammar::PREPOSITIONS, w))
        .map(|w| stem(&w))
        .collect();
    // The question word and the noun it asks about ("what level") are not replaced.
    let wh = lower
        .iter()
        .position(|w| grammar::question_word(w, |_| true).is_some());
    // A yes/no question: its auxiliary opens it.
    let after_wh = match wh {
        Some(wh) if matches!(lower[wh].as_str(), "what" | "which" | "whose" | "how") => wh + 2,
        Some(wh) => wh + 1,
        None => 1,
    };
    let head = (after_wh..words.len())
        .rev()
        .find(|&i| shared.contains(&stem(&lower[i])));
    if let Some(end) = head {
        // The phrase ends at the shared word and runs back to its determiner or
        // possessive, at most four words, never over a verb's auxiliary or a preposition.
        let mut start = end;
        while start > after_wh && end - start < 4 {
            let prev = &lower[start - 1];
            if grammar::is(AUXILIARIES, prev) || grammar::is(grammar::PREPOSITIONS, prev) {
                break;
            }
            start -= 1;
            if grammar::is(grammar::DETERMINERS, prev) || words[start].ends_with("'s") {
                break;
            }
        }
        let mut out: Vec<&str> = words[..start].to_vec();
        out.push(fragment);
        out.extend(&words[end + 1..]);
        return format!("{}?", out.join(" "));
    }
    replace_last_name(question, fragment).unwrap_or_else(|| {
        format!(
            "{} {fragment}?",
            words[..after_wh.min(words.len())].join(" ")
        )
    })
}

/// The earlier question with its last name (a run of capitalised words after its first
/// word) replaced by `fragment`; `None` when it names nothing.
fn replace_last_name(question: &str, fragment: &str) -> Option<String> {
    let words: Vec<&str> = question.split_whitespace().collect();
    let capital = |w: &&str| {
        bare(w).chars().next().is_some_and(char::is_uppercase)
            && !grammar::not_a_name(&bare(w).to_lowercase())
    };
    let end = (1..words.len()).rev().find(|&i| capital(&words[i]))?;
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
    Some(out.join(" "))
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
    fn an_elliptical_phrase_takes_the_place_of_the_phrase_with_its_head_word() {
        let t = turn(
            "To what level did Gordon Brown raise the stamp duty threshold in his budget?",
            "£120,000",
        );
        assert_eq!(
            resolved("and the inheritance tax threshold?", &t).as_deref(),
            Some(
                "To what level did Gordon Brown raise the inheritance tax threshold in his budget?"
            )
        );
        let t = turn(
            "Who scored Tottenham's crucial second goal in the FA Cup win?",
            "Noe Pamarot",
        );
        assert_eq!(
            resolved("and the other goals?", &t).as_deref(),
            Some("Who scored the other goals in the FA Cup win?")
        );
        let t = turn("By how much did core prices rise in January?", "0.8%");
        assert_eq!(
            resolved("and the headline index?", &t).as_deref(),
            Some("By how much the headline index?")
        );
    }

    #[test]
    fn a_question_that_names_nothing_is_read_with_the_answer_before_it() {
        let t = turn(
            "Who is the new chief executive of UK Coal?",
            "Gerry Spindler",
        );
        let f = follow_up(&read("how many jobs were cut?", &NoArticles), &t).unwrap();
        assert_eq!(f.question, "how many jobs were cut?");
        assert!(f.context.contains("UK Coal"));
        // "they" is left alone: the answer is one person, "they" may be the firm.
        assert_eq!(
            resolved("how many mines do they run", &t).as_deref(),
            Some("how many mines do they run")
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
