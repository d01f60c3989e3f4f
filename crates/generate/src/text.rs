//! YAML text helpers: JSON with sorted keys, a quoted scalar, a flow list.

use serde_json::Value;

/// JSON with object keys sorted at every level, so generated text never depends on map order.
pub fn canonical_json(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let items: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}: {}", Value::String(k.clone()), canonical_json(&map[k])))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(canonical_json).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.to_string(),
    }
}

pub(crate) fn yaml_string(text: &str) -> String {
    Value::String(text.to_owned()).to_string()
}

pub(crate) fn flow_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| yaml_string(i)).collect();
    format!("[{}]", quoted.join(", "))
}
