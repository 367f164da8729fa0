# %% [markdown]
# # 06 · Load balancing: one address in front of many tasks
#
# The lecture notes (section 8) say: put an **Application Load Balancer** (ALB) in front of the
# service; it speaks HTTP/HTTPS; ECS integrates with it; it routes requests to the containers that
# are available; and it checks their health. This notebook makes each of those claims happen, and
# measures it. Notebook 06a continues with rolling deployments under load, the circuit breaker and
# auto scaling.
#
# **Goals.** By the end of this notebook you will
# - have put an ALB (load balancer, target group, listener) in front of an ECS service and watched
#   ECS register its tasks as targets;
# - have seen round robin: requests spread evenly over the healthy tasks;
# - have frozen a task and watched the health checks find it, traffic leave it, and ECS replace it;
# - have served HTTPS on port 443 with a certificate from ACM, verified it as a client does, and
#   redirected HTTP to HTTPS;
# - recognise the mistakes AWS refuses by the words AWS uses for them.
#
# **Time:** about 45 minutes if load balancers are new to you (an estimate of reading and trying
# things out: no learner has been timed yet); the cells alone run in about 2 minutes (105 s measured
# on a fresh lab, 2-core VM, December 2026; a third of it builds the image the first time).
#
# ```
# client ──► listener :80 ──► target group ───┬─► task 10.x.x.x:8080
#   │        (on the ALB)     ip targets,      ├─► task 10.x.x.x:8080
#   └──────► listener :443    GET /health      └─► task 10.x.x.x:8080
#            TLS ends here (ACM certificate)       (registered by ECS)
# ```

# %% [markdown]
# ## 1. Setup
#
# Names of this notebook's own: repository and task family `lb-demo`, cluster `lb-cluster`,
# service `lb-service`, load balancer `lb-demo-alb`, target group `lb-demo-tg`, security groups
# `lb-demo-alb` and `lb-demo-tasks`, and a certificate for `shop.example.com`. The first cell lists
# them in `MADE_HERE` and removes whatever an earlier run left with `ecslab.cleanup.remove`, in the
# order AWS requires: the service and its tasks, the cluster, the load balancer with its listeners,
# the target groups (a target group in use cannot be deleted), the security groups (the tasks'
# first: its rule names the other), the task definitions, the repository; then the certificate no
# listener uses any more. In the lab it deletes by name; on AWS only what the course tagged as yours
# (`ecslab:course` and `ecslab:owner`), so a resource of yours that happens to share a name is never
# touched.

# %%
import collections
import json
import re
import ssl
import time
import urllib.error
import urllib.request

import matplotlib.pyplot as plt
from botocore.exceptions import ClientError

import ecslab
from ecslab import ecr as ecr_tools
from ecslab import ecs as ecs_tools
from ecslab import elb as elb_tools
from ecslab import cleanup, images, network, security

lab = ecslab.connect()
elbv2 = lab.elbv2
acm = lab.client("acm")
REPOSITORY = FAMILY = "lb-demo"
CLUSTER = "lb-cluster"
SERVICE = "lb-service"
ALB_NAME = "lb-demo-alb"
TG_NAME = "lb-demo-tg"
TG_404_NAME = "lb-demo-tg-404"  # section 8
SG_PREFIX = "lb-demo"  # security groups lb-demo-alb and lb-demo-tasks
DOMAIN = "shop.example.com"  # section 6: the name the HTTPS certificate is for


MADE_HERE = cleanup.CourseResources(  # what this notebook makes, in the order it is deleted
    clusters=[CLUSTER], load_balancers=[ALB_NAME], target_groups=[TG_NAME, TG_404_NAME],
    security_groups=[f"{SG_PREFIX}-tasks", f"{SG_PREFIX}-alb"], task_families=[FAMILY], repositories=[REPOSITORY],
)


def without_ids(message):
    """Service events name tasks, deployments and target groups by IDs that change on every run."""
    return re.sub(r"\((task|deployment|target-group) [^)]+\)", r"(\1 …)", message)


cleanup.remove(lab, MADE_HERE)
elb_tools.delete_certificates(acm, elbv2, DOMAIN)

# %% [markdown]
# Build the sample app as v1 and push it to ECR (notebooks 02, 03 and 05 took these steps apart;
# here they take a few seconds, from the build cache).

# %% tags=["nbval-ignore-output"]
repo_uri = lab.ecr.create_repository(repositoryName=REPOSITORY)["repository"]["repositoryUri"]
images.build_sample_app(f"{REPOSITORY}:v1", version="v1", client=lab.docker, config=lab.config, show_progress=False)
ecr_tools.push_image(lab.docker, f"{REPOSITORY}:v1", repo_uri, "v1", ecr_tools.get_login(lab.ecr), show_progress=False)
sorted(tag for image in lab.ecr.describe_images(repositoryName=REPOSITORY)["imageDetails"] for tag in image["imageTags"])

# %% [markdown]
# ## 2. Load balancer, target group, listener
#
# An ALB is three API objects:
#
# - the **load balancer**: a name and the subnets (at least two Availability Zones) it lives in;
# - a **target group**: where requests go (here `ip` targets on port 8080, which is how Fargate
#   tasks are registered) and how to check that a target is healthy;
# - a **listener**: a port and protocol on the load balancer (HTTP 80) and what to do with the
#   requests (forward them to the target group).
#
# Traffic is filtered by **security groups**, and the lab enforces them as AWS does: a listener
# admits clients only when a security group of the ALB allows its port from `0.0.0.0/0` (an ALB
# created without `SecurityGroups` gets the VPC's default group, which admits nobody from
# outside), and the ALB reaches a task only when a security group of the task admits the ALB's
# group on the container port (otherwise the health checks time out: `Target.Timeout`). Notebook
# 07 takes the rules apart. Here we make the classic pair: `lb-demo-alb` admits port 80 from
# anywhere, `lb-demo-tasks` admits port 8080 from members of `lb-demo-alb` only.
#
# ```
# aws ec2 create-security-group --group-name lb-demo-alb --description "..." --vpc-id vpc-...
# aws ec2 authorize-security-group-ingress --group-id sg-ALB --protocol tcp --port 80 --cidr 0.0.0.0/0
# aws ec2 create-security-group --group-name lb-demo-tasks --description "..." --vpc-id vpc-...
# aws ec2 authorize-security-group-ingress --group-id sg-TASKS --protocol tcp --port 8080 --source-group sg-ALB
# ```

# %%
vpc_id, subnet_ids = elb_tools.default_subnets(lab.ec2)
alb_sg, task_sg = network.create_web_security_groups(lab.ec2, vpc_id, listener_port=80, container_port=8080, prefix=SG_PREFIX)
group_names = {alb_sg: f"{SG_PREFIX}-alb", task_sg: f"{SG_PREFIX}-tasks"}
{group_names[group_id]: [f"{rule.ports} from {group_names.get(rule.source, rule.source)}" for rule in network.security_group(lab.ec2, group_id).ingress]
 for group_id in (alb_sg, task_sg)}

# %% [markdown]
# The inbound rules, with each group named by its name (AWS names the source group of a rule by
# its ID, `sg-...`, which differs from run to run). Now the load balancer, in its security group:
#
# ```
# aws elbv2 create-load-balancer --name lb-demo-alb --type application \
#   --subnets subnet-... subnet-... --security-groups sg-ALB
# ```

# %%
alb = elbv2.create_load_balancer(Name=ALB_NAME, Subnets=subnet_ids, SecurityGroups=[alb_sg], Type="application", Scheme="internet-facing")["LoadBalancers"][0]
alb_arn = alb["LoadBalancerArn"]
{"type": alb["Type"], "scheme": alb["Scheme"], "Availability Zones": sorted(zone["ZoneName"] for zone in alb["AvailabilityZones"]),
 "DNS name ends in": alb["DNSName"].split(".", 1)[1], "in the group lb-demo-alb": alb["SecurityGroups"] == [alb_sg]}

# %% [markdown]
# The target group holds the **health check**: every `HealthCheckIntervalSeconds` the ALB sends
# `GET /health` to each target and waits `HealthCheckTimeoutSeconds` for a 200. A target is
# healthy after `HealthyThresholdCount` passes in a row, unhealthy after
# `UnhealthyThresholdCount` failures in a row. AWS's defaults are 30 s, 5 s, 5 and 2; we take
# the smallest values AWS allows, so a lesson does not wait minutes.
#
# When a target leaves the group, the ALB stops sending it new requests and lets the requests in
# flight finish: **deregistration delay**, 300 s by default. Our app answers in milliseconds, so
# 2 s are plenty.

# %%
target_group = elbv2.create_target_group(
    Name=TG_NAME,
    Protocol="HTTP",
    Port=8080,
    VpcId=vpc_id,
    TargetType="ip",
    HealthCheckPath="/health",
    HealthCheckIntervalSeconds=5,
    HealthCheckTimeoutSeconds=2,
    HealthyThresholdCount=2,
    UnhealthyThresholdCount=2,
)["TargetGroups"][0]
tg_arn = target_group["TargetGroupArn"]
elbv2.modify_target_group_attributes(TargetGroupArn=tg_arn, Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": "2"}])
{key: target_group[key] for key in ("TargetType", "Protocol", "Port", "HealthCheckPath", "HealthCheckIntervalSeconds", "HealthCheckTimeoutSeconds",
                                    "HealthyThresholdCount", "UnhealthyThresholdCount", "Matcher")}

# %% [markdown]
# The listener: HTTP on port 80, everything forwarded to the target group.
# `elb_tools.listener_url` says where to send requests: on AWS the ALB's DNS name; in the lab a
# real proxy on 127.0.0.1 at a port of its own (port 80 would need root on your machine).

# %%
listener_arn = elbv2.create_listener(
    LoadBalancerArn=alb_arn, Protocol="HTTP", Port=80, DefaultActions=[{"Type": "forward", "TargetGroupArn": tg_arn}]
)["Listeners"][0]["ListenerArn"]
url = elb_tools.listener_url(lab, alb_arn)
url

# %% [markdown]
# Nothing is registered yet, so the ALB has nowhere to send a request. It answers itself, with a
# 503:

# %%
try:
    urllib.request.urlopen(url)
except urllib.error.HTTPError as error:
    print(error.code, error.reason, "|", re.sub("<[^>]+>", "", error.read().decode()))

# %% [markdown]
# ## 3. A service behind the load balancer
#
# `create_service` takes one more argument than in notebook 05: `loadBalancers` names the target
# group and which container and port of the task receive the traffic. ECS then registers every
# task of the service (its IP and port 8080) once it runs, and deregisters it before stopping it.
# The tasks go in the security group `lb-demo-tasks` (`securityGroups`), so that only the ALB
# reaches them; their task definition names the execution role that pulls the image from ECR
# (notebook 05).
#
# The deployment settings (`maximumPercent`, `minimumHealthyPercent`, the circuit breaker) are
# notebook 06a's subject; here they keep their defaults.

# %%
lab.ecs.create_cluster(clusterName=CLUSTER)
execution_role_arn = security.ensure_execution_role(lab.iam)
task_def_arn = lab.ecs.register_task_definition(**ecs_tools.task_definition(FAMILY, f"{repo_uri}:v1", execution_role_arn=execution_role_arn))["taskDefinition"]["taskDefinitionArn"]
created_at = time.monotonic()
service = lab.ecs.create_service(
    cluster=CLUSTER,
    serviceName=SERVICE,
    taskDefinition=task_def_arn,
    desiredCount=3,
    launchType="FARGATE",
    networkConfiguration={"awsvpcConfiguration": {"subnets": subnet_ids, "securityGroups": [task_sg], "assignPublicIp": "ENABLED"}},
    loadBalancers=[{"targetGroupArn": tg_arn, "containerName": "web", "containerPort": 8080}],
)["service"]
[{"our target group": entry["targetGroupArn"] == tg_arn, "containerName": entry["containerName"], "containerPort": entry["containerPort"]}
 for entry in service["loadBalancers"]]

# %% [markdown]
# Watch `describe_target_health` until all three targets are healthy. Each task appears as
# `initial` once ECS registers it, and turns `healthy` after two passed checks, 5 s apart.

# %%
changes = elb_tools.watch_target_health(elbv2, tg_arn, until=lambda rows: elb_tools.healthy_count(rows) == 3)
first_seen = next(rows for _, rows in changes if rows)
{"first": sorted({row["state"] for row in first_seen}), "last": [row["state"] for row in changes[-1][1]]}

# %%
healthy_seconds = time.monotonic() - created_at
print(f"create_service → 3 healthy targets: {healthy_seconds:.1f} s")

# %% [markdown]
# The targets are the tasks' own addresses: the `privateIPv4Address` of each task's network
# interface (in the lab, moto's made-up addresses that the lab maps to the task's port on
# 127.0.0.1):

# %%
tasks = ecs_tools.service_tasks(lab.ecs, CLUSTER, SERVICE)
sorted(elb_tools.target_of(task) for task in tasks) == sorted(row["target"] for row in changes[-1][1])

# %% [markdown]
# ## 4. Round robin
#
# Send 60 requests, one after the other, and count which task answered each (the sample app says
# its container's hostname). The ALB takes the healthy targets in turn:

# %%
names = {task["containers"][0]["runtimeId"][:12]: f"task {number}" for number, task in enumerate(tasks, 1)}
answered = [json.loads(urllib.request.urlopen(url).read())["hostname"] for _ in range(60)]
counts = collections.Counter(names[hostname] for hostname in answered)
{"per task": dict(sorted(counts.items())), "same order every 3 requests": answered[:3] == answered[3:6] == answered[57:60]}

# %%
ax = elb_tools.plot_requests_by_task(dict(sorted(counts.items())))
ax.set_title("60 requests through the ALB, by the task that answered", fontsize=10)
plt.show()

# %% [markdown]
# On AWS the default algorithm is also round robin; `least_outstanding_requests` (a target group
# attribute) sends each request to the target with the fewest in flight instead. An ALB also
# runs in every Availability Zone you gave it, each node taking its own turns, so real counts are
# even only on average.
#
# ## 5. Health checks: a task stops answering
#
# How long does a new task wait before it gets traffic, and how long does a broken one keep
# getting it? Move the sliders (AWS's defaults first):

# %%
elb_tools.health_check_widget()

# %% [markdown]
# Our target group's numbers:

# %%
elb_tools.health_check_timing(interval=5, timeout=2, healthy_threshold=2, unhealthy_threshold=2)

# %% [markdown]
# Now the experiment. We freeze one task's container with `docker pause` (as a deadlocked app
# would: the port stays open, nothing answers) while 20 requests a second go through the ALB.
#
# ECS replaces a task that fails its health checks, except during the service's
# `healthCheckGracePeriodSeconds` after the task starts (meant for apps that start slowly). We
# misuse it for a minute: a long grace period keeps ECS's hands off the frozen task while we look
# at the ALB, then we set it back to 0 and let ECS act.

# %%
victim = tasks[0]
victim_target = elb_tools.target_of(victim)
victim_host = victim["containers"][0]["runtimeId"][:12]
lab.ecs.update_service(cluster=CLUSTER, service=SERVICE, healthCheckGracePeriodSeconds=3600)

traffic = elb_tools.TrafficGenerator(url, rate=20, concurrency=8, timeout=2)
traffic.start()
time.sleep(2)
frozen = lab.docker.containers.list(filters={"label": f"com.amazonaws.ecs.task-arn={victim['taskArn']}"})[0]
frozen.pause()
paused_at = traffic.elapsed()
changes = elb_tools.watch_target_health(
    elbv2, tg_arn, until=lambda rows: any(row["target"] == victim_target and row["state"] == "unhealthy" for row in rows), every=0.1
)
unhealthy_at = traffic.elapsed()
time.sleep(3)  # the traffic goes on
victim_states = [(row["state"], row["reason"]) for _, rows in changes for row in rows if row["target"] == victim_target]
[state for index, state in enumerate(victim_states) if index == 0 or state != victim_states[index - 1]]

# %%
print(f"docker pause → unhealthy: {unhealthy_at - paused_at:.1f} s (at most {elb_tools.health_check_timing(5, 2, 2, 2)['unhealthy_after']} s)")

# %% [markdown]
# `Target.Timeout`: the ALB connected, asked for `/health` and got no answer within 2 s, twice.
# What the traffic saw: requests the ALB sent to the frozen task before it was marked unhealthy
# waited and failed (the generator gives up after 2 s, and its workers send less while they wait);
# after that, none went there.

# %%
before = traffic.by_task(until=paused_at)
after = traffic.by_task(since=unhealthy_at)
failed = [r for r in traffic.between(since=paused_at) if r.status != 200]
{
    "tasks answering before the pause": len(before),
    "the frozen task answered before": victim_host in before,
    "tasks answering after 'unhealthy'": len(after),
    "the frozen task answered after": victim_host in after,
    "failed requests sent after 'unhealthy'": sum(r.at > unhealthy_at for r in failed),
}

# %% tags=["nbval-ignore-output"]
print(f"{len(failed)} requests failed, all sent in the {unhealthy_at - paused_at:.1f} s between the pause and 'unhealthy'")

# %% [markdown]
# Now let ECS do its part: grace period back to 0, and ECS replaces the task that fails its
# health checks. It deregisters the task first (`draining`), stops it, and starts a new one that
# gets traffic once healthy.

# %%
lab.ecs.update_service(cluster=CLUSTER, service=SERVICE, healthCheckGracePeriodSeconds=0)
grace_off_at = traffic.elapsed()
elb_tools.watch_target_health(
    elbv2, tg_arn, until=lambda rows: elb_tools.healthy_count(rows) == 3 and victim_target not in [row["target"] for row in rows]
)
replaced_at = traffic.elapsed()
# the frozen task is drained and stopped after it left the target group: wait for STOPPED (ECS's waiter)
lab.ecs.get_waiter("tasks_stopped").wait(cluster=CLUSTER, tasks=[victim["taskArn"]], WaiterConfig={"Delay": 0.5, "MaxAttempts": 120})
traffic.stop()
stopped_victim = lab.ecs.describe_tasks(cluster=CLUSTER, tasks=[victim["taskArn"]])["tasks"][0]
{"lastStatus": stopped_victim["lastStatus"], "stopCode": stopped_victim["stopCode"], "stoppedReason": without_ids(stopped_victim["stoppedReason"])}

# %%
print(f"grace period 0 → replacement healthy: {replaced_at - grace_off_at:.1f} s")

# %% [markdown]
# The whole experiment, by the task that answered (red: failed requests):

# %%
tasks_now = ecs_tools.service_tasks(lab.ecs, CLUSTER, SERVICE)
names |= {task["containers"][0]["runtimeId"][:12]: "task 4 (replacement)" for task in tasks_now if task["containers"][0]["runtimeId"][:12] not in names}
names[victim_host] = "task 1 (frozen)"
fig, ax = plt.subplots(figsize=(9, 3))
traffic.plot_timeline(ax, by="task", names=names)
for label, at in {"pause": paused_at, "unhealthy": unhealthy_at, "grace 0": grace_off_at, "replaced": replaced_at}.items():
    ax.axvline(at, color="black", linestyle="--", linewidth=1)
    ax.text(at, 1.02, label, fontsize=8, transform=ax.get_xaxis_transform())
ax.set_title("20 requests/s through the ALB while task 1 freezes", fontsize=10, pad=14)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 6. HTTPS: a certificate from ACM, TLS on port 443, HTTP redirected
#
# So far the listener speaks plain HTTP on port 80: anyone on the path can read and change the
# requests. An **HTTPS listener** (port 443) ends TLS on the load balancer: it holds a
# **certificate** for your domain, encrypts between the client and the ALB, and forwards plain HTTP
# to the targets, telling them with the header `X-Forwarded-Proto: https` (the tasks need no
# certificate of their own). Three things to choose:
#
# - the **certificate**: one from **AWS Certificate Manager** (ACM) is free and ACM renews it. You
#   request it for your domain and prove that the domain is yours (DNS validation: a CNAME record
#   ACM names); then its status goes from `PENDING_VALIDATION` to `ISSUED`. Amazon's CAs sign it,
#   and browsers and Python already trust them;
# - the **security policy** (`SslPolicy`): which TLS versions and ciphers the listener accepts
#   (`describe_ssl_policies` lists them). Created through the API or CLI without one, a listener gets
#   `ELBSecurityPolicy-2016-08` (TLS 1.0 to 1.2); the console picks
#   `ELBSecurityPolicy-TLS13-1-2-Res-2021-06`. We take `ELBSecurityPolicy-TLS13-1-2-2021-06` (TLS 1.2
#   and 1.3);
# - what port 80 does now: usually a **redirect** to HTTPS (`301 Moved Permanently`).
#
# **In the lab** the domain `shop.example.com` has no DNS you control, so the lab plays its owner:
# ACM issues the certificate after about 2 s, and it is signed by the **lab's own CA**, made once per
# lab, not by Amazon's. Your machine does not trust that CA, and it must not learn to trust it for
# everything: we hand its CA bundle file to each HTTPS request (`cafile=`), exactly where you would
# otherwise rely on the system's trust store. Verification is never switched off.
#
# ```
# aws acm request-certificate --domain-name shop.example.com --validation-method DNS
# aws acm wait certificate-validated --certificate-arn arn:aws:acm:...
# ```

# %%
certificate_arn = acm.request_certificate(DomainName=DOMAIN, ValidationMethod="DNS")["CertificateArn"]
acm.get_waiter("certificate_validated").wait(CertificateArn=certificate_arn, WaiterConfig={"Delay": 1 if lab.is_local else 60})
certificate = acm.describe_certificate(CertificateArn=certificate_arn)["Certificate"]
{key: certificate[key] for key in ("DomainName", "Status", "Type")} | {"validation": certificate["DomainValidationOptions"][0]["ValidationMethod"]}

# %% [markdown]
# The ALB's security group admits port 80 only; HTTPS needs 443 from anywhere too. Then the
# listener: protocol HTTPS, port 443, the certificate and the policy, forwarding to the same target
# group.
#
# ```
# aws ec2 authorize-security-group-ingress --group-id sg-ALB --protocol tcp --port 443 --cidr 0.0.0.0/0
# aws elbv2 create-listener --load-balancer-arn arn:... --protocol HTTPS --port 443 \
#   --certificates CertificateArn=arn:aws:acm:... --ssl-policy ELBSecurityPolicy-TLS13-1-2-2021-06 \
#   --default-actions Type=forward,TargetGroupArn=arn:...
# ```

# %%
lab.ec2.authorize_security_group_ingress(
    GroupId=alb_sg, IpPermissions=[{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
)
https_listener_arn = elbv2.create_listener(
    LoadBalancerArn=alb_arn, Protocol="HTTPS", Port=443, SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06",
    Certificates=[{"CertificateArn": certificate_arn}], DefaultActions=[{"Type": "forward", "TargetGroupArn": tg_arn}],
)["Listeners"][0]["ListenerArn"]
https_url = elb_tools.listener_url(lab, alb_arn, port=443)
ca_file = elb_tools.ca_bundle(lab)  # None on AWS: the system's trust store already trusts Amazon's CAs
https_url

# %% [markdown]
# On AWS you would now point `shop.example.com` at the ALB's DNS name and open
# `https://shop.example.com`. In the lab we connect to the listener's local port and *name*
# `shop.example.com` in the TLS handshake and the `Host` header, as a browser does once DNS gave it
# the address (`curl --resolve` does the same). First the handshake alone, as a client sees it:

# %%
elb_tools.tls_handshake(https_url, host=DOMAIN, cafile=ca_file)

# %% [markdown]
# TLS 1.3, the certificate issued for `shop.example.com` by the lab's CA (on AWS the issuer is one
# of Amazon's CAs). Now a request through it: the task answers as before, over an encrypted
# connection.

# %%
reply = elb_tools.request(https_url + "/", host=DOMAIN, cafile=ca_file)
{"status": reply.status, "version": json.loads(reply.body)["version"]}

# %% [markdown]
# The check that makes HTTPS worth having: a client refuses a certificate that is not for the name
# it asked for, or that no CA it trusts has signed. Both refusals come from the client, before any
# request is sent:

# %%
for name, trusted in ((f"www.{DOMAIN}", ca_file), (DOMAIN, None)):
    try:
        elb_tools.request(https_url, host=name, cafile=trusted)
    except ssl.SSLCertVerificationError as error:
        print(f"{name}, trusting {'the lab CA' if trusted else 'the system only'}: {error.verify_message}")

# %% [markdown]
# On AWS the second case succeeds (Amazon's CAs are in the system's store); in the lab it shows why
# we pass `cafile`. The first case fails everywhere: `www.shop.example.com` is not on the
# certificate (request one with `SubjectAlternativeNames` for more names, or `*.shop.example.com`).
#
# **Redirect HTTP to HTTPS.** Port 80 now answers every request with `301 Moved Permanently` and a
# `Location` on HTTPS. A redirect action builds it from the request: what it does not set
# (`Host`, `Path`, `Query`) keeps the request's values (`#{host}`, `/#{path}`, `#{query}`), and
# `StatusCode` is `HTTP_301` (permanent) or `HTTP_302` (temporary).
#
# ```
# aws elbv2 modify-listener --listener-arn arn:...:listener/app/lb-demo-alb/.../80... --default-actions \
#   'Type=redirect,RedirectConfig={Protocol=HTTPS,Port=443,StatusCode=HTTP_301}'
# ```
#
# **The lab differs here, plainly:** its listeners do not sit on ports 80 and 443 of your machine,
# so a `Location` naming port 443 would lead nowhere. The lab writes the local port of the ALB's 443
# listener instead (the one in `https_url`); on AWS the `Location` says `:443`.

# %%
elbv2.modify_listener(
    ListenerArn=listener_arn,
    DefaultActions=[{"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"}}],
)
moved = elb_tools.request(url + "/?from=http", host=DOMAIN)
https_port = https_url.rsplit(":", 1)[1]
{"status": moved.status, "reason": moved.reason,
 "Location": moved.headers["location"].replace(f":{https_port}/", ":<the 443 listener's local port>/")}

# %% [markdown]
# Following the `Location` (connecting to 127.0.0.1, naming the domain) reaches the HTTPS listener:

# %%
followed = elb_tools.request(moved.headers["location"].replace(DOMAIN, "127.0.0.1", 1), host=DOMAIN, cafile=ca_file)
{"status": followed.status, "version": json.loads(followed.body)["version"]}

# %% [markdown]
# ## 7. What is AWS here, and what is the lab
#
# The API calls, the states, reasons, events and the rules (round robin over healthy targets,
# health-check thresholds, draining, certificate validation, security policies, redirects) are
# AWS's. What differs:
#
# | | AWS | the lab |
# |---|---|---|
# | listeners | the ALB's DNS name, ports 80 and 443, nodes in each AZ | one proxy per listener on 127.0.0.1, each on a port of its own |
# | targets | each task's IP in your VPC | moto's made-up IPs, mapped to the task's port on 127.0.0.1 |
# | security groups | decide who may reach the ALB and the tasks | enforced at the listener (its port from 0.0.0.0/0), from the ALB to the targets, and on a task's own public address (notebook 04); not between tasks (notebook 07b) |
# | health checks, draining | as configured (we chose 5 s checks, 2 s delay; defaults 30 s and 300 s) | the same, for real |
# | ECS noticing an unhealthy target | tens of seconds | within a fraction of a second |
# | ACM certificate | DNS validation of a domain you own; signed by Amazon's CAs, trusted everywhere | issued after about 2 s; signed by the lab's CA, trusted only where you pass its bundle |
# | TLS versions of a policy | as the policy lists (some allow TLS 1.0 and 1.1) | never below TLS 1.2 |
# | redirect `Location` | `:443` | the local port of the 443 listener |
#
# ## 8. When AWS says no
#
# **A second listener on a port that has one.** (Creating the very same listener again is
# accepted: AWS returns the existing one. Different settings on the same port are not.)

# %%
try:
    elbv2.create_listener(
        LoadBalancerArn=alb_arn, Protocol="HTTP", Port=80,
        DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "200", "MessageBody": "hello"}}],
    )
except ClientError as error:
    print(error)

# %% [markdown]
# **An HTTPS listener without a certificate**, and **a policy that does not exist**:

# %%
for settings in ({}, {"SslPolicy": "ELBSecurityPolicy-TLS13-2026", "Certificates": [{"CertificateArn": certificate_arn}]}):
    try:
        elbv2.create_listener(LoadBalancerArn=alb_arn, Protocol="HTTPS", Port=8443, DefaultActions=[{"Type": "forward", "TargetGroupArn": tg_arn}], **settings)
    except ClientError as error:
        print(error)

# %% [markdown]
# `describe_ssl_policies` lists the names that exist. **A health check path the app does not
# serve.** A second target group checks `/healthz` (the app serves `/health`); a listener rule sends
# `/typo/*` to it, and we register one of our tasks by hand. The target never becomes healthy:

# %%
tg_404_arn = elbv2.create_target_group(
    Name=TG_404_NAME, Protocol="HTTP", Port=8080, VpcId=vpc_id, TargetType="ip", HealthCheckPath="/healthz",
    HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=2, HealthyThresholdCount=2, UnhealthyThresholdCount=2,
)["TargetGroups"][0]["TargetGroupArn"]
rule_arn = elbv2.create_rule(
    ListenerArn=https_listener_arn, Priority=10, Conditions=[{"Field": "path-pattern", "Values": ["/typo/*"]}],
    Actions=[{"Type": "forward", "TargetGroupArn": tg_404_arn}],
)["Rules"][0]["RuleArn"]
some_task = ecs_tools.service_tasks(lab.ecs, CLUSTER, SERVICE)[0]
ip, port = elb_tools.target_of(some_task).split(":")
elbv2.register_targets(TargetGroupArn=tg_404_arn, Targets=[{"Id": ip, "Port": int(port)}])
elb_tools.watch_target_health(elbv2, tg_404_arn, until=lambda rows: rows and rows[0]["state"] == "unhealthy", timeout=30)
elbv2.describe_target_health(TargetGroupArn=tg_404_arn)["TargetHealthDescriptions"][0]["TargetHealth"]

# %%
elbv2.delete_rule(RuleArn=rule_arn)
elbv2.delete_target_group(TargetGroupArn=tg_404_arn)
[group["TargetGroupName"] for group in elbv2.describe_target_groups()["TargetGroups"] if group["TargetGroupName"].startswith(TG_NAME)]

# %% [markdown]
# `Target.ResponseCodeMismatch` with the code the app gave: the first thing to read when targets
# stay unhealthy. (A `Matcher` of `200-399` would not help here: 404 is a real answer, "not here".)
#
# ## Knowledge check

# %%
from ecslab.quiz import Question, Quiz

Quiz([
    Question(
        "A target group checks every 5 s with UnhealthyThresholdCount 2. A task's app hangs. What happens to requests?",
        (
            "The ALB keeps sending it requests until ECS replaces the task",
            "Requests sent to it in the next ~10 s fail or wait; then the ALB sends it none, while ECS replaces the task",
            "The ALB retries each failed request on another task, so no client notices",
        ),
        1,
        "Health checks find a broken target only after the threshold of failures (section 5 measured it); until then it gets its share. "
        "An ALB does not retry a request that a target accepted.",
        why_not=(
            "Once the target is marked unhealthy (2 failed checks, about 10 s) the ALB stops routing to it, before ECS replaces the task.",
            "",
            "An ALB does not retry a request a target accepted: the clients whose requests reached the hung task see them fail or time out.",
        ),
    ),
    Question(
        "Your ALB has an HTTPS listener on 443 with an ACM certificate. Do the Fargate tasks behind it need a certificate too?",
        (
            "Yes: each task must present the same certificate as the ALB",
            "No: the ALB ends TLS and forwards plain HTTP to the targets (with X-Forwarded-Proto: https), unless you choose HTTPS for the target group",
            "No: ACM installs the certificate in every task for you",
        ),
        1,
        "The listener terminates TLS with its certificate; the target group's protocol (HTTP here) decides how the ALB talks to the tasks.",
        why_not=(
            "The client only ever talks TLS to the ALB; the tasks are reached on the target group's protocol.",
            "",
            "ACM certificates for ALBs stay in ACM: you cannot export an Amazon-issued public certificate into your tasks.",
        ),
    ),
    Question(
        "A client asks https://www.shop.example.com, and the listener's only certificate is for shop.example.com. What happens?",
        (
            "The client refuses the connection: the certificate does not carry the name it asked for",
            "The ALB redirects the client to shop.example.com",
            "It works: the certificate covers the subdomains of its domain",
        ),
        0,
        "The client checks that the certificate names the host it asked for (section 6: 'Hostname mismatch'); add the name as a "
        "subject alternative name, or request *.shop.example.com.",
        why_not=(
            "",
            "A redirect happens only after TLS succeeded and a rule says so; here the handshake fails first.",
            "A certificate covers only the names on it; subdomains need a wildcard name (*.shop.example.com) or their own entries.",
        ),
    ),
])

# %% [markdown]
# ## Summary
#
# - An ALB is a **load balancer** (subnets in two or more AZs), a **target group** (`ip` targets
#   for Fargate, port, health check) and **listeners** (port 80, port 443). `loadBalancers` in
#   `create_service` makes ECS register each task as a target when it runs and deregister it
#   before it stops.
# - **Security groups** decide who gets in: the ALB's admits ports 80 and 443 from anywhere, the
#   tasks' admits 8080 from the ALB's group only, so clients reach the tasks through the ALB alone.
# - The ALB sends requests **round robin** to the **healthy** targets only; with none at all it
#   answers 503 itself.
# - **Health checks** find a target that stops answering after `interval × UnhealthyThreshold`;
#   until then some requests fail. ECS replaces such a task (after any
#   `healthCheckGracePeriodSeconds`), with the stoppedReason "Task failed ELB health checks".
# - An **HTTPS listener** ends TLS with an **ACM certificate** for your domain (`ISSUED` after DNS
#   validation) and a **security policy** (`ELBSecurityPolicy-TLS13-1-2-2021-06`); clients verify the
#   name and the CA, never skip it. Port 80 **redirects** to it with `301` and a `Location` built
#   from the request.
# - AWS's words: `DuplicateListener`, `ValidationError` ("A certificate must be specified for HTTPS
#   listeners"), `SSLPolicyNotFound`, `Target.ResponseCodeMismatch`.
#
# **Next:** notebook 06a rolls a new version out under load, lets the circuit breaker roll a broken
# one back, and scales the service with its load (target tracking: AWS publishes no formula for how
# many tasks it asks for; notebook 06a states the lab's own model as the lab's).
#
# **Exercise:** `exercises/06-load-balancing.ipynb`: create a target group, and put a two-task
# service behind an ALB.
#
# ## Cleanup
#
# In order (`MADE_HERE`, removed by `ecslab.cleanup.remove`): the service and its tasks, the
# cluster, the load balancer with its listeners, the target groups, the security groups, the task
# definitions, the repository; then the certificate (ACM refuses to delete one a listener still
# uses) and the local images. What it returns is what is left under those names: nothing. The
# execution role stays: it is the account's, used by every notebook's tasks.

# %%
left = cleanup.remove(lab, MADE_HERE)
certificates_deleted = elb_tools.delete_certificates(acm, elbv2, DOMAIN)
images.remove_images([f"{REPOSITORY}:v1", *ecr_tools.local_references(lab.docker, repo_uri)], client=lab.docker, config=lab.config)
{"left": left, "certificates deleted": len(certificates_deleted)}
