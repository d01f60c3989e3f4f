//! SDK clients for a LocalStack endpoint or for AWS itself, and the errors of their calls.

use crate::error::Error;

/// Clients for a LocalStack endpoint, or for AWS ([`Clients::from_sdk_config`]).
#[derive(Debug, Clone)]
pub struct Clients {
    /// Where the calls go, as errors name it: LocalStack's URL, or e.g. `AWS eu-west-1`.
    pub endpoint: String,
    pub config: aws_config::SdkConfig,
}

impl Clients {
    /// SDK configuration for LocalStack: its endpoint, the region, test credentials.
    pub async fn new(endpoint: &str, region: &str) -> Self {
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            // LocalStack answers plain HTTP: no TLS stack is set up.
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .endpoint_url(endpoint)
            .region(aws_config::Region::new(region.to_owned()))
            .credentials_provider(aws_sdk_cloudformation::config::Credentials::new(
                "test",
                "test",
                None,
                None,
                "localstack",
            ))
            .load()
            .await;
        Self {
            endpoint: endpoint.to_owned(),
            config,
        }
    }

    /// Clients for any endpoint `config` names (AWS when it sets no endpoint URL), with
    /// `endpoint_label` naming it in errors.
    pub fn from_sdk_config(endpoint_label: &str, config: aws_config::SdkConfig) -> Self {
        Self {
            endpoint: endpoint_label.to_owned(),
            config,
        }
    }

    /// True when the calls go to an endpoint URL of their own (LocalStack), not to AWS.
    pub fn is_custom_endpoint(&self) -> bool {
        self.config.endpoint_url().is_some()
    }

    pub fn s3(&self) -> aws_sdk_s3::Client {
        // LocalStack serves buckets by path (virtual-host names would need DNS); AWS keeps
        // its default, virtual-host names, which every bucket name works with.
        let config = aws_sdk_s3::config::Builder::from(&self.config)
            .force_path_style(self.is_custom_endpoint())
            .build();
        aws_sdk_s3::Client::from_conf(config)
    }

    pub fn cloudformation(&self) -> aws_sdk_cloudformation::Client {
        aws_sdk_cloudformation::Client::new(&self.config)
    }

    /// The error of an SDK call `operation` against this endpoint.
    pub(crate) fn aws_error(
        &self,
        operation: &str,
        error: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        Error::Aws {
            operation: operation.to_owned(),
            endpoint: self.endpoint.clone(),
            source: Box::new(error),
        }
    }
}

/// Full message of an SDK error (the Display of `SdkError` alone is just "service error"), to
/// tell one service error from another by its text.
pub(crate) fn sdk_message<E, R>(error: &aws_sdk_s3::error::SdkError<E, R>) -> String
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}
