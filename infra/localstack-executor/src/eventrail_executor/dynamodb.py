"""DynamoDB for LocalStack without DynamoDB Local.

LocalStack's own DynamoDB provider forwards every call to DynamoDB Local, a Java jar whose
licence is not open source and which cannot be downloaded here. This provider (entry point
``dynamodb:eventrail`` in ``localstack.aws.provider``; select it with
``PROVIDER_OVERRIDE_DYNAMODB=eventrail``) implements no operation itself, so every call falls
through to moto's DynamoDB backend, which LocalStack already ships (the ``moto-ext`` package).
CloudFormation's ``AWS::DynamoDB::Table`` provider and the functions then reach it through the
ordinary LocalStack endpoint, as on AWS.

Calls are serialised with one lock: moto checks a ``ConditionExpression`` and writes the item
in separate Python steps, so two concurrent conditional writes could otherwise both succeed,
which real DynamoDB never allows. DynamoDB's single-item conditional writes are atomic; the
lock gives the emulator the same property (at the cost of throughput nobody needs locally).
"""

import threading

from localstack.aws.api.dynamodb import DynamodbApi
from localstack.services.plugins import Service, aws_provider

PROVIDER_NAME = "eventrail"

_LOCK = threading.Lock()


class MotoDynamoDBProvider(DynamodbApi):
    """Implements nothing: every operation raises NotImplementedError and falls through to moto."""


def _serialised(table):
    def wrap(handler):
        def call(context, request):
            with _LOCK:
                return handler(context, request)

        return call

    for operation, handler in list(table.items()):
        table[operation] = wrap(handler)
    return table


@aws_provider(api="dynamodb", name=PROVIDER_NAME)
def dynamodb_moto():
    from localstack.services.moto import MotoFallbackDispatcher

    return Service.for_provider(
        MotoDynamoDBProvider(),
        dispatch_table_factory=lambda provider: _serialised(MotoFallbackDispatcher(provider)),
    )
