//! torchup's downloader against a real HTTP server on 127.0.0.1 with injected faults:
//! resume, If-Range, ignored ranges, hash and RECORD checks, server errors, stalls,
//! segments, cancel, the wheelhouse cache and cap, concurrent fetchers, credentials.

mod support;

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use support::faults::{FileFault, FileServer, ServeOptions};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use torchup::fetch::{FetchError, FetchEvent, FetchItem, FetchOptions, Fetched, Fetcher, NetConfig, Wheelhouse};

const MIB: usize = 1024 * 1024;

/// Bytes that do not compress, reproducible from a seed.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A real wheel (zip with a correct RECORD) carrying `payload` stored uncompressed;
/// `tamper` changes one member after RECORD was written.
fn wheel_bytes(payload: &[u8], tamper: bool) -> Vec<u8> {
    use base64::Engine;
    let members: Vec<(&str, Vec<u8>)> = vec![
        ("demo/__init__.py", b"VALUE = 1\n".to_vec()),
        ("demo/payload.bin", payload.to_vec()),
        ("demo-1.0.dist-info/METADATA", b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n".to_vec()),
        ("demo-1.0.dist-info/WHEEL", b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n".to_vec()),
    ];
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut out);
        let opts = zip::write::FileOptions::default().compression_method(zip::CompressionMethod::Stored);
        let mut record = String::new();
        for (name, data) in &members {
            let h = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(data));
            record.push_str(&format!("{name},sha256={h},{}\n", data.len()));
            w.start_file(*name, opts).unwrap();
            if tamper && name.ends_with("__init__.py") {
                w.write_all(b"VALUE = 2\n").unwrap();
            } else {
                w.write_all(data).unwrap();
            }
        }
        record.push_str("demo-1.0.dist-info/RECORD,,\n");
        w.start_file("demo-1.0.dist-info/RECORD", opts).unwrap();
        w.write_all(record.as_bytes()).unwrap();
        w.finish().unwrap();
    }
    out.into_inner()
}

const WHEEL: &str = "demo-1.0-py3-none-any.whl";

struct Case {
    tmp: tempfile::TempDir,
    server: FileServer,
}

impl Case {
    fn new() -> Case {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("srv")).unwrap();
        let server = FileServer::start(tmp.path().join("srv")).unwrap();
        Case { tmp, server }
    }

    /// Put a file on the server; returns its item (with hash unless `hashed` is false).
    fn serve(&self, name: &str, bytes: &[u8], hashed: bool) -> FetchItem {
        std::fs::write(self.tmp.path().join("srv").join(name), bytes).unwrap();
        FetchItem {
            url: self.server.url(name),
            filename: name.to_string(),
            sha256: hashed.then(|| sha256_hex(bytes)),
            size: None,
        }
    }

    fn wheelhouse(&self) -> Wheelhouse {
        Wheelhouse::new(self.tmp.path().join("wh"))
    }

    fn fetcher(&self, opts: FetchOptions) -> Fetcher {
        Fetcher::new(self.wheelhouse(), NetConfig::direct(), opts).unwrap()
    }

    fn partials(&self) -> Vec<String> {
        std::fs::read_dir(self.wheelhouse().partial_dir())
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".part"))
            .collect()
    }
}

/// Fast test defaults: short stalls and pauses.
fn quick() -> FetchOptions {
    FetchOptions {
        stall_timeout: Duration::from_secs(5),
        retry_delay: Duration::from_millis(20),
        max_attempts: 3,
        save_interval: Duration::from_millis(10),
        ..FetchOptions::default()
    }
}

/// Run `fetch_all`, collecting every event.
async fn fetch(f: &Fetcher, items: Vec<FetchItem>) -> (Result<Vec<Fetched>, FetchError>, Vec<FetchEvent>) {
    fetch_with(f, items, CancellationToken::new()).await
}

async fn fetch_with(
    f: &Fetcher,
    items: Vec<FetchItem>,
    cancel: CancellationToken,
) -> (Result<Vec<Fetched>, FetchError>, Vec<FetchEvent>) {
    let (tx, mut rx) = mpsc::channel(64);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = {
        let seen = Arc::clone(&seen);
        tokio::spawn(async move {
            while let Some(ev) = rx.recv().await {
                seen.lock().unwrap().push(ev);
            }
        })
    };
    let r = f.fetch_all(items, tx, cancel).await;
    sink.await.unwrap();
    let events = seen.lock().unwrap().clone();
    (r, events)
}

fn ranged(server: &FileServer) -> Vec<String> {
    server.requests().into_iter().filter_map(|r| r.range).collect()
}

#[tokio::test]
async fn resumes_after_a_mid_file_close_and_fetches_only_the_rest() {
    let c = Case::new();
    let body = noise(3 * MIB, 1);
    let item = c.serve("a-1.0-py3-none-any.whl", &body, true);
    c.server.fault_times("/files/a-1.0-py3-none-any.whl", FileFault::CloseAfter(MIB as u64), 1);
    // One attempt only: the first run ends at the close (as a killed or offline run would).
    let first = c.fetcher(FetchOptions { max_attempts: 1, ..quick() });
    let (r, _) = fetch(&first, vec![item.clone()]).await;
    let e = r.unwrap_err();
    assert!(matches!(e, FetchError::Network { .. }), "{e}");
    assert_eq!(c.partials().len(), 1, "the partial download is kept");
    assert!(c.wheelhouse().list().is_empty());
    drop(first);

    c.server.clear_requests();
    let second = c.fetcher(quick());
    let (r, events) = fetch(&second, vec![item.clone()]).await;
    let got = r.unwrap();
    assert_eq!(got[0].downloaded_bytes, (2 * MIB) as u64, "only the remainder travels");
    assert_eq!(std::fs::read(&got[0].path).unwrap(), body);
    assert!(got[0].origin_verified);
    let reqs = c.server.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].range.as_deref(), Some(format!("bytes={MIB}-{}", 3 * MIB - 1).as_str()));
    assert!(reqs[0].if_range.is_some(), "resumes are guarded by If-Range");
    assert!(events.contains(&FetchEvent::Started {
        file: item.filename.clone(),
        total: Some(3 * MIB as u64),
        resumed_from: MIB as u64
    }));
    assert!(events.iter().any(|e| matches!(e, FetchEvent::Verified { origin_verified: true, .. })));
    assert!(c.partials().is_empty());
}

#[tokio::test]
async fn retries_in_one_run_continue_where_they_stopped() {
    let c = Case::new();
    let body = noise(3 * MIB, 2);
    let item = c.serve("b.whl", &body, true);
    c.server.fault_times("/files/b.whl", FileFault::CloseAfter(MIB as u64), 2);
    let f = c.fetcher(quick());
    let (r, events) = fetch(&f, vec![item]).await;
    let got = r.unwrap();
    assert_eq!(got[0].downloaded_bytes, body.len() as u64, "no byte fetched twice");
    assert_eq!(c.server.bytes_sent(), body.len() as u64);
    assert_eq!(events.iter().filter(|e| matches!(e, FetchEvent::Retrying { .. })).count(), 2);
}

#[tokio::test]
async fn a_file_changed_on_the_server_starts_over_instead_of_splicing() {
    let c = Case::new();
    // No index hash: the partial is keyed by URL and guarded by If-Range alone.
    let old = wheel_bytes(&noise(2 * MIB, 3), false);
    let item = c.serve(WHEEL, &old, false);
    c.server.fault_times(&format!("/files/{WHEEL}"), FileFault::CloseAfter(MIB as u64), 1);
    let (r, _) = fetch(&c.fetcher(FetchOptions { max_attempts: 1, ..quick() }), vec![item.clone()]).await;
    assert!(r.is_err());
    assert_eq!(c.partials().len(), 1);

    std::thread::sleep(Duration::from_millis(20));
    let new = wheel_bytes(&noise(2 * MIB + 77, 4), false);
    c.serve(WHEEL, &new, false);
    c.server.clear_requests();
    let (r, _) = fetch(&c.fetcher(quick()), vec![item]).await;
    let got = r.unwrap();
    assert_eq!(std::fs::read(&got[0].path).unwrap(), new, "the new file, whole");
    assert_eq!(got[0].downloaded_bytes, new.len() as u64);
    assert!(!got[0].origin_verified);
    let reqs = c.server.requests();
    assert!(reqs[0].range.is_some() && reqs[0].if_range.is_some() && reqs[0].status == 200, "{reqs:?}");
}

#[tokio::test]
async fn a_server_that_ignores_range_gets_a_clean_restart() {
    let c = Case::new();
    let body = noise(2 * MIB, 5);
    let item = c.serve("c.whl", &body, true);
    c.server.fault_times("/files/c.whl", FileFault::CloseAfter(MIB as u64), 1);
    let (r, _) = fetch(&c.fetcher(FetchOptions { max_attempts: 1, ..quick() }), vec![item.clone()]).await;
    assert!(r.is_err());
    c.server.fault("/files/c.whl", FileFault::IgnoreRange);
    let (r, _) = fetch(&c.fetcher(quick()), vec![item]).await;
    let got = r.unwrap();
    assert_eq!(std::fs::read(&got[0].path).unwrap(), body);
    assert_eq!(got[0].downloaded_bytes, body.len() as u64, "started over from byte 0");
}

#[tokio::test]
async fn a_wrong_hash_is_retried_once_then_refused_and_nothing_is_kept() {
    let c = Case::new();
    let item = c.serve("d.whl", &noise(300_000, 6), true);
    c.server.fault("/files/d.whl", FileFault::WrongBytes);
    let (r, _) = fetch(&c.fetcher(quick()), vec![item.clone()]).await;
    let e = r.unwrap_err();
    assert!(
        matches!(&e, FetchError::HashMismatch { file, expected, .. } if file == "d.whl" && Some(expected) == item.sha256.as_ref()),
        "{e}"
    );
    assert!(e.to_string().contains("--index-url"));
    assert_eq!(c.server.requests().len(), 2, "downloaded twice");
    assert!(c.wheelhouse().list().is_empty());
    assert!(c.partials().is_empty(), "no unverified bytes kept");

    // A transient corruption (one bad answer) heals with the second download.
    c.server.clear_faults();
    c.server.fault_times("/files/d.whl", FileFault::WrongBytes, 1);
    let (r, _) = fetch(&c.fetcher(quick()), vec![item]).await;
    assert!(r.unwrap()[0].origin_verified);
}

#[tokio::test]
async fn server_errors_and_redirect_loops_are_clear_errors() {
    let c = Case::new();
    let item = c.serve("e.whl", b"eee", true);
    c.server.fault("/files/e.whl", FileFault::ServerError);
    let (r, _) = fetch(&c.fetcher(quick()), vec![item.clone()]).await;
    let e = r.unwrap_err();
    assert!(matches!(e, FetchError::Http { status: 500, .. }), "{e}");
    assert!(e.to_string().contains("HTTP 500") && !e.to_string().contains('\n'), "{e}");
    assert_eq!(c.server.requests().len(), 3, "retried up to max_attempts");

    c.server.clear_faults();
    c.server.fault("/files/e.whl", FileFault::Status(404));
    let (r, _) = fetch(&c.fetcher(quick()), vec![item.clone()]).await;
    assert!(matches!(r.unwrap_err(), FetchError::Http { status: 404, .. }));

    c.server.clear_faults();
    c.server.fault("/files/e.whl", FileFault::RedirectLoop);
    let (r, _) = fetch(&c.fetcher(quick()), vec![item]).await;
    let e = r.unwrap_err();
    assert!(matches!(e, FetchError::Redirect { .. }), "{e}");
    assert!(e.to_string().contains("redirect"), "{e}");
}

#[tokio::test]
async fn a_server_that_never_answers_is_a_stall() {
    let c = Case::new();
    let item = c.serve("f.whl", b"fff", true);
    c.server.fault("/files/f.whl", FileFault::NeverAnswer);
    let opts = FetchOptions { stall_timeout: Duration::from_millis(300), max_attempts: 2, ..quick() };
    let started = Instant::now();
    let (r, events) = fetch(&c.fetcher(opts), vec![item]).await;
    let e = r.unwrap_err();
    assert!(matches!(e, FetchError::Stalled { attempts: 2, .. }), "{e}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(events.iter().any(|e| matches!(e, FetchEvent::Retrying { attempt: 1, .. })));
}

#[tokio::test]
async fn big_files_use_ranged_segments_when_the_server_accepts_ranges() {
    let c = Case::new();
    let body = noise(4 * MIB, 7);
    let item = c.serve("g.whl", &body, true);
    let opts = FetchOptions { segment_threshold: MIB as u64, connections: 4, ..quick() };
    let (r, _) = fetch(&c.fetcher(opts.clone()), vec![item.clone()]).await;
    assert_eq!(std::fs::read(&r.unwrap()[0].path).unwrap(), body);
    let ranges = ranged(&c.server);
    assert_eq!(ranges.len(), 3, "segments 2..4 on their own connections: {ranges:?}");
    assert_eq!(c.server.requests().len(), 4);
    assert!(c.server.bytes_sent() >= body.len() as u64);

    // Without Accept-Ranges: one stream.
    let c = Case::new();
    let item = c.serve("g.whl", &body, true);
    c.server.set_options(ServeOptions { accept_ranges: false, ..ServeOptions::default() });
    let (r, _) = fetch(&c.fetcher(opts), vec![item]).await;
    assert_eq!(r.unwrap()[0].size, body.len() as u64);
    assert_eq!(c.server.requests().len(), 1);
    assert!(ranged(&c.server).is_empty());
}

#[tokio::test]
async fn an_interrupted_segmented_download_resumes_every_segment() {
    let c = Case::new();
    let body = noise(4 * MIB, 8);
    let item = c.serve("h.whl", &body, true);
    // 128 KiB/s a connection: each 1 MiB segment needs 8 s, so none finishes before the cancel.
    c.server.set_options(ServeOptions { per_connection_bps: Some(MIB as u64 / 8), ..ServeOptions::default() });
    let opts = FetchOptions { segment_threshold: MIB as u64, connections: 4, ..quick() };
    let cancel = CancellationToken::new();
    let sidecar = c.wheelhouse().partial_dir().join(format!("{}.json", item.sha256.as_deref().unwrap()));
    // Cancel once the client has saved progress in every segment (its sidecar says so), not
    // when the server has sent bytes: sent is not yet received on a loaded machine.
    let stopper = async {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut all_started = false;
        while !all_started && Instant::now() < deadline {
            let state = torchup::fetch::partial::PartState::load(&sidecar);
            all_started = state.is_some_and(|s| s.segments.len() == 4 && s.segments.iter().all(|g| g.done > 0));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        cancel.cancel();
        (Instant::now(), all_started)
    };
    let fetcher = c.fetcher(opts.clone());
    let ((r, _), (cancelled_at, all_started)) =
        tokio::join!(fetch_with(&fetcher, vec![item.clone()], cancel.clone()), stopper);
    assert!(all_started, "every segment had saved progress before the cancel (waited 60 s)");
    assert_eq!(r.unwrap_err(), FetchError::Cancelled);
    assert!(cancelled_at.elapsed() < Duration::from_secs(10), "cancel is prompt");
    assert_eq!(c.partials().len(), 1, "cancel keeps the partial download");
    let state = torchup::fetch::partial::PartState::load(&sidecar).expect("sidecar");
    assert_eq!(state.segments.len(), 4);
    let unfinished = state.segments.iter().filter(|s| !s.is_complete()).count();
    assert!(unfinished >= 1 && state.done() > 0, "{state:?}");
    drop(fetcher);
    // The server's threads for the cancelled connections notice the closed sockets at
    // their next write; wait for them, so the byte counter below sees the re-run only.
    let deadline = Instant::now() + Duration::from_secs(30);
    while c.server.in_flight() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(c.server.in_flight(), 0, "the cancelled connections ended");

    c.server.set_options(ServeOptions::default());
    c.server.clear_requests();
    let (r, _) = fetch(&c.fetcher(opts), vec![item]).await;
    let got = r.unwrap();
    assert_eq!(std::fs::read(&got[0].path).unwrap(), body);
    assert_eq!(got[0].downloaded_bytes, body.len() as u64 - state.done(), "exactly what was missing");
    assert_eq!(got[0].downloaded_bytes, c.server.bytes_sent());
    let reqs = c.server.requests();
    assert_eq!(reqs.len(), unfinished, "each unfinished segment continues with its own range");
    assert!(reqs.iter().all(|r| r.range.is_some() && r.if_range.is_some()), "{reqs:?}");
}

#[tokio::test]
async fn the_wheelhouse_answers_without_a_byte_and_evicts_by_cap() {
    let c = Case::new();
    let a = c.serve("a.whl", &noise(100_000, 9), true);
    let b = c.serve("b.whl", &noise(100_000, 10), true);
    let f = Fetcher::new(c.wheelhouse().with_cap(150_000), NetConfig::direct(), quick()).unwrap();
    let (r, _) = fetch(&f, vec![a.clone()]).await;
    let first = r.unwrap();
    drop(f);
    c.server.clear_requests();
    let f = Fetcher::new(c.wheelhouse().with_cap(150_000), NetConfig::direct(), quick()).unwrap();
    let (r, events) = fetch(&f, vec![a.clone()]).await;
    let again = r.unwrap();
    assert_eq!(again[0].downloaded_bytes, 0);
    assert_eq!(again[0].path, first[0].path);
    assert!(c.server.requests().is_empty());
    assert_eq!(events, vec![FetchEvent::FromCache { file: "a.whl".into(), size: 100_000 }]);
    drop(f);

    // b does not fit next to a: the least recently used (a) goes, b stays.
    let f = Fetcher::new(c.wheelhouse().with_cap(150_000), NetConfig::direct(), quick()).unwrap();
    let (r, _) = fetch(&f, vec![b.clone()]).await;
    r.unwrap();
    let names: Vec<String> = c.wheelhouse().list().into_iter().map(|e| e.filename).collect();
    assert_eq!(names, ["b.whl"]);
    // a file pinned by a live fetcher is never evicted
    let (r, _) = fetch(&f, vec![a]).await;
    r.unwrap();
    let other = Fetcher::new(c.wheelhouse().with_cap(1), NetConfig::direct(), quick()).unwrap();
    let (r, _) = fetch(&other, vec![]).await;
    r.unwrap();
    assert_eq!(c.wheelhouse().list().len(), 2, "both pinned by `f`");
    drop(f);
    let (r, _) = fetch(&other, vec![]).await;
    r.unwrap();
    assert!(c.wheelhouse().list().is_empty());
}

#[tokio::test]
async fn two_fetchers_of_the_same_file_do_not_corrupt_it() {
    let c = Case::new();
    let body = noise(2 * MIB, 11);
    let item = c.serve("i.whl", &body, true);
    c.server.set_options(ServeOptions { per_connection_bps: Some(8 * MIB as u64), ..ServeOptions::default() });
    let (f1, f2) = (c.fetcher(quick()), c.fetcher(quick()));
    let ((r1, _), (r2, _)) = tokio::join!(fetch(&f1, vec![item.clone()]), fetch(&f2, vec![item]));
    let (r1, r2) = (r1.unwrap(), r2.unwrap());
    assert_eq!(r1[0].path, r2[0].path);
    assert_eq!(std::fs::read(&r1[0].path).unwrap(), body);
    assert_eq!(r1[0].downloaded_bytes + r2[0].downloaded_bytes, body.len() as u64, "one of them waited");
    assert_eq!(c.server.bytes_sent(), body.len() as u64);
}

#[tokio::test]
async fn a_wheel_without_a_published_hash_is_checked_against_its_record() {
    let c = Case::new();
    let good = wheel_bytes(&noise(50_000, 12), false);
    let item = c.serve(WHEEL, &good, false);
    let (r, events) = fetch(&c.fetcher(quick()), vec![item.clone()]).await;
    let got = r.unwrap();
    assert!(!got[0].origin_verified, "integrity checked, origin not verified");
    assert_eq!(got[0].sha256, sha256_hex(&good));
    assert!(events.contains(&FetchEvent::Verified { file: WHEEL.into(), origin_verified: false }));

    let c = Case::new();
    let item = c.serve(WHEEL, &wheel_bytes(&noise(50_000, 12), true), false);
    let (r, _) = fetch(&c.fetcher(quick()), vec![item]).await;
    let e = r.unwrap_err();
    assert!(matches!(&e, FetchError::RecordMismatch { reason, .. } if reason.contains("demo/__init__.py")), "{e}");
    assert!(c.wheelhouse().list().is_empty());
    assert!(c.partials().is_empty());
}

#[tokio::test]
async fn several_files_at_once_and_the_first_failure_stops_the_rest() {
    let c = Case::new();
    let items: Vec<FetchItem> = (0..5).map(|i| c.serve(&format!("m{i}.whl"), &noise(200_000, 20 + i), true)).collect();
    let (r, _) = fetch(&c.fetcher(quick()), items.clone()).await;
    let got = r.unwrap();
    assert_eq!(
        got.iter().map(|f| f.filename.as_str()).collect::<Vec<_>>(),
        ["m0.whl", "m1.whl", "m2.whl", "m3.whl", "m4.whl"]
    );

    let c = Case::new();
    let mut items: Vec<FetchItem> = (0..2).map(|i| c.serve(&format!("n{i}.whl"), &noise(MIB, 30 + i), true)).collect();
    c.server.set_options(ServeOptions { per_connection_bps: Some(MIB as u64 / 8), ..ServeOptions::default() });
    items.push(c.serve("bad.whl", b"x", true));
    // The 404 is held until one of the others has started writing its `.part`, so the
    // cancellation below always has a download in flight to stop (on a loaded machine a
    // plain 404 can arrive before either of them got its headers).
    c.server.fault("/files/bad.whl", FileFault::StatusOnceAPartExists(404, c.wheelhouse().partial_dir()));
    let (r, _) = fetch(&c.fetcher(quick()), items).await;
    assert!(matches!(r.unwrap_err(), FetchError::Http { status: 404, .. }));
    // Each would need 8 s at this rate: cancelled, not finished, and resumable. (Whether the
    // second had started writing too depends on scheduling: at least one had.)
    let partials = c.partials().len();
    assert!((1..=2).contains(&partials), "the others were cancelled; their partial downloads are kept ({partials})");
    assert!(c.wheelhouse().list().is_empty());
}

#[tokio::test]
async fn credentials_come_from_the_url_or_netrc() {
    let c = Case::new();
    let item = c.serve("p.whl", b"private", true);
    let netrc = c.tmp.path().join("netrc");
    std::fs::write(&netrc, "machine 127.0.0.1 login alice password s3cret\n").unwrap();
    let net = NetConfig { netrc: Some(netrc), ..NetConfig::direct() };
    let f = Fetcher::new(c.wheelhouse(), net, quick()).unwrap();
    let (r, _) = fetch(&f, vec![item.clone()]).await;
    r.unwrap();
    // "alice:s3cret"
    assert_eq!(c.server.requests()[0].authorization.as_deref(), Some("Basic YWxpY2U6czNjcmV0"));

    let c2 = Case::new();
    let mut item = c2.serve("q.whl", b"private2", true);
    item.url = item.url.replace("http://", "http://bob:pw@");
    c2.server.fault("/files/q.whl", FileFault::Status(401));
    let (r, _) = fetch(&c2.fetcher(quick()), vec![item]).await;
    let e = r.unwrap_err().to_string();
    assert!(!e.contains(":pw@") && e.contains("credentials"), "{e}");
    assert_eq!(c2.server.requests()[0].authorization.as_deref(), Some("Basic Ym9iOnB3"));
}

#[tokio::test]
async fn a_file_larger_than_the_free_space_is_refused_before_writing() {
    let c = Case::new();
    let item = c.serve("big.whl", b"small really", true);
    // 1 PiB: no test machine has that much free.
    c.server.fault("/files/big.whl", FileFault::ClaimLength(1 << 50));
    let (r, _) = fetch(&c.fetcher(quick()), vec![item]).await;
    let e = r.unwrap_err();
    assert!(matches!(&e, FetchError::DiskFull { needed, .. } if *needed == 1 << 50), "{e}");
    assert!(e.to_string().contains("TORCHUP_CACHE_DIR") && !e.to_string().contains('\n'), "{e}");
    assert!(c.wheelhouse().list().is_empty());
    assert!(c.partials().is_empty(), "nothing was written");
}

#[test]
fn wheel_helper_builds_a_valid_zip() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join(WHEEL);
    std::fs::write(&p, wheel_bytes(b"abc", false)).unwrap();
    assert!(Path::new(&p).is_file());
    assert_eq!(torchup::fetch::verify::check_wheel_record(&p), Ok(()));
}
