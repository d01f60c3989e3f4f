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

What happens on another LocalStack version, and how this file reaches LocalStack: see
eventrail_executor.ready_hook.
"""
from eventrail_executor.ready_hook import install_patch

install_patch(
    "cfn_cycles",
    "CloudFormation reference cycle",
    "updating a stack whose untransformed template has a reference cycle fails with a "
    "RecursionError",
)
