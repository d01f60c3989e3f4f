//! The app's business key (`business-key` in `[workspace.metadata.eventrail]`, e.g. an
//! order's id): the field of an event's `data` whose value names the flow for the people who
//! run the app. The generator sets it as `EVENTRAIL_BUSINESS_KEY` (read with the rest of the environment, `RuntimeConfig`); the consumer puts its value
//! on each event's span as `eventrail.business_key`, which `eventrail trace <key>` searches.

use serde_json::Value;

/// Where the business key is in an event's `data`: a field name (the shallowest field of that
/// name, so `order_id` finds `data.order_id` and `data.order.order_id` alike) or a JSON pointer.
/// The lookup is the contract's [`eventrail_contract::business_key_value`], the one spelling
/// the tools share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BusinessKey {
    spec: String,
}

impl BusinessKey {
    /// A field name (`order_id`) or a JSON pointer (`/customer/id`); `None` when empty.
    pub(crate) fn new(spec: &str) -> Option<Self> {
        let spec = spec.trim();
        if spec.is_empty() || spec == "/" {
            return None;
        }
        Some(Self {
            spec: spec.to_owned(),
        })
    }

    /// The key's value in `data`: a string as it is, a number as its text; `None` when absent
    /// or not a string or number.
    pub(crate) fn value(&self, data: &Value) -> Option<String> {
        eventrail_contract::business_key_value(data, &self.spec)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_field_name_or_a_pointer_finds_the_value() {
        let data = json!({"task_id": "t-7", "customer": {"id": 42}, "a/b": "slash"});
        assert_eq!(
            BusinessKey::new("task_id").unwrap().value(&data).as_deref(),
            Some("t-7")
        );
        assert_eq!(
            BusinessKey::new("/customer/id")
                .unwrap()
                .value(&data)
                .as_deref(),
            Some("42")
        );
        assert_eq!(
            BusinessKey::new("a/b").unwrap().value(&data).as_deref(),
            Some("slash")
        );
        assert_eq!(BusinessKey::new("customer").unwrap().value(&data), None);
        // A field name is found below the top too: the shallowest one wins.
        let nested = json!({"task": {"task_id": "t-8", "parent": {"task_id": "t-1"}}});
        assert_eq!(
            BusinessKey::new("task_id")
                .unwrap()
                .value(&nested)
                .as_deref(),
            Some("t-8")
        );
        assert_eq!(BusinessKey::new("missing").unwrap().value(&data), None);
        assert_eq!(BusinessKey::new("  "), None);
    }
}
