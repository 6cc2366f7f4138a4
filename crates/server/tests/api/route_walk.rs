//! Walks every registered route: without credentials → 401; with a credential lacking the
//! route's scope → 403 `INSUFFICIENT_SCOPE`; workspace routes without (or with too low) a
//! role → 403 `INSUFFICIENT_WORKSPACE_ROLE`.

use palisade_domain::{Scope, WorkspaceRole};
use palisade_server::http::registry::Access;
use palisade_test_utils::{Cred, TestApp};
use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

fn fill(path: &str, workspace: Uuid) -> String {
    path.split('/')
        .map(|seg| {
            if seg == "{workspaceId}" {
                workspace.to_string()
            } else if seg == "{guide}" {
                "webhooks.md".to_string()
            } else if seg.starts_with('{') {
                Uuid::new_v4().to_string()
            } else {
                seg.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

async fn call(
    app: &TestApp,
    method: &Method,
    path: &str,
    cred: Option<&Cred>,
) -> palisade_test_utils::Resp {
    let body = (method == Method::POST || method == Method::PUT).then(|| json!({}));
    app.send(method.clone(), path, cred, body.as_ref()).await
}

#[tokio::test]
async fn every_route_enforces_authentication_scope_and_role() {
    let app = TestApp::spawn().await;
    let org = app.org("Walk").await;
    let ws = app.workspace(&org, "Walked").await;
    let (incidents_only, _) = app
        .service_account(
            &org.admin,
            &json!({"name": "incidents", "scopes": ["incidents:read"]}),
        )
        .await;
    let (webhooks_only, _) = app
        .service_account(
            &org.admin,
            &json!({"name": "webhooks", "scopes": ["webhooks:read"]}),
        )
        .await;
    let all: Vec<&str> = Scope::ALL.iter().map(|s| s.as_str()).collect();
    let (no_role, _) = app
        .service_account(&org.admin, &json!({"name": "no role", "scopes": all}))
        .await;
    let (reader, _) = app
        .service_account(
            &org.admin,
            &json!({"name": "reader", "scopes": all,
                    "workspaceAssignments": [{"workspaceId": ws, "role": "WorkspaceReader"}]}),
        )
        .await;

    let (_, table) = palisade_server::routes::api().into_parts();
    let mut checked = (0, 0, 0, 0);
    for route in &table {
        let path = fill(route.path, ws);
        let m = &route.method;
        let what = format!("{m} {}", route.path);
        match route.access {
            Access::Public => {
                let r = call(&app, m, &path, None).await;
                assert!(r.status < 400, "{what} is public: {}", r.text);
                continue;
            }
            Access::Authenticated => {}
            Access::Org(_) | Access::Workspace(..) | Access::WorkspaceAny(..) => {}
        }
        let r = call(&app, m, &path, None).await;
        r.assert_problem(401, "UNAUTHORIZED");
        crate::openapi::assert_documented(route, 401, &r.text);
        checked.0 += 1;

        let scopes = route.access.scopes();
        if let Some(&scope) = scopes.first() {
            let lacking = if scopes.contains(&Scope::IncidentsRead) {
                &webhooks_only
            } else {
                &incidents_only
            };
            let r = call(&app, m, &path, Some(lacking)).await;
            assert_eq!(r.code(), "INSUFFICIENT_SCOPE", "{what}: {}", r.text);
            r.assert_problem(403, "INSUFFICIENT_SCOPE");
            crate::openapi::assert_documented(route, 403, &r.text);
            assert_eq!(r.json["target"], scope.as_str(), "{what}");
            checked.1 += 1;
        }
        if let Some(role) = route.access.role() {
            let r = call(&app, m, &path, Some(&no_role)).await;
            assert_eq!(
                r.code(),
                "INSUFFICIENT_WORKSPACE_ROLE",
                "{what}: {}",
                r.text
            );
            r.assert_problem(403, "INSUFFICIENT_WORKSPACE_ROLE");
            crate::openapi::assert_documented(route, 403, &r.text);
            checked.2 += 1;
            if role > WorkspaceRole::WorkspaceReader {
                let r = call(&app, m, &path, Some(&reader)).await;
                assert_eq!(
                    r.code(),
                    "INSUFFICIENT_WORKSPACE_ROLE",
                    "{what}: {}",
                    r.text
                );
                checked.3 += 1;
            } else {
                let r = call(&app, m, &path, Some(&reader)).await;
                assert!(
                    r.status != 401 && r.status != 403,
                    "{what}: reader suffices: {}",
                    r.text
                );
                if r.status >= 400 {
                    crate::openapi::assert_documented(route, r.status, &r.text);
                }
            }
        }
    }
    // The walk covered the table (and the table has workspace routes of both kinds).
    let guarded = table.iter().filter(|r| r.access != Access::Public).count();
    assert_eq!(checked.0, guarded);
    let scoped = table
        .iter()
        .filter(|r| !r.access.scopes().is_empty())
        .count();
    assert_eq!(checked.1, scoped, "{checked:?}");
    assert!(scoped >= 25, "{checked:?}");
    assert!(checked.2 >= 3 && checked.3 >= 2, "{checked:?}");
}

#[tokio::test]
async fn implied_scopes_and_org_wide_roles() {
    let app = TestApp::spawn().await;
    let org = app.org("Implied").await;
    let ws = app.workspace(&org, "W").await;
    // :manage implies :read.
    let (manager, _) = app
        .service_account(
            &org.admin,
            &json!({"name": "m", "scopes": ["org:service-accounts:manage"]}),
        )
        .await;
    assert_eq!(
        app.get("/api/v2/service-accounts", Some(&manager))
            .await
            .status,
        200
    );
    // …but not another resource's read.
    app.get("/api/v2/users", Some(&manager))
        .await
        .assert_problem(403, "INSUFFICIENT_SCOPE");
    // A WorkspaceAdmin administers every workspace without an assignment.
    let (ws_admin, _) = app
        .service_account(
            &org.admin,
            &json!({"name": "wa", "organizationalRole": "WorkspaceAdmin", "scopes": ["org:workspaces:manage"]}),
        )
        .await;
    let r = app
        .put(
            &format!("/api/v2/workspaces/{ws}"),
            Some(&ws_admin),
            &json!({"name": "Renamed"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.data()["name"], "Renamed");
}
