//! Uploads to S3 (LocalStack's or AWS's): each function's `bootstrap.zip` under a key that
//! contains the zip's digest (a changed binary is a changed `CodeUri`, so a re-deploy updates
//! exactly the functions whose code changed), and a template too large to send inline.

use std::collections::BTreeMap;
use std::path::PathBuf;

use eventrail_model::Template;
use sha2::{Digest, Sha256};

use crate::clients::{Clients, sdk_message};
use crate::error::{Error, IoContext, Result};
use crate::progress::{Meter, Output, Progress};
use crate::stack::TemplateSource;

/// CloudFormation's limit for an inline `TemplateBody`; larger templates go through S3.
const TEMPLATE_BODY_LIMIT: usize = 51_200;

/// The bucket a stack's code and template go to.
pub fn bucket_name(stack_name: &str) -> String {
    format!("{stack_name}-artifacts")
}

/// S3 key of a function's code: changes whenever the zip's bytes change.
pub fn code_key(prefix: &str, binary: &str, zip: &[u8]) -> String {
    format!("{prefix}/{binary}-{}.zip", short_digest(zip))
}

fn short_digest(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Uploads to one bucket, under one key prefix.
pub struct Uploads<'a> {
    clients: &'a Clients,
    s3: aws_sdk_s3::Client,
    prefix: String,
    bucket: String,
}

impl<'a> Uploads<'a> {
    /// The stack's bucket on LocalStack ([`bucket_name`]), created if it does not exist yet;
    /// keys start with the stack's name.
    pub async fn to_bucket_of(clients: &'a Clients, stack_name: &'a str) -> Result<Self> {
        Self::to_bucket(clients, &bucket_name(stack_name), stack_name).await
    }

    /// `bucket`, created if it does not exist yet; keys start with `prefix`.
    pub async fn to_bucket(clients: &'a Clients, bucket: &str, prefix: &str) -> Result<Self> {
        let uploads = Self {
            clients,
            s3: clients.s3(),
            prefix: prefix.trim_matches('/').to_owned(),
            bucket: bucket.to_owned(),
        };
        uploads.ensure_bucket().await?;
        Ok(uploads)
    }

    /// The bucket uploads go to.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Uploads `bytes` under `<prefix>/<name>`; returns the key.
    pub async fn put_named(&self, name: &str, bytes: Vec<u8>) -> Result<String> {
        let key = format!("{}/{name}", self.prefix);
        self.put(&key, bytes).await?;
        Ok(key)
    }

    /// The object at `<prefix>/<name>`, or None when there is none.
    pub async fn get_named(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let key = format!("{}/{name}", self.prefix);
        match self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(&key)
            .send()
            .await
        {
            Ok(object) => {
                let bytes = object
                    .body
                    .collect()
                    .await
                    .map_err(|e| self.clients.aws_error(&format!("s3:GetObject {key}"), e))?;
                Ok(Some(bytes.into_bytes().to_vec()))
            }
            Err(e) => {
                let message = sdk_message(&e);
                if message.contains("NoSuchKey") || message.contains("does not exist") {
                    Ok(None)
                } else {
                    Err(self.clients.aws_error(&format!("s3:GetObject {key}"), e))
                }
            }
        }
    }

    async fn ensure_bucket(&self) -> Result<()> {
        let bucket = &self.bucket;
        if self.s3.head_bucket().bucket(bucket).send().await.is_ok() {
            return Ok(());
        }
        let mut request = self.s3.create_bucket().bucket(bucket);
        // Outside us-east-1, S3 wants the bucket's region named.
        if let Some(region) = self.clients.config.region().map(|r| r.as_ref().to_owned())
            && region != "us-east-1"
        {
            request = request.create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(
                        region.as_str(),
                    ))
                    .build(),
            );
        }
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e) => {
                let message = sdk_message(&e);
                if message.contains("BucketAlreadyOwnedByYou") {
                    Ok(())
                } else {
                    Err(self
                        .clients
                        .aws_error(&format!("s3:CreateBucket {bucket}"), e))
                }
            }
        }
    }

    /// Whether an object is at `key` (a failed check counts as no: the upload then says why).
    async fn exists(&self, key: &str) -> bool {
        self.s3
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .is_ok()
    }

    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<()> {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(bytes.into())
            .send()
            .await
            .map_err(|e| self.clients.aws_error("s3:PutObject", e))?;
        Ok(())
    }

    /// Uploads the zip of each function (logical id, binary) in `functions` and points the
    /// function's `CodeUri` in `template` at it; returns binary -> S3 URI.
    pub async fn code(
        &self,
        template: &mut Template,
        functions: &[(String, String)],
        zips: &BTreeMap<String, PathBuf>,
        progress: Progress,
    ) -> Result<BTreeMap<String, String>> {
        let mut code = BTreeMap::new();
        let mut meter = Meter::start("upload", progress, Output::of_stderr());
        let mut total_size = 0;
        let (mut uploaded, mut kept) = (0, 0);
        for (logical_id, binary) in functions {
            let Some(zip_path) = zips.get(binary) else {
                return Err(Error::Build(format!(
                    "no zip was built for {binary} (function {logical_id})"
                )));
            };
            let bytes = tokio::fs::read(zip_path).await.io_context(|| {
                format!(
                    "reading {} (build it with `cargo lambda build --release --output-format zip`)",
                    zip_path.display()
                )
            })?;
            let key = code_key(&self.prefix, binary, &bytes);
            let size = bytes.len();
            let uri = format!("s3://{}/{key}", self.bucket);
            // The key holds the zip's digest: an object already there is these very bytes
            // (an unchanged function), so it is not sent again.
            if self.exists(&key).await {
                kept += 1;
                meter.line(|| format!("kept {binary}: {uri} is already there"));
            } else {
                self.put(&key, bytes).await?;
                total_size += size;
                uploaded += 1;
                meter.line(|| {
                    format!(
                        "uploaded {binary} ({:.1} MB) to {uri}",
                        size as f64 / 1_048_576.0
                    )
                });
            }
            template.set_code_uri(logical_id, serde_json::Value::String(uri.clone()))?;
            code.insert(binary.clone(), uri);
            meter.update(code.len(), functions.len());
        }
        meter.finish(|| {
            format!(
                "uploaded {uploaded} function(s) ({:.1} MB) to s3://{}, {kept} unchanged already there",
                total_size as f64 / 1_048_576.0,
                self.bucket
            )
        });
        Ok(code)
    }

    /// The template as CloudFormation takes it: inline when small enough, else uploaded to
    /// the bucket and named by its URL.
    pub async fn template(&self, template: &Template) -> Result<TemplateSource> {
        let body = template.to_json_string();
        if body.len() <= TEMPLATE_BODY_LIMIT {
            return Ok(TemplateSource::Body(body));
        }
        let key = format!(
            "{}/template-{}.json",
            self.prefix,
            short_digest(body.as_bytes())
        );
        self.put(&key, body.into_bytes()).await?;
        Ok(TemplateSource::Url(self.object_url(&key)))
    }

    /// The HTTPS URL CloudFormation reads an object by: path style on an endpoint of our own
    /// (LocalStack), S3's regional virtual-host name on AWS.
    fn object_url(&self, key: &str) -> String {
        match self.clients.config.endpoint_url() {
            Some(endpoint) => format!("{}/{}/{key}", endpoint.trim_end_matches('/'), self.bucket),
            None => {
                let region = self
                    .clients
                    .config
                    .region()
                    .map(|r| r.as_ref().to_owned())
                    .unwrap_or_else(|| "us-east-1".to_owned());
                format!("https://{}.s3.{region}.amazonaws.com/{key}", self.bucket)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_key_changes_with_the_bytes() {
        let a = code_key("stack", "planner", b"one");
        let b = code_key("stack", "planner", b"two");
        assert!(a.starts_with("stack/planner-") && a.ends_with(".zip"));
        assert_ne!(a, b);
        assert_eq!(a, code_key("stack", "planner", b"one"));
    }
}
