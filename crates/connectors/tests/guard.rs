//! The SSRF guard on every connector URL (with a resolver the test controls: no traffic leaves
//! loopback), and secrets that never reach errors, `Debug` or logs.

mod common;

use chrono::Utc;
use common::*;
use palisade_connectors::{Change, Connector, ConnectorKind, Cursor, SourceError, WriteBack};
use palisade_fakes::SentinelSeed;
use serde_json::json;

#[tokio::test]
async fn endpoints_go_through_the_guard_by_name_and_by_address() {
    let s = sentinel().await;
    s.fake.add(SentinelSeed::new("one", "Low"));
    let (arm_port, login_port) = (
        s.fake.base().rsplit(':').next().unwrap().to_string(),
        s.entra.port(),
    );
    // Names the test resolves itself. `zero.test` answers 0.0.0.0, which the guard always
    // refuses (and which could not leave this host even if it did not).
    let names = [
        ("sentinel.test", "127.0.0.1"),
        ("login.test", "127.0.0.1"),
        ("zero.test", "0.0.0.0"),
    ];
    let cursor = Cursor::start(Utc::now() - chrono::Duration::hours(1));
    let with = |base: &str, authority: &str| {
        config(
            ConnectorKind::MicrosoftSentinel,
            s.settings(),
            json!({"baseUrl": base, "authorityUrl": authority}),
            SECRET,
        )
    };
    let by_name = with(
        &format!("http://sentinel.test:{arm_port}"),
        &format!("http://login.test:{login_port}"),
    );

    // Names resolved through the guard reach the fakes (the token's audience follows the name).
    s.fake
        .expect_scope(&format!("http://sentinel.test:{arm_port}/.default"));
    let c = Connector::new(&by_name, &options(guard(true, &names))).unwrap();
    c.check_targets().await.unwrap();
    assert_eq!(c.pull(&cursor, None).await.unwrap().items.len(), 1);
    s.fake.expect_scope(&format!("{}/.default", s.fake.base()));

    // A forbidden address is refused even with private targets allowed, on the base URL and
    // on the authority, when checked and at connect time.
    let before = s.fake.requests().len();
    for (cfg, field) in [
        (
            with(
                &format!("http://zero.test:{arm_port}"),
                &s.entra.authority(),
            ),
            "settings.baseUrl",
        ),
        (
            with(&s.fake.base(), &format!("http://zero.test:{login_port}")),
            "settings.authorityUrl",
        ),
    ] {
        let c = Connector::new(&cfg, &options(guard(true, &names))).unwrap();
        match c.check_targets().await {
            Err(SourceError::Settings { field: f, detail }) => {
                assert_eq!(f, field);
                assert!(detail.contains("unspecified"), "{detail}");
            }
            other => panic!("{field}: {other:?}"),
        }
        match c.pull(&cursor, None).await {
            Err(SourceError::Settings { field: f, detail }) => {
                assert_eq!(f, field, "{detail}");
                assert!(detail.contains("SSRF guard"), "{detail}");
            }
            other => panic!("{field}: {other:?}"),
        }
    }
    assert_eq!(
        s.fake.requests().len(),
        before,
        "the refused base URL got nothing"
    );

    // Without allow_private_targets, loopback is refused: an IP literal when the connector is
    // built, a name when checked and again when connecting.
    let e = Connector::new(
        &with(&s.fake.base(), &s.entra.authority()),
        &options(guard(false, &names)),
    )
    .unwrap_err();
    assert!(
        matches!(&e, SourceError::Settings { field, .. } if field == "settings.baseUrl"),
        "{e:?}"
    );
    assert!(format!("{:?}", e.to_validation().unwrap()).contains("settings.baseUrl"));
    let c = Connector::new(&by_name, &options(guard(false, &names))).unwrap();
    let e = c.check_targets().await.unwrap_err();
    assert!(e.to_string().contains("loopback"), "{e}");
    match c.pull(&cursor, None).await {
        Err(SourceError::Settings { field, .. }) => assert_eq!(field, "settings.authorityUrl"),
        other => panic!("{other:?}"),
    }
    // Without allow_http, http is refused.
    let strict = palisade_net::ssrf::Guard::with_resolver(
        true,
        false,
        std::sync::Arc::new(Fixed(Default::default())),
    )
    .for_section("connectors");
    let e = Connector::new(
        &with(&s.fake.base(), &s.entra.authority()),
        &options(strict),
    )
    .unwrap_err();
    assert!(e.to_string().contains("connectors.allow_http"), "{e}");
}

#[tokio::test]
async fn a_next_link_elsewhere_is_refused() {
    let s = sentinel().await;
    for i in 0..3 {
        s.fake.add(SentinelSeed::new(&format!("n{i}"), "Low"));
    }
    let port = s.fake.base().rsplit(':').next().unwrap().to_string();
    // The vendor's nextLink points at another host, which would receive the access token.
    s.fake
        .set_next_link_base(Some(&format!("http://elsewhere.test:{port}")));
    let c = Connector::new(
        &s.config(json!({"pageSize": 2})),
        &options(guard(true, &[("elsewhere.test", "0.0.0.0")])),
    )
    .unwrap();
    let cursor = Cursor::start(Utc::now() - chrono::Duration::hours(1));
    let page = c.pull(&cursor, None).await.unwrap();
    assert_eq!(page.items.len(), 2);
    let sent = s.fake.requests().len();
    match c.pull(&page.high_water, page.continuation.as_ref()).await {
        Err(SourceError::Rejected { detail, .. }) => {
            assert!(
                detail.contains("nextLink points at http://elsewhere.test"),
                "{detail}"
            )
        }
        other => panic!("refused, got {other:?}"),
    }
    assert_eq!(s.fake.requests().len(), sent, "nothing was sent");
    // Its own links are followed (and an unescaped query is read as ARM writes it).
    s.fake.set_next_link_base(None);
    let page = c.pull(&cursor, None).await.unwrap();
    let next = c
        .pull(&page.high_water, page.continuation.as_ref())
        .await
        .unwrap();
    assert_eq!(next.items.len(), 1);
}

#[tokio::test]
async fn secrets_never_reach_errors_debug_or_logs() {
    let capture = palisade_fakes::LogCapture::default();
    let _log = capture.install();
    let s = sentinel().await;
    let name = s.fake.add_simulated(3);
    let c = s.connector(json!({}));
    let cursor = Cursor::start(Utc::now() - chrono::Duration::hours(1));
    c.pull(&cursor, None).await.unwrap();
    c.write_back(&WriteBack {
        external_id: name.clone(),
        change: Change::Comment {
            id: "c".into(),
            text: "note".into(),
        },
        attempt: 1,
        made_at: Utc::now(),
    })
    .await
    .unwrap();
    s.entra.revoke_all();
    c.pull(&cursor, None).await.unwrap();

    // A wrong secret: Entra ID echoes it in its error description.
    let wrong = "Wr0ng~secret.value-that-must-not-leak";
    let cfg = config(
        ConnectorKind::MicrosoftSentinel,
        s.settings(),
        json!({}),
        wrong,
    );
    let bad = Connector::new(&cfg, &options(guard(true, &[]))).unwrap();
    let e = bad.pull(&cursor, None).await.unwrap_err();
    assert!(matches!(e, SourceError::Auth { .. }), "{e:?}");
    let shown = format!("{e} {e:?}");
    assert!(shown.contains("invalid_client"), "{shown}");
    assert!(
        shown.contains("<redacted>"),
        "the echoed secret is scrubbed: {shown}"
    );

    let tokens = s.entra.issued_tokens();
    assert!(tokens.len() >= 2);
    let debug = format!("{cfg:?} {c:?} {bad:?} {:?}", s.config(json!({})));
    let logs = capture.text();
    assert!(logs.contains("connector call"), "logs were captured");
    for secret in [SECRET, wrong] {
        for (what, text) in [("error", &shown), ("debug", &debug), ("logs", &logs)] {
            assert!(
                !text.contains(secret),
                "the client secret leaked into {what}"
            );
        }
    }
    for t in &tokens {
        for (what, text) in [("error", &shown), ("debug", &debug), ("logs", &logs)] {
            assert!(
                !text.contains(t.as_str()),
                "an access token leaked into {what}"
            );
        }
    }
}
