use palisade_test_utils::TestApp;
use serde_json::json;

#[tokio::test]
async fn accounts_and_workspaces() {
    let app = TestApp::spawn().await;
    let org = app.org("Contoso MSSP").await;
    let r = app.get("/api/v2/accounts", Some(&org.admin)).await;
    let own = &r.data()[0];
    assert_eq!(own["id"], org.account_id.to_string());
    assert_eq!(own["isServiceProvider"], true);
    assert_eq!(own["name"], "Contoso MSSP");

    let r = app
        .post(
            "/api/v2/accounts",
            Some(&org.admin),
            &json!({"name": "Fabrikam"}),
        )
        .await;
    assert_eq!(r.status, 201);
    let fabrikam = r.data()["id"].as_str().unwrap().to_string();
    assert_eq!(r.data()["isServiceProvider"], false);
    app.post("/api/v2/accounts", Some(&org.admin), &json!({"name": ""}))
        .await
        .assert_problem(400, "VALIDATION_ERROR");

    // A workspace under the customer account; a Member creator becomes its Owner.
    let (member, _) = app
        .service_account(
            &org.admin,
            &json!({"name": "builder", "scopes": ["org:workspaces:manage"]}),
        )
        .await;
    let r = app
        .post(
            "/api/v2/workspaces",
            Some(&member),
            &json!({"name": "Fabrikam Prod", "accountId": fabrikam}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let ws = r.data()["id"].as_str().unwrap().to_string();
    assert_eq!(r.data()["accountName"], "Fabrikam");
    let r = app
        .get(&format!("/api/v2/accounts/{fabrikam}"), Some(&org.admin))
        .await;
    assert_eq!(r.data()["workspaceCount"], 1);
    let r = app.get("/api/v2/workspaces", Some(&member)).await;
    assert_eq!(r.data().as_array().unwrap().len(), 1);

    // Another workspace the member holds no role on is not listed for it, but is for the admin.
    app.post(
        "/api/v2/workspaces",
        Some(&org.admin),
        &json!({"name": "Contoso SOC"}),
    )
    .await;
    assert_eq!(app.count("/api/v2/workspaces", &member).await, 1);
    assert_eq!(app.count("/api/v2/workspaces", &org.admin).await, 2);

    let r = app
        .put(
            &format!("/api/v2/workspaces/{ws}"),
            Some(&member),
            &json!({"name": "Fabrikam Production"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.data()["name"], "Fabrikam Production");
    assert_eq!(
        r.data()["accountId"],
        fabrikam,
        "account kept when not given"
    );
    let r = app
        .put(
            &format!("/api/v2/workspaces/{ws}"),
            Some(&member),
            &json!({"name": "x", "accountId": uuid::Uuid::new_v4()}),
        )
        .await;
    r.assert_problem(400, "VALIDATION_ERROR");

    let r = app
        .delete(&format!("/api/v2/workspaces/{ws}"), Some(&member))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    app.get(&format!("/api/v2/workspaces/{ws}"), Some(&org.admin))
        .await
        .assert_problem(404, "NOT_FOUND");
    // The role went with the workspace.
    assert_eq!(
        app.get("/api/v2/workspaces", Some(&member)).await.data(),
        &json!([])
    );
}
