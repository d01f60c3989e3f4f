//! Finding the resources a value refers to (`Ref`, `Fn::GetAtt`, `Fn::Sub`).

use std::collections::BTreeSet;

use serde_json::Value;

/// The one logical id a value points at directly, if it is a plain reference:
/// `{"Ref": "X"}`, `{"Fn::GetAtt": ["X", "Arn"]}`, `{"Fn::GetAtt": "X.Arn"}`,
/// or a `Fn::Sub` whose whole string is one variable (`"${X}"`, `"${X.Arn}"`).
///
/// Pseudo parameters (`AWS::Region`) are not logical ids and give `None`.
pub fn direct_ref(value: &Value) -> Option<&str> {
    let obj = value.as_object()?;
    if obj.len() != 1 {
        return None;
    }
    let (key, inner) = obj.iter().next()?;
    let id = match key.as_str() {
        "Ref" => inner.as_str()?,
        "Fn::GetAtt" => match inner {
            Value::Array(parts) => parts.first()?.as_str()?,
            Value::String(s) => s.split_once('.')?.0,
            _ => return None,
        },
        "Fn::Sub" => {
            let text = match inner {
                Value::String(s) => s.as_str(),
                Value::Array(parts) => parts.first()?.as_str()?,
                _ => return None,
            };
            let var = text.strip_prefix("${")?.strip_suffix('}')?;
            if var.contains("${") || var.contains('}') || var.starts_with('!') {
                return None;
            }
            var.split_once('.').map_or(var, |(id, _)| id)
        }
        _ => return None,
    };
    (!id.starts_with("AWS::")).then_some(id)
}

/// Every logical id or parameter name a value mentions anywhere inside it
/// (through `Ref`, `Fn::GetAtt` and `${...}` in `Fn::Sub`), pseudo parameters excluded.
pub fn references(value: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    collect(value, &mut out);
    out
}

fn collect(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| collect(v, out)),
        Value::Object(obj) => {
            if obj.len() == 1 {
                if let Some(id) = direct_ref(value) {
                    out.insert(id.to_owned());
                    return;
                }
                if let Some(sub) = obj.get("Fn::Sub") {
                    collect_sub(sub, out);
                    return;
                }
            }
            obj.values().for_each(|v| collect(v, out));
        }
        _ => {}
    }
}

fn collect_sub(sub: &Value, out: &mut BTreeSet<String>) {
    let (text, locals) = match sub {
        Value::String(s) => (s.as_str(), None),
        Value::Array(parts) => match (parts.first().and_then(Value::as_str), parts.get(1)) {
            (Some(s), vars) => (s, vars.and_then(Value::as_object)),
            _ => return,
        },
        _ => return,
    };
    if let Some(locals) = locals {
        locals.values().for_each(|v| collect(v, out));
    }
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let var = &after[..end];
        rest = &after[end + 1..];
        if var.starts_with('!') || var.starts_with("AWS::") {
            continue;
        }
        let id = var.split_once('.').map_or(var, |(id, _)| id);
        if locals.is_some_and(|l| l.contains_key(id)) {
            continue;
        }
        out.insert(id.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn direct_refs() {
        assert_eq!(direct_ref(&json!({"Ref": "Q"})), Some("Q"));
        assert_eq!(direct_ref(&json!({"Fn::GetAtt": ["Q", "Arn"]})), Some("Q"));
        assert_eq!(direct_ref(&json!({"Fn::GetAtt": "Q.Arn"})), Some("Q"));
        assert_eq!(direct_ref(&json!({"Fn::Sub": "${Q.Arn}"})), Some("Q"));
        assert_eq!(direct_ref(&json!({"Fn::Sub": "${Q}"})), Some("Q"));
        assert_eq!(direct_ref(&json!({"Fn::Sub": "arn:${Q}"})), None);
        assert_eq!(direct_ref(&json!({"Ref": "AWS::Region"})), None);
        assert_eq!(direct_ref(&json!("Q")), None);
    }

    #[test]
    fn all_references() {
        let v = json!({
            "Fn::Join": ["", [{"Ref": "A"}, {"Fn::GetAtt": ["B", "Arn"]}]],
            "x": {"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${C}:${!Literal}:${D.Name}"},
            "y": {"Fn::Sub": ["${Local}-${E}", {"Local": {"Ref": "F"}}]}
        });
        let got: Vec<_> = references(&v).into_iter().collect();
        assert_eq!(got, ["A", "B", "C", "D", "E", "F"]);
    }
}
