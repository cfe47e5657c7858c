//! Publication dates, read from the ways sources write them, so that articles can be
//! compared by age ("prefer the newer article") and shown alike ("12 Jan 2024").

use std::fmt;

use serde::{Serialize, Serializer};

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// A calendar day. Orders by time; shows as "12 Jan 2024"; serialises as "2024-01-12".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// The year.
    pub year: i32,
    /// The month, 1 to 12.
    pub month: u8,
    /// The day of the month, from 1.
    pub day: u8,
}

impl Date {
    /// The day, when it exists ("2023-02-29" does not).
    pub fn new(year: i32, month: u8, day: u8) -> Option<Date> {
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        let days = match month {
            2 if leap => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            1..=12 => 31,
            _ => return None,
        };
        (1..=days)
            .contains(&day)
            .then_some(Date { year, month, day })
    }

    /// Reads a date as articles, pages and feeds write it: "2024-01-12" (also with a time
    /// after it, as in `article:published_time`), "Jan 12, 2024", "12 January 2024" and
    /// "Fri, 12 Jan 2024 09:00:00 GMT". `None` for anything else.
    pub fn parse(text: &str) -> Option<Date> {
        let text = text.trim();
        if let Some(d) = iso(text) {
            return Some(d);
        }
        let words: Vec<&str> = text
            .split(|c: char| c.is_whitespace() || c == ',' || c == '|')
            .filter(|w| !w.is_empty())
            .collect();
        let day = |w: &str| {
            let w = w.trim_end_matches(['.', 's', 't', 'n', 'd', 'r', 'h']);
            (w.len() <= 2).then(|| w.parse::<u8>().ok()).flatten()
        };
        let year = |w: &str| {
            let w = w.trim_end_matches('.');
            (w.len() == 4)
                .then(|| w.parse::<i32>().ok())
                .flatten()
                .filter(|y| (1800..=2200).contains(y))
        };
        for (i, w) in words.iter().enumerate() {
            let Some(month) = month(w) else { continue };
            // "Jan 12, 2024"
            if let (Some(d), Some(y)) = (
                words.get(i + 1).and_then(|w| day(w)),
                words.get(i + 2).and_then(|w| year(w)),
            ) {
                return Date::new(y, month, d);
            }
            // "12 January 2024"
            if let (Some(d), Some(y)) = (
                i.checked_sub(1).and_then(|j| day(words[j])),
                words.get(i + 1).and_then(|w| year(w)),
            ) {
                return Date::new(y, month, d);
            }
        }
        None
    }

    /// "2024-01-12".
    pub fn iso(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// "2024-01-12", at the start of `text`.
fn iso(text: &str) -> Option<Date> {
    let b = text.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' || b.get(10).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    Date::new(
        text.get(..4)?.parse().ok()?,
        text.get(5..7)?.parse().ok()?,
        text.get(8..10)?.parse().ok()?,
    )
}

/// The days of the week.
const DAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// Whether a word (in any case) is a month or a day of the week written in full: a date
/// word, not a name ("March", "Tuesday").
pub fn is_calendar_word(word: &str) -> bool {
    let w = word.to_lowercase();
    MONTHS.contains(&w.as_str()) || DAYS.contains(&w.as_str())
}

/// The month a word names: "Jan", "Jan.", "January", "Sept".
fn month(word: &str) -> Option<u8> {
    let w = word.trim_end_matches('.').to_lowercase();
    if w.len() < 3 || !w.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let m = MONTHS
        .iter()
        .position(|m| m.starts_with(&w) || (w == "sept" && *m == "september"))?;
    Some(m as u8 + 1)
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = MONTHS[usize::from(self.month - 1)];
        let mut name = m[..3].to_owned();
        name[..1].make_ascii_uppercase();
        write!(f, "{} {name} {}", self.day, self.year)
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.iso())
    }
}

#[cfg(test)]
mod tests {
    use super::Date;

    #[test]
    fn dates_are_read_as_sources_write_them() {
        let d = Date::new(2024, 1, 12).unwrap();
        for text in [
            "2024-01-12",
            "2024-01-12T09:30:00Z",
            "Jan 12, 2024",
            "January 12th, 2024",
            "12 January 2024",
            "Fri, 12 Jan 2024 09:00:00 GMT",
            "Published 12 Jan. 2024",
        ] {
            assert_eq!(Date::parse(text), Some(d), "{text}");
        }
        assert_eq!(Date::parse("Sept 3, 2025"), Date::new(2025, 9, 3));
        for text in [
            "",
            "Mayor speaks",
            "2024-13-01",
            "Feb 30, 2024",
            "20240112",
            "May 2024",
        ] {
            assert_eq!(Date::parse(text), None, "{text}");
        }
        assert_eq!(Date::parse("Feb 29, 2024"), Date::new(2024, 2, 29));
        assert_eq!(Date::parse("Feb 29, 2023"), None);
    }

    #[test]
    fn dates_order_by_time_and_show_one_way() {
        let old = Date::parse("Dec 31, 2023").unwrap();
        let new = Date::parse("2024-01-01").unwrap();
        assert!(old < new);
        assert_eq!(new.to_string(), "1 Jan 2024");
        assert_eq!(old.iso(), "2023-12-31");
        assert_eq!(serde_json::to_string(&old).unwrap(), "\"2023-12-31\"");
    }
}
