//! Finding a deployed stack the way the operating commands do: the standard SDK
//! configuration (profile, region, endpoint, credentials) and the stack's CloudFormation
//! outputs, so one code path serves AWS and LocalStack.

use std::collections::BTreeMap;

use eventrail_contract::Project;

use crate::aws::Clients;
use crate::error::{ObserveError, Result, aws};
use crate::outputs::StackOutputs;
use crate::stack::Stack;

/// Where to reach AWS: what the user said, on top of the SDK's standard chain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Connection {
    /// A named profile (`--profile`); else the chain's (`AWS_PROFILE`, `default`).
    pub profile: Option<String>,
    /// A region (`--region`); else the chain's; else `fallback_region`.
    pub region: Option<String>,
    /// An endpoint (LocalStack; `EVENTRAIL_ENDPOINT`); else the chain's (`AWS_ENDPOINT_URL`).
    pub endpoint: Option<String>,
}

impl Connection {
    /// The SDK configuration: the standard chain with this connection's overrides. Against
    /// an endpoint of our own (LocalStack) without any configured credentials, LocalStack's
    /// `test` credentials are used, so a developer's real profile is never needed there.
    /// The region is `region`, else `AWS_REGION`/`AWS_DEFAULT_REGION`, else the profile's,
    /// else `fallback_region` (the instance metadata service is never asked).
    pub async fn sdk_config(&self, fallback_region: Option<&str>) -> aws_config::SdkConfig {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .http_client(eventrail_runtime::http_client());
        if let Some(profile) = &self.profile {
            loader = loader.profile_name(profile);
        }
        let from_env = ["AWS_REGION", "AWS_DEFAULT_REGION"]
            .iter()
            .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()));
        let region = match self.region.clone().or(from_env) {
            Some(region) => Some(region),
            None => {
                let mut provider = aws_config::profile::ProfileFileRegionProvider::builder();
                if let Some(profile) = &self.profile {
                    provider = provider.profile_name(profile);
                }
                use aws_config::meta::region::ProvideRegion as _;
                provider
                    .build()
                    .region()
                    .await
                    .map(|r| r.as_ref().to_owned())
                    .or_else(|| fallback_region.map(str::to_owned))
            }
        };
        if let Some(region) = region {
            loader = loader.region(aws_config::Region::new(region));
        }
        if let Some(endpoint) = &self.endpoint {
            loader = loader.endpoint_url(endpoint.trim_end_matches('/'));
            let configured = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
            if self.profile.is_none()
                && !configured("AWS_ACCESS_KEY_ID")
                && !configured("AWS_PROFILE")
            {
                loader = loader.credentials_provider(aws_sdk_sqs::config::Credentials::new(
                    "test",
                    "test",
                    None,
                    None,
                    "eventrail-localstack",
                ));
            }
        }
        loader.load().await
    }
}

/// Reads a stack's outputs from CloudFormation; the errors say when the stack does not
/// exist or no credentials were found.
pub async fn stack_outputs(config: &aws_config::SdkConfig, stack: &str) -> Result<StackOutputs> {
    let cloudformation = aws_sdk_cloudformation::Client::new(config);
    let region = config
        .region()
        .map(|r| r.as_ref().to_owned())
        .unwrap_or_default();
    let answer = cloudformation
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await;
    let not_found = || ObserveError::StackNotFound {
        stack: stack.to_owned(),
        region: region.clone(),
        at: config
            .endpoint_url()
            .map(|e| format!(" at {e}"))
            .unwrap_or_default(),
    };
    let output = match answer {
        Ok(output) => output,
        Err(error) => {
            let missing = error
                .as_service_error()
                .and_then(|e| e.meta().message())
                .is_some_and(|m| m.contains("does not exist"));
            return Err(if missing {
                not_found()
            } else {
                aws("cloudformation:DescribeStacks", stack)(error)
            });
        }
    };
    let described = output.stacks().first().ok_or_else(not_found)?;
    let outputs: BTreeMap<String, String> = described
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
        .collect();
    Ok(StackOutputs {
        stack_name: Some(stack.to_owned()),
        region: Some(region),
        endpoint: config.endpoint_url().map(str::to_owned),
        ..StackOutputs::from_map(outputs)
    })
}

impl Stack {
    /// The deployed stack `stack`, found through `connection`, with the application's
    /// declarations (function names, source prefix) from `project`.
    pub async fn deployed(
        connection: &Connection,
        fallback_region: Option<&str>,
        stack: &str,
        project: &Project,
    ) -> Result<Self> {
        let config = connection.sdk_config(fallback_region).await;
        let outputs = stack_outputs(&config, stack).await?.with_project(project)?;
        Ok(Self {
            clients: Clients::from_sdk_config(config),
            outputs,
        })
    }
}
