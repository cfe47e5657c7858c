//! What a question names: years, other numbers, and names, read with the articles' help.
//!
//! A capital letter is weak evidence of a name in a chat message: it may only open the
//! message ("Hey", "Quick question"), or the member may write everything in lower case. So a
//! word is taken for a name by how the articles themselves write it in the middle of a
//! sentence ([`Lexicon::casing`]): "hey", "quick", "anyone" and "which" are written in lower
//! case there, "Hegseth", "NSA" and "World Cup" capitalised. Where the articles never use a
//! word, its place decides: capitalised in the middle of the question, it is a name the
//! articles must mention ("Kohl's"); capitalised only because it opens the question or a
//! sentence, it is not ("Heyyy", "Yo").

use std::cell::RefCell;
use std::collections::HashMap;

use newsqa_index::Casing;

use super::grammar;
use crate::answerable::Constraint;

/// What the question reader needs to know of the articles.
pub trait Lexicon {
    /// How the articles write `phrase` mid-sentence (see `ArticleIndex::casing`).
    fn casing(&self, phrase: &str) -> Casing;
    /// Whether any article uses `word` at all.
    fn knows(&self, word: &str) -> bool;
}

/// How many passages holding a word or phrase are read to see how the articles write it.
const CASING_SAMPLE: usize = 24;

impl Lexicon for newsqa_index::ArticleIndex {
    fn casing(&self, phrase: &str) -> Casing {
        self.casing(phrase, CASING_SAMPLE).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "could not read how the articles write a word");
            Casing::default()
        })
    }

    fn knows(&self, word: &str) -> bool {
        self.passages_with(word).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "could not read whether the articles use a word");
            0
        }) > 0
    }
}

/// A lexicon of no articles: every word unknown, so only its place decides.
pub struct NoArticles;

impl Lexicon for NoArticles {
    fn casing(&self, _: &str) -> Casing {
        Casing::default()
    }

    fn knows(&self, _: &str) -> bool {
        false
    }
}

/// A word in lower case is taken for a name, in a message written all in lower case, when
/// the articles capitalise at least this share of its mid-sentence uses...
const LOWER_CASE_NAME_SHARE: f32 = 0.8;
/// ...and use it mid-sentence at least this often.
const LOWER_CASE_NAME_USES: u32 = 2;

/// The lexicon with each answer remembered for the question being read.
pub struct Names<'a> {
    lexicon: &'a dyn Lexicon,
    casings: RefCell<HashMap<String, Casing>>,
    known: RefCell<HashMap<String, bool>>,
}

impl<'a> Names<'a> {
    pub fn new(lexicon: &'a dyn Lexicon) -> Names<'a> {
        Names {
            lexicon,
            casings: RefCell::default(),
            known: RefCell::default(),
        }
    }

    fn casing(&self, phrase: &str) -> Casing {
        let key = phrase.to_lowercase();
        if let Some(c) = self.casings.borrow().get(&key) {
            return *c;
        }
        let c = self.lexicon.casing(phrase);
        self.casings.borrow_mut().insert(key, c);
        c
    }

    /// Whether any article uses the word.
    pub fn knows(&self, word: &str) -> bool {
        let key = word.to_lowercase();
        if let Some(k) = self.known.borrow().get(&key) {
            return *k;
        }
        let k = self.lexicon.knows(&key);
        self.known.borrow_mut().insert(key, k);
        k
    }

    /// Whether a run of capitalised words is a name. `opens` says the run's first word is
    /// capitalised because it opens the question or a sentence of it.
    fn capitalised_run_is_name(&self, run: &str, opens: bool) -> bool {
        let c = self.casing(run);
        let named = c.named(run);
        if named + c.lower > 0 {
            return named >= c.lower;
        }
        !opens
    }

    /// Whether a word written in lower case is one the articles write as a name ("nsa",
    /// "hegseth" in a message typed all in lower case).
    fn lower_case_word_is_name(&self, word: &str) -> bool {
        if grammar::is(grammar::FUNCTION_WORDS, word)
            || grammar::is(grammar::PREPOSITIONS, word)
            || grammar::is(grammar::AUXILIARIES, word)
            || grammar::question_word(word, |_| true).is_some()
            || grammar::not_a_name(word)
        {
            return false;
        }
        // A single letter ("q" for question) says nothing.
        if word.chars().count() < 2 {
            return false;
        }
        let c = self.casing(word);
        let named = c.named(word);
        named >= LOWER_CASE_NAME_USES
            && named as f32 >= LOWER_CASE_NAME_SHARE * (named + c.lower) as f32
    }

    /// Whether a word carries something the articles must hold: a number, or a name.
    /// `opens` as for [`Names::capitalised_run_is_name`]; `all_lower` says the message was
    /// typed all in lower case, where a lower-case word may still be a name.
    pub fn is_content(&self, word: &str, opens: bool, all_lower: bool) -> bool {
        if word.chars().any(|c| c.is_ascii_digit()) {
            return true;
        }
        let lower = word.to_lowercase();
        if grammar::not_a_name(&lower) {
            return false;
        }
        if word.chars().next().is_some_and(char::is_uppercase) {
            return self.capitalised_run_is_name(word, opens);
        }
        all_lower && self.lower_case_word_is_name(&lower)
    }
}

/// The constraints a question names, in order, without repeats. `all_lower` says the
/// message was typed all in lower case.
pub fn constraints(question: &str, names: &Names, all_lower: bool) -> Vec<Constraint> {
    let mut out: Vec<Constraint> = Vec::new();
    fn push(c: Constraint, out: &mut Vec<Constraint>) {
        if !out.contains(&c) {
            out.push(c);
        }
    }
    // The run of name words being read: (word, opens, capitalised).
    let mut run: Vec<(String, bool, bool)> = Vec::new();
    let flush = |run: &mut Vec<(String, bool, bool)>, out: &mut Vec<Constraint>| {
        if let Some(name) = name_of(run, names) {
            push(Constraint::Name(name), out);
        }
        run.clear();
    };
    // "Miami/South Florida": either side of a slash is a word of its own.
    let mut opens = true;
    let words = question
        .split(|c: char| c.is_whitespace() || c == '/')
        .filter(|w| !w.is_empty());
    for raw in words {
        let word_opens = opens;
        // A sentence of the question ends here: the next word's capital may only open it.
        opens = raw.ends_with(['.', '!', '?', ':', ';']) || raw.ends_with(['"', '\u{201c}']);
        // A run of names ends at punctuation after a word ("Blair, Brown").
        let mut ends_run = raw.ends_with([',', ';', ':', '?', '!', ')', '"', '\u{201d}']);
        let word = raw.trim_matches(|c: char| !c.is_alphanumeric());
        let mut word = word
            .strip_suffix("'s")
            .or_else(|| word.strip_suffix("\u{2019}s"))
            .unwrap_or(word);
        // "Super Bowl-related", "Irish-based": the name is the part before the lowercase one.
        if let Some(cut) = word
            .char_indices()
            .find(|&(k, c)| k > 0 && c.is_lowercase() && word[..k].ends_with('-'))
            .map(|(k, _)| k - 1)
        {
            word = &word[..cut];
            ends_run = true;
        }
        if word.is_empty() {
            flush(&mut run, &mut out);
            continue;
        }
        if word.chars().any(|c| c.is_ascii_digit()) {
            flush(&mut run, &mut out);
            if let Some(c) = number(word) {
                push(c, &mut out);
            }
            continue;
        }
        let capitalised = word.chars().next().is_some_and(char::is_uppercase);
        let lower = word.to_lowercase();
        if grammar::not_a_name(&lower) {
            flush(&mut run, &mut out);
        } else if capitalised {
            run.push((word.to_owned(), word_opens, true));
        } else if all_lower && names.lower_case_word_is_name(&lower) {
            run.push((word.to_owned(), word_opens, false));
        } else {
            flush(&mut run, &mut out);
        }
        if ends_run {
            flush(&mut run, &mut out);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// The name a run of name words makes: the words capitalised only because they open the
/// question (or a sentence of it) and that the articles do not write as names are dropped
/// from its front ("Which", "Hey"); the rest is a name unless the articles write it, as a
/// whole, in lower case ("who won Best Film" is checked as "Best Film").
fn name_of(run: &[(String, bool, bool)], names: &Names) -> Option<String> {
    let mut start = 0;
    while let Some((word, true, true)) = run.get(start) {
        if names.capitalised_run_is_name(word, true) {
            break;
        }
        start += 1;
    }
    let rest = &run[start..];
    let (first, opens, capitalised) = rest.first()?;
    let phrase = rest
        .iter()
        .map(|(w, _, _)| w.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    if *opens || !capitalised {
        // Judged above by its first word, or a word the articles write as a name.
        return Some(phrase);
    }
    if rest.len() == 1 {
        return names
            .capitalised_run_is_name(first, false)
            .then_some(phrase);
    }
    let c = names.casing(&phrase);
    let named = c.named(&phrase);
    (named + c.lower == 0 || named >= c.lower).then_some(phrase)
}

/// A year, or another number as written; `None` for an ordinal ("50th", "10th week"):
/// ordinals are written many ways ("Super Bowl 50", "tenth") and constrain nothing reliably.
fn number(word: &str) -> Option<Constraint> {
    let ordinal = ["st", "nd", "rd", "th"].iter().any(|suffix| {
        word.strip_suffix(suffix)
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
    });
    if ordinal {
        return None;
    }
    let digits: String = word.chars().filter(|c| c.is_ascii_digit()).collect();
    let year = digits
        .parse::<i32>()
        .ok()
        .filter(|y| digits.len() == 4 && (1800..=2100).contains(y) && digits == word);
    // "1990s": a decade.
    let decade = word
        .strip_suffix('s')
        .and_then(|d| d.parse::<i32>().ok().filter(|_| d.len() == 4))
        .filter(|d| d % 10 == 0 && (1800..=2100).contains(d));
    if let Some(d) = decade {
        return Some(Constraint::Decade(d));
    }
    Some(match year {
        Some(y) => Constraint::Year(y),
        // "2004-05", "1990s": the leading year counts; other numbers as written.
        None => match (word.get(..4), word.get(4..5)) {
            (Some(head), Some(next))
                if head.chars().all(|c| c.is_ascii_digit())
                    && !next.chars().all(|c| c.is_ascii_digit() || c == ',') =>
            {
                match head.parse::<i32>() {
                    Ok(y) if (1800..=2100).contains(&y) => Constraint::Year(y),
                    _ => Constraint::Number(word.to_owned()),
                }
            }
            _ => Constraint::Number(word.to_owned()),
        },
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A lexicon read from a few sentences, as the index would read its articles.
    pub(crate) struct Text(pub &'static str);

    impl Lexicon for Text {
        fn casing(&self, phrase: &str) -> Casing {
            let wanted: Vec<String> = phrase
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty())
                .map(str::to_lowercase)
                .collect();
            let mut c = Casing::default();
            c.add(self.0, &wanted);
            c
        }

        fn knows(&self, word: &str) -> bool {
            self.0
                .split(|c: char| !c.is_alphanumeric())
                .any(|w| w.eq_ignore_ascii_case(word))
        }
    }

    const NEWS: &str = "The order was issued by new defense secretary Pete Hegseth, with the \
        NSA specifically exempted. He made a quick decision, and anyone could see which way it \
        went. The Cyber National Mission Force paused, said the NSA. Fans of the FIFA World Cup \
        and the world at large watched Tony Blair and Microsoft. The firm LinkedIn grew, and \
        Yukos owed taxes, FIFA said, and FIFA added that the NSA and Mr Hegseth would not comment. The Super Bowl and the Roman numerals were in the news, as was the \
        company's Best Film award, and the best film of the year.";

    fn names_in(q: &str) -> Vec<String> {
        let lexicon = Text(NEWS);
        let names = Names::new(&lexicon);
        let all_lower = !q.chars().any(char::is_uppercase);
        constraints(q, &names, all_lower)
            .iter()
            .map(Constraint::text)
            .collect()
    }

    #[test]
    fn a_question_names_its_years_numbers_and_names() {
        let lexicon = Text(NEWS);
        let names = Names::new(&lexicon);
        assert_eq!(
            constraints("Who won the 2014 FIFA World Cup?", &names, false),
            vec![
                Constraint::Year(2014),
                Constraint::Name("FIFA World Cup".into())
            ]
        );
        assert_eq!(
            names_in("How much did Microsoft pay for LinkedIn in 2016?"),
            vec!["Microsoft", "LinkedIn", "2016"]
        );
        assert_eq!(
            names_in("How many jobs will Tony Blair's plan create, 3,000?"),
            vec!["Tony Blair", "3,000"]
        );
    }

    #[test]
    fn words_the_articles_write_in_lower_case_are_not_names() {
        // Nobody listed "Hey", "Quick", "Anyone": the articles write them in lower case, or
        // never use them and they only open the question.
        for q in [
            "Hey, who issued the order?",
            "Quick question: who issued the order?",
            "Anyone know which agency is exempted?",
            "Heyyy who issued the order",
            "Which agency is exempted from the order?",
        ] {
            assert_eq!(names_in(q), Vec::<String>::new(), "{q}");
        }
        assert_eq!(names_in("Hey, did Hegseth issue it?"), vec!["Hegseth"]);
        // A word opening the question that the articles write as a name stays one.
        assert_eq!(names_in("Yukos owed how much in taxes?"), vec!["Yukos"]);
        // A capital in the middle of the question that the articles never use is a name.
        assert_eq!(names_in("Did Kohl's buy May?"), vec!["Kohl"]);
        // A mid-question capital the articles write in lower case is not ("Which" typed
        // with a capital after a filler).
        assert_eq!(
            names_in("anyone know Which agency is exempted"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_run_is_judged_as_a_whole() {
        assert_eq!(
            names_in("Prior to Super Bowl 50, who won?"),
            vec!["Super Bowl", "50"]
        );
        assert_eq!(names_in("Rather than Roman numerals, what?"), vec!["Roman"]);
        assert_eq!(names_in("Who won the Best Film award?"), vec!["Best Film"]);
        assert_eq!(
            names_in("Which network broadcast the 50th Super Bowl in its 10th year?"),
            vec!["Super Bowl"]
        );
        assert_eq!(
            names_in("How much did Super Bowl-related events cost Irish-based firms?"),
            vec!["Super Bowl", "Irish"]
        );
        assert_eq!(
            names_in("When was it last held in the Miami/Dade area?"),
            vec!["Miami Dade"]
        );
    }

    #[test]
    fn in_a_message_typed_in_lower_case_names_are_found_by_the_articles() {
        assert_eq!(names_in("did hegseth issue the order"), vec!["hegseth"]);
        assert_eq!(names_in("is the nsa exempted"), vec!["nsa"]);
        assert_eq!(
            names_in("who won the 2014 fifa world cup"),
            vec!["2014", "fifa"]
        );
        // Words the articles write in lower case, or never use, are not.
        assert_eq!(
            names_in("hey anyone know which agency is exempted lol"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn titles_months_and_days_are_not_names() {
        assert_eq!(names_in("Did Mr Blair resign?"), vec!["Blair"]);
        assert_eq!(names_in("What happened on Tuesday 9 November?"), vec!["9"]);
    }

    #[test]
    fn seasons_and_decades_count_as_their_year() {
        let lexicon = NoArticles;
        let names = Names::new(&lexicon);
        assert_eq!(
            constraints("Who won the 2004-05 league?", &names, false),
            vec![Constraint::Year(2004)]
        );
        assert_eq!(
            constraints("What sold best in the 1990s?", &names, false),
            vec![Constraint::Decade(1990)]
        );
    }
}
