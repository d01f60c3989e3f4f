//! `eventrail migrate function`: moves a function written the old way (its own `build.rs`
//! and a `src/main.rs` that only starts the runtime) to the shape `eventrail new` writes:
//! `Cargo.toml` and `src/lib.rs`, the build script and the binary shared from `eventrail-build`
//! (`crates/build/lambda`). A `main.rs` that does more than start the runtime is refused, with
//! the file named: what it builds belongs in `src/lib.rs` first (a `State` for a consumer, a
//! `(payload, Context)` handler for a directly invoked function). Everything is checked
//! before a file changes.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use eventrail_contract::Project;

use crate::infra::{project, relative};

/// `eventrail migrate ...`.
#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// Move functions written with their own build.rs and src/main.rs to Cargo.toml +
    /// src/lib.rs, the build script and binary shared from eventrail-build.
    Function(MigrateArgs),
}

/// Arguments of `eventrail migrate function`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The functions to migrate (their folder names under functions/).
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    names: Vec<String>,
    /// Every function of the project.
    #[arg(long)]
    all: bool,
    /// The project root (default: the workspace around the current folder).
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
}

/// Which functions to migrate.
enum Selection {
    All,
    Named(Vec<String>),
}

/// Runs `eventrail migrate ...`.
pub fn run(command: MigrateCommand) -> Result<ExitCode> {
    match command {
        MigrateCommand::Function(args) => migrate(args),
    }
}

fn migrate(args: MigrateArgs) -> Result<ExitCode> {
    let project = project(args.root)?;
    let selection = if args.all {
        Selection::All
    } else {
        Selection::Named(args.names)
    };
    let dirs = match selection {
        Selection::All => {
            let mut dirs: Vec<PathBuf> = std::fs::read_dir(project.functions_dir())
                .with_context(|| format!("cannot read {}", project.functions_dir().display()))?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|path| path.join("Cargo.toml").is_file())
                .collect();
            dirs.sort();
            dirs
        }
        Selection::Named(names) => names
            .iter()
            .map(|name| project.functions_dir().join(name.trim()))
            .collect(),
    };
    let shared = shared_dir(&project)?;
    // Plan every function first: one refusal changes nothing.
    let mut plans = Vec::new();
    for dir in &dirs {
        plans.push(plan(&project, dir, &shared)?);
    }
    for plan in &plans {
        plan.apply()
            .with_context(|| format!("migrating {}", relative(&project, &plan.dir)))?;
        if plan.changes() {
            println!("migrated {}/", relative(&project, &plan.dir));
            for removed in &plan.remove {
                println!("  removed {}", relative(&project, removed));
            }
        } else {
            println!(
                "{}/ is already Cargo.toml + src/lib.rs",
                relative(&project, &plan.dir)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `crates/build/lambda`, where the workspace declares `eventrail-build` (its
/// `[workspace.dependencies]` path).
fn shared_dir(project: &Project) -> Result<PathBuf> {
    build_crate_dir(&project.root)
        .map(|dir| dir.join("lambda"))
        .filter(|dir| dir.join("build.rs").is_file() && dir.join("main.rs").is_file())
        .with_context(|| {
            format!(
                "{}: [workspace.dependencies] has no `eventrail-build = {{ path = ... }}` with \
                 lambda/build.rs and lambda/main.rs, which migrated functions share; nothing was \
                 changed",
                project.root.join("Cargo.toml").display()
            )
        })
}

/// The folder of the `eventrail-build` crate, from the workspace manifest.
pub(crate) fn build_crate_dir(root: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(root.join("Cargo.toml")).ok()?;
    let manifest: toml::Table = text.parse().ok()?;
    let path = manifest
        .get("workspace")?
        .get("dependencies")?
        .get("eventrail-build")?
        .get("path")?
        .as_str()?;
    Some(root.join(path))
}

/// `to` relative to `from` (both under the project root), with `/` separators.
pub(crate) fn relative_path(from: &Path, to: &Path) -> String {
    let from: Vec<_> = from.components().collect();
    let to: Vec<_> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".to_owned(); from.len() - common];
    parts.extend(
        to[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}

/// What migrating one function changes.
struct Plan {
    dir: PathBuf,
    manifest: Option<String>,
    remove: Vec<PathBuf>,
}

impl Plan {
    fn changes(&self) -> bool {
        self.manifest.is_some() || !self.remove.is_empty()
    }

    fn apply(&self) -> Result<()> {
        if let Some(text) = &self.manifest {
            let path = self.dir.join("Cargo.toml");
            std::fs::write(&path, text)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        for path in &self.remove {
            std::fs::remove_file(path)
                .with_context(|| format!("cannot remove {}", path.display()))?;
        }
        Ok(())
    }
}

/// Checks one function and works out its new manifest.
fn plan(project: &Project, dir: &Path, shared: &Path) -> Result<Plan> {
    let shown = relative(project, dir);
    let manifest_path = dir.join("Cargo.toml");
    let manifest = std::fs::read_to_string(&manifest_path).with_context(|| {
        format!("{shown} is not a function (no Cargo.toml); nothing was changed")
    })?;
    let table: toml::Table = manifest
        .parse()
        .with_context(|| format!("{}: not TOML; nothing was changed", manifest_path.display()))?;
    let package = table
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(toml::Value::as_str)
        .with_context(|| {
            format!(
                "{}: no package name; nothing was changed",
                manifest_path.display()
            )
        })?
        .to_owned();
    let lib = package.replace('-', "_");
    let mut remove = Vec::new();
    let build_script = dir.join("build.rs");
    if build_script.is_file() {
        let text = std::fs::read_to_string(&build_script)?;
        if !only_links(&text) {
            bail!(
                "{}: does more than `eventrail_build::lambda_binary();`, which the shared build \
                 script replaces; move the rest elsewhere and remove it, then migrate again; \
                 nothing was changed",
                relative(project, &build_script)
            );
        }
        remove.push(build_script);
    }
    let main = dir.join("src/main.rs");
    if main.is_file() {
        let text = std::fs::read_to_string(&main)?;
        if !only_starts(&text, &lib) {
            bail!(
                "{}: does more than start the runtime (`eventrail_runtime::run_consumer({lib}::handle, \
                 eventrail_runtime::declaration!())`); move what it builds into src/lib.rs (a \
                 `State` the handler borrows, or a `(payload, Context)` handler for a directly \
                 invoked function), name the handler `handle`, delete main.rs, then migrate \
                 again; nothing was changed",
                relative(project, &main)
            );
        }
        remove.push(main);
    }
    let relative_shared = relative_path(dir, shared);
    let rewritten = rewrite_manifest(&manifest, &package, &relative_shared)
        .map_err(|e| anyhow::anyhow!("{}: {e}; nothing was changed", manifest_path.display()))?;
    Ok(Plan {
        dir: dir.to_path_buf(),
        manifest: (rewritten != manifest).then_some(rewritten),
        remove,
    })
}

/// `text` without `//` comments and whitespace.
fn squeezed(text: &str) -> String {
    text.lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .flat_map(str::chars)
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// Whether a `build.rs` is the old one-call script.
fn only_links(text: &str) -> bool {
    squeezed(text) == "fnmain(){eventrail_build::lambda_binary();}"
}

/// Whether a `main.rs` only starts the runtime on the library's `handle` (as `eventrail new`
/// wrote it).
fn only_starts(text: &str, lib: &str) -> bool {
    let text = squeezed(text);
    let Some(rest) = text.strip_prefix("#[tokio::main") else {
        return false;
    };
    let Some((attribute, rest)) = rest.split_once(']') else {
        return false;
    };
    if !(attribute.is_empty() || attribute == "(flavor=\"current_thread\")") {
        return false;
    }
    let body = format!(
        "asyncfnmain()->Result<(),eventrail_runtime::LambdaError>{{eventrail_runtime::run_consumer({lib}::handle,eventrail_runtime::declaration!()).await}}"
    );
    rest == body
}

/// The manifest with the shared build script and binary: `build = ` in `[package]`, the
/// binary's `path`, and `eventrail-build` as a build-dependency.
fn rewrite_manifest(manifest: &str, package: &str, shared: &str) -> Result<String, String> {
    let build_line = format!("build = \"{shared}/build.rs\"");
    let bin_path = format!("path = \"{shared}/main.rs\"");
    let mut out: Vec<String> = Vec::new();
    let mut section = String::new();
    let mut saw_bin = false;
    let mut saw_build_dependency = false;
    for line in manifest.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            if section == "[package]" && !out.iter().any(|l| l == &build_line) {
                insert_before_blank(&mut out, &build_line);
            }
            section = trimmed.to_owned();
            if section == "[[bin]]" {
                if saw_bin {
                    return Err("more than one [[bin]]: a function has one binary".to_owned());
                }
                saw_bin = true;
            }
        }
        match section.as_str() {
            "[package]" if trimmed.starts_with("build ") || trimmed.starts_with("build=") => {
                continue;
            }
            "[[bin]]" if trimmed.starts_with("path") => {
                out.push(bin_path.clone());
                continue;
            }
            "[[bin]]" if trimmed.starts_with("# main.rs only starts the runtime") => {
                out.push(
                    "# The shared binary starts `handle` of src/lib.rs, whose tests are the \
                     function's: no test harness."
                        .to_owned(),
                );
                continue;
            }
            "[build-dependencies]" if trimmed.starts_with("eventrail-build") => {
                saw_build_dependency = true;
            }
            _ => {}
        }
        out.push(line.to_owned());
    }
    if section == "[package]" && !out.iter().any(|l| l == &build_line) {
        insert_before_blank(&mut out, &build_line);
    }
    let mut text = out.join("\n");
    text.push('\n');
    if !saw_bin {
        let bin = format!(
            "[[bin]]\nname = \"{package}\"\n{bin_path}\n# The shared binary starts `handle` of \
             src/lib.rs, whose tests are the function's: no test harness.\ntest = false\n\n"
        );
        text = insert_section(&text, &bin);
    }
    if !saw_build_dependency {
        if text.contains("\n[build-dependencies]\n") {
            text = text.replacen(
                "\n[build-dependencies]\n",
                "\n[build-dependencies]\neventrail-build.workspace = true\n",
                1,
            );
        } else {
            text = insert_section(
                &text,
                "[build-dependencies]\neventrail-build.workspace = true\n\n",
            );
        }
    }
    Ok(text)
}

/// Pushes `line` before the trailing blank lines of `out`.
fn insert_before_blank(out: &mut Vec<String>, line: &str) {
    let at = out
        .iter()
        .rposition(|l| !l.trim().is_empty())
        .map_or(0, |i| i + 1);
    out.insert(at, line.to_owned());
}

/// `section` inserted before the first table after `[package]`.
fn insert_section(text: &str, section: &str) -> String {
    let after_package = text.find("[package]").map_or(0, |i| i + "[package]".len());
    match text[after_package..].find("\n[") {
        Some(i) => {
            let at = after_package + i + 1;
            format!("{}{section}{}", &text[..at], &text[at..])
        }
        None => format!("{text}\n{section}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD_MANIFEST: &str = r#"[package]
name = "gift-wrap"
version = "0.1.0"
publish.workspace = true

[[bin]]
name = "gift-wrap"
path = "src/main.rs"
# main.rs only starts the runtime; the handler and its tests are in lib.rs: no test harness.
test = false

[build-dependencies]
eventrail-build.workspace = true

[dependencies]
eventrail-runtime.workspace = true

[package.metadata.eventrail]
consumes = ["TaskDone"]
"#;

    const OLD_MAIN: &str = r#"//! Lambda entry point of `gift-wrap`; the logic lives in lib.rs.

// One thread: Lambda hands a sandbox one event at a time, and init starts no worker threads.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), eventrail_runtime::LambdaError> {
    eventrail_runtime::run_consumer(gift_wrap::handle, eventrail_runtime::declaration!()).await
}
"#;

    #[test]
    fn the_manifest_names_the_shared_script_and_binary() {
        let new = rewrite_manifest(OLD_MANIFEST, "gift-wrap", "../../crates/build/lambda").unwrap();
        assert!(
            new.contains("publish.workspace = true\nbuild = \"../../crates/build/lambda/build.rs\"\n\n[[bin]]"),
            "{new}"
        );
        assert!(
            new.contains("path = \"../../crates/build/lambda/main.rs\"\n"),
            "{new}"
        );
        assert!(!new.contains("src/main.rs"), "{new}");
        assert_eq!(new.matches("eventrail-build.workspace").count(), 1, "{new}");
        assert!(new.parse::<toml::Table>().is_ok(), "{new}");
        let again = rewrite_manifest(&new, "gift-wrap", "../../crates/build/lambda").unwrap();
        assert_eq!(again, new, "a second run changes nothing");
    }

    #[test]
    fn a_manifest_without_bin_or_build_dependency_gets_both() {
        let manifest = "[package]\nname = \"audit\"\n\n[dependencies]\nserde = \"1\"\n";
        let new = rewrite_manifest(manifest, "audit", "../../crates/build/lambda").unwrap();
        let table: toml::Table = new.parse().unwrap();
        assert_eq!(
            table["package"]["build"].as_str(),
            Some("../../crates/build/lambda/build.rs")
        );
        assert_eq!(
            table["bin"][0]["path"].as_str(),
            Some("../../crates/build/lambda/main.rs")
        );
        assert_eq!(table["bin"][0]["name"].as_str(), Some("audit"));
        assert!(
            table["build-dependencies"].get("eventrail-build").is_some(),
            "{new}"
        );
        assert!(table["dependencies"].get("serde").is_some(), "{new}");
    }

    #[test]
    fn only_a_main_that_starts_the_runtime_on_handle_is_replaced() {
        assert!(only_starts(OLD_MAIN, "gift_wrap"));
        assert!(!only_starts(OLD_MAIN, "audit"), "another crate's handler");
        let builds_more = OLD_MAIN.replace(
            "async fn main() -> Result<(), eventrail_runtime::LambdaError> {\n",
            "async fn main() -> Result<(), eventrail_runtime::LambdaError> {\n    let x = 1;\n",
        );
        assert!(!only_starts(&builds_more, "gift_wrap"));
        assert!(only_links(
            "fn main() {\n    eventrail_build::lambda_binary();\n}\n"
        ));
        assert!(!only_links(
            "fn main() {\n    eventrail_build::lambda_binary();\n    println!(\"x\");\n}\n"
        ));
    }

    #[test]
    fn paths_are_relative_to_the_function() {
        assert_eq!(
            relative_path(
                Path::new("/r/functions/a"),
                Path::new("/r/crates/build/lambda")
            ),
            "../../crates/build/lambda"
        );
    }
}
