"""IAM enforcement for the local stack (LocalStack 4.13.1, free edition).

LocalStack's free edition stores roles and policies but authorises nothing, so a function
whose role lacks a permission passes every local test and fails on AWS. This package makes
every AWS call a function makes on LocalStack pass through AWS's policy evaluation first:

* ``principals``: which role a request comes from (the executor registers each function
  process's credentials when it starts it);
* ``requests``: the IAM action, resource ARN and condition keys of a parsed service request;
* ``policies``: the role's identity policies and the resource's policy, read from LocalStack's
  stores at the time of the call (a policy changed after the deploy applies to the next call);
* ``evaluator``: a warm Node process running @cloud-copilot/iam-simulate (every condition
  operator, set operators, resource policies, explicit denies);
* ``denials``: every denied call, kept with the principal, action, resource and the
  statement that would have allowed it, served at ``/_eventrail/iam/denials``;
* ``enforce``: the gateway handler that ties them together, installed by the ready.d hook.
"""
