//! `palisade`: the one binary. `serve`, `demo`, `migrate`, `admin bootstrap`,
//! `admin workspace create`, `openapi`.

mod demo;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use palisade_server::config::{Config, Overrides};
use palisade_server::{app, telemetry, AppState, Application};
use uuid::Uuid;

/// mimalloc instead of glibc's allocator: allocation was about 40% of the server's CPU while
/// ingesting (JSON documents in, rows and events out). Measured 2026-12-01, alternating runs:
/// ingest +5-6% on PostgreSQL and SQLite, uncached-and-cached incident detail +23%; peak
/// memory of a 100,000-incident ingest 63 -> 132 MB (PostgreSQL), 196 -> 226 MB (SQLite).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "palisade",
    version,
    about = "Self-hosted, multi-tenant security-operations API (ContraForce v2 compatible)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone, Default)]
struct Common {
    /// Configuration file [default: palisade.toml in the working directory, if present].
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Database URL: sqlite://FILE or postgres://USER@HOST/DB [default: database_url of the
    /// configuration, itself sqlite://palisade.db].
    #[arg(long, global = true, value_name = "URL")]
    database: Option<String>,
}

/// The address flag of `serve` and `demo`.
#[derive(Args, Clone, Default)]
struct Listen {
    /// Address to listen on, e.g. 0.0.0.0:8080 [default: listen of the configuration, itself
    /// 127.0.0.1:8080].
    #[arg(long, value_name = "ADDRESS")]
    listen: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API server and its background workers.
    Serve {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        listen: Listen,
        /// Serve the API only; no background workers (webhook delivery, gamebook runs) on
        /// this replica.
        #[arg(long, conflicts_with = "workers_only")]
        api_only: bool,
        /// Run the background workers only; the listener answers /healthz, /readyz and
        /// /metrics.
        #[arg(long)]
        workers_only: bool,
    },
    /// Run with seeded demo data (an MSSP, its customers, incidents of all six sources,
    /// playbooks, rules, tickets, logs); prints a working credential.
    #[command(mut_arg("database", |a| a.help(
        "Database URL to seed the demo into [default: sqlite://palisade-demo.db in the working \
         directory, kept between runs]"
    )))]
    Demo {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        listen: Listen,
        /// Seed the demo even into a database that already holds other organizations.
        #[arg(long)]
        force: bool,
        /// Delete the default demo database (palisade-demo.db) first and seed it afresh.
        #[arg(long, conflicts_with = "force")]
        reset: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate {
        #[command(flatten)]
        common: Common,
    },
    /// Administrative commands.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Print the OpenAPI document.
    Openapi {
        /// OpenAPI version of the document: 3.1, or 3.0 for its 3.0.3 rendition.
        #[arg(long, value_name = "VERSION", default_value = "3.1", value_parser = ["3.1", "3.0"])]
        spec_version: String,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an organization and an admin service account holding every scope; prints
    /// {organizationId, accountId, clientId, clientSecret} as JSON.
    Bootstrap {
        #[command(flatten)]
        common: Common,
        /// Name of the new organization (also of its own account).
        #[arg(long, value_name = "NAME")]
        org_name: String,
    },
    /// Workspace administration.
    Workspace {
        #[command(subcommand)]
        command: WorkspaceCommand,
    },
    /// Organization users (the console).
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Set a user's console password (argon2id), read from the first line of standard input;
    /// ends the user's sessions. Prints {userId} as JSON.
    SetPassword {
        #[command(flatten)]
        common: Common,
        /// Organization id (from `admin bootstrap`).
        #[arg(long, value_name = "ID")]
        org: Uuid,
        /// The user's email.
        #[arg(long, value_name = "EMAIL")]
        email: String,
        /// Create the user (with this display name) when the organization has none with the
        /// email.
        #[arg(long, value_name = "NAME")]
        create: Option<String>,
        /// Organizational role of a created user: Admin, UserAdmin, WorkspaceAdmin,
        /// AgentAdmin or Member.
        #[arg(long, value_name = "ROLE", default_value = "Member")]
        org_role: String,
    },
}

#[derive(Subcommand)]
enum WorkspaceCommand {
    /// Create a workspace in an organization; prints it as JSON.
    Create {
        #[command(flatten)]
        common: Common,
        /// Organization id (from `admin bootstrap`).
        #[arg(long, value_name = "ID")]
        org: Uuid,
        /// Name of the new workspace.
        #[arg(long, value_name = "NAME")]
        name: String,
        /// Customer account id [default: the organization's own account].
        #[arg(long, value_name = "ID")]
        account: Option<Uuid>,
    },
}

/// The default database of `palisade demo`, in the working directory.
const DEMO_FILE: &str = "palisade-demo.db";

/// What `serve` prints on a database without an organization: the command that makes one,
/// against the same configuration and database (a password in the URL is masked).
fn bootstrap_hint(common: &Common) -> String {
    let mut command = String::from("palisade admin bootstrap --org-name \"Your Organization\"");
    if let Some(config) = &common.config {
        command.push_str(&format!(" --config '{}'", config.display()));
    }
    if let Some(db) = &common.database {
        command.push_str(&format!(
            " --database '{}'",
            palisade_server::config::redact_url(db)
        ));
    }
    format!(
        "palisade: the database holds no organization yet, so no credential can sign in. \
         Create the first organization and its admin credential with:\n  {command}"
    )
}

fn load(common: &Common, listen: Option<String>) -> anyhow::Result<Config> {
    let config = Config::load(&Overrides {
        config_file: common.config.clone(),
        database_url: common.database.clone(),
        listen,
    })?;
    telemetry::init(&config.log, &config.log_format);
    Ok(config)
}

async fn state_for(config: Config) -> anyhow::Result<AppState> {
    let store = app::open_store(&config).await?;
    let secret = app::server_secret(&config, &store).await?;
    Ok(AppState::new(config, store, &secret))
}

#[tokio::main]
async fn main() {
    if let Err(e) = run(Cli::parse()).await {
        eprintln!("palisade: {e:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve {
            common,
            listen,
            api_only,
            workers_only,
        } => {
            let config = load(&common, listen.listen)?;
            let application = Application::build(config)
                .await?
                .roles(!workers_only, !api_only);
            let organizations = application
                .state()
                .store()
                .system()
                .organization_ids()
                .await;
            if organizations.is_ok_and(|ids| ids.is_empty()) {
                eprintln!("{}", bootstrap_hint(&common));
            }
            application.run_until(app::shutdown_signal()).await
        }
        Command::Demo {
            common,
            listen,
            force,
            reset,
        } => {
            let mut common = common;
            let default_file = common.database.is_none();
            if reset && !default_file {
                anyhow::bail!(
                    "--reset deletes only the default demo database ({DEMO_FILE}); to start over \
                     elsewhere, give a fresh --database"
                );
            }
            if default_file {
                if reset {
                    for suffix in ["", "-wal", "-shm"] {
                        match std::fs::remove_file(format!("{DEMO_FILE}{suffix}")) {
                            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                                return Err(e).context(format!("cannot delete {DEMO_FILE}{suffix}"))
                            }
                            _ => {}
                        }
                    }
                }
                common.database = Some(format!("sqlite://{DEMO_FILE}"));
            }
            let mut config = load(&common, listen.listen)?;
            config.webhooks.allow_private_targets = true;
            config.webhooks.allow_http = true;
            config.connectors.allow_private_targets = true;
            config.connectors.allow_http = true;
            demo::run(
                config,
                demo::Options {
                    force,
                    default_file: default_file.then_some(DEMO_FILE),
                },
            )
            .await
        }
        Command::Migrate { common } => {
            let config = load(&common, None)?;
            let store = palisade_store::Store::connect(&config.database_url.0, 2)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let applied = store
                .system()
                .migrate()
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "{}",
                serde_json::json!({"applied": applied, "status": "up to date"})
            );
            Ok(())
        }
        Command::Admin { command } => match command {
            AdminCommand::Bootstrap { common, org_name } => {
                let state = state_for(load(&common, None)?).await?;
                let out = palisade_server::admin::bootstrap(&state, &org_name)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                println!("{}", serde_json::to_string(&out)?);
                Ok(())
            }
            AdminCommand::Workspace {
                command:
                    WorkspaceCommand::Create {
                        common,
                        org,
                        name,
                        account,
                    },
            } => {
                let state = state_for(load(&common, None)?).await?;
                let ws = palisade_server::admin::create_workspace(&state, org, &name, account)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))
                    .context("cannot create the workspace")?;
                let ws = palisade_server::service::org_wire::workspace(ws);
                println!("{}", serde_json::to_string(&ws)?);
                Ok(())
            }
            AdminCommand::User {
                command:
                    UserCommand::SetPassword {
                        common,
                        org,
                        email,
                        create,
                        org_role,
                    },
            } => {
                let role = palisade_domain::OrgRole::parse(&org_role)
                    .ok_or_else(|| anyhow::anyhow!("unknown organizational role {org_role:?}"))?;
                let mut password = String::new();
                std::io::stdin().read_line(&mut password)?;
                let password = password.trim_end_matches(['\r', '\n']);
                let state = state_for(load(&common, None)?).await?;
                let create = create.map(|display_name| palisade_server::admin::NewConsoleUser {
                    display_name,
                    org_role: role,
                });
                let id = palisade_server::admin::set_user_password(
                    &state, org, &email, password, create,
                )
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))
                .context("cannot set the password")?;
                println!("{}", serde_json::json!({ "userId": id }));
                Ok(())
            }
        },
        Command::Openapi { spec_version } => {
            use std::io::Write;
            let doc = match spec_version.as_str() {
                "3.0" => palisade_server::openapi::document_30_bytes(),
                _ => palisade_server::openapi::document_bytes(),
            };
            std::io::stdout().write_all(&doc)?;
            Ok(())
        }
    }
}
