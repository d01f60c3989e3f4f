"""eventrail's LocalStack 4.13.1 init hook (ready stage): CloudFormation updates of a Lambda alias.

The bug: LocalStack 4.13.1's AWS::Lambda::Alias resource provider cannot update an alias
(its `update` is not implemented). A function with a gradual rollout (SAM's
AutoPublishAlias) publishes a new version on each deploy that changes its code and moves its
alias there; on LocalStack the engine created the alias again instead ("Alias already
exists"), the update failed and its rollback deleted the alias.

This hook installs eventrail_executor.cfn_alias_update (the executor plugin package, installed
next to LocalStack): the provider's update calls UpdateAlias, as CloudFormation does on AWS.

What happens on another LocalStack version, and how this file reaches LocalStack: see
eventrail_executor.ready_hook.
"""
from eventrail_executor.ready_hook import install_patch

install_patch(
    "cfn_alias_update",
    "Lambda alias update",
    "a stack update that moves a function's alias to its new version fails with "
    "'Alias already exists'",
)
