"""eventrail's LocalStack 4.13.1 init hook (ready stage): enforce IAM on the functions' calls.

LocalStack's free edition stores IAM roles and policies but authorises nothing. This hook
installs eventrail's gateway handler (``eventrail_executor.iam.enforce``, shipped with the
executor plugin): every AWS call a function makes is evaluated against its role's policies
and the resource's policy as they stand at the time of the call, and a denied call fails with
AccessDenied as on AWS. Denials are served at ``/_eventrail/iam/denials``
(`eventrail local denials`). ``EVENTRAIL_IAM=off`` turns enforcement off, with a warning.

Written for LocalStack 4.13.1 (``localstack.aws.handlers.serve_custom_service_request_handlers``
and ``localstack.services.edge.ROUTER``); eventrail's LocalStack supervisor copies this file
into ``<FILESYSTEM_ROOT>/etc/localstack/init/ready.d/``.
"""
from localstack import version as _version

from eventrail_executor.iam import enforce

if _version.__version__ != "4.13.1":
    raise RuntimeError(
        f"eventrail's IAM hook is written for LocalStack 4.13.1, not {_version.__version__}"
    )

enforce.install()
