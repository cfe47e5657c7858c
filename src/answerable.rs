//! The answerability check between the reader and the reply: an answer is only given when
//! its article supports what the question names.
//!
//! A question over a 2004-05 archive such as "Who won the 2014 FIFA World Cup?" shares words
//! with many articles (a World Cup, a year, a team), and the reader, asked to point at a span,
//! points at one. The check takes the question's *constraints* (years, other numbers, and
//! names, as `question::names` reads them) and refuses a candidate whose cited sentence and
//! article mention one of them nowhere. A year after the article's publication gets its own
//! reason: an article cannot report what happened after it was written.

use serde::Serialize;

/// Something a question names that its answer's article must mention (read by
/// `question::names`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Constraint {
    /// A year, e.g. 2014.
    Year(i32),
    /// A decade, by its first year ("the 1990s": 1990).
    Decade(i32),
    /// Another number, as written (e.g. "3,000").
    Number(String),
    /// A name: one capitalised word or a run of them (e.g. "FIFA World Cup", "Tony Blair").
    Name(String),
}

impl Constraint {
    /// The constraint as the question wrote it.
    pub fn text(&self) -> String {
        match self {
            Constraint::Year(y) => y.to_string(),
            Constraint::Decade(d) => format!("the {d}s"),
            Constraint::Number(n) | Constraint::Name(n) => n.clone(),
        }
    }
}

/// Why the engine gave no answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Abstention {
    /// The message asks nothing ("thanks!", "lol").
    NotAQuestion,
    /// There are no articles to answer from yet.
    NoArticles,
    /// No article came close to the question.
    NothingRelevant,
    /// A yes/no question that no sentence of the articles decides.
    Undecided {
        /// The best sentence's support.
        score: f32,
    },
    /// Candidates were found, but none was likely enough to be right.
    LowConfidence {
        /// The best candidate's confidence.
        score: f32,
    },
    /// The likely answers' articles never mention something the question names.
    NotMentioned {
        /// What the question names, as written.
        term: String,
    },
    /// The question asks about a year after the likely answers' article was published.
    AfterPublication {
        /// The year the question names.
        year: i32,
        /// The year the article was published.
        published: i32,
    },
}

impl Abstention {
    /// The reason's name, as `ask --json` gives it in `kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            Abstention::NotAQuestion => "not_a_question",
            Abstention::NoArticles => "no_articles",
            Abstention::NothingRelevant => "nothing_relevant",
            Abstention::Undecided { .. } => "undecided",
            Abstention::LowConfidence { .. } => "low_confidence",
            Abstention::NotMentioned { .. } => "not_mentioned",
            Abstention::AfterPublication { .. } => "after_publication",
        }
    }

    /// The reason as one short sentence when it is more specific than "nothing likely
    /// enough was found".
    pub fn specific_message(&self) -> Option<String> {
        match self {
            Abstention::NothingRelevant | Abstention::LowConfidence { .. } => None,
            _ => Some(self.message()),
        }
    }

    /// One short sentence for users.
    pub fn message(&self) -> String {
        match self {
            Abstention::NotAQuestion => {
                "Ask me a question about the articles, and I'll answer with the sentence the \
                 answer comes from."
                    .to_owned()
            }
            Abstention::NoArticles => "There are no articles to answer from yet.".to_owned(),
            Abstention::Undecided { .. } => {
                "I found nothing in the articles that says whether that is so.".to_owned()
            }
            Abstention::NothingRelevant | Abstention::LowConfidence { .. } => {
                crate::engine::ABSTAIN_MESSAGE.to_owned()
            }
            Abstention::NotMentioned { term } => {
                format!("I found nothing about {term} in the articles.")
            }
            Abstention::AfterPublication { year, published } => format!(
                "The closest article is from {published}; it cannot say what happened in {year}."
            ),
        }
    }
}

/// The first year named in a date as written ("2005-03-14", "14 March 2005", "Mon, 14 Mar 2005").
pub fn year_of(date: &str) -> Option<i32> {
    years_in(date).next()
}

/// The years (1800 to 2100, written with four digits) named in a text, in order.
fn years_in(text: &str) -> impl Iterator<Item = i32> + '_ {
    text.split(|c: char| !c.is_ascii_digit())
        .filter(|d| d.len() == 4)
        .filter_map(|d| d.parse::<i32>().ok())
        .filter(|y| (1800..=2100).contains(y))
}

/// What the check knows of a candidate's article besides its text.
#[derive(Debug, Clone, Copy, Default)]
pub struct ArticleTime {
    /// The year it was published, when it has a date.
    pub published: Option<i32>,
    /// The latest year its text mentions (for articles without a date).
    pub latest_mentioned: Option<i32>,
    /// Years after the latest one an undated article mentions that it may still be about
    /// without naming them (`[answer] undated_year_slack`).
    pub slack: i32,
}

/// Checks one candidate. `held` says whether its article mentions a phrase, `anywhere`
/// whether any article does. Returns the first unmet constraint.
///
/// A year the article does not mention is still met when the article is about its own time:
/// its publication year or the year before; for an undated article, the latest year it
/// mentions, from the year before to `slack` years after. A year after the
/// publication date is `AfterPublication`; an undated article that mentions no year at all
/// only needs some article to mention it.
pub fn check(
    constraints: &[Constraint],
    time: ArticleTime,
    mut held: impl FnMut(&str) -> bool,
    mut anywhere: impl FnMut(&str) -> bool,
) -> Option<Abstention> {
    for c in constraints {
        let met = match c {
            Constraint::Name(name) => {
                // A run of names is met by the whole run, or by each of its words somewhere
                // ("Tony Blair" by "Mr Blair ... Tony Blair's government"); a nationality by
                // its country ("Scottish" by "Scotland").
                held(name)
                    || {
                        let words: Vec<&str> = name.split(' ').collect();
                        words.len() > 1 && words.iter().all(|w| held(w))
                    }
                    || other_names(name).is_some_and(|others| others.iter().any(|o| held(o)))
            }
            Constraint::Year(y) => {
                held(&y.to_string())
                    || match (time.published, time.latest_mentioned) {
                        (Some(p), _) => *y == p || *y == p - 1,
                        (None, Some(e)) => (e - 1..=e + time.slack).contains(y),
                        (None, None) => anywhere(&y.to_string()),
                    }
            }
            Constraint::Decade(d) => {
                // Met by the decade as written, by a year in it, or by an article written then.
                held(&format!("{d}s"))
                    || (*d..*d + 10).any(|y| held(&y.to_string()))
                    || time.published.is_some_and(|p| (*d..*d + 10).contains(&p))
            }
            Constraint::Number(n) => number_forms(n).iter().any(|form| held(form)),
        };
        if met {
            continue;
        }
        return Some(match (c, time.published) {
            (Constraint::Year(year) | Constraint::Decade(year), Some(published))
                if *year > published =>
            {
                Abstention::AfterPublication {
                    year: *year,
                    published,
                }
            }
            _ => Abstention::NotMentioned { term: c.text() },
        });
    }
    None
}

/// The ways articles write a number the question wrote one way: with or without thousands
/// separators ("3,000", "3000"), and an amount with its multiplier short or spelled out, its
/// currency sign dropped ("$5m": "5m", "5 million", "5,000,000"). The form as written first.
pub fn number_forms(written: &str) -> Vec<String> {
    let mut out = vec![written.to_owned()];
    let mut push = |form: String| {
        if !form.is_empty() && !out.contains(&form) {
            out.push(form);
        }
    };
    let bare = written.trim_start_matches(['$', '£', '€', '¥']);
    let digits_end = bare
        .find(|c: char| !(c.is_ascii_digit() || c == ',' || c == '.'))
        .unwrap_or(bare.len());
    let (number, suffix) = bare.split_at(digits_end);
    let number = number.trim_end_matches(['.', ',']);
    if !number.starts_with(|c: char| c.is_ascii_digit()) {
        return out;
    }
    let plain = number.replace(',', "");
    let (whole, fraction) = plain.split_once('.').unwrap_or((&plain, ""));
    let with_fraction = |w: String| match fraction {
        "" => w,
        f => format!("{w}.{f}"),
    };
    let grouped = with_fraction(thousands(whole));
    let (word, zeros) = match suffix.to_ascii_lowercase().as_str() {
        "" => {
            push(bare.to_owned());
            push(plain.clone());
            push(grouped);
            return out;
        }
        "k" | "thousand" => ("thousand", 3),
        "m" | "mn" | "million" => ("million", 6),
        "b" | "bn" | "billion" => ("billion", 9),
        "tn" | "trillion" => ("trillion", 12),
        _ => return out,
    };
    for n in [&plain, &grouped] {
        push(format!("{n} {word}"));
        push(format!("{n}{suffix}"));
    }
    if fraction.len() <= zeros {
        let digits = format!("{whole}{fraction}{}", "0".repeat(zeros - fraction.len()));
        let digits = digits.trim_start_matches('0');
        push(thousands(digits));
        push(digits.to_owned());
    }
    out
}

/// Digits with a comma every three from the right ("5000000": "5,000,000").
fn thousands(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The latest year named in a text.
pub fn latest_year<'a>(texts: impl IntoIterator<Item = &'a str>) -> Option<i32> {
    texts.into_iter().flat_map(years_in).max()
}

/// Whether a name is written as an acronym ("NFL", "UEFA").
pub fn is_acronym(name: &str) -> bool {
    (2..=6).contains(&name.len()) && name.chars().all(|c| c.is_ascii_uppercase())
}

/// Whether the texts spell an acronym out: consecutive capitalised words whose initials
/// make it, small words such as "of" and "and" skipped ("National Football League" for
/// "NFL", "Union of European Football Associations" for "UEFA").
pub fn spells_out<'a>(texts: impl IntoIterator<Item = &'a str>, acronym: &str) -> bool {
    const SKIP: &[&str] = &["of", "and", "for", "the", "de", "&"];
    let letters: Vec<char> = acronym.chars().collect();
    texts.into_iter().any(|text| {
        let words: Vec<&str> = text
            .split(|c: char| c.is_whitespace() || c == '-')
            .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric() && c != '&'))
            .filter(|w| !w.is_empty())
            .collect();
        (0..words.len()).any(|start| {
            let mut k = 0;
            for w in &words[start..] {
                if k == letters.len() {
                    break;
                }
                let first = w.chars().next().unwrap_or(' ');
                if first.is_uppercase() && first.to_ascii_uppercase() == letters[k] {
                    k += 1;
                } else if k == 0 || !SKIP.contains(w) {
                    break;
                }
            }
            k == letters.len()
        })
    })
}

/// Other ways articles write a name: a nationality's country, a country's short names,
/// a few abbreviations everyone writes out.
fn other_names(name: &str) -> Option<&'static [&'static str]> {
    const OTHER_NAMES: &[(&str, &[&str])] = &[
        ("US", &["United States", "America"]),
        ("USA", &["United States", "America", "US"]),
        ("United States", &["US", "America"]),
        ("America", &["US", "United States"]),
        ("UK", &["Britain", "United Kingdom"]),
        ("Britain", &["UK", "United Kingdom"]),
        ("United Kingdom", &["UK", "Britain"]),
        ("EU", &["European Union"]),
        ("European Union", &["EU"]),
        ("UN", &["United Nations"]),
        ("United Nations", &["UN"]),
        ("TV", &["television"]),
        ("American", &["America", "US", "United States"]),
        ("British", &["Britain", "UK", "United Kingdom"]),
        ("English", &["England"]),
        ("Scottish", &["Scotland"]),
        ("Welsh", &["Wales"]),
        ("Irish", &["Ireland"]),
        ("French", &["France"]),
        ("German", &["Germany"]),
        ("Dutch", &["Netherlands", "Holland"]),
        ("Spanish", &["Spain"]),
        ("Italian", &["Italy"]),
        ("Portuguese", &["Portugal"]),
        ("Greek", &["Greece"]),
        ("Swiss", &["Switzerland"]),
        ("Swedish", &["Sweden"]),
        ("Danish", &["Denmark"]),
        ("Norwegian", &["Norway"]),
        ("Finnish", &["Finland"]),
        ("Polish", &["Poland"]),
        ("Belgian", &["Belgium"]),
        ("Austrian", &["Austria"]),
        ("Russian", &["Russia"]),
        ("Ukrainian", &["Ukraine"]),
        ("Turkish", &["Turkey"]),
        ("European", &["Europe", "EU"]),
        ("Chinese", &["China"]),
        ("Japanese", &["Japan"]),
        ("Korean", &["Korea"]),
        ("Indian", &["India"]),
        ("Pakistani", &["Pakistan"]),
        ("Thai", &["Thailand"]),
        ("Indonesian", &["Indonesia"]),
        ("Australian", &["Australia"]),
        ("Canadian", &["Canada"]),
        ("Mexican", &["Mexico"]),
        ("Brazilian", &["Brazil"]),
        ("Argentine", &["Argentina"]),
        ("Argentinian", &["Argentina"]),
        ("African", &["Africa"]),
        ("Asian", &["Asia"]),
        ("Israeli", &["Israel"]),
        ("Palestinian", &["Palestine"]),
        ("Iraqi", &["Iraq"]),
        ("Iranian", &["Iran"]),
        ("Egyptian", &["Egypt"]),
        ("Saudi", &["Saudi Arabia"]),
        ("Afghan", &["Afghanistan"]),
        ("Kenyan", &["Kenya"]),
        ("Nigerian", &["Nigeria"]),
    ];
    // Typed in lower case in a chat ("thai", "us"), a name still has its other names.
    OTHER_NAMES
        .iter()
        .find(|(written, _)| *written == name || written.to_lowercase() == name)
        .map(|(_, others)| *others)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a question names, read without articles (only its capitals tell).
    fn constraints(q: &str) -> Vec<Constraint> {
        use crate::question::names::{self, Names, NoArticles};
        names::constraints(q, &Names::new(&NoArticles), false)
    }

    #[test]
    fn a_decade_is_met_by_any_year_in_it_and_a_number_by_the_ways_it_is_written() {
        let time = ArticleTime::default();
        let held_in = |text: &'static str| {
            move |phrase: &str| text.split(' ').any(|w| w == phrase) || text.contains(phrase)
        };
        let nowhere = |_: &str| false;
        // Issue 33 (15): "the 1990s" is not the term "1990".
        assert_eq!(
            check(
                &[Constraint::Decade(1990)],
                time,
                held_in("sales peaked in 1994"),
                nowhere
            ),
            None
        );
        assert!(check(
            &[Constraint::Decade(1990)],
            time,
            held_in("sales peaked in 1989"),
            nowhere
        )
        .is_some());
        for (asked, written) in [
            ("3,000", "about 3000 people"),
            ("3000", "about 3,000 people"),
            ("$5m", "a 5 million dollar deal"),
            ("£5m", "cost 5m pounds"),
            ("$5m", "cost $5,000,000 in all"),
            ("2.5bn", "2.5 billion euros"),
        ] {
            assert_eq!(
                check(
                    &[Constraint::Number(asked.into())],
                    time,
                    held_in(written),
                    nowhere
                ),
                None,
                "{asked} in {written:?}: {:?}",
                number_forms(asked)
            );
        }
        assert!(check(
            &[Constraint::Number("3,000".into())],
            time,
            held_in("about 300 people"),
            nowhere
        )
        .is_some());
    }

    #[test]
    fn an_acronym_is_met_by_the_words_it_stands_for() {
        let text = [
            "The National Football League said so.",
            "The Union of European Football Associations agreed.",
        ];
        assert!(is_acronym("NFL") && is_acronym("UEFA") && !is_acronym("Nfl"));
        assert!(spells_out(text, "NFL"));
        assert!(spells_out(text, "UEFA"));
        assert!(!spells_out(text, "NBA"));
        assert!(!spells_out(["the national football league"], "NFL"));
        // Small words are skipped inside the run only, never before it.
        assert!(!spells_out(["of Football League"], "OFL"));
    }

    fn dated(year: i32) -> ArticleTime {
        ArticleTime {
            published: Some(year),
            latest_mentioned: None,
            slack: 2,
        }
    }

    fn undated(latest: Option<i32>) -> ArticleTime {
        ArticleTime {
            published: None,
            latest_mentioned: latest,
            slack: 2,
        }
    }

    #[test]
    fn a_country_is_met_by_its_other_names() {
        let c = constraints("Which US regulators must approve it?");
        let t = undated(None);
        assert_eq!(check(&c, t, |p| p == "United States", |_| false), None);
        assert!(check(&c, t, |p| p == "Europe", |_| false).is_some());
    }

    #[test]
    fn a_year_after_publication_that_the_article_never_mentions_is_refused() {
        let c = constraints("Who won the 2014 World Cup?");
        let held = |p: &str| p == "World Cup";
        let nowhere = |_: &str| false;
        assert_eq!(
            check(&c, dated(2005), held, nowhere),
            Some(Abstention::AfterPublication {
                year: 2014,
                published: 2005
            })
        );
        // Without a date, the latest year the article mentions stands in for it.
        assert_eq!(
            check(&c, undated(Some(2004)), held, nowhere),
            Some(Abstention::NotMentioned {
                term: "2014".into()
            })
        );
        // An article that mentions the year (a plan for 2014, say) passes.
        assert_eq!(check(&c, dated(2005), |_| true, nowhere), None);
    }

    #[test]
    fn an_article_about_its_own_year_need_not_name_it() {
        let c = constraints("Who hosted the 2004 Billboard awards?");
        let held = |p: &str| p == "Billboard";
        assert_eq!(check(&c, dated(2004), held, |_| false), None);
        assert_eq!(check(&c, dated(2005), held, |_| false), None);
        assert_eq!(check(&c, undated(Some(2003)), held, |_| false), None);
        // An older year that the article never names is another story.
        let c = constraints("What were the Billboard profits in 1997?");
        assert!(check(&c, dated(2004), held, |_| false).is_some());
        // An undated article without any year: met if some article names the year.
        assert_eq!(check(&c, undated(None), held, |p| p == "1997"), None);
        assert!(check(&c, undated(None), held, |_| false).is_some());
    }

    #[test]
    fn a_name_is_met_by_the_whole_run_by_each_word_or_by_its_country() {
        let c = constraints("When did Tony Blair visit Sudan?");
        let none = |_: &str| false;
        let t = undated(None);
        assert_eq!(
            check(&c, t, |p| ["Blair", "Tony", "Sudan"].contains(&p), none),
            None
        );
        assert_eq!(
            check(&c, t, |p| ["Blair", "Sudan"].contains(&p), none),
            Some(Abstention::NotMentioned {
                term: "Tony Blair".into()
            })
        );
        let c = constraints("Which Thai minister spoke?");
        assert_eq!(check(&c, t, |p| p == "Thailand", none), None);
    }

    #[test]
    fn dates_give_their_year() {
        assert_eq!(year_of("2005-03-14T10:00:00Z"), Some(2005));
        assert_eq!(year_of("Mon, 14 Mar 2005 10:00:00 GMT"), Some(2005));
        assert_eq!(year_of("14 March"), None);
    }

    #[test]
    fn the_kind_of_a_reason_is_its_json_tag() {
        let reasons = [
            Abstention::NotAQuestion,
            Abstention::NoArticles,
            Abstention::Undecided { score: 0.2 },
            Abstention::NothingRelevant,
            Abstention::LowConfidence { score: 0.05 },
            Abstention::NotMentioned { term: "x".into() },
            Abstention::AfterPublication {
                year: 2014,
                published: 2005,
            },
        ];
        for r in reasons {
            assert_eq!(serde_json::to_value(&r).unwrap()["kind"], r.kind());
        }
    }

    #[test]
    fn reasons_read_as_one_short_sentence() {
        assert_eq!(
            Abstention::NotMentioned {
                term: "2016".into()
            }
            .message(),
            "I found nothing about 2016 in the articles."
        );
    }

    proptest::proptest! {
        /// Question analysis on arbitrary text: no panic; every constraint is non-empty
        /// text, appears once, and its phrase checks run without a panic either.
        #[test]
        fn any_question_is_analysed_without_a_panic(
            question in proptest::prelude::prop_oneof![
                proptest::prelude::any::<String>(),
                "\\PC{0,120}",
                "([A-Z][a-z]{0,6}|[0-9,.]{1,6}|'s|\\PC| ){0,30}",
            ],
        ) {
            let found = constraints(&question);
            for (i, c) in found.iter().enumerate() {
                proptest::prop_assert!(!c.text().is_empty());
                proptest::prop_assert!(!found[..i].contains(c));
            }
            let time = ArticleTime { published: year_of(&question), latest_mentioned: latest_year([question.as_str()]), slack: 1 };
            let _ = check(&found, time, |p| question.contains(p), |_| false);
        }
    }
}
