//! The command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use uuid::Uuid;

/// Command-line client of the Palisade API.
///
/// Credentials come from a profile saved by `palisadectl login` (in the user's config
/// directory, or PALISADE_CONFIG_DIR), or from PALISADE_URL, PALISADE_CLIENT_ID and
/// PALISADE_CLIENT_SECRET. Exit codes: 0 success, 1 API error, 2 usage error.
#[derive(Debug, Parser)]
#[command(name = "palisadectl", version, propagate_version = true)]
pub struct Cli {
    /// The profile to use (default: the one `login` saved last as default).
    #[arg(long, global = true, env = "PALISADE_PROFILE")]
    pub profile: Option<String>,
    /// Tables for people, or JSON (JSON lines for listings) for scripts.
    #[arg(long, short, global = true, value_enum, default_value_t = Format::Table, env = "PALISADE_OUTPUT")]
    pub output: Format,
    /// The server's base URL, instead of the profile's.
    #[arg(long, global = true, env = "PALISADE_URL")]
    pub server: Option<String>,
    /// Request timeout in seconds.
    #[arg(long, global = true, default_value_t = 30)]
    pub timeout: u64,
    /// Retries of 429/503 answers for idempotent calls.
    #[arg(long, global = true, default_value_t = 3)]
    pub retries: u32,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Save a profile: base URL, client id and secret (read from standard input or
    /// PALISADE_CLIENT_SECRET, never from an argument). Checks the credential first.
    Login(LoginArgs),
    /// The saved profiles.
    Profiles,
    /// List, read, change, comment on and ingest incidents.
    #[command(subcommand)]
    Incidents(IncidentsCmd),
    /// Webhooks, their delivery logs, and a local receiver for development.
    #[command(subcommand)]
    Webhooks(WebhooksCmd),
    /// Data sources and the connectors that poll them.
    #[command(subcommand)]
    Connectors(ConnectorsCmd),
    /// Run and approve gamebooks.
    #[command(subcommand)]
    Gamebooks(GamebooksCmd),
    /// Create service accounts and rotate their credentials.
    #[command(subcommand, name = "service-accounts")]
    ServiceAccounts(ServiceAccountsCmd),
    /// Verify webhook signatures.
    #[command(subcommand)]
    Signature(SignatureCmd),
    /// Print a shell completion script.
    Completion {
        #[arg(value_enum)]
        shell: Shell,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The server's base URL, e.g. http://127.0.0.1:8080.
    #[arg(long = "base-url")]
    pub base_url: String,
    #[arg(long)]
    pub client_id: String,
    /// Read the secret from standard input (otherwise PALISADE_CLIENT_SECRET, or a prompt).
    #[arg(long)]
    pub secret_stdin: bool,
    /// Save without checking the credential against the server.
    #[arg(long)]
    pub no_verify: bool,
}

/// Filters of the cross-workspace listing.
#[derive(Debug, Args, Clone, Default)]
pub struct IncidentFilter {
    /// Severity (repeatable): Informational, Low, Medium, High.
    #[arg(long = "severity")]
    pub severities: Vec<String>,
    /// Status (repeatable): New, Active, Closed.
    #[arg(long = "status")]
    pub statuses: Vec<String>,
    /// Source (repeatable); default all six.
    #[arg(long = "source")]
    pub sources: Vec<String>,
    /// Text matched against id, number, title and description.
    #[arg(long)]
    pub query: Option<String>,
    /// Assignee email (repeatable).
    #[arg(long = "assignee")]
    pub assignees: Vec<String>,
    /// TwentyFourHours, SevenDays or ThirtyDays.
    #[arg(long)]
    pub window: Option<String>,
    /// Only incidents of this workspace.
    #[arg(long)]
    pub workspace: Option<Uuid>,
}

/// One incident: its workspace, source and id.
#[derive(Debug, Args)]
pub struct IncidentRef {
    pub workspace: Uuid,
    pub source: String,
    pub incident_id: String,
}

impl IncidentRef {
    /// The path parameters of the incident's routes: workspace, source, incident id.
    pub fn path(&self) -> (Uuid, &str, &str) {
        (self.workspace, &self.source, &self.incident_id)
    }
}

#[derive(Debug, Subcommand)]
pub enum IncidentsCmd {
    /// The newest incidents across workspaces (one screen; see `across` for all).
    List {
        #[command(flatten)]
        filter: IncidentFilter,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// The full detail of one incident.
    Get {
        #[command(flatten)]
        incident: IncidentRef,
        /// Include entity properties and alert entity ids.
        #[arg(long)]
        details: bool,
    },
    /// Change an incident's status (closing needs --classification and --reason).
    Status {
        #[command(flatten)]
        incident: IncidentRef,
        /// New, Active or Closed.
        status: String,
        #[arg(long)]
        classification: Option<String>,
        #[arg(long)]
        reason: Option<String>,
        #[arg(long)]
        comment: Option<String>,
    },
    /// Assign an incident (or --unassign).
    Assign {
        #[command(flatten)]
        incident: IncidentRef,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        user_id: Option<String>,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, conflicts_with_all = ["email", "user_id", "name"])]
        unassign: bool,
    },
    /// Comment on an incident.
    Comment {
        #[command(flatten)]
        incident: IncidentRef,
        /// The text (`-` reads standard input).
        text: String,
    },
    /// Every matching incident across workspaces, streaming every page.
    Across {
        #[command(flatten)]
        filter: IncidentFilter,
    },
    /// Ingest incidents (one JSON object per line, Palisade's model with `id`) in batches,
    /// with progress; resumable after an interruption.
    Ingest(IngestArgs),
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    pub workspace: Uuid,
    pub source: String,
    /// The NDJSON file.
    pub file: PathBuf,
    /// Incidents per request (1 to 1,000).
    #[arg(long, default_value_t = 1000)]
    pub batch_size: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 2)]
    pub concurrency: usize,
    /// Where progress is kept for resuming (default: FILE.progress.json).
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Ignore saved progress and start from the first line.
    #[arg(long)]
    pub restart: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum WebhooksCmd {
    List,
    /// Create a webhook; prints the signing secret once.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        url: String,
        /// Event type (repeatable), e.g. incident.created.
        #[arg(long = "event", required = true)]
        events: Vec<String>,
        /// Only events of this workspace.
        #[arg(long)]
        workspace: Option<Uuid>,
        /// A bearer token sent with each delivery, from this environment variable.
        #[arg(long)]
        bearer_token_env: Option<String>,
    },
    /// Send a test event now.
    Test {
        id: Uuid,
    },
    /// Delivery logs, newest first.
    Logs {
        id: Uuid,
        /// At most this many (default: all).
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Deliver an attempt again.
    Redeliver {
        id: Uuid,
        log_id: Uuid,
        /// The log's createdAt (looked up in the logs when absent).
        #[arg(long)]
        created_at: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// A local receiver for development: verifies each delivery's signature and prints it.
    /// The signing secret comes from PALISADE_WEBHOOK_SECRET or standard input.
    Listen {
        #[arg(long)]
        port: u16,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        bind: String,
        /// Timestamp tolerance in seconds.
        #[arg(long, default_value_t = 300)]
        tolerance: u64,
        /// Read the signing secret from standard input.
        #[arg(long)]
        secret_stdin: bool,
        /// Stop after this many deliveries.
        #[arg(long)]
        count: Option<usize>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConnectorsCmd {
    /// Data sources of one workspace, or of every workspace.
    List {
        #[arg(long)]
        workspace: Option<Uuid>,
    },
    /// A connector's polling state.
    Status { workspace: Uuid, connector: Uuid },
    /// Poll a connector now.
    Sync { workspace: Uuid, connector: Uuid },
}

#[derive(Debug, Subcommand)]
pub enum GamebooksCmd {
    /// Run playbooks (or a rule's playbooks) on an incident.
    Run {
        workspace: Uuid,
        source: String,
        incident_id: String,
        #[arg(long)]
        rule: Option<Uuid>,
        /// Playbook id (repeatable).
        #[arg(long = "playbook")]
        playbooks: Vec<Uuid>,
        #[arg(long)]
        title: Option<String>,
    },
    /// Approve a run waiting for an Owner.
    Approve { workspace: Uuid, run_id: Uuid },
}

#[derive(Debug, Subcommand)]
pub enum ServiceAccountsCmd {
    /// Create a service account; prints its secret once.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        description: Option<String>,
        /// Admin, UserAdmin, WorkspaceAdmin, AgentAdmin or Member.
        #[arg(long, default_value = "Member")]
        role: String,
        /// Scope (repeatable), e.g. incidents:read.
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// WORKSPACE:ROLE (repeatable), e.g. 0b…:IncidentResponder.
        #[arg(long = "workspace")]
        workspaces: Vec<String>,
    },
    /// Issue a new credential (prints its secret once); --revoke-old revokes the others.
    Rotate {
        id: Uuid,
        #[arg(long)]
        revoke_old: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SignatureCmd {
    /// Verify a delivery's signature (X-CF-Signature or Standard Webhooks). The secret comes
    /// from PALISADE_WEBHOOK_SECRET or standard input; exit 1 when it does not verify.
    Verify {
        /// A header as `Name: value` (repeatable).
        #[arg(long = "header", short = 'H', required = true)]
        headers: Vec<String>,
        /// The raw body file.
        #[arg(long)]
        body: PathBuf,
        /// Timestamp tolerance in seconds.
        #[arg(long, default_value_t = 300)]
        tolerance: u64,
        /// Check as of this Unix time instead of now.
        #[arg(long)]
        at: Option<i64>,
        #[arg(long)]
        secret_stdin: bool,
    },
}
