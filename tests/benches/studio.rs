//! The studio's live latency and memory with 100,000 events held (BENCHMARKS.md).
//!
//! On a deployed local stack (as `cargo xtask test --keep` leaves one: `EVENTRAIL_ENDPOINT`
//! and `EVENTRAIL_STACK_OUTPUTS` name it):
//!
//! ```text
//! EVENTRAIL_ENDPOINT=http://localhost:4566 \
//! EVENTRAIL_STACK_OUTPUTS=target/eventrail/stack-outputs.json \
//!   cargo bench -p eventrail-tests --bench studio [-- --events 200 --preload 100000]
//! ```
//!
//! 1. writes `--preload` events (the shop's happy-path flow, four events per order, each
//!    with its own ids) as JSON lines and starts the real `eventrail studio` with them
//!    preloaded (`--preload FILE`: the store API the tap uses);
//! 2. opens the flows page in headless Chromium (the page streams new rows);
//! 3. puts `--events` events on the bus, one every `--interval-ms`, of a source no rule but
//!    the studio's tap matches (no function runs: the machine's load is the studio's);
//! 4. waits until every one is on the page and reads, in the browser, each row's latency:
//!    `Date.now()` when the page's script inserted it minus its `data-received-ms` (when the
//!    tap received it), from `window.studioLatencies`;
//! 5. reports p50, p99 and max, the studio's VmRSS and VmHWM after the preload and at the
//!    end, and the load average; also as JSON in `target/eventrail/studio-bench.json`.
//!
//! Built but not run by `cargo test --benches` (no `--bench` argument).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use eventrail_observe::BusEvent;
use eventrail_tests::browser::Browser;
use eventrail_tests::studio::Studio;
use serde_json::{Value, json};

/// The bench's settings, from its command line.
struct Settings {
    preload: usize,
    events: usize,
    interval: Duration,
}

fn settings(args: &[String]) -> Settings {
    let value = |name: &str, default: u64| -> u64 {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map(|v| {
                v.parse()
                    .unwrap_or_else(|e| panic!("{name} {v}: not a number: {e}"))
            })
            .unwrap_or(default)
    };
    Settings {
        preload: usize::try_from(value("--preload", 100_000)).unwrap_or(usize::MAX),
        events: usize::try_from(value("--events", 200)).unwrap_or(usize::MAX),
        interval: Duration::from_millis(value("--interval-ms", 100)),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") {
        eprintln!("studio bench: run it with `cargo bench -p eventrail-tests --bench studio`");
        return;
    }
    let settings = settings(&args);
    let runtime = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("tokio: {e}"));
    runtime.block_on(bench(&settings));
}

async fn bench(settings: &Settings) {
    let stack = eventrail_tests::stack().await;
    let Some(browser) = Browser::start().await else {
        panic!("the studio bench needs Chromium and chromedriver");
    };
    let dir = eventrail_tests::target_dir()
        .join("eventrail")
        .join("studio-bench");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let file = dir.join("preload.jsonl");
    let started = Instant::now();
    write_preload(&file, settings.preload);
    eprintln!(
        "wrote {} events to {} ({:.1} s)",
        settings.preload,
        file.display(),
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let file_arg = file.display().to_string();
    let studio = Studio::start(&stack, &["--preload", &file_arg]);
    let loaded_in = started.elapsed();
    let after_preload = memory(studio.pid());
    eprintln!(
        "studio up with {} events in {:.1} s: {after_preload:?}",
        settings.preload,
        loaded_in.as_secs_f64()
    );

    browser.open(&studio.url()).await;
    let run = format!("studio-bench-{}", std::process::id());
    let mut put = 0;
    let putting = Instant::now();
    while put < settings.events {
        let event = BusEvent {
            source: "bench.studio".to_owned(),
            detail_type: "StudioBenchTick".to_owned(),
            detail: json!({"metadata": {"correlation_id": run, "idempotency_key": format!("{run}-{put}")},
                           "data": {"n": put}}),
            time: None,
        };
        stack
            .put_event(&event)
            .await
            .unwrap_or_else(|e| panic!("putting event {put}: {e}"));
        put += 1;
        tokio::time::sleep(settings.interval).await;
    }
    let put_for = putting.elapsed();
    let script =
        format!("return document.querySelectorAll('li.event[data-correlation=\"{run}\"]').length;");
    let wanted = settings.events as u64;
    browser
        .wait_until("every benchmark event on the page", &script, |v| {
            v.as_u64().unwrap_or(0) >= wanted
        })
        .await;
    // Every row the stream inserted (only this bench's events reach the bus meanwhile).
    let recorded = browser
        .run("return window.studioLatencies || [];", Vec::new())
        .await;
    let mut samples: Vec<f64> = recorded
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default();
    assert!(
        samples.len() >= settings.events,
        "window.studioLatencies has {} entries for {} events",
        samples.len(),
        settings.events
    );
    samples.sort_by(f64::total_cmp);
    let at_end = memory(studio.pid());
    let loadavg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let report = json!({
        "preloaded": settings.preload,
        "events": settings.events,
        "interval_ms": settings.interval.as_millis() as u64,
        "put_seconds": put_for.as_secs_f64(),
        "studio_start_seconds": loaded_in.as_secs_f64(),
        "latency_ms": {
            "samples": samples.len(),
            "p50": percentile(&samples, 0.50),
            "p99": percentile(&samples, 0.99),
            "max": samples.last().copied(),
        },
        "memory_after_preload_kib": after_preload,
        "memory_at_end_kib": at_end,
        "loadavg": loadavg.trim(),
        "cpus": std::thread::available_parallelism().map(usize::from).unwrap_or(1),
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&report).unwrap_or_default()
    );
    let out = eventrail_tests::target_dir()
        .join("eventrail")
        .join("studio-bench.json");
    std::fs::write(&out, serde_json::to_vec_pretty(&report).unwrap_or_default())
        .unwrap_or_else(|e| panic!("{}: {e}", out.display()));
    browser.close().await;
    eventrail_tests::studio::stop_and_check_the_tap_is_gone(&stack, studio).await;
    let _ = std::fs::remove_file(&file);
}

/// The nearest-rank percentile of sorted `samples`.
fn percentile(samples: &[f64], p: f64) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let rank = (p * samples.len() as f64).ceil() as usize;
    samples.get(rank.clamp(1, samples.len()) - 1).copied()
}

/// `VmRSS` and `VmHWM` of process `pid`, in KiB.
fn memory(pid: u32) -> Value {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| -> Option<u64> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
    };
    json!({"VmRSS": field("VmRSS:"), "VmHWM": field("VmHWM:")})
}

/// `count` events of the shop's happy path (four per order, chained by causation), each with
/// its own ids, as JSON lines: what the tap would have received.
fn write_preload(file: &Path, count: usize) {
    let samples: Vec<Value> = [
        "order-placed.json",
        "stock-reserved.json",
        "payment-captured.json",
        "order-shipped.json",
    ]
    .iter()
    .map(|name| sample(&eventrail_tests::repo().join("events/samples").join(name)))
    .collect();
    let out = std::fs::File::create(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let mut out = std::io::BufWriter::new(out);
    let base = chrono::Utc::now() - chrono::Duration::hours(2);
    for n in 0..count {
        let order = n / samples.len();
        let step = n % samples.len();
        let mut event = samples[step].clone();
        let id = format!("00000000-0000-4000-8000-{n:012}");
        event["id"] = id.into();
        let time = base + chrono::Duration::milliseconds(i64::try_from(n).unwrap_or(0) * 50);
        event["time"] = time.format("%Y-%m-%dT%H:%M:%SZ").to_string().into();
        let metadata = &mut event["detail"]["metadata"];
        metadata["correlation_id"] = format!("corr-preload-{order}").into();
        metadata["idempotency_key"] = format!("k-preload-{n}").into();
        metadata["causation_id"] = if step == 0 {
            Value::Null
        } else {
            format!("00000000-0000-4000-8000-{:012}", n - 1).into()
        };
        if event["detail"]["data"]["order"].is_object() {
            event["detail"]["data"]["order"]["order_id"] = format!("ord-preload-{order}").into();
        }
        serde_json::to_writer(&mut out, &event).unwrap_or_else(|e| panic!("{e}"));
        out.write_all(b"\n").unwrap_or_else(|e| panic!("{e}"));
    }
    out.flush().unwrap_or_else(|e| panic!("{e}"));
}

fn sample(path: &PathBuf) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
