//! `eventrail local denials`: the calls IAM enforcement denied on the local stack.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use eventrail_local::iam::{self, Denial, DenialsReport, Enforcement};
use eventrail_local::localstack;

#[derive(Debug, Args)]
pub struct DenialsArgs {
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    /// Only the denials no test marked as caused on purpose.
    #[arg(long)]
    unexpected: bool,
}

/// Where the report comes from.
enum Source {
    Running(String),
    LastRun(std::path::PathBuf),
}

pub fn run(root: &Path, args: DenialsArgs) -> Result<ExitCode> {
    let running = localstack::endpoint_from_env()
        .map(|(endpoint, _)| endpoint)
        .or_else(|| localstack::read_up_state(root).map(|state| state.endpoint));
    let (source, mut report) = match running {
        Some(endpoint) => {
            let report = iam::denials(&endpoint)?;
            (Source::Running(endpoint), report)
        }
        None => match iam::read_last_report(root)? {
            Some(report) => (Source::LastRun(iam::last_report_path(root)), report),
            None => {
                eprintln!(
                    "eventrail: no LocalStack is running and no run left its denials; start one \
                     with `eventrail local up` (or `eventrail local deploy`)"
                );
                return Ok(ExitCode::from(1));
            }
        },
    };
    if args.unexpected {
        report.denials.retain(|d| d.expected_by.is_none());
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&source, &report));
    }
    Ok(ExitCode::SUCCESS)
}

fn render(source: &Source, report: &DenialsReport) -> String {
    let mut out = String::new();
    let from = match source {
        Source::Running(endpoint) => format!("LocalStack at {endpoint}"),
        Source::LastRun(path) => format!(
            "the last run that stopped LocalStack ({}; none is running now)",
            path.display()
        ),
    };
    let _ = writeln!(out, "IAM denials from {from}");
    match report.enforcement {
        Enforcement::Enforce => {}
        Enforcement::Off => {
            let _ = writeln!(out, "warning: {}", iam::OFF_WARNING);
        }
    }
    if let Some(problem) = &report.evaluator_problem {
        let _ = writeln!(out, "warning: the IAM evaluator cannot run: {problem}");
    }
    if report.denials.is_empty() {
        let _ = writeln!(out, "no denials");
        return out;
    }
    for denial in &report.denials {
        render_denial(&mut out, denial);
    }
    out
}

fn render_denial(out: &mut String, denial: &Denial) {
    let expected = match &denial.expected_by {
        Some(test) => format!("caused on purpose by {test}"),
        None => "UNEXPECTED".to_owned(),
    };
    let _ = writeln!(
        out,
        "\n#{} {} [{}]\n  function:  {}\n  role:      {}\n  action:    {}\n  resource:  {}\n  decision:  {}",
        denial.id,
        denial.time,
        expected,
        denial.function,
        denial.role_arn,
        denial.action,
        denial.resource,
        denial.decision,
    );
    if !denial.context.is_empty() {
        let _ = writeln!(
            out,
            "  context:   {}",
            serde_json::Value::Object(denial.context.clone())
        );
    }
    for statement in &denial.deny_statements {
        let _ = writeln!(out, "  denied by: {}", statement_line(statement));
    }
    for statement in &denial.nearest {
        let _ = writeln!(out, "  nearest:   {}", statement_line(statement));
    }
    if let Some(allowing) = &denial.allowing_statement {
        let _ = writeln!(out, "  would be allowed by adding to the role: {allowing}");
    }
}

/// One evaluated statement: its policy and Sid, and what did not match.
fn statement_line(statement: &serde_json::Value) -> String {
    let policy = statement["policy"].as_str().unwrap_or("?");
    let sid = statement["sid"].as_str().unwrap_or("(no Sid)");
    let mut why = Vec::new();
    if statement["resourceMatch"] == serde_json::Value::Bool(false) {
        why.push("resource differs".to_owned());
    }
    if let Some(principal) = statement["principalMatch"].as_str()
        && principal != "Match"
    {
        why.push(format!("principal: {principal}"));
    }
    for failed in statement["failedConditions"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let unmatched = match &failed["unmatched"] {
            serde_json::Value::Null => String::new(),
            values => format!(" (unmatched {values})"),
        };
        why.push(format!(
            "condition {} {} fails{unmatched}",
            failed["operator"].as_str().unwrap_or("?"),
            failed["key"].as_str().unwrap_or("?"),
        ));
    }
    if why.is_empty() {
        format!("{policy} / {sid}")
    } else {
        format!("{policy} / {sid}: {}", why.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn denial(expected_by: Option<&str>) -> Denial {
        serde_json::from_value(serde_json::json!({
            "id": 3, "time": "2026-12-07T15:00:00Z", "function": "eventrail-local-gift-wrap",
            "role_arn": "arn:aws:iam::000000000000:role/eventrail-local-GiftWrapRole-1",
            "principal": "arn:aws:sts::000000000000:assumed-role/eventrail-local-GiftWrapRole-1/eventrail-local-gift-wrap",
            "action": "sqs:SendMessage",
            "resource": "arn:aws:sqs:us-east-1:000000000000:gift-wrap-failures",
            "decision": "ImplicitlyDenied", "message": "m",
            "nearest": [{"policy": "gift-wrap-least-privilege", "sid": "OwnFailedEventsPrefix",
                         "resourceMatch": false, "principalMatch": "Match", "failedConditions": []}],
            "allowing_statement": {"Effect": "Allow", "Action": "sqs:SendMessage",
                                   "Resource": "arn:aws:sqs:us-east-1:000000000000:gift-wrap-failures"},
            "expected_by": expected_by
        }))
        .unwrap()
    }

    #[test]
    fn a_denial_names_role_action_resource_and_the_fix() {
        let report = DenialsReport {
            enforcement: Enforcement::Enforce,
            evaluator_problem: None,
            denials: vec![denial(None), denial(Some("iam::a_test"))],
        };
        let text = render(&Source::Running("http://127.0.0.1:1".into()), &report);
        for needle in [
            "role:      arn:aws:iam::000000000000:role/eventrail-local-GiftWrapRole-1",
            "action:    sqs:SendMessage",
            "resource:  arn:aws:sqs:us-east-1:000000000000:gift-wrap-failures",
            "UNEXPECTED",
            "caused on purpose by iam::a_test",
            "gift-wrap-least-privilege / OwnFailedEventsPrefix: resource differs",
            "would be allowed by adding to the role",
        ] {
            assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
        }
    }

    #[test]
    fn enforcement_off_is_a_warning() {
        let report = DenialsReport {
            enforcement: Enforcement::Off,
            evaluator_problem: None,
            denials: vec![],
        };
        let text = render(&Source::Running("http://127.0.0.1:1".into()), &report);
        assert!(text.contains("warning: IAM enforcement is OFF"), "{text}");
        assert!(text.contains("no denials"), "{text}");
    }
}
