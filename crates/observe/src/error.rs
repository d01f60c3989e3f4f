//! Errors of the observer.

use std::path::PathBuf;

/// Everything that can go wrong while watching a stack. Each message names the place and
/// says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    /// The environment does not say where LocalStack and the stack are.
    #[error(
        "{variable} is not set: end-to-end tests need a running LocalStack with the stack deployed. \
         Run `cargo xtask test` (it starts LocalStack, deploys, and sets EVENTRAIL_ENDPOINT and \
         EVENTRAIL_STACK_OUTPUTS), or set both variables yourself"
    )]
    MissingEnvironment {
        /// The variable that is missing.
        variable: &'static str,
    },

    /// The stack outputs file cannot be read or has an unexpected shape.
    #[error("stack outputs file {path}: {message}")]
    OutputsFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },

    /// A dead letter points at a stored event that cannot be read.
    #[error(
        "the failed event stored at s3://{bucket}/{key} cannot be read: {message}; check the \
         bucket (stack output FailedEventsBucketName) and your s3:GetObject permission"
    )]
    StoredEvent {
        /// The bucket.
        bucket: String,
        /// The object key.
        key: String,
        /// Why.
        message: String,
    },

    /// The application's settings or declarations cannot be read.
    #[error("the application's declarations: {message}")]
    Project {
        /// What is wrong.
        message: String,
    },

    /// A stack output the observer needs is missing.
    #[error(
        "the stack has no output `{key}` (outputs present: {present}); redeploy infra/template.yaml or check its Outputs section"
    )]
    MissingOutput {
        /// The output key.
        key: String,
        /// The keys that are present, comma-separated.
        present: String,
    },

    /// A call to AWS (LocalStack) failed.
    #[error("AWS {operation} failed ({target}): {message}")]
    Aws {
        /// The API operation, e.g. `sqs:ReceiveMessage`.
        operation: &'static str,
        /// The resource it was called on.
        target: String,
        /// The SDK's error, with its context.
        message: String,
    },

    /// A function answered a direct invoke with an error.
    #[error("function {function} failed: {error_type}: {message}")]
    FunctionError {
        /// The function name.
        function: String,
        /// `errorType` of the answer.
        error_type: String,
        /// `errorMessage` of the answer.
        message: String,
    },

    /// Something read from AWS did not decode.
    #[error("cannot decode {what}: {message}")]
    Decode {
        /// What was being decoded (names the queue or function).
        what: String,
        /// Why.
        message: String,
    },

    /// CloudFormation does not know the stack.
    #[error(
        "stack `{stack}` not found in region {region}{at}: deploy it first (`sam deploy`, or \
         `eventrail local deploy` for LocalStack), or name another with --stack / --env / --region"
    )]
    StackNotFound {
        /// The stack name.
        stack: String,
        /// The region asked.
        region: String,
        /// ` at <endpoint>` when an endpoint was set, else empty.
        at: String,
    },

    /// The SDK found no credentials.
    #[error(
        "no AWS credentials for {operation}: {message}. Configure them (`aws configure`, \
         AWS_PROFILE or --profile, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY); for LocalStack set \
         EVENTRAIL_ENDPOINT (any credentials are accepted then)"
    )]
    NoCredentials {
        /// The call that needed them.
        operation: &'static str,
        /// The SDK's message.
        message: String,
    },

    /// A function name the application does not declare.
    #[error("no function `{name}` in this application (functions: {known})")]
    UnknownFunction {
        /// The name given.
        name: String,
        /// The declared functions, comma-separated.
        known: String,
    },

    /// The application declares no demo.
    #[error(
        "the application at {root} declares no demo: add `demo = \"<file>\"` to \
         [workspace.metadata.eventrail] in its Cargo.toml, naming its demo declaration"
    )]
    NoDemo {
        /// The application's root.
        root: PathBuf,
    },

    /// The demo declaration, or a sample it names, cannot be read.
    #[error("cannot read {path} (the application's demo)")]
    DemoRead {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },

    /// The demo declaration, or a sample it names, is not what the demo expects.
    #[error("{path} is not a valid part of the application's demo")]
    DemoInvalid {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },

    /// The answer of the function a demo flow invokes does not name the flow.
    #[error(
        "the answer of function {function} has no string at {pointer} (the demo declaration's \
         `answer`): {answer}"
    )]
    DemoAnswer {
        /// The function invoked.
        function: String,
        /// The JSON pointer the declaration gives.
        pointer: String,
        /// The answer.
        answer: String,
    },

    /// An input the caller gave is not usable.
    #[error("{0}")]
    Invalid(String),

    /// A wait did not reach its goal before the deadline.
    #[error("timed out after {seconds} s waiting for {waiting_for}; observed so far:\n{observed}")]
    Timeout {
        /// What was awaited.
        waiting_for: String,
        /// The deadline.
        seconds: u64,
        /// What was observed (rendered for people).
        observed: String,
    },
}

/// Result of the observer.
pub type Result<T, E = ObserveError> = std::result::Result<T, E>;

/// Turns an SDK error into [`ObserveError::Aws`].
pub(crate) fn aws<E>(
    operation: &'static str,
    target: impl Into<String>,
) -> impl FnOnce(E) -> ObserveError
where
    E: std::error::Error + 'static,
{
    let target = target.into();
    move |error| {
        let message = error_chain(&error);
        if message.contains("no credentials")
            || message.contains("loading credentials")
            || message.contains("NoCredentials")
            || message.contains("credentials provider")
        {
            return ObserveError::NoCredentials { operation, message };
        }
        ObserveError::Aws {
            operation,
            target,
            message,
        }
    }
}

/// The error and its sources, joined by `: ` (SDK errors hide the useful part in sources).
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let line = cause.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        source = cause.source();
    }
    text
}
