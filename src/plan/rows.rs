//! The candidate table: one row per CUDA variant (the guide's cu124 and cu121 always among
//! them), each showing the torch version that matters for it and the verdict of every check.

use super::Candidate;
use super::decide::{Decision, Evaluated, rank};
use super::intent::Intent;
use crate::compat::data::CudaVersion;

/// Variants the guide tells people to use: always shown, with their verdicts.
pub(crate) const GUIDE_VARIANTS: [&str; 2] = ["cu124", "cu121"];

/// Rows for the table, highest CUDA first (a CPU row last when CPU was asked for).
pub(crate) fn candidates(w: &Intent, ev: &[Evaluated<'_>], d: &Decision) -> Vec<Candidate> {
    let mut variants: Vec<&str> = ev.iter().map(|e| e.offer.variant.as_str()).collect();
    variants.sort_by_key(|v| std::cmp::Reverse(CudaVersion::of_variant(v)));
    variants.dedup();
    if !w.wants_cpu() {
        variants.retain(|v| *v != "cpu");
    }

    let mut picked: Vec<usize> = Vec::new();
    let mut rows: Vec<Candidate> = Vec::new();
    for v in variants {
        let of_v = |i: &usize| {
            ev[*i].offer.variant == v && w.torch.as_ref().is_none_or(|(s, _)| s.matches(&ev[*i].offer.version))
        };
        let all: Vec<usize> = (0..ev.len()).filter(of_v).collect();
        let pick = all
            .iter()
            .copied()
            .filter(|&i| ev[i].verdict.ok())
            .max_by_key(|&i| rank(&ev[i]))
            .or_else(|| {
                all.iter().copied().filter(|&i| ev[i].verdict.wheel.ok == Some(true)).max_by_key(|&i| rank(&ev[i]))
            })
            .or_else(|| all.iter().copied().max_by_key(|&i| rank(&ev[i])));
        match pick {
            Some(i) => picked.push(i),
            None if GUIDE_VARIANTS.contains(&v) => {
                if let Some((sel, _)) = &w.torch {
                    rows.push(missing_row(v, &sel.text(), ev));
                }
            }
            None => {}
        }
    }
    for extra in [d.chosen, d.fallback].into_iter().flatten() {
        if !picked.contains(&extra) {
            picked.push(extra);
        }
    }
    let mut out: Vec<Candidate> =
        picked.into_iter().map(|i| row(&ev[i], d.chosen == Some(i) && !d.nothing_to_do)).collect();
    out.extend(rows);
    out.sort_by_key(|c| std::cmp::Reverse(CudaVersion::of_variant(&c.variant)));
    out
}

fn row(e: &Evaluated<'_>, recommended: bool) -> Candidate {
    let v = &e.verdict;
    Candidate {
        variant: e.offer.variant.clone(),
        torch: e.offer.torch.clone(),
        ok: v.ok(),
        reasons: v.reasons(),
        driver_ok: v.driver.ok,
        arch_ok: v.arch.ok,
        python_ok: v.wheel.ok,
        unconfirmed: e.offer.unconfirmed() || v.unknown_fact(),
        recommended,
    }
}

/// A guide variant the requested torch does not have.
fn missing_row(variant: &str, torch: &str, ev: &[Evaluated<'_>]) -> Candidate {
    let with: Vec<&str> = ev.iter().filter(|e| e.offer.variant == variant).map(|e| e.offer.torch.as_str()).collect();
    let span = match (with.first(), with.last()) {
        (Some(a), Some(b)) => format!(" ({variant} exists for torch {a}–{b})"),
        _ => String::new(),
    };
    Candidate {
        variant: variant.into(),
        torch: torch.into(),
        ok: false,
        reasons: vec![format!("torch {torch} has no {variant} build{span}")],
        driver_ok: None,
        arch_ok: None,
        python_ok: Some(false),
        unconfirmed: false,
        recommended: false,
    }
}
