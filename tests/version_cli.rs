//! `torchup --version`: what a bug report needs to name the build.

use std::process::Command;

use torchup::build_info;

fn version_output(flag: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_torchup")).arg(flag).output().expect("run torchup");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn version_names_commit_build_date_data_and_target() {
    let line = version_output("--version");
    let re = regex::Regex::new(
        r"^torchup (\d+\.\d+\.\d+\S*) \(commit ([0-9a-f]{12}|unknown), built (\d{4}-\d{2}-\d{2}), compat data (\S+), (\S+-\S+)\)\n$",
    )
    .unwrap();
    let caps = re.captures(&line).unwrap_or_else(|| panic!("unexpected --version output: {line:?}"));
    assert_eq!(&caps[1], env!("CARGO_PKG_VERSION"));
    assert_eq!(&caps[2], build_info::GIT_COMMIT);
    assert_eq!(&caps[4], build_info::DATA_VERSION);
    assert_eq!(version_output("-V"), line, "-V and --version print the same line");

    // Built from a git checkout: the commit is HEAD's (cargo re-runs build.rs when HEAD moves).
    let head = Command::new("git")
        .args(["-C", env!("CARGO_MANIFEST_DIR"), "rev-parse", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    if let Some(head) = head.filter(|_| std::env::var_os("TORCHUP_GIT_COMMIT").is_none()) {
        assert!(head.starts_with(&caps[2]), "--version says {} but HEAD is {head}", &caps[2]);
    }
}
