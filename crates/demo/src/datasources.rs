//! Demo data for data sources and investigation logs (`palisade demo`): the six incident
//! connectors of every workspace with 8 days of hourly volume (a business-hours curve with
//! noise, one silent and one spiking connector so the anomaly view has something to show), and
//! sign-in and directory audit logs for a few users of one workspace.

use chrono::{Duration, DurationRound, Utc};
use palisade_domain::time::to_micros;
use palisade_domain::{Result, Validator};
use palisade_store::{LogKind, Store, WorkspaceId};
use palisade_types::datasources::ConnectorType;
use palisade_types::incidents::IncidentSource;
use palisade_types::investigation::{DirectoryLogInput, SignInLogInput};
use rand::Rng;

use palisade_server::service::datasources::ingest_connector as fields;
use palisade_server::service::investigation::{directory_row, signin_row};

/// Seeds connectors and volume for `workspaces`, and logs for `users` (`(object id, UPN,
/// display name)`) of the first workspace. Returns the number of log rows.
pub async fn seed(
    store: &Store,
    workspaces: &[WorkspaceId],
    users: &[(String, String, String)],
    rng: &mut impl Rng,
) -> Result<usize> {
    let now = Utc::now();
    let current = now.duration_trunc(Duration::hours(1)).unwrap_or(now);
    for (w, ws) in workspaces.iter().enumerate() {
        let mut kinds: Vec<ConnectorType> = IncidentSource::ALL
            .iter()
            .map(|s| ConnectorType::of_source(*s))
            .collect();
        if w == 0 {
            kinds.push(ConnectorType::AzureActiveDirectory);
            kinds.push(ConnectorType::AzureActiveDirectoryAudit);
        }
        for (k, kind) in kinds.into_iter().enumerate() {
            let tenant = store.tenant(&ws.org());
            let row = tenant.create_connector(ws, &fields(kind)).await?;
            let rate = rng.gen_range(20.0..400.0);
            let mut entries = Vec::new();
            for back in 1..=(8 * 24) {
                let hour = current - Duration::hours(back);
                let local = (hour.timestamp() / 3600).rem_euclid(24);
                let shape = if (8..19).contains(&local) { 1.0 } else { 0.35 };
                let mut events = (rate * shape * rng.gen_range(0.9..1.1)) as i64;
                if w == 0 && k == 4 && back <= 4 {
                    events = 0; // a silent Splunk feed in the first workspace
                }
                if w == 1 && k == 2 && back == 1 {
                    events *= 6; // a CrowdStrike burst in the second
                }
                if events > 0 {
                    entries.push((to_micros(hour), events, events * rng.gen_range(600..2400)));
                }
            }
            tenant.record_volume(ws, row.id, &entries).await?;
        }
    }
    let Some(ws) = workspaces.first() else {
        return Ok(0);
    };
    let apps = [
        "Microsoft Teams",
        "Office 365 Exchange Online",
        "Azure Portal",
        "Microsoft Graph",
    ];
    let cities = [
        ("Seattle", "Washington", "US"),
        ("Dublin", "Leinster", "IE"),
        ("Lagos", "Lagos", "NG"),
    ];
    let mut v = Validator::new();
    let mut signins = Vec::new();
    let mut audits = Vec::new();
    for (u, (id, upn, name)) in users.iter().enumerate() {
        for i in 0..60 {
            let at = now - Duration::minutes(rng.gen_range(1..48 * 60));
            let failed = rng.gen_range(0..8) == 0;
            let (city, state, country) = cities[if failed { 2 } else { u % 2 }];
            let input = SignInLogInput {
                created_date_time: Some(at.to_rfc3339()),
                user_id: Some(id.clone()),
                user_principal_name: Some(upn.clone()),
                user_display_name: Some(name.clone()),
                app_display_name: Some(apps[i % apps.len()].into()),
                ip_address: Some(format!("203.0.113.{}", rng.gen_range(1..250))),
                location: Some(palisade_types::investigation::SignInLocation {
                    city: Some(city.into()),
                    state: Some(state.into()),
                    country_or_region: Some(country.into()),
                }),
                status: Some(palisade_types::investigation::SignInStatus {
                    error_code: Some(if failed { 50126 } else { 0 }),
                    failure_reason: failed.then(|| "Invalid username or password.".into()),
                    additional_details: None,
                }),
                client_app_used: Some("Browser".into()),
                risk_level_during_sign_in: Some(if failed { "Medium" } else { "None" }.into()),
                conditional_access_status: Some(if failed { "Failure" } else { "Success" }.into()),
                is_interactive: Some(true),
                ..Default::default()
            };
            signins.extend(signin_row(&mut v, signins.len(), &input));
        }
        for i in 0..8 {
            let input = DirectoryLogInput {
                date: Some((now - Duration::hours(rng.gen_range(1..48))).to_rfc3339()),
                service: Some("Core Directory".into()),
                activity: Some(
                    [
                        "Update user",
                        "Reset password",
                        "Add member to group",
                        "Add app role assignment to user",
                    ][i % 4]
                        .into(),
                ),
                category: Some("UserManagement".into()),
                target_resources: Some(vec![upn.clone()]),
                actor: Some("admin@contoso.com".into()),
                user_id: Some(id.clone()),
                user_principal_name: Some(upn.clone()),
                ..Default::default()
            };
            audits.extend(directory_row(&mut v, audits.len(), &input));
        }
    }
    v.finish()?;
    let at = to_micros(now);
    let tenant = store.tenant(&ws.org());
    tenant
        .insert_logs(ws, LogKind::SignIn, &signins, at)
        .await?;
    tenant
        .insert_logs(ws, LogKind::Directory, &audits, at)
        .await?;
    Ok(signins.len() + audits.len())
}
