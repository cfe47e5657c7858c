//! Property tests: the sentence splitter, text and HTML extraction and the question analysis
//! never panic on arbitrary input, and what they return is well formed.
//!
//! The suite runs proptest's default 256 cases per property; `scripts/reliability.sh` runs
//! them with a longer budget (`PROPTEST_CASES`).

use newsqa_index::extract::{decode, extract, Format};
use newsqa_index::sentences::split_sentences;
use newsqa_index::{Article, ArticleIndex, Metadata, PassageConfig};
use proptest::prelude::*;
use std::sync::OnceLock;

/// Text built from the pieces that steer the splitter: words, abbreviations, initials,
/// numbers, quotes, line breaks, and a little arbitrary Unicode.
fn prose() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[A-Z][a-z]{0,8}",
        "[a-z]{1,8}",
        Just(" ".to_owned()),
        Just(". ".to_owned()),
        Just("? ".to_owned()),
        Just("! ".to_owned()),
        Just("...".to_owned()),
        Just("Mr. ".to_owned()),
        Just("U.S. ".to_owned()),
        Just("J. R. R. ".to_owned()),
        Just("3.5".to_owned()),
        Just("\"".to_owned()),
        Just("”".to_owned()),
        Just(")".to_owned()),
        Just("\n".to_owned()),
        Just("\n\n".to_owned()),
        Just("\t".to_owned()),
        Just("\u{200b}".to_owned()),
        Just("\u{2028}".to_owned()),
        Just("é".to_owned()),
        Just("מדינה".to_owned()),
        Just("🙂".to_owned()),
        "\\PC{1,3}",
    ];
    prop::collection::vec(piece, 0..80).prop_map(|v| v.concat())
}

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![prose(), any::<String>(), "\\PC{0,200}"]
}

/// Markup with the tags and entities readability looks at, nested at random.
fn html() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("<html>".to_owned()),
        Just("<head><title>T</title></head>".to_owned()),
        Just("<body>".to_owned()),
        Just("<article>".to_owned()),
        Just("</article>".to_owned()),
        Just("<div class=\"content\">".to_owned()),
        Just("</div>".to_owned()),
        Just("<p>".to_owned()),
        Just("</p>".to_owned()),
        Just("<br>".to_owned()),
        Just("<script>var x = '</p>';</script>".to_owned()),
        Just("<meta property=\"article:published_time\" content=\"2024-01-02\">".to_owned()),
        Just("<link rel=\"canonical\" href=\"https://example.com/a\">".to_owned()),
        Just("&amp;".to_owned()),
        Just("&#0;".to_owned()),
        Just("&#x1F600;".to_owned()),
        Just("<!--".to_owned()),
        Just("-->".to_owned()),
        Just("<![CDATA[".to_owned()),
        Just("<".to_owned()),
        Just(">".to_owned()),
        prose(),
    ];
    prop::collection::vec(piece, 0..60).prop_map(|v| format!("<!doctype html>{}", v.concat()))
}

/// Checks what the splitter promises: trimmed, non-empty ranges on char boundaries, in
/// order and apart, that cover every character of the text that is not whitespace.
fn check_sentences(text: &str) -> Result<(), TestCaseError> {
    let ranges = split_sentences(text);
    let mut end = 0;
    for r in &ranges {
        prop_assert!(r.start < r.end, "empty range {r:?}");
        prop_assert!(
            r.start >= end,
            "range {r:?} starts before the previous end {end}"
        );
        prop_assert!(r.end <= text.len());
        prop_assert!(text.is_char_boundary(r.start) && text.is_char_boundary(r.end));
        let s = &text[r.clone()];
        prop_assert_eq!(s, s.trim(), "sentence not trimmed");
        end = r.end;
    }
    // Every non-whitespace character is inside a sentence.
    let mut next = ranges.iter().peekable();
    for (i, c) in text.char_indices() {
        while next.peek().is_some_and(|r| r.end <= i) {
            next.next();
        }
        if !c.is_whitespace() {
            prop_assert!(
                next.peek().is_some_and(|r| r.start <= i),
                "character {c:?} at {i} is in no sentence"
            );
        }
    }
    Ok(())
}

fn index() -> &'static ArticleIndex {
    static INDEX: OnceLock<ArticleIndex> = OnceLock::new();
    INDEX.get_or_init(|| {
        let index = ArticleIndex::in_ram().unwrap();
        let article = Article::parse(
            b"Cyber order\n\nThe order halts offensive cyber operations. The NSA is exempted.",
            Metadata {
                source: "seed.txt".into(),
                ..Metadata::default()
            },
            1 << 20,
            PassageConfig::default(),
        )
        .unwrap();
        let vectors = vec![vec![0.0; 4]; article.sentences.len()];
        index.upsert(&article, &vectors).unwrap();
        index.commit().unwrap();
        index
    })
}

proptest! {
    #[test]
    fn sentences_are_well_formed(text in any_text()) {
        check_sentences(&text)?;
    }

    #[test]
    fn decoding_any_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(text) = decode("x.txt", &bytes) {
            prop_assert!(!text.contains('\r'));
            prop_assert!(!text.starts_with('\u{feff}'), "BOM kept");
        }
    }

    #[test]
    fn parsing_any_text_gives_a_well_formed_article(text in any_text(), as_html in any::<bool>()) {
        let name = if as_html { "page.html" } else { "page.txt" };
        let meta = Metadata { source: name.into(), ..Metadata::default() };
        if let Ok(article) = Article::parse(text.as_bytes(), meta, 1 << 20, PassageConfig::default()) {
            prop_assert!(!article.sentences.is_empty());
            for r in &article.sentences {
                prop_assert!(article.text.get(r.clone()).is_some(), "sentence {r:?} off a char boundary");
            }
            for p in &article.passages {
                prop_assert!(p.start < p.end && p.end <= article.sentences.len());
            }
        }
    }

    #[test]
    fn extracting_any_html_never_panics(page in html()) {
        let format = Format::detect("page", &page);
        prop_assert_eq!(format, Format::Html);
        if let Ok(extracted) = extract("page", &page, format) {
            prop_assert!(!extracted.body.trim().is_empty());
            check_sentences(&extracted.body)?;
        }
    }

    #[test]
    fn any_question_can_be_searched(question in any_text()) {
        let index = index();
        let terms = index.query_terms(&question).unwrap();
        prop_assert!(terms.iter().all(|t| !t.is_empty()));
        let hits = index.search(&question, 5).unwrap();
        for hit in hits {
            for s in &hit.sentences {
                prop_assert!(hit.text.get(s.range.clone()).is_some());
                prop_assert!((0.0..=1.0001).contains(&s.overlap));
            }
        }
        index.mentions_anywhere(&question).unwrap();
    }
}
