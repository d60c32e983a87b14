//! `torchup cache`: the real binary on an isolated cache directory.

mod support;

use std::time::Duration;

use support::env::Isolated;
use torchup::fetch::Wheelhouse;

fn torchup(iso: &Isolated, args: &[&str]) -> support::proc::Output {
    let mut cmd = iso.command(env!("CARGO_BIN_EXE_torchup"));
    cmd.args(args);
    support::proc::run(&mut cmd, Duration::from_secs(60)).unwrap()
}

#[test]
fn list_and_clean_the_wheelhouse() {
    let iso = Isolated::new().unwrap();
    let wh = Wheelhouse::new(iso.cache_dir().join("wheelhouse"));
    let incoming = iso.path("incoming.whl");
    std::fs::write(&incoming, b"0123456789").unwrap();
    let (sha, _) = torchup::fetch::verify::sha256_file(&incoming).unwrap();
    wh.insert(&incoming, &sha, "demo-1.0-py3-none-any.whl", false).unwrap();

    let out = torchup(&iso, &["cache"]);
    assert!(out.success(), "{}", out.combined());
    assert!(out.stdout.contains("demo-1.0-py3-none-any.whl"), "{}", out.stdout);
    assert!(out.stdout.contains("origin not verified"));
    assert!(out.stdout.contains("Total 10 B of a 12.9 GB cap"), "{}", out.stdout);

    let out = torchup(&iso, &["cache", "list", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["files"][0]["sha256"], sha.as_str());
    assert_eq!(doc["files"][0]["size"], 10);
    assert_eq!(doc["total"], 10);

    // Recently used: a plain clean keeps it, --all removes it.
    let out = torchup(&iso, &["cache", "clean"]);
    assert!(out.success() && out.stdout.contains("Freed 0 B"), "{}", out.combined());
    assert_eq!(wh.list().len(), 1);
    let out = torchup(&iso, &["cache", "clean", "--all", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(doc["freed"], 10);
    assert!(wh.list().is_empty());

    let out = torchup(&iso, &["cache", "--all"]);
    assert_eq!(out.status.code(), Some(2), "{}", out.combined());
    let out = torchup(&iso, &["cache", "purge"]);
    assert_eq!(out.status.code(), Some(2), "{}", out.combined());
}
