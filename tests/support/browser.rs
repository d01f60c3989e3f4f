//! A real headless Chromium for the studio's tests, driven through WebDriver: `chromedriver`
//! started on a free port, the `fantoccini` client over plain HTTP.
//!
//! `cargo xtask test` installs Debian's `chromium` and `chromium-driver` and names them
//! (`EVENTRAIL_CHROMIUM`, `EVENTRAIL_CHROMEDRIVER`); on a machine where it cannot (no apt-get,
//! not root) it says why in `EVENTRAIL_BROWSER_UNAVAILABLE`, and [`Browser::start`] prints
//! that reason and returns `None`: the test skips, saying why. With neither variable set, the
//! executables are looked up on PATH, and a missing one fails the test (never a silent pass).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

/// How long a page element may take to appear (a flow's events arrive in seconds, on a
/// loaded machine in a minute or more). Nothing asserts on time.
pub const PAGE_DEADLINE: Duration = Duration::from_secs(240);

/// The window every screenshot is taken at.
const WINDOW: (u32, u32) = (1400, 1000);

/// A headless Chromium session and the chromedriver serving it. [`Browser::close`] ends both;
/// dropped without it (a failed test), the session is deleted and chromedriver killed.
pub struct Browser {
    client: Client,
    driver: Child,
    driver_url: String,
    session: Option<String>,
}

/// Where the browser and its driver are.
struct Executables {
    chromium: Option<PathBuf>,
    chromedriver: PathBuf,
}

/// The executables the test command named, or why there are none (`Err`: skip, saying why).
fn executables() -> Result<Executables, String> {
    if let Some(driver) = std::env::var_os("EVENTRAIL_CHROMEDRIVER") {
        return Ok(Executables {
            chromium: std::env::var_os("EVENTRAIL_CHROMIUM").map(PathBuf::from),
            chromedriver: PathBuf::from(driver),
        });
    }
    if let Ok(reason) = std::env::var("EVENTRAIL_BROWSER_UNAVAILABLE") {
        return Err(reason);
    }
    let chromedriver = find_on_path("chromedriver").unwrap_or_else(|| {
        panic!(
            "no chromedriver on PATH: `cargo xtask test` installs Debian's chromium and \
             chromium-driver (or says why it cannot)"
        )
    });
    Ok(Executables {
        chromium: find_on_path("chromium"),
        chromedriver,
    })
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// A port nothing listens on right now (the OS's pick).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
        .unwrap_or_else(|e| panic!("binding a free port: {e}"));
    listener
        .local_addr()
        .unwrap_or_else(|e| panic!("reading the bound port: {e}"))
        .port()
}

/// Where the tests save their screenshots: `target/eventrail/screenshots/`.
pub fn screenshots_dir() -> PathBuf {
    crate::target_dir().join("eventrail").join("screenshots")
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session; `None` (after printing why) when
    /// this machine has no browser the test command could install.
    pub async fn start() -> Option<Self> {
        let executables = match executables() {
            Ok(found) => found,
            Err(reason) => {
                eprintln!("skipped: no browser for the studio's browser tests: {reason}");
                return None;
            }
        };
        let port = free_port();
        let driver = Command::new(&executables.chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", executables.chromedriver.display()));
        let driver_url = format!("http://127.0.0.1:{port}");
        let mut browser = Self {
            client: connect(&driver_url, executables.chromium.as_deref()).await,
            driver,
            driver_url,
            session: None,
        };
        browser.session = browser.client.session_id().await.ok().flatten();
        Some(browser)
    }

    /// The WebDriver client, for what these helpers do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Opens `url` and waits until it loaded.
    pub async fn open(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("opening {url}: {e}"));
    }

    /// The first element matching `css`, waiting until there is one.
    pub async fn wait_for(&self, what: &str, css: &str) -> Element {
        self.client
            .wait()
            .at_most(PAGE_DEADLINE)
            .every(Duration::from_millis(250))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "{what} ({css}) did not appear within {} s: {e}",
                    PAGE_DEADLINE.as_secs()
                )
            })
    }

    /// Every element matching `css` now.
    pub async fn all(&self, css: &str) -> Vec<Element> {
        self.client
            .find_all(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("finding {css}: {e}"))
    }

    /// The visible text of the page's body.
    pub async fn text(&self) -> String {
        let body = self
            .client
            .find(Locator::Css("body"))
            .await
            .unwrap_or_else(|e| panic!("the page has no body: {e}"));
        body.text()
            .await
            .unwrap_or_else(|e| panic!("reading the page's text: {e}"))
    }

    /// Runs `script` in the page (its `return` value as JSON).
    pub async fn run(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("running a script in the page: {e}\n{script}"))
    }

    /// Polls `script` (a `return` expression) until `accept` takes its value; returns it.
    pub async fn wait_until(
        &self,
        what: &str,
        script: &str,
        accept: impl Fn(&Value) -> bool,
    ) -> Value {
        let started = Instant::now();
        loop {
            let value = self.run(script, Vec::new()).await;
            if accept(&value) {
                return value;
            }
            assert!(
                started.elapsed() < PAGE_DEADLINE,
                "{what}: not within {} s; last seen {value}",
                PAGE_DEADLINE.as_secs()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Waits until the page's text satisfies `accept` (a page loading after a click or a
    /// form's submission, or rows arriving live); returns the text.
    pub async fn text_until(&self, what: &str, accept: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            // Between two pages there may be no body for a moment.
            let text = match self.client.find(Locator::Css("body")).await {
                Ok(body) => body.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if accept(&text) {
                return text;
            }
            assert!(
                started.elapsed() < PAGE_DEADLINE,
                "{what}: not within {} s; the page reads:\n{text}",
                PAGE_DEADLINE.as_secs()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Runs `script` asynchronously: it calls its last argument (`arguments[arguments.length -
    /// 1]`) with its result, e.g. once a `fetch` answered.
    pub async fn run_async(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute_async(script, args)
            .await
            .unwrap_or_else(|e| panic!("running a script in the page: {e}\n{script}"))
    }

    /// Reloads the page until its text satisfies `accept` (for pages without a live stream).
    pub async fn reload_until(&self, what: &str, accept: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            let text = self.text().await;
            if accept(&text) {
                return text;
            }
            assert!(
                started.elapsed() < PAGE_DEADLINE,
                "{what}: not within {} s; the page reads:\n{text}",
                PAGE_DEADLINE.as_secs()
            );
            tokio::time::sleep(Duration::from_secs(1)).await;
            self.client
                .refresh()
                .await
                .unwrap_or_else(|e| panic!("reloading the page: {e}"));
        }
    }

    /// Saves a PNG of the window as `target/eventrail/screenshots/<name>.png`; returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self
            .client
            .screenshot()
            .await
            .unwrap_or_else(|e| panic!("taking screenshot {name}: {e}"));
        assert!(
            png.starts_with(b"\x89PNG"),
            "screenshot {name} is not a PNG"
        );
        let dir = screenshots_dir();
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        eprintln!("screenshot: {}", path.display());
        path
    }

    /// Ends the session (Chromium exits) and stops chromedriver.
    pub async fn close(mut self) {
        let client = self.client.clone();
        client
            .close()
            .await
            .unwrap_or_else(|e| panic!("closing the browser session: {e}"));
        self.session = None;
    }
}

impl Drop for Browser {
    /// Deletes a session still open (a failed test: Chromium exits with it), then stops
    /// chromedriver.
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            let url = format!("{}/session/{session}", self.driver_url);
            let _ = ureq::delete(&url).call();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// A WebDriver session on chromedriver at `driver_url` (retried while chromedriver starts).
async fn connect(driver_url: &str, chromium: Option<&Path>) -> Client {
    let mut options = json!({
        "args": [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            format!("--window-size={},{}", WINDOW.0, WINDOW.1),
        ],
    });
    if let Some(binary) = chromium {
        options["binary"] = binary.display().to_string().into();
    }
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("browserName".into(), "chrome".into());
    capabilities.insert("goog:chromeOptions".into(), options);
    let started = Instant::now();
    loop {
        let mut builder = ClientBuilder::new(HttpConnector::new());
        builder.capabilities(capabilities.clone());
        match builder.connect(driver_url).await {
            Ok(client) => return client,
            Err(error) => {
                assert!(
                    started.elapsed() < Duration::from_secs(60),
                    "no WebDriver session on {driver_url} within 60 s: {error}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}
