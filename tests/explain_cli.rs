//! `torchup explain` as a user runs it: the real binary on files and stdin in the
//! encodings real consoles write (UTF-16LE from PowerShell 5.1, GBK/cp936, Shift_JIS/cp932,
//! UTF-8 read as cp1252), with colour codes, `\r` redraws, CRLF and tabs; binary input; a
//! facts file from another machine; and `explain -- CMD` running a real child.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use encoding_rs::{GBK, SHIFT_JIS, WINDOWS_1252};
use serde_json::Value;
use support::env::Isolated;
use support::proc::{Output, run};

const LIMIT: Duration = Duration::from_secs(60);

const WINERROR_126_ZH: &str = "Traceback (most recent call last):\r\n  File \"train.py\", line 1, in <module>\r\n    import torch\r\nOSError: [WinError 126] 找不到指定的模块。 Error loading \"C:\\venv\\lib\\site-packages\\torch\\lib\\c10.dll\" or one of its dependencies.\r\n";
const WINERROR_126_JA: &str = "OSError: [WinError 126] 指定されたモジュールが見つかりません。 Error loading \"C:\\venv\\lib\\site-packages\\torch\\lib\\c10.dll\" or one of its dependencies.\r\n";

fn torchup(iso: &Isolated) -> Command {
    let mut cmd = iso.command(env!("CARGO_BIN_EXE_torchup"));
    cmd.arg("explain");
    cmd
}

fn write(iso: &Isolated, name: &str, bytes: &[u8]) -> PathBuf {
    let path = iso.path(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn json_of(out: &Output) -> Value {
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", out.stdout, out.stderr))
}

fn explain_file(iso: &Isolated, path: &Path) -> (Output, Value) {
    let out = run(torchup(iso).arg(path).args(["--json", "--no-detect"]), LIMIT).unwrap();
    let doc = json_of(&out);
    (out, doc)
}

fn ids(doc: &Value) -> Vec<String> {
    doc["diagnoses"].as_array().unwrap().iter().map(|d| d["id"].as_str().unwrap().to_string()).collect()
}

fn encode(encoding: &'static encoding_rs::Encoding, text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding.encode(text);
    assert!(!unmappable);
    bytes.into_owned()
}

#[test]
fn powershell_utf16_with_bom_is_read() {
    let iso = Isolated::new().unwrap();
    let mut bytes = vec![0xff, 0xfe];
    bytes.extend(WINERROR_126_ZH.encode_utf16().flat_map(u16::to_le_bytes));
    let (out, doc) = explain_file(&iso, &write(&iso, "ps51.log", &bytes));
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    assert_eq!(ids(&doc), ["F14"]);
    assert_eq!(doc["encoding"], "UTF-16LE");
    assert_eq!(doc["unrecognised"], false);
    let evidence = &doc["diagnoses"][0]["evidence_lines"][0];
    assert_eq!(evidence["line"], 4);
    assert!(evidence["text"].as_str().unwrap().contains("找不到指定的模块"), "{evidence}");
}

#[test]
fn chinese_and_japanese_console_code_pages_are_read() {
    let iso = Isolated::new().unwrap();
    let (_, zh) = explain_file(&iso, &write(&iso, "gbk.log", &encode(GBK, WINERROR_126_ZH)));
    assert_eq!((ids(&zh), zh["encoding"].as_str()), (vec!["F14".to_string()], Some("GBK")));
    assert!(zh["diagnoses"][0]["evidence_lines"][0]["text"].as_str().unwrap().contains("找不到指定的模块"));
    let (_, ja) = explain_file(&iso, &write(&iso, "cp932.log", &encode(SHIFT_JIS, WINERROR_126_JA)));
    assert_eq!((ids(&ja), ja["encoding"].as_str()), (vec!["F14".to_string()], Some("Shift_JIS")));
    assert!(ja["diagnoses"][0]["evidence_lines"][0]["text"].as_str().unwrap().contains("見つかりません"));
}

#[test]
fn utf8_read_as_cp1252_is_repaired() {
    let iso = Isolated::new().unwrap();
    // What a UTF-8 message looks like after a cp1252 console decoded it, saved as UTF-8.
    let (garbled, _, _) = WINDOWS_1252.decode(WINERROR_126_ZH.as_bytes());
    assert!(garbled.contains("æ‰¾"), "{garbled}");
    let (_, doc) = explain_file(&iso, &write(&iso, "mojibake.log", garbled.as_bytes()));
    assert_eq!(ids(&doc), ["F14"]);
    let text = doc["diagnoses"][0]["evidence_lines"][0]["text"].as_str().unwrap();
    assert!(text.contains("找不到指定的模块"), "not repaired: {text}");
}

#[test]
fn colours_redraws_line_endings_and_tabs_do_not_hide_the_error() {
    let iso = Isolated::new().unwrap();
    let log = "\u{1b}[32mCollecting torch\u{1b}[0m\r\n  Downloading torch-2.5.1+cu124 (2449.4 MB)\r\n\
               \u{1b}[31m   0%|          | 0/2449\r  50%|#####     | 1224/2449\r 100%|##########| 2449/2449\u{1b}[0m\r\n\
               \tERROR: Could not install packages due to an OSError: [Errno 28] No space left on device\r\n";
    let (out, doc) = explain_file(&iso, &write(&iso, "pip.log", log.as_bytes()));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(ids(&doc), ["F32"]);
    let text = doc["diagnoses"][0]["evidence_lines"][0]["text"].as_str().unwrap();
    assert!(!text.contains('\u{1b}') && !text.contains('\r') && !text.contains('\t'), "{text:?}");
}

#[test]
fn the_root_cause_comes_first_and_repeats_are_folded() {
    let iso = Isolated::new().unwrap();
    let mut log = String::new();
    for i in 0..3 {
        log.push_str(&format!("epoch {i}\n"));
        log.push_str("UserWarning: CUDA initialization: Found no NVIDIA driver on your system.\n");
    }
    log.push_str(
        "RuntimeError: Attempting to deserialize object on a CUDA device but torch.cuda.is_available() is False.\n",
    );
    let (_, doc) = explain_file(&iso, &write(&iso, "train.log", log.as_bytes()));
    assert_eq!(ids(&doc), ["F08", "F40"]);
    assert_eq!(doc["diagnoses"][0]["occurrences"], 3);
    assert_eq!(doc["diagnoses"][0]["evidence_lines"][0]["line"], 2);
}

#[test]
fn binary_input_gets_a_clear_answer() {
    let iso = Isolated::new().unwrap();
    let path = write(&iso, "model.pt", b"PK\x03\x04\x14\x00\x00\x00\x08\x00archive/data.pkl\x80\x02}q\x00");
    let out = run(torchup(&iso).arg(&path).arg("--no-detect"), LIMIT).unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stderr.contains("is not text"), "{}", out.stderr);
    assert!(!out.stderr.contains("panicked"));
}

#[test]
fn an_unrelated_error_is_not_a_known_problem() {
    let iso = Isolated::new().unwrap();
    let path =
        write(&iso, "shape.log", b"RuntimeError: mat1 and mat2 shapes cannot be multiplied (2708x7 and 256x256)\n");
    let out = run(torchup(&iso).arg(&path).arg("--no-detect"), LIMIT).unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.contains("Not a known setup problem"), "{}", out.stdout);
    let (_, doc) = explain_file(&iso, &path);
    assert_eq!(doc["unrecognised"], true);
    assert_eq!(doc["schema"], 1);
}

#[test]
fn stdin_is_read_when_no_file_is_given() {
    let iso = Isolated::new().unwrap();
    let mut child = torchup(&iso)
        .args(["-", "--json", "--no-detect"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"OMP: Error #15: Initializing libiomp5md.dll, but found libiomp5md.dll already initialized.\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(ids(&doc), ["F18"]);
}

#[test]
fn fixes_follow_the_facts_of_another_machine() {
    let iso = Isolated::new().unwrap();
    let facts = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/facts/win-rtx4060-laptop-566-py312.json");
    let path = write(
        &iso,
        "oom.log",
        b"torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 8.00 GiB of which 0 bytes is free.\n",
    );
    let out = run(torchup(&iso).arg(&path).arg("--json").arg("--facts").arg(&facts), LIMIT).unwrap();
    let doc = json_of(&out);
    assert_eq!(ids(&doc), ["F26"]);
    let notes: Vec<&str> = doc["diagnoses"][0]["notes"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(notes.iter().any(|n| n.contains("RTX 4060")), "{notes:?}");
    assert!(notes.iter().any(|n| n.contains("Sysmem Fallback")), "Windows advice expected: {notes:?}");
    // A file that is not a detect document is a usage error naming the fix.
    let bad = write(&iso, "facts.json", b"{\"hello\": 1}");
    let out = run(torchup(&iso).arg(&path).arg("--facts").arg(&bad), LIMIT).unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stderr.contains("torchup detect --json"), "{}", out.stderr);
}

#[test]
fn a_file_and_a_command_together_is_a_usage_error() {
    let iso = Isolated::new().unwrap();
    let out = run(torchup(&iso).args(["x.log", "--", "true"]), LIMIT).unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stderr.contains("not both"), "{}", out.stderr);
}

#[cfg(unix)]
mod run_a_command {
    use super::*;

    #[test]
    fn output_streams_through_and_a_failure_is_explained_with_the_childs_status() {
        let iso = Isolated::new().unwrap();
        let script =
            "read answer; echo \"stdout: $answer\"; echo 'RuntimeError: No CUDA GPUs are available' >&2; exit 7";
        let mut child = torchup(&iso)
            .args(["--no-detect", "--", "sh", "-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // stdin is the child's: what is typed reaches it.
        child.stdin.take().unwrap().write_all(b"typed by the user\n").unwrap();
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(7), "{stderr}");
        assert_eq!(stdout, "stdout: typed by the user\n");
        // The child's stderr first, unchanged, then the explanation.
        assert!(stderr.starts_with("RuntimeError: No CUDA GPUs are available\n"), "{stderr}");
        assert!(stderr.contains("F35"), "{stderr}");
    }

    #[test]
    fn a_successful_command_is_left_alone() {
        let iso = Isolated::new().unwrap();
        let out = run(torchup(&iso).args(["--no-detect", "--", "sh", "-c", "echo fine; echo 'warning: x' >&2"]), LIMIT)
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(out.stdout, "fine\n");
        assert_eq!(out.stderr, "warning: x\n");
    }

    #[test]
    fn the_child_is_in_torchups_process_group() {
        // Ctrl-C in a terminal goes to the foreground process group: the child must be in
        // it (own-group children would not get it).
        let iso = Isolated::new().unwrap();
        let out = run(
            torchup(&iso).args(["--no-detect", "--", "sh", "-c", "ps -o pgid= -p $$; ps -o pgid= -p $PPID"]),
            LIMIT,
        )
        .unwrap();
        let groups: Vec<&str> = out.stdout.split_whitespace().collect();
        assert_eq!(groups.len(), 2, "{}", out.stdout);
        assert_eq!(groups[0], groups[1], "child and torchup in different process groups");
    }

    #[test]
    fn an_interrupt_ends_the_child_not_torchup_first() {
        // SIGINT to the whole group (what Ctrl-C does): the child dies of it, torchup waits
        // and reports the child's status (128 + 2).
        use std::os::unix::process::CommandExt;
        let iso = Isolated::new().unwrap();
        let mut cmd = torchup(&iso);
        // torchup leads its own group here (as a shell makes it the foreground job), so the
        // interrupt reaches torchup and the child but not this test.
        cmd.process_group(0).args(["--no-detect", "--", "sh", "-c", "sleep 0.2; kill -INT 0; sleep 30"]);
        let out = run(&mut cmd, LIMIT).unwrap();
        assert_eq!(out.status.code(), Some(130), "{}", out.stderr);
        // Following the child takes well under a second; not following it takes 30 s.
        assert!(out.duration < Duration::from_secs(20), "torchup did not follow the child: {:?}", out.duration);
    }
}
