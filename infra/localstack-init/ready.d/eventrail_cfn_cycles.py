"""eventrail's LocalStack 4.13.1 init hook (ready stage): UpdateStack of a SAM template with references that only the transform untangles.

The bug: LocalStack 4.13.1's CloudFormation engine models a stack update's *untransformed*
template and follows every Fn::GetAtt / Ref into the resource it names, without remembering a
resource until its visit ends. The shop's stock-count function names its schedule's role
(Events.Scheduler.Properties.RoleArn: !GetAtt StockCountScheduleRole.Arn) and that role's
policy names the function (!GetAtt StockCount.Arn): valid on AWS (the SAM transform leaves no
cycle), but UpdateStack recursed until Python's limit and answered 500 "maximum recursion
depth exceeded while calling a Python object", so a second `eventrail local deploy` (or
`demo --keep`) failed. CreateStack was not affected.

This hook installs eventrail_executor.cfn_cycles (the executor plugin package, installed next
to LocalStack): a reference back to a resource whose visit is under way takes the reference's
own change type instead of visiting it again. Templates without such references are modelled
as before.

It only patches LocalStack 4.13.1: on another version, or when a method it patches is
missing, it logs an ERROR and raises, so LocalStack's log shows "Error while running script".

eventrail's LocalStack supervisor (crates/local) copies this file into
<FILESYSTEM_ROOT>/etc/localstack/init/ready.d/ before starting LocalStack. For a LocalStack
you run yourself in Docker, mount it at /etc/localstack/init/ready.d/ and install the
plugin package (infra/localstack-executor) into its Python environment.
"""
import logging

_log = logging.getLogger("eventrail.cfn_cycles")

try:
    from eventrail_executor import cfn_cycles as _cfn_cycles

    _patched = _cfn_cycles.install()
except Exception as _error:
    _log.error(
        "eventrail CloudFormation reference cycle patch NOT installed (updating a stack whose "
        "untransformed template has a reference cycle fails with a RecursionError): %s",
        _error,
    )
    raise
_log.info(
    "eventrail CloudFormation reference cycle patch installed: %s", ", ".join(_patched) or "already"
)
