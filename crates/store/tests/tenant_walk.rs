//! Every read and write of the tenant handle is organization-scoped.
//!
//! Two organizations get the same shape of data. Then every public method of `Tenant` is
//! called through organization B aimed at organization A's ids — A's `WorkspaceId`, and B's
//! own workspace with A's object ids — and must see nothing of A; after every call A's data,
//! read through A, is unchanged. The walk is complete by construction: the test reads the
//! store's source, collects the public methods of every `impl Tenant` block, and fails when
//! one is not walked here.

mod common;

use std::collections::BTreeSet;

use chrono::{Duration, Utc};
use common::{
    audit_row, comment, connector, credential, db, doc, item, new_run, playbook, rule, setup,
    webhook_fields, webhook_secrets, Db, Org,
};

use palisade_domain::vocab::{IncidentSource, OrgRole, Severity, WorkspaceRole};
use palisade_domain::{Error, Result};
use palisade_store::{
    AcrossFilter, AuditFilter, IncidentKey, IngestVolume, LogKind, NewAuditEntry, NewComment,
    NewLogRow, NewServiceAccount, NewSession, NewUser, PrincipalKind, RunFilter,
    ServiceAccountChanges, Tenant, TicketFields, UserChanges, UserMatch,
};
use uuid::Uuid;

fn audit_entry(actor: Uuid) -> NewAuditEntry {
    NewAuditEntry {
        actor_kind: "user",
        actor_id: actor,
        actor_name: "Ann Lee".into(),
        channel: "console",
        action: "PUT /status".into(),
        target: "/x".into(),
        status: 200,
        address: Some("127.0.0.1".into()),
        request_id: None,
    }
}

fn comment_of(message: &str) -> NewComment {
    comment(message, false)
}

const SRC: IncidentSource = IncidentSource::Sentinel;
const FOREVER: i64 = i64::MAX;

/// The ids of one organization's seeded data.
struct Seed {
    org: Org,
    customer: Uuid,
    sa: Uuid,
    credential: Uuid,
    user: Uuid,
    incident: IncidentKey,
    comment: String,
    connector: Uuid,
    polled: Uuid,
    webhook: Uuid,
    log: Uuid,
    playbook: Uuid,
    rule: Uuid,
    run: Uuid,
    audit: Uuid,
}

/// The same shape of data in one organization.
async fn seed(db: &Db, name: &str) -> Seed {
    let org = db.org(name).await;
    let t = db.tenant(&org);
    let customer = t.create_account("Customer").await.unwrap().id;
    let sa = Uuid::new_v4();
    let cred = credential(&format!("hash-{name}"));
    let credential = cred.id;
    t.create_service_account(
        NewServiceAccount {
            id: sa,
            name: "Sync".into(),
            description: None,
            org_role: OrgRole::Member,
            assignments: vec![(org.ws, WorkspaceRole::IncidentAnalyst)],
        },
        cred,
    )
    .await
    .unwrap();
    let user = Uuid::new_v4();
    t.add_users(
        &[NewUser {
            id: user,
            display_name: "Ann Lee".into(),
            email: Some("ann@x.example".into()),
            tenant_id: None,
            org_role: OrgRole::Member,
            is_owner: false,
        }],
        Some((&org.ws, WorkspaceRole::IncidentResponder)),
    )
    .await
    .unwrap();
    t.ingest_incidents(
        &org.ws,
        SRC,
        &[item(
            "I-1",
            doc("Phishing", Severity::High, Some("web01")),
            1,
        )],
        None,
    )
    .await
    .unwrap();
    let incident = IncidentKey::new(org.ws, SRC, "I-1");
    let comment = t
        .add_comment(&incident, &comment_of("first look"))
        .await
        .unwrap()
        .unwrap()
        .id;
    t.upsert_ticket(
        &org.ws,
        "T-1",
        &TicketFields {
            psa: "Jira".into(),
            number: Some("1".into()),
            grouping_id: Some("g".into()),
            priority: Some("High".into()),
            doc: "{}".into(),
        },
    )
    .await
    .unwrap();
    t.link_ticket(&incident, "T-1", "Ann").await.unwrap();
    let conn = t
        .create_connector(&org.ws, &connector("Splunk", true))
        .await
        .unwrap()
        .id;
    t.record_volume(&org.ws, conn, &[(3_600_000_000, 10, 100)])
        .await
        .unwrap();
    let polled = t
        .create_polled_connector(&org.ws, &connector("Sentinel", true), &setup())
        .await
        .unwrap();
    t.insert_logs(
        &org.ws,
        LogKind::SignIn,
        &[NewLogRow {
            id: "L-1".into(),
            user_key: "user".into(),
            upn_key: "user@x.example".into(),
            created_at: 10,
            doc: "{}".into(),
        }],
        10,
    )
    .await
    .unwrap();
    let entry = audit_row(org.ws.uuid(), 20);
    let audit_id = entry.id;
    t.insert_investigation_audit(&org.ws, &entry).await.unwrap();
    let hook = t
        .create_webhook(&webhook_fields(&org, "hook"), &webhook_secrets())
        .await
        .unwrap();
    // A logged attempt (a test event's).
    let log = palisade_store::LogRow {
        id: Uuid::new_v4(),
        org: org.id.uuid(),
        webhook_id: hook.id,
        event_id: Uuid::new_v4(),
        event_type: "incident.created".into(),
        status: "Succeeded".into(),
        http_status_code: Some(200),
        error_message: None,
        account_id: Some(org.account),
        account_name: None,
        subject_id: Some("I-1".into()),
        subject_display_name: None,
        subject_attributes: None,
        is_test: true,
        original_delivery_id: None,
        attempt_number: 1,
        latency_ms: Some(1),
        request_url: "https://hooks.example/in".into(),
        request_headers: "{}".into(),
        request_body: "{}".into(),
        response_snippet: None,
        event_occurred_at: Some(1),
        completed_at: Some(1),
        redelivery_requested_at: None,
        redelivered: false,
        created_at: 1,
    };
    assert!(t.insert_test_log(&log).await.unwrap());
    let book = t
        .create_playbook(&playbook("Label", true))
        .await
        .unwrap()
        .id;
    let rule = t
        .create_rule(&org.ws, &rule("Phish", vec![book], false))
        .await
        .unwrap()
        .id;
    let run = t
        .create_run(&org.ws, &new_run("I-1", vec![(book, true)]))
        .await
        .unwrap();
    assert!(t
        .set_user_password(user, Some("hash-of-ann"))
        .await
        .unwrap());
    t.record_audit(&audit_entry(user)).await.unwrap();
    assert!(t
        .create_session(NewSession {
            token_hash: &format!("session-{name}"),
            user_id: user,
            csrf_token: "csrf",
            expires_at: Utc::now() + Duration::hours(1),
            address: None,
            method: "password",
        })
        .await
        .unwrap());
    Seed {
        org,
        customer,
        sa,
        credential,
        user,
        incident,
        comment,
        connector: conn,
        polled,
        webhook: hook.id,
        log: log.id,
        playbook: book,
        rule,
        run,
        audit: audit_id,
    }
}

/// Everything of an organization, read through its own tenant handle.
async fn snapshot(t: &Tenant<'_>, s: &Seed) -> Vec<String> {
    let ws = &s.org.ws;
    let mut out = vec![
        format!("{:?}", t.list_accounts().await.unwrap()),
        format!("{:?}", t.list_workspaces().await.unwrap()),
        format!("{:?}", t.list_service_accounts().await.unwrap()),
        format!("{:?}", t.list_users().await.unwrap()),
        format!("{:?}", t.workspace_users(&[*ws], None, None).await.unwrap()),
        format!("{:?}", t.get_incident(&s.incident).await.unwrap()),
        format!("{:?}", t.incident_comments(&s.incident).await.unwrap()),
        format!("{:?}", t.events().await.unwrap()),
        format!("{:?}", t.stream_floors().await.unwrap()),
        format!("{:?}", t.search_tickets(ws, None, None, 100).await.unwrap()),
        format!("{:?}", t.ticket_links(ws, &["T-1".into()]).await.unwrap()),
        format!("{:?}", t.list_connectors(ws).await.unwrap()),
        t.connector_engines(ws)
            .await
            .unwrap()
            .iter()
            .map(|e| {
                format!(
                    "{} {} {} {} {:?} {} {}",
                    e.datasource_id,
                    e.settings,
                    e.credentials,
                    e.paused,
                    e.cursor,
                    e.next_poll_at,
                    e.poll_interval_secs
                )
            })
            .collect::<Vec<_>>()
            .join("\n"),
        format!("{:?}", t.volume(ws, None, 0, FOREVER).await.unwrap()),
        format!(
            "{:?}",
            t.query_logs(
                ws,
                LogKind::SignIn,
                UserMatch::ObjectId,
                "user",
                0,
                FOREVER,
                None,
                100
            )
            .await
            .unwrap()
        ),
        format!(
            "{:?}",
            t.list_investigation_audit(ws, None, 100).await.unwrap()
        ),
        format!(
            "{:?}",
            t.list_logs(s.webhook, None, None, None, 100).await.unwrap()
        ),
        format!(
            "{:?}",
            t.audit_log(&AuditFilter::default(), 100).await.unwrap()
        ),
        format!("{:?}", t.open_incident_counts().await.unwrap()),
        format!(
            "{:?}",
            t.incident_milestones(Utc::now() - Duration::days(30))
                .await
                .unwrap()
        ),
        format!("{:?}", t.user_by_email("ann@x.example").await.unwrap()),
        format!("{:?}", t.list_playbooks().await.unwrap()),
        format!("{:?}", t.list_rules(ws).await.unwrap()),
        format!("{:?}", t.get_run(None, s.run).await.unwrap()),
        format!(
            "{:?}",
            t.list_runs(&RunFilter::default(), None, 0, 100)
                .await
                .unwrap()
        ),
    ];
    // A webhook's Debug leaves its secrets out; compare every stored field.
    for w in t.list_webhooks().await.unwrap() {
        out.push(format!(
            "{} {} {} {:?} {} {} {:?} {:?} {} {:?} {:?} {:?} {:?} {} {}",
            w.id,
            w.name,
            w.url,
            w.workspace_id,
            w.status,
            w.target_account_id,
            w.event_types,
            w.monitored_account_ids,
            w.authentication_type,
            w.sealed_credentials,
            w.sealed_signing_secret,
            w.disable_reason,
            w.disabled_at,
            w.consecutive_failures,
            w.last_modified_at
        ));
    }
    out
}

/// A's ids that must never appear in what B reads.
fn a_ids(s: &Seed) -> Vec<String> {
    [
        s.org.ws.uuid(),
        s.customer,
        s.sa,
        s.credential,
        s.user,
        s.connector,
        s.polled,
        s.webhook,
        s.log,
        s.playbook,
        s.rule,
        s.run,
        s.audit,
    ]
    .iter()
    .map(Uuid::to_string)
    .chain([s.comment.clone()])
    .collect()
}

/// Nothing found: `None`, or not found.
fn nothing<T: std::fmt::Debug>(what: &str, r: Result<Option<T>>) {
    match r {
        Ok(None) | Err(Error::NotFound { .. }) => {}
        other => panic!("{what}: B reached A's data: {other:?}"),
    }
}

/// Refused: any error (not found, invalid, conflict).
fn refused<T: std::fmt::Debug>(what: &str, r: Result<T>) {
    if let Ok(v) = r {
        panic!("{what}: B's call aimed at A's data succeeded: {v:?}");
    }
}

/// Nothing changed: `false`, or not found.
fn unchanged(what: &str, r: Result<bool>) {
    match r {
        Ok(false) | Err(Error::NotFound { .. }) => {}
        other => panic!("{what}: B changed A's data: {other:?}"),
    }
}

/// `NotFound` exactly (a WorkspaceId of another organization).
fn not_found<T: std::fmt::Debug>(what: &str, r: Result<T>) {
    match r {
        Err(Error::NotFound { .. }) => {}
        other => panic!("{what}: expected NotFound for A's workspace, got {other:?}"),
    }
}

/// What B reads holds none of A's ids.
fn none_of_a<T: std::fmt::Debug>(what: &str, ids: &[String], r: Result<T>) {
    let text = format!("{:?}", r.expect(what));
    for id in ids {
        assert!(
            !text.contains(id.as_str()),
            "{what}: B saw A's {id}: {text}"
        );
    }
}

/// The public methods of every `impl Tenant` block in the store's source.
fn tenant_methods() -> BTreeSet<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![root];
    let mut methods = BTreeSet::new();
    let mut blocks = 0;
    while let Some(path) = files.pop() {
        if path.is_dir() {
            for e in std::fs::read_dir(&path).unwrap() {
                files.push(e.unwrap().path());
            }
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let mut inside = false;
        for line in text.lines() {
            if line.starts_with("impl") && line.contains("Tenant<") && line.ends_with('{') {
                inside = true;
                blocks += 1;
                continue;
            }
            if inside && line == "}" {
                inside = false;
                continue;
            }
            let t = line.trim_start();
            if inside && (t.starts_with("pub fn ") || t.starts_with("pub async fn ")) {
                let name = t
                    .trim_start_matches("pub async fn ")
                    .trim_start_matches("pub fn ")
                    .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .next()
                    .unwrap()
                    .to_string();
                methods.insert(name);
            }
        }
    }
    assert!(blocks >= 10, "found only {blocks} `impl Tenant` blocks");
    methods
}

#[tokio::test]
async fn every_tenant_method_is_scoped_to_its_organization() {
    let db = db().await;
    let a = seed(&db, "A").await;
    let b = seed(&db, "B").await;
    let (ta, tb) = (db.tenant(&a.org), db.tenant(&b.org));
    let before = snapshot(&ta, &a).await;
    let ids = a_ids(&a);
    let (aws, bws) = (&a.org.ws, &b.org.ws);
    let mut walked: BTreeSet<String> = BTreeSet::new();

    // Calls one method (named as in the source) through B; A must be unchanged after it.
    macro_rules! walk {
        ($name:literal, $($check:tt)*) => {{
            walked.insert($name.to_string());
            { $($check)* };
            let after = snapshot(&ta, &a).await;
            assert!(after == before, "{}: A's data changed", $name);
        }};
    }

    // ---- organization: accounts, workspaces, roles
    walk!("own_account_id", {
        assert_eq!(tb.own_account_id().await.unwrap(), b.org.account);
    });
    walk!(
        "list_accounts",
        none_of_a("list_accounts", &ids, tb.list_accounts().await)
    );
    walk!(
        "get_account",
        nothing("get_account", tb.get_account(a.customer).await)
    );
    walk!("create_account", {
        assert!(!ids.contains(&tb.create_account("New").await.unwrap().id.to_string()));
    });
    walk!(
        "list_workspaces",
        none_of_a("list_workspaces", &ids, tb.list_workspaces().await)
    );
    walk!(
        "workspace",
        nothing("workspace", tb.workspace(aws.uuid()).await)
    );
    walk!(
        "workspace_names",
        none_of_a("workspace_names", &ids, tb.workspace_names().await)
    );
    walk!("create_workspace", {
        refused(
            "create_workspace",
            tb.create_workspace(a.customer, "X", None).await,
        );
        // B's own account, A's service account as the owner: the workspace is B's, A's
        // account gets no role.
        tb.create_workspace(
            b.org.account,
            "Y",
            Some((PrincipalKind::ServiceAccount, a.sa)),
        )
        .await
        .unwrap();
        assert!(tb.principal_roles(a.sa).await.unwrap().is_empty());
    });
    walk!("update_workspace", {
        not_found(
            "update_workspace",
            tb.update_workspace(aws, "X", b.org.account).await,
        );
        refused(
            "update_workspace",
            tb.update_workspace(bws, "X", a.customer).await,
        );
    });
    walk!(
        "delete_workspace",
        not_found("delete_workspace", tb.delete_workspace(aws).await)
    );
    walk!("principal_roles", {
        assert!(tb.principal_roles(a.sa).await.unwrap().is_empty());
        assert!(tb.principal_roles(a.user).await.unwrap().is_empty());
    });
    walk!("grant_roles", {
        not_found(
            "grant_roles",
            tb.grant_roles(aws, PrincipalKind::User, &[b.user], WorkspaceRole::Owner)
                .await,
        );
        // B's workspace, A's principals: nothing granted.
        tb.grant_roles(bws, PrincipalKind::User, &[a.user], WorkspaceRole::Owner)
            .await
            .unwrap();
        tb.grant_roles(
            bws,
            PrincipalKind::ServiceAccount,
            &[a.sa],
            WorkspaceRole::Owner,
        )
        .await
        .unwrap();
        assert!(tb.principal_roles(a.user).await.unwrap().is_empty());
        assert!(tb.principal_roles(a.sa).await.unwrap().is_empty());
    });

    // ---- service accounts and credentials
    walk!(
        "list_service_accounts",
        none_of_a(
            "list_service_accounts",
            &ids,
            tb.list_service_accounts().await
        )
    );
    walk!(
        "get_service_account",
        nothing("get_service_account", tb.get_service_account(a.sa).await)
    );
    walk!("create_service_account", {
        refused(
            "create_service_account",
            tb.create_service_account(
                NewServiceAccount {
                    id: Uuid::new_v4(),
                    name: "Stray".into(),
                    description: None,
                    org_role: OrgRole::Member,
                    assignments: vec![(*aws, WorkspaceRole::Owner)],
                },
                credential("hash-stray"),
            )
            .await,
        );
        // An existing id (A's) is a conflict, not a takeover.
        refused(
            "create_service_account",
            tb.create_service_account(
                NewServiceAccount {
                    id: a.sa,
                    name: "Takeover".into(),
                    description: None,
                    org_role: OrgRole::Admin,
                    assignments: Vec::new(),
                },
                credential("hash-takeover"),
            )
            .await,
        );
    });
    walk!("update_service_account", {
        let rename = ServiceAccountChanges {
            name: Some("Mine".into()),
            ..Default::default()
        };
        nothing(
            "update_service_account",
            tb.update_service_account(a.sa, rename).await,
        );
        let assign = ServiceAccountChanges {
            assignments: Some(vec![(*aws, WorkspaceRole::Owner)]),
            ..Default::default()
        };
        refused(
            "update_service_account",
            tb.update_service_account(b.sa, assign).await,
        );
    });
    walk!("set_service_account_active", {
        nothing(
            "set_service_account_active",
            tb.set_service_account_active(a.sa, false).await,
        );
    });
    walk!("delete_service_account", {
        unchanged(
            "delete_service_account",
            tb.delete_service_account(a.sa).await,
        );
    });
    walk!("create_credential", {
        nothing(
            "create_credential",
            tb.create_credential(a.sa, credential("hash-extra")).await,
        );
    });
    walk!("credential", {
        nothing("credential", tb.credential(a.sa, a.credential).await);
        nothing("credential", tb.credential(b.sa, a.credential).await);
    });
    walk!("revoke_credential", {
        nothing(
            "revoke_credential",
            tb.revoke_credential(a.sa, a.credential).await,
        );
        nothing(
            "revoke_credential",
            tb.revoke_credential(b.sa, a.credential).await,
        );
    });

    // ---- users
    walk!(
        "list_users",
        none_of_a("list_users", &ids, tb.list_users().await)
    );
    walk!("get_user", nothing("get_user", tb.get_user(a.user).await));
    walk!("existing_users", {
        assert!(tb.existing_users(&[a.user]).await.unwrap().is_empty());
    });
    walk!("add_users", {
        let stray = NewUser {
            id: Uuid::new_v4(),
            display_name: "Stray".into(),
            email: Some("stray@x.example".into()),
            tenant_id: None,
            org_role: OrgRole::Member,
            is_owner: false,
        };
        not_found(
            "add_users",
            tb.add_users(&[stray], Some((aws, WorkspaceRole::Owner)))
                .await,
        );
        let takeover = NewUser {
            id: a.user,
            display_name: "Takeover".into(),
            email: Some("takeover@x.example".into()),
            tenant_id: None,
            org_role: OrgRole::Admin,
            is_owner: true,
        };
        refused("add_users", tb.add_users(&[takeover], None).await);
    });
    walk!("update_user", {
        let changes = UserChanges {
            display_name: Some("Mine".into()),
            ..Default::default()
        };
        unchanged("update_user", tb.update_user(a.user, changes).await);
    });
    walk!(
        "delete_user",
        unchanged("delete_user", tb.delete_user(a.user).await)
    );
    walk!("workspace_users", {
        not_found(
            "workspace_users",
            tb.workspace_users(&[*aws], None, None).await,
        );
        none_of_a(
            "workspace_users",
            &ids,
            tb.workspace_users(&[*bws], None, None).await,
        );
    });

    // ---- incidents
    let a_key = &a.incident;
    let a_id_in_b = IncidentKey::new(*bws, SRC, "I-404");
    walk!(
        "get_incident",
        nothing("get_incident", tb.get_incident(a_key).await)
    );
    walk!("ingest_incidents", {
        not_found(
            "ingest_incidents",
            tb.ingest_incidents(
                aws,
                SRC,
                &[item("I-1", doc("Mine", Severity::Low, None), 1)],
                None,
            )
            .await,
        );
    });
    walk!("incidents_by_entity", {
        let (since, until) = (Utc::now() - Duration::days(3650), Utc::now());
        not_found(
            "incidents_by_entity",
            tb.incidents_by_entity(aws, SRC, "Host", "web01", since, until, None, 10)
                .await,
        );
        none_of_a(
            "incidents_by_entity",
            &[aws.uuid().to_string()],
            tb.incidents_by_entity(bws, SRC, "Host", "web01", since, until, None, 10)
                .await,
        );
    });
    walk!("list_across", {
        let all = AcrossFilter {
            sources: IncidentSource::ALL.to_vec(),
            ..Default::default()
        };
        none_of_a("list_across", &ids, tb.list_across(&all, None, 100).await);
        let aimed = AcrossFilter {
            workspaces: Some(vec![*aws]),
            ..all
        };
        not_found("list_across", tb.list_across(&aimed, None, 100).await);
    });
    walk!(
        "stream_floors",
        none_of_a("stream_floors", &ids, tb.stream_floors().await)
    );
    walk!("events", none_of_a("events", &ids, tb.events().await));
    walk!("incident_comments", {
        not_found("incident_comments", tb.incident_comments(a_key).await);
    });
    walk!("modify_incident", {
        not_found(
            "modify_incident",
            tb.modify_incident(a_key, |r| Ok((r.doc.clone(), vec![comment_of("mine")])))
                .await,
        );
        nothing(
            "modify_incident",
            tb.modify_incident(&a_id_in_b, |r| Ok((r.doc.clone(), Vec::new())))
                .await,
        );
    });
    walk!(
        "add_comment",
        not_found("add_comment", tb.add_comment(a_key, &comment_of("x")).await)
    );
    walk!("update_comment", {
        not_found(
            "update_comment",
            tb.update_comment(a_key, &a.comment, "x").await,
        );
        nothing(
            "update_comment",
            tb.update_comment(&b.incident, &a.comment, "x").await,
        );
    });

    // ---- tickets
    let fields = TicketFields {
        psa: "Jira".into(),
        number: Some("9".into()),
        grouping_id: None,
        priority: None,
        doc: "{}".into(),
    };
    walk!(
        "upsert_ticket",
        not_found("upsert_ticket", tb.upsert_ticket(aws, "T-1", &fields).await)
    );
    walk!(
        "get_ticket",
        nothing("get_ticket", tb.get_ticket(aws, "T-1").await)
    );
    walk!("search_tickets", {
        not_found(
            "search_tickets",
            tb.search_tickets(aws, None, None, 10).await,
        );
    });
    walk!("ticket_links", {
        not_found("ticket_links", tb.ticket_links(aws, &["T-1".into()]).await);
    });
    walk!("set_ticket_priority", {
        nothing(
            "set_ticket_priority",
            tb.set_ticket_priority(aws, "T-1", "Low", "{}").await,
        );
    });
    walk!(
        "link_ticket",
        not_found("link_ticket", tb.link_ticket(a_key, "T-1", "Eve").await)
    );
    walk!("unlink_ticket", {
        not_found("unlink_ticket", tb.unlink_ticket(a_key, "T-1", "Eve").await);
    });

    // ---- data sources and investigation
    walk!(
        "list_connectors",
        not_found("list_connectors", tb.list_connectors(aws).await)
    );
    walk!("get_connector", {
        nothing("get_connector", tb.get_connector(aws, a.connector).await);
        nothing("get_connector", tb.get_connector(bws, a.connector).await);
    });
    walk!("create_connector", {
        not_found(
            "create_connector",
            tb.create_connector(aws, &connector("QRadar", true)).await,
        );
    });
    walk!("update_connector", {
        nothing(
            "update_connector",
            tb.update_connector(aws, a.connector, &connector("QRadar", true))
                .await,
        );
        nothing(
            "update_connector",
            tb.update_connector(bws, a.connector, &connector("QRadar", true))
                .await,
        );
    });
    walk!("connector_engines", {
        not_found("connector_engines", tb.connector_engines(aws).await);
        none_of_a("connector_engines", &ids, tb.connector_engines(bws).await);
    });
    walk!("connector_engine", {
        nothing("connector_engine", tb.connector_engine(aws, a.polled).await);
        nothing("connector_engine", tb.connector_engine(bws, a.polled).await);
    });
    walk!("create_polled_connector", {
        not_found(
            "create_polled_connector",
            tb.create_polled_connector(aws, &connector("DefenderXDR", true), &setup())
                .await,
        );
    });
    walk!("update_polled_connector", {
        unchanged(
            "update_polled_connector",
            tb.update_polled_connector(aws, a.polled, &setup()).await,
        );
        unchanged(
            "update_polled_connector",
            tb.update_polled_connector(bws, a.polled, &setup()).await,
        );
    });
    walk!("set_connector_paused", {
        unchanged(
            "set_connector_paused",
            tb.set_connector_paused(aws, a.polled, true).await,
        );
        unchanged(
            "set_connector_paused",
            tb.set_connector_paused(bws, a.polled, true).await,
        );
    });
    walk!("request_poll", {
        unchanged("request_poll", tb.request_poll(aws, a.polled).await);
        unchanged("request_poll", tb.request_poll(bws, a.polled).await);
    });
    walk!("delete_connector", {
        unchanged(
            "delete_connector",
            tb.delete_connector(aws, a.connector).await,
        );
        unchanged(
            "delete_connector",
            tb.delete_connector(bws, a.connector).await,
        );
    });
    walk!("record_volume", {
        unchanged(
            "record_volume",
            tb.record_volume(aws, a.connector, &[(3_600_000_000, 5, 5)])
                .await,
        );
        unchanged(
            "record_volume",
            tb.record_volume(bws, a.connector, &[(3_600_000_000, 5, 5)])
                .await,
        );
    });
    walk!("count_ingest", {
        let v = IngestVolume {
            defaults: connector("Splunk", true),
            hour_start: 3_600_000_000,
            events: 1,
            bytes: 1,
        };
        not_found("count_ingest", tb.count_ingest(aws, &v).await);
    });
    walk!("volume", {
        not_found("volume", tb.volume(aws, None, 0, FOREVER).await);
        none_of_a(
            "volume",
            &ids,
            tb.volume(bws, Some(a.connector), 0, FOREVER).await,
        );
    });
    walk!("first_volume_hours", {
        not_found("first_volume_hours", tb.first_volume_hours(aws).await);
    });
    walk!("insert_logs", {
        let row = NewLogRow {
            id: "L-2".into(),
            user_key: "user".into(),
            upn_key: "user@x.example".into(),
            created_at: 11,
            doc: "{}".into(),
        };
        not_found(
            "insert_logs",
            tb.insert_logs(aws, LogKind::SignIn, &[row], 11).await,
        );
    });
    walk!("query_logs", {
        not_found(
            "query_logs",
            tb.query_logs(
                aws,
                LogKind::SignIn,
                UserMatch::ObjectId,
                "user",
                0,
                FOREVER,
                None,
                10,
            )
            .await,
        );
    });
    walk!("insert_investigation_audit", {
        not_found(
            "insert_investigation_audit",
            tb.insert_investigation_audit(aws, &audit_row(aws.uuid(), 30))
                .await,
        );
    });
    walk!("list_investigation_audit", {
        not_found(
            "list_investigation_audit",
            tb.list_investigation_audit(aws, None, 10).await,
        );
    });

    // ---- webhooks
    walk!("create_webhook", {
        refused(
            "create_webhook",
            tb.create_webhook(&webhook_fields(&a.org, "hook"), &webhook_secrets())
                .await,
        );
        let mut foreign_account = webhook_fields(&b.org, "hook");
        foreign_account.target_account_id = a.customer;
        refused(
            "create_webhook",
            tb.create_webhook(&foreign_account, &webhook_secrets())
                .await,
        );
    });
    walk!(
        "list_webhooks",
        none_of_a("list_webhooks", &ids, tb.list_webhooks().await)
    );
    walk!(
        "get_webhook",
        nothing("get_webhook", tb.get_webhook(a.webhook).await)
    );
    walk!("update_webhook", {
        nothing(
            "update_webhook",
            tb.update_webhook(a.webhook, &webhook_fields(&b.org, "hook"))
                .await,
        );
    });
    walk!("set_webhook_secrets", {
        nothing(
            "set_webhook_secrets",
            tb.set_webhook_secrets(a.webhook, &webhook_secrets()).await,
        );
    });
    walk!("transition_webhook", {
        nothing(
            "transition_webhook",
            tb.transition_webhook(a.webhook, "Active", "Paused", None)
                .await,
        );
        nothing(
            "transition_webhook",
            tb.transition_webhook(a.webhook, "Disabled", "Active", None)
                .await,
        );
    });
    walk!(
        "delete_webhook",
        unchanged("delete_webhook", tb.delete_webhook(a.webhook).await)
    );
    walk!("insert_test_log", {
        let mut log = ta.get_log(a.webhook, a.log).await.unwrap().unwrap();
        log.id = Uuid::new_v4();
        unchanged("insert_test_log", tb.insert_test_log(&log).await);
        log.org = b.org.id.uuid();
        unchanged("insert_test_log", tb.insert_test_log(&log).await);
    });
    walk!("list_logs", {
        none_of_a(
            "list_logs",
            &ids,
            tb.list_logs(a.webhook, None, None, None, 10).await,
        );
    });
    walk!(
        "get_log",
        nothing("get_log", tb.get_log(a.webhook, a.log).await)
    );
    walk!(
        "redeliver",
        nothing("redeliver", tb.redeliver(a.webhook, a.log).await)
    );

    // ---- gamebooks
    walk!("create_playbook", {
        let id = tb
            .create_playbook(&playbook("Mine", true))
            .await
            .unwrap()
            .id;
        assert!(ta.get_playbook(id).await.unwrap().is_none());
    });
    walk!(
        "list_playbooks",
        none_of_a("list_playbooks", &ids, tb.list_playbooks().await)
    );
    walk!(
        "get_playbook",
        nothing("get_playbook", tb.get_playbook(a.playbook).await)
    );
    walk!("update_playbook", {
        nothing(
            "update_playbook",
            tb.update_playbook(a.playbook, &playbook("Mine", true))
                .await,
        );
    });
    walk!(
        "delete_playbook",
        unchanged("delete_playbook", tb.delete_playbook(a.playbook).await)
    );
    walk!("playbooks_by_id", {
        assert!(tb.playbooks_by_id(&[a.playbook]).await.unwrap().is_empty());
    });
    walk!(
        "create_rule",
        not_found(
            "create_rule",
            tb.create_rule(aws, &rule("Phish", vec![b.playbook], false))
                .await
        )
    );
    walk!(
        "list_rules",
        not_found("list_rules", tb.list_rules(aws).await)
    );
    walk!("get_rule", {
        nothing("get_rule", tb.get_rule(aws, a.rule).await);
        nothing("get_rule", tb.get_rule(bws, a.rule).await);
    });
    walk!("update_rule", {
        nothing(
            "update_rule",
            tb.update_rule(aws, a.rule, &rule("Phish", vec![b.playbook], false))
                .await,
        );
        nothing(
            "update_rule",
            tb.update_rule(bws, a.rule, &rule("Phish", vec![b.playbook], false))
                .await,
        );
    });
    walk!("delete_rule", {
        unchanged("delete_rule", tb.delete_rule(aws, a.rule).await);
        unchanged("delete_rule", tb.delete_rule(bws, a.rule).await);
    });
    walk!(
        "create_run",
        not_found(
            "create_run",
            tb.create_run(aws, &new_run("I-1", vec![(b.playbook, true)]))
                .await
        )
    );
    walk!("get_run", {
        nothing("get_run", tb.get_run(None, a.run).await);
        nothing("get_run", tb.get_run(Some(aws), a.run).await);
        nothing("get_run", tb.get_run(Some(bws), a.run).await);
    });
    walk!(
        "steps_for",
        assert!(tb.steps_for(&[a.run]).await.unwrap().is_empty())
    );
    walk!("list_runs", {
        none_of_a(
            "list_runs",
            &ids,
            tb.list_runs(&RunFilter::default(), None, 0, 100).await,
        );
        let aimed = RunFilter {
            workspaces: Some(vec![*aws]),
            ..Default::default()
        };
        not_found("list_runs", tb.list_runs(&aimed, None, 0, 100).await);
    });
    walk!("approve_run", {
        not_found("approve_run", tb.approve_run(aws, a.run, "eve").await);
        nothing("approve_run", tb.approve_run(bws, a.run, "eve").await);
    });
    walk!("cancel_run", {
        not_found("cancel_run", tb.cancel_run(aws, a.run, "eve", false).await);
        nothing("cancel_run", tb.cancel_run(bws, a.run, "eve", false).await);
    });

    // ---- console: passwords, sessions, the audit log, the dashboard's aggregates
    walk!("set_user_password", {
        unchanged(
            "set_user_password",
            tb.set_user_password(a.user, Some("x")).await,
        );
    });
    walk!("user_auth_record", {
        nothing("user_auth_record", tb.user_auth_record(a.user).await);
    });
    walk!("user_by_email", {
        let found = tb.user_by_email("ann@x.example").await.unwrap();
        assert_eq!(found, Some(b.user));
    });
    walk!("create_session", {
        unchanged(
            "create_session",
            tb.create_session(NewSession {
                token_hash: "forged",
                user_id: a.user,
                csrf_token: "csrf",
                expires_at: Utc::now() + Duration::hours(1),
                address: None,
                method: "password",
            })
            .await,
        );
        assert!(db
            .store
            .system()
            .find_session("forged")
            .await
            .unwrap()
            .is_none());
    });
    walk!("record_audit", {
        tb.record_audit(&audit_entry(b.user)).await.unwrap();
    });
    walk!("audit_log", {
        let rows = tb.audit_log(&AuditFilter::default(), 100).await.unwrap();
        assert!(rows.iter().all(|r| r.actor_id != a.user), "{rows:?}");
        let aimed = AuditFilter {
            actor_id: Some(a.user),
            ..Default::default()
        };
        assert!(tb.audit_log(&aimed, 100).await.unwrap().is_empty());
    });
    walk!("open_incident_counts", {
        none_of_a(
            "open_incident_counts",
            &ids,
            tb.open_incident_counts().await,
        );
    });
    walk!("incident_milestones", {
        none_of_a(
            "incident_milestones",
            &ids,
            tb.incident_milestones(Utc::now() - Duration::days(30))
                .await,
        );
    });

    // The walk covers the tenant handle, all of it.
    let declared = tenant_methods();
    let missing: Vec<_> = declared.difference(&walked).collect();
    let stale: Vec<_> = walked.difference(&declared).collect();
    assert!(
        missing.is_empty(),
        "public Tenant methods not walked here: {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "walked methods that no longer exist: {stale:?}"
    );
}
