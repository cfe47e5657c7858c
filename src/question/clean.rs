//! A chat message made into the question it asks.
//!
//! Members write "hey, anyone know which agency is exempted? thanks!". The question is the
//! part from its question word ("which") or, for a yes/no question, its auxiliary ("is")
//! on; what comes before it and after it is kept only where it carries something the
//! articles could hold: a number or a name ([`Names::is_content`]). So greetings, hedges and
//! tails are recognised by their place and their emptiness, not by a list of them, and a
//! preamble that does carry content ("In 2004, who won?", "The order was issued by whom?")
//! stays.

use super::grammar::{
    self, AUXILIARIES, DETERMINERS, EMBEDDED_YES_NO, PREPOSITIONS, SUBJECT_STARTERS,
};
use super::names::Names;

/// What kind of message it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Form {
    /// An open question ("who issued the order?"), or words to look up ("Hegseth order").
    Open,
    /// A yes/no question ("Is the NSA exempted?", "the deal was signed?").
    YesNo,
    /// No question at all ("thanks!", "lol"): a short message without a question word, a
    /// question mark, a number or a name.
    Chatter,
}

/// The message read as a question.
#[derive(Debug, Clone, PartialEq)]
pub struct Cleaned {
    /// The question, without what only surrounded it.
    pub text: String,
    pub form: Form,
}

/// Longest preamble, in words, taken off in front of a question word with no punctuation
/// between ("does anyone know who ...").
const MAX_PREAMBLE: usize = 6;
/// Longest message, in words, that can be chatter.
const MAX_CHATTER: usize = 4;

/// One word of the message, with where it sits.
#[derive(Debug, Clone)]
struct Token {
    /// The word's letters and digits (inner punctuation such as "Kohl's" or "U.S" kept).
    start: usize,
    end: usize,
    /// Its end with trailing punctuation.
    raw_end: usize,
    /// A clause or sentence ends after it.
    ends_segment: bool,
    /// A sentence ends after it (".", "!", "?", ";"), not only a clause.
    ends_sentence: bool,
    /// It opens the message or a sentence of it: a capital there says nothing.
    opens: bool,
}

/// How strongly a segment asks: an open question beats a yes/no question, which beats a
/// clause after "if" ("sorry if this was asked, but who ...").
fn strength(head: &Option<Head>) -> u8 {
    match head {
        None => 0,
        Some(Head { embedded: true, .. }) => 1,
        Some(Head {
            form: Form::YesNo, ..
        }) => 2,
        Some(_) => 3,
    }
}

/// Reads a message (already [`super::normalize`]d) as a question.
pub fn clean(message: &str, names: &Names) -> Cleaned {
    let message = plain_chat(message);
    let tokens = tokenize(&message);
    let all_lower = !message.chars().any(char::is_uppercase);
    let asks = message.contains('?');
    let word = |t: &Token| &message[t.start..t.end];
    let lower: Vec<String> = tokens.iter().map(|t| word(t).to_lowercase()).collect();
    // "The name of the game is?": a statement left open at its verb asks for what is missing.
    let ends_open = lower.last().is_some_and(|w| grammar::is(AUXILIARIES, w));
    let wh_anywhere = lower
        .iter()
        .any(|w| grammar::question_word(w, |w| names.knows(w)).is_some());
    // A sentence of `words` words that asks without a question word is a yes/no question
    // ("the deal was signed by Hegseth?").
    let asks_yes_or_no = |words: usize| asks && words >= 3 && !wh_anywhere && !ends_open;
    let segments: Vec<std::ops::Range<usize>> = {
        let mut out = Vec::new();
        let mut from = 0;
        for (i, t) in tokens.iter().enumerate() {
            if t.ends_segment || i + 1 == tokens.len() {
                out.push(from..i + 1);
                from = i + 1;
            }
        }
        out
    };
    // Whether words carry content. Before the question only names typed with a capital
    // count: a chat word the articles happen to capitalise ("ok" for "OK", "hey" for "Hey
    // Jude") typed in lower case in front of a question is a preamble, not a topic.
    let content = |range: std::ops::Range<usize>, lower_case_names: bool| {
        tokens[range]
            .iter()
            .any(|t| names.is_content(word(t), t.opens, all_lower && lower_case_names))
    };
    let heads: Vec<Option<Head>> = segments
        .iter()
        .map(|r| {
            head(&lower[r.clone()], names, &|k: std::ops::Range<usize>, l| {
                content(r.start + k.start..r.start + k.end, l)
            })
        })
        .collect();
    // "Hey!", "OK,", "Guys,": a word or two on their own in front, with an exclamation mark or
    // a comma, address someone or exclaim; a name there is whom the member talks to.
    let vocative = |r: &std::ops::Range<usize>| {
        let last = &tokens[r.end - 1];
        r.len() <= 2
            && message[last.end..last.raw_end].contains(['!', ','])
            && !tokens[r.clone()]
                .iter()
                .any(|t| word(t).chars().any(|c| c.is_ascii_digit()))
    };
    // The segment that asks most; among equals the first ending in "?", else the first.
    let best = heads.iter().map(strength).max().unwrap_or(0);
    let asking = (0..segments.len())
        .filter(|&i| best > 0 && strength(&heads[i]) == best)
        .max_by_key(|&i| {
            let last = &tokens[segments[i].end - 1];
            (
                message[last.end..last.raw_end].contains('?'),
                std::cmp::Reverse(i),
            )
        });
    let Some(q) =
        asking.or_else(|| (0..segments.len()).find(|&i| content(segments[i].clone(), true)))
    else {
        let form = if asks_yes_or_no(tokens.len()) {
            Form::YesNo
        } else if asks || tokens.len() > MAX_CHATTER {
            Form::Open
        } else {
            Form::Chatter
        };
        return Cleaned {
            text: message.trim().to_owned(),
            form,
        };
    };
    let head = heads[q].unwrap_or(Head {
        at: 0,
        form: if asks_yes_or_no(segments[q].len()) {
            Form::YesNo
        } else {
            Form::Open
        },
        typo: None,
        embedded: false,
    });
    // Content before the question stays ("Quick question about Hegseth: who signed it?"),
    // unless it only addresses someone; the rest of the question's segment is the question;
    // what follows it is kept as below. Each kept piece: its first token, a mistyped question
    // word in it, its last token.
    let mut pieces: Vec<(usize, Option<Typo>, usize)> = Vec::new();
    for (i, r) in segments.iter().enumerate() {
        let keep = match i.cmp(&q) {
            std::cmp::Ordering::Less => content(r.clone(), false) && !(i == 0 && vocative(r)),
            std::cmp::Ordering::Equal => true,
            // After a sentence ends ("...? thanks!"), what asks nothing and names nothing
            // goes; after a comma or a dash only a single word does (", anyone?"): a longer
            // clause there goes on with the question (", some apps and media players?").
            std::cmp::Ordering::Greater => {
                let after_sentence = tokens[r.start - 1].ends_sentence;
                heads[i].is_some() || content(r.clone(), true) || !(after_sentence || r.len() == 1)
            }
        };
        if keep {
            let from = if i == q { r.start + head.at } else { r.start };
            let typo = head
                .typo
                .filter(|_| i == q)
                .map(|(k, w)| (r.start + k, w))
                .filter(|&(k, _)| k >= from);
            pieces.push((from, typo, r.end - 1));
        }
    }
    let mut text = String::new();
    for &(from, typo, to) in &pieces {
        if !text.is_empty() {
            text.push(' ');
        }
        let (first, last) = (&tokens[from], &tokens[to]);
        match typo {
            // A mistyped question word is written as the word ("wich" -> "which").
            Some((k, w)) => {
                let typed = &tokens[k];
                text.push_str(&message[first.start..typed.start]);
                if word(typed).chars().next().is_some_and(char::is_uppercase) {
                    let mut c = w.chars();
                    text.extend(c.next().map(|c| c.to_ascii_uppercase()));
                    text.push_str(c.as_str());
                } else {
                    text.push_str(w);
                }
                text.push_str(&message[typed.end..last.raw_end]);
            }
            None => text.push_str(&message[first.start..last.raw_end]),
        }
    }
    let kept = text.trim_end_matches(|c: char| !c.is_alphanumeric() && !matches!(c, '"' | ')'));
    text.truncate(kept.len());
    if asks {
        text.push('?');
    }
    Cleaned {
        text,
        form: head.form,
    }
}

/// A mistyped question word: its token and the word it stands for.
type Typo = (usize, &'static str);

/// Where the question of a segment starts, and what it is.
#[derive(Debug, Clone, Copy)]
struct Head {
    /// Token index within the segment.
    at: usize,
    form: Form,
    /// A mistyped question word (its token index within the segment).
    typo: Option<Typo>,
    /// A yes/no clause after "if" or "whether".
    embedded: bool,
}

/// The question a segment (its words in lower case) asks, if it asks one: a question word
/// (after at most a short preamble without content), an auxiliary opening it (or after
/// such a preamble, with a subject after it), or a clause after "if"/"whether" after one.
fn head(
    lower: &[String],
    names: &Names,
    content: &dyn Fn(std::ops::Range<usize>, bool) -> bool,
) -> Option<Head> {
    let n = lower.len();
    // A preamble before position k can go: no content, short, not starting with a
    // determiner ("the man who ..." is no preamble), not ending in a preposition that
    // belongs to the question ("by whom"), and followed by at least two more words (the
    // question word of "the order was issued when?" stays where it is).
    let preamble = |k: usize| {
        k <= MAX_PREAMBLE
            && n >= k + 3
            && !content(0..k, false)
            && !grammar::is(DETERMINERS, &lower[0])
            && !grammar::is(PREPOSITIONS, &lower[k - 1])
    };
    let found = |at, form| {
        Some(Head {
            at,
            form,
            typo: None,
            embedded: false,
        })
    };
    if let Some(k) = lower
        .iter()
        .position(|w| grammar::question_word(w, |w| names.knows(w)).is_some())
    {
        let typed = &lower[k];
        // "what's" is no mistyping of "what".
        let base = typed.split(['\'', '\u{2019}']).next().unwrap_or(typed);
        let typo = grammar::question_word(typed, |w| names.knows(w))
            .filter(|w| *w != base)
            .map(|w| (k, w));
        // A question word the preamble cannot be cut from ("Yukos owed how much?", "by
        // whom") still makes the whole segment an open question; after an auxiliary that
        // opens it, it only starts a clause of a yes/no question ("Did the film take £7m
        // when it opened?").
        // A preposition before the question word goes with it ("yo by what score ...").
        let k_head = if k > 0 && grammar::is(PREPOSITIONS, &lower[k - 1]) {
            k - 1
        } else {
            k
        };
        let at = if k_head > 0 && preamble(k_head) {
            k_head
        } else {
            0
        };
        // "... is located where?": a question word at the end asks where it stands.
        let in_place = k + 2 >= n;
        if k_head == 0 || at == k_head || in_place || !grammar::is(AUXILIARIES, &lower[0]) {
            return Some(Head {
                at,
                form: Form::Open,
                typo,
                embedded: false,
            });
        }
    }
    // "Was it Hegseth or Trump?" asks which, not yes or no.
    let yes_no = if lower.iter().any(|w| w == "or") {
        Form::Open
    } else {
        Form::YesNo
    };
    if n >= 2 && grammar::is(AUXILIARIES, &lower[0]) {
        return found(0, yes_no);
    }
    for k in 1..n.min(MAX_PREAMBLE + 1) {
        // "hey is the nsa exempted": an auxiliary after a preamble, a subject after it.
        if grammar::is(AUXILIARIES, &lower[k])
            && preamble(k)
            && (grammar::is(SUBJECT_STARTERS, &lower[k + 1]) || content(k + 1..k + 2, true))
        {
            return found(k, yes_no);
        }
        // "anyone know if the deal was signed": the clause after "if" is the question.
        if grammar::is(EMBEDDED_YES_NO, &lower[k]) && preamble(k) {
            return Some(Head {
                at: k + 1,
                form: Form::YesNo,
                typo: None,
                embedded: true,
            });
        }
    }
    None
}

/// The message without what is not words: emoji, emoticons (":)", ":-D", "<3"), @mentions,
/// and runs of question and exclamation marks ("??", "?!") read as one. A clause ends where
/// an emoji, an emoticon or a mention stood.
fn plain_chat(message: &str) -> String {
    const BREAK: char = '\u{1f}';
    let spaced: String = message
        .chars()
        // Question marks of other scripts ask too (Arabic "؟", fullwidth "？").
        .map(|c| match c {
            '\u{061f}' | '\u{ff1f}' | '\u{037e}' | '\u{2e2e}' => '?',
            c => c,
        })
        .flat_map(|c| {
            if is_pictograph(c) {
                [' ', BREAK, ' ']
            } else {
                [c, '\0', '\0']
            }
        })
        .filter(|&c| c != '\0')
        .collect();
    let mut out = String::with_capacity(spaced.len());
    for raw in spaced.split_whitespace() {
        let mention = raw.starts_with('@') && raw.len() > 1;
        if mention || raw.chars().all(|c| c == BREAK) || is_emoticon(raw) {
            if !out.is_empty() && !out.ends_with([',', '.', '!', '?', ';', ':']) {
                out.push(',');
            }
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        let mut last = None;
        for c in raw.chars() {
            if c == BREAK {
                continue;
            }
            if matches!(c, '?' | '!') && matches!(last, Some('?' | '!')) {
                // "?!" and "!?" ask.
                if c == '?' && out.ends_with('!') {
                    out.pop();
                    out.push('?');
                }
                continue;
            }
            out.push(c);
            last = Some(c);
        }
    }
    out
}

/// Emoji and other pictographs, their modifiers and joiners.
fn is_pictograph(c: char) -> bool {
    matches!(c as u32,
        0x1F000..=0x1FAFF
        | 0x2600..=0x27BF
        | 0x2B00..=0x2BFF
        | 0x2190..=0x21FF
        | 0x2300..=0x23FF
        | 0x25A0..=0x25FF
        | 0xFE00..=0xFE0F
        | 0xE0020..=0xE007F
        | 0x200D
        | 0x20E3)
}

/// ":)", ";-)", ":D", ":P", "xD", "XD", "=)", "<3", ":'(", "^^", "^_^".
fn is_emoticon(token: &str) -> bool {
    let t = token.trim_end_matches([',', '.', '!', '?']);
    if t.is_empty() || t.len() > 5 {
        return false;
    }
    if t.chars().all(|c| matches!(c, '<' | '3')) && t.starts_with('<') && t.len() >= 2 {
        return true;
    }
    if t.chars().all(|c| matches!(c, '^' | '_' | '-' | '.')) && t.contains('^') {
        return true;
    }
    if t.eq_ignore_ascii_case("xd") {
        return true;
    }
    let mut chars = t.chars();
    let eyes = chars.next();
    let rest: String = chars.collect();
    let rest = rest.trim_start_matches(['-', '\'', '^', 'o']);
    matches!(eyes, Some(':' | ';' | '='))
        && !rest.is_empty()
        && rest.chars().all(|c| {
            matches!(
                c,
                ')' | '('
                    | 'D'
                    | 'P'
                    | 'p'
                    | 'O'
                    | 'o'
                    | '3'
                    | '/'
                    | '\\'
                    | '|'
                    | ']'
                    | '['
                    | '*'
                    | 'S'
                    | 's'
            )
        })
}

/// The message's words, each with whether a clause ends after it (",", ".", "!", "?", ";",
/// ":", "…", or a dash standing alone) and whether it opens a sentence.
fn tokenize(message: &str) -> Vec<Token> {
    let mut out: Vec<Token> = Vec::new();
    let mut at = 0;
    let mut opens = true;
    for raw in message.split(' ') {
        let start_raw = at;
        at += raw.len() + 1;
        if raw.is_empty() {
            continue;
        }
        let Some(core_start) = raw.find(char::is_alphanumeric) else {
            // Punctuation standing alone ("-", "—", "...") ends the clause before it.
            if let Some(prev) = out.last_mut() {
                prev.ends_segment = true;
                prev.ends_sentence |= raw.contains(['.', '!', '?', ';', '\u{2026}']);
            }
            opens |= raw.contains(['.', '!', '?', ':', ';']);
            continue;
        };
        let core_end = raw
            .char_indices()
            .rev()
            .find(|(_, c)| c.is_alphanumeric())
            .map_or(raw.len(), |(i, c)| i + c.len_utf8());
        let trail = &raw[core_end..];
        let core = &raw[core_start..core_end];
        let ends_segment = trail.contains([',', '.', '!', '?', ';', ':', '\u{2026}', '-'])
            && !is_abbreviation(core, trail);
        let ends_sentence = ends_segment && trail.contains(['.', '!', '?', ';', '\u{2026}']);
        out.push(Token {
            start: start_raw + core_start,
            end: start_raw + core_end,
            raw_end: start_raw + raw.len(),
            ends_segment,
            ends_sentence,
            opens,
        });
        // After a colon a title or a list may go on ("X-Men: Apocalypse"): no new sentence.
        opens = ends_sentence;
    }
    out
}

/// "U.S.", "Mr.", "St.": a full stop that ends an abbreviation, not a clause.
fn is_abbreviation(core: &str, trail: &str) -> bool {
    trail == "."
        && (core.contains('.')
            || (core.chars().count() <= 2 && core.chars().next().is_some_and(char::is_uppercase)))
}

#[cfg(test)]
mod tests {
    use super::super::names::tests::Text;
    use super::*;

    const NEWS: &str = "The order was issued by new defense secretary Pete Hegseth, with the \
        NSA specifically exempted. He made a quick decision, and anyone could see which way it \
        went. The Cyber National Mission Force paused, said the NSA. She asked a question, and \
        no one knew it. Mr Hegseth and the NSA did not comment, said the PSP makers in Japan.";

    fn read(message: &str) -> (String, Form) {
        let lexicon = Text(NEWS);
        let names = Names::new(&lexicon);
        let c = clean(&super::super::normalize(message), &names);
        (c.text, c.form)
    }

    fn text(message: &str) -> String {
        read(message).0
    }

    #[test]
    fn greetings_hedges_and_fillers_in_front_go() {
        for m in [
            "Hey, who issued the order?",
            "hey who issued the order",
            "Quick question: who issued the order?",
            "Hey! Quick question. Who issued the order?",
            "sorry if this was asked already, but who issued the order?",
            "does anyone know who issued the order",
            "Anyone know who issued the order?",
            "@newsqa who issued the order?",
            "yo, who issued the order??",
        ] {
            assert_eq!(
                text(m).to_lowercase().trim_end_matches('?'),
                "who issued the order",
                "{m}"
            );
        }
        assert_eq!(
            text("Anyone know which agency is exempted?"),
            "which agency is exempted?"
        );
        assert_eq!(
            text("Hey, when will the PSP go on sale in Japan?"),
            "when will the PSP go on sale in Japan?"
        );
    }

    #[test]
    fn tails_behind_the_question_go() {
        for m in [
            "who issued the order? thanks!",
            "who issued the order?? lol",
            "who issued the order, anyone?",
            "who issued the order?!",
            "who issued the order 🙂 anyone?",
        ] {
            assert_eq!(text(m), "who issued the order?", "{m}");
        }
        for m in ["who issued the order 🙂", "who issued the order :) cheers"] {
            assert_eq!(text(m), "who issued the order", "{m}");
        }
    }

    #[test]
    fn what_carries_content_stays() {
        assert_eq!(
            text("In 2004, who won the cup?"),
            "In 2004, who won the cup?"
        );
        assert_eq!(
            text("The order was issued by whom?"),
            "The order was issued by whom?"
        );
        assert_eq!(
            text("In which year was it issued?"),
            "In which year was it issued?"
        );
        assert_eq!(
            text("Quick question about Hegseth: who signed it?"),
            "Quick question about Hegseth: who signed it?"
        );
        assert_eq!(
            text("who issued the order, Hegseth or the NSA?"),
            "who issued the order, Hegseth or the NSA?"
        );
        assert_eq!(text("Hegseth issued what?"), "Hegseth issued what?");
        assert_eq!(
            text("yo by what score did it pass"),
            "by what score did it pass"
        );
        assert_eq!(
            text("What did it show on its website, some apps and media players?"),
            "What did it show on its website, some apps and media players?"
        );
        assert_eq!(
            text("Who paid for a trailer of X-Men: Apocalypse?"),
            "Who paid for a trailer of X-Men: Apocalypse?"
        );
        // A name set off by commas is only someone addressed at the start of a message.
        assert_eq!(
            text("The commentators include, Pete Hegseth, Rocky Boiman and who else?"),
            "Pete Hegseth, Rocky Boiman and who else?"
        );
    }

    #[test]
    fn a_mistyped_question_word_is_read() {
        assert_eq!(
            text("hey wich agency is exempted"),
            "which agency is exempted"
        );
        assert_eq!(text("Waht did he ask for?"), "What did he ask for?");
        assert_eq!(
            text("in wich year was it issued"),
            "in which year was it issued"
        );
    }

    #[test]
    fn yes_no_questions_are_told_apart() {
        assert_eq!(read("Is the NSA exempted from the order?").1, Form::YesNo);
        assert_eq!(read("did hegseth issue the order").1, Form::YesNo);
        assert_eq!(
            read("hey, is the NSA exempted?"),
            ("is the NSA exempted?".into(), Form::YesNo)
        );
        assert_eq!(
            read("hey is the NSA exempted"),
            ("is the NSA exempted".into(), Form::YesNo)
        );
        assert_eq!(
            read("anyone know if the NSA is exempted?"),
            ("the NSA is exempted?".into(), Form::YesNo)
        );
        assert_eq!(read("the order was issued by Hegseth?").1, Form::YesNo);
        assert_eq!(
            read("Did Hegseth issue the order when the deal was signed?").1,
            Form::YesNo
        );
        assert_eq!(
            read("One of the sites, the Superdome, is located where?").1,
            Form::Open
        );
        assert_eq!(
            read("The name of the NFL championship game is?").1,
            Form::Open
        );
        // Not yes/no: a choice, and a question word after "do you know".
        assert_eq!(
            read("Was it Hegseth or the NSA who issued it?").1,
            Form::Open
        );
        assert_eq!(
            read("Do you know who issued the order?"),
            ("who issued the order?".into(), Form::Open)
        );
        // A statement without a question mark, a number or a name asks nothing.
        assert_eq!(read("the order was issued").1, Form::Chatter);
        assert_eq!(read("the order was issued by Hegseth").1, Form::Open);
    }

    #[test]
    fn chatter_is_no_question() {
        for m in [
            "thanks!",
            "lol",
            "thank you so much",
            "ok cool 👍",
            "@newsqa thanks!",
            "hi",
        ] {
            assert_eq!(read(m).1, Form::Chatter, "{m}");
        }
        for m in [
            "why?",
            "Hegseth",
            "nsa",
            "2004",
            "tell me what the order says about the NSA",
        ] {
            assert_ne!(read(m).1, Form::Chatter, "{m}");
        }
    }

    #[test]
    fn emoticons_and_emoji_are_not_words() {
        for e in [":)", ";-)", ":D", "xD", "<3", ":P", "^^", "=)"] {
            assert!(is_emoticon(e), "{e}");
        }
        for w in [":", "a:", "D:", "who", "3", "<", "U.S."] {
            assert!(!is_emoticon(w), "{w}");
        }
        assert_eq!(plain_chat("what?? 🤔🤔 ok!!"), "what? ok!");
        assert_eq!(plain_chat("who 🤔 won"), "who, won");
        assert_eq!(
            plain_chat("ما هي الوكالة المستثناة؟"),
            "ما هي الوكالة المستثناة?"
        );
    }

    proptest::proptest! {
        /// Any message is read without a panic, and the question is made of its words.
        #[test]
        fn any_message_is_read_without_a_panic(
            message in proptest::prelude::prop_oneof![
                proptest::prelude::any::<String>(),
                "\\PC{0,80}",
                "((hey|who|is|the|NSA|Hegseth|lol|:\\)|[?!,.:]|\\PC)[ ]?){0,20}",
            ],
        ) {
            let lexicon = Text(NEWS);
            let names = Names::new(&lexicon);
            let normalized = super::super::normalize(&message);
            let c = clean(&normalized, &names);
            proptest::prop_assert!(c.text.len() <= normalized.len() + 2);
        }
    }
}
