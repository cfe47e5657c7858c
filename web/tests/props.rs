//! Property tests: feed parsing and body decoding never panic on arbitrary input.
//!
//! The suite runs proptest's default 256 cases per property; `scripts/reliability.sh` runs
//! them with a longer budget (`PROPTEST_CASES`).

use newsqa_web::fetch::decode;
use newsqa_web::parse_feed;
use proptest::prelude::*;

/// RSS and Atom pieces nested at random, with hostile links, dates and entities.
fn feed() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("<rss version=\"2.0\"><channel>".to_owned()),
        Just("</channel></rss>".to_owned()),
        Just("<feed xmlns=\"http://www.w3.org/2005/Atom\">".to_owned()),
        Just("</feed>".to_owned()),
        Just("<item>".to_owned()),
        Just("</item>".to_owned()),
        Just("<entry>".to_owned()),
        Just("</entry>".to_owned()),
        Just("<title>".to_owned()),
        Just("</title>".to_owned()),
        Just("<link>".to_owned()),
        Just("</link>".to_owned()),
        Just("<link href=\"../a?b=1#c\"/>".to_owned()),
        Just("<link href=\"javascript:alert(1)\"/>".to_owned()),
        Just("<guid>".to_owned()),
        Just("</guid>".to_owned()),
        Just("<pubDate>Tue, 31 Feb 2024 25:61:00 +9999</pubDate>".to_owned()),
        Just("<updated>2024-13-45T00:00:00Z</updated>".to_owned()),
        Just("<description><![CDATA[<p>x</p>]]></description>".to_owned()),
        Just("&amp;".to_owned()),
        Just("&#x0;".to_owned()),
        Just("&undefined;".to_owned()),
        Just("<?xml version=\"1.0\" encoding=\"UTF-16\"?>".to_owned()),
        Just("<!DOCTYPE x [<!ENTITY a \"aaaaaaaa\">]>".to_owned()),
        "\\PC{0,20}",
    ];
    prop::collection::vec(piece, 0..60).prop_map(|v| v.concat())
}

proptest! {
    #[test]
    fn parsing_any_feed_never_panics(text in prop_oneof![feed(), any::<String>()]) {
        if let Ok(parsed) = parse_feed("https://news.example/feed.xml", &text) {
            for item in parsed.items {
                if let Some(published) = item.published {
                    prop_assert!(!published.is_empty());
                }
            }
        }
    }

    #[test]
    fn decoding_any_body_never_panics(
        body in prop::collection::vec(any::<u8>(), 0..512),
        content_type in prop_oneof![
            Just(String::new()),
            Just("text/html; charset=utf-16".to_owned()),
            Just("text/html; charset=\"shift_jis\"".to_owned()),
            "\\PC{0,40}",
        ],
        meta in any::<bool>(),
    ) {
        let mut body = body;
        if meta {
            let mut page = b"<meta charset=\"iso-2022-jp\">".to_vec();
            page.extend_from_slice(&body);
            body = page;
        }
        let _ = decode(&body, &content_type);
    }
}
