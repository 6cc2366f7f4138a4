//! `palisade demo`: a ready-to-explore server on SQLite — one MSSP organization with its own
//! account and a customer account, three workspaces, two service accounts and a few users.

use palisade_domain::{OrgId, OrgRole, Scope, WorkspaceRole};
use palisade_server::config::Config;
use palisade_server::{admin, app, Application};
use palisade_store::NewUser;

pub async fn run(config: Config) -> anyhow::Result<()> {
    let application = Application::build(config).await?;
    let state = application.state().clone();
    let err = |e: palisade_domain::Error| anyhow::anyhow!("{e}");

    let boot = admin::bootstrap(&state, "Contoso MSSP")
        .await
        .map_err(err)?;
    let org = OrgId::new(boot.organization_id);
    let store = state.store();
    let customer = store
        .create_account(&org, "Fabrikam Retail")
        .await
        .map_err(err)?;
    let soc = admin::create_workspace(&state, boot.organization_id, "Contoso SOC", None)
        .await
        .map_err(err)?;
    let prod = admin::create_workspace(
        &state,
        boot.organization_id,
        "Fabrikam Production",
        Some(customer.id),
    )
    .await
    .map_err(err)?;
    let dev = admin::create_workspace(
        &state,
        boot.organization_id,
        "Fabrikam Development",
        Some(customer.id),
    )
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
            (prod.id, WorkspaceRole::IncidentAnalyst),
            (dev.id, WorkspaceRole::WorkspaceReader),
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
    store
        .add_users(
            &org,
            &new_users[..2],
            Some((soc.id, WorkspaceRole::IncidentResponder)),
        )
        .await
        .map_err(err)?;
    store
        .add_users(
            &org,
            &new_users[2..],
            Some((prod.id, WorkspaceRole::IncidentAnalyst)),
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
            "workspaces": [soc.id, prod.id, dev.id],
            "readOnlyClientId": analyst_id,
            "readOnlyClientSecret": analyst_secret,
        })
    );
    println!("# Palisade demo is running at http://{addr} (API reference: http://{addr}/docs)");
    println!(
        "# Try: curl -s -u '{}:{}' {base}/users/profile",
        boot.client_id, boot.client_secret
    );
    println!("# The secrets above are shown once. Stop with Ctrl-C.");
    application.run_until(app::shutdown_signal()).await
}
