use palisade_test_utils::TestApp;
use serde_json::json;

#[tokio::test]
async fn create_get_list_update_delete() {
    let app = TestApp::spawn().await;
    let org = app.org("SA").await;
    let ws = app.workspace(&org, "Contoso Prod").await;
    let expiry = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    let (cred, r) = app
        .service_account(
            &org.admin,
            &json!({
                "name": "Jira-incident-sync-prod",
                "description": "Syncs incidents to Jira Service Management",
                "organizationalRole": "Member",
                "workspaceAssignments": [{"workspaceId": ws, "role": "Analyst"}],
                "scopes": ["incidents:read", "incidents:write", "incidents:read"],
                "expirationDate": expiry
            }),
        )
        .await;
    let d = r.data();
    assert_eq!(d["name"], "Jira-incident-sync-prod");
    assert_eq!(d["accountId"], org.account_id.to_string());
    assert_eq!(d["isActive"], true);
    assert_eq!(d["organizationalRole"], "Member");
    assert_eq!(d["clientId"], cred.client_id.to_string());
    assert_eq!(
        d["workspaceAssignments"][0]["workspaceName"],
        "Contoso Prod"
    );
    assert_eq!(d["workspaceAssignments"][0]["role"], "IncidentAnalyst");
    assert_eq!(
        d["credentials"][0]["scopes"],
        json!(["incidents:read", "incidents:write"])
    );
    assert_eq!(d["credentials"][0]["status"], "Active");
    assert_eq!(
        d["credentialExpirationDate"],
        d["credentials"][0]["expiresAt"]
    );
    for field in ["createdAt", "lastModifiedAt", "clientSecretPrefix"] {
        assert!(d[field].is_string(), "{field}");
    }
    let id = cred.client_id;

    let r = app.get("/api/v2/service-accounts", Some(&org.admin)).await;
    assert_eq!(r.data().as_array().unwrap().len(), 2);

    let r = app
        .put(
            &format!("/api/v2/service-accounts/{id}"),
            Some(&org.admin),
            &json!({"name": "Renamed", "description": "", "workspaceAssignments": []}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.data()["name"], "Renamed");
    assert!(r.data()["description"].is_null());
    assert_eq!(r.data()["workspaceAssignments"], json!([]));
    assert_eq!(
        r.data()["organizationalRole"],
        "Member",
        "absent fields unchanged"
    );

    let r = app
        .delete(&format!("/api/v2/service-accounts/{id}"), Some(&org.admin))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.data(), &json!(true));
    app.get(&format!("/api/v2/service-accounts/{id}"), Some(&org.admin))
        .await
        .assert_problem(404, "NOT_FOUND");
    // Its credentials died with it.
    app.get("/api/v2/users", Some(&cred))
        .await
        .assert_problem(401, "UNAUTHORIZED");
}

#[tokio::test]
async fn validation_rules() {
    let app = TestApp::spawn().await;
    let org = app.org("SA").await;
    let other = app.org("Other").await;
    let foreign_ws = app.workspace(&other, "Theirs").await;
    let far = (chrono::Utc::now() + chrono::Duration::days(800)).to_rfc3339();
    let past = (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339();
    let cases = [
        (json!({"scopes": ["incidents:read"]}), "name"),
        (
            json!({"name": "n".repeat(201), "scopes": ["incidents:read"]}),
            "name",
        ),
        (
            json!({"name": "ok", "description": "d".repeat(1001), "scopes": ["incidents:read"]}),
            "description",
        ),
        (json!({"name": "ok"}), "scopes"),
        (json!({"name": "ok", "scopes": []}), "scopes"),
        (
            json!({"name": "ok", "scopes": ["incidents:delete"]}),
            "scopes[0]",
        ),
        (
            json!({"name": "ok", "scopes": ["incidents:read"], "expirationDate": far}),
            "expirationDate",
        ),
        (
            json!({"name": "ok", "scopes": ["incidents:read"], "expirationDate": past}),
            "expirationDate",
        ),
        (
            json!({"name": "ok", "scopes": ["incidents:read"], "organizationalRole": "Boss"}),
            "organizationalRole",
        ),
        (
            json!({"name": "ok", "scopes": ["incidents:read"],
                "workspaceAssignments": [{"workspaceId": foreign_ws, "role": "Owner"}]}),
            "workspaceAssignments[0].workspaceId",
        ),
        (
            json!({"name": "ok", "scopes": ["incidents:read"],
                "workspaceAssignments": [{"workspaceId": foreign_ws, "role": "Overlord"}]}),
            "workspaceAssignments[0].role",
        ),
    ];
    for (body, field) in cases {
        let r = app
            .post("/api/v2/service-accounts", Some(&org.admin), &body)
            .await;
        r.assert_problem(400, "VALIDATION_ERROR");
        assert!(r.json["errors"][field].is_array(), "{field}: {}", r.text);
    }
    // Exactly 200 and 1000 characters are fine.
    let r = app
        .post(
            "/api/v2/service-accounts",
            Some(&org.admin),
            &json!({"name": "n".repeat(200), "description": "d".repeat(1000), "scopes": ["incidents:read"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    // Nothing else was created.
    let r = app.get("/api/v2/service-accounts", Some(&org.admin)).await;
    assert_eq!(r.data().as_array().unwrap().len(), 2);
}
