use palisade_test_utils::TestApp;
use serde_json::json;

#[tokio::test]
async fn profile_of_a_service_account_is_its_own_identity() {
    let app = TestApp::spawn().await;
    let org = app.org("Profile").await;
    let ws = app.workspace(&org, "Prod").await;
    let (cred, _) = app
        .service_account(
            &org.admin,
            &json!({"name": "Sync bot", "scopes": ["org:users:manage"],
                    "workspaceAssignments": [{"workspaceId": ws, "role": "IncidentResponder"}]}),
        )
        .await;
    let r = app.get("/api/v2/users/profile", Some(&cred)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let d = r.data();
    assert_eq!(d["id"], cred.client_id.to_string());
    assert_eq!(d["displayName"], "Sync bot");
    assert_eq!(d["isServiceAccount"], true);
    assert_eq!(d["organizationRole"], "Member");
    assert_eq!(d["workspaceRole"], "IncidentResponder");
    assert_eq!(d["roleAssignments"][0]["workspaceId"], ws.to_string());
    assert_eq!(d["roleAssignments"][0]["workspaceName"], "Prod");

    let r = app
        .put(
            "/api/v2/users/profile",
            Some(&cred),
            &json!({"displayName": "Sync bot v2"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.data()["displayName"], "Sync bot v2");
    let r = app.get("/api/v2/users/profile", Some(&cred)).await;
    assert_eq!(r.data()["displayName"], "Sync bot v2");
    let r = app
        .put(
            "/api/v2/users/profile",
            Some(&cred),
            &json!({"displayName": ""}),
        )
        .await;
    r.assert_problem(400, "VALIDATION_ERROR");
}

#[tokio::test]
async fn users_lifecycle_and_workspace_roles() {
    let app = TestApp::spawn().await;
    let org = app.org("Users").await;
    let ws = app.workspace(&org, "Prod").await;
    let r = app
        .post(
            "/api/v2/users",
            Some(&org.admin),
            &json!({"users": [
                {"displayName": "Jane Doe", "email": "jane.doe@contoso.com", "organizationalRole": "UserAdmin", "tenantId": "t-1"},
                {"displayName": "Sam Rivera", "email": "sam@contoso.com", "isOwner": true}
            ], "assignToWorkspace": true, "workspaceId": ws, "role": "Analyst"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.data(), &json!(true));

    let r = app.get("/api/v2/users", Some(&org.admin)).await;
    let users = r.data().as_array().unwrap().clone();
    assert_eq!(users.len(), 2);
    let jane = users
        .iter()
        .find(|u| u["email"] == "jane.doe@contoso.com")
        .unwrap();
    assert_eq!(jane["organizationRole"], "UserAdmin");
    assert_eq!(jane["organizationalRole"], "UserAdmin");
    assert_eq!(jane["firstName"], "Jane");
    assert_eq!(jane["lastName"], "Doe");
    assert_eq!(jane["appRole"], "DefaultAccess");
    assert_eq!(jane["isServiceAccount"], false);
    assert_eq!(jane["workspaceRole"], "IncidentAnalyst");
    assert_eq!(jane["roleAssignments"][0]["workspaceName"], "Prod");
    let jane_id = jane["id"].as_str().unwrap().to_string();
    let sam_id = users
        .iter()
        .find(|u| u["email"] == "sam@contoso.com")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    let r = app
        .get(&format!("/api/v2/users/{jane_id}"), Some(&org.admin))
        .await;
    assert_eq!(r.data()["displayName"], "Jane Doe");
    assert_eq!(r.data()["isActive"], true);

    let r = app
        .put(
            "/api/v2/users",
            Some(&org.admin),
            &json!({"userId": jane_id, "displayName": "Jane Q. Doe"}),
        )
        .await;
    assert_eq!(r.data(), &json!(true));
    let r = app
        .get(&format!("/api/v2/users/{jane_id}"), Some(&org.admin))
        .await;
    assert_eq!(r.data()["displayName"], "Jane Q. Doe");
    assert_eq!(
        r.data()["email"],
        "jane.doe@contoso.com",
        "untouched fields stay"
    );

    let r = app
        .put(
            "/api/v2/users/organization/role",
            Some(&org.admin),
            &json!({"userId": jane_id, "organizationalRole": "Admin"}),
        )
        .await;
    assert_eq!(r.data(), &json!(true));
    let r = app
        .get(&format!("/api/v2/users/{jane_id}"), Some(&org.admin))
        .await;
    assert_eq!(r.data()["organizationalRole"], "Admin");

    // Assign Sam as ContentAdmin; query the workspace's users by account and by workspace.
    let r = app
        .post(
            "/api/v2/users/workspace",
            Some(&org.admin),
            &json!({"workspaceId": ws, "role": "ContentAdmin", "userIds": [sam_id]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app
        .post(
            "/api/v2/users/workspace/users",
            Some(&org.admin),
            &json!({"accountId": org.account_id}),
        )
        .await;
    assert_eq!(r.data().as_array().unwrap().len(), 2, "{}", r.text);
    let r = app
        .post(
            "/api/v2/users/workspace/users",
            Some(&org.admin),
            &json!({"accountId": ws, "role": "ContentAdmin"}),
        )
        .await;
    let list = r.data().as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["userId"], sam_id);
    assert_eq!(list[0]["workspaceId"], ws.to_string());
    let r = app
        .post(
            "/api/v2/users/workspace/users",
            Some(&org.admin),
            &json!({"accountId": org.account_id, "query": "JANE"}),
        )
        .await;
    assert_eq!(r.data().as_array().unwrap().len(), 1);
    app.post(
        "/api/v2/users/workspace/users",
        Some(&org.admin),
        &json!({}),
    )
    .await
    .assert_problem(400, "VALIDATION_ERROR");

    // Unknown users are named in the errors map; nothing is granted.
    let ghost = uuid::Uuid::new_v4();
    let r = app
        .post(
            "/api/v2/users/workspace",
            Some(&org.admin),
            &json!({"workspaceId": ws, "role": "Owner", "userIds": [sam_id, ghost]}),
        )
        .await;
    r.assert_problem(400, "VALIDATION_ERROR");
    assert!(r.json["errors"]["userIds[1]"].is_array());

    let r = app
        .delete(&format!("/api/v2/users/{jane_id}"), Some(&org.admin))
        .await;
    assert_eq!(r.data(), &json!(true));
    app.get(&format!("/api/v2/users/{jane_id}"), Some(&org.admin))
        .await
        .assert_problem(404, "NOT_FOUND");
    app.delete(&format!("/api/v2/users/{jane_id}"), Some(&org.admin))
        .await
        .assert_problem(404, "NOT_FOUND");
}

#[tokio::test]
async fn user_validation() {
    let app = TestApp::spawn().await;
    let org = app.org("Users").await;
    let cases = [
        (json!({}), "users"),
        (json!({"users": []}), "users"),
        (
            json!({"users": [{"email": "a@b.example"}]}),
            "users[0].displayName",
        ),
        (
            json!({"users": [{"displayName": "A", "email": "nope"}]}),
            "users[0].email",
        ),
        (
            json!({"users": [{"displayName": "A", "organizationalRole": "King"}]}),
            "users[0].organizationalRole",
        ),
        (
            json!({"users": [{"displayName": "A", "userId": "x"}]}),
            "users[0].userId",
        ),
        (
            json!({"users": [{"displayName": "A"}], "workspaceId": uuid::Uuid::new_v4()}),
            "workspaceId",
        ),
    ];
    for (body, field) in cases {
        let r = app.post("/api/v2/users", Some(&org.admin), &body).await;
        r.assert_problem(400, "VALIDATION_ERROR");
        assert!(r.json["errors"][field].is_array(), "{field}: {}", r.text);
    }
    let r = app
        .put(
            "/api/v2/users",
            Some(&org.admin),
            &json!({"displayName": "x"}),
        )
        .await;
    r.assert_problem(400, "VALIDATION_ERROR");
    let r = app
        .put(
            "/api/v2/users",
            Some(&org.admin),
            &json!({"userId": uuid::Uuid::new_v4()}),
        )
        .await;
    r.assert_problem(404, "NOT_FOUND");
    let r = app
        .put(
            "/api/v2/users/organization/role",
            Some(&org.admin),
            &json!({"userId": uuid::Uuid::new_v4(), "organizationalRole": "Nope"}),
        )
        .await;
    assert!(r.json["errors"]["organizationalRole"].is_array());
    assert_eq!(
        app.get("/api/v2/users", Some(&org.admin)).await.data(),
        &json!([])
    );
}
