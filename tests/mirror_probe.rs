//! `--mirror auto`'s probe against real local servers: a good simple index (the official
//! stand-in), a good flat mirror, and the broken kinds it must skip with a reason — one that
//! hangs, one that answers 403, one that serves HTML instead of the wheel, and one whose
//! wheel has a different sha256 than the official index publishes.

mod support;

use std::time::Duration;

use support::mirror::{Behaviour, Layout, MirrorServer, Wheel};
use torchup::compat::index::IndexLayout;
use torchup::compat::probe::{ProbeOptions, ProbeSource, ProbeTarget, probe};
use torchup::compat::tags::{CpuArch, InterpreterTags};
use torchup::facts::Os;

const FILE: &str = "torch-2.5.1+cu124-cp311-cp311-linux_x86_64.whl";

fn wheels(body: &[u8]) -> Vec<Wheel> {
    vec![Wheel::new("cu124", FILE, body), Wheel::new("cu121", "torch-2.5.1+cu121-cp311-cp311-linux_x86_64.whl", body)]
}

fn source(name: &str, srv: &MirrorServer, layout: Option<IndexLayout>) -> ProbeSource {
    ProbeSource { name: name.into(), url: srv.index_url().parse().unwrap(), layout }
}

fn target() -> ProbeTarget {
    ProbeTarget {
        variant: "cu124".into(),
        torch: "2.5.1".into(),
        tags: InterpreterTags::new(3, 11, Os::Linux, CpuArch::X86_64),
    }
}

#[tokio::test]
async fn auto_picks_a_source_that_carries_the_build_and_skips_the_broken_ones_with_the_reason() {
    let body: Vec<u8> = b"PK\x03\x04".iter().copied().chain(std::iter::repeat_n(7u8, 200_000)).collect();
    let official = MirrorServer::start(Layout::Simple, &wheels(&body), Behaviour::Normal);
    let flat = MirrorServer::start(Layout::Flat, &wheels(&body), Behaviour::Normal);
    let partial = MirrorServer::start(
        Layout::Simple,
        &[Wheel::new("cu121", "torch-2.5.1+cu121-cp311-cp311-linux_x86_64.whl", &body)],
        Behaviour::Normal,
    );
    let hanging = MirrorServer::start(Layout::Simple, &wheels(&body), Behaviour::Hang);
    let forbidden = MirrorServer::start(Layout::Simple, &wheels(&body), Behaviour::Forbidden);
    let html = MirrorServer::start(Layout::Simple, &wheels(&body), Behaviour::HtmlForWheels);
    let mut other = body.clone();
    other[100] = 8;
    let tampered = MirrorServer::start(Layout::Simple, &wheels(&other), Behaviour::Normal);
    let sources = vec![
        source("official", &official, None),
        source("flat", &flat, Some(IndexLayout::FlatPerVariant)),
        source("partial", &partial, None),
        source("hanging", &hanging, None),
        source("forbidden", &forbidden, None),
        source("html", &html, None),
        source("tampered", &tampered, None),
    ];
    // Generous limits: a working source ends when its body does, only the hanging one waits
    // out the deadline (a 300 ms window lost whole rows on a loaded machine).
    let opts = ProbeOptions { deadline: Duration::from_secs(8), window: Duration::from_secs(5) };
    let report = probe(&sources, &target(), opts).await;
    let table = report.table();
    let row = |n: &str| report.rows.iter().find(|r| r.name == n).unwrap();

    assert!(row("official").usable() && row("flat").usable(), "{table}");
    assert_eq!(row("official").bytes, body.len() as u64, "{table}");
    assert_eq!(row("flat").sha256, None, "a flat listing publishes no hash");
    assert_eq!(
        (row("partial").carries, row("partial").skipped.as_deref()),
        (Some(false), Some("does not carry cu124"))
    );
    assert_eq!(row("hanging").skipped.as_deref(), Some("no answer within 8.0 s"), "{table}");
    assert_eq!(row("forbidden").skipped.as_deref(), Some("HTTP 403"), "{table}");
    assert_eq!(row("html").skipped.as_deref(), Some("serves HTML instead of a wheel"), "{table}");
    assert_eq!(row("tampered").skipped.as_deref(), Some("sha256 differs from the official index"), "{table}");

    // The pick is the fastest usable row.
    let chosen = &report.rows[report.chosen.expect("a pick")];
    assert!(chosen.usable());
    let best = report.rows.iter().filter(|r| r.usable()).map(|r| r.mb_per_s.unwrap()).fold(0.0, f64::max);
    assert_eq!(chosen.mb_per_s, Some(best));
    // The table names every source and every reason.
    for r in &report.rows {
        assert!(table.contains(&r.name), "{table}");
        if let Some(why) = &r.skipped {
            assert!(table.contains(why.as_str()), "{table}");
        }
    }
    // Everything ended with the deadline, the hanging server included.
    assert!(report.elapsed_ms < 30_000, "{table}");
}

#[tokio::test]
async fn a_slow_page_and_a_trickling_wheel_are_measured_as_slow_not_as_silent() {
    // The page takes most of the deadline and the wheel would need far longer than the window:
    // the measurement stops at the deadline with what arrived, instead of the whole row
    // turning into "no answer".
    let body: Vec<u8> = b"PK\x03\x04".iter().copied().chain(std::iter::repeat_n(7u8, 4_000_000)).collect();
    let slow =
        MirrorServer::start(Layout::Simple, &wheels(&body), Behaviour::Slow(Duration::from_millis(1500), 100_000));
    let opts = ProbeOptions { deadline: Duration::from_secs(3), window: Duration::from_secs(3) };
    let report = probe(&[source("official", &slow, None)], &target(), opts).await;
    let table = report.table();
    let row = &report.rows[0];
    assert!(row.usable(), "{table}");
    assert!(row.bytes > 0 && row.bytes < body.len() as u64, "{table}");
    assert!(row.mb_per_s.is_some_and(|m| m > 0.0 && m < 1.0), "{table}");
    assert_eq!(report.chosen, Some(0));
    assert!(report.elapsed_ms < 10_000, "{table}");
}

#[tokio::test]
async fn nothing_usable_means_no_pick() {
    let hanging = MirrorServer::start(Layout::Simple, &wheels(b"PK\x03\x04x"), Behaviour::Hang);
    let empty = MirrorServer::start(Layout::Simple, &wheels(b"PK\x03\x04x"), Behaviour::EmptyWheels);
    // Generous: the empty source must get its page and its empty answer in time on a loaded
    // machine; only the hanging one waits the deadline out.
    let opts = ProbeOptions { deadline: Duration::from_secs(5), window: Duration::from_secs(1) };
    let sources = [source("official", &hanging, None), source("empty", &empty, None)];
    let report = probe(&sources, &target(), opts).await;
    assert_eq!(report.chosen, None);
    let table = report.table();
    assert_eq!(report.rows[0].skipped.as_deref(), Some("no answer within 5.0 s"), "{table}");
    assert_eq!(report.rows[1].skipped.as_deref(), Some("wheel: empty response"), "{table}");
}
