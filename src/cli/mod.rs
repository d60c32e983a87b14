//! The command line: the contract in docs/contract.md. Each subcommand lives in its own file;
//! this file holds the argument model, exit codes and the printing conventions
//! (`--json` prints exactly one JSON document on stdout, human text goes to stderr).

pub(crate) mod args;
pub mod cache;
pub mod detect;
pub mod doctor;
pub mod explain;
pub(crate) mod fetch_printer;
pub mod install;
pub(crate) mod install_printer;
pub mod interrupted;
pub mod logging;
pub mod output;
pub mod plan;
pub mod verify;
pub mod wizard;

pub use args::{CacheAction, ChoiceArgs, Cli, Command, GlobalArgs};

/// Exit codes (contract).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: ok.
    Ok = 0,
    /// 1: the check, verify or install failed.
    Failed = 1,
    /// 2: usage error (bad flag value, missing file, would need a prompt without a TTY).
    Usage = 2,
    /// 3: environment unusable (no Python found, ...).
    Environment = 3,
}

/// An error that ends the command with a one-line message naming the fix.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CliError {
    pub exit: Exit,
    pub message: String,
}

impl CliError {
    pub fn usage(message: impl Into<String>) -> Self {
        CliError { exit: Exit::Usage, message: message.into() }
    }
    pub fn environment(message: impl Into<String>) -> Self {
        CliError { exit: Exit::Environment, message: message.into() }
    }
    pub fn failed(message: impl Into<String>) -> Self {
        CliError { exit: Exit::Failed, message: message.into() }
    }
}

/// The engine session for these global flags: `--mirror NAME|URL` replaces `--index-url`
/// (`auto` keeps it until the probe picks a source).
pub fn session(g: &GlobalArgs) -> Result<crate::session::Session, CliError> {
    let index_url = mirror_index_url(g)?;
    crate::session::Session::for_host(g.python.clone(), &index_url, g.offline)
        .map_err(|e| CliError::environment(e.to_string()))
}

/// The command's signal listeners (SIGINT/SIGTERM/SIGHUP; Ctrl-C/Ctrl-Break). None only if
/// the runtime refused them (logged): the command then runs without a cancel path, as the
/// default signal actions still stop it and the supervisor stops its children.
pub fn signals() -> Option<crate::exec::signals::Signals> {
    match crate::exec::signals::Signals::install() {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for signals");
            None
        }
    }
}

/// One line on stderr when the index given is one variant's directory (the commands that
/// read the index: plan, install, the wizard). `variant` is `--variant` as given ("auto" in
/// the wizard): the hint to insist on the URL's variant is left out when one was chosen.
pub fn note_variant_index(g: &GlobalArgs, variant: &str) {
    let Ok(typed) = typed_index_url(g) else { return };
    let Some((base, named)) = typed.split_variant() else { return };
    let hint = if variant.trim().eq_ignore_ascii_case("auto") {
        format!("torchup picks the build that runs here; --variant {named} insists on {named}")
    } else {
        format!("the build is --variant {}", variant.trim())
    };
    crate::errln!("torchup: {typed} is the {named} build's index; using its base {base} ({hint})");
}

/// The index torchup reads for these flags: what `--mirror`/`--index-url` name, and when
/// that is one variant's directory (the guide's `--index-url …/whl/cu124`), its base: every
/// variant is read from there. [`note_variant_index`] says so.
pub fn mirror_index_url(g: &GlobalArgs) -> Result<crate::compat::index_url::IndexUrl, CliError> {
    let typed = typed_index_url(g)?;
    Ok(typed.split_variant().map(|(base, _)| base).unwrap_or(typed))
}

/// The index `--mirror` names: a source of the built-in table (official, nju, aliyun, …), a
/// URL, or `auto` (the probe decides later); else `--index-url`.
fn typed_index_url(g: &GlobalArgs) -> Result<crate::compat::index_url::IndexUrl, CliError> {
    use crate::compat::mirrors::by_name;
    match g.mirror.as_deref().map(str::trim) {
        None | Some("auto") => Ok(g.index_url.clone()),
        Some(name) if !name.contains("://") => match by_name(name) {
            Some(s) => s.index_url().map_err(|e| CliError::usage(format!("--mirror {name}: {e}"))),
            None => {
                let names: Vec<&str> = crate::compat::mirrors::bundled().iter().map(|s| s.name.as_str()).collect();
                Err(CliError::usage(format!("--mirror {name}: use auto, a URL, or one of {}", names.join(", "))))
            }
        },
        Some(url) => {
            crate::compat::index_url::IndexUrl::parse(url).map_err(|e| CliError::usage(format!("--mirror: {e}")))
        }
    }
}

/// Plan, probing the mirrors first with `--mirror auto` (the table goes to stderr).
pub async fn plan_with_mirror(
    g: &GlobalArgs,
    session: &mut crate::session::Session,
    facts: &crate::facts::Facts,
    req: &crate::plan::Request,
) -> Result<(crate::plan::Plan, Option<String>), CliError> {
    if g.mirror.as_deref().map(str::trim) != Some("auto") {
        return session.plan(facts, req).await.map_err(CliError::environment);
    }
    let (plan, note, report) = session.plan_auto_mirror(facts, req).await.map_err(CliError::environment)?;
    if let Some(r) = report {
        let picked = r.chosen.map(|i| r.rows[i].name.as_str()).unwrap_or("none (kept the index given)");
        eprintln!(
            "torchup: --mirror auto: probed {} sources in {:.1} s; using {picked}",
            r.rows.len(),
            r.elapsed_ms as f64 / 1000.0
        );
        eprint!("{}", crate::redact::redact_text(&r.table()));
    }
    Ok((plan, note))
}
