//! The build script of every eventrail function (its `Cargo.toml`'s `build = `): the link
//! settings, the declaration compiled in, the binary's `main` and the `Consumed` union
//! (see `eventrail_build::lambda_function`).
fn main() {
    eventrail_build::lambda_function();
}
