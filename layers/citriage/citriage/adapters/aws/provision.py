"""Creating the stack's resources on a local endpoint from `template.yaml` itself.

Local mode must not re-declare by hand what the template declares: the tables (keys and
indexes), the queues (visibility timeouts, dead-letter queues and receive counts), the bus and
its rules, and the secrets are read from the template and created as declared. The functions'
environment is the union of the variables the template gives them, with each `!Ref` resolved to
the local resource, or to a parameter's local value (or default). A variable whose value names
a resource local mode does not create (the SES configuration set) is left unset.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from citriage.adapters.aws.clients import AwsClients

PREFIX = "citriage"
# Physical names of resources whose logical ids do not make a good local name.
_NAMES = {"CitriageBus": PREFIX, "WebhookSecret": "citriage/intake/webhook-keys"}


class _CfnLoader(yaml.SafeLoader):
    """A safe loader that keeps CloudFormation's short-form tags as {"Fn": value}."""


def _tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]  # a MappingNode here
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tagged)


def read_template(path: Path) -> dict[str, Any]:
    """The template as data, its short-form tags kept as CloudFormation's long forms."""
    data = yaml.load(path.read_text("utf-8"), Loader=_CfnLoader)  # noqa: S506  # _CfnLoader is a SafeLoader
    if not isinstance(data, dict) or "Resources" not in data:
        raise ValueError(f"{path} is not a CloudFormation template")
    return data


def local_name(logical_id: str) -> str:
    """A resource's local name: `RunsTable` -> `citriage-runs`, `AnalyzeDLQ` -> `citriage-analyze-dlq`."""
    if logical_id in _NAMES:
        return _NAMES[logical_id]
    stem = re.sub(r"(Table|Queue|Secret|Bucket)$", "", logical_id)
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z][a-z0-9]*", stem)
    return f"{PREFIX}-" + "-".join(w.lower() for w in words)


@dataclass
class Provisioned:
    """The physical ids of what was created, by logical id."""

    refs: dict[str, str] = field(default_factory=dict)
    arns: dict[str, str] = field(default_factory=dict)
    queue_urls: dict[str, str] = field(default_factory=dict)


def _of_type(template: Mapping[str, Any], kind: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (logical, resource.get("Properties") or {})
        for logical, resource in template["Resources"].items()
        if resource.get("Type") == kind
    ]


def _create_tables(template: Mapping[str, Any], aws: AwsClients, done: Provisioned) -> None:
    for logical, props in _of_type(template, "AWS::DynamoDB::Table"):
        name = local_name(logical)
        request: dict[str, Any] = {
            "TableName": name,
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if props.get("GlobalSecondaryIndexes"):
            request["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        aws.dynamodb_client.create_table(**request)
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            aws.dynamodb_client.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )
        done.refs[logical] = name


def _create_queues(template: Mapping[str, Any], aws: AwsClients, done: Provisioned) -> None:
    # Dead-letter queues first: the others name them.
    queues = sorted(_of_type(template, "AWS::SQS::Queue"), key=lambda q: "RedrivePolicy" in q[1])
    for logical, props in queues:
        attributes: dict[str, str] = {
            key: str(props[key])
            for key in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds")
            if key in props
        }
        redrive = props.get("RedrivePolicy")
        if redrive:
            target = redrive["deadLetterTargetArn"]["Fn::GetAtt"][0]
            attributes["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": done.arns[target], "maxReceiveCount": str(redrive["maxReceiveCount"])}
            )
        url: str = aws.sqs.create_queue(QueueName=local_name(logical), Attributes=attributes)["QueueUrl"]
        done.queue_urls[logical] = done.refs[logical] = url
        done.arns[logical] = aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]


def _create_topics(template: Mapping[str, Any], aws: AwsClients, done: Provisioned) -> None:
    # The incident alerts topic a rule delivers to (a topic's Ref is its ARN).
    for logical, _ in _of_type(template, "AWS::SNS::Topic"):
        arn: str = aws.sns.create_topic(Name=local_name(logical))["TopicArn"]
        done.arns[logical] = done.refs[logical] = arn


def _create_buckets(template: Mapping[str, Any], aws: AwsClients, done: Provisioned) -> None:
    # The uploads bucket (`citriage submit`): a bucket's Ref is its name.
    for logical, _ in _of_type(template, "AWS::S3::Bucket"):
        aws.s3.create_bucket(Bucket=local_name(logical))
        done.refs[logical] = local_name(logical)


def _target_arn(target: Mapping[str, Any], done: Provisioned) -> str:
    """A rule target's ARN: a queue's `!GetAtt Q.Arn`, or a topic's `!Ref T`."""
    arn = target["Arn"]
    logical = arn["Fn::GetAtt"][0] if "Fn::GetAtt" in arn else arn["Ref"]
    return done.arns[logical]


def _create_buses(template: Mapping[str, Any], aws: AwsClients, done: Provisioned) -> None:
    for logical, _ in _of_type(template, "AWS::Events::EventBus"):
        aws.events.create_event_bus(Name=local_name(logical))
        done.refs[logical] = local_name(logical)
    for logical, props in _of_type(template, "AWS::Events::Rule"):
        bus = done.refs[props["EventBusName"]["Ref"]]
        aws.events.put_rule(
            Name=local_name(logical), EventBusName=bus, EventPattern=json.dumps(props["EventPattern"])
        )
        # moto's EventBridge delivers to queues, not to topics (it fails the PutEvents): the
        # alerts topic exists locally, and only AWS delivers the rule's events to it.
        targets = [
            {"Id": t["Id"], "Arn": arn}
            for t in props["Targets"]
            if not (arn := _target_arn(t, done)).startswith("arn:aws:sns:")
        ]
        if targets:
            aws.events.put_targets(Rule=local_name(logical), EventBusName=bus, Targets=targets)


def _create_secrets(
    template: Mapping[str, Any], aws: AwsClients, done: Provisioned, values: Mapping[str, object]
) -> None:
    for logical, _ in _of_type(template, "AWS::SecretsManager::Secret"):
        if logical not in values:
            raise ValueError(f"no local value for the secret {logical}")
        arn: str = aws.secretsmanager.create_secret(
            Name=local_name(logical), SecretString=json.dumps(values[logical])
        )["ARN"]
        done.refs[logical] = arn


def _resolve(value: Any, done: Provisioned, parameters: Mapping[str, str]) -> str | None:
    """A variable's local value; None when it names something local mode does not create."""
    if isinstance(value, str | int | float | bool):
        return str(value)
    if isinstance(value, dict) and "Ref" in value:
        name = value["Ref"]
        return done.refs.get(name, parameters.get(name))
    if isinstance(value, dict) and "Fn::If" in value:
        # No site options are configured locally: every condition is false.
        return _resolve(value["Fn::If"][2], done, parameters)
    return None


def function_environment(
    template: Mapping[str, Any], done: Provisioned, parameters: Mapping[str, str]
) -> dict[str, str]:
    """The union of every function's environment (Globals first), resolved locally."""
    env: dict[str, str] = {}
    globals_ = ((template.get("Globals") or {}).get("Function") or {}).get("Environment") or {}
    variables: list[tuple[str, Any]] = list((globals_.get("Variables") or {}).items())
    for _, resource in sorted(template["Resources"].items()):
        if resource.get("Type") == "AWS::Serverless::Function":
            environment = (resource.get("Properties") or {}).get("Environment") or {}
            variables.extend((environment.get("Variables") or {}).items())
    for name, value in variables:
        resolved = _resolve(value, done, parameters)
        # An empty AWS_ENDPOINT_URL is the template's hook for `sam local`; locally it is set already.
        if resolved is not None and resolved != "" and name != "AWS_ENDPOINT_URL":
            env[name] = resolved
    return env


def parameter_defaults(template: Mapping[str, Any]) -> dict[str, str]:
    """Each template parameter's default, as a string."""
    return {
        name: str(spec["Default"])
        for name, spec in (template.get("Parameters") or {}).items()
        if isinstance(spec, dict) and "Default" in spec
    }


def provision(
    template: Mapping[str, Any],
    aws: AwsClients,
    parameters: Mapping[str, str],
    secrets: Mapping[str, object],
) -> tuple[Provisioned, dict[str, str]]:
    """Create the template's tables, queues, bus, rules and secrets; return them and the
    functions' resolved environment. `parameters` override the template's defaults; `secrets`
    are the secrets' values by logical id."""
    done = Provisioned()
    _create_tables(template, aws, done)
    _create_queues(template, aws, done)
    _create_buckets(template, aws, done)
    _create_topics(template, aws, done)
    _create_buses(template, aws, done)
    _create_secrets(template, aws, done, secrets)
    values = parameter_defaults(template) | dict(parameters)
    return done, function_environment(template, done, values)


def create_email_identity(aws: AwsClients, sender: str) -> None:
    """Verify a sender locally (the template leaves identities to the operator)."""
    aws.sesv2.create_email_identity(EmailIdentity=sender)
