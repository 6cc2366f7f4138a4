//! Profiles: `profiles.toml` in `palisade/` of the user's config directory (or
//! `PALISADE_CONFIG_DIR`), written with mode 0600 in a 0700 directory. A profile holds the
//! base URL, the client id and the secret; the secret is never printed and never taken from
//! an argument.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::{usage, CmdResult, Failure};

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Profiles {
    /// The profile used when none is named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct Profile {
    pub base_url: String,
    pub client_id: String,
    pub client_secret: String,
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Profile")
            .field("base_url", &self.base_url)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

pub fn dir() -> CmdResult<PathBuf> {
    if let Some(d) = std::env::var_os("PALISADE_CONFIG_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(d));
    }
    use etcetera::BaseStrategy;
    let base = etcetera::choose_base_strategy()
        .map_err(|e| Failure::Usage(format!("no config directory: {e}")))?;
    Ok(base.config_dir().join("palisade"))
}

pub fn path() -> CmdResult<PathBuf> {
    Ok(dir()?.join("profiles.toml"))
}

impl Profiles {
    pub fn load() -> CmdResult<Profiles> {
        let path = path()?;
        match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text)
                .map_err(|e| Failure::Usage(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Profiles::default()),
            Err(e) => usage(format!("{}: {e}", path.display())),
        }
    }

    pub fn save(&self) -> CmdResult {
        let dir = dir()?;
        let io = |e: std::io::Error| Failure::Runtime(format!("{}: {e}", dir.display()));
        std::fs::create_dir_all(&dir).map_err(io)?;
        let text = toml::to_string_pretty(self).map_err(|e| Failure::Runtime(e.to_string()))?;
        let path = path()?;
        let tmp = path.with_extension("toml.tmp");
        write_private(&tmp, text.as_bytes()).map_err(io)?;
        std::fs::rename(&tmp, &path).map_err(io)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
        }
        Ok(())
    }
}

/// Creates (or truncates) a file readable and writable by its owner only.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    f.write_all(bytes)?;
    f.sync_all()
}

/// A secret from standard input (`from_stdin`), else the environment variable `env`, else a
/// prompt without echo when standard input is a terminal.
pub fn read_secret(from_stdin: bool, env: &str, what: &str) -> CmdResult<String> {
    if !from_stdin {
        if let Ok(s) = std::env::var(env) {
            if !s.trim().is_empty() {
                return Ok(s.trim().to_string());
            }
        }
    }
    let stdin = std::io::stdin();
    if !from_stdin && !stdin.is_terminal() {
        return usage(format!(
            "no {what}: set {env}, or pass --secret-stdin and pipe it in"
        ));
    }
    let prompt = stdin.is_terminal();
    if prompt {
        eprint!("{what}: ");
        let _ = std::io::stderr().flush();
    }
    let _echo = prompt.then(EchoOff::new);
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| Failure::Runtime(format!("reading the {what}: {e}")))?;
    if prompt {
        eprintln!();
    }
    let secret = line.trim().to_string();
    if secret.is_empty() {
        return usage(format!("the {what} is empty"));
    }
    Ok(secret)
}

/// Turns terminal echo off until dropped.
struct EchoOff {
    #[cfg(unix)]
    saved: Option<libc::termios>,
}

impl EchoOff {
    fn new() -> EchoOff {
        #[cfg(unix)]
        {
            // SAFETY: tcgetattr/tcsetattr on standard input with a zeroed, then filled, termios.
            unsafe {
                let mut t: libc::termios = std::mem::zeroed();
                if libc::tcgetattr(0, &mut t) != 0 {
                    return EchoOff { saved: None };
                }
                let saved = t;
                t.c_lflag &= !libc::ECHO;
                libc::tcsetattr(0, libc::TCSANOW, &t);
                EchoOff { saved: Some(saved) }
            }
        }
        #[cfg(not(unix))]
        EchoOff {}
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        #[cfg(unix)]
        if let Some(t) = self.saved {
            // SAFETY: restores the attributes read in `new`.
            unsafe {
                libc::tcsetattr(0, libc::TCSANOW, &t);
            }
        }
    }
}
