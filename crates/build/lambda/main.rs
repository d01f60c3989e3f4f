//! The Lambda binary of every eventrail function (its `Cargo.toml`'s `[[bin]] path = `):
//! `eventrail_runtime::main!(<the library>::handle);`, written by the shared build script.
include!(concat!(env!("OUT_DIR"), "/eventrail_main.rs"));
