//! `eventrail lint`: checks the catalog, the declarations, the template and the samples
//! together; with `--against`, each event's schema against a baseline.
//! Exit 0 clean, 1 findings, 2 a file it cannot read.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use eventrail_check::compat::Baseline;
use eventrail_check::lint::{Report, lint};
use eventrail_model::System;

use crate::infra::project;

/// Arguments of `eventrail lint`.
#[derive(Debug, Args)]
pub struct LintArgs {
    /// Compare each event's schema with the one at this git ref (or in this older copy of
    /// the project): breaking changes without a version bump are findings.
    #[arg(long, alias = "baseline", value_name = "GIT_REF|DIR")]
    against: Option<String>,
    /// Machine-readable output (JSON on standard output).
    #[arg(long)]
    json: bool,
    /// The project root (default: the workspace around the current folder).
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
}

/// Runs `eventrail lint`.
pub fn run(args: LintArgs) -> Result<ExitCode> {
    let project = project(args.root)?;
    let system = System::load(&project.root)?;
    let baseline = args
        .against
        .as_deref()
        .map(|a| Baseline::from_arg(&project.root, a));
    let report = lint(&system, baseline.as_ref())?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", text(&report, baseline.as_ref()));
    }
    Ok(if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn text(report: &Report, baseline: Option<&Baseline>) -> String {
    let mut out = String::new();
    for finding in &report.findings {
        out.push_str(&format!("{finding}\n"));
    }
    for x in &report.excepted {
        out.push_str(&format!(
            "allowed: {} [{}] because: {}\n",
            x.finding.subject, x.finding.kind, x.reason
        ));
    }
    if let (Some(changes), Some(baseline)) = (&report.compatibility, baseline) {
        if changes.is_empty() {
            out.push_str(&format!(
                "schemas: no change against {}\n",
                baseline.describe()
            ));
        }
        for event in changes {
            out.push_str(&format!(
                "schema of {} against {} (v{} -> v{}; consumers: {}):\n",
                event.detail_type,
                baseline.describe(),
                event.old_version,
                event.new_version,
                event.consumers_text()
            ));
            for c in &event.changes {
                let class = if c.breaking { "breaking" } else { "compatible" };
                let path = if c.path.is_empty() {
                    "(event)"
                } else {
                    &c.path
                };
                out.push_str(&format!(
                    "  {class:10} {} {path}: {}\n",
                    c.kind.as_str(),
                    c.detail
                ));
            }
        }
    }
    let n = report.findings.len();
    if n == 0 {
        out.push_str("lint: clean\n");
    } else {
        out.push_str(&format!(
            "lint: {n} finding{}\n",
            if n == 1 { "" } else { "s" }
        ));
    }
    out
}
