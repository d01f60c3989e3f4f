"""LocalStack Lambda runtime executor that runs functions as local processes.

LocalStack normally runs Lambda code in Docker containers. This package provides an
executor plugin (entry-point namespace ``localstack.lambda.runtime_executor``, name
``eventrail``; select it with ``LAMBDA_RUNTIME_EXECUTOR=eventrail``) that starts the
function's ``bootstrap`` executable as a child process and serves the Lambda Runtime API
to it on a loopback port.

``runtime_api`` is independent of LocalStack; ``executor`` adapts it to LocalStack's
``RuntimeExecutor`` interface.
"""

PLUGIN_NAME = "eventrail"
