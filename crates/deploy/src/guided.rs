//! `eventrail deploy --guided`: asks for what a first deploy of an environment needs (stack
//! name, region, every template parameter samconfig leaves unset, whether to confirm
//! changesets) and saves the answers in the environment's `[<env>.deploy.parameters]` of
//! samconfig.toml, keeping the rest of the file (comments included) as it was. Its values are
//! written out whole, so plain `sam deploy --config-env <env>` deploys the same thing.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};

use eventrail_model::Template;

/// What the questions start from.
#[derive(Debug, Clone)]
pub struct Known {
    pub stack_name: String,
    pub region: String,
    /// samconfig's parameter values merged with the operator's.
    pub parameters: BTreeMap<String, String>,
    pub confirm_changeset: bool,
}

/// The answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answers {
    pub stack_name: String,
    pub region: String,
    /// Every parameter value to deploy with (the known ones and the answered ones).
    pub parameters: BTreeMap<String, String>,
    pub confirm_changeset: bool,
    pub save: bool,
}

/// Asks on `output`, reads `input`; an empty answer keeps the value shown in brackets.
pub fn ask(
    template: &Template,
    known: &Known,
    input: &mut dyn BufRead,
    output: &mut dyn Write,
) -> std::io::Result<Answers> {
    let mut line = |question: &str, current: &str| -> std::io::Result<String> {
        write!(output, "{question} [{current}]: ")?;
        output.flush()?;
        let mut answer = String::new();
        input.read_line(&mut answer)?;
        let answer = answer.trim();
        Ok(if answer.is_empty() {
            current.to_owned()
        } else {
            answer.to_owned()
        })
    };
    let stack_name = line("Stack name", &known.stack_name)?;
    let region = line("AWS region", &known.region)?;
    let mut parameters = known.parameters.clone();
    for parameter in template.parameters() {
        if parameters.contains_key(&parameter.name) {
            continue;
        }
        let default = parameter
            .default
            .as_ref()
            .map(|v| match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .unwrap_or_default();
        let answer = line(&format!("Parameter {}", parameter.name), &default)?;
        if answer != default {
            parameters.insert(parameter.name.clone(), answer);
        }
    }
    let yes_no = |b: bool| if b { "y" } else { "n" };
    let confirm_changeset = line(
        "Show each changeset and ask before running it (y/n)",
        yes_no(known.confirm_changeset),
    )?
    .starts_with(['y', 'Y']);
    let save = line("Save these answers to samconfig.toml (y/n)", "y")?.starts_with(['y', 'Y']);
    Ok(Answers {
        stack_name,
        region,
        parameters,
        confirm_changeset,
        save,
    })
}

/// `text` (samconfig.toml) with `answers` set in `[<environment>.deploy.parameters]`: each key
/// replaced where it is, added after the table's header otherwise, the table added at the
/// end when there is none. Other lines stay as they are.
pub fn save(text: &str, environment: &str, answers: &Answers) -> String {
    let overrides: Vec<String> = answers
        .parameters
        .iter()
        .map(|(k, v)| {
            if v.contains(char::is_whitespace) || v.is_empty() {
                format!("{k}=\\\"{v}\\\"")
            } else {
                format!("{k}={v}")
            }
        })
        .collect();
    let settings = [
        ("stack_name", format!("\"{}\"", answers.stack_name)),
        ("region", format!("\"{}\"", answers.region)),
        ("confirm_changeset", answers.confirm_changeset.to_string()),
        (
            "parameter_overrides",
            format!("\"{}\"", overrides.join(" ")),
        ),
    ];
    let header = format!("[{environment}.deploy.parameters]");
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let Some(start) = lines.iter().position(|l| l.trim() == header) else {
        let mut out = text.trim_end().to_owned();
        out.push_str(&format!("\n\n{header}\n"));
        for (key, value) in &settings {
            out.push_str(&format!("{key} = {value}\n"));
        }
        return out;
    };
    let end = lines
        .iter()
        .enumerate()
        .skip(start + 1)
        .find(|(_, l)| l.trim_start().starts_with('['))
        .map(|(i, _)| i)
        .unwrap_or(lines.len());
    let mut missing = Vec::new();
    for (key, value) in &settings {
        let found = (start + 1..end).find(|&i| {
            lines[i]
                .split_once('=')
                .is_some_and(|(k, _)| k.trim() == *key)
        });
        match found {
            Some(i) => lines[i] = format!("{key} = {value}"),
            None => missing.push(format!("{key} = {value}")),
        }
    }
    for (offset, line) in missing.into_iter().enumerate() {
        lines.insert(start + 1 + offset, line);
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMCONFIG: &str = "version = 0.1\n# prod\n[prod.deploy.parameters]\n# keep me\nconfirm_changeset = false\nparameter_overrides = \"Stage=prod\"\n\n[local.deploy.parameters]\ns3_bucket = \"b\"\n";

    fn answers() -> Answers {
        Answers {
            stack_name: "app-prod".to_owned(),
            region: "eu-west-1".to_owned(),
            parameters: [
                ("Stage".to_owned(), "prod".to_owned()),
                (
                    "AlarmTopicArn".to_owned(),
                    "arn:aws:sns:eu-west-1:1:t".to_owned(),
                ),
            ]
            .into(),
            confirm_changeset: true,
            save: true,
        }
    }

    #[test]
    fn saving_replaces_keys_in_place_and_keeps_the_rest() {
        let saved = save(SAMCONFIG, "prod", &answers());
        let parsed = eventrail_model::SamConfig::parse(&saved, "samconfig.toml")
            .and_then(|c| c.environment("prod"));
        let Ok(prod) = parsed else {
            panic!("saved samconfig does not parse: {saved}");
        };
        assert_eq!(prod.stack_name.as_deref(), Some("app-prod"));
        assert_eq!(prod.region.as_deref(), Some("eu-west-1"));
        assert!(prod.confirm_changeset);
        assert_eq!(prod.parameter_overrides["Stage"], "prod");
        assert_eq!(
            prod.parameter_overrides["AlarmTopicArn"],
            "arn:aws:sns:eu-west-1:1:t"
        );
        assert!(saved.contains("# keep me"));
        assert!(saved.contains("s3_bucket = \"b\""));
    }

    #[test]
    fn an_environment_without_a_table_gets_one() {
        let saved = save("version = 0.1\n", "staging", &answers());
        let staging = eventrail_model::SamConfig::parse(&saved, "samconfig.toml")
            .and_then(|c| c.environment("staging"));
        assert!(staging.is_ok_and(|s| s.parameter_overrides["Stage"] == "prod"));
    }
}
