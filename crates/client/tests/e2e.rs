//! The client against the real server (TestApp, on the engine PALISADE_TEST_DATABASE names):
//! typed calls, ProblemDetails errors, and every paging style as a stream.

use std::collections::HashSet;

use chrono::{Duration, Utc};
use futures_util::TryStreamExt;
mod common;

use common::{app_delivering_to_loopback, client};
use palisade_client::query::{AuditQuery, DeliveryLogQuery, DetailQuery, IngestQuery, LogQuery};
use palisade_client::types::incidents::{
    AcrossWorkspacesRequest, CommentRequest, IncidentInput, IncidentSource, IncidentStatus,
    IngestBatchRequest, StatusUpdateRequest,
};
use palisade_client::types::investigation::SignInLogIngestRequest;
use palisade_client::types::org::WorkspaceRequest;
use palisade_client::types::webhooks::WebhookRequest;
use palisade_client::Client;
use palisade_test_utils::TestApp;
use serde_json::json;
use uuid::Uuid;

fn incident(id: &str, severity: &str, minutes_ago: i64) -> IncidentInput {
    serde_json::from_value(json!({
        "id": id, "title": format!("Suspicious sign-in {id}"), "severity": severity,
        "createdAt": (Utc::now() - Duration::minutes(minutes_ago)).to_rfc3339(),
        "labels": ["client-test"],
    }))
    .unwrap()
}

#[tokio::test]
async fn typed_calls_and_problem_details() {
    let app = TestApp::spawn().await;
    let org = app.org("Client").await;
    let c = client(&app, &org);
    c.system().ping().await.expect("ping");
    let ws = c
        .tenancy()
        .create_workspace(&WorkspaceRequest {
            name: Some("Contoso SOC".into()),
            ..Default::default()
        })
        .await
        .expect("create workspace");
    assert_eq!(ws.name, "Contoso SOC");
    let wid = ws.id;
    let one = c
        .incidents()
        .ingest_one(
            wid,
            IncidentSource::Sentinel,
            "INC-1",
            &incident("INC-1", "High", 5),
        )
        .await
        .expect("ingest one");
    assert_eq!(one.incident.incident.id, "INC-1");
    // The path accepts the source in any case; the id is percent-encoded.
    let detail = c
        .incidents()
        .get(
            wid,
            "sentinel",
            "INC-1",
            &DetailQuery {
                with_details: Some(true),
            },
        )
        .await
        .expect("detail");
    assert_eq!(detail.incident.title, "Suspicious sign-in INC-1");
    let closed = c
        .incidents()
        .set_status(
            wid,
            IncidentSource::Sentinel,
            "INC-1",
            &StatusUpdateRequest {
                status: Some("Closed".into()),
                classification: Some("FalsePositive".into()),
                classification_reason: Some("InaccurateData".into()),
                comment: Some("closed from the SDK".into()),
                ..Default::default()
            },
        )
        .await
        .expect("close");
    assert_eq!(closed.status, IncidentStatus::Closed);
    c.incidents()
        .add_comment(
            wid,
            IncidentSource::Sentinel,
            "INC-1",
            &CommentRequest {
                content: Some("a note".into()),
                ..Default::default()
            },
        )
        .await
        .expect("comment");
    let comments = c
        .incidents()
        .comments(wid, IncidentSource::Sentinel, "INC-1")
        .await
        .expect("comments");
    assert!(
        comments.iter().any(|m| m.message == "a note"),
        "{comments:?}"
    );

    // Failures carry the problem document with its stable code and the request id.
    let err = c
        .incidents()
        .get(
            wid,
            IncidentSource::Sentinel,
            "INC-404",
            &DetailQuery::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("NOT_FOUND"), "{err:?}");
    assert_eq!(err.status(), Some(404));
    assert!(err.request_id().is_some_and(|r| !r.is_empty()));
    let err = c
        .incidents()
        .ingest_one(
            wid,
            IncidentSource::Sentinel,
            "INC-2",
            &IncidentInput::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("VALIDATION_ERROR"));
    let errors = err.problem().unwrap().errors.clone().unwrap();
    assert!(
        errors.contains_key("title") || errors.contains_key("severity"),
        "{errors:?}"
    );
    let wrong = Client::new(
        &format!("http://{}", app.addr),
        &org.admin.client_id.to_string(),
        "cf_sa_wrong",
    )
    .unwrap();
    let err = wrong.users().profile().await.unwrap_err();
    assert_eq!(err.code(), Some("UNAUTHORIZED"));
    // The secret appears in neither the client's Debug nor the error.
    assert!(!format!("{c:?}{err:?}{err}").contains(&org.admin.secret));
}

#[tokio::test]
async fn the_cross_workspace_stream_yields_every_match_once() {
    let app = TestApp::spawn_with(|c| c.incidents.page_size = 7).await;
    let org = app.org("Across").await;
    let c = client(&app, &org);
    let mut expected = HashSet::new();
    let mut high = HashSet::new();
    for w in 0..3 {
        let ws = app.workspace(&org, &format!("W{w}")).await;
        for (k, source) in [IncidentSource::Sentinel, IncidentSource::CrowdStrike]
            .into_iter()
            .enumerate()
        {
            let items: Vec<IncidentInput> = (0..11)
                .map(|i| {
                    let sev = if i % 3 == 0 { "High" } else { "Low" };
                    // Some share a creation instant across streams.
                    incident(&format!("{w}-{k}-{i}"), sev, (i % 4) as i64)
                })
                .collect();
            for i in &items {
                let key = (ws, source, i.id.clone().unwrap());
                if i.severity.as_deref() == Some("High") {
                    high.insert(key.clone());
                }
                expected.insert(key);
            }
            let r = c
                .incidents()
                .ingest_batch(
                    ws,
                    source,
                    &IngestQuery::default(),
                    &IngestBatchRequest {
                        incidents: Some(items),
                    },
                )
                .await
                .expect("batch");
            assert_eq!(r.created, 11);
        }
    }
    let all: Vec<_> = c
        .incidents()
        .across(AcrossWorkspacesRequest::default())
        .stream()
        .try_collect()
        .await
        .expect("stream");
    let keys: Vec<_> = all
        .iter()
        .map(|i| (i.workspace_id, i.source, i.id.clone()))
        .collect();
    let unique: HashSet<_> = keys.iter().cloned().collect();
    assert_eq!(keys.len(), unique.len(), "an incident came twice");
    assert_eq!(unique, expected);
    // Newest first across workspaces.
    assert!(all.windows(2).all(|w| w[0].created_at >= w[1].created_at));
    let pages: Vec<_> = c
        .incidents()
        .across(AcrossWorkspacesRequest::default())
        .pages()
        .try_collect()
        .await
        .unwrap();
    assert!(pages.len() >= 66 / 7, "{} pages", pages.len());
    let filtered: HashSet<_> = c
        .incidents()
        .across(AcrossWorkspacesRequest {
            severities: Some(vec!["High".into()]),
            ..Default::default()
        })
        .stream()
        .map_ok(|i| (i.workspace_id, i.source, i.id))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(filtered, high);
}

#[tokio::test]
async fn continuation_token_and_next_page_link_streams() {
    let app = app_delivering_to_loopback().await;
    let org = app.org("Paging").await;
    let c = client(&app, &org);
    let ws = app.workspace(&org, "W").await;

    // continuationToken / hasMore: delivery logs of five test events, two per page.
    let receiver = palisade_test_utils::Receiver::start().await;
    let hook = c
        .webhooks()
        .create(&WebhookRequest {
            name: Some("paging".into()),
            url: Some(receiver.url("/hook")),
            event_types: Some(vec!["incident.created".into()]),
            ..Default::default()
        })
        .await
        .expect("create webhook");
    let mut sent = HashSet::new();
    for _ in 0..5 {
        sent.insert(c.webhooks().test(hook.webhook.id).await.expect("test").id);
    }
    let logs: Vec<_> = c
        .webhooks()
        .log_stream(
            hook.webhook.id,
            DeliveryLogQuery {
                page_size: 2,
                ..Default::default()
            },
        )
        .try_collect()
        .await
        .expect("logs");
    let ids: Vec<Uuid> = logs.iter().map(|l| l.id).collect();
    assert_eq!(ids.len(), 5, "{ids:?}");
    assert_eq!(ids.iter().copied().collect::<HashSet<_>>(), sent);

    // NextPageLink: 230 sign-ins, pages of 100.
    let user = "6F1C2D3E-0000-4000-8000-00000000AAAA";
    let items: Vec<_> = (0..230)
        .map(|i| {
            json!({"id": format!("si-{i}"), "userId": user, "userPrincipalName": "ada@contoso.com",
                   "createdDateTime": (Utc::now() - Duration::minutes(i)).to_rfc3339()})
        })
        .collect();
    for chunk in items.chunks(100) {
        let body: SignInLogIngestRequest =
            serde_json::from_value(json!({ "items": chunk })).unwrap();
        c.investigation()
            .ingest_signin_logs(ws, &body)
            .await
            .expect("ingest sign-ins");
    }
    let query = LogQuery {
        user_id: user.into(),
        time_filtering_type: "TwentyFourHours".into(),
        ..Default::default()
    };
    let first = c.investigation().signin_logs(ws, &query).await.unwrap();
    assert_eq!(first.items.len(), 100);
    assert!(first.next_page_link.is_some());
    let all: Vec<_> = c
        .investigation()
        .signin_log_stream(ws, query)
        .try_collect()
        .await
        .expect("sign-in stream");
    let unique: HashSet<_> = all.iter().map(|s| s.id.clone()).collect();
    assert_eq!((all.len(), unique.len()), (230, 230));

    // continuationToken on the audit trail of those queries (4 pages read so far).
    let audit: Vec<_> = c
        .investigation()
        .audit_stream(
            ws,
            AuditQuery {
                page_size: Some(1),
                ..Default::default()
            },
        )
        .try_collect()
        .await
        .expect("audit stream");
    assert_eq!(audit.len(), 4, "{audit:?}");
    assert_eq!(audit.iter().map(|a| a.id).collect::<HashSet<_>>().len(), 4);
}
