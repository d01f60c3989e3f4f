"""eventrail's LocalStack 4.13.1 init hook (ready stage): deleting a stack whose creation failed.

The bug: deleting a stack in ROLLBACK_COMPLETE asks the provider of the resource that failed
to be created to delete it. A Lambda function refused at creation has no FunctionName, the
provider raises, the stack ends in DELETE_FAILED and creating it again is refused ("already
exists"): after a failed first deploy, fixing the template and deploying again failed. On AWS
such a resource has no physical resource and the deletion goes through.

This hook installs eventrail_executor.cfn_never_created (the executor plugin package,
installed next to LocalStack): the removal of a resource the stack holds no physical id for
succeeds without calling its provider.

What happens on another LocalStack version, and how this file reaches LocalStack: see
eventrail_executor.ready_hook.
"""
from eventrail_executor.ready_hook import install_patch

install_patch(
    "cfn_never_created",
    "never-created resource deletion",
    "a stack whose creation failed cannot be deleted",
)
