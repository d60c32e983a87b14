//! `torchup plan`: which build to install and why, and the steps — nothing is changed.
//!
//! Human output: the candidate table and the steps as commands to paste into the target
//! machine's shell. `--json`: the plan document of docs/contract.md. `--facts FILE` plans for a saved
//! `torchup detect --json` document.

use std::fmt::Write as _;
use std::path::Path;

use super::output::print_json;
use super::{ChoiceArgs, CliError, Exit, GlobalArgs};
use crate::facts::{FACTS_SCHEMA, Facts, Os};
use crate::plan::{Candidate, Manager, Plan, Request, Step};

pub async fn run(g: &GlobalArgs, json: bool, facts: Option<&Path>, c: &ChoiceArgs) -> Result<Exit, CliError> {
    let mut session = super::session(g)?;
    super::note_variant_index(g, &c.variant);
    let facts = match facts {
        Some(path) => load_facts(path)?,
        None => {
            let gathered = session.detect().await;
            if let Some(e) = gathered.python_error {
                return Err(CliError::environment(e.to_string()));
            }
            gathered.facts
        }
    };
    let req = request_from(g, c, &session.cwd, &session.constraints_file())?;
    let (plan, note) = super::plan_with_mirror(g, &mut session, &facts, &req).await?;
    if let Some(note) = note {
        crate::errln!("torchup: {note}");
    }
    if json {
        print_json(&plan)?;
    } else {
        crate::out!("{}", render(&plan, facts.os));
        if let Some(r) = &plan.refused {
            crate::errln!("torchup: refused: {r}");
        }
    }
    Ok(exit_code(&plan))
}

/// 0 when there is a build to install or nothing to do; 1 when the explicit choice was
/// refused or no CUDA build can run here.
pub fn exit_code(plan: &Plan) -> Exit {
    if plan.choice.is_some() || plan.nothing_to_do { Exit::Ok } else { Exit::Failed }
}

/// Read a saved `torchup detect --json` document.
pub fn load_facts(path: &Path) -> Result<Facts, CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::usage(format!("cannot read the facts file {}: {e}", path.display())))?;
    let schema = serde_json::from_str::<serde_json::Value>(&text)
        .map_err(|e| {
            CliError::usage(format!(
                "{} is not JSON ({e}): save it with `torchup detect --json > FILE`",
                path.display()
            ))
        })?
        .get("schema")
        .and_then(serde_json::Value::as_u64);
    if schema != Some(u64::from(FACTS_SCHEMA)) {
        return Err(CliError::usage(format!(
            "{} is not a torchup detect document (schema {FACTS_SCHEMA} expected): save it with `torchup detect --json > FILE`",
            path.display()
        )));
    }
    serde_json::from_str(&text).map_err(|e| {
        CliError::usage(format!(
            "{} is not a valid detect document ({e}): save it with `torchup detect --json > FILE`",
            path.display()
        ))
    })
}

/// The planner's request from the command line.
pub fn request_from(g: &GlobalArgs, c: &ChoiceArgs, cwd: &Path, constraints: &Path) -> Result<Request, CliError> {
    let variant = c.variant.trim().to_ascii_lowercase();
    let variant = match variant.as_str() {
        "" | "auto" => None,
        v if v == "cpu" || crate::version::cuda_of_variant(v).is_some() => Some(v.to_string()),
        v => {
            return Err(CliError::usage(format!(
                "--variant {v}: use auto, cpu or a CUDA variant such as cu118, cu121, cu124, cu126, cu128, cu129, cu130, cu132"
            )));
        }
    };
    let manager = match c.manager.as_str() {
        "pip" => Manager::Pip,
        "uv" => Manager::Uv,
        "conda" => Manager::Conda,
        m => return Err(CliError::usage(format!("--manager {m}: use pip, uv or conda"))),
    };
    let requirements = match &c.with_requirements {
        None => None,
        Some(p) => Some(
            crate::session::requirements_path(cwd, &p.to_string_lossy())
                .map_err(|_| CliError::usage(format!("--with-requirements {}: no such file", p.display())))?,
        ),
    };
    Ok(Request {
        variant,
        torch: c.torch.clone(),
        keep_version: c.keep_version,
        manager,
        requirements,
        force: c.force,
        index_url: super::mirror_index_url(g)?.expose(),
        workdir: Some(cwd.display().to_string()),
        constraints_file: Some(constraints.display().to_string()),
        links_dir: None,
    })
}

fn mark(ok: Option<bool>, na: bool) -> &'static str {
    match (ok, na) {
        (_, true) => "–",
        (Some(true), _) => "✓",
        (Some(false), _) => "✗",
        (None, _) => "?",
    }
}

fn table(out: &mut String, rows: &[Candidate]) {
    let tw = rows.iter().map(|r| r.torch.len()).max().unwrap_or(5).max(5);
    let _ = writeln!(out, "    {:<8} {:<tw$}  driver  arch  python", "variant", "torch");
    for r in rows {
        let cpu = r.variant == "cpu";
        let lead = if r.recommended { "  → " } else { "    " };
        let extra = if r.unconfirmed { "  (unconfirmed)" } else { "" };
        let _ = writeln!(
            out,
            "{lead}{:<8} {:<tw$}  {:<6}  {:<4}  {:<6}{extra}",
            r.variant,
            r.torch,
            mark(r.driver_ok, cpu),
            mark(r.arch_ok, cpu),
            mark(r.python_ok, false),
        );
        for reason in &r.reasons {
            let _ = writeln!(out, "          {reason}");
        }
    }
}

fn steps(out: &mut String, steps: &[Step], os: Os) {
    for (i, s) in steps.iter().enumerate() {
        let _ = writeln!(out, "  # {}. {} [{}]", i + 1, s.summary, s.stage.as_str());
        for (path, content) in &s.writes {
            let _ = writeln!(out, "  # torchup writes {path}:");
            for line in content.lines() {
                let _ = writeln!(out, "  #   {line}");
            }
        }
        if s.argv.is_empty() {
            // torchup's own work: the fetch, the move aside, the embedded smoke test.
            let _ = writeln!(out, "  (done by torchup itself)");
        } else {
            let _ = writeln!(out, "  {}", crate::shell::Shell::default_for(os).render(&s.argv));
        }
    }
}

/// The human report.
pub fn render(plan: &Plan, os: Os) -> String {
    crate::redact::redact_text(&render_plain(plan, os)).into_owned()
}

fn render_plain(plan: &Plan, os: Os) -> String {
    let mut out = String::new();
    match plan.warnings.first().filter(|w| w.starts_with("planned from the bundled data")) {
        // The first line says when the index could not be read.
        Some(w) => {
            let _ = writeln!(out, "torchup plan ({w}; compat data {})", plan.data_version);
        }
        None => {
            let _ = writeln!(out, "torchup plan (data: {}, compat data {})", plan.data_source, plan.data_version);
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "  {}", plan.explanation);
    if let Some(c) = &plan.choice {
        let _ = writeln!(out, "  build: torch {}+{} from {} ({})", c.torch, c.variant, c.index_url, c.manager.as_str());
    }
    let _ = writeln!(out);
    if !plan.candidates.is_empty() {
        let _ = writeln!(out, "Candidates:");
        table(&mut out, &plan.candidates);
        let _ = writeln!(out);
    }
    if !plan.warnings.is_empty() {
        let _ = writeln!(out, "Notes:");
        for w in &plan.warnings {
            let _ = writeln!(out, "  ! {w}");
        }
        let _ = writeln!(out);
    }
    if !plan.steps.is_empty() {
        let shell = if os == Os::Windows { "PowerShell" } else { "sh" };
        let title = if plan.nothing_to_do { "Check it" } else { "Steps" };
        let _ = writeln!(out, "{title} ({shell}):");
        steps(&mut out, &plan.steps, os);
        let _ = writeln!(out);
    }
    if let (Some(f), Some(c)) = (&plan.fallback, &plan.choice) {
        let _ = writeln!(
            out,
            "If torch {}+{} fails, the planned fallback is torch {}+{}:",
            c.torch, c.variant, f.choice.torch, f.choice.variant
        );
        steps(&mut out, &f.steps, os);
        let _ = writeln!(out);
    }
    out
}
