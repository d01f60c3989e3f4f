"""eventrail's LocalStack 4.13.1 init hook (ready stage): CloudFormation updates of a Lambda alias.

The bug: LocalStack 4.13.1's AWS::Lambda::Alias resource provider cannot update an alias
(its `update` is not implemented). A function with a gradual rollout (SAM's
AutoPublishAlias) publishes a new version on each deploy that changes its code and moves its
alias there; on LocalStack the engine created the alias again instead ("Alias already
exists"), the update failed and its rollback deleted the alias.

This hook installs eventrail_executor.cfn_alias_update (the executor plugin package, installed
next to LocalStack): the provider's update calls UpdateAlias, as CloudFormation does on AWS.

It only patches LocalStack 4.13.1: on another version, or when what it patches is missing, it
logs an ERROR and raises, so LocalStack's log shows "Error while running script".

eventrail's LocalStack supervisor (crates/local) copies this file into
<FILESYSTEM_ROOT>/etc/localstack/init/ready.d/ before starting LocalStack. For a LocalStack
you run yourself in Docker, mount it at /etc/localstack/init/ready.d/ and install the
plugin package (infra/localstack-executor) into its Python environment.
"""
import logging

_log = logging.getLogger("eventrail.cfn_alias_update")

try:
    from eventrail_executor import cfn_alias_update as _cfn_alias_update

    _patched = _cfn_alias_update.install()
except Exception as _error:
    _log.error(
        "eventrail Lambda alias update patch NOT installed (a stack update that moves a "
        "function's alias to its new version fails with 'Alias already exists'): %s",
        _error,
    )
    raise
_log.info(
    "eventrail Lambda alias update patch installed: %s", ", ".join(_patched) or "already"
)
