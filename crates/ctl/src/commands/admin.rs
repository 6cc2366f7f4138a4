//! `webhooks`, `connectors`, `gamebooks` and `service-accounts`.

use futures_util::TryStreamExt;
use palisade_client::query::{CreatedAtQuery, DeliveryLogQuery, WorkspaceIdsQuery};
use palisade_client::types::datasources::DataSource;
use palisade_client::types::gamebooks::{Gamebook, StartGamebookRequest};
use palisade_client::types::org::{
    CreateServiceAccountRequest, CredentialStatus, WorkspaceAssignmentInput,
};
use palisade_client::types::webhooks::{DeliveryLog, Webhook, WebhookRequest};
use palisade_client::Client;

use crate::cli::{ConnectorsCmd, GamebooksCmd, ServiceAccountsCmd, WebhooksCmd};
use crate::output::{cut, opt, Output};
use crate::{profile, usage, CmdResult, Failure};

pub async fn webhooks(client: &Client, cmd: WebhooksCmd, out: &Output) -> CmdResult {
    let hooks = client.webhooks();
    match cmd {
        WebhooksCmd::List => {
            let list = hooks.list().await?;
            out.list(&list, &["ID", "NAME", "STATUS", "URL", "EVENTS"], |w| {
                vec![
                    w.id.to_string(),
                    cut(&w.name, 30),
                    format!("{:?}", w.status),
                    cut(&w.url, 50),
                    w.event_types.join(","),
                ]
            });
        }
        WebhooksCmd::Create {
            name,
            url,
            events,
            workspace,
            bearer_token_env,
        } => {
            let token = match &bearer_token_env {
                Some(var) => Some(std::env::var(var).map_err(|_| {
                    Failure::Usage(format!("the environment variable {var} is not set"))
                })?),
                None => None,
            };
            let body = WebhookRequest {
                name: Some(name),
                url: Some(url),
                event_types: Some(events),
                workspace_id: workspace.map(|w| Some(w.to_string())),
                authentication_type: Some(if token.is_some() { "Bearer" } else { "None" }.into()),
                token,
                ..Default::default()
            };
            let created = hooks.create(&body).await?;
            let mut fields = webhook_fields(&created.webhook);
            fields.push(("signing secret", created.signing_secret.clone()));
            out.object(&created, &fields);
            if !out.json() {
                eprintln!("the signing secret is shown only now: keep it");
            }
        }
        WebhooksCmd::Test { id } => {
            let log = hooks.test(id).await?;
            out.object(&log, &log_fields(&log));
        }
        WebhooksCmd::Logs { id, limit } => {
            let query = DeliveryLogQuery {
                page_size: 100,
                ..Default::default()
            };
            let mut stream = hooks.log_stream(id, query);
            let mut logs = Vec::new();
            while let Some(log) = stream.try_next().await? {
                if out.json() {
                    out.line(&log);
                } else {
                    logs.push(log);
                }
                if limit.is_some_and(|n| logs.len() >= n) {
                    break;
                }
            }
            if !out.json() {
                out.list(
                    &logs,
                    &[
                        "ID", "CREATED", "EVENT", "STATUS", "HTTP", "ATTEMPT", "ERROR",
                    ],
                    |l| {
                        vec![
                            l.id.to_string(),
                            l.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                            l.event_type.clone(),
                            format!("{:?}", l.status),
                            opt(&l.http_status_code),
                            l.attempt_number.to_string(),
                            cut(l.error_message.as_deref().unwrap_or("-"), 40),
                        ]
                    },
                );
            }
        }
        WebhooksCmd::Redeliver {
            id,
            log_id,
            created_at,
        } => {
            let created_at = match created_at {
                Some(t) => t,
                None => find_log(client, id, log_id).await?.created_at,
            };
            let log = hooks
                .redeliver(id, log_id, &CreatedAtQuery { created_at })
                .await?;
            out.object(&log, &log_fields(&log));
        }
        WebhooksCmd::Listen {
            port,
            bind,
            tolerance,
            secret_stdin,
            count,
        } => {
            let secret =
                profile::read_secret(secret_stdin, "PALISADE_WEBHOOK_SECRET", "signing secret")?;
            crate::listen::run(&bind, port, secret, tolerance, count, out).await?;
        }
    }
    Ok(())
}

async fn find_log(client: &Client, id: uuid::Uuid, log_id: uuid::Uuid) -> CmdResult<DeliveryLog> {
    let query = DeliveryLogQuery {
        page_size: 100,
        ..Default::default()
    };
    let mut stream = client.webhooks().log_stream(id, query);
    while let Some(log) = stream.try_next().await? {
        if log.id == log_id {
            return Ok(log);
        }
    }
    usage(format!("webhook {id} has no delivery log {log_id}"))
}

fn webhook_fields(w: &Webhook) -> Vec<(&'static str, String)> {
    vec![
        ("id", w.id.to_string()),
        ("name", w.name.clone()),
        ("url", w.url.clone()),
        ("status", format!("{:?}", w.status)),
        ("events", w.event_types.join(", ")),
        ("workspace", opt(&w.workspace_id)),
    ]
}

fn log_fields(l: &DeliveryLog) -> Vec<(&'static str, String)> {
    vec![
        ("id", l.id.to_string()),
        ("event", format!("{} ({})", l.event_type, l.event_id)),
        ("status", format!("{:?}", l.status)),
        ("http status", opt(&l.http_status_code)),
        ("attempt", l.attempt_number.to_string()),
        ("created", l.created_at.to_rfc3339()),
        ("error", opt(&l.error_message)),
    ]
}

pub async fn connectors(client: &Client, cmd: ConnectorsCmd, out: &Output) -> CmdResult {
    let ds = client.datasources();
    match cmd {
        ConnectorsCmd::List { workspace } => {
            let list: Vec<DataSource> = match workspace {
                Some(ws) => ds.list(ws).await?,
                None => ds
                    .across(&WorkspaceIdsQuery::default())
                    .await?
                    .into_iter()
                    .flat_map(|w| w.data_sources)
                    .collect(),
            };
            out.list(
                &list,
                &["ID", "WORKSPACE", "TYPE", "NAME", "CONNECTED", "STATE"],
                |d| {
                    vec![
                        d.data_connector_id.to_string(),
                        d.workspace_id.to_string(),
                        d.connector_type.as_str().to_string(),
                        cut(&d.name, 40),
                        d.connected.to_string(),
                        d.status
                            .as_ref()
                            .map_or("-", |s| s.state.as_str())
                            .to_string(),
                    ]
                },
            );
        }
        ConnectorsCmd::Status {
            workspace,
            connector,
        } => {
            let s = ds.status(workspace, connector).await?;
            out.object(
                &s,
                &[
                    ("state", s.state.as_str().to_string()),
                    ("last poll", opt(&s.last_poll_at)),
                    ("last success", opt(&s.last_success_at)),
                    ("last error", opt(&s.last_error)),
                    ("cursor", s.cursor.clone()),
                    ("next poll", opt(&s.next_poll_at)),
                    ("pulled", s.pulled_total.to_string()),
                    ("write-backs pending", s.write_backs_pending.to_string()),
                    ("write-backs failed", s.write_backs_failed.to_string()),
                ],
            );
        }
        ConnectorsCmd::Sync {
            workspace,
            connector,
        } => {
            let answer = ds.sync(workspace, connector).await?;
            if out.json() {
                out.line(&answer);
            } else {
                println!("sync of {connector} requested");
            }
        }
    }
    Ok(())
}

pub async fn gamebooks(client: &Client, cmd: GamebooksCmd, out: &Output) -> CmdResult {
    let g = client.gamebooks();
    let run = match cmd {
        GamebooksCmd::Run {
            workspace,
            source,
            incident_id,
            rule,
            playbooks,
            title,
        } => {
            if rule.is_none() && playbooks.is_empty() {
                return usage("give --rule or at least one --playbook");
            }
            let body = StartGamebookRequest {
                source: Some(source),
                incident_id: Some(incident_id),
                rule_id: rule.map(|r| r.to_string()),
                playbook_ids: (!playbooks.is_empty())
                    .then(|| playbooks.iter().map(|p| p.to_string()).collect()),
                title,
            };
            g.start(workspace, &body).await?
        }
        GamebooksCmd::Approve { workspace, run_id } => g.approve(workspace, run_id).await?,
    };
    out.object(&run, &run_fields(&run));
    Ok(())
}

fn run_fields(r: &Gamebook) -> Vec<(&'static str, String)> {
    vec![
        ("id", r.id.to_string()),
        ("title", r.title.clone()),
        ("status", format!("{:?}", r.status)),
        (
            "incident",
            format!("{} {}", r.source.as_str(), r.incident_id),
        ),
        ("admin required", r.is_admin_required.to_string()),
        ("playbooks", r.playbooks.len().to_string()),
    ]
}

pub async fn service_accounts(client: &Client, cmd: ServiceAccountsCmd, out: &Output) -> CmdResult {
    let sa = client.service_accounts();
    match cmd {
        ServiceAccountsCmd::Create {
            name,
            description,
            role,
            scopes,
            workspaces,
        } => {
            let mut assignments = Vec::new();
            for w in &workspaces {
                let Some((ws, role)) = w.split_once(':') else {
                    return usage(format!("--workspace '{w}' is not WORKSPACE:ROLE"));
                };
                assignments.push(WorkspaceAssignmentInput {
                    workspace_id: Some(ws.trim().to_string()),
                    role: Some(role.trim().to_string()),
                });
            }
            let body = CreateServiceAccountRequest {
                name: Some(name),
                description,
                organizational_role: Some(role),
                workspace_assignments: Some(assignments),
                scopes: (!scopes.is_empty()).then_some(scopes),
                ..Default::default()
            };
            let created = sa.create(&body).await?;
            out.object(
                &created,
                &[
                    ("id", created.service_account.id.to_string()),
                    ("name", created.service_account.name.clone()),
                    ("client id", created.client_id.to_string()),
                    ("client secret", created.client_secret.clone()),
                ],
            );
            if !out.json() {
                eprintln!("the client secret is shown only now: keep it");
            }
        }
        ServiceAccountsCmd::Rotate { id, revoke_old } => {
            let before = sa.get(id).await?;
            let issued = sa.issue_credential(id, None).await?;
            let mut revoked = Vec::new();
            if revoke_old {
                for c in before
                    .credentials
                    .iter()
                    .filter(|c| c.status == CredentialStatus::Active)
                {
                    if c.id != issued.credential.id {
                        sa.revoke_credential(id, c.id).await?;
                        revoked.push(c.id);
                    }
                }
            }
            let doc = serde_json::json!({"issued": issued, "revoked": revoked});
            out.object(
                &doc,
                &[
                    ("client id", issued.client_id.to_string()),
                    ("client secret", issued.client_secret.clone()),
                    ("credential", issued.credential.id.to_string()),
                    ("expires", issued.credential.expires_at.to_rfc3339()),
                    ("revoked", revoked.len().to_string()),
                ],
            );
            if !out.json() {
                eprintln!("the client secret is shown only now: keep it");
            }
        }
    }
    Ok(())
}
