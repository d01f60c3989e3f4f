//! The `exists` operator: `true` matches any leaf at the path, `false` only the absence
//! of the field (the machine takes that transition when the event has no leaf there).

use serde_json::Value;

use crate::error::PatternError;
use crate::place::Place;

/// `{"exists": true|false}`: whether the field must exist.
pub(crate) fn parse(operand: &Value, place: &Place) -> Result<bool, PatternError> {
    match operand {
        Value::Bool(b) => Ok(*b),
        _ => Err(place.error("exists expects true or false")),
    }
}
