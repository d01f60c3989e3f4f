"""The gateway handler that authorises every function call, and its HTTP routes.

Installed by ``infra/localstack-init/ready.d/eventrail_iam.py`` into LocalStack 4.13.1's
``serve_custom_service_request_handlers`` (the chain's extension point that runs after the
service request is parsed and before the provider is called), so a denied call never reaches
the service, as on AWS.

``EVENTRAIL_IAM=off`` (set by `eventrail` when asked to turn enforcement off) leaves the
handler out; LocalStack's log says so.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from eventrail_executor.iam import lambda_logs, principals
from eventrail_executor.iam.denials import DenialLog, access_denied_message, allowing_statement
from eventrail_executor.iam.evaluator import Evaluator, EvaluatorUnavailable, Verdict
from eventrail_executor.iam.policies import RoleNotFound, identity_policies, resource_policy
from eventrail_executor.iam.requests import Call, Question, questions

LOG = logging.getLogger(__name__)

MODE_VARIABLE = "EVENTRAIL_IAM"
ENFORCE = "enforce"
OFF = "off"

DENIALS = DenialLog()
EVALUATOR = Evaluator()

# The error AWS returns for a denied call, per service: (code, HTTP status).
_ACCESS_DENIED = {
    "events": ("AccessDeniedException", 400),
    "dynamodb": ("AccessDeniedException", 400),
    "lambda": ("AccessDeniedException", 403),
    "logs": ("AccessDeniedException", 400),
    "sqs": ("AccessDenied", 403),
    "s3": ("AccessDenied", 403),
}


def mode() -> str:
    value = os.environ.get(MODE_VARIABLE, ENFORCE).strip().lower()
    return OFF if value in (OFF, "0", "false", "no") else ENFORCE


def _access_key(context) -> str | None:
    from localstack.utils.aws.request_context import extract_access_key_id_from_auth_header

    try:
        return extract_access_key_id_from_auth_header(context.request.headers)
    except Exception:
        return None


def simulation(principal: principals.FunctionPrincipal, question: Question, call: Call) -> dict[str, Any]:
    """The iam-simulate input for one question, with the policies as they stand now."""
    identity = identity_policies(principal.account_id, call.partition, principal.role_name)
    resource_account = principal.account_id
    parts = question.resource.split(":", 5)
    if len(parts) == 6 and parts[4].isdigit():
        resource_account = parts[4]
    context: dict[str, Any] = {
        "aws:PrincipalArn": principal.role_arn,
        "aws:PrincipalAccount": principal.account_id,
        "aws:PrincipalType": "AssumedRole",
        "aws:SecureTransport": "true",  # the SDK talks HTTPS to AWS
        "aws:RequestedRegion": call.region,
    }
    context.update(question.context)
    document: dict[str, Any] = {
        "identityPolicies": [{"name": p.name, "policy": p.document} for p in identity],
        "serviceControlPolicies": [],
        "resourceControlPolicies": [],
        "request": {
            "action": question.action,
            "principal": principal.session_arn,
            "resource": {"accountId": resource_account, "resource": question.resource},
            "contextVariables": context,
        },
    }
    policy = resource_policy(call.service, question.resource, principal.account_id, call.region)
    if policy is not None:
        document["resourcePolicy"] = policy
    return document


def authorise(principal: principals.FunctionPrincipal, call: Call) -> list[dict[str, Any]]:
    """The denials of ``call`` (empty: allowed). Each denial is recorded."""
    out = []
    for question in questions(call):
        try:
            verdict = EVALUATOR.evaluate(simulation(principal, question, call))
        except RoleNotFound as e:
            verdict = Verdict(result="ImplicitlyDenied", error=str(e))
        except EvaluatorUnavailable as e:
            verdict = Verdict(result="EvaluationFailed", error=str(e))
        if verdict.allowed:
            continue
        decision = verdict.result if verdict.result in ("ImplicitlyDenied", "ExplicitlyDenied") else "EvaluationFailed"
        policy_kind = "resource-based"
        if any(s.get("policy") != "resource" for s in verdict.deny_statements):
            policy_kind = "identity-based"
        message = access_denied_message(
            principal.session_arn, question.action, question.resource, decision, policy_kind
        )
        if verdict.error:
            message += f" ({verdict.error})"
        if question.resource_note:
            message += f" (resource: {question.resource_note})"
        nearest = [
            s
            for s in verdict.unmatched_identity + verdict.unmatched_resource
            if s.get("actionMatch") and s.get("statement", {}).get("Effect") == "Allow"
        ]
        denial = DENIALS.add(
            function=principal.function_name,
            role_arn=principal.role_arn,
            principal=principal.session_arn,
            action=question.action,
            resource=question.resource,
            decision=decision,
            message=message,
            context=dict(question.context),
            deny_statements=verdict.deny_statements,
            nearest=nearest,
            allowing_statement=None
            if decision == "ExplicitlyDenied"
            else allowing_statement(question.action, question.resource, question.context),
        )
        LOG.warning("eventrail IAM: denied (#%s, function %s): %s", denial.id, principal.function_name, message)
        out.append(denial.to_json())
    return out


def handle(chain, context, response) -> None:
    """The chain handler: deny a function's call that its policies do not allow."""
    if context.service is None or context.operation is None:
        return
    principal = principals.lookup(_access_key(context))
    if principal is None:
        return
    service = getattr(context.service, "signing_name", None) or context.service.service_name
    call = Call(
        service=service,
        operation=context.operation.name,
        params=dict(context.service_request or {}),
        account_id=context.account_id or principal.account_id,
        region=context.region,
        partition=getattr(context, "partition", None) or principal.partition,
    )
    denials = authorise(principal, call)
    if denials:
        from localstack.aws.api import CommonServiceException

        code, status = _ACCESS_DENIED.get(service, ("AccessDeniedException", 403))
        raise CommonServiceException(code=code, message=denials[0]["message"], status_code=status, sender_fault=True)


# ----------------------------------------------------------------------------- HTTP routes
DENIALS_PATH = "/_eventrail/iam/denials"


def _json(document: Any, status: int = 200):
    from localstack.http import Response

    return Response(json.dumps(document), status=status, mimetype="application/json")


def list_denials(request, **_kwargs):
    return _json(
        {
            "enforcement": mode(),
            "evaluator_problem": EVALUATOR.configured(),
            "denials": [d.to_json() for d in DENIALS.all()],
        }
    )


def mark_expected(request, denial_id: str, **_kwargs):
    try:
        body = json.loads(request.get_data(as_text=True) or "{}")
        by = str(body["by"])
        number = int(denial_id)
    except (ValueError, KeyError, TypeError) as e:
        return _json({"error": f"expected a JSON body {{\"by\": \"<test name>\"}} and a numeric id: {e}"}, 400)
    denial = DENIALS.mark_expected(number, by)
    if denial is None:
        return _json({"error": f"no denial #{number}"}, 404)
    return _json(denial.to_json())


def install() -> str:
    """Install the handler and routes; returns the mode."""
    from localstack.aws import handlers
    from localstack.services.edge import ROUTER

    # Lambda's log writes in AWS's order (LocalStack asks for CreateLogGroup first, which AWS
    # never does and least-privilege roles are denied).
    lambda_logs.install()
    ROUTER.add(DENIALS_PATH, endpoint=list_denials, methods=["GET"])
    ROUTER.add(DENIALS_PATH + "/<denial_id>/expected", endpoint=mark_expected, methods=["POST"])
    current = mode()
    if current == OFF:
        LOG.warning(
            "eventrail IAM: enforcement is OFF (EVENTRAIL_IAM=off): function calls are not "
            "authorised, so a missing permission passes here and fails on AWS"
        )
        return current
    problem = EVALUATOR.configured()
    if problem:
        LOG.error("eventrail IAM: enforcement is on but the evaluator cannot run: %s", problem)
    handlers.serve_custom_service_request_handlers.append(handle)
    LOG.info("eventrail IAM: enforcing the functions' roles and the resource policies")
    return current
