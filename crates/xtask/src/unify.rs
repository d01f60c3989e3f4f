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
//! Crates only the tools reach go to a second crate, `workspace-hack-tools`, that only the CLI
//! and xtask depend on, so a function built on its own gains no dependency. (A `tools`
//! feature would not do: the hack's own features would then differ between builds, and every
//! function would compile twice.) `--check` fails when the file is
//! stale; the test command runs it.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
    process::Command,
};

use anyhow::{Context, Result, bail};

use crate::step::{function_crates, repo_root};

/// Where the generated crate lives, relative to the repository root.
pub const HACK_DIR: &str = "crates/workspace-hack";
/// Its package name (also the name `--prune` hides from `cargo tree`).
pub const HACK_NAME: &str = "workspace-hack";
/// The second generated crate, for what only the tools (the CLI, xtask) reach.
pub const TOOLS_HACK_DIR: &str = "crates/workspace-hack-tools";
/// Its package name.
pub const TOOLS_HACK_NAME: &str = "workspace-hack-tools";

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
    /// The workspace's own crates, which the hack cannot cover (it would depend on them).
    pub members: BTreeMap<Unit, BTreeSet<String>>,
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
        if name == HACK_NAME || name == TOOLS_HACK_NAME {
            continue;
        }
        let unit = Unit {
            name: name.to_owned(),
            version: version.to_owned(),
            host,
        };
        let map = if member {
            &mut resolved.members
        } else {
            &mut resolved.features
        };
        map.entry(unit).or_default().extend(features);
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

/// `cargo tree` of `selection`, with the generated crates it reaches (`prune`) left out.
fn cargo_tree(root: &Path, selection: &[String], edges: &str, prune: &[&str]) -> Result<Resolved> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(root)
        .args(["tree", "--locked", "-e", edges, "-f", "{p} {f}"])
        .args(prune.iter().flat_map(|p| ["--prune", p]))
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

/// One generated crate: its name, what it is for, and its dependencies.
struct Hack<'a> {
    name: &'static str,
    description: &'static str,
    units: Vec<&'a Unit>,
}

/// Renders the two manifests: `workspace-hack` with every unit the functions reach (all
/// local roots depend on it) and `workspace-hack-tools` with the units only the CLI and xtask
/// reach (only they depend on it, so a function built alone gains nothing). Neither has
/// features: a hack whose features differ between builds would itself split the graph.
/// Each unit gets the feature set the whole workspace resolves (`all`).
pub fn render_manifests(functions: &Resolved, tools: &Resolved, all: &Resolved) -> [String; 2] {
    let hacks = [
        Hack {
            name: HACK_NAME,
            description: "Feature unification for the workspace's local builds (generated).",
            units: functions.features.keys().collect(),
        },
        Hack {
            name: TOOLS_HACK_NAME,
            description: "Feature unification for the crates only the tools use (generated).",
            units: tools
                .features
                .keys()
                .filter(|u| !functions.features.contains_key(*u))
                .collect(),
        },
    ];
    hacks.map(|hack| {
        render_hack(&hack, |unit| {
            all.features
                .get(unit)
                .or_else(|| functions.features.get(unit))
                .or_else(|| tools.features.get(unit))
        })
    })
}

fn render_hack<'a>(
    hack: &Hack<'_>,
    features_of: impl Fn(&Unit) -> Option<&'a BTreeSet<String>>,
) -> String {
    let mut versions: BTreeMap<(&str, bool), usize> = BTreeMap::new();
    for unit in &hack.units {
        *versions.entry((unit.name.as_str(), unit.host)).or_default() += 1;
    }
    let mut normal = Vec::new();
    let mut build = Vec::new();
    for unit in &hack.units {
        let Some(features) = features_of(unit).filter(|f| !f.is_empty()) else {
            continue;
        };
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
        // A requirement cannot carry build metadata (`0.9.12+spec-1.1.0`): cargo ignores it
        // and warns on every build.
        let requirement = unit.version.split('+').next().unwrap_or(&unit.version);
        let line = format!(
            "{key} = {{ {package}version = \"{requirement}\", default-features = false, features = [{}] }}",
            list.join(", "),
        );
        if unit.host {
            build.push(line);
        } else {
            normal.push(line);
        }
    }
    format!(
        "# GENERATED by `cargo xtask unify` from the dependency graph; do not edit by hand.\n\
         # Every local build (the CLI, the functions LocalStack runs, the tests) asks for the\n\
         # same features of these crates, so they compile once. See crates/xtask/src/unify.rs.\n\
         [package]\n\
         name = \"{name}\"\n\
         version = \"0.1.0\"\n\
         description = \"{description}\"\n\
         edition.workspace = true\n\
         rust-version.workspace = true\n\
         license.workspace = true\n\
         publish.workspace = true\n\
         build = \"build.rs\"\n\
         \n\
         # x86_64 Linux only: the local stage. The arm64 builds for AWS (`sam build`, `cargo xtask\n\
         # zips`) are separate builds and get nothing from here.\n\
         [target.'cfg(all(target_os = \"linux\", target_arch = \"x86_64\"))'.dependencies]\n\
         {}\n\
         \n\
         [target.'cfg(all(target_os = \"linux\", target_arch = \"x86_64\"))'.build-dependencies]\n\
         {}\n",
        normal.join("\n"),
        build.join("\n"),
        name = hack.name,
        description = hack.description,
    )
}

/// Crates whose features in a partial build (`part`) differ from the whole workspace's: each
/// would be compiled twice. Empty when the hack does its job.
pub fn disagreements(part: &Resolved, all: &Resolved) -> Vec<String> {
    let registry = part.features.iter().map(|(u, f)| (u, f, &all.features));
    let members = part.members.iter().map(|(u, f)| (u, f, &all.members));
    registry
        .chain(members)
        .filter_map(|(unit, features, whole)| {
            let whole = whole.get(unit)?;
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

/// What the graph asks for now: the two manifests, and the crates still split between builds.
fn derive(root: &Path, functions: &[String]) -> Result<([String; 2], Vec<String>)> {
    let select = |packages: &[&str]| -> Vec<String> {
        packages
            .iter()
            .flat_map(|p| ["--package".to_owned(), (*p).to_owned()])
            .collect()
    };
    let both = [HACK_NAME, TOOLS_HACK_NAME];
    let workspace = ["--workspace".to_owned()];
    let function_names: Vec<&str> = functions.iter().map(String::as_str).collect();
    let function_units = cargo_tree(root, &select(&function_names), "normal,build", &[HACK_NAME])?;
    let tool_units = cargo_tree(
        root,
        &select(&["eventrail", "xtask"]),
        "normal,build",
        &both,
    )?;
    let all = cargo_tree(root, &workspace, "normal,build,dev", &both)?;
    let built = cargo_tree(root, &workspace, "normal,build", &both)?;
    let manifests = render_manifests(&function_units, &tool_units, &all);
    // Registry crates against the test build; workspace crates against `cargo build
    // --workspace` (the test build compiles them again for their dev-dependencies anyway).
    let mut split = Vec::new();
    for part in [function_units, tool_units] {
        let members = Resolved {
            features: BTreeMap::new(),
            members: part.members,
        };
        let registry = Resolved {
            features: part.features,
            members: BTreeMap::new(),
        };
        split.extend(disagreements(&registry, &all));
        split.extend(disagreements(&members, &built));
    }
    Ok((manifests, split))
}

/// `cargo xtask unify`, for the repository it runs in.
pub fn command(options: &UnifyOptions) -> Result<()> {
    let root = repo_root()?;
    let functions = function_crates(&root)?;
    unify(&root, &functions, options)
}

/// `cargo xtask unify [--check]`.
pub fn unify(root: &Path, functions: &[String], options: &UnifyOptions) -> Result<()> {
    let paths = [HACK_DIR, TOOLS_HACK_DIR].map(|dir| root.join(dir).join("Cargo.toml"));
    // Asking for a feature can reach new crates, so writing repeats until the graph is stable.
    for _ in 0..5 {
        let (manifests, split) = derive(root, functions)?;
        let stale: Vec<_> = paths
            .iter()
            .zip(&manifests)
            .filter(|(path, manifest)| {
                std::fs::read_to_string(path).ok().as_ref() != Some(*manifest)
            })
            .collect();
        if let (true, Some((path, _))) = (options.check, stale.first()) {
            bail!(
                "{} is stale: the dependency graph changed. Run `cargo xtask unify` and commit \
                 the result.",
                path.display()
            );
        }
        if stale.is_empty() {
            if !split.is_empty() {
                bail!(
                    "these crates would compile more than once (their features differ between \
                     the CLI, the functions and the tests):\n  {}\nFor a workspace crate, enable \
                     the missing features where the CLI or the functions depend on it.",
                    split.join("\n  ")
                );
            }
            eprintln!(
                "{HACK_DIR} and {TOOLS_HACK_DIR} are up to date; every local build resolves the \
                 same features"
            );
            return Ok(());
        }
        for (path, manifest) in stale {
            std::fs::write(path, manifest)
                .with_context(|| format!("writing {}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
    }
    bail!("the generated manifests did not settle after 5 rounds; run `cargo xtask unify` again")
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
        assert!(resolved.members.keys().any(|u| u.name == "app"));
        let [manifest, _] = render_manifests(&resolved, &Resolved::default(), &Resolved::default());
        assert!(!manifest.contains("\napp ="));
        assert!(manifest.contains("\nsyn = "), "{manifest}");
    }

    #[test]
    fn a_workspace_crate_with_fewer_features_in_one_build_is_reported() {
        let cli = parse_tree("cli v0.1.0 (/r/cli) \n└── runtime v0.1.0 (/r/runtime) \n");
        let all = parse_tree("cli v0.1.0 (/r/cli) \n└── runtime v0.1.0 (/r/runtime) dynamodb\n");
        let found = disagreements(&cli, &all);
        assert_eq!(found, ["runtime v0.1.0 lacks [dynamodb]"]);
        assert!(disagreements(&all, &all).is_empty());
    }

    #[test]
    fn tools_only_crates_go_to_the_tools_hack_and_features_come_from_the_whole_workspace() {
        let functions = parse_tree("f v0.1.0 (/r/f) \n└── tokio v1.0.0 rt\n");
        let tools = parse_tree("t v0.1.0 (/r/t) \n├── tokio v1.0.0 rt,net\n└── clap v4.0.0 std\n");
        let all = parse_tree(
            "w v0.1.0 (/r/w) \n├── tokio v1.0.0 net,rt,test-util\n└── clap v4.0.0 derive,std\n",
        );
        let [hack, tools_hack] = render_manifests(&functions, &tools, &all);
        let tokio = "tokio = { version = \"1.0.0\", default-features = false, features = [\"net\", \"rt\", \"test-util\"] }";
        let clap = "clap = { version = \"4.0.0\", default-features = false, features = [\"derive\", \"std\"] }";
        assert!(hack.contains(tokio), "{hack}");
        assert!(!hack.contains("clap"), "{hack}");
        assert!(tools_hack.contains(clap), "{tools_hack}");
        assert!(!tools_hack.contains("tokio"), "{tools_hack}");
        assert!(!hack.contains("[features]") && !tools_hack.contains("[features]"));
    }

    #[test]
    fn two_versions_of_a_crate_get_distinct_keys() {
        let functions =
            parse_tree("f v0.1.0 (/r/f) \n├── hashbrown v0.15.5 std\n└── hashbrown v0.17.2 std\n");
        let [manifest, _] =
            render_manifests(&functions, &Resolved::default(), &Resolved::default());
        assert!(manifest.contains("hashbrown-v0_15_5 = { package = \"hashbrown\""));
        assert!(manifest.contains("hashbrown-v0_17_2 = { package = \"hashbrown\""));
    }

    #[test]
    fn build_metadata_stays_out_of_the_requirement() {
        let functions = parse_tree("f v0.1.0 (/r/f) \n└── toml v0.9.12+spec-1.1.0 std\n");
        let [manifest, _] =
            render_manifests(&functions, &Resolved::default(), &Resolved::default());
        assert!(
            manifest.contains("toml = { version = \"0.9.12\", default-features = false"),
            "{manifest}"
        );
    }
}
