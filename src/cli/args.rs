//! clap argument model. Flag names are a contract (docs/contract.md): never rename them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Default PyTorch wheel index.
pub const DEFAULT_INDEX_URL: &str = "https://download.pytorch.org/whl";

#[derive(Debug, Parser)]
#[command(
    name = "torchup",
    version,
    about = "Move PyTorch from the CPU build to a verified CUDA build",
    long_about = "torchup checks your NVIDIA GPU, driver and Python, picks the PyTorch build that will \
actually run on them, installs it with exact pins from one index, and verifies it with a GPU smoke \
test after every stage. If anything fails, it puts your previous build back.\n\n\
Run with no command in a terminal to open the wizard.",
    after_help = "Examples:\n  torchup                       open the wizard\n  torchup detect                what is on this machine\n  torchup plan                  which build to install, and why\n  torchup install --yes         install it without questions\n  torchup verify                re-check after a driver update"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Flags every subcommand accepts.
#[derive(Debug, Clone, Args, Default)]
pub struct GlobalArgs {
    /// Target Python interpreter (default: active venv, conda env, then python on PATH)
    #[arg(long, global = true, value_name = "PATH")]
    pub python: Option<PathBuf>,
    /// PyTorch wheel index base URL (a mirror); variants are <URL>/<variant>
    #[arg(long, global = true, value_name = "URL", default_value = DEFAULT_INDEX_URL)]
    pub index_url: String,
    /// Do not contact the index: plan from bundled data and the cache
    #[arg(long, global = true)]
    pub offline: bool,
    /// Write the full log here instead of the state directory
    #[arg(long, global = true, value_name = "PATH")]
    pub log_file: Option<PathBuf>,
    /// No colors (NO_COLOR is respected too)
    #[arg(long, global = true)]
    pub no_color: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Facts about this machine and the target Python
    Detect {
        /// Print one JSON document on stdout
        #[arg(long)]
        json: bool,
    },
    /// Which build to install and why (nothing is changed)
    Plan {
        #[arg(long)]
        json: bool,
        /// Plan for a saved `torchup detect --json` document instead of this machine
        #[arg(long, value_name = "FILE")]
        facts: Option<PathBuf>,
        #[command(flatten)]
        choice: ChoiceArgs,
    },
    /// Install the planned build, verifying after every stage
    Install {
        /// Do not ask; roll back automatically on failure
        #[arg(long)]
        yes: bool,
        /// Show what would run, change nothing
        #[arg(long)]
        dry_run: bool,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        choice: ChoiceArgs,
    },
    /// Run the GPU smoke test now and compare with the last saved result
    Verify {
        #[arg(long)]
        json: bool,
    },
    /// Facts, smoke test and diagnoses: a report to paste into a bug report
    Doctor {
        #[arg(long)]
        json: bool,
    },
    /// The GPU check through the libtorch torchup was built with (feature `torch`)
    #[cfg(feature = "torch")]
    LibtorchCheck {
        #[arg(long)]
        json: bool,
    },
}

/// The user's choice (plan and install).
#[derive(Debug, Clone, Args, Default)]
pub struct ChoiceArgs {
    /// auto, cpu, or a CUDA variant such as cu118, cu121, cu124, cu126, cu128, cu129, cu130, cu132
    #[arg(long, value_name = "VARIANT", default_value = "auto")]
    pub variant: String,
    /// Exact torch version, e.g. 2.5.1 (default: the newest that runs here)
    #[arg(long, value_name = "VERSION")]
    pub torch: Option<String>,
    /// Keep the installed torch version, change only the build
    #[arg(long, conflicts_with = "torch")]
    pub keep_version: bool,
    /// Package manager that runs the steps
    #[arg(long, value_name = "MANAGER", default_value = "pip", value_parser = ["pip", "uv", "conda"])]
    pub manager: String,
    /// Install this requirements file after torch, without letting it replace the CUDA build
    #[arg(long, value_name = "FILE")]
    pub with_requirements: Option<PathBuf>,
    /// Plan an explicit variant/version even when the checks say it will not run
    #[arg(long)]
    pub force: bool,
}
