//! The fetcher against a local HTTP server on 127.0.0.1 (re-opened by the allow-list).

use std::time::Duration;

use axum::extract::Path;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use newsqa_web::{Conditional, FetchConfig, Fetched, Fetcher, WebError, FEED_TYPES};

async fn serve() -> String {
    let app = Router::new()
        .route(
            "/page",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                    "<html><title>T</title><p>Hello</p></html>",
                )
            }),
        )
        .route(
            "/latin1",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/plain; charset=ISO-8859-1")],
                    b"caf\xe9 cr\xe8me".to_vec(),
                )
            }),
        )
        .route(
            "/meta1252",
            get(|| async {
                // No charset in the header: the page's <meta> names it.
                (
                    [(header::CONTENT_TYPE, "text/html")],
                    b"<html><head><meta charset=\"windows-1252\"></head><body>\x93Caf\xe9\x94</body></html>"
                        .to_vec(),
                )
            }),
        )
        .route(
            "/hop/:n",
            get(|Path(n): Path<u32>| async move {
                if n == 0 {
                    ([(header::CONTENT_TYPE, "text/plain")], "arrived").into_response()
                } else {
                    (
                        StatusCode::FOUND,
                        [(header::LOCATION, format!("/hop/{}", n - 1))],
                    )
                        .into_response()
                }
            }),
        )
        .route(
            "/to-private",
            get(|| async {
                (
                    StatusCode::MOVED_PERMANENTLY,
                    [(header::LOCATION, "http://10.0.0.1/secret")],
                )
            }),
        )
        .route(
            "/to-loopback-name",
            get(|| async {
                (
                    StatusCode::FOUND,
                    [(header::LOCATION, "http://localhost/secret")],
                )
            }),
        )
        .route(
            "/huge",
            get(|| async { ([(header::CONTENT_TYPE, "text/plain")], "x".repeat(200_000)) }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                ([(header::CONTENT_TYPE, "text/plain")], "late")
            }),
        )
        .route(
            "/image",
            get(|| async { ([(header::CONTENT_TYPE, "image/png")], vec![0u8; 10]) }),
        )
        .route("/missing", get(|| async { StatusCode::NOT_FOUND }))
        .route(
            "/feed",
            get(|headers: HeaderMap| async move {
                if headers
                    .get(header::IF_NONE_MATCH)
                    .and_then(|v| v.to_str().ok())
                    == Some("\"v1\"")
                {
                    return StatusCode::NOT_MODIFIED.into_response();
                }
                let resp: Response = (
                    [
                        (header::CONTENT_TYPE, "application/rss+xml"),
                        (header::ETAG, "\"v1\""),
                    ],
                    "<rss/>",
                )
                    .into_response();
                resp
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

fn fetcher(allow_loopback: bool) -> Fetcher {
    Fetcher::new(FetchConfig {
        allow: if allow_loopback {
            vec!["127.0.0.1".parse().unwrap()]
        } else {
            Vec::new()
        },
        max_bytes: 100_000,
        timeout: Duration::from_secs(2),
        max_redirects: 3,
        ..FetchConfig::default()
    })
}

#[tokio::test]
async fn a_page_is_fetched_and_decoded_when_the_allow_list_opens_loopback() {
    let base = serve().await;
    let page = fetcher(true).page(&format!("{base}/page")).await.unwrap();
    assert_eq!(page.content_type, "text/html");
    assert!(page.text.contains("<p>Hello</p>"));
    let latin = fetcher(true).page(&format!("{base}/latin1")).await.unwrap();
    assert_eq!(latin.text, "café crème");
    let meta = fetcher(true)
        .page(&format!("{base}/meta1252"))
        .await
        .unwrap();
    assert!(meta.text.contains("\u{201c}Café\u{201d}"), "{}", meta.text);
}

#[tokio::test]
async fn loopback_is_refused_without_the_allow_list_in_every_spelling() {
    let base = serve().await;
    let port = base.rsplit(':').next().unwrap();
    let f = fetcher(false);
    for host in [
        "127.0.0.1".to_string(),
        "127.1".into(),
        "0x7f000001".into(),
        "0x7f.0.0.1".into(),
        "2130706433".into(),
        "017700000001".into(),
        "[::ffff:127.0.0.1]".into(),
        "[::ffff:7f00:1]".into(),
        "[::1]".into(),
        "0.0.0.0".into(),
        "0".into(),
        "localhost".into(),
        "10.0.0.1".into(),
        "192.168.0.10".into(),
        "172.16.5.4".into(),
        "169.254.169.254".into(),
        "[fd00::1]".into(),
        "[fe80::1]".into(),
    ] {
        let url = format!("http://{host}:{port}/page");
        match f.page(&url).await {
            Err(WebError::Blocked { .. }) => {}
            other => panic!("{url}: expected a refusal, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_redirect_to_a_private_address_or_name_is_refused() {
    let base = serve().await;
    let err = fetcher(true)
        .page(&format!("{base}/to-private"))
        .await
        .unwrap_err();
    assert!(matches!(err, WebError::Blocked { .. }), "{err}");
    assert!(
        err.to_string().contains("10.0.0.1") && err.to_string().contains("private"),
        "{err}"
    );
    // localhost resolves to loopback; the allow-list names 127.0.0.1 only, so ::1 (if
    // localhost resolves to it as well) or the name itself must not slip through either way.
    let err = fetcher(false)
        .page(&format!("{base}/to-loopback-name"))
        .await
        .unwrap_err();
    assert!(matches!(err, WebError::Blocked { .. }), "{err}");
}

#[tokio::test]
async fn redirects_are_followed_up_to_the_limit() {
    let base = serve().await;
    let page = fetcher(true).page(&format!("{base}/hop/3")).await.unwrap();
    assert_eq!(page.text, "arrived");
    assert!(page.url.ends_with("/hop/0"));
    let err = fetcher(true)
        .page(&format!("{base}/hop/4"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, WebError::TooManyRedirects { max: 3, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn size_cap_timeout_type_status_and_scheme_are_clear_errors() {
    let base = serve().await;
    let f = fetcher(true);
    let err = f.page(&format!("{base}/huge")).await.unwrap_err();
    assert!(
        matches!(err, WebError::TooLarge { cap: 100_000, .. }),
        "{err}"
    );
    let err = f.page(&format!("{base}/slow")).await.unwrap_err();
    assert!(matches!(err, WebError::Timeout { .. }), "{err}");
    let err = f.page(&format!("{base}/image")).await.unwrap_err();
    assert!(err.to_string().contains("image/png"), "{err}");
    let err = f.page(&format!("{base}/missing")).await.unwrap_err();
    assert!(matches!(err, WebError::Status { status: 404, .. }), "{err}");
    for url in ["file:///etc/passwd", "ftp://example.com/x", "gopher://x"] {
        let err = f.page(url).await.unwrap_err();
        assert!(matches!(err, WebError::Scheme { .. }), "{url}: {err}");
    }
    let err = f.page("not a url").await.unwrap_err();
    assert!(matches!(err, WebError::BadUrl { .. }), "{err}");
}

#[tokio::test]
async fn etag_makes_the_next_request_conditional() {
    let base = serve().await;
    let f = fetcher(true);
    let url = format!("{base}/feed");
    let first = f
        .get(&url, FEED_TYPES, &Conditional::default())
        .await
        .unwrap();
    let Fetched::Page(page) = first else {
        panic!("expected content")
    };
    assert_eq!(page.etag.as_deref(), Some("\"v1\""));
    let cond = Conditional {
        etag: page.etag,
        last_modified: None,
    };
    assert!(matches!(
        f.get(&url, FEED_TYPES, &cond).await.unwrap(),
        Fetched::NotModified
    ));
}
