//! How long planning takes from the bundled data (budget: well under 10 ms per plan).
//!
//! `cargo bench --bench plan` — plans every machine profile in tests/fixtures/facts many
//! times and prints the mean time per plan and its ratio to the 10 ms budget. Exits 1 when
//! a mean exceeds the budget.

use std::hint::black_box;
use std::time::{Duration, Instant};

use torchup::compat::data::{BUNDLED_TOML, CompatData};
use torchup::facts::Facts;
use torchup::plan::{Request, plan};

const BUDGET: Duration = Duration::from_millis(10);

fn mean(iters: u32, mut f: impl FnMut()) -> Duration {
    f(); // warm-up
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    start.elapsed() / iters
}

fn main() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/facts");
    let mut profiles: Vec<(String, Facts)> = std::fs::read_dir(dir)
        .expect("fixtures directory")
        .map(|e| {
            let path = e.expect("directory entry").path();
            let text = std::fs::read_to_string(&path).expect("fixture");
            let name = path.file_stem().unwrap_or_default().to_string_lossy().into_owned();
            (name, serde_json::from_str(&text).expect("fixture is a detect document"))
        })
        .collect();
    profiles.sort_by(|a, b| a.0.cmp(&b.0));

    let parse = mean(50, || {
        black_box(CompatData::from_toml_str(black_box(BUNDLED_TOML)).expect("bundled data"));
    });
    println!("parse + validate bundled data (once per process): {:>9.3} ms", parse.as_secs_f64() * 1e3);

    let data = CompatData::bundled().expect("bundled data");
    let req = Request { index_url: "https://download.pytorch.org/whl".into(), ..Request::default() };
    let iters = 200;
    let mut worst = (String::new(), Duration::ZERO);
    let mut total = Duration::ZERO;
    for (name, facts) in &profiles {
        let t = mean(iters, || {
            black_box(plan(black_box(facts), black_box(&req), data, None));
        });
        total += t;
        if t > worst.1 {
            worst = (name.clone(), t);
        }
    }
    let avg = total / profiles.len() as u32;
    let ratio = |d: Duration| d.as_secs_f64() / BUDGET.as_secs_f64();
    println!(
        "plan, mean over {} profiles × {iters} runs:        {:>9.3} ms  ({:.3} of the 10 ms budget)",
        profiles.len(),
        avg.as_secs_f64() * 1e3,
        ratio(avg)
    );
    println!(
        "slowest profile ({}):      {:>9.3} ms  ({:.3} of the budget)",
        worst.0,
        worst.1.as_secs_f64() * 1e3,
        ratio(worst.1)
    );
    if worst.1 > BUDGET {
        eprintln!("over budget");
        std::process::exit(1);
    }
}
