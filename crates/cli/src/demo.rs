//! `palisade demo`: a ready-to-explore server — one MSSP organization with its own account and
//! four customer accounts, twelve customer workspaces plus the SOC's own, a few thousand
//! incidents across all six sources, connectors with volume, sign-in and directory logs, a
//! playbook catalogue with gamebook rules, service tickets, two service accounts and a few
//! users.
//!
//! The demo database is kept between runs: a later run finds the demo it seeded (recorded in
//! the database) and serves it as it is, with whatever webhooks and credentials were added
//! since. A database holding other organizations is not seeded unless `--force`.

mod api;
mod connectors;

use palisade_demo::incidents as sample;
use palisade_domain::{OrgRole, Scope, WorkspaceRole};
use palisade_server::config::{redact_url, Config};
use palisade_server::{admin, app, Application};
use palisade_store::NewUser;
use palisade_types::incidents::IncidentSource;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

const CUSTOMERS: [(&str, &str); 4] = [
    ("Fabrikam Retail", "fabrikam.com"),
    ("Northwind Traders", "northwindtraders.com"),
    ("Tailspin Toys", "tailspintoys.com"),
    ("Woodgrove Bank", "woodgrovebank.com"),
];

/// Prints a line to stdout; a closed stdout (`palisade demo | head -1`) must not stop the
/// server.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// The server key under which the demo records what it seeded.
const MARKER: &str = "demo_seed";

pub struct Options {
    /// Seed even into a database that holds other organizations.
    pub force: bool,
    /// The default demo file, when no `--database` was given.
    pub default_file: Option<&'static str>,
}

/// What the demo seeded (kept in the database; never a secret).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Seeded {
    organization_id: Uuid,
    account_id: Uuid,
    client_id: Uuid,
    read_only_client_id: Uuid,
    workspaces: Vec<Uuid>,
    sign_in_logs_workspace_id: Uuid,
    investigation_users: Vec<String>,
    incidents: usize,
    investigation_logs: usize,
    playbooks: usize,
    gamebook_rules: usize,
    tickets: usize,
}

pub async fn run(config: Config, options: Options) -> anyhow::Result<()> {
    let database = redact_url(&config.database_url.0);
    let application = Application::build(config).await?;
    let store = application.state().store().clone();
    let err = |e: palisade_domain::Error| anyhow::anyhow!("{e}");
    let organizations = store.system().organization_ids().await.map_err(err)?;
    let kept: Option<Seeded> = store
        .system()
        .find_server_key(MARKER)
        .await
        .map_err(err)?
        .and_then(|v| serde_json::from_str(&v).ok());
    let base = format!("http://{}/api/v2", application.local_addr());
    match kept {
        Some(seeded) if !options.force && organizations == [seeded.organization_id] => {
            print_kept(&seeded, &base, options.default_file);
        }
        _ if !organizations.is_empty() && !options.force => {
            let reset = match options.default_file {
                Some(file) => {
                    format!(", `palisade demo --reset` to delete {file} and seed it afresh")
                }
                None => String::new(),
            };
            anyhow::bail!(
                "{database} already holds {} organization(s) the demo did not seed; the demo \
                 will not add a fake MSSP to them. Use a fresh --database, --force to seed \
                 anyway{reset}.",
                organizations.len()
            );
        }
        _ => {
            let (seeded, secrets) = seed(&application).await?;
            let marker = serde_json::to_string(&seeded)?;
            store
                .system()
                .server_key(MARKER, || marker)
                .await
                .map_err(err)?;
            print_seeded(&seeded, &secrets, &base);
        }
    }
    let seeded: Option<Seeded> = store
        .system()
        .find_server_key(MARKER)
        .await
        .map_err(err)?
        .and_then(|v| serde_json::from_str(&v).ok());
    // The simulated sources run as long as the server does.
    let _simulation = match seeded {
        Some(s) if !s.workspaces.is_empty() => {
            let ws = s.workspaces[0];
            let sim = connectors::start(&application, s.organization_id, ws).await?;
            let m = &sim.microsoft;
            say!("# Connectors: simulated sources on loopback — Sentinel ({}), Defender XDR ({}), CrowdStrike Falcon ({}), IBM QRadar ({}), Splunk ES ({}), SentinelOne ({}) — each produce an incident every 8 s; the workspace's six connectors poll them every 10 s: GET {base}/workspaces/{ws}/datasources (and …/{{dataConnectorId}}/status). Close a pulled incident in Palisade (PUT {base}/workspaces/{ws}/incidents/{{source}}/{{id}}/status) and its detail shows sync.state Synced once the simulated source took it.", m.sentinel.base(), m.graph.base(), sim.crowdstrike.base(), sim.qradar.base(), sim.splunk.base(), sim.sentinelone.base());
            Some(sim)
        }
        _ => None,
    };
    let addr = application.local_addr();
    say!("# Palisade demo is running at http://{addr} (API reference: http://{addr}/docs). Stop with Ctrl-C.");
    application.run_until(app::shutdown_signal()).await
}

/// The secrets of the two printed credentials (shown once, never stored).
struct Secrets {
    admin: String,
    read_only: String,
}

async fn seed(application: &Application) -> anyhow::Result<(Seeded, Secrets)> {
    let state = application.state().clone();
    let err = |e: palisade_domain::Error| anyhow::anyhow!("{e}");
    let boot = admin::bootstrap(&state, "Contoso MSSP")
        .await
        .map_err(err)?;
    let store = state.store();
    let org = store
        .system()
        .organization(boot.organization_id)
        .await
        .map_err(err)?
        .ok_or_else(|| anyhow::anyhow!("the bootstrapped organization vanished"))?
        .id;
    let tenant = store.tenant(&org);
    let soc = admin::create_workspace(&state, boot.organization_id, "Contoso SOC", None)
        .await
        .map_err(err)?;
    let mut workspaces = Vec::new();
    for (name, domain) in CUSTOMERS {
        let account = tenant.create_account(name).await.map_err(err)?;
        for env in ["Production", "Corporate IT", "Cloud"] {
            let ws = admin::create_workspace(
                &state,
                boot.organization_id,
                &format!("{name} {env}"),
                Some(account.id),
            )
            .await
            .map_err(err)?;
            workspaces.push((ws, domain));
        }
    }

    // 30–54 incidents per workspace and source over the last 30 days: about 3,000 in all.
    let mut rng = rand::rngs::StdRng::seed_from_u64(2026);
    let now = chrono::Utc::now();
    let mut incidents = 0;
    for (ws, domain) in &workspaces {
        for source in IncidentSource::ALL {
            let prefix = source.as_str()[..2].to_uppercase();
            let count = rng.gen_range(30..55);
            let batch: Vec<serde_json::Value> = (0..count)
                .map(|n| {
                    let created = now - chrono::Duration::minutes(rng.gen_range(5..30 * 24 * 60));
                    let id = format!("{prefix}-{:05}", n + 1);
                    sample::incident(&mut rng, *source, &id, domain, created)
                })
                .collect();
            incidents += palisade_demo::ingest(store, &ws.id, *source, batch)
                .await
                .map_err(err)?;
        }
    }

    let (prod, it) = (workspaces[0].0.id, workspaces[1].0.id);
    // Connectors with 8 days of volume, and investigation logs (in the first workspace).
    let demo_users: Vec<(String, String, String)> = ["ada.lovelace", "grace.hopper", "alan.turing"]
        .iter()
        .map(|u| {
            let name = u
                .split('.')
                .map(|p| p[..1].to_uppercase() + &p[1..])
                .collect::<Vec<_>>()
                .join(" ");
            (
                Uuid::new_v4().to_string(),
                format!("{u}@{}", workspaces[0].1),
                name,
            )
        })
        .collect();
    let ws_ids: Vec<_> = workspaces.iter().map(|(w, _)| w.id).collect();
    let logs = palisade_demo::datasources::seed(store, &ws_ids, &demo_users, &mut rng)
        .await
        .map_err(err)?;
    // A read-only integration: it reads incidents (and comments on them) in two workspaces,
    // and may list the workspaces it holds a role on.
    let (read_only_id, read_only_secret) = admin::create_service_account(
        &state,
        &org,
        "Jira-incident-sync",
        OrgRole::Member,
        &[
            Scope::IncidentsRead,
            Scope::IncidentsComments,
            Scope::OrgUsersRead,
            Scope::OrgWorkspacesRead,
        ],
        &[
            (prod, WorkspaceRole::IncidentAnalyst),
            (it, WorkspaceRole::WorkspaceReader),
        ],
    )
    .await
    .map_err(err)?;
    let users = [
        ("Jane Doe", "jane.doe@contoso.com", OrgRole::Admin),
        ("Sam Rivera", "sam.rivera@contoso.com", OrgRole::Member),
        (
            "Priya Natarajan",
            "priya.natarajan@fabrikam.com",
            OrgRole::Member,
        ),
    ];
    let new_users: Vec<NewUser> = users
        .iter()
        .map(|(name, email, role)| NewUser {
            id: Uuid::new_v4(),
            display_name: name.to_string(),
            email: Some(email.to_string()),
            tenant_id: None,
            org_role: *role,
            is_owner: *role == OrgRole::Admin,
        })
        .collect();
    tenant
        .add_users(
            &new_users[..2],
            Some((&soc.id, WorkspaceRole::IncidentResponder)),
        )
        .await
        .map_err(err)?;
    tenant
        .add_users(
            &new_users[2..],
            Some((&prod, WorkspaceRole::IncidentAnalyst)),
        )
        .await
        .map_err(err)?;

    // Playbooks, rules, tickets and a gamebook run, through the API as the admin.
    let api = api::Api::new(
        app::router(state.clone()),
        boot.client_id,
        &boot.client_secret,
    );
    let (prod_id, soc_id) = (prod.uuid(), soc.id.uuid());
    let content = api::seed(
        &api,
        &[prod_id, soc_id],
        prod_id,
        workspaces[0].1,
        "SE-00001",
    )
    .await?;

    let seeded = Seeded {
        organization_id: boot.organization_id,
        account_id: boot.account_id,
        client_id: boot.client_id,
        read_only_client_id: read_only_id,
        workspaces: ws_ids.iter().chain([&soc.id]).map(|w| w.uuid()).collect(),
        sign_in_logs_workspace_id: prod_id,
        investigation_users: demo_users.iter().map(|u| u.1.clone()).collect(),
        incidents,
        investigation_logs: logs,
        playbooks: content.playbooks,
        gamebook_rules: content.rules,
        tickets: content.tickets,
    };
    let secrets = Secrets {
        admin: boot.client_secret,
        read_only: read_only_secret,
    };
    Ok((seeded, secrets))
}

/// The JSON line both runs print: what the demo holds, with the secrets when just made.
fn summary(seeded: &Seeded, secrets: Option<&Secrets>, base: &str) -> serde_json::Value {
    let mut out = serde_json::to_value(seeded).expect("serializable");
    out["baseUrl"] = base.into();
    out["clientSecret"] = secrets.map(|s| s.admin.as_str()).into();
    out["readOnlyClientSecret"] = secrets.map(|s| s.read_only.as_str()).into();
    out["kept"] = secrets.is_none().into();
    out
}

fn print_seeded(seeded: &Seeded, secrets: &Secrets, base: &str) {
    say!("{}", summary(seeded, Some(secrets), base));
    let (id, secret) = (seeded.client_id, &secrets.admin);
    say!("# Try: curl -s -u '{id}:{secret}' {base}/users/profile");
    say!(
        "#      curl -s -u '{id}:{secret}' -H 'content-type: application/json' -d '{{\"isFirstCall\":true}}' {base}/incidents/across-workspaces"
    );
    print_logs_hint(seeded, &format!("{id}:{secret}"), base);
    say!(
        "# The read-only credential ({}) reads incidents in two workspaces and lists them: curl -s -u '{}:{}' {base}/workspaces",
        seeded.read_only_client_id, seeded.read_only_client_id, secrets.read_only
    );
    say!(
        "# The secrets above are shown once (only their hashes are stored); the demo database is kept between runs."
    );
}

fn print_kept(seeded: &Seeded, base: &str, default_file: Option<&str>) {
    say!("{}", summary(seeded, None, base));
    let reset = match default_file {
        Some(file) => {
            format!("`palisade demo --reset` deletes {file} and seeds it afresh with new secrets")
        }
        None => "a fresh --database seeds a new demo with new secrets".into(),
    };
    say!(
        "# Serving the demo seeded by an earlier run, with the webhooks, credentials and changes made since. Its secrets were shown when it was seeded; {reset}."
    );
    print_logs_hint(seeded, &format!("{}:<secret>", seeded.client_id), base);
}

fn print_logs_hint(seeded: &Seeded, user: &str, base: &str) {
    let ws = seeded.sign_in_logs_workspace_id;
    let upn = seeded
        .investigation_users
        .first()
        .map(String::as_str)
        .unwrap_or("");
    say!(
        "# Sign-in and directory logs of {} are in workspace {ws} (Fabrikam Retail Production): curl -s -u '{user}' '{base}/workspaces/{ws}/investigation/users/signin-logs?UserId={upn}&TimeFilteringType=FourtyEightHours'",
        seeded.investigation_users.join(", ")
    );
}
