"""The plux plugin LocalStack finds through the ``localstack.lambda.runtime_executor`` entry point."""

from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin

from eventrail_executor import PLUGIN_NAME


class EventrailExecutorPlugin(RuntimeExecutorPlugin):
    name = PLUGIN_NAME

    def load(self, *args, **kwargs):
        from eventrail_executor.executor import ProcessRuntimeExecutor

        return ProcessRuntimeExecutor
