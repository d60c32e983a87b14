//! Training advice sized to the card's memory. The 4 GB tier is the guide's own advice
//! (batch 8–16, max length 128–256, mixed precision), with its snippet moved to the current
//! `torch.amp` API (`torch.cuda.amp.*` is deprecated since torch 2.4, catalog F28).

/// Advice for one memory tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Advice {
    /// "4 GB", "6 GB", "8 GB", "12 GB or more".
    pub tier: &'static str,
    pub points: Vec<String>,
    /// A Python snippet to copy.
    pub snippet: &'static [&'static str],
}

/// Mixed precision with the current API.
pub(crate) const AMP_SNIPPET: &[&str] = &[
    "scaler = torch.amp.GradScaler(\"cuda\")",
    "for batch in loader:",
    "    optimizer.zero_grad()",
    "    with torch.amp.autocast(\"cuda\", dtype=torch.float16):",
    "        loss = model(**batch).loss",
    "    scaler.scale(loss).backward()",
    "    scaler.step(optimizer)",
    "    scaler.update()",
];

/// bf16 needs no scaler; Ampere (8.0) and newer run it natively.
pub(crate) const BF16_SNIPPET: &[&str] = &[
    "for batch in loader:",
    "    optimizer.zero_grad()",
    "    with torch.amp.autocast(\"cuda\", dtype=torch.bfloat16):",
    "        loss = model(**batch).loss",
    "    loss.backward()",
    "    optimizer.step()",
];

/// Advice for a card with `memory_mib` of VRAM and compute capability `cc` ("8.6").
pub(crate) fn for_card(memory_mib: u64, cc: Option<&str>) -> Advice {
    let gib = memory_mib as f64 / 1024.0;
    let bf16 = cc.and_then(crate::facts::parse_capability).is_some_and(|(major, _)| major >= 8);
    let precision = if bf16 {
        "mixed precision: bf16 autocast (no scaler needed on this GPU), or FP16 with a GradScaler"
    } else {
        "mixed precision (FP16) with a GradScaler"
    };
    let (tier, batch, len) = if gib <= 4.5 {
        ("4 GB", "8–16", "128–256")
    } else if gib <= 6.5 {
        ("6 GB", "16–24", "256–384")
    } else if gib <= 10.0 {
        ("8 GB", "16–32", "256–512")
    } else {
        ("12 GB or more", "32–64", "512")
    };
    let mut points = vec![
        format!("batch size {batch} (use gradient accumulation for a larger effective batch)"),
        format!("max sequence length {len}"),
        if gib <= 4.5 { "mixed precision (FP16) with a GradScaler".to_string() } else { precision.to_string() },
    ];
    if gib <= 4.5 {
        points.push("the desktop already uses 0.3–0.6 GB: close other GPU apps while training".into());
        points.push(
            "Windows: set \"CUDA – Sysmem Fallback Policy\" to \"Prefer No Sysmem Fallback\" so a full card \
             gives an out-of-memory error instead of silently training 5–50× slower"
                .into(),
        );
    }
    points.push("training draws more power and heat: keep the laptop plugged in and cooled".into());
    let snippet = if bf16 && gib > 4.5 { BF16_SNIPPET } else { AMP_SNIPPET };
    Advice { tier, points, snippet }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_gb_is_the_guides_advice() {
        let a = for_card(4096, Some("8.6"));
        assert_eq!(a.tier, "4 GB");
        assert!(a.points[0].starts_with("batch size 8–16"));
        assert_eq!(a.points[1], "max sequence length 128–256");
        assert!(a.points[2].contains("FP16") && a.points[2].contains("GradScaler"));
        let code = a.snippet.join("\n");
        assert!(code.contains("torch.amp.GradScaler(\"cuda\")"));
        assert!(code.contains("torch.amp.autocast(\"cuda\""));
        assert!(!code.contains("torch.cuda.amp"));
    }

    #[test]
    fn tiers_scale_with_memory() {
        assert_eq!(for_card(6144, Some("8.6")).tier, "6 GB");
        assert_eq!(for_card(8192, Some("8.9")).tier, "8 GB");
        assert_eq!(for_card(12288, Some("8.9")).tier, "12 GB or more");
        assert_eq!(for_card(24576, Some("8.9")).tier, "12 GB or more");
        // bf16 only where the hardware has it.
        assert!(for_card(8192, Some("8.6")).snippet.join("\n").contains("bfloat16"));
        assert!(!for_card(8192, Some("7.5")).snippet.join("\n").contains("bfloat16"));
        assert!(!for_card(8192, None).snippet.join("\n").contains("bfloat16"));
    }
}
