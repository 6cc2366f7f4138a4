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
    // An unknown scope's error names the known ones.
    let r = app
        .post(
            "/api/v2/service-accounts",
            Some(&org.admin),
            &json!({"name": "ok", "scopes": ["incidents:delete"]}),
        )
        .await;
    let message = r.json["errors"]["scopes[0]"][0].as_str().unwrap();
    assert!(
        message.starts_with("Unknown scope 'incidents:delete'. Known scopes: incidents:read, ")
            && message.contains("org:workspaces:manage"),
        "{message}"
    );
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

/// Issue 16, item 9: an organization cannot lock itself out. Deleting, disabling, revoking the
/// last credential of, or demoting the last active Admin is 409 `CONFLICT`, whoever does it;
/// with another active Admin, each is allowed.
#[tokio::test]
async fn the_last_active_admin_cannot_be_removed() {
    let app = TestApp::spawn().await;
    let org = app.org("Lockout").await;
    let admin = &org.admin;
    let me = admin.client_id;
    let sa = |id: uuid::Uuid| format!("/api/v2/service-accounts/{id}");
    let own = app.get(&sa(me), Some(admin)).await;
    let own_credential = own.data()["credentials"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let refused = |r: palisade_test_utils::Resp| {
        r.assert_problem(409, "CONFLICT");
        assert!(
            r.json["detail"].as_str().unwrap().contains("active Admin"),
            "{}",
            r.text
        );
    };
    // The admin on itself: disable, revoke its only credential, demote, delete.
    refused(
        app.post(&format!("{}/disable", sa(me)), Some(admin), &json!({}))
            .await,
    );
    refused(
        app.post(
            &format!("{}/credentials/{own_credential}/revoke", sa(me)),
            Some(admin),
            &json!({}),
        )
        .await,
    );
    refused(
        app.put(
            &sa(me),
            Some(admin),
            &json!({"organizationalRole": "UserAdmin"}),
        )
        .await,
    );
    refused(app.delete(&sa(me), Some(admin)).await);
    // Renaming it is no lockout.
    let r = app
        .put(&sa(me), Some(admin), &json!({"name": "Root"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    // Another account that may manage service accounts, but is no Admin, cannot either.
    let (manager, _) = app
        .service_account(
            admin,
            &json!({"name": "manager", "organizationalRole": "UserAdmin",
                    "scopes": ["org:service-accounts:manage"]}),
        )
        .await;
    refused(
        app.post(&format!("{}/disable", sa(me)), Some(&manager), &json!({}))
            .await,
    );
    // An Admin whose credentials cannot manage service accounts does not count.
    let (weak, _) = app
        .service_account(
            admin,
            &json!({"name": "weak admin", "organizationalRole": "Admin", "scopes": ["incidents:read"]}),
        )
        .await;
    refused(
        app.post(&format!("{}/disable", sa(me)), Some(admin), &json!({}))
            .await,
    );

    // Rotation: a new credential first, then the old one may go.
    let r = app
        .post(&format!("{}/credentials", sa(me)), Some(admin), &json!({}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let rotated = palisade_test_utils::Cred {
        client_id: me,
        secret: r.data()["clientSecret"].as_str().unwrap().to_string(),
    };
    let r = app
        .post(
            &format!("{}/credentials/{own_credential}/revoke", sa(me)),
            Some(&rotated),
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let admin = &rotated;

    // With a second active Admin, the first may be demoted or disabled — then the second is
    // the last one and is protected in turn.
    let (second, r) = app
        .service_account(
            admin,
            &json!({"name": "second admin", "organizationalRole": "Admin",
                    "scopes": ["org:service-accounts:manage", "org:service-accounts:read"]}),
        )
        .await;
    let second_credential = r.data()["credentials"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app
        .post(&format!("{}/disable", sa(me)), Some(&second), &json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.data()["isActive"], false);
    let s = second.client_id;
    refused(
        app.post(
            &format!("{}/credentials/{second_credential}/revoke", sa(s)),
            Some(&second),
            &json!({}),
        )
        .await,
    );
    refused(
        app.post(&format!("{}/disable", sa(s)), Some(&second), &json!({}))
            .await,
    );
    // Re-enabling the first makes both active again; then the second may step down.
    let r = app
        .post(&format!("{}/enable", sa(me)), Some(&second), &json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app
        .put(
            &sa(s),
            Some(admin),
            &json!({"organizationalRole": "Member"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    refused(app.delete(&sa(me), Some(admin)).await);
    // The weak Admin and the manager may go: neither was an active Admin.
    for id in [weak.client_id, manager.client_id] {
        assert_eq!(app.delete(&sa(id), Some(admin)).await.status, 200);
    }
    // And the admin still works.
    assert_eq!(
        app.get("/api/v2/users/profile", Some(admin)).await.status,
        200
    );
}

/// Two Admins disabling each other at the same moment: exactly one succeeds (on PostgreSQL
/// the organization's row is locked for the change; SQLite has one writer).
#[tokio::test]
async fn two_admins_cannot_disable_each_other_at_once() {
    let app = TestApp::spawn().await;
    let org = app.org("Race").await;
    let first = &org.admin;
    for round in 0..5 {
        let (second, _) = app
            .service_account(
                first,
                &json!({"name": format!("second {round}"), "organizationalRole": "Admin",
                        "scopes": ["org:service-accounts:manage"]}),
            )
            .await;
        let disable = |id: uuid::Uuid| format!("/api/v2/service-accounts/{id}/disable");
        let (to_second, to_first) = (disable(second.client_id), disable(first.client_id));
        let empty = json!({});
        let (a, b) = tokio::join!(
            app.post(&to_second, Some(first), &empty),
            app.post(&to_first, Some(&second), &empty),
        );
        // Exactly one succeeds. The other is refused by the last-Admin guard (409) or, when
        // the winner's change committed before the other request was authenticated, because
        // its own account is already disabled (401). Either way one Admin stays active.
        let mut statuses = [a.status, b.status];
        statuses.sort();
        let loser_refused = (statuses == [200, 409])
            || (statuses == [200, 401]
                && (a.text.contains("disabled") || b.text.contains("disabled")));
        assert!(loser_refused, "{statuses:?}: {} / {}", a.text, b.text);
        // The winner re-enables the other; then the second goes, and the next round starts
        // with the first Admin alone again.
        let (winner, loser) = if a.status == 200 {
            (first, second.client_id)
        } else {
            (&second, first.client_id)
        };
        // The winner still works, and the loser is the one disabled.
        let r = app
            .get(&format!("/api/v2/service-accounts/{loser}"), Some(winner))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.data()["isActive"], false, "{}", r.text);
        let r = app
            .post(
                &format!("/api/v2/service-accounts/{loser}/enable"),
                Some(winner),
                &json!({}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = app
            .delete(
                &format!("/api/v2/service-accounts/{}", second.client_id),
                Some(first),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
}
