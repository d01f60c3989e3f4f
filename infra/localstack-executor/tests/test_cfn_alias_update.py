"""CloudFormation updates of a Lambda alias (eventrail_executor.cfn_alias_update)."""

import unittest
from types import SimpleNamespace
from unittest import mock

import support  # noqa: F401 - puts the package source on sys.path

from eventrail_executor import cfn_alias_update


def request(lambda_client, **desired):
    state = {"FunctionName": "stack-nightly", "Name": "live", "FunctionVersion": "2"}
    state.update(desired)
    return SimpleNamespace(
        desired_state=state,
        previous_state=None,
        aws_client_factory=SimpleNamespace(lambda_=lambda_client),
        custom_context={},
    )


class UpstreamTest(unittest.TestCase):
    def test_the_unpatched_provider_cannot_update_an_alias(self):
        from localstack.services.lambda_.resource_providers.lambda_alias import (
            LambdaAliasProvider,
        )

        upstream = getattr(
            LambdaAliasProvider.update, cfn_alias_update._MARK, LambdaAliasProvider.update
        )
        with self.assertRaises(NotImplementedError):
            upstream(LambdaAliasProvider(), request(mock.Mock()))


class ClientError(Exception):
    """What boto raises: the error's code in ``response``."""

    def __init__(self, code):
        super().__init__(code)
        self.response = {"Error": {"Code": code}}


class PatchedTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cfn_alias_update.install()

    def test_install_twice_patches_nothing_more(self):
        self.assertEqual(cfn_alias_update.install(), [])

    def test_another_localstack_version_is_refused_loudly(self):
        from localstack import version

        with mock.patch.object(version, "version", "4.14.0"):
            with self.assertRaises(cfn_alias_update.InstallError):
                cfn_alias_update.install()

    def test_an_update_moves_the_alias_and_clears_its_weights(self):
        from localstack.services.cloudformation.resource_provider import OperationStatus
        from localstack.services.lambda_.resource_providers.lambda_alias import (
            LambdaAliasProvider,
        )

        client = mock.Mock()
        arn = "arn:aws:lambda:us-east-1:000000000000:function:stack-nightly:live"
        client.update_alias.return_value = {"AliasArn": arn}
        event = LambdaAliasProvider().update(request(client))
        client.update_alias.assert_called_once_with(
            FunctionName="stack-nightly",
            Name="live",
            FunctionVersion="2",
            RoutingConfig={"AdditionalVersionWeights": {}},
        )
        client.create_alias.assert_not_called()
        self.assertEqual(event.status, OperationStatus.SUCCESS)
        self.assertEqual(event.resource_model["Id"], arn)

    def test_weights_and_description_are_passed_as_the_api_takes_them(self):
        from localstack.services.lambda_.resource_providers.lambda_alias import (
            LambdaAliasProvider,
        )

        client = mock.Mock()
        client.update_alias.return_value = {"AliasArn": "arn"}
        LambdaAliasProvider().update(
            request(
                client,
                Description="canary",
                RoutingConfig={
                    "AdditionalVersionWeights": [{"FunctionVersion": "1", "FunctionWeight": 0.9}]
                },
            )
        )
        kwargs = client.update_alias.call_args.kwargs
        self.assertEqual(kwargs["RoutingConfig"], {"AdditionalVersionWeights": {"1": 0.9}})
        self.assertEqual(kwargs["Description"], "canary")


    def test_creating_an_alias_that_exists_moves_it_instead(self):
        # LocalStack replaces the alias when its function changed (FunctionName is create-only
        # and a reference); AWS updates it in place.
        from localstack.services.cloudformation.resource_provider import OperationStatus
        from localstack.services.lambda_.resource_providers.lambda_alias import (
            LambdaAliasProvider,
        )

        client = mock.Mock()
        client.create_alias.side_effect = ClientError("ResourceConflictException")
        client.update_alias.return_value = {"AliasArn": "arn:live"}
        event = LambdaAliasProvider().create(request(client))
        self.assertEqual(event.status, OperationStatus.SUCCESS)
        self.assertEqual(client.update_alias.call_args.kwargs["FunctionVersion"], "2")
        self.assertEqual(event.resource_model["Id"], "arn:live")
        client.create_alias.side_effect = ClientError("InvalidParameterValueException")
        with self.assertRaises(ClientError):
            LambdaAliasProvider().create(request(client))

    def test_the_replacements_clean_up_leaves_the_moved_alias(self):
        from localstack.services.lambda_.resource_providers.lambda_alias import (
            LambdaAliasProvider,
        )

        client = mock.Mock()
        client.get_alias.return_value = {"FunctionVersion": "2"}
        LambdaAliasProvider().delete(request(client, FunctionVersion="1"))
        client.delete_alias.assert_not_called()
        # The alias on the version being removed (a stack deletion) goes.
        LambdaAliasProvider().delete(request(client, FunctionVersion="2"))
        client.delete_alias.assert_called_once_with(FunctionName="stack-nightly", Name="live")


if __name__ == "__main__":
    unittest.main()
