//! The browser the studio's tests drive: Debian's `chromium` and `chromium-driver`, installed
//! with apt-get when missing (as root, beside the other installs). A machine without apt-get,
//! or a run that is not root, gets no browser: the tests are told why and say so when they
//! skip (CI, root on Debian, runs them).

use std::{
    ffi::OsStr,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use anyhow::{Context, Result, bail};

/// The Debian packages: the browser and its WebDriver server.
const PACKAGES: [&str; 2] = ["chromium", "chromium-driver"];

/// The environment variables the browser tests read (tests/support/browser.rs).
const CHROMEDRIVER_ENV: &str = "EVENTRAIL_CHROMEDRIVER";
const CHROMIUM_ENV: &str = "EVENTRAIL_CHROMIUM";
const UNAVAILABLE_ENV: &str = "EVENTRAIL_BROWSER_UNAVAILABLE";

/// Whether the browser tests can run, and with what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Browser {
    /// Both executables are installed.
    Ready {
        chromium: PathBuf,
        chromedriver: PathBuf,
    },
    /// None can be installed here; the reason the tests print when they skip.
    Unavailable { reason: String },
}

impl Browser {
    /// Hands the browser (or the reason there is none) to a test command.
    pub fn apply(&self, command: &mut Command) {
        match self {
            Self::Ready {
                chromium,
                chromedriver,
            } => command
                .env(CHROMIUM_ENV, chromium)
                .env(CHROMEDRIVER_ENV, chromedriver)
                .env_remove(UNAVAILABLE_ENV),
            Self::Unavailable { reason } => command
                .env(UNAVAILABLE_ENV, reason)
                .env_remove(CHROMIUM_ENV)
                .env_remove(CHROMEDRIVER_ENV),
        };
    }

    /// A line for the end of the run when the browser tests were skipped.
    pub fn skipped_note(&self) -> Option<String> {
        match self {
            Self::Ready { .. } => None,
            Self::Unavailable { reason } => Some(format!(
                "the studio's browser tests skipped (they passed without a browser): {reason}"
            )),
        }
    }
}

/// Who runs the test command, as far as apt-get cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum User {
    Root,
    Other,
}

/// What the machine offers, found before installing anything.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Machine {
    chromium: Option<PathBuf>,
    chromedriver: Option<PathBuf>,
    apt_get: Option<PathBuf>,
    user: User,
}

/// What to do on that machine.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Plan {
    Installed(Browser),
    Install { apt_get: PathBuf },
    Skip(Browser),
}

fn plan(machine: &Machine) -> Plan {
    if let (Some(chromium), Some(chromedriver)) = (&machine.chromium, &machine.chromedriver) {
        return Plan::Installed(Browser::Ready {
            chromium: chromium.clone(),
            chromedriver: chromedriver.clone(),
        });
    }
    let packages = PACKAGES.join(" ");
    match (&machine.apt_get, machine.user) {
        (None, _) => Plan::Skip(Browser::Unavailable {
            reason: format!(
                "Chromium and chromedriver are not installed and this machine has no apt-get \
                 to install Debian's {packages} (put `chromium` and `chromedriver` on PATH to \
                 run them)"
            ),
        }),
        (Some(_), User::Other) => Plan::Skip(Browser::Unavailable {
            reason: format!(
                "Chromium and chromedriver are not installed and the test command is not root, \
                 so it cannot apt-get them: run `sudo apt-get install {packages}` once"
            ),
        }),
        (Some(apt_get), User::Root) => Plan::Install {
            apt_get: apt_get.clone(),
        },
    }
}

/// Installs the browser when missing and possible; says why not otherwise. Quick when both
/// are installed (two lookups on PATH). apt-get's output goes to `log`.
pub fn ensure(path: &OsStr, log: &Path) -> Result<Browser> {
    let machine = Machine {
        chromium: find_on(path, "chromium"),
        chromedriver: find_on(path, "chromedriver"),
        apt_get: find_on(path, "apt-get"),
        user: current_user(),
    };
    match plan(&machine) {
        Plan::Installed(browser) | Plan::Skip(browser) => Ok(browser),
        Plan::Install { apt_get } => {
            apt_install(&apt_get, log)?;
            match (find_on(path, "chromium"), find_on(path, "chromedriver")) {
                (Some(chromium), Some(chromedriver)) => Ok(Browser::Ready {
                    chromium,
                    chromedriver,
                }),
                _ => bail!(
                    "apt-get installed {} but `chromium` or `chromedriver` is still not on PATH \
                     (see {})",
                    PACKAGES.join(" "),
                    log.display()
                ),
            }
        }
    }
}

/// `apt-get update`, then `apt-get install` of [`PACKAGES`], without questions or the
/// recommended extras.
fn apt_install(apt_get: &Path, log: &Path) -> Result<()> {
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let file = std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let steps: [&[&str]; 2] = [
        &["update", "-q"],
        &[
            "install",
            "-y",
            "-q",
            "--no-install-recommends",
            PACKAGES[0],
            PACKAGES[1],
        ],
    ];
    for args in steps {
        let mut command = Command::new(apt_get);
        command
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .stdout(file.try_clone().context("opening a log file twice")?)
            .stderr(file.try_clone().context("opening a log file twice")?);
        let status = command
            .status()
            .with_context(|| format!("running {command:?}"))?;
        if !status.success() {
            bail!(
                "{command:?} failed ({status}); its output is in {}",
                log.display()
            );
        }
    }
    Ok(())
}

/// The first executable file named `name` in the directories of `path`.
fn find_on(path: &OsStr, name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    std::env::split_paths(path)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            std::fs::metadata(candidate)
                .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        })
}

/// Root or not, as `id -u` says (an error counts as not root: nothing is installed).
fn current_user() -> User {
    let root = Command::new("id")
        .arg("-u")
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|output| output.status.success() && output.stdout.trim_ascii() == b"0");
    if root { User::Root } else { User::Other }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(installed: bool, apt_get: bool, user: User) -> Machine {
        Machine {
            chromium: installed.then(|| PathBuf::from("/usr/bin/chromium")),
            chromedriver: installed.then(|| PathBuf::from("/usr/bin/chromedriver")),
            apt_get: apt_get.then(|| PathBuf::from("/usr/bin/apt-get")),
            user,
        }
    }

    #[test]
    fn an_installed_browser_is_used_as_it_is_whoever_runs() {
        for user in [User::Root, User::Other] {
            assert_eq!(
                plan(&machine(true, false, user)),
                Plan::Installed(Browser::Ready {
                    chromium: "/usr/bin/chromium".into(),
                    chromedriver: "/usr/bin/chromedriver".into(),
                })
            );
        }
    }

    #[test]
    fn root_with_apt_get_installs_and_anyone_else_is_told_why_the_tests_skip() {
        assert_eq!(
            plan(&machine(false, true, User::Root)),
            Plan::Install {
                apt_get: "/usr/bin/apt-get".into()
            }
        );
        let Plan::Skip(browser) = plan(&machine(false, true, User::Other)) else {
            panic!("not root: nothing to install");
        };
        let note = browser.skipped_note().unwrap_or_default();
        assert!(note.contains("not root"), "{note}");
        assert!(note.contains("sudo apt-get install chromium chromium-driver"));
        let Plan::Skip(browser) = plan(&machine(false, false, User::Root)) else {
            panic!("no apt-get: nothing to install");
        };
        let note = browser.skipped_note().unwrap_or_default();
        assert!(note.contains("no apt-get"), "{note}");
    }

    #[test]
    fn a_test_command_gets_the_browser_or_the_reason_never_both() {
        let ready = Browser::Ready {
            chromium: "/c".into(),
            chromedriver: "/d".into(),
        };
        let mut command = Command::new("true");
        Browser::Unavailable {
            reason: "why".into(),
        }
        .apply(&mut command);
        ready.apply(&mut command);
        let envs: Vec<_> = command
            .get_envs()
            .map(|(k, v)| (k.to_owned(), v.map(OsStr::to_owned)))
            .collect();
        assert!(envs.contains(&(CHROMEDRIVER_ENV.into(), Some("/d".into()))));
        assert!(envs.contains(&(CHROMIUM_ENV.into(), Some("/c".into()))));
        assert!(envs.contains(&(UNAVAILABLE_ENV.into(), None)));
    }

    #[test]
    fn executables_are_found_on_the_path_in_order() {
        let dir = std::env::temp_dir().join(format!("xtask-browser-{}", std::process::id()));
        let (first, second) = (dir.join("a"), dir.join("b"));
        for d in [&first, &second] {
            std::fs::create_dir_all(d).unwrap();
        }
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::write(first.join("plain"), "").unwrap();
        std::fs::write(second.join("plain"), "").unwrap();
        std::fs::set_permissions(second.join("plain"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        let path = std::env::join_paths([&first, &second]).unwrap();
        assert_eq!(find_on(&path, "plain"), Some(second.join("plain")));
        assert_eq!(find_on(&path, "absent"), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
