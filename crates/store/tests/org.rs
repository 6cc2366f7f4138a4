//! The organization area: organizations, accounts, workspaces, roles, service accounts,
//! credentials and users, on both engines.

mod common;

use chrono::{Duration, Utc};
use common::{assert_not_found, db};
use palisade_domain::vocab::{OrgRole, WorkspaceRole};
use palisade_domain::{Error, Scope};
use palisade_store::{NewCredential, NewUser, PrincipalKind, ServiceAccountChanges, UserChanges};
use uuid::Uuid;

fn user(name: &str, email: &str) -> NewUser {
    NewUser {
        id: Uuid::new_v4(),
        display_name: name.into(),
        email: Some(email.into()),
        tenant_id: None,
        org_role: OrgRole::Member,
        is_owner: false,
    }
}

#[tokio::test]
async fn organizations_are_found_by_id_and_own_their_account() {
    let db = db().await;
    let a = db.org("A").await;
    let found = db
        .store
        .system()
        .organization(a.id.uuid())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((found.id, found.name.as_str()), (a.id, "A"));
    assert_eq!(found.own_account_id, a.account);
    assert!(db
        .store
        .system()
        .organization(Uuid::new_v4())
        .await
        .unwrap()
        .is_none());
    assert_eq!(db.tenant(&a).own_account_id().await.unwrap(), a.account);
}

#[tokio::test]
async fn accounts_are_listed_oldest_first_within_the_organization() {
    let db = db().await;
    let (a, b) = (db.org("A").await, db.org("B").await);
    let ta = db.tenant(&a);
    let customer = ta.create_account("Customer").await.unwrap();
    assert!(!customer.is_service_provider);
    db.tenant(&b).create_account("Other").await.unwrap();
    let list = ta.list_accounts().await.unwrap();
    let names: Vec<&str> = list.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["A", "Customer"]);
    assert!(list[0].is_service_provider);
    assert_eq!(list[0].workspace_count, 1);
    assert!(db
        .tenant(&b)
        .get_account(customer.id)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn workspaces_belong_to_one_organization_and_its_accounts() {
    let db = db().await;
    let (a, b) = (db.org("A").await, db.org("B").await);
    let (ta, tb) = (db.tenant(&a), db.tenant(&b));
    // Under another organization's account: refused, nothing created.
    match tb.create_workspace(a.account, "Stray", None).await {
        Err(Error::Validation(errors)) => assert!(errors.contains_key("accountId")),
        other => panic!("{other:?}"),
    }
    assert_eq!(tb.list_workspaces().await.unwrap().len(), 1);
    assert_eq!(
        ta.get_account(a.account)
            .await
            .unwrap()
            .unwrap()
            .workspace_count,
        1
    );
    // Oldest first; another organization's workspace is not found.
    let second = ta
        .create_workspace(a.account, "Second", None)
        .await
        .unwrap();
    let ids: Vec<_> = ta
        .list_workspaces()
        .await
        .unwrap()
        .iter()
        .map(|w| w.id)
        .collect();
    assert_eq!(ids, [a.ws, second.id]);
    assert!(tb.workspace(a.ws.uuid()).await.unwrap().is_none());
    assert_eq!(ta.workspace(a.ws.uuid()).await.unwrap().unwrap().id, a.ws);
    assert_eq!(ta.workspace_names().await.unwrap().len(), 2);
    // A foreign WorkspaceId is refused before any SQL.
    assert_not_found(tb.update_workspace(&a.ws, "Taken", b.account).await);
    assert_not_found(tb.delete_workspace(&a.ws).await);
    // Moving to another organization's account is refused.
    assert!(ta
        .update_workspace(&second.id, "Moved", b.account)
        .await
        .is_err());
    let renamed = ta
        .update_workspace(&second.id, "Renamed", a.account)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(renamed.name, "Renamed");
    assert!(ta.delete_workspace(&second.id).await.unwrap());
    assert!(ta.workspace(second.id.uuid()).await.unwrap().is_none());
}

#[tokio::test]
async fn roles_go_only_to_the_organizations_own_principals() {
    let db = db().await;
    let (a, b) = (db.org("A").await, db.org("B").await);
    let (ta, tb) = (db.tenant(&a), db.tenant(&b));
    let alice = user("Alice Admin", "alice@a.example");
    ta.add_users(std::slice::from_ref(&alice), None)
        .await
        .unwrap();
    // B grants a role on its own workspace to A's user: nothing is written.
    tb.grant_roles(
        &b.ws,
        PrincipalKind::User,
        &[alice.id],
        WorkspaceRole::Owner,
    )
    .await
    .unwrap();
    assert!(tb
        .workspace_users(&[b.ws], None, None)
        .await
        .unwrap()
        .is_empty());
    assert!(tb.principal_roles(alice.id).await.unwrap().is_empty());
    // A's grant works, and a second grant changes the role.
    ta.grant_roles(
        &a.ws,
        PrincipalKind::User,
        &[alice.id],
        WorkspaceRole::WorkspaceReader,
    )
    .await
    .unwrap();
    ta.grant_roles(
        &a.ws,
        PrincipalKind::User,
        &[alice.id],
        WorkspaceRole::IncidentResponder,
    )
    .await
    .unwrap();
    let roles = ta.principal_roles(alice.id).await.unwrap();
    assert_eq!(roles.len(), 1);
    assert_eq!(roles[0].role, WorkspaceRole::IncidentResponder);
    // Filters of the workspace-users listing.
    let found = ta
        .workspace_users(
            &[a.ws],
            Some("ALICE@A"),
            Some(WorkspaceRole::IncidentResponder),
        )
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].user_id, alice.id);
    assert!(ta
        .workspace_users(&[a.ws], Some("nobody"), None)
        .await
        .unwrap()
        .is_empty());
    assert_not_found(tb.workspace_users(&[a.ws], None, None).await);
}

#[tokio::test]
async fn service_accounts_with_roles_and_credentials() {
    let db = db().await;
    let (a, b) = (db.org("A").await, db.org("B").await);
    let (ta, tb) = (db.tenant(&a), db.tenant(&b));
    let first = db.service_account(&a, "First", "hash-1").await;
    let second = db.service_account(&a, "Second", "hash-2").await;
    let names: Vec<String> = ta
        .list_service_accounts()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["First", "Second"]);
    let sa = ta.get_service_account(first).await.unwrap().unwrap();
    assert_eq!(sa.account_id, a.account);
    assert_eq!(sa.roles.len(), 1);
    assert_eq!(sa.roles[0].workspace_id, a.ws.uuid());
    assert_eq!(sa.credentials.len(), 1);
    assert!(tb.get_service_account(first).await.unwrap().is_none());
    // An assignment on another organization's workspace fails the whole change.
    let changes = ServiceAccountChanges {
        name: Some("Renamed".into()),
        assignments: Some(vec![(b.ws, WorkspaceRole::Owner)]),
        ..Default::default()
    };
    assert_not_found(ta.update_service_account(second, changes).await);
    let unchanged = ta.get_service_account(second).await.unwrap().unwrap();
    assert_eq!(unchanged.name, "Second");
    assert_eq!(unchanged.roles.len(), 1);
    // Credentials: oldest first; revocation is idempotent and keeps the first instant.
    let new = NewCredential {
        id: Uuid::new_v4(),
        secret_hash: "hash-3".into(),
        scopes: vec![Scope::IncidentsWrite],
        expires_at: Utc::now() + Duration::days(1),
    };
    let cred_id = new.id;
    assert!(tb.create_credential(first, new).await.unwrap().is_none());
    let new = NewCredential {
        id: cred_id,
        secret_hash: "hash-3".into(),
        scopes: vec![Scope::IncidentsWrite],
        expires_at: Utc::now() + Duration::days(1),
    };
    let cred = ta.create_credential(first, new).await.unwrap().unwrap();
    assert_eq!(cred.scopes, vec![Scope::IncidentsWrite]);
    let creds = ta
        .get_service_account(first)
        .await
        .unwrap()
        .unwrap()
        .credentials;
    assert_eq!(creds.last().unwrap().id, cred_id);
    let revoked = ta.revoke_credential(first, cred_id).await.unwrap().unwrap();
    let again = ta.revoke_credential(first, cred_id).await.unwrap().unwrap();
    assert!(revoked.revoked_at.is_some());
    assert_eq!(revoked.revoked_at, again.revoked_at);
    assert!(tb
        .revoke_credential(first, cred_id)
        .await
        .unwrap()
        .is_none());
    // A second credential with a used secret hash is a conflict.
    let dup = NewCredential {
        id: Uuid::new_v4(),
        secret_hash: "hash-1".into(),
        scopes: vec![],
        expires_at: Utc::now() + Duration::days(1),
    };
    assert!(matches!(
        ta.create_credential(second, dup).await,
        Err(Error::Conflict(_))
    ));
    assert!(ta.delete_service_account(second).await.unwrap());
    assert!(!ta.delete_service_account(second).await.unwrap());
}

#[tokio::test]
async fn the_credential_lookup_finds_the_organization_and_verified_workspaces() {
    let db = db().await;
    let a = db.org("A").await;
    let sa = db.service_account(&a, "Sync", "the-hash").await;
    let system = db.store.system();
    let rec = system.find_credential("the-hash").await.unwrap().unwrap();
    assert_eq!((rec.org, rec.service_account_id), (a.id, sa));
    assert_eq!(rec.workspace_roles.len(), 1);
    assert_eq!(rec.workspace_roles[0].0, a.ws);
    assert!(rec.org_workspaces.is_empty());
    assert!(system.find_credential("other").await.unwrap().is_none());
    // lastUsedAt only moves forward.
    let later = Utc::now();
    let earlier = later - Duration::hours(1);
    system
        .record_last_used(&[(a.id, sa, rec.credential_id, later)])
        .await
        .unwrap();
    system
        .record_last_used(&[(a.id, sa, rec.credential_id, earlier)])
        .await
        .unwrap();
    let row = db
        .tenant(&a)
        .get_service_account(sa)
        .await
        .unwrap()
        .unwrap();
    let used = row.last_used_at.unwrap();
    assert!((used - later).num_milliseconds().abs() < 1);
    assert_eq!(row.credentials[0].last_used_at, Some(used));
}

#[tokio::test]
async fn users_are_unique_by_email_within_an_organization() {
    let db = db().await;
    let (a, b) = (db.org("A").await, db.org("B").await);
    let (ta, tb) = (db.tenant(&a), db.tenant(&b));
    let ann = user("Ann Lee", "ann@x.example");
    ta.add_users(
        std::slice::from_ref(&ann),
        Some((&a.ws, WorkspaceRole::IncidentAnalyst)),
    )
    .await
    .unwrap();
    // The same email in the same organization (any case) conflicts, all or nothing.
    let batch = [
        user("Bob", "bob@x.example"),
        user("Ann Again", "ANN@x.example"),
    ];
    assert!(matches!(
        ta.add_users(&batch, None).await,
        Err(Error::Conflict(_))
    ));
    assert_eq!(ta.list_users().await.unwrap().len(), 1);
    // In another organization it is another user; a grant on a foreign workspace fails.
    tb.add_users(&[user("Ann Other", "ann@x.example")], None)
        .await
        .unwrap();
    assert_not_found(
        tb.add_users(
            &[user("C", "c@x.example")],
            Some((&a.ws, WorkspaceRole::Owner)),
        )
        .await,
    );
    let got = ta.get_user(ann.id).await.unwrap().unwrap();
    assert_eq!(got.roles.len(), 1);
    assert!(tb.get_user(ann.id).await.unwrap().is_none());
    assert_eq!(
        ta.existing_users(&[ann.id, Uuid::new_v4()]).await.unwrap(),
        [ann.id]
    );
    assert!(tb.existing_users(&[ann.id]).await.unwrap().is_empty());
    // Updates keep absent fields.
    let changes = UserChanges {
        org_role: Some(OrgRole::Admin),
        ..Default::default()
    };
    assert!(ta.update_user(ann.id, changes).await.unwrap());
    let got = ta.get_user(ann.id).await.unwrap().unwrap();
    assert_eq!(got.organizational_role, OrgRole::Admin);
    assert_eq!(got.email.as_deref(), Some("ann@x.example"));
    assert!(!tb
        .update_user(ann.id, UserChanges::default())
        .await
        .unwrap());
    assert!(!tb.delete_user(ann.id).await.unwrap());
    assert!(ta.delete_user(ann.id).await.unwrap());
    assert!(ta
        .workspace_users(&[a.ws], None, None)
        .await
        .unwrap()
        .is_empty());
}
