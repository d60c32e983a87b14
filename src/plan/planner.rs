//! `plan`: Facts + Request + compat data (+ what the index says) → Plan. Pure: no I/O, no
//! clock, no environment; the same inputs give the same plan.

use super::catalog::{self, IndexView};
use super::check::{Assume, evaluate};
use super::decide::{Evaluated, decide};
use super::intent::Intent;
use super::steps::{self, Installed};
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
    let tags = facts.python.as_ref().and_then(|p| InterpreterTags::from_python(p, facts.os, &facts.cpu_arch).ok());
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
    if let Some(s) = index.filter(|s| s.listings.is_empty()) {
        // Nothing usable came back: the bundled data stands in, and the plan's first note says so.
        if let Some(line) = unreadable_index_note(s) {
            plan.warnings.push(line);
        }
    }
    if let Some(v) = &view {
        // A mirror that does not carry a variant answers 404: that build is not on this index.
        let mut missing: Vec<&str> =
            v.not_found.iter().filter(|(p, _)| p == "torch").map(|(_, variant)| variant.as_str()).collect();
        missing.sort_by_key(|m| crate::compat::data::CudaVersion::of_variant(m));
        if !missing.is_empty() {
            plan.warnings.push(format!(
                "not on this index (HTTP 404): {}; those builds are never recommended and install only with --force",
                missing.join(", ")
            ));
        }
        for (variant, why) in v.failed.iter().filter(|(variant, _)| !v.is_not_found("torch", variant)) {
            if why.split("; ").all(|w| w.contains("HTTP 404")) {
                continue; // only a companion page is missing: the rows say so
            }
            plan.warnings.push(format!(
                "the index page for {variant} could not be read ({why}): its builds come from the bundled data"
            ));
        }
    }

    let w = match Intent::of(req, facts) {
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
            // The previous build is already moved aside when the fallback runs: its steps
            // fetch and install (the engine first removes what the failed attempt left).
            let fs = steps::build(facts, req, &ev[f].offer, &Installed::default(), false);
            if let Some(choice) = fs.choice {
                plan.fallback = Some(Fallback { choice, steps: fs.steps });
            }
        }
    }
    plan
}

/// The first note of a plan whose index gave nothing usable, or None when nothing was asked.
fn unreadable_index_note(s: &IndexSnapshot) -> Option<String> {
    if s.failed.is_empty() {
        return None;
    }
    if !s.not_found.is_empty() && s.not_found.len() == s.failed.values().map(|f| f.split("; ").count()).sum::<usize>() {
        return Some(
            "planned from the bundled data: the index answered HTTP 404 for every page (is --index-url a PyTorch index?)"
                .into(),
        );
    }
    let why = s.failed.values().find(|f| !f.contains("HTTP 404")).or(s.failed.values().next())?;
    Some(format!("planned from the bundled data: the index could not be read ({why})"))
}
