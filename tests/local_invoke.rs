//! Local invocation with cargo lambda, the way the README shows it: `cargo lambda watch`
//! serves the functions, `cargo lambda invoke <function> --data-file <sample>` calls one.
//!
//! Needs `cargo-lambda` on PATH; `cargo xtask test` installs it (pinned) into
//! `.eventrail/venv/tools/bin` and puts that first on PATH.

use std::{
    net::TcpStream,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `cargo lambda watch` in its own process group, stopped (with its children) on drop.
struct Watch {
    child: Child,
    port: u16,
}

impl Watch {
    fn start() -> Self {
        let probe = Command::new("cargo").args(["lambda", "--version"]).output();
        assert!(
            probe.as_ref().is_ok_and(|o| o.status.success()),
            "cargo-lambda is not on PATH; run the tests with `cargo xtask test`, which installs it"
        );
        // Build the binaries first, so the first invoke does not wait on a compile while
        // other tests load the machine (watch then finds them up to date).
        let build = eventrail_local::tools::cargo_command()
            .current_dir(repo_root())
            .args(["build", "--bin", "inventory", "--bin", "payments"])
            .status()
            .expect("run cargo build");
        assert!(build.success(), "cargo build of the functions failed");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        let log =
            std::fs::File::create(std::env::temp_dir().join(format!("eventrail-watch-{port}.log")))
                .expect("log");
        let child = std::os::unix::process::CommandExt::process_group(
            eventrail_local::tools::cargo_command()
                .current_dir(repo_root())
                .args([
                    "lambda",
                    "watch",
                    "--invoke-address",
                    "127.0.0.1",
                    "--invoke-port",
                ])
                .arg(port.to_string())
                .args(["--env-var", "EVENTRAIL_DRY_RUN=1"])
                .stdout(Stdio::from(log.try_clone().expect("log"))),
            0,
        )
        .stderr(Stdio::from(log))
        .spawn()
        .expect("start cargo lambda watch");
        let watch = Self { child, port };
        let deadline = Instant::now() + Duration::from_secs(120);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "cargo lambda watch did not listen on port {port}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        watch
    }

    fn invoke(&self, function: &str, sample: &str) -> Value {
        let output = Command::new("cargo")
            .current_dir(repo_root())
            .args([
                "lambda",
                "invoke",
                "--invoke-address",
                "127.0.0.1",
                "--invoke-port",
            ])
            .arg(self.port.to_string())
            .args(["--data-file", sample, function])
            .output()
            .expect("run cargo lambda invoke");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "cargo lambda invoke {function} {sample} failed: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
    }
}

#[test]
#[ignore = "needs cargo-lambda: cargo xtask test installs it"]
fn inventory_reserves_in_stock_orders_and_reports_out_of_stock_skus() {
    let watch = Watch::start();

    let reserved = watch.invoke("inventory", "events/samples/order-placed.json");
    assert_eq!(reserved["outcome"], "handled", "{reserved}");
    assert_eq!(reserved["emitted"][0]["detail_type"], "StockReserved");
    assert_eq!(
        reserved["emitted"][0]["detail"]["data"]["order"]["order_id"],
        "ord-1001"
    );
    assert_eq!(
        reserved["emitted"][0]["detail"]["metadata"]["correlation_id"],
        "corr-ord-1001"
    );

    let unavailable = watch.invoke("inventory", "events/samples/order-placed-out-of-stock.json");
    assert_eq!(unavailable["emitted"][0]["detail_type"], "StockUnavailable");
    assert_eq!(
        unavailable["emitted"][0]["detail"]["data"]["unavailable_skus"],
        serde_json::json!(["OOS-KETTLE-009"])
    );

    let poison = watch.invoke(
        "inventory",
        "events/samples/poison/order-placed-zero-quantity.json",
    );
    assert_eq!(poison["outcome"], "dead-lettered");
    assert_eq!(
        poison["reason"],
        "detail.data.order.items[0].quantity: must be at least 1"
    );

    let declined = watch.invoke(
        "payments",
        "events/samples/stock-reserved-card-declined.json",
    );
    assert_eq!(declined["emitted"][0]["detail_type"], "PaymentFailed");
}

#[test]
fn a_function_without_its_configuration_names_the_variable_to_set() {
    // The real binary, started the way Lambda starts it, but without EVENTRAIL_BUS_NAME.
    let output = eventrail_local::tools::cargo_command()
        .current_dir(repo_root())
        .args(["run", "--quiet", "--bin", "inventory"])
        .env_remove("EVENTRAIL_BUS_NAME")
        .env_remove("EVENTRAIL_DLQ_URL")
        .env_remove("EVENTRAIL_DRY_RUN")
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
        .env("AWS_LAMBDA_FUNCTION_NAME", "inventory")
        .output()
        .expect("run the inventory binary");
    assert!(!output.status.success(), "it must not start without a bus");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stdout.contains("environment variable EVENTRAIL_BUS_NAME is not set"),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    assert!(
        !stderr.contains("panicked"),
        "a missing variable must not panic: {stderr}"
    );
}
