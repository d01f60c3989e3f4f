//! The Rust the shared build script writes into `OUT_DIR` for a function: its binary's `main`
//! and the union of the events it consumes.

/// The file (in `OUT_DIR`) the binary's `main` is in; `lambda/main.rs` includes it.
pub const MAIN_FILE: &str = "eventrail_main.rs";

/// The file (in `OUT_DIR`) `eventrail_runtime::consumed!()` includes.
pub const CONSUMED_FILE: &str = "eventrail_consumed.rs";

/// The binary's `main` for package `package`: its library's `handle`, started by the runtime.
pub fn main_source(package: &str) -> String {
    format!(
        "eventrail_runtime::main!({}::handle);\n",
        package.replace('-', "_")
    )
}

/// Whether `name` can be written as a Rust type name as it is (`TaskDone`).
fn is_type_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `Consumed` for the declaration's `consumes`: an alias of the one event's type, of
/// `AnyEvent` for `"*"`, or an enum with a variant per event; nothing for a function that
/// consumes nothing. An error names a detail-type that is not a Rust type name.
pub fn consumed_source(consumes: &[String]) -> Result<String, String> {
    const R: &str = "::eventrail_runtime";
    match consumes {
        [] => Ok("// This function consumes no events: no `Consumed`.\n".to_owned()),
        [every] if every == "*" => Ok(format!(
            "/// The events this function consumes: every event of the app.\npub type Consumed = {R}::contract::AnyEvent;\n"
        )),
        _ => {
            if let Some(bad) = consumes.iter().find(|t| !is_type_name(t)) {
                return Err(format!(
                    "consumes: `{bad}` is not a type name, so no `Consumed` variant can be made \
                     of it (a function consuming `*` consumes nothing else)"
                ));
            }
            if let [one] = consumes {
                return Ok(format!(
                    "/// The event this function consumes (its declaration's `consumes`).\npub type Consumed = {one};\n"
                ));
            }
            Ok(union_source(consumes))
        }
    }
}

fn union_source(consumes: &[String]) -> String {
    let each = |line: &dyn Fn(&String) -> String| consumes.iter().map(line).collect::<String>();
    let variants = each(&|t| format!("    /// `{t}`.\n    {t}({t}),\n"));
    let accepts: Vec<String> = consumes
        .iter()
        .map(|t| {
            format!(
                "<{t} as {R}::contract::Event>::accepts(source, detail_type)",
                R = "::eventrail_runtime"
            )
        })
        .collect();
    let validate = each(&|t| {
        format!(
            "            Self::{t}(event) => ::eventrail_runtime::contract::Validate::validate(event),\n"
        )
    });
    let detail_type = each(&|t| {
        format!(
            "            Self::{t}(_) => <{t} as ::eventrail_runtime::contract::Event>::DETAIL_TYPE,\n"
        )
    });
    format!(
        r#"/// The events this function consumes (its declaration's `consumes`), one variant each,
/// generated from the declaration by its build script.
#[derive(
    Debug,
    Clone,
    PartialEq,
    ::eventrail_runtime::__private::serde::Serialize,
    ::eventrail_runtime::__private::serde::Deserialize,
    ::eventrail_runtime::__private::schemars::JsonSchema,
)]
#[serde(crate = "::eventrail_runtime::__private::serde", untagged)]
#[schemars(crate = "::eventrail_runtime::__private::schemars")]
pub enum Consumed {{
{variants}}}

impl ::eventrail_runtime::contract::Event for Consumed {{
    const SOURCE: &'static str = "*";
    const DETAIL_TYPE: &'static str = "{types}";
    const VERSION: u32 = 1;

    fn accepts(source: &str, detail_type: &str) -> bool {{
        {accepts}
    }}
}}

impl ::eventrail_runtime::contract::Validate for Consumed {{
    fn validate(&self) -> ::core::result::Result<(), ::eventrail_runtime::contract::ValidationError> {{
        match self {{
{validate}        }}
    }}
}}

impl Consumed {{
    /// The detail-type of the event this is.
    pub fn detail_type(&self) -> &'static str {{
        match self {{
{detail_type}        }}
    }}
}}
"#,
        types = consumes.join("|"),
        accepts = accepts.join("\n            || "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn main_names_the_librarys_handler() {
        assert_eq!(
            main_source("gift-wrap"),
            "eventrail_runtime::main!(gift_wrap::handle);\n"
        );
    }

    #[test]
    fn several_events_make_an_enum_with_a_variant_each() {
        let source = consumed_source(&names(&["GiftWrapped", "TaskCreated"])).unwrap();
        assert!(source.contains("pub enum Consumed {"), "{source}");
        assert!(source.contains("    GiftWrapped(GiftWrapped),\n    /// `TaskCreated`.\n    TaskCreated(TaskCreated),"), "{source}");
        assert!(
            source.contains("DETAIL_TYPE: &'static str = \"GiftWrapped|TaskCreated\""),
            "{source}"
        );
        assert!(
            source.contains("Self::TaskCreated(_) => <TaskCreated as"),
            "{source}"
        );
    }

    #[test]
    fn one_event_or_every_event_is_an_alias_and_none_is_nothing() {
        assert_eq!(
            consumed_source(&names(&["TaskDone"]))
                .unwrap()
                .lines()
                .last(),
            Some("pub type Consumed = TaskDone;")
        );
        assert!(
            consumed_source(&names(&["*"]))
                .unwrap()
                .contains("pub type Consumed = ::eventrail_runtime::contract::AnyEvent;")
        );
        assert!(!consumed_source(&[]).unwrap().contains("Consumed ="));
        let error = consumed_source(&names(&["TaskDone", "*"])).unwrap_err();
        assert!(error.contains("`*`"), "{error}");
    }
}
