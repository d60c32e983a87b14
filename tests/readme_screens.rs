//! README.md's wizard screens are the TUI snapshots (real planner output for a saved facts
//! profile), never hand-written: `scripts/readme_screens.py` copies them, and this fails
//! when README.md and the snapshots differ.

#[test]
fn readme_screens_are_the_snapshots() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = std::process::Command::new("python3")
        .arg(format!("{root}/scripts/readme_screens.py"))
        .arg("--check")
        .env_remove("PYTHONPATH")
        .output()
        .expect("python3 runs (a prerequisite of the test suite)");
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}
