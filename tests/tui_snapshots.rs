//! Snapshots of every screen (success and failure variants) at 80×24 and 120×40, the
//! too-small message, the help overlay, the confirmation, NO_COLOR and ASCII. States are
//! reached through `update` with the fixture messages; the clock is set by the tests, so
//! spinners and elapsed times are fixed. Snapshots live in src/tui/snapshots/.

mod tui_support;

use crossterm::event::KeyCode;
use ratatui::style::Color;
use torchup::install::InstallEvent;
use torchup::tui::{Mode, Msg, Theme};
use tui_support::*;

/// Snapshot the harness's app at 80×24 and 120×40.
fn snap(name: &str, h: &Harness) {
    for (w, hh) in [(80, 24), (120, 40)] {
        let mut h2 = Harness { app: h.app.clone(), t0: h.t0, effects: vec![] };
        h2.send(Msg::Resize(w, hh));
        let term = h2.render(w, hh);
        insta::with_settings!({ snapshot_path => "../src/tui/snapshots", prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(format!("{name}_{w}x{hh}"), term.backend());
        });
    }
}

/// Snapshot at one size only (states whose scroll position depends on the size).
fn snap_one(name: &str, h: &Harness, w: u16, hh: u16) {
    let term = h.render(w, hh);
    insta::with_settings!({ snapshot_path => "../src/tui/snapshots", prepend_module_to_snapshot => false, omit_expression => true }, {
        insta::assert_snapshot!(format!("{name}_{w}x{hh}"), term.backend());
    });
}

fn check_done() -> Harness {
    let mut h = Harness::wizard();
    h.detected(facts());
    h
}

#[test]
fn check_probing() {
    let mut h = Harness::wizard();
    h.at(0.35);
    snap("check_probing", &h);
}

#[test]
fn check_gpu_reported_python_pending() {
    let mut h = Harness::wizard();
    h.send(Msg::Gpu(Box::new(gpu_probe())));
    h.at(0.8);
    snap("check_partial", &h);
}

#[test]
fn check_after_an_interrupted_install() {
    // What the wizard shows when an earlier install was killed: the journal's line as a
    // notice, and `b` (roll back) in the footer.
    let mut h = check_done();
    h.app.set_interrupted(Some(torchup::tui::app::InterruptedRun {
        line: "an install was interrupted at 'install'; the previous build was torch 2.5.1+cpu".into(),
        python: "C:\\Users\\ana\\ml\\.venv\\Scripts\\python.exe".into(),
        manager: torchup::plan::Manager::Pip,
        prefix: "C:\\Users\\ana\\ml\\.venv".into(),
    }));
    snap("check_interrupted", &h);
}

#[test]
fn check_done_screen() {
    let mut h = check_done();
    h.key(KeyCode::Down);
    snap("check_done", &h);
}

#[test]
fn check_gpu_switched_off() {
    let mut h = Harness::wizard();
    h.detected(facts_gpu_off());
    snap("check_gpu_off", &h);
}

#[test]
fn choose_recommended() {
    let mut h = Harness::wizard();
    h.go_choose(facts(), plan());
    snap("choose", &h);
}

#[test]
fn choose_planning() {
    let mut h = Harness::wizard();
    h.detected(facts());
    h.key(KeyCode::Enter);
    h.at(0.2);
    snap("choose_planning", &h);
}

#[test]
fn choose_old_driver_rejects_rows() {
    let mut h = Harness::wizard();
    h.go_choose(facts_old_driver(), plan_old_driver());
    h.ch('g');
    h.key(KeyCode::Enter);
    snap("choose_old_driver", &h);
}

#[test]
fn choose_wheel_source() {
    // The Source field has the keys; → picks the next source of the built-in table and asks
    // the planner again for it (the same validated index URL type as the CLI's).
    let mut h = Harness::wizard();
    h.go_choose(facts(), plan());
    for _ in 0..3 {
        h.key(KeyCode::Tab);
    }
    let effects = h.key(KeyCode::Right);
    assert_eq!(h.app.request.index_url, "https://mirror.nju.edu.cn/pytorch/whl");
    assert!(
        effects.iter().any(|e| matches!(e, torchup::tui::effect::Effect::Plan { request, .. } if request.index_url == "https://mirror.nju.edu.cn/pytorch/whl")),
        "{effects:?}"
    );
    h.key(KeyCode::Left);
    snap("choose_source", &h);
}

#[test]
fn choose_editing_requirements() {
    let mut h = Harness::wizard();
    h.go_choose(facts(), plan());
    for _ in 0..4 {
        h.key(KeyCode::Tab);
    }
    for c in "requirements.txt".chars() {
        h.ch(c);
    }
    snap("choose_requirements", &h);
}

#[test]
fn review_plan() {
    let mut h = Harness::wizard();
    h.go_review();
    snap("review", &h);
}

#[test]
fn review_dry_run_scrolled() {
    let mut h = Harness::wizard();
    h.send(Msg::Resize(80, 24));
    h.go_review();
    h.ch('d');
    h.key(KeyCode::Right);
    for _ in 0..4 {
        h.key(KeyCode::Down);
    }
    snap_one("review_dry_run", &h, 80, 24);
}

#[test]
fn review_checking_the_machine() {
    let mut h = Harness::wizard();
    h.send(Msg::Resize(80, 24));
    h.go_review_checking();
    h.at(0.3);
    snap_one("review_checking", &h, 80, 24);
}

#[test]
fn review_blocked_by_the_machine_check() {
    let mut h = Harness::wizard();
    h.go_review_checking();
    h.checked(vec![issue_space(), issue_holders(true)]);
    snap("review_blocked", &h);
}

#[test]
fn review_planner_failed() {
    let mut h = Harness::wizard();
    h.go_choose(facts(), plan());
    for _ in 0..3 {
        h.key(KeyCode::Down);
    }
    h.key(KeyCode::Enter);
    let id = h.last_plan_id();
    h.send(Msg::Plan { id, result: Err("the index has no torch 2.6.0 wheel for cp311 win_amd64 under cu124".into()) });
    snap("review_error", &h);
}

fn run_downloading() -> Harness {
    let mut h = Harness::wizard();
    h.go_run();
    h.at(11.0);
    h.events(events_until_download());
    for (i, ev) in download_progress(40).into_iter().enumerate() {
        h.at(20.0 + i as f64 * 0.25);
        h.send(Msg::Install(ev));
    }
    h.at(30.0);
    h
}

#[test]
fn run_in_progress() {
    snap("run_downloading", &run_downloading());
}

#[test]
fn run_failed_stage() {
    let mut h = run_downloading();
    h.events(events_fail_hash());
    h.ch('l');
    snap("run_failed", &h);
}

#[test]
fn run_scrolled_back() {
    let mut h = run_downloading();
    h.send(Msg::Resize(80, 24));
    h.key(KeyCode::PageUp);
    snap_one("run_scrolled", &h, 80, 24);
}

#[test]
fn run_confirm_stop() {
    let mut h = run_downloading();
    h.ch('q');
    snap("run_confirm", &h);
}

#[test]
fn result_success() {
    let mut h = run_downloading();
    h.events(events_finish_ok());
    snap("result_success", &h);
}

#[test]
fn result_success_scrolled_to_the_advice() {
    let mut h = run_downloading();
    h.send(Msg::Resize(80, 24));
    h.events(events_finish_ok());
    for _ in 0..30 {
        h.key(KeyCode::Down);
    }
    snap_one("result_success_advice", &h, 80, 24);
}

#[test]
fn result_failed_not_restored() {
    let mut h = run_downloading();
    h.events(events_fail_hash());
    snap("result_failed", &h);
}

#[test]
fn result_rolled_back() {
    let mut h = run_downloading();
    h.events(events_fail_hash());
    h.ch('b');
    h.events(rollback_events());
    snap("result_rolled_back", &h);
}

#[test]
fn result_broken() {
    let mut h = run_downloading();
    h.send(Msg::Install(InstallEvent::Finished(Box::new(report_broken()))));
    snap("result_broken", &h);
}

#[test]
fn result_dry_run() {
    let mut h = Harness::wizard();
    h.go_review();
    h.ch('d');
    h.key(KeyCode::Enter);
    h.send(Msg::Install(InstallEvent::Finished(Box::new(report_dry_run()))));
    snap("result_dry_run", &h);
}

#[test]
fn verify_running() {
    let mut h = Harness::new(Mode::Verify, Theme::FULL, (80, 24));
    h.at(1.1);
    snap("verify_running", &h);
}

#[test]
fn verify_nothing_changed() {
    let mut h = Harness::new(Mode::Verify, Theme::FULL, (80, 24));
    h.send(Msg::Verified(Ok(Box::new(verify_unchanged()))));
    snap("verify_unchanged", &h);
}

#[test]
fn verify_after_a_driver_downgrade() {
    let mut h = Harness::new(Mode::Verify, Theme::FULL, (80, 24));
    h.send(Msg::Verified(Ok(Box::new(verify_changed()))));
    snap("verify_changed", &h);
}

#[test]
fn verify_could_not_run() {
    let mut h = Harness::new(Mode::Verify, Theme::FULL, (80, 24));
    h.send(Msg::Verified(Err(format!("{PY} exited with code 3221225781 before printing a report"))));
    snap("verify_error", &h);
}

#[test]
fn too_small() {
    let h = check_done();
    for (w, hh) in [(60, 20), (79, 24), (80, 23)] {
        let term = h.render(w, hh);
        insta::with_settings!({ snapshot_path => "../src/tui/snapshots", prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(format!("too_small_{w}x{hh}"), term.backend());
        });
    }
}

#[test]
fn help_overlay() {
    let mut h = check_done();
    h.ch('?');
    snap("help_check", &h);
    let mut h = run_downloading();
    h.ch('?');
    snap("help_run", &h);
}

/// Every cell's colors are unset: the whole screen is monochrome.
fn assert_no_color(h: &Harness, w: u16, hh: u16) {
    let term = h.render(w, hh);
    for cell in term.backend().buffer().content() {
        assert!(matches!(cell.fg, Color::Reset), "fg {:?} at {:?}", cell.fg, cell.symbol());
        assert!(matches!(cell.bg, Color::Reset), "bg {:?} at {:?}", cell.bg, cell.symbol());
    }
}

#[test]
fn no_color_is_monochrome_everywhere() {
    let mono = |mut h: Harness| {
        h.app.theme = Theme::MONO;
        h
    };
    let mut done = run_downloading();
    done.events(events_finish_ok());
    let mut failed = run_downloading();
    failed.events(events_fail_hash());
    let mut choose = Harness::wizard();
    choose.go_choose(facts_old_driver(), plan_old_driver());
    for h in [mono(check_done()), mono(choose), mono(run_downloading()), mono(done), mono(failed)] {
        assert_no_color(&h, 120, 40);
    }
    // And a colored theme does set colors (the check above can fail).
    let term = check_done().render(120, 40);
    assert!(term.backend().buffer().content().iter().any(|c| c.fg != Color::Reset));
    // The styles that remain (bold, reversed) are in the snapshot.
    let mut h = mono(Harness::wizard());
    h.go_choose(facts(), plan());
    let term = h.render(80, 24);
    insta::with_settings!({ snapshot_path => "../src/tui/snapshots", prepend_module_to_snapshot => false, omit_expression => true }, {
        insta::assert_debug_snapshot!("no_color_choose_80x24", term.backend().buffer());
    });
}

#[test]
fn ascii_mode_draws_only_ascii() {
    let ascii = |mut h: Harness| {
        h.app.theme = Theme { color: true, ascii: true };
        h
    };
    let mut done = run_downloading();
    done.events(events_finish_ok());
    let mut choose = Harness::wizard();
    choose.go_choose(facts(), plan());
    let cases = [
        ("ascii_check", ascii(check_done())),
        ("ascii_choose", ascii(choose)),
        ("ascii_run", ascii(run_downloading())),
        ("ascii_result", ascii(done)),
    ];
    for (name, h) in cases {
        let term = h.render(80, 24);
        let text: String = term.backend().buffer().content().iter().map(|c| c.symbol()).collect();
        assert!(text.is_ascii(), "{name}: {:?}", text.chars().filter(|c| !c.is_ascii()).collect::<String>());
        insta::with_settings!({ snapshot_path => "../src/tui/snapshots", prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(format!("{name}_80x24"), term.backend());
        });
    }
}

#[test]
fn choose_on_a_partial_mirror_marks_what_it_lacks() {
    // The real planner on a mirror that carries only cu124 and cu121: the other builds are
    // rows marked "not on this index", never recommended.
    use torchup::compat::available::{DataSource, IndexSnapshot, VariantListing, WheelFile};
    let f = facts();
    let mut snap_ = IndexSnapshot { source: Some(DataSource::Index), ..IndexSnapshot::default() };
    for (variant, package, versions) in [
        ("cu124", "torch", ["2.5.1", "2.6.0"]),
        ("cu124", "torchvision", ["0.20.1", "0.21.0"]),
        ("cu121", "torch", ["2.4.1", "2.5.1"]),
        ("cu121", "torchvision", ["0.19.1", "0.20.1"]),
    ] {
        let files = versions
            .iter()
            .map(|v| {
                let filename = format!("{package}-{v}+{variant}-cp311-cp311-win_amd64.whl");
                WheelFile {
                    url: format!("https://mirror.example/whl/{variant}/{filename}"),
                    filename,
                    name: package.into(),
                    version: format!("{v}+{variant}"),
                    python_tag: "cp311".into(),
                    abi_tag: "cp311".into(),
                    platform_tag: "win_amd64".into(),
                    sha256: None,
                }
            })
            .collect();
        snap_.insert(VariantListing { variant: variant.into(), package: package.into(), files });
    }
    for v in ["cu118", "cu126", "cu128", "cu129", "cu130", "cu132"] {
        snap_.not_found.insert(IndexSnapshot::key(v, "torch"));
        snap_.failed.insert(v.into(), "torch: not on the index (HTTP 404)".into());
    }
    let req = torchup::plan::Request { index_url: "https://mirror.example/whl".into(), ..Default::default() };
    let p = torchup::plan::plan(&f, &req, torchup::compat::data::CompatData::bundled().unwrap(), Some(&snap_));
    assert_eq!(p.choice.as_ref().map(|c| c.variant.as_str()), Some("cu124"));
    let mut h = Harness::wizard();
    h.go_choose(f, p);
    h.ch('g');
    snap("choose_partial_mirror", &h);
}

/// The run fixtures (events, reports, smoke results) describe installing the build the real
/// planner chooses for the saved laptop profile: when the compat data moves the choice,
/// this fails and names what to update in tests/tui_support.
#[test]
fn the_run_fixtures_follow_the_planners_choice() {
    let c = chosen();
    assert_eq!(
        (c.torch.as_str(), c.variant.as_str(), c.torchvision.as_deref(), c.torchaudio.as_deref()),
        ("2.15.0", "cu130", Some("0.30.0+cu130"), Some("2.11.0+cu130")),
        "update the torch/torchvision/torchaudio versions (and the gauge's file count) in \
         tests/tui_support/mod.rs's run fixtures to the planner's choice"
    );
    let stages: Vec<String> = stage_list().iter().map(|s| s.stage.to_string()).collect();
    assert_eq!(stages, ["baseline", "fetch", "uninstall", "install", "verify"], "the plan's own steps");
}
