//! Running a command: the client from the profile (or the environment), then the command.

mod admin;
mod incidents;

use std::time::Duration;

use clap::CommandFactory;
use palisade_client::verify::Verifier;
use palisade_client::{Client, RetryPolicy};

use crate::cli::{Cli, Command, LoginArgs, Shell, SignatureCmd};
use crate::output::Output;
use crate::profile::{self, Profile, Profiles};
use crate::{usage, CmdResult, Failure};

/// The global options that choose and shape the client.
pub struct Settings {
    profile: Option<String>,
    url: Option<String>,
    timeout: u64,
    retries: u32,
}

impl Settings {
    fn client(&self) -> CmdResult<Client> {
        build(&resolve(self)?, self.timeout, self.retries)
    }
}

pub async fn run(cli: Cli, out: &Output) -> CmdResult {
    let Cli {
        profile,
        server: url,
        timeout,
        retries,
        command,
        ..
    } = cli;
    let s = Settings {
        profile,
        url,
        timeout,
        retries,
    };
    match command {
        Command::Login(args) => login(&s, &args, out).await,
        Command::Profiles => profiles(out),
        Command::Completion { shell } => {
            completion(shell);
            Ok(())
        }
        Command::Signature(cmd) => signature(cmd, out),
        Command::Incidents(cmd) => incidents::run(&s.client()?, cmd, out).await,
        Command::Webhooks(cmd) => admin::webhooks(&s.client()?, cmd, out).await,
        Command::Connectors(cmd) => admin::connectors(&s.client()?, cmd, out).await,
        Command::Gamebooks(cmd) => admin::gamebooks(&s.client()?, cmd, out).await,
        Command::ServiceAccounts(cmd) => admin::service_accounts(&s.client()?, cmd, out).await,
    }
}

/// The profile's (or the environment's) settings.
fn resolve(cli: &Settings) -> CmdResult<Profile> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let saved = Profiles::load()?;
    let name = cli.profile.clone().or(saved.default.clone());
    let from_profile = match &name {
        Some(n) => match saved.profiles.get(n) {
            Some(p) => Some(p.clone()),
            None if cli.profile.is_some() => {
                return usage(format!("no profile '{n}' (see `palisadectl profiles`)"))
            }
            None => None,
        },
        None => None,
    };
    let base_url = cli
        .url
        .clone()
        .or(from_profile.as_ref().map(|p| p.base_url.clone()));
    let client_id =
        env("PALISADE_CLIENT_ID").or(from_profile.as_ref().map(|p| p.client_id.clone()));
    let secret = env("PALISADE_CLIENT_SECRET").or(from_profile.map(|p| p.client_secret));
    match (base_url, client_id, secret) {
        (Some(base_url), Some(client_id), Some(client_secret)) => Ok(Profile {
            base_url,
            client_id,
            client_secret,
        }),
        _ => usage(
            "no credentials: run `palisadectl login`, or set PALISADE_URL, PALISADE_CLIENT_ID and PALISADE_CLIENT_SECRET",
        ),
    }
}

fn build(p: &Profile, timeout: u64, retries: u32) -> CmdResult<Client> {
    Ok(Client::builder(&p.base_url)
        .credentials(&p.client_id, &p.client_secret)
        .timeout(Duration::from_secs(timeout.max(1)))
        .retry(RetryPolicy {
            max_retries: retries,
            ..RetryPolicy::default()
        })
        .user_agent(concat!("palisadectl/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

async fn login(cli: &Settings, args: &LoginArgs, out: &Output) -> CmdResult {
    let name = cli.profile.clone().unwrap_or_else(|| "default".into());
    let secret =
        profile::read_secret(args.secret_stdin, "PALISADE_CLIENT_SECRET", "client secret")?;
    let p = Profile {
        base_url: args.base_url.trim_end_matches('/').to_string(),
        client_id: args.client_id.clone(),
        client_secret: secret,
    };
    if !args.no_verify {
        let client = build(&p, cli.timeout, cli.retries)?;
        // Any authenticated route tells a valid credential from a wrong one; a 403 (the
        // credential lacks org:users:read) still means it authenticated.
        match client.users().profile().await {
            Ok(_) => {}
            Err(e) if e.status() == Some(403) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let mut all = Profiles::load()?;
    all.profiles.insert(name.clone(), p);
    if all.default.is_none() || cli.profile.is_none() {
        all.default = Some(name.clone());
    }
    all.save()?;
    let path = profile::path()?;
    if out.json() {
        out.line(&serde_json::json!({"profile": name, "path": path}));
    } else {
        println!("saved profile '{name}' to {}", path.display());
    }
    Ok(())
}

fn profiles(out: &Output) -> CmdResult {
    let all = Profiles::load()?;
    let rows: Vec<_> = all
        .profiles
        .iter()
        .map(|(name, p)| {
            let default = all.default.as_deref() == Some(name.as_str());
            serde_json::json!({"name": name, "default": default, "baseUrl": p.base_url, "clientId": p.client_id})
        })
        .collect();
    out.list(&rows, &["NAME", "DEFAULT", "BASE URL", "CLIENT ID"], |r| {
        vec![
            r["name"].as_str().unwrap_or("").into(),
            if r["default"] == true {
                "*".into()
            } else {
                String::new()
            },
            r["baseUrl"].as_str().unwrap_or("").into(),
            r["clientId"].as_str().unwrap_or("").into(),
        ]
    });
    Ok(())
}

fn completion(shell: Shell) {
    use clap_complete::{generate, shells};
    let mut cmd = Cli::command();
    let mut stdout = std::io::stdout();
    match shell {
        Shell::Bash => generate(shells::Bash, &mut cmd, "palisadectl", &mut stdout),
        Shell::Zsh => generate(shells::Zsh, &mut cmd, "palisadectl", &mut stdout),
        Shell::Fish => generate(shells::Fish, &mut cmd, "palisadectl", &mut stdout),
    }
}

fn signature(cmd: SignatureCmd, out: &Output) -> CmdResult {
    let SignatureCmd::Verify {
        headers,
        body,
        tolerance,
        at,
        secret_stdin,
    } = cmd;
    let secret = profile::read_secret(secret_stdin, "PALISADE_WEBHOOK_SECRET", "signing secret")?;
    let mut pairs = Vec::new();
    for h in &headers {
        let Some((name, value)) = h.split_once(':') else {
            return usage(format!("--header '{h}' is not `Name: value`"));
        };
        pairs.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let body =
        std::fs::read(&body).map_err(|e| Failure::Usage(format!("{}: {e}", body.display())))?;
    let verifier = Verifier::new(secret).with_tolerance(Duration::from_secs(tolerance));
    let lookup = |name: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let at = at.unwrap_or_else(|| chrono::Utc::now().timestamp());
    match verifier.verify_at(lookup, &body, at) {
        Ok(scheme) => {
            if out.json() {
                out.line(&serde_json::json!({"valid": true, "scheme": format!("{scheme:?}")}));
            } else {
                println!("valid ({scheme:?})");
            }
            Ok(())
        }
        Err(e) => {
            if out.json() {
                out.line(&serde_json::json!({"valid": false, "reason": e.to_string()}));
            }
            Err(Failure::Runtime(format!(
                "the signature does not verify: {e}"
            )))
        }
    }
}
