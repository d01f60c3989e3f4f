"""UpdateStack of a SAM template whose references only the transform untangles (eventrail_executor.cfn_cycles)."""

import copy
import unittest
from types import SimpleNamespace
from unittest import mock

import support  # noqa: F401 - puts the package source on sys.path

from eventrail_executor import cfn_cycles

# The shape of the shop's scheduled function: the function's ScheduleV2 event names an explicit
# role, whose policy names the function. Valid on AWS: the SAM transform leaves no cycle.
SCHEDULED_FUNCTION = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Transform": "AWS::Serverless-2016-10-31",
    "Resources": {
        "Nightly": {
            "Type": "AWS::Serverless::Function",
            "Properties": {
                "Handler": "bootstrap",
                "Runtime": "provided.al2023",
                "CodeUri": "s3://bucket/nightly.zip",
                "Events": {
                    "Scheduler": {
                        "Type": "ScheduleV2",
                        "Properties": {
                            "ScheduleExpression": "rate(1 minute)",
                            "RoleArn": {"Fn::GetAtt": ["NightlyScheduleRole", "Arn"]},
                        },
                    }
                },
            },
        },
        "NightlyScheduleRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []},
                "Policies": [
                    {
                        "PolicyName": "nightly-schedule",
                        "PolicyDocument": {
                            "Version": "2012-10-17",
                            "Statement": [
                                {
                                    "Effect": "Allow",
                                    "Action": "lambda:InvokeFunction",
                                    "Resource": {"Fn::GetAtt": ["Nightly", "Arn"]},
                                }
                            ],
                        },
                    }
                ],
            },
        },
        "Unrelated": {"Type": "AWS::SQS::Queue", "Properties": {}},
        "UnrelatedAlarm": {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {"Dimensions": [{"Name": "QueueName", "Value": {"Ref": "Unrelated"}}]},
        },
    },
}


def model_update(before, after):
    """Models an update of a stack deployed from `before` to `after`, as UpdateStack does first."""
    from localstack.services.cloudformation.engine.v2.change_set_model import ChangeSetModel

    return ChangeSetModel(
        before_template=before, after_template=after, before_parameters={}, after_parameters={}
    )


def resource_node(model, name):
    """The modelled resource `name` of a ChangeSetModel's template."""
    update = model.get_update_model()
    nodes = {node.name: node for node in update.node_template.resources.resources}
    return nodes[name]


class UpstreamTest(unittest.TestCase):
    """What the patch fixes, shown on LocalStack 4.13.1's own model, unpatched."""

    def test_unpatched_engine_recurses_on_an_update_of_the_scheduled_function(self):
        from localstack.services.cloudformation.engine.v2.change_set_model import ChangeSetModel

        upstream = {
            name: getattr(method, cfn_cycles._MARK, method)
            for name, method in (
                (name, ChangeSetModel.__dict__[name]) for name in cfn_cycles._PATCHED
            )
        }
        with mock.patch.multiple(ChangeSetModel, **upstream):
            with self.assertRaises(RecursionError):
                model_update(SCHEDULED_FUNCTION, copy.deepcopy(SCHEDULED_FUNCTION))


class PatchedTest(unittest.TestCase):
    """Against the LocalStack 4.13.1 the tests run with (the venv's), patched."""

    @classmethod
    def setUpClass(cls):
        cfn_cycles.install()

    def test_install_twice_patches_nothing_more(self):
        self.assertEqual(cfn_cycles.install(), [])

    def test_another_localstack_version_is_refused_loudly(self):
        from localstack import version

        with mock.patch.object(version, "version", "4.14.0"):
            with self.assertRaisesRegex(cfn_cycles.InstallError, "4.13.1, this is 4.14.0"):
                cfn_cycles.install()

    def test_an_unchanged_update_of_the_scheduled_function_is_modelled_unchanged(self):
        from localstack.services.cloudformation.engine.v2.change_set_model import ChangeType

        model = model_update(SCHEDULED_FUNCTION, copy.deepcopy(SCHEDULED_FUNCTION))
        for name in SCHEDULED_FUNCTION["Resources"]:
            self.assertEqual(resource_node(model, name).change_type, ChangeType.UNCHANGED, name)

    def test_a_change_on_the_cycle_is_still_seen(self):
        from localstack.services.cloudformation.engine.v2.change_set_model import ChangeType

        after = copy.deepcopy(SCHEDULED_FUNCTION)
        events = after["Resources"]["Nightly"]["Properties"]["Events"]
        events["Scheduler"]["Properties"]["ScheduleExpression"] = "rate(5 minutes)"
        model = model_update(SCHEDULED_FUNCTION, after)
        self.assertEqual(resource_node(model, "Nightly").change_type, ChangeType.MODIFIED)
        self.assertEqual(
            resource_node(model, "NightlyScheduleRole").change_type, ChangeType.UNCHANGED
        )

    def test_a_reference_outside_a_cycle_still_follows_the_resource_it_names(self):
        from localstack.services.cloudformation.engine.v2.change_set_model import ChangeType

        after = copy.deepcopy(SCHEDULED_FUNCTION)
        after["Resources"]["Unrelated"]["Properties"]["DelaySeconds"] = 5
        model = model_update(SCHEDULED_FUNCTION, after)
        self.assertEqual(resource_node(model, "Unrelated").change_type, ChangeType.MODIFIED)
        # The alarm's Ref to the modified queue makes the alarm modified, as upstream does.
        self.assertEqual(resource_node(model, "UnrelatedAlarm").change_type, ChangeType.MODIFIED)

    def test_the_arguments_name_the_resource_they_refer_to(self):
        get_att = SimpleNamespace(array=[SimpleNamespace(value="Nightly"), SimpleNamespace(value="Arn")])
        self.assertEqual(
            cfn_cycles.referenced_resource("_resolve_intrinsic_function_fn_get_att", get_att),
            "Nightly",
        )
        self.assertEqual(
            cfn_cycles.referenced_resource(
                "_resolve_intrinsic_function_ref", SimpleNamespace(value="Unrelated")
            ),
            "Unrelated",
        )
        self.assertIsNone(
            cfn_cycles.referenced_resource(
                "_resolve_intrinsic_function_fn_get_att", SimpleNamespace(array=[])
            )
        )


if __name__ == "__main__":
    unittest.main()
