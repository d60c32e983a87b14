//! `plan`: Facts + Request + compat data (+ what the index says) → Plan. Pure: no I/O, no
//! clock, no environment; the same inputs give the same plan.

use super::catalog::{self, IndexView};
use super::check::{Assume, evaluate};
use super::decide::{Evaluated, decide};
use super::steps::{self, Installed};
use super::want::want;
use super::{Fallback, PLAN_SCHEMA, Plan, Request, rows};
use crate::compat::available::{DataSource, IndexSnapshot};
use crate::compat::data::CompatData;
use crate::compat::tags::InterpreterTags;
use crate::facts::Facts;

/// Plan the move to a CUDA build.
///
/// `index` is what the live index (or its cache) said for this run; None plans from the
/// bundled data alone and the plan says so (`data_source` "bundled").
pub fn plan(facts: &Facts, req: &Request, data: &CompatData, index: Option<&IndexSnapshot>) -> Plan {
    let m = super::machine::Machine::from_facts(facts);
    let tags = facts.python.as_ref().and_then(|p| InterpreterTags::from_python(p, facts.os, &facts.arch).ok());
    let view = index.filter(|s| !s.listings.is_empty()).map(|s| IndexView::new(s, tags.as_ref()));
    let mut plan = Plan {
        schema: PLAN_SCHEMA,
        choice: None,
        candidates: Vec::new(),
        steps: Vec::new(),
        nothing_to_do: false,
        warnings: Vec::new(),
        explanation: String::new(),
        fallback: None,
        data_source: view.as_ref().and_then(|v| v.source).unwrap_or(DataSource::Bundled).as_str().to_string(),
        data_version: data.meta.version.clone(),
        target_python: facts.python.as_ref().map(|p| p.executable.clone()),
        refused: None,
    };
    if let Some(v) = &view {
        // A mirror that simply does not carry a variant answers 404: one line for all of them.
        let (missing, broken): (Vec<_>, Vec<_>) = v.failed.iter().partition(|(_, why)| why.contains("HTTP 404"));
        if !missing.is_empty() {
            let names: Vec<&str> = missing.iter().map(|(variant, _)| variant.as_str()).collect();
            plan.warnings.push(format!(
                "the index has no pages for {} (HTTP 404): their builds come from the bundled data",
                names.join(", ")
            ));
        }
        for (variant, why) in broken {
            plan.warnings.push(format!(
                "the index page for {variant} could not be read ({why}): its builds come from the bundled data"
            ));
        }
    }

    let w = match want(req, facts) {
        Ok(w) => w,
        Err(reason) => {
            plan.explanation = format!("refused: {reason}");
            plan.refused = Some(reason);
            return plan;
        }
    };

    let ev: Vec<Evaluated<'_>> = catalog::offers(data, &m, view.as_ref(), w.wants_cpu())
        .into_iter()
        .map(|offer| {
            let verdict = evaluate(&offer, &m, Assume::default());
            Evaluated { offer, verdict }
        })
        .collect();
    let d = decide(facts, &w, data, &m, &ev);
    plan.candidates = rows::candidates(&w, &ev, &d);
    plan.explanation = d.explanation.clone();
    plan.nothing_to_do = d.nothing_to_do;
    plan.refused = d.refused.clone();
    plan.warnings.extend(d.warnings.iter().cloned());

    if d.nothing_to_do && facts.python.is_some() {
        plan.steps.push(steps::verify_step(true));
    }

    if let Some(c) = d.chosen {
        let installed = Installed::from_facts(facts);
        let s = steps::build(facts, req, &ev[c].offer, &installed, true);
        plan.steps = s.steps;
        plan.choice = s.choice;
        plan.target_python = s.target_python;
        for warn in s.warnings {
            if !plan.warnings.contains(&warn) {
                plan.warnings.push(warn);
            }
        }
        if let Some(f) = d.fallback {
            // After a failed attempt, anything of the family may be present.
            let mut after = installed.clone();
            for name in ["torch", "torchvision", "torchaudio"] {
                if !after.members.iter().any(|m| m == name) {
                    after.members.push(name.to_string());
                }
            }
            let fs = steps::build(facts, req, &ev[f].offer, &after, false);
            if let Some(choice) = fs.choice {
                plan.fallback = Some(Fallback { choice, steps: fs.steps });
            }
        }
    }
    plan
}
