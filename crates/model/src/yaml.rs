//! YAML with CloudFormation short-form tags -> long-form JSON.
//!
//! CloudFormation YAML allows `!Ref X`, `!GetAtt A.B`, `!Sub "..."` and friends. JSON has no
//! tags, so every tagged node becomes the long form CloudFormation itself accepts:
//! `!Ref X` -> `{"Ref": "X"}`, `!Condition C` -> `{"Condition": "C"}`,
//! `!GetAtt A.B` -> `{"Fn::GetAtt": ["A", "B"]}` and `!Name v` -> `{"Fn::Name": v}` otherwise.

use std::path::Path;

use serde_json::{Map, Number, Value};
use serde_norway::Value as Yaml;

use crate::error::TemplateError;

/// Tags written as `!Name` that become `{"Fn::Name": value}`.
const FN_TAGS: &[&str] = &[
    "And",
    "Base64",
    "Cidr",
    "Equals",
    "FindInMap",
    "GetAZs",
    "If",
    "ImportValue",
    "Join",
    "Length",
    "Not",
    "Or",
    "Select",
    "Split",
    "Sub",
    "ToJsonString",
    "Transform",
];

/// Parses YAML text (with CloudFormation short-form tags) into long-form JSON.
///
/// `file` is only used in error messages.
pub fn yaml_to_json(text: &str, file: &Path) -> Result<Value, TemplateError> {
    let yaml: Yaml = serde_norway::from_str(text).map_err(|source| TemplateError::Yaml {
        file: file.to_path_buf(),
        location: source
            .location()
            .map(|l| format!(" at line {} column {}", l.line(), l.column()))
            .unwrap_or_default(),
        source,
    })?;
    convert(&yaml, file, &mut Vec::new())
}

fn dotted(path: &[String]) -> String {
    if path.is_empty() {
        "<root>".to_owned()
    } else {
        path.join(".")
    }
}

fn convert(node: &Yaml, file: &Path, path: &mut Vec<String>) -> Result<Value, TemplateError> {
    Ok(match node {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(*b),
        Yaml::Number(n) => number(n, file, path)?,
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Sequence(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                path.push(i.to_string());
                out.push(convert(item, file, path)?);
                path.pop();
            }
            Value::Array(out)
        }
        Yaml::Mapping(map) => {
            let mut out = Map::with_capacity(map.len());
            for (k, v) in map {
                let key = key_string(k, file, path)?;
                path.push(key.clone());
                let value = convert(v, file, path)?;
                path.pop();
                out.insert(key, value);
            }
            Value::Object(out)
        }
        Yaml::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let inner = convert(&tagged.value, file, path)?;
            let (key, value) = match name {
                "Ref" | "Condition" => (name.to_owned(), inner),
                "GetAtt" => ("Fn::GetAtt".to_owned(), get_att(inner, file, path)?),
                n if FN_TAGS.contains(&n) => (format!("Fn::{n}"), inner),
                _ => {
                    return Err(TemplateError::UnknownTag {
                        file: file.to_path_buf(),
                        path: dotted(path),
                        tag,
                    });
                }
            };
            let mut out = Map::with_capacity(1);
            out.insert(key, value);
            Value::Object(out)
        }
    })
}

/// `!GetAtt Res.Attr` -> `["Res", "Attr"]`; the attribute keeps any further dots
/// (`!GetAtt Stack.Outputs.Name` -> `["Stack", "Outputs.Name"]`). A sequence is kept as is.
fn get_att(inner: Value, file: &Path, path: &[String]) -> Result<Value, TemplateError> {
    match inner {
        Value::String(s) => match s.split_once('.') {
            Some((res, attr)) if !res.is_empty() && !attr.is_empty() => Ok(Value::Array(vec![
                Value::String(res.to_owned()),
                Value::String(attr.to_owned()),
            ])),
            _ => Err(TemplateError::invalid(
                file,
                dotted(path),
                format!("!GetAtt `{s}` must be `LogicalId.Attribute`"),
            )),
        },
        Value::Array(_) => Ok(inner),
        other => Err(TemplateError::invalid(
            file,
            dotted(path),
            format!("!GetAtt takes `LogicalId.Attribute` or a list, found {other}"),
        )),
    }
}

fn number(n: &serde_norway::Number, file: &Path, path: &[String]) -> Result<Value, TemplateError> {
    if let Some(i) = n.as_i64() {
        return Ok(Value::Number(i.into()));
    }
    if let Some(u) = n.as_u64() {
        return Ok(Value::Number(u.into()));
    }
    n.as_f64()
        .and_then(Number::from_f64)
        .map(Value::Number)
        .ok_or_else(|| {
            TemplateError::invalid(
                file,
                dotted(path),
                format!("number `{n}` has no JSON form (NaN or infinity); quote it or use a finite number"),
            )
        })
}

fn key_string(key: &Yaml, file: &Path, path: &[String]) -> Result<String, TemplateError> {
    match key {
        Yaml::String(s) => Ok(s.clone()),
        Yaml::Bool(b) => Ok(b.to_string()),
        Yaml::Number(n) => Ok(n.to_string()),
        other => Err(TemplateError::invalid(
            file,
            dotted(path),
            format!("mapping key must be a scalar, found {other:?}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn conv(text: &str) -> Value {
        yaml_to_json(text, Path::new("t.yaml")).unwrap()
    }

    #[test]
    fn short_forms_become_long_forms() {
        let v = conv(
            r#"
a: !Ref Bus
b: !GetAtt Queue.Arn
c: !GetAtt Stack.Outputs.Url
d: !Sub "${AWS::StackName}-x"
e: !If [IsLocal, 1, 2]
f: !Equals [!Ref Stage, local]
g: !Join [",", [a, b]]
h: !Select [0, !Split [",", "a,b"]]
i: !FindInMap [M, K, V]
j: !Base64 abc
k: !ImportValue other
l: !GetAZs ""
m: !And [!Condition A, !Not [!Condition B]]
n: !Or [!Condition A, !Condition B]
o: !GetAtt [Queue, Arn]
"#,
        );
        assert_eq!(v["a"], json!({"Ref": "Bus"}));
        assert_eq!(v["b"], json!({"Fn::GetAtt": ["Queue", "Arn"]}));
        assert_eq!(v["c"], json!({"Fn::GetAtt": ["Stack", "Outputs.Url"]}));
        assert_eq!(v["d"], json!({"Fn::Sub": "${AWS::StackName}-x"}));
        assert_eq!(v["e"], json!({"Fn::If": ["IsLocal", 1, 2]}));
        assert_eq!(v["f"], json!({"Fn::Equals": [{"Ref": "Stage"}, "local"]}));
        assert_eq!(v["g"], json!({"Fn::Join": [",", ["a", "b"]]}));
        assert_eq!(
            v["h"],
            json!({"Fn::Select": [0, {"Fn::Split": [",", "a,b"]}]})
        );
        assert_eq!(v["i"], json!({"Fn::FindInMap": ["M", "K", "V"]}));
        assert_eq!(v["j"], json!({"Fn::Base64": "abc"}));
        assert_eq!(v["k"], json!({"Fn::ImportValue": "other"}));
        assert_eq!(v["l"], json!({"Fn::GetAZs": ""}));
        assert_eq!(
            v["m"],
            json!({"Fn::And": [{"Condition": "A"}, {"Fn::Not": [{"Condition": "B"}]}]})
        );
        assert_eq!(
            v["n"],
            json!({"Fn::Or": [{"Condition": "A"}, {"Condition": "B"}]})
        );
        assert_eq!(v["o"], json!({"Fn::GetAtt": ["Queue", "Arn"]}));
    }

    #[test]
    fn plain_values_keep_their_types() {
        let v = conv("a: 1\nb: 1.5\nc: true\nd: null\ne: '0123'\nf: [x, 2]\n200: ok\n");
        assert_eq!(
            v,
            json!({"a": 1, "b": 1.5, "c": true, "d": null, "e": "0123", "f": ["x", 2], "200": "ok"})
        );
    }

    #[test]
    fn long_forms_pass_through() {
        let v = conv("a: {\"Fn::GetAtt\": [Q, Arn]}\nb: {Ref: X}\n");
        assert_eq!(
            v,
            json!({"a": {"Fn::GetAtt": ["Q", "Arn"]}, "b": {"Ref": "X"}})
        );
    }

    #[test]
    fn unknown_tag_names_file_and_path() {
        let err = yaml_to_json(
            "Resources:\n  Q:\n    Properties:\n      Name: !Reff X\n",
            Path::new("infra/t.yaml"),
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("infra/t.yaml"), "{msg}");
        assert!(msg.contains("Resources.Q.Properties.Name"), "{msg}");
        assert!(msg.contains("!Reff"), "{msg}");
    }

    #[test]
    fn bad_get_att_is_rejected_with_path() {
        let err = yaml_to_json(
            "Outputs:\n  A:\n    Value: !GetAtt Queue\n",
            Path::new("t.yaml"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("Outputs.A.Value"), "{err}");
        assert!(err.contains("LogicalId.Attribute"), "{err}");
    }

    #[test]
    fn invalid_yaml_reports_location() {
        let err = yaml_to_json("a: [1, 2\nb: c\n", Path::new("t.yaml"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("t.yaml: invalid YAML at line"), "{err}");
    }

    #[test]
    fn duplicate_keys_are_rejected() {
        assert!(yaml_to_json("a: 1\na: 2\n", Path::new("t.yaml")).is_err());
    }
}
