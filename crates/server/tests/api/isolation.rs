//! A second organization's credential gets 404 on every resource of the first, and sees none
//! of them in lists.

use palisade_test_utils::TestApp;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn another_organization_gets_404_on_every_resource() {
    let app = TestApp::spawn().await;
    let a = app.org("Org A").await;
    let b = app.org("Org B").await;
    let ws = app.workspace(&a, "A workspace").await;
    let (sa, created) = app
        .service_account(
            &a.admin,
            &json!({"name": "a-sync", "scopes": ["org:users:read"]}),
        )
        .await;
    let cred_id = created.data()["credentials"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .post(
            "/api/v2/users",
            Some(&a.admin),
            &json!({"users": [{"displayName": "Ann", "email": "ann@a.example"}]}),
        )
        .await;
    assert_eq!(r.status, 201);
    let user = app.get("/api/v2/users", Some(&a.admin)).await.data()[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let customer = app
        .post(
            "/api/v2/accounts",
            Some(&a.admin),
            &json!({"name": "A customer"}),
        )
        .await
        .data()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let sa = sa.client_id;

    let probes: Vec<(Method, String, Option<serde_json::Value>)> = vec![
        (Method::GET, format!("/api/v2/service-accounts/{sa}"), None),
        (
            Method::PUT,
            format!("/api/v2/service-accounts/{sa}"),
            Some(json!({"name": "x"})),
        ),
        (
            Method::DELETE,
            format!("/api/v2/service-accounts/{sa}"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v2/service-accounts/{sa}/disable"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v2/service-accounts/{sa}/enable"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v2/service-accounts/{sa}/credentials"),
            Some(json!({})),
        ),
        (
            Method::POST,
            format!("/api/v2/service-accounts/{sa}/credentials/{cred_id}/revoke"),
            None,
        ),
        (Method::GET, format!("/api/v2/users/{user}"), None),
        (Method::DELETE, format!("/api/v2/users/{user}"), None),
        (
            Method::PUT,
            "/api/v2/users".into(),
            Some(json!({"userId": user, "displayName": "Hijacked"})),
        ),
        (
            Method::PUT,
            "/api/v2/users/organization/role".into(),
            Some(json!({"userId": user, "organizationalRole": "Admin"})),
        ),
        (Method::GET, format!("/api/v2/accounts/{customer}"), None),
        (
            Method::POST,
            "/api/v2/users/workspace/users".into(),
            Some(json!({"accountId": customer})),
        ),
        (Method::GET, format!("/api/v2/workspaces/{ws}"), None),
        (
            Method::PUT,
            format!("/api/v2/workspaces/{ws}"),
            Some(json!({"name": "x"})),
        ),
        (Method::DELETE, format!("/api/v2/workspaces/{ws}"), None),
    ];
    for (m, path, body) in &probes {
        let r = app
            .send(m.clone(), path, Some(&b.admin), body.as_ref())
            .await;
        assert_eq!(r.status, 404, "{m} {path}: {}", r.text);
        r.assert_problem(404, "NOT_FOUND");
    }
    // Assigning a foreign workspace is a validation error, never a grant.
    let r = app
        .post(
            "/api/v2/service-accounts",
            Some(&b.admin),
            &json!({"name": "x", "scopes": ["org:users:read"],
                    "workspaceAssignments": [{"workspaceId": ws, "role": "Owner"}]}),
        )
        .await;
    r.assert_problem(400, "VALIDATION_ERROR");
    let r = app
        .post(
            "/api/v2/users/workspace",
            Some(&b.admin),
            &json!({"workspaceId": ws, "role": "Owner", "userIds": [user]}),
        )
        .await;
    r.assert_problem(400, "VALIDATION_ERROR");

    // Lists show only the caller's organization.
    for path in [
        "/api/v2/service-accounts",
        "/api/v2/users",
        "/api/v2/accounts",
        "/api/v2/workspaces",
    ] {
        let r = app.get(path, Some(&b.admin)).await;
        assert!(!r.text.contains(&sa.to_string()), "{path}");
        assert!(!r.text.contains(&user), "{path}");
        assert!(!r.text.contains(&customer), "{path}");
        assert!(!r.text.contains(&ws.to_string()), "{path}");
    }
    // And nothing of A changed.
    let r = app
        .get(&format!("/api/v2/users/{user}"), Some(&a.admin))
        .await;
    assert_eq!(r.data()["displayName"], "Ann");
    assert_eq!(r.data()["organizationalRole"], "Member");
    let r = app
        .get(&format!("/api/v2/service-accounts/{sa}"), Some(&a.admin))
        .await;
    assert_eq!(r.data()["isActive"], true);
    assert_eq!(r.data()["credentials"].as_array().unwrap().len(), 1);
    assert_eq!(
        app.get(&format!("/api/v2/workspaces/{ws}"), Some(&a.admin))
            .await
            .status,
        200
    );
}
