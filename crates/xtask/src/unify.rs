//! `cargo xtask unify`: keeps one compiled dependency graph for every local build.
//!
//! Cargo resolves features per build: `cargo run -p eventrail` (the CLI), `cargo build -p
//! <functions>` (what LocalStack runs) and `cargo nextest run --workspace` (the tests, with
//! dev-dependencies) each ask for slightly different features of shared crates (`tokio`'s
//! `test-util`, `zeroize`'s `derive`, `syn`'s `visit`, ...). A crate whose features differ is
//! compiled again, and so is everything above it: without help the AWS SDK would be built
//! three times on a fresh clone. The usual remedy is a "workspace-hack" crate that every
//! local root depends on and that asks for the union of features, so all builds agree.
//!
//! This module derives that crate from `cargo tree` (one declaration: the dependency graph
//! itself): every registry crate the functions or the tools reach through normal and build
//! edges, with the feature set the whole workspace resolves to (dev-dependencies included).
//! Crates only the tools reach sit behind the hack's `tools` feature, so a function built on
//! its own (`sam build`, release zips) gains no dependency. `--check` fails when the file is
//! stale; the test command runs it.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
    process::Command,
};

use anyhow::{Context, Result, bail};

/// Where the generated crate lives, relative to the repository root.
pub const HACK_DIR: &str = "crates/workspace-hack";
/// Its package name (also the name `--prune` hides from `cargo tree`).
pub const HACK_NAME: &str = "workspace-hack";

/// Options of `cargo xtask unify`.
#[derive(Debug, clap::Args)]
pub struct UnifyOptions {
    /// Fail if the generated manifest differs from what the graph asks for (write nothing).
    #[arg(long)]
    pub check: bool,
}

/// One crate in one role: compiled for the target (`host == false`) or for build scripts and
/// proc-macros (`host == true`), which Cargo resolves separately.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Unit {
    pub name: String,
    pub version: String,
    pub host: bool,
}

/// What one `cargo tree` run says: each registry crate's role and resolved features.
#[derive(Debug, Default)]
pub struct Resolved {
    pub features: BTreeMap<Unit, BTreeSet<String>>,
}

/// Parses `cargo tree -f '{p} {f}'` output (default indent prefix). Workspace members (shown
/// with their path) are left out; host roles are tracked through `[build-dependencies]`
/// headers and proc-macros.
pub fn parse_tree(output: &str) -> Resolved {
    let mut resolved = Resolved::default();
    // (depth, host) of the packages above the current line.
    let mut parents: Vec<(usize, bool)> = Vec::new();
    // Depths at which a `[build-dependencies]` (true) or `[dev-dependencies]` (false) header
    // opened a group of siblings.
    let mut headers: BTreeMap<usize, bool> = BTreeMap::new();
    for line in output.lines() {
        let Some((depth, content)) = split_prefix(line) else {
            continue;
        };
        // A header sits at its package's depth; the dependencies it introduces are one deeper.
        let header = match content {
            "[build-dependencies]" => Some(true),
            "[dev-dependencies]" | "[dependencies]" => Some(false),
            _ => None,
        };
        if let Some(build) = header {
            parents.retain(|(d, _)| *d <= depth);
            headers.retain(|d, _| *d < depth);
            headers.insert(depth, build);
            continue;
        }
        parents.retain(|(d, _)| *d < depth);
        headers.retain(|d, _| *d < depth);
        let under_build_header = depth
            .checked_sub(1)
            .and_then(|d| headers.get(&d))
            .copied()
            .unwrap_or(false);
        let parent_host = parents.last().is_some_and(|(_, host)| *host);
        let mut tokens = content.split(' ').filter(|t| !t.is_empty());
        let (Some(name), Some(version)) = (tokens.next(), tokens.next()) else {
            continue;
        };
        let Some(version) = version.strip_prefix('v') else {
            continue;
        };
        let mut proc_macro = false;
        let mut member = false;
        let mut features = BTreeSet::new();
        for token in tokens {
            match token {
                "(proc-macro)" => proc_macro = true,
                "(*)" => {}
                t if t.starts_with('(') => member = true,
                t => features.extend(t.split(',').map(str::to_owned)),
            }
        }
        let host = parent_host || under_build_header || proc_macro;
        parents.push((depth, host));
        if member || name == HACK_NAME {
            continue;
        }
        let unit = Unit {
            name: name.to_owned(),
            version: version.to_owned(),
            host,
        };
        resolved.features.entry(unit).or_default().extend(features);
    }
    resolved
}

/// Splits a `cargo tree` line into its depth and its content (`None` for blank lines).
fn split_prefix(line: &str) -> Option<(usize, &str)> {
    let mut columns = 0;
    let mut rest = line;
    loop {
        let mut chars = rest.chars();
        match chars.next() {
            Some('│' | '├' | '└' | '─' | ' ') => {
                columns += 1;
                rest = chars.as_str();
            }
            Some(_) => return Some((columns / 4, rest.trim_end())),
            None => return None,
        }
    }
}

fn cargo_tree(root: &Path, selection: &[String], edges: &str) -> Result<Resolved> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(root)
        .args([
            "tree", "--locked", "-e", edges, "-f", "{p} {f}", "--prune", HACK_NAME,
        ])
        .args(selection)
        .output()
        .context("running `cargo tree`")?;
    if !output.status.success() {
        bail!(
            "`cargo tree {}` failed: {}",
            selection.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(parse_tree(&String::from_utf8_lossy(&output.stdout)))
}

/// Renders the hack's manifest: `functions` units unconditionally, the other `tools` units
/// behind the `tools` feature, each with the workspace-wide feature set from `all`.
pub fn render_manifest(functions: &Resolved, tools: &Resolved, all: &Resolved) -> String {
    #[derive(Default)]
    struct Section {
        lines: Vec<String>,
        optional: Vec<String>,
    }
    let mut normal = Section::default();
    let mut build = Section::default();
    let chosen: BTreeSet<(&Unit, bool)> = functions
        .features
        .keys()
        .map(|u| (u, false))
        .chain(
            tools
                .features
                .keys()
                .filter(|u| !functions.features.contains_key(*u))
                .map(|u| (u, true)),
        )
        .collect();
    let mut versions: BTreeMap<(&str, bool), usize> = BTreeMap::new();
    for (unit, _) in &chosen {
        *versions.entry((unit.name.as_str(), unit.host)).or_default() += 1;
    }
    for (unit, optional) in chosen {
        let empty = BTreeSet::new();
        let features = all
            .features
            .get(unit)
            .or_else(|| functions.features.get(unit))
            .or_else(|| tools.features.get(unit))
            .unwrap_or(&empty);
        if features.is_empty() {
            continue;
        }
        let key = if versions[&(unit.name.as_str(), unit.host)] > 1 {
            format!("{}-v{}", unit.name, unit.version.replace(['.', '+'], "_"))
        } else {
            unit.name.clone()
        };
        let package = if key == unit.name {
            String::new()
        } else {
            format!("package = \"{}\", ", unit.name)
        };
        let list: Vec<String> = features.iter().map(|f| format!("\"{f}\"")).collect();
        let line = format!(
            "{key} = {{ {package}version = \"{}\", default-features = false, features = [{}]{} }}",
            unit.version,
            list.join(", "),
            if optional { ", optional = true" } else { "" }
        );
        let section = if unit.host { &mut build } else { &mut normal };
        section.lines.push(line);
        if optional {
            section.optional.push(format!("\"dep:{key}\""));
        }
    }
    let mut tools_feature: Vec<String> = normal.optional;
    tools_feature.extend(build.optional);
    tools_feature.sort();
    tools_feature.dedup();
    format!(
        "# GENERATED by `cargo xtask unify` from the dependency graph; do not edit by hand.\n\
         # Every local build (the CLI, the functions LocalStack runs, the tests) asks for the\n\
         # same features of these crates, so they compile once. See crates/xtask/src/unify.rs.\n\
         [package]\n\
         name = \"{HACK_NAME}\"\n\
         version = \"0.1.0\"\n\
         description = \"Feature unification for the workspace's local builds (generated).\"\n\
         edition.workspace = true\n\
         rust-version.workspace = true\n\
         license.workspace = true\n\
         publish.workspace = true\n\
         build = \"build.rs\"\n\
         \n\
         [features]\n\
         # Crates only the CLI and xtask reach: a function built alone does not pull them in.\n\
         tools = [{}]\n\
         \n\
         [target.'cfg(all(target_os = \"linux\", target_arch = \"x86_64\"))'.dependencies]\n\
         {}\n\
         \n\
         [target.'cfg(all(target_os = \"linux\", target_arch = \"x86_64\"))'.build-dependencies]\n\
         {}\n",
        tools_feature.join(", "),
        normal.lines.join("\n"),
        build.lines.join("\n"),
    )
}

/// Crates whose features in a partial build (`part`) differ from the whole workspace's: each
/// would be compiled twice. Empty when the hack does its job.
pub fn disagreements(part: &Resolved, all: &Resolved) -> Vec<String> {
    part.features
        .iter()
        .filter_map(|(unit, features)| {
            let whole = all.features.get(unit)?;
            (whole != features).then(|| {
                let missing: Vec<&str> = whole.difference(features).map(String::as_str).collect();
                format!(
                    "{} v{}{} lacks [{}]",
                    unit.name,
                    unit.version,
                    if unit.host {
                        " (build scripts/proc-macros)"
                    } else {
                        ""
                    },
                    missing.join(", ")
                )
            })
        })
        .collect()
}

/// `cargo xtask unify [--check]`.
pub fn unify(root: &Path, functions: &[String], options: &UnifyOptions) -> Result<()> {
    let select = |packages: &[&str]| -> Vec<String> {
        packages
            .iter()
            .flat_map(|p| ["--package".to_owned(), (*p).to_owned()])
            .collect()
    };
    let function_names: Vec<&str> = functions.iter().map(String::as_str).collect();
    let function_units = cargo_tree(root, &select(&function_names), "normal,build")?;
    let tool_units = cargo_tree(root, &select(&["eventrail", "xtask"]), "normal,build")?;
    let all = cargo_tree(root, &["--workspace".to_owned()], "normal,build,dev")?;
    let manifest = render_manifest(&function_units, &tool_units, &all);
    let mut split: Vec<String> = disagreements(&function_units, &all);
    split.extend(disagreements(&tool_units, &all));
    let path = root.join(HACK_DIR).join("Cargo.toml");
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if options.check {
        if current != manifest {
            bail!(
                "{} is stale: the dependency graph changed. Run `cargo xtask unify` and commit \
                 the result.",
                path.display()
            );
        }
        if !split.is_empty() {
            bail!(
                "these crates would compile more than once (their features differ between the \
                 CLI, the functions and the tests):\n  {}\nRun `cargo xtask unify` and commit \
                 the result.",
                split.join("\n  ")
            );
        }
        eprintln!(
            "{} is up to date; every local build resolves the same features",
            path.display()
        );
        return Ok(());
    }
    if current == manifest {
        eprintln!("{} is up to date", path.display());
    } else {
        std::fs::write(&path, manifest).with_context(|| format!("writing {}", path.display()))?;
        eprintln!(
            "wrote {}; run `cargo xtask unify --check` to confirm the builds agree",
            path.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TREE: &str = "\
app v0.1.0 (/repo/app) 
├── serde v1.0.1 default,derive,std
│   ├── serde_derive v1.0.1 (proc-macro) default
│   │   └── syn v2.0.1 default,full
│   [build-dependencies]
│   └── autocfg v1.5.1 std
├── ring v0.17.1 alloc
│   [build-dependencies]
│   └── cc v1.2.0 parallel
│       └── libc v0.2.1 std
└── libc v0.2.1 default,std
[dev-dependencies]
└── quickcheck v1.0.0 (*)
";

    fn unit(name: &str, host: bool) -> (String, bool) {
        (name.to_owned(), host)
    }

    #[test]
    fn parsing_tells_host_units_from_target_units() {
        let resolved = parse_tree(TREE);
        let roles: BTreeSet<(String, bool)> = resolved
            .features
            .keys()
            .map(|u| (u.name.clone(), u.host))
            .collect();
        let expected: BTreeSet<(String, bool)> = [
            unit("serde", false),
            unit("serde_derive", true),
            unit("syn", true),
            unit("autocfg", true),
            unit("ring", false),
            unit("cc", true),
            unit("libc", true),
            unit("libc", false),
            unit("quickcheck", false),
        ]
        .into_iter()
        .collect();
        assert_eq!(roles, expected);
        let libc_target = Unit {
            name: "libc".into(),
            version: "0.2.1".into(),
            host: false,
        };
        assert_eq!(
            resolved.features[&libc_target],
            ["default", "std"].map(String::from).into()
        );
    }

    #[test]
    fn workspace_members_are_not_listed() {
        let resolved = parse_tree(TREE);
        assert!(!resolved.features.keys().any(|u| u.name == "app"));
    }

    #[test]
    fn tools_only_crates_are_optional_and_features_come_from_the_whole_workspace() {
        let functions = parse_tree("f v0.1.0 (/r/f) \n└── tokio v1.0.0 rt\n");
        let tools = parse_tree("t v0.1.0 (/r/t) \n├── tokio v1.0.0 rt,net\n└── clap v4.0.0 std\n");
        let all = parse_tree(
            "w v0.1.0 (/r/w) \n├── tokio v1.0.0 net,rt,test-util\n└── clap v4.0.0 derive,std\n",
        );
        let manifest = render_manifest(&functions, &tools, &all);
        assert!(manifest.contains(
            "tokio = { version = \"1.0.0\", default-features = false, features = [\"net\", \"rt\", \"test-util\"] }"
        ));
        assert!(manifest.contains(
            "clap = { version = \"4.0.0\", default-features = false, features = [\"derive\", \"std\"], optional = true }"
        ));
        assert!(manifest.contains("tools = [\"dep:clap\"]"));
    }

    #[test]
    fn two_versions_of_a_crate_get_distinct_keys() {
        let functions =
            parse_tree("f v0.1.0 (/r/f) \n├── hashbrown v0.15.5 std\n└── hashbrown v0.17.2 std\n");
        let manifest = render_manifest(&functions, &Resolved::default(), &Resolved::default());
        assert!(manifest.contains("hashbrown-v0_15_5 = { package = \"hashbrown\""));
        assert!(manifest.contains("hashbrown-v0_17_2 = { package = \"hashbrown\""));
    }
}
