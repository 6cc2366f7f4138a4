//! `palisadectl`: the command-line client of the Palisade API (DESIGN §12), on
//! `palisade-client`. Exit codes: 0 success, 1 an API (or network) error, 2 a usage error.

mod cli;
mod commands;
mod ingest;
mod listen;
mod output;
mod profile;

use std::process::ExitCode;

use clap::Parser;

use crate::output::Output;

/// Why a command failed, and so its exit code.
#[derive(Debug)]
pub enum Failure {
    /// The API answered with an error, or it could not be reached (exit 1).
    Api(palisade_client::Error),
    /// Something else failed at run time (a file, a signature that does not verify) (exit 1).
    Runtime(String),
    /// The command line or the configuration is wrong (exit 2).
    Usage(String),
}

impl From<palisade_client::Error> for Failure {
    fn from(e: palisade_client::Error) -> Self {
        match e {
            palisade_client::Error::Invalid(msg) => Failure::Usage(msg),
            e => Failure::Api(e),
        }
    }
}

pub type CmdResult<T = ()> = Result<T, Failure>;

pub fn usage<T>(msg: impl Into<String>) -> CmdResult<T> {
    Err(Failure::Usage(msg.into()))
}

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version (exit 0) and usage errors (exit 2).
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let out = Output::new(cli.output);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(commands::run(cli, &out)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Runtime(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(1)
        }
        Err(Failure::Api(e)) => {
            output::print_error(&e);
            ExitCode::from(1)
        }
    }
}
