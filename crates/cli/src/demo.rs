//! `palisade demo`: a ready-to-explore server on SQLite — one MSSP organization with its own
//! account and four customer accounts, twelve customer workspaces plus the SOC's own, a few
//! thousand incidents across all six sources, two service accounts and a few users.

use palisade_demo::incidents as sample;
use palisade_domain::{OrgRole, Scope, WorkspaceRole};
use palisade_server::config::Config;
use palisade_server::{admin, app, Application};
use palisade_store::NewUser;
use palisade_types::incidents::IncidentSource;
use rand::{Rng, SeedableRng};

const CUSTOMERS: [(&str, &str); 4] = [
    ("Fabrikam Retail", "fabrikam.com"),
    ("Northwind Traders", "northwindtraders.com"),
    ("Tailspin Toys", "tailspintoys.com"),
    ("Woodgrove Bank", "woodgrovebank.com"),
];

pub async fn run(config: Config) -> anyhow::Result<()> {
    let application = Application::build(config).await?;
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
    let mut total = 0;
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
            total += palisade_demo::ingest(store, &ws.id, *source, batch)
                .await
                .map_err(err)?;
        }
    }

    let (prod, it) = (workspaces[0].0.id, workspaces[1].0.id);
    // datasources (issue #5): connectors with 8 days of volume, and investigation logs.
    let demo_users: Vec<(String, String, String)> = ["ada.lovelace", "grace.hopper", "alan.turing"]
        .iter()
        .map(|u| {
            let name = u
                .split('.')
                .map(|p| p[..1].to_uppercase() + &p[1..])
                .collect::<Vec<_>>()
                .join(" ");
            (
                uuid::Uuid::new_v4().to_string(),
                format!("{u}@{}", workspaces[0].1),
                name,
            )
        })
        .collect();
    let ws_ids: Vec<_> = workspaces.iter().map(|(w, _)| w.id).collect();
    let logs = palisade_demo::datasources::seed(store, &ws_ids, &demo_users, &mut rng)
        .await
        .map_err(err)?;
    let (analyst_id, analyst_secret) = admin::create_service_account(
        &state,
        &org,
        "Jira-incident-sync",
        OrgRole::Member,
        &[
            Scope::IncidentsRead,
            Scope::IncidentsComments,
            Scope::OrgUsersRead,
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
            id: uuid::Uuid::new_v4(),
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

    let addr = application.local_addr();
    let base = format!("http://{addr}/api/v2");
    println!(
        "{}",
        serde_json::json!({
            "organizationId": boot.organization_id,
            "accountId": boot.account_id,
            "clientId": boot.client_id,
            "clientSecret": boot.client_secret,
            "baseUrl": base,
            "workspaces": workspaces.iter().map(|(w, _)| w.id).chain([soc.id]).map(|w| w.uuid()).collect::<Vec<_>>(),
            "incidents": total,
            "investigationLogs": logs,
            "investigationUsers": demo_users.iter().map(|u| &u.1).collect::<Vec<_>>(),
            "readOnlyClientId": analyst_id,
            "readOnlyClientSecret": analyst_secret,
        })
    );
    println!("# Palisade demo is running at http://{addr} (API reference: http://{addr}/docs)");
    println!(
        "# Try: curl -s -u '{}:{}' {base}/users/profile",
        boot.client_id, boot.client_secret
    );
    println!(
        "#      curl -s -u '{}:{}' -H 'content-type: application/json' -d '{{\"isFirstCall\":true}}' {base}/incidents/across-workspaces",
        boot.client_id, boot.client_secret
    );
    println!("# The secrets above are shown once. Stop with Ctrl-C.");
    application.run_until(app::shutdown_signal()).await
}
