//! torchup binary: parse arguments, pick the wizard or a subcommand, map to an exit code.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use torchup::cli::{self, Cli, Command, Exit};

fn main() -> ExitCode {
    // `torchup __torchup-supervise <pid> -- argv…`: this process is a child's supervisor.
    if let Some(code) = torchup::exec::supervise::run_if_requested() {
        return ExitCode::from(code.clamp(0, 255) as u8);
    }
    // No child outlives torchup: children run through the supervisor (Linux) or inside a
    // kill-on-close job (Windows).
    if let Ok(exe) = std::env::current_exe() {
        torchup::exec::supervise::enable(exe);
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // clap prints help/version to stdout with exit 0 and usage errors with exit 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { Exit::Usage as u8 } else { 0 });
        }
    };
    let _log_guard = cli::logging::init(cli.global.log_file.as_deref());
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            torchup::errln!("torchup: cannot start the async runtime: {e}");
            return ExitCode::from(Exit::Environment as u8);
        }
    };
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    // Every command that looks at or changes an environment names an unfinished install.
    if matches!(cli.command, None | Some(Command::Verify { .. } | Command::Doctor { .. })) {
        cli::interrupted::print_notices(&torchup::paths::state_dir());
    }
    let result = runtime.block_on(async {
        // `explain -- CMD` exits with the command's own status.
        if let Some(Command::Explain { file, json, facts, no_detect, command }) = cli.command {
            let args = cli::explain::ExplainArgs { file, json, facts, no_detect, command };
            return cli::explain::run(&cli.global, args).await;
        }
        let exit = match cli.command {
            None if interactive => cli::wizard::run(&cli.global, None).await,
            None => cli::doctor::run_non_interactive(&cli.global).await,
            Some(Command::Detect { json }) => cli::detect::run(&cli.global, json).await,
            Some(Command::Plan { json, facts, choice }) => {
                cli::plan::run(&cli.global, json, facts.as_deref(), &choice).await
            }
            Some(Command::Install { yes, dry_run, json, resume, wait, connections, choice }) => {
                let flags = cli::install::InstallFlags { yes, dry_run, json, resume, wait, connections };
                cli::install::run(&cli.global, &flags, &choice, interactive).await
            }
            Some(Command::Rollback { yes, json, wait }) => {
                cli::interrupted::rollback(&cli.global, yes, json, wait, interactive).await
            }
            Some(Command::SmokeScript) => {
                print!("{}", torchup::smoke::SMOKE_TEST_PY);
                Ok(Exit::Ok)
            }
            Some(Command::Verify { json }) if interactive && !json => {
                cli::wizard::run(&cli.global, Some(cli::wizard::StartAt::Verify)).await
            }
            Some(Command::Verify { json }) => cli::verify::run(&cli.global, json).await,
            Some(Command::Doctor { json }) => cli::doctor::run(&cli.global, json).await,
            Some(Command::Cache { action, json }) => cli::cache::run(action, json),
            #[cfg(feature = "torch")]
            Some(Command::LibtorchCheck { json }) => cli::verify::libtorch_check(json),
            Some(Command::Explain { .. }) => unreachable!("handled above"),
        };
        exit.map(|e| e as u8)
    });
    // Stop background probes promptly (e.g. a hung nvidia-smi) instead of waiting on them.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    // A reader that went away (`torchup plan | head -1`) ends a successful run with 141,
    // as a Unix tool killed by SIGPIPE does; a failure keeps its own status.
    let status = match result {
        Ok(code) => code,
        Err(e) => {
            torchup::errln!("torchup: {e}");
            e.exit as u8
        }
    };
    ExitCode::from(cli::output::final_status(status))
}
