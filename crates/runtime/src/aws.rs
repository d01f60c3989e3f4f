//! The AWS SDK configuration every function loads once, at init, and the HTTPS client all
//! its SDK clients share.

use crate::config;

/// Loads the AWS configuration once, at init: region, credentials and endpoint
/// (`AWS_ENDPOINT_URL` points every client at LocalStack) from the standard environment.
///
/// Every SDK client built from it shares one HTTPS client, whose trust store is the one
/// [`TrustStoreChoice`] picks: by default the Amazon Trust Services roots compiled in, instead
/// of the system store (a bundle and a folder of ~150 files read at init, then parsed again
/// for each SDK client).
///
/// Inside Lambda ([`LambdaEnvironment`]) the region and the credentials come from the
/// variables Lambda sets, and no profile file is looked for (a sandbox has none): the SDK's
/// default chains would otherwise probe `~/.aws/config` and build every credential provider
/// (web identity, ECS, IMDS, SSO) before reaching the environment's keys.
///
/// The configuration is loaded on the first call and kept for the process: later calls (a
/// function that builds its own clients, then [`crate::run_consumer`] building the
/// publisher's) get a copy of it, sharing its HTTPS client and credentials cache, instead of
/// running the loader again. The environment is read once, as Lambda sets it before `bootstrap`
/// starts.
pub async fn aws_config() -> aws_config::SdkConfig {
    static LOADED: tokio::sync::OnceCell<aws_config::SdkConfig> =
        tokio::sync::OnceCell::const_new();
    LOADED.get_or_init(load_aws_config).await.clone()
}

/// Starts the EventBridge client's endpoint tables on a thread of their own, when this process
/// publishes (`EVENTRAIL_BUS_NAME` is set), so that init goes on beside them.
///
/// Building an SDK client forces its crate's partition table: the SDK parses the embedded
/// `partitions.json` and compiles a region regex per partition, about 375,000 instructions,
/// a third of a publishing function's init (BENCHMARKS.md, section 7). Nothing of it depends
/// on the configuration, so it can run while this thread reads the declaration, sets up
/// logging and loads the configuration; the publisher's `Client::new` then finds it done (or
/// waits for the rest). All of it still happens at init, before the first event is asked for.
///
/// [`crate::run_consumer`] calls it first; a function that builds its EventBridge client in its
/// own `main` calls it first there. Later calls do nothing.
pub fn prepare_publisher_client() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    if std::env::var_os(config::BUS_NAME_VAR).is_none() {
        return;
    }
    STARTED.call_once(|| {
        // Should the thread not start, `Client::new` builds the tables itself, as before.
        let _ = std::thread::Builder::new()
            .name("sdk-endpoint-tables".to_owned())
            .spawn(|| drop(aws_sdk_eventbridge::config::endpoint::DefaultResolver::new()));
    });
}

/// Loads the configuration [`aws_config`] keeps.
async fn load_aws_config() -> aws_config::SdkConfig {
    // Every call is bounded, so no SDK call can outlive the invocation: a function's timeout
    // is 10 s by default, and publishing is also bounded by the invocation's deadline.
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_secs(2))
        .operation_attempt_timeout(std::time::Duration::from_secs(4))
        .operation_timeout(std::time::Duration::from_secs(8))
        .build();
    let lookup = |name: &str| std::env::var(name).ok();
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(timeouts)
        .http_client(http_client_with(&TrustStoreChoice::from_lookup(lookup)));
    if let Some(lambda) = LambdaEnvironment::from_lookup(|name| std::env::var(name).ok()) {
        loader = lambda.configure(loader);
    }
    loader.load().await
}

/// The roots every AWS endpoint's certificate chains to (Amazon Root CA 1-4 and Starfield
/// Services Root G2), compiled in: `certs/amazon-trust-services.pem`.
const AMAZON_TRUST_SERVICES: &str = include_str!("../certs/amazon-trust-services.pem");

/// Where the HTTPS client's trusted roots come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustStoreChoice {
    /// The Amazon Trust Services roots alone: AWS's own endpoints, or an endpoint over plain
    /// HTTP (LocalStack), need no other.
    AmazonTrustServices,
    /// `SSL_CERT_FILE` names a bundle: trust it alone, as OpenSSL would.
    Bundle(std::path::PathBuf),
    /// `AWS_ENDPOINT_URL` is an `https://` endpoint of someone else (a LocalStack with TLS, a
    /// proxy): the Amazon roots plus the system's bundle, found once.
    AmazonAndSystem,
}

impl TrustStoreChoice {
    /// Picks the trust store from `SSL_CERT_FILE` and `AWS_ENDPOINT_URL`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let set = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        if let Some(file) = set("SSL_CERT_FILE") {
            return Self::Bundle(file.trim().into());
        }
        match set("AWS_ENDPOINT_URL") {
            Some(url) if url.trim().to_ascii_lowercase().starts_with("https://") => {
                Self::AmazonAndSystem
            }
            _ => Self::AmazonTrustServices,
        }
    }

    /// The trusted roots, as PEM text (a bundle that cannot be read is left out, with a
    /// warning: connections it would have secured then fail and say so).
    fn pem(&self) -> Vec<u8> {
        let read = |path: &std::path::Path| match std::fs::read(path) {
            Ok(bytes) => Some(bytes),
            Err(error) => {
                tracing::warn!(file = %path.display(), %error, "cannot read the trusted roots bundle");
                None
            }
        };
        match self {
            Self::AmazonTrustServices => AMAZON_TRUST_SERVICES.as_bytes().to_vec(),
            Self::Bundle(path) => read(path).unwrap_or_default(),
            Self::AmazonAndSystem => {
                let mut pem = AMAZON_TRUST_SERVICES.as_bytes().to_vec();
                // Where Amazon Linux, Debian/Ubuntu and Alpine keep the system bundle.
                let system = [
                    "/etc/pki/tls/certs/ca-bundle.crt",
                    "/etc/ssl/certs/ca-certificates.crt",
                    "/etc/ssl/cert.pem",
                ]
                .iter()
                .map(std::path::Path::new)
                .find(|path| path.is_file());
                if let Some(bundle) = system.and_then(read) {
                    pem.push(b'\n');
                    pem.extend(bundle);
                }
                pem
            }
        }
    }
}

/// The HTTP client every SDK configuration of the project is built with (the SDK crates are
/// compiled without a default client): HTTPS through rustls with ring, trusting the roots
/// [`TrustStoreChoice::from_lookup`] picks from the environment, and plain HTTP for an
/// `http://` endpoint (LocalStack). Build it once per process, with the configuration.
///
/// ```
/// let config = aws_config::SdkConfig::builder()
///     .http_client(eventrail_runtime::http_client())
///     .build();
/// assert!(config.http_client().is_some());
/// ```
pub fn http_client() -> aws_sdk_sqs::config::SharedHttpClient {
    http_client_with(&TrustStoreChoice::from_lookup(|name| {
        std::env::var(name).ok()
    }))
}

/// The HTTPS client (rustls with ring) trusting `choice`'s roots.
fn http_client_with(choice: &TrustStoreChoice) -> aws_sdk_sqs::config::SharedHttpClient {
    aws_sdk_sqs::config::SharedHttpClient::new(ProbedOnce {
        inner: sdk_https_client(choice),
        // The compiled-in roots cannot fail to load (a unit test builds a client with them);
        // a bundle from the file system is checked once, when the first SDK client is built.
        probed: std::sync::atomic::AtomicBool::new(
            *choice == TrustStoreChoice::AmazonTrustServices,
        ),
    })
}

/// The SDK's HTTPS client, with one change: building an SDK client no longer builds a TLS
/// connector to throw away. The SDK's client does that in `validate_base_client_config`, for
/// every SDK client, so that a system trust store is read at init; each build parses the roots
/// and sets up a rustls configuration (about a third of a function's init instructions before
/// this change, `BENCHMARKS.md` section 7). The connector a request uses is built on the first
/// request either way, once per connector settings, and then cached by the shared client: the
/// first invocation does the same work as before, later ones none.
#[derive(Debug)]
struct ProbedOnce {
    inner: aws_sdk_sqs::config::SharedHttpClient,
    /// Whether the probe already ran (or is not needed).
    probed: std::sync::atomic::AtomicBool,
}

impl aws_sdk_sqs::config::HttpClient for ProbedOnce {
    fn http_connector(
        &self,
        settings: &aws_smithy_runtime_api::client::http::HttpConnectorSettings,
        components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
    ) -> aws_smithy_runtime_api::client::http::SharedHttpConnector {
        self.inner.http_connector(settings, components)
    }

    fn validate_base_client_config(
        &self,
        runtime_components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder,
        cfg: &aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        if self.probed.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return Ok(());
        }
        self.inner
            .validate_base_client_config(runtime_components, cfg)
    }

    fn validate_final_config(
        &self,
        runtime_components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        cfg: &aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        self.inner.validate_final_config(runtime_components, cfg)
    }

    fn connector_metadata(
        &self,
    ) -> Option<aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata> {
        self.inner.connector_metadata()
    }
}

/// The SDK's own HTTPS client trusting `choice`'s roots.
fn sdk_https_client(choice: &TrustStoreChoice) -> aws_sdk_sqs::config::SharedHttpClient {
    use aws_smithy_http_client::tls;
    let trust_store = tls::TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(choice.pem());
    let context = tls::TlsContext::builder()
        .with_trust_store(trust_store)
        .build()
        .unwrap_or_default();
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .tls_context(context)
        .build_https()
}

/// What Lambda's environment gives a function: when it is complete, the configuration is
/// built from it alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LambdaEnvironment {
    /// `AWS_REGION`.
    pub region: String,
}

impl LambdaEnvironment {
    /// `Some` inside Lambda (`AWS_LAMBDA_FUNCTION_NAME`) with `AWS_REGION` and the execution
    /// role's keys (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`) set, and no profile asked
    /// for (`AWS_PROFILE`, `AWS_CONFIG_FILE`, `AWS_SHARED_CREDENTIALS_FILE` unset): then
    /// nothing but the environment can configure the SDK.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Option<Self> {
        let set = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let inside_lambda = set(config::FUNCTION_NAME_VAR).is_some()
            && set("AWS_ACCESS_KEY_ID").is_some()
            && set("AWS_SECRET_ACCESS_KEY").is_some();
        let profile_asked = [
            "AWS_PROFILE",
            "AWS_CONFIG_FILE",
            "AWS_SHARED_CREDENTIALS_FILE",
        ]
        .iter()
        .any(|name| set(name).is_some());
        if !inside_lambda || profile_asked {
            return None;
        }
        Some(Self {
            region: set("AWS_REGION")?.trim().to_owned(),
        })
    }

    /// The loader with the region and the environment's credentials set, and an empty
    /// profile in place of the profile files.
    pub fn configure(self, loader: aws_config::ConfigLoader) -> aws_config::ConfigLoader {
        use aws_runtime::env_config::file::{EnvConfigFileKind, EnvConfigFiles};
        let no_profile_files = EnvConfigFiles::builder()
            .with_contents(EnvConfigFileKind::Config, "")
            .build();
        loader
            .region(aws_config::Region::new(self.region))
            .credentials_provider(
                aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
            )
            .profile_files(no_profile_files)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_lookup as lookup;

    const LAMBDA: &[(&str, &str)] = &[
        ("AWS_LAMBDA_FUNCTION_NAME", "gift-wrap"),
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ACCESS_KEY_ID", "AKID"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
    ];

    #[test]
    fn inside_lambda_the_environment_configures_the_sdk() {
        assert_eq!(
            LambdaEnvironment::from_lookup(lookup(LAMBDA)),
            Some(LambdaEnvironment {
                region: "eu-west-1".to_owned()
            })
        );
    }

    #[test]
    fn anything_missing_or_a_profile_keeps_the_default_chains() {
        for missing in LAMBDA.iter().map(|(name, _)| *name) {
            let partial: Vec<(&str, &str)> = LAMBDA
                .iter()
                .copied()
                .filter(|(n, _)| *n != missing)
                .collect();
            assert_eq!(
                LambdaEnvironment::from_lookup(lookup(&partial)),
                None,
                "without {missing}"
            );
        }
        let mut with_profile = LAMBDA.to_vec();
        with_profile.push(("AWS_PROFILE", "dev"));
        assert_eq!(LambdaEnvironment::from_lookup(lookup(&with_profile)), None);
    }

    #[test]
    fn the_trust_store_follows_the_endpoint_and_ssl_cert_file() {
        assert_eq!(
            TrustStoreChoice::from_lookup(lookup(&[])),
            TrustStoreChoice::AmazonTrustServices
        );
        assert_eq!(
            TrustStoreChoice::from_lookup(lookup(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")])),
            TrustStoreChoice::AmazonTrustServices
        );
        assert_eq!(
            TrustStoreChoice::from_lookup(lookup(&[(
                "AWS_ENDPOINT_URL",
                "HTTPS://localhost.localstack.cloud:4566"
            )])),
            TrustStoreChoice::AmazonAndSystem
        );
        assert_eq!(
            TrustStoreChoice::from_lookup(lookup(&[
                ("SSL_CERT_FILE", "/opt/roots.pem"),
                ("AWS_ENDPOINT_URL", "https://x"),
            ])),
            TrustStoreChoice::Bundle("/opt/roots.pem".into())
        );
    }

    #[test]
    fn the_compiled_in_roots_are_the_five_amazon_roots() {
        let pem = TrustStoreChoice::AmazonTrustServices.pem();
        let text = String::from_utf8(pem).unwrap();
        assert_eq!(text.matches("-----BEGIN CERTIFICATE-----").count(), 5);
        assert_eq!(text.matches("-----END CERTIFICATE-----").count(), 5);
    }

    fn probe(client: &dyn aws_sdk_sqs::config::HttpClient) {
        let components =
            aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder::new(
                "test",
            );
        let cfg = aws_smithy_types::config_bag::ConfigBag::base();
        client
            .validate_base_client_config(&components, &cfg)
            .unwrap();
    }

    /// Building a TLS connector parses the trust store (the SDK panics on a PEM it cannot
    /// read), so this checks the compiled-in file and the other choices, through the SDK's own
    /// probe; and SDK clients build on the wrapped client, for each choice.
    #[tokio::test]
    async fn every_trust_store_builds_a_connector_and_sdk_clients() {
        let bundle =
            std::env::temp_dir().join(format!("eventrail-roots-{}.pem", std::process::id()));
        std::fs::write(&bundle, AMAZON_TRUST_SERVICES).unwrap();
        for choice in [
            TrustStoreChoice::AmazonTrustServices,
            TrustStoreChoice::AmazonAndSystem,
            TrustStoreChoice::Bundle(bundle.clone()),
        ] {
            probe(&sdk_https_client(&choice));
            let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new("us-east-1"))
                .http_client(http_client_with(&choice))
                .load()
                .await;
            let _ = aws_sdk_sqs::Client::new(&config);
            let _ = aws_sdk_eventbridge::Client::new(&config);
        }
        let _ = std::fs::remove_file(&bundle);
    }

    /// Counts the SDK's probes (`validate_base_client_config`).
    #[derive(Debug, Default)]
    struct CountingClient(std::sync::Arc<std::sync::atomic::AtomicUsize>);

    impl aws_sdk_sqs::config::HttpClient for CountingClient {
        fn http_connector(
            &self,
            _: &aws_smithy_runtime_api::client::http::HttpConnectorSettings,
            _: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        ) -> aws_smithy_runtime_api::client::http::SharedHttpConnector {
            unreachable!("no request is sent")
        }

        fn validate_base_client_config(
            &self,
            _: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder,
            _: &aws_smithy_types::config_bag::ConfigBag,
        ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        }
    }

    #[test]
    fn a_bundle_is_probed_once_and_the_compiled_in_roots_never() {
        for (probed, expected) in [(false, 1), (true, 0)] {
            let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let client = ProbedOnce {
                inner: aws_sdk_sqs::config::SharedHttpClient::new(CountingClient(
                    std::sync::Arc::clone(&count),
                )),
                probed: std::sync::atomic::AtomicBool::new(probed),
            };
            for _ in 0..3 {
                probe(&client);
            }
            assert_eq!(
                count.load(std::sync::atomic::Ordering::SeqCst),
                expected,
                "probed already: {probed}"
            );
        }
    }

    #[tokio::test]
    async fn the_config_takes_the_region_and_keys_from_the_environment() {
        let loader = LambdaEnvironment {
            region: "eu-west-1".to_owned(),
        }
        .configure(aws_config::defaults(aws_config::BehaviorVersion::latest()));
        let config = loader.load().await;
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert!(config.credentials_provider().is_some());
    }
}
