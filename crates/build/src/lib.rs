//! The build script every eventrail function shares, kept in one place so that every
//! function (and `eventrail new function`'s scaffold) builds and links the same way. A function
//! names it in its `Cargo.toml` (`build = "../../crates/build/lambda/build.rs"`), with its
//! binary (`[[bin]] path = "../../crates/build/lambda/main.rs"`): the function's own files are
//! its `Cargo.toml` and its `src/lib.rs`. [`lambda_function`] is what it runs.
//!
//! What it writes into `OUT_DIR`:
//! - **the binary's `main`** ([`generate::MAIN_FILE`]): `eventrail_runtime::main!(<lib>::handle);`,
//!   the library's handler started by the runtime's one entry point;
//! - **`Consumed`** ([`generate::CONSUMED_FILE`]), the union of the events the declaration's
//!   `consumes` lists, which the library pulls in with `eventrail_runtime::consumed!()`.
//!
//! What it sets, and why:
//! - **A position-dependent executable on Linux** (`-no-pie` for the package's binaries only;
//!   libraries, tests and proc-macros are untouched). A position-independent Rust executable
//!   carries tens of thousands of relative relocations (vtables, panic locations, static
//!   tables: ~25,700 in a function with the AWS SDK, ~2,400 in a bare `lambda_runtime` hello
//!   world) that the dynamic loader applies, page by page, before `main`: about 0.6 ms of a
//!   3.4 ms cold start on the project's benchmark machine (BENCHMARKS.md, section 7). Linked
//!   at a fixed address they are resolved by the linker instead. The trade-off: the
//!   executable's own code and data are no longer at a random address (shared libraries,
//!   stack, heap and mappings still are). That is the default of Go's toolchain for its Lambda
//!   binaries too; set `EVENTRAIL_LINK_PIE=1` when building to keep a position-independent
//!   executable.
//! - **The declaration, read at build time.** `[package.metadata.eventrail]` of the package's
//!   `Cargo.toml` is handed to the compiler as JSON ([`DECLARATION_ENV`]), which
//!   `eventrail_runtime::declaration!()` embeds: at init the function reads a few hundred bytes
//!   of JSON instead of parsing its whole manifest as TOML (~80,000 instructions). Without the
//!   build script the macro embeds the manifest's text and parses it at init, as before.

use std::env;
use std::path::{Path, PathBuf};

pub mod generate;

/// Set (to anything) at build time to keep the executable position-independent.
pub const KEEP_PIE: &str = "EVENTRAIL_LINK_PIE";

/// The linker arguments [`lambda_binary`] adds for a target, given whether [`KEEP_PIE`] is
/// set: `-no-pie` on Linux (GNU ld, lld and zig's linker all take it), nothing elsewhere.
pub fn link_args(target_os: &str, keep_pie: bool) -> &'static [&'static str] {
    if target_os == "linux" && !keep_pie {
        &["-no-pie"]
    } else {
        &[]
    }
}

/// The compile-time variable that carries the declaration, as JSON, to
/// `eventrail_runtime::declaration!()`.
pub const DECLARATION_ENV: &str = "EVENTRAIL_DECLARATION_JSON";

/// `[package.metadata.eventrail]` of a manifest's text as one line of JSON; `Ok(None)` when the
/// package declares none. An error names what cargo would not have let through anyway (the
/// text is not TOML), or a declaration that is not a table.
pub fn declaration_json(manifest: &str) -> Result<Option<String>, String> {
    match declaration_table(manifest)? {
        None => Ok(None),
        Some(declaration) => serde_json::to_string(&declaration)
            .map(Some)
            .map_err(|e| e.to_string()),
    }
}

/// `[package.metadata.eventrail]` of a manifest's text.
fn declaration_table(manifest: &str) -> Result<Option<toml::Table>, String> {
    let table: toml::Table = manifest
        .parse()
        .map_err(|e: toml::de::Error| e.to_string())?;
    let declaration = table
        .get("package")
        .and_then(|p| p.get("metadata"))
        .and_then(|m| m.get("eventrail"));
    match declaration {
        None => Ok(None),
        Some(toml::Value::Table(declaration)) => Ok(Some(declaration.clone())),
        Some(_) => Err("[package.metadata.eventrail] is not a table".to_owned()),
    }
}

/// The declaration's `consumes`, as written (empty when absent); an error when it is not a
/// list of strings.
fn consumes(declaration: &toml::Table) -> Result<Vec<String>, String> {
    match declaration.get("consumes") {
        None => Ok(Vec::new()),
        Some(toml::Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| "consumes: every entry is a detail-type, in quotes".to_owned())
            })
            .collect(),
        Some(_) => Err("consumes: a list of detail-types".to_owned()),
    }
}

/// The build script of every function (`crates/build/lambda/build.rs`): the link
/// settings and the declaration of [`lambda_binary`], then the binary's `main` and
/// `Consumed` in `OUT_DIR`. A declaration it cannot read makes `Consumed` a `compile_error!`
/// naming the problem, should the library use it.
pub fn lambda_function() {
    println!("cargo::rerun-if-changed=Cargo.toml");
    link_and_embed();
    let Some(out_dir) = env::var_os("OUT_DIR").map(PathBuf::from) else {
        println!("cargo::warning=OUT_DIR is not set: not run by cargo?");
        return;
    };
    let package = env::var("CARGO_PKG_NAME").unwrap_or_default();
    let manifest = env::var_os("CARGO_MANIFEST_DIR")
        .map(|dir| Path::new(&dir).join("Cargo.toml"))
        .ok_or_else(|| "CARGO_MANIFEST_DIR is not set".to_owned());
    let consumed = manifest
        .and_then(|path| {
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))
        })
        .and_then(|text| declaration_table(&text))
        .and_then(|declaration| consumes(&declaration.unwrap_or_default()))
        .and_then(|list| generate::consumed_source(&list))
        .unwrap_or_else(|e| {
            let message = serde_json::Value::String(format!(
                "eventrail_runtime::consumed!(): the declaration of `{package}`: {e}"
            ));
            format!("compile_error!({message});\n")
        });
    for (file, text) in [
        (generate::MAIN_FILE, generate::main_source(&package)),
        (generate::CONSUMED_FILE, consumed),
    ] {
        let path = out_dir.join(file);
        if let Err(e) = std::fs::write(&path, text) {
            // The compiler then names the missing file.
            println!("cargo::warning={}: {e}", path.display());
        }
    }
}

/// The build script of a function written before [`lambda_function`] (its own `build.rs` and
/// `src/main.rs`): the link settings and the declaration only. `eventrail migrate function`
/// moves such a function to the shared script.
pub fn lambda_binary() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=Cargo.toml");
    link_and_embed();
}

/// The link settings for the package's binaries and its declaration for the compiler.
fn link_and_embed() {
    println!("cargo::rerun-if-env-changed={KEEP_PIE}");
    let target_os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let keep_pie = env::var_os(KEEP_PIE).is_some_and(|v| !v.is_empty());
    for arg in link_args(&target_os, keep_pie) {
        println!("cargo::rustc-link-arg-bins={arg}");
    }
    embed_declaration();
}

/// Hands the package's declaration to the compiler ([`DECLARATION_ENV`]). A manifest it cannot
/// read is left to the runtime, which parses the embedded text at init and reports the problem
/// with the file and the field.
fn embed_declaration() {
    let Some(dir) = env::var_os("CARGO_MANIFEST_DIR") else {
        return;
    };
    let manifest = Path::new(&dir).join("Cargo.toml");
    let text = match std::fs::read_to_string(&manifest) {
        Ok(text) => text,
        Err(e) => {
            println!(
                "cargo::warning={}: {e}; the declaration is parsed at init instead",
                manifest.display()
            );
            return;
        }
    };
    match declaration_json(&text) {
        Ok(Some(json)) => println!("cargo::rustc-env={DECLARATION_ENV}={json}"),
        Ok(None) => {}
        Err(e) => println!(
            "cargo::warning={}: {e}; the declaration is parsed at init instead",
            manifest.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_binaries_are_position_dependent_unless_asked_otherwise() {
        assert_eq!(link_args("linux", false), ["-no-pie"]);
        assert!(link_args("linux", true).is_empty());
        assert!(link_args("macos", false).is_empty());
        assert!(link_args("windows", false).is_empty());
    }

    #[test]
    fn the_declaration_table_becomes_one_line_of_json() {
        let manifest = r#"
[package]
name = "gift-wrap"

[dependencies]
serde = "1"

[package.metadata.eventrail]
description = "Wraps\ngifts"
consumes = ["TaskDone"]
filter = { total = [{ numeric = [">", 100] }] }

[package.metadata.eventrail.environment]
GREETING = "hello"
"#;
        let json = declaration_json(manifest).unwrap().unwrap();
        assert!(!json.contains('\n'), "{json}");
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["description"], "Wraps\ngifts");
        assert_eq!(value["consumes"][0], "TaskDone");
        assert_eq!(value["filter"]["total"][0]["numeric"][1], 100);
        assert_eq!(value["environment"]["GREETING"], "hello");
        assert_eq!(value.as_object().map(|o| o.len()), Some(4));
    }

    #[test]
    fn a_package_without_a_declaration_has_none() {
        assert_eq!(declaration_json("[package]\nname = \"x\"\n"), Ok(None));
        assert!(declaration_json("[package.metadata]\neventrail = 3\n").is_err());
        assert!(declaration_json("not toml [").is_err());
    }
}
