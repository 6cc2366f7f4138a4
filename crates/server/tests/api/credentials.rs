//! Secret lifecycle: shown once, stored only hashed; wrong secret, revoked, expired and
//! disabled credentials are refused; enable restores; several credentials per account behave
//! independently; `lastUsedAt` is kept without a write per request.

use palisade_test_utils::{Cred, TestApp};
use serde_json::json;

async fn stored_hashes(app: &TestApp) -> Vec<String> {
    app.db
        .column("SELECT secret_hash FROM credentials", &[])
        .await
}

#[tokio::test]
async fn secret_is_shown_once_and_stored_only_as_a_keyed_hash() {
    let app = TestApp::spawn().await;
    let org = app.org("Secrets").await;
    let (cred, created) = app
        .service_account(
            &org.admin,
            &json!({"name": "sync", "scopes": ["org:users:read"]}),
        )
        .await;
    assert!(cred.secret.starts_with("cf_sa_"));
    // 32 random bytes, base64url without padding.
    assert_eq!(cred.secret.len(), "cf_sa_".len() + 43);
    assert_eq!(created.data()["clientSecretPrefix"], "cf_sa_");
    assert_eq!(created.data()["id"], cred.client_id.to_string());

    let id = cred.client_id;
    for path in [
        format!("/api/v2/service-accounts/{id}"),
        "/api/v2/service-accounts".to_string(),
    ] {
        let r = app.get(&path, Some(&org.admin)).await;
        assert_eq!(r.status, 200);
        assert!(!r.text.contains(&cred.secret), "secret leaked by {path}");
        assert!(!r.text.contains("clientSecret\""), "{path}: {}", r.text);
    }
    let hashes = stored_hashes(&app).await;
    assert_eq!(hashes.len(), 2);
    for h in &hashes {
        assert_eq!(h.len(), 64, "HMAC-SHA256 hex");
        assert!(!h.contains(&cred.secret[6..]));
    }
    // The secret works.
    assert_eq!(app.get("/api/v2/users", Some(&cred)).await.status, 200);
}

#[tokio::test]
async fn wrong_revoked_expired_and_disabled_credentials_are_refused() {
    let app = TestApp::spawn().await;
    let org = app.org("Lifecycle").await;
    let (cred, _) = app
        .service_account(
            &org.admin,
            &json!({"name": "sync", "scopes": ["org:users:read"]}),
        )
        .await;
    let id = cred.client_id;
    assert_eq!(app.get("/api/v2/users", Some(&cred)).await.status, 200);

    // Wrong secret; right secret under another client id.
    let wrong = Cred {
        client_id: id,
        secret: format!("{}x", cred.secret),
    };
    app.get("/api/v2/users", Some(&wrong))
        .await
        .assert_problem(401, "UNAUTHORIZED");
    let swapped = Cred {
        client_id: org.admin.client_id,
        secret: cred.secret.clone(),
    };
    app.get("/api/v2/users", Some(&swapped))
        .await
        .assert_problem(401, "UNAUTHORIZED");

    // Disable → 401; enable restores.
    let r = app
        .post(
            &format!("/api/v2/service-accounts/{id}/disable"),
            Some(&org.admin),
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.data()["isActive"], false);
    let r = app.get("/api/v2/users", Some(&cred)).await;
    r.assert_problem(401, "UNAUTHORIZED");
    assert!(r.json["detail"].as_str().unwrap().contains("disabled"));
    let r = app
        .post(
            &format!("/api/v2/service-accounts/{id}/enable"),
            Some(&org.admin),
            &json!({}),
        )
        .await;
    assert_eq!(r.data()["isActive"], true);
    assert_eq!(app.get("/api/v2/users", Some(&cred)).await.status, 200);

    // A second credential expiring in two seconds.
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339();
    let r = app
        .post(
            &format!("/api/v2/service-accounts/{id}/credentials"),
            Some(&org.admin),
            &json!({"scopes": ["org:users:read"], "expirationDate": soon}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let short = Cred {
        client_id: id,
        secret: r.data()["clientSecret"].as_str().unwrap().into(),
    };
    assert_eq!(r.data()["clientId"], id.to_string());
    assert_eq!(r.data()["status"], "Active");
    assert!(r.data()["expiresAt"].is_string() && r.data()["expirationDate"].is_string());
    assert_eq!(app.get("/api/v2/users", Some(&short)).await.status, 200);
    tokio::time::sleep(std::time::Duration::from_millis(2300)).await;
    let r = app.get("/api/v2/users", Some(&short)).await;
    r.assert_problem(401, "UNAUTHORIZED");
    assert!(r.json["detail"].as_str().unwrap().contains("expired"));
    let sa = app
        .get(&format!("/api/v2/service-accounts/{id}"), Some(&org.admin))
        .await;
    let statuses: Vec<&str> = sa.data()["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, vec!["Active", "Expired"]);

    // Revoke the first credential → 401; revoking again is idempotent.
    let cred_id = sa.data()["credentials"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/api/v2/service-accounts/{id}/credentials/{cred_id}/revoke");
    let r = app.post(&path, Some(&org.admin), &json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.data()["status"], "Revoked");
    let r = app.get("/api/v2/users", Some(&cred)).await;
    r.assert_problem(401, "UNAUTHORIZED");
    assert!(r.json["detail"].as_str().unwrap().contains("revoked"));
    assert_eq!(
        app.post(&path, Some(&org.admin), &json!({})).await.data()["status"],
        "Revoked"
    );
    // Unknown credential of a real account → 404.
    let r = app
        .post(
            &format!(
                "/api/v2/service-accounts/{id}/credentials/{}/revoke",
                uuid::Uuid::new_v4()
            ),
            Some(&org.admin),
            &json!({}),
        )
        .await;
    r.assert_problem(404, "NOT_FOUND");
}

#[tokio::test]
async fn two_credentials_with_different_scopes_behave_independently() {
    let app = TestApp::spawn().await;
    let org = app.org("Two").await;
    let (users_cred, _) = app
        .service_account(
            &org.admin,
            &json!({"name": "dual", "scopes": ["org:users:read"]}),
        )
        .await;
    let id = users_cred.client_id;
    let r = app
        .post(
            &format!("/api/v2/service-accounts/{id}/credentials"),
            Some(&org.admin),
            &json!({"scopes": ["org:workspaces:read"]}),
        )
        .await;
    let ws_cred = Cred {
        client_id: id,
        secret: r.data()["clientSecret"].as_str().unwrap().into(),
    };
    assert_eq!(
        app.get("/api/v2/users", Some(&users_cred)).await.status,
        200
    );
    app.get("/api/v2/accounts", Some(&users_cred))
        .await
        .assert_problem(403, "INSUFFICIENT_SCOPE");
    assert_eq!(
        app.get("/api/v2/accounts", Some(&ws_cred)).await.status,
        200
    );
    app.get("/api/v2/users", Some(&ws_cred))
        .await
        .assert_problem(403, "INSUFFICIENT_SCOPE");

    // Revoking one leaves the other working.
    let cred_id = r.data()["id"].as_str().unwrap();
    app.post(
        &format!("/api/v2/service-accounts/{id}/credentials/{cred_id}/revoke"),
        Some(&org.admin),
        &json!({}),
    )
    .await;
    app.get("/api/v2/accounts", Some(&ws_cred))
        .await
        .assert_problem(401, "UNAUTHORIZED");
    assert_eq!(
        app.get("/api/v2/users", Some(&users_cred)).await.status,
        200
    );

    // Rotation without scopes copies the newest active credential's scopes.
    let r = app
        .post(
            &format!("/api/v2/service-accounts/{id}/credentials"),
            Some(&org.admin),
            &json!({}),
        )
        .await;
    assert_eq!(r.data()["scopes"], json!(["org:users:read"]));
    // An empty body is accepted too.
    let r = app
        .send_raw(
            reqwest::Method::POST,
            &format!("/api/v2/service-accounts/{id}/credentials"),
            Some(&org.admin),
            None,
            vec![],
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
}

#[tokio::test]
async fn last_used_at_is_tracked_in_memory_and_flushed() {
    let app = TestApp::spawn().await;
    let org = app.org("LastUsed").await;
    let (cred, created) = app
        .service_account(
            &org.admin,
            &json!({"name": "sync", "scopes": ["org:users:read"]}),
        )
        .await;
    assert!(created.data()["lastUsedAt"].is_null());
    app.get("/api/v2/users", Some(&cred)).await;
    let path = format!("/api/v2/service-accounts/{}", cred.client_id);
    let r = app.get(&path, Some(&org.admin)).await;
    assert!(r.data()["lastUsedAt"].is_string(), "{}", r.text);
    assert!(r.data()["credentials"][0]["lastUsedAt"].is_string());
    // Not yet in the database…
    let org_id = app.org_id(&org).await;
    let stored = || async {
        app.state
            .store()
            .tenant(&org_id)
            .get_service_account(cred.client_id)
            .await
            .unwrap()
            .unwrap()
    };
    let in_db = stored().await;
    assert!(in_db.last_used_at.is_none());
    // …until the batch is written.
    app.state.auth().flush_last_used().await.unwrap();
    let in_db = stored().await;
    assert!(in_db.last_used_at.is_some());
    assert!(in_db.credentials[0].last_used_at.is_some());
}

#[tokio::test]
async fn a_caller_cannot_grant_more_than_it_holds() {
    let app = TestApp::spawn().await;
    let org = app.org("Escalation").await;
    let ws = app.workspace(&org, "W").await;
    let (manager, _) = app
        .service_account(
            &org.admin,
            &json!({"name": "m", "scopes": ["org:service-accounts:manage", "org:users:read"],
                    "workspaceAssignments": [{"workspaceId": ws, "role": "IncidentResponder"}]}),
        )
        .await;
    let r = app
        .post(
            "/api/v2/service-accounts",
            Some(&manager),
            &json!({"name": "x", "scopes": ["webhooks:manage"]}),
        )
        .await;
    r.assert_problem(403, "INSUFFICIENT_SCOPE");
    let r = app
        .post(
            "/api/v2/service-accounts",
            Some(&manager),
            &json!({"name": "x", "scopes": ["org:users:read"], "organizationalRole": "Admin"}),
        )
        .await;
    r.assert_problem(400, "VALIDATION_ERROR");
    let r = app
        .post(
            "/api/v2/service-accounts",
            Some(&manager),
            &json!({"name": "x", "scopes": ["org:users:read"],
                    "workspaceAssignments": [{"workspaceId": ws, "role": "Owner"}]}),
        )
        .await;
    r.assert_problem(403, "INSUFFICIENT_WORKSPACE_ROLE");
    let r = app
        .post(
            "/api/v2/service-accounts",
            Some(&manager),
            &json!({"name": "x", "scopes": ["org:users:read"],
                    "workspaceAssignments": [{"workspaceId": ws, "role": "Analyst"}]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        r.data()["workspaceAssignments"][0]["role"],
        "IncidentAnalyst"
    );
}

/// When a credential is not in the verification cache (new, or its entry expired), the
/// requests that arrive together wait for one database lookup instead of each running one:
/// with many workspaces an organization-wide credential's lookup loads them all, and a burst
/// of them stalled every request behind it.
#[tokio::test]
async fn concurrent_requests_of_an_uncached_credential_look_it_up_once() {
    let app = TestApp::spawn().await;
    let org = app.org("Herd").await;
    let (cred, _) = app
        .service_account(
            &org.admin,
            &json!({"name": "burst", "scopes": ["org:users:read"]}),
        )
        .await;
    let before = app.state.auth().credential_lookups();
    let mut burst = tokio::task::JoinSet::new();
    for _ in 0..32 {
        let (client, url, header) = (
            reqwest::Client::new(),
            app.url("/api/v2/users/profile"),
            cred.header(),
        );
        burst.spawn(async move {
            client
                .get(url)
                .header("authorization", header)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    while let Some(status) = burst.join_next().await {
        assert_eq!(status.unwrap(), 200);
    }
    assert_eq!(app.state.auth().credential_lookups() - before, 1);
    // Cached now: no further lookup.
    assert_eq!(
        app.get("/api/v2/users/profile", Some(&cred)).await.status,
        200
    );
    assert_eq!(app.state.auth().credential_lookups() - before, 1);
    // A change to credentials drops the cache: the next request looks up again.
    app.state.auth().invalidate();
    assert_eq!(
        app.get("/api/v2/users/profile", Some(&cred)).await.status,
        200
    );
    assert_eq!(app.state.auth().credential_lookups() - before, 2);
}
