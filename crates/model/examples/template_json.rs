//! Prints a template as normalised long-form JSON, optionally pointing every function's
//! `CodeUri` at `s3://BUCKET/PREFIX/<binary>.zip`.
//!
//! `cargo run -p eventrail-model --example template_json -- infra/template.yaml [BUCKET PREFIX]`

use eventrail_model::Template;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: template_json TEMPLATE [BUCKET PREFIX]")?;
    let mut template = Template::load(&path)?;
    if let (Some(bucket), Some(prefix)) = (args.next(), args.next()) {
        let functions: Vec<(String, String)> = template
            .functions()
            .iter()
            .map(|f| (f.logical_id.clone(), f.display_name().to_owned()))
            .collect();
        for (id, binary) in functions {
            let uri = format!("s3://{bucket}/{prefix}/{binary}.zip");
            template.set_code_uri(&id, serde_json::Value::String(uri))?;
        }
    }
    println!("{}", serde_json::to_string_pretty(template.json())?);
    Ok(())
}
