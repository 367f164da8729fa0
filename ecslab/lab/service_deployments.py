"""ECS's service deployments, as the lab's ECS agent carries them out: records, traffic shifts, rollbacks, API shapes.

Every ``create_service``/``update_service`` that starts a deployment makes a *service deployment* and the
*service revision* it deploys (:mod:`ecslab.lab.records`), for every strategy. For ``ROLLING`` the agent's rolling
update (:mod:`ecslab.lab.reconcile`) does the work and this module follows it (status, timestamps, rollback of the
circuit breaker or an alarm). For ``BLUE_GREEN``, ``CANARY`` and ``LINEAR`` (:mod:`ecslab.lab.strategies`) it
drives the deployment: green tasks started in full and registered with the target group the production listener
rule does not serve (the alternate one the first time), test traffic moved to them through the test listener
rule, production traffic moved by rewriting the production rule's weighted ``forward`` on the lab's deployment
clock, the bake time, the blue tasks ended; CloudWatch alarms in ``deploymentConfiguration.alarms``, the circuit
breaker and ``StopServiceDeployment`` roll it back (production traffic back to blue, green tasks ended).

Everything here runs under the lab lock, inside the agent's tick or a moto request; no I/O.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from ecslab.config import ACCOUNT_ID
from ecslab.lab import hooks, strategies
from ecslab.lab.fillers import TargetHealth
from ecslab.lab.moto import cloudwatch as moto_cloudwatch
from ecslab.lab.moto.ecs import EcsService, EcsTask
from ecslab.lab.reconcile import breaker_threshold
from ecslab.lab.records import Records, ServiceDeploymentRecord, ServiceRevisionRecord

ACTIVE_STATUSES = ("PENDING", "IN_PROGRESS", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS", "STOP_REQUESTED")
STOPPING = ("ROLLBACK_REQUESTED", "STOP_REQUESTED")
"""StopServiceDeployment was called; the agent carries it out on its next look at the service."""


def _now() -> datetime:
    return datetime.now(UTC)


def _derived_id(*parts: str, length: int = 21) -> str:
    """An ID made from what it names (not from moto's seeded random numbers, so every other seeded ID stays the same)."""
    digest = hashlib.sha256("|".join(parts).encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()[:length]


def _derived_number(*parts: str) -> int:
    return 10**18 + int.from_bytes(hashlib.sha256("|".join(parts).encode()).digest()[:8]) % (9 * 10**18)


def advanced_entry(service: EcsService) -> dict[str, Any] | None:
    """The service's first load balancer with ``advancedConfiguration`` (blue/green, canary, linear)."""
    return next((entry for entry in service.load_balancers or [] if entry.get("advancedConfiguration")), None)


class ServiceDeployments:
    """The service deployments of one lab: made, followed and driven by the ECS agent, read by the API patches."""

    def __init__(self, records: Records, targets: Callable[[], TargetHealth | None], region: Callable[[], str]) -> None:
        self.records = records
        self.targets = targets
        self.region = region
        self.clock: Callable[[], float] = time.monotonic  # the lab's deployment clock (scaled by strategies.lab_seconds)

    # -- which target group a task joins ---------------------------------------------------------------

    def production_group(self, entry: dict[str, Any]) -> str:
        """The target group the production listener rule serves most (blue): the main one, or the alternate after a shift."""
        advanced = entry["advancedConfiguration"]
        pair = (str(entry.get("targetGroupArn")), str(advanced.get("alternateTargetGroupArn")))
        alb = self.targets()
        weights = dict(alb.forward_weights(str(advanced.get("productionListenerRule"))) or []) if alb else {}
        return pair[1] if weights.get(pair[1], 0) > weights.get(pair[0], 0) else pair[0]

    def target_group_for(self, service: EcsService, entry: dict[str, Any], task: EcsTask) -> str:
        """The target group a service task joins for one of its load balancers."""
        if not entry.get("advancedConfiguration"):
            return str(entry.get("targetGroupArn", ""))
        record = self.records.deployment_of(service.arn, task.started_by)
        if record is not None and record.green_group is not None:
            return record.green_group
        return self.production_group(entry)

    # -- a deployment begins ------------------------------------------------------------------------------

    def started(
        self, service: EcsService, definition_of: Callable[[str], Any], *, creating: bool = False
    ) -> ServiceDeploymentRecord | None:
        """The service deployment of the service's primary deployment, made the first time it is seen.

        ``creating``: the service was just made (again, perhaps, under a deleted one's name): nothing was deployed before."""
        if not service.deployments:
            return None
        primary = service.deployments[0]
        found = self.records.deployment_of(service.arn, primary["id"])
        if found is not None:
            return found
        if any(d.rollback_deployment_id == primary["id"] for d in self.records.deployments.values()):
            return None  # a rollback's deployment belongs to the service deployment that rolled back
        now = _now()
        cluster, name = service.cluster_name, service.name
        configuration = dict(getattr(service, "deployment_configuration", None) or {})
        revision = self._revision(service, primary["taskDefinition"], definition_of, now)
        sources = [
            self.serving_revision(d)
            for d in self.records.deployments.values()
            if d.service_arn == service.arn and d.status in ("SUCCESSFUL", "ROLLBACK_SUCCESSFUL", *ACTIVE_STATUSES)
        ][-1:]
        if creating:
            sources = []
        record = ServiceDeploymentRecord(
            arn=f"arn:aws:ecs:{self.region()}:{ACCOUNT_ID}:service-deployment/{cluster}/{name}/"
            f"{_derived_id(service.arn, primary['id'], str(primary.get('createdAt')))}",
            service_arn=service.arn,
            cluster_arn=service.cluster_arn,
            deployment_id=primary["id"],
            configuration=configuration,
            target_revision=revision.arn,
            source_revisions=sources,
            created_at=now,
            started_at=now,
            updated_at=now,
            status="IN_PROGRESS",
            breaker_threshold=breaker_threshold(int(service.desired_count)),
        )
        record.pauses = hooks.Pauses.of(record.arn, configuration)
        for earlier in self.records.deployments.values():  # a new deployment replaces one still in progress
            if earlier.service_arn == service.arn and earlier.status in ("PENDING", "IN_PROGRESS"):
                earlier.status, earlier.stopped_at, earlier.updated_at = "STOPPED", now, now
                earlier.status_reason = f"Service deployment stopped: a new service deployment ({record.arn}) started."
        entry = advanced_entry(service)
        has_blue = not creating and any(d.get("status") != "PRIMARY" for d in service.deployments)
        if strategies.strategy_of(configuration) in strategies.SHIFTING and entry is not None and has_blue:
            record.blue_group = self.production_group(entry)
            advanced = entry["advancedConfiguration"]
            pair = (str(entry.get("targetGroupArn")), str(advanced.get("alternateTargetGroupArn")))
            record.green_group = pair[1] if record.blue_group == pair[0] else pair[0]
            revision.target_group_arn = record.green_group
            alb = self.targets()
            production = str(advanced.get("productionListenerRule"))
            current = alb.forward_weights(production) if alb is not None else None
            if alb is not None and current is not None and record.green_group not in dict(current):
                # a production rule naming only blue: green joins it at weight 0 (no traffic yet), so the load balancer
                # uses green's target group and health-checks its tasks (a group no action names stays Target.NotInUse)
                alb.set_forward_weights(production, [(record.blue_group, 1), (record.green_group, 0)])
            self._stage(record, "PRE_SCALE_UP")
            self._stage(record, "SCALE_UP")
        elif entry is not None:
            revision.target_group_arn = self.production_group(entry)
        self.records.deployments[record.arn] = record
        return record

    def _revision(
        self, service: EcsService, task_definition: str, definition_of: Callable[[str], Any], now: datetime
    ) -> ServiceRevisionRecord:
        definition = definition_of(task_definition)
        images = [
            {"containerName": c.get("name"), "image": c.get("image")} for c in getattr(definition, "container_definitions", [])
        ]
        entry = advanced_entry(service)
        revision = ServiceRevisionRecord(
            arn=f"arn:aws:ecs:{self.region()}:{ACCOUNT_ID}:service-revision/{service.cluster_name}/{service.name}/"
            f"{_derived_number(service.arn, task_definition, now.isoformat())}",
            service_arn=service.arn,
            cluster_arn=service.cluster_arn,
            task_definition=task_definition,
            launch_type=service.launch_type,
            platform_version=service.platform_version,
            load_balancers=[dict(e) for e in service.load_balancers or []],
            network_configuration=service.network_configuration or None,
            container_images=images,
            created_at=now,
            production_listener_rule=(entry or {}).get("advancedConfiguration", {}).get("productionListenerRule"),
        )
        self.records.revisions[revision.arn] = revision
        return revision

    def serving_revision(self, record: ServiceDeploymentRecord) -> str:
        """The revision a deployment left serving: its target, or the one it rolled back to."""
        if record.status in ("ROLLBACK_SUCCESSFUL", "ROLLBACK_IN_PROGRESS") and record.rollback:
            return str(record.rollback["serviceRevisionArn"])
        return record.target_revision

    def _stage(self, record: ServiceDeploymentRecord, stage: str) -> None:
        now = _now()
        record.lifecycle_stage, record.updated_at = stage, now
        record.stages.append((now, stage, record.green_percent))

    # -- driving a shifting deployment (BLUE_GREEN, CANARY, LINEAR) --------------------------------------

    def shifting(self, service: EcsService) -> ServiceDeploymentRecord | None:
        """The service's deployment in progress that shifts traffic, if its deployment is the primary one."""
        if not service.deployments:
            return None
        record = self.records.deployment_of(service.arn, service.deployments[0]["id"])
        # A stop asked for (StopServiceDeployment) is carried out later in the same tick; until then the deployment still
        # shifts traffic, so its blue tasks must not be taken for a rolling update's old tasks and stopped.
        if record is not None and record.green_group is not None and record.status in ("IN_PROGRESS", *STOPPING):
            return record
        return None

    def shift(self, service: EcsService, record: ServiceDeploymentRecord, healthy_green: int) -> bool:
        """Move the deployment on (under the lock); True when the blue tasks may end (CLEAN_UP)."""
        entry = advanced_entry(service)
        alb = self.targets()
        if entry is None or alb is None or record.green_group is None or record.blue_group is None or record.status in STOPPING:
            return False
        advanced = entry["advancedConfiguration"]
        if record.shift_started is None:
            if healthy_green < int(service.desired_count):
                return False
            test_rule = advanced.get("testListenerRule")
            before = ["POST_SCALE_UP", *(["TEST_TRAFFIC_SHIFT", "POST_TEST_TRAFFIC_SHIFT"] if test_rule else [])]
            while record.pre_shift_step < len(before):  # a PAUSE hook may hold the deployment at any of these stages
                stage = before[record.pre_shift_step]
                if record.lifecycle_stage != stage:
                    self._stage(record, stage)
                    if stage == "TEST_TRAFFIC_SHIFT":
                        alb.set_forward_weights(str(test_rule), [(record.blue_group, 0), (record.green_group, 1)])
                        record.test_green_percent = 100.0
                verdict = record.pauses.hold(stage, self.clock())
                if verdict == "ROLLBACK":
                    record.hook_rollback = True
                if verdict is not None:
                    record.updated_at = _now()
                    return False
                record.pre_shift_step += 1
            record.shift_started = self.clock()
        plan = strategies.shift_plan(record.configuration)
        now = strategies.progress(plan, strategies.bake_minutes(record.configuration), self.clock() - record.shift_started)
        if now.shift_index != record.shift_index:
            blue, green = strategies.weights(now.green_percent)
            alb.set_forward_weights(
                str(advanced["productionListenerRule"]), [(record.blue_group, blue), (record.green_group, green)]
            )
            record.shift_index, record.green_percent = now.shift_index, now.green_percent
            self._stage(record, "PRODUCTION_TRAFFIC_SHIFT")
            if now.green_percent >= 100:
                self._stage(record, "POST_PRODUCTION_TRAFFIC_SHIFT")
        if now.stage == "BAKE_TIME" and record.lifecycle_stage != "BAKE_TIME":
            self._stage(record, "BAKE_TIME")
        if now.stage == "CLEAN_UP":
            if record.lifecycle_stage != "CLEAN_UP":
                self._stage(record, "CLEAN_UP")
            return True
        return False

    # -- failures: alarms, the circuit breaker, StopServiceDeployment --------------------------------------

    def triggered_alarms(self, record: ServiceDeploymentRecord) -> list[str]:
        """The deployment's alarms that went into ALARM since the agent began watching them (when
        ``deploymentConfiguration.alarms`` is enabled): in ALARM now, or for a moment since."""
        alarms = record.configuration.get("alarms") or {}
        if not alarms.get("enable") or not alarms.get("alarmNames"):
            return []
        if record.alarms_watched_since is None:
            record.alarms_watched_since = moto_cloudwatch.now()
        return moto_cloudwatch.alarms_in_alarm_since(self.region(), list(alarms["alarmNames"]), record.alarms_watched_since)

    def roll_back_traffic(self, service: EcsService, record: ServiceDeploymentRecord) -> None:
        """Production (and test) traffic back to the blue target group."""
        entry = advanced_entry(service)
        alb = self.targets()
        if entry is None or alb is None or record.blue_group is None or record.green_group is None:
            return
        advanced = entry["advancedConfiguration"]
        alb.set_forward_weights(str(advanced["productionListenerRule"]), [(record.blue_group, 1), (record.green_group, 0)])
        if advanced.get("testListenerRule"):
            alb.set_forward_weights(str(advanced["testListenerRule"]), [(record.blue_group, 1), (record.green_group, 0)])
        record.green_percent = record.test_green_percent = 0.0

    def last_good_revision(self, service_arn: str, except_arn: str) -> str | None:
        good = [
            self.serving_revision(d)
            for d in self.records.deployments.values()
            if d.service_arn == service_arn and d.arn != except_arn and d.status in ("SUCCESSFUL", "ROLLBACK_SUCCESSFUL")
        ]
        return good[-1] if good else None

    def follow(self, service: EcsService) -> None:
        """Each service deployment in progress follows the service's deployments (under the lock)."""
        ids = {d["id"]: d for d in service.deployments}
        for record in [d for d in self.records.deployments.values() if d.service_arn == service.arn]:
            if record.status not in ACTIVE_STATUSES:
                continue
            own = ids.get(record.deployment_id)
            if record.status == "IN_PROGRESS" and own is not None and own.get("rolloutState") == "COMPLETED":
                now = _now()
                record.status, record.finished_at, record.updated_at = "SUCCESSFUL", now, now
                record.status_reason = None
                if record.green_group is not None:
                    self._stage(record, "CLEAN_UP") if record.lifecycle_stage != "CLEAN_UP" else None
            elif record.status == "ROLLBACK_IN_PROGRESS":
                back = ids.get(record.rollback_deployment_id or "")
                if own is None and back is not None and back.get("rolloutState") == "COMPLETED":
                    now = _now()
                    record.status, record.finished_at, record.updated_at = "ROLLBACK_SUCCESSFUL", now, now

    # -- the API (moto's patched backend asks, under the lock) ----------------------------------------------

    def brief(self, record: ServiceDeploymentRecord) -> dict[str, Any]:
        return _without_none(
            {
                "serviceDeploymentArn": record.arn,
                "serviceArn": record.service_arn,
                "clusterArn": record.cluster_arn,
                "startedAt": record.started_at,
                "createdAt": record.created_at,
                "finishedAt": record.finished_at,
                "targetServiceRevisionArn": record.target_revision,
                "status": record.status,
                "statusReason": record.status_reason,
            }
        )

    def described(self, record: ServiceDeploymentRecord, tasks: list[EcsTask]) -> dict[str, Any]:
        configuration = record.configuration
        alarms = configuration.get("alarms") or {}
        breaker = configuration.get("deploymentCircuitBreaker") or {}
        active = record.status in ACTIVE_STATUSES
        return _without_none(
            {
                "serviceDeploymentArn": record.arn,
                "serviceArn": record.service_arn,
                "clusterArn": record.cluster_arn,
                "createdAt": record.created_at,
                "startedAt": record.started_at,
                "finishedAt": record.finished_at,
                "stoppedAt": record.stopped_at,
                "updatedAt": record.updated_at,
                "sourceServiceRevisions": [
                    self._summary(arn, tasks, 100.0 - record.green_percent, 100.0 - record.test_green_percent)
                    for arn in record.source_revisions
                ],
                "targetServiceRevision": self._summary(
                    record.target_revision, tasks, record.green_percent, record.test_green_percent
                ),
                "status": record.status,
                "statusReason": record.status_reason,
                "lifecycleStage": record.lifecycle_stage,
                "deploymentConfiguration": configuration,
                "rollback": record.rollback,
                "deploymentCircuitBreaker": {
                    "status": ("MONITORING" if active else "MONITORING_COMPLETE") if breaker.get("enable") else "DISABLED",
                    "failureCount": record.breaker_failures,
                    "threshold": record.breaker_threshold,
                },
                "lifecycleHookDetails": self._hook_details(record) or None,
                "alarms": {
                    "status": ("TRIGGERED" if record.triggered_alarms else "MONITORING" if active else "MONITORING_COMPLETE")
                    if alarms.get("enable")
                    else "DISABLED",
                    "alarmNames": list(alarms.get("alarmNames") or []),
                    "triggeredAlarmNames": list(record.triggered_alarms),
                },
            }
        )

    def _hook_details(self, record: ServiceDeploymentRecord) -> list[dict[str, Any]]:
        """``lifecycleHookDetails``: the PAUSE hooks reached so far, ``expiresAt`` from the agent's clock to a date."""
        now, clock = _now(), self.clock()
        details = []
        for detail in record.pauses.details():
            expires = detail.pop("expires")
            if expires is not None:
                detail["expiresAt"] = now + timedelta(seconds=expires - clock)
            details.append(detail)
        return details

    def _summary(self, revision_arn: str, tasks: list[EcsTask], production: float, test: float) -> dict[str, Any]:
        revision = self.records.revisions.get(revision_arn)
        ids = {d.deployment_id for d in self.records.deployments.values() if d.target_revision == revision_arn}
        mine = [t for t in tasks if t.started_by in ids and t.desired_status == "RUNNING"]
        summary: dict[str, Any] = {
            "arn": revision_arn,
            "requestedTaskCount": len(mine),
            "runningTaskCount": sum(t.last_status == "RUNNING" for t in mine),
            "pendingTaskCount": sum(t.last_status in ("PROVISIONING", "PENDING", "ACTIVATING") for t in mine),
        }
        if revision is not None and revision.production_listener_rule:
            summary["requestedProductionTrafficWeight"] = round(production, 1)
            summary["requestedTestTrafficWeight"] = round(test, 1)
        return summary

    def revision_shape(self, revision: ServiceRevisionRecord) -> dict[str, Any]:
        resolved = (
            {
                "loadBalancers": [
                    {"targetGroupArn": revision.target_group_arn, "productionListenerRule": revision.production_listener_rule}
                ]
            }
            if revision.target_group_arn
            else None
        )
        return _without_none(
            {
                "serviceRevisionArn": revision.arn,
                "serviceArn": revision.service_arn,
                "clusterArn": revision.cluster_arn,
                "taskDefinition": revision.task_definition,
                "launchType": revision.launch_type,
                "platformVersion": revision.platform_version,
                "loadBalancers": revision.load_balancers,
                "networkConfiguration": revision.network_configuration,
                "containerImages": revision.container_images,
                "createdAt": revision.created_at,
                "resolvedConfiguration": _without_none(resolved) if resolved else None,
            }
        )


def _without_none(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if value is not None}
