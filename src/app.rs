//! The program: parse the command line → resolve one job → run it, or `check` → one exit value.

use std::ffi::OsString;
use std::process::ExitCode;

use crate::cli::{self, Action, RunArgs};
use crate::config::{self, ConfigFile};
use crate::exit::Exit;
use crate::kinds::LogFormat;
use crate::log::Logger;

pub fn main() -> ExitCode {
    crate::crash::install();
    crate::run::guard_standard_fds();
    let args: Vec<OsString> = std::env::args_os().collect();
    dispatch(&args).exit_code()
}

fn dispatch(args: &[OsString]) -> Exit {
    if let Some(message) = cli::unreadable_variable() {
        let format = if cli::wants_json(args) {
            LogFormat::Json
        } else {
            LogFormat::Text
        };
        Logger::new(false, format, false).error(&message);
        return Exit::Usage;
    }
    let cli = match cli::parse_from(args) {
        Ok(cli) => cli,
        Err(e) => return usage_error(e, args),
    };
    match cli.action {
        Some(Action::Adopt(adopt)) => crate::adopt::main(&adopt),
        Some(Action::Check(check)) => crate::check::main(&check),
        Some(Action::Next(next)) => crate::next::main(&next),
        Some(Action::Status(args)) => crate::status::status(&args),
        Some(Action::History(args)) => crate::status::history(&args),
        Some(Action::LastOutput(args)) => crate::status::last_output(&args),
        Some(Action::Metrics(args)) => crate::status::metrics(&args),
        Some(Action::Ledger(cli::LedgerAction::Prune(args))) => crate::status::fleet::prune(&args),
        Some(Action::Ledger(cli::LedgerAction::Forget(args))) => {
            crate::status::fleet::forget(&args)
        }
        None => {
            let format = cli.run.options.log_format.unwrap_or_default();
            match job_of(cli.run) {
                Ok(job) => crate::run::execute(job),
                Err((exit, message)) => {
                    Logger::new(false, format, false).error(&message);
                    exit
                }
            }
        }
    }
}

/// clap's help and version go to stdout with status 0; its errors become one line and status 2.
fn usage_error(e: clap::Error, args: &[OsString]) -> Exit {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        let _ = e.print();
        return Exit::Done;
    }
    let message = cli::usage_message(&e, args);
    if cli::wants_plugin_status(args) {
        // A monitoring plugin's every ending is one of its four statuses: bad arguments are UNKNOWN.
        return crate::status::plugin(Exit::Unknown, &message);
    }
    let format = if cli::wants_json(args) {
        LogFormat::Json
    } else {
        LogFormat::Text
    };
    Logger::new(false, format, false).error(&message);
    Exit::Usage
}

/// The job this invocation runs: the config file's, if named, under the command line and environment.
fn job_of(args: RunArgs) -> Result<config::Job, (Exit, String)> {
    let file = args
        .config
        .as_deref()
        .map(ConfigFile::load)
        .transpose()
        .map_err(|message| (Exit::Config, message))?;
    config::resolve(
        &args.given(),
        file.as_ref(),
        args.job.as_deref(),
        args.command,
    )
    .map_err(|message| (Exit::Usage, message))
}
