"""Amazon ECR from the learner's side: names, URIs, login, push, lifecycle.

Notebook 03 introduces everything here. Every function takes the client it uses
(``lab.ecr`` for boto3, ``lab.docker`` for the engine), so the same calls work
against the lab and against a real account. Errors keep ECR's own words and add
one line saying what to do (:func:`explain`).
"""

from __future__ import annotations

import base64
import html
import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ecslab import imageref
from ecslab.ecr_lifecycle import ImageRecord, LifecyclePolicyError, evaluate, parse_policy

REPOSITORY_NAME = re.compile(r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*")
"""ECR's pattern for repository names (from the API reference)."""

TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
"""Docker's rule for tags: up to 128 characters, no leading dot or dash."""

REGIONS = (
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-south-1",
    "ap-southeast-1",
    "ap-northeast-1",
    "sa-east-1",
)


class EcrError(RuntimeError):
    """An ECR or registry error: ECR's words, then a hint saying what to do."""


# -- names and URIs ------------------------------------------------------------------------


def repository_name_problems(name: str) -> list[str]:
    """Why ECR would refuse ``name`` as a repository name (empty when it is fine)."""
    problems = []
    if not 2 <= len(name) <= 256:
        problems.append(f"it must be 2 to 256 characters long (it has {len(name)})")
    if name != name.lower():
        problems.append("it must be lower case")
    bad = sorted(set(re.sub(r"[a-z0-9._/-]", "", name.lower())))
    if bad:
        problems.append("it may only contain a-z, 0-9, '.', '_', '-' and '/' (not " + " ".join(repr(c) for c in bad) + ")")
    if not bad and name == name.lower() and name and not REPOSITORY_NAME.fullmatch(name):
        problems.append(
            "each part must start and end with a letter or digit, with single '.', '_' or '-' between (e.g. team/aws-node-demo)"
        )
    return problems


def tag_problems(tag: str) -> list[str]:
    if TAG.fullmatch(tag):
        return []
    if not tag:
        return ["a tag cannot be empty (docker uses 'latest' when you give none)"]
    if len(tag) > 128:
        return [f"a tag has at most 128 characters (it has {len(tag)})"]
    return ["a tag may only contain letters, digits, '_', '.' and '-', and cannot start with '.' or '-'"]


def ecr_registry(account_id: str, region: str) -> str:
    """The registry host of an account in a region: ``ACCOUNT.dkr.ecr.REGION.amazonaws.com``."""
    if not re.fullmatch(r"\d{12}", account_id):
        raise ValueError(f"An AWS account ID is 12 digits, not {account_id!r}.")
    if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", region):
        raise ValueError(f"{region!r} is not a region name like us-east-1 or ap-south-1.")
    return f"{account_id}.dkr.ecr.{region}.amazonaws.com"


def ecr_uri(account_id: str, region: str, repository: str, tag: str | None = None) -> str:
    """The image URI ECR gives a repository (and tag): what ``docker push`` and task definitions use."""
    problems = repository_name_problems(repository) + (tag_problems(tag) if tag is not None else [])
    if problems:
        raise ValueError(f"Invalid image reference: {'; '.join(problems)}.")
    uri = f"{ecr_registry(account_id, region)}/{repository}"
    return f"{uri}:{tag}" if tag is not None else uri


def parse_image_uri(uri: str) -> imageref.ImageRef:
    """Split ``REGISTRY/REPOSITORY[:TAG][@DIGEST]`` into its parts (:func:`ecslab.imageref.parse`, registry required)."""
    parts = imageref.parse(uri)
    if parts.registry is None:
        raise ValueError(f"{uri!r} has no registry host: an ECR URI starts with ACCOUNT.dkr.ecr.REGION.amazonaws.com/")
    return parts


def uri_builder(
    account_id: str = "123456789012", region: str = "ap-south-1", repository: str = "aws-node-demo", tag: str = "latest"
) -> Any:
    """A widget: type an account, region, repository and tag; see the URI or what is wrong."""
    import ipywidgets as widgets

    account = widgets.Text(value=account_id, description="account")
    region_box = widgets.Dropdown(options=REGIONS, value=region if region in REGIONS else REGIONS[0], description="region")
    repo = widgets.Text(value=repository, description="repository")
    tag_box = widgets.Text(value=tag, description="tag")
    result = widgets.HTML()

    def show(_change: object = None) -> None:
        try:
            uri = ecr_uri(account.value.strip(), region_box.value, repo.value, tag_box.value)
        except ValueError as error:
            result.value = f"<span style='color:#b3261e'>&#10008; {html.escape(str(error))}</span>"
            return
        parts = parse_image_uri(uri)
        result.value = (
            f"<code style='font-size:110%'>{html.escape(uri)}</code><br>"
            f"registry <code>{html.escape(parts.registry or '')}</code> · repository <code>{html.escape(parts.repository)}</code> · tag "
            f"<code>{html.escape(parts.tag or '')}</code>"
        )

    for box in (account, region_box, repo, tag_box):
        box.observe(show, names="value")
    show()
    return widgets.VBox([account, region_box, repo, tag_box, result])


# -- the authorization token -------------------------------------------------------------------


@dataclass(frozen=True)
class RegistryLogin:
    """What ``get_authorization_token`` gives: a user (always ``AWS``), a password, a registry, an expiry."""

    username: str
    password: str
    registry: str
    expires_at: datetime

    @property
    def auth_config(self) -> dict[str, str]:
        """What the docker SDK's ``push``/``pull`` take as ``auth_config``."""
        return {"username": self.username, "password": self.password}

    @property
    def masked_password(self) -> str:
        return f"{self.password[:6]}…({len(self.password)} characters)"

    def expires_in(self, now: datetime | None = None) -> float:
        """Seconds until the token expires (negative once it has)."""
        return (self.expires_at - (now or datetime.now(UTC))).total_seconds()

    def __repr__(self) -> str:
        return (
            f"RegistryLogin(username={self.username!r}, "
            f"password={self.masked_password!r}, registry={self.registry!r}, expires_at={self.expires_at.isoformat(timespec='seconds')!r})"
        )


def decode_token(authorization_data: dict[str, Any]) -> RegistryLogin:
    """Decode one entry of ``get_authorization_token()["authorizationData"]``.

    The token is base64 of ``AWS:PASSWORD``; the CLI's ``aws ecr get-login-password``
    prints exactly that PASSWORD.
    """
    decoded = base64.b64decode(authorization_data["authorizationToken"]).decode()
    username, _, password = decoded.partition(":")
    registry = re.sub(r"^https?://", "", authorization_data["proxyEndpoint"])
    return RegistryLogin(username, password, registry, authorization_data["expiresAt"])


def get_login(ecr: Any) -> RegistryLogin:
    """``ecr.get_authorization_token()``, decoded."""
    return decode_token(ecr.get_authorization_token()["authorizationData"][0])


def docker_login(docker: Any, login: RegistryLogin) -> str:
    """``docker login --username AWS --password-stdin REGISTRY``; returns docker's status."""
    from docker.errors import APIError

    try:
        answer = docker.login(username=login.username, password=login.password, registry=login.registry, reauth=True)
    except APIError as error:
        message = str(error.explanation or error)
        raise EcrError(f"{message}\nHint: {explain_message(message)}") from None
    return str(answer.get("Status", "Login Succeeded"))


# -- pushing -------------------------------------------------------------------------------


@dataclass
class LayerPush:
    layer: str
    status: str = "waiting"
    current: int = 0
    total: int = 0


@dataclass
class PushResult:
    """What ``docker push`` reported: the digest and size of the manifest, and each layer's fate."""

    image_uri: str
    digest: str
    manifest_size: int
    layers: list[LayerPush] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def uploaded(self) -> list[str]:
        return [layer.layer for layer in self.layers if layer.status == "Pushed"]

    @property
    def already_there(self) -> list[str]:
        return [layer.layer for layer in self.layers if layer.status == "Layer already exists"]

    @property
    def mounted(self) -> list[str]:
        """Layers the registry copied from another of its repositories ("Mounted from ..."): nothing uploaded."""
        return [layer.layer for layer in self.layers if layer.status.startswith("Mounted from")]

    def fates(self) -> dict[str, list[str]]:
        """Layers by what the push did with them (the keys of :data:`PUSH_FATES`)."""
        return {"uploaded": self.uploaded, "mounted from another repository": self.mounted, "already there": self.already_there}

    def summary(self) -> str:
        parts = [f"{len(self.uploaded)} uploaded", f"{len(self.already_there)} already there"]
        if self.mounted:
            parts.append(f"{len(self.mounted)} mounted from another repository")
        return ", ".join(parts)

    def __repr__(self) -> str:
        return f"PushResult({self.image_uri!r}, digest={self.digest[:19]}…, layers: {self.summary()})"


def push_image(
    docker: Any, image: str, repository_uri: str, tag: str, login: RegistryLogin, show_progress: bool = True
) -> PushResult:
    """``docker tag IMAGE URI:TAG`` then ``docker push URI:TAG``, with per-layer progress.

    Raises :class:`EcrError` with the registry's words and a hint when the push is refused.
    """
    from ecslab.progress import LayerProgress

    problems = tag_problems(tag)
    if problems:
        raise EcrError(f"Invalid tag {tag!r}: {problems[0]}.")
    docker.images.get(image).tag(repository_uri, tag)
    progress = LayerProgress(f"docker push {repository_uri}:{tag}", enabled=show_progress)
    layers: dict[str, LayerPush] = {}
    started = time.monotonic()
    digest, size = "", 0
    for event in docker.images.push(repository_uri, tag, stream=True, decode=True, auth_config=login.auth_config):
        if "error" in event:
            progress.done("refused")
            message = event["error"]
            raise EcrError(f"{message}\nHint: {explain_message(message)}")
        if "aux" in event and "Digest" in event["aux"]:
            digest, size = event["aux"]["Digest"], int(event["aux"].get("Size", 0))
        layer_id = event.get("id")
        if layer_id and event.get("status") and layer_id != tag:
            entry = layers.setdefault(layer_id, LayerPush(layer_id))
            entry.status = event["status"]
            detail = event.get("progressDetail") or {}
            entry.current, entry.total = int(detail.get("current", entry.current)), int(detail.get("total", entry.total))
            progress.update(layer_id, entry.status, entry.current, entry.total)
    seconds = time.monotonic() - started
    result = PushResult(f"{repository_uri}:{tag}", digest, size, list(layers.values()), seconds)
    progress.done(f"pushed in {seconds:.1f} s; layers: {result.summary()}")
    return result


PUSH_FATES = (("uploaded", "#ff9900"), ("mounted from another repository", "#7aa6d6"), ("already there", "#1b7f3b"))


def layer_sizes(ecr: Any, repository: str, digest: str, image: Any) -> dict[str, int]:
    """Compressed size of each layer of a pushed image, keyed as ``docker push`` names layers.

    ``docker push`` names a layer by the first 12 hex digits of its *diff ID* (the digest
    of the uncompressed layer, ``image.attrs["RootFS"]["Layers"]``); the manifest ECR
    keeps (``batch_get_image``) lists the same layers, in the same order, compressed.
    """
    manifest = json.loads(
        ecr.batch_get_image(repositoryName=repository, imageIds=[{"imageDigest": digest}])["images"][0]["imageManifest"]
    )
    diff_ids = image.attrs["RootFS"]["Layers"]
    return {
        diff_id.removeprefix("sha256:")[:12]: int(layer["size"])
        for diff_id, layer in zip(diff_ids, manifest["layers"], strict=True)
    }


def plot_pushes(pushes: dict[str, PushResult], sizes: dict[str, int] | None = None, ax: Any | None = None) -> Any:
    """Notebook 03: one bar per push, its layers split by fate (uploaded, mounted, already there), with its time.

    With ``sizes`` (:func:`layer_sizes`, layer to compressed bytes) the bars are megabytes,
    else layer counts. Only layers the repository lacks travel over the network: the chart
    shows why the first push of an image is slow and the next ones are not.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.55 * len(pushes) + 1.6))
    labels = list(pushes)
    left = [0.0] * len(labels)
    for fate, colour in PUSH_FATES:
        amounts = [
            sum(sizes.get(layer, 0) / 1e6 if sizes is not None else 1.0 for layer in push.fates()[fate])
            for push in pushes.values()
        ]
        ax.barh(range(len(labels)), amounts, left=left, color=colour, label=fate)
        left = [a + b for a, b in zip(left, amounts, strict=True)]
    for index, push in enumerate(pushes.values()):
        ax.text(left[index], index, f"  {push.seconds:.1f} s", va="center", fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, max(left + [1.0]) * 1.2)
    ax.set_xlabel("megabytes of layers (compressed)" if sizes is not None else "layers of the image")
    ax.set_title("What each push did with the image's layers, and how long it took", fontsize=10)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=3, fontsize=8, frameon=False)
    return ax


def local_references(docker: Any, repository_uri: str) -> list[str]:
    """Every name this machine's Docker engine keeps under ``repository_uri``.

    Tags (``URI:TAG``, made by ``docker tag``) and digest references (``URI@sha256:...``,
    recorded by ``docker push`` and ``docker pull``). Notebook 03's cleanup removes them.
    """
    references: list[str] = []
    for image in docker.api.images():  # one call: images.list() inspects each image and fails when one goes meanwhile
        references += [tag for tag in image.get("RepoTags") or [] if tag.startswith(f"{repository_uri}:")]
        references += [digest for digest in image.get("RepoDigests") or [] if digest.startswith(f"{repository_uri}@")]
    return references


# -- looking at a repository --------------------------------------------------------------------


def image_records(ecr: Any, repository: str) -> list[ImageRecord]:
    """Every image of a repository (tagged or not), oldest first."""
    details = ecr.describe_images(repositoryName=repository)["imageDetails"]
    records = [
        ImageRecord(
            d["imageDigest"],
            list(d.get("imageTags", [])),
            d["imagePushedAt"],
            int(d.get("imageSizeInBytes", 0)),
            last_pulled_at=d.get("lastRecordedPullTime"),
            storage_class="archive" if d.get("imageStatus") == "ARCHIVED" else "standard",
            transitioned_at=d.get("lastArchivedAt"),
        )
        for d in details
    ]
    return sorted(records, key=lambda record: record.pushed_at)


def images_table(ecr: Any, repository: str) -> Any:
    """``describe_images`` as a table: tags, short digest, size, push time (what the ECR console shows)."""
    from IPython.display import HTML

    from ecslab.images import human_size

    rows = "".join(
        f"<tr><td>{html.escape(', '.join(r.tags) or '(untagged)')}</td><td><code>{r.digest[:19]}…</code></td>"
        f"<td>{human_size(r.size)}</td><td>{r.pushed_at.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}</td></tr>"
        for r in image_records(ecr, repository)
    )
    return HTML(f"<table><tr><th>tags</th><th>digest</th><th>size</th><th>pushed at (UTC)</th></tr>{rows}</table>")


def plot_repository(repository: str, records: list[ImageRecord], ax: Any | None = None) -> Any:
    """Notebook 03: a repository, its images (digest, size) and the tags that point at them.

    Drawn from ``image_records`` (``describe_images``), oldest image left. A tag is a
    name on one image; an image without tags is still there, reachable by digest.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    from ecslab.diagrams import GREY, NAVY, ORANGE
    from ecslab.images import human_size

    width = max(len(records), 1) * 2.4 + 0.4
    if ax is None:
        _, ax = plt.subplots(figsize=(max(width, 5.0), 3.6))
    ax.set_xlim(0, max(width, 5.0))
    ax.set_ylim(0, 4.2)
    ax.axis("off")
    ax.add_patch(
        FancyBboxPatch(
            (0.1, 0.15), max(width, 5.0) - 0.2, 2.75, boxstyle="round,pad=0.02", fill=False, edgecolor=NAVY, linestyle="--"
        )
    )
    ax.text(0.25, 2.7, f"repository {repository}", fontsize=9, fontweight="bold", color=NAVY, va="center")
    if not records:
        ax.text(max(width, 5.0) / 2, 1.4, "(no images)", ha="center", fontsize=9, color=NAVY)
    for index, record in enumerate(records):
        x = 0.4 + index * 2.4
        ax.add_patch(FancyBboxPatch((x, 0.45), 2.0, 1.6, boxstyle="round,pad=0.02", facecolor=GREY, edgecolor=NAVY))
        ax.text(x + 1.0, 1.7, "image", ha="center", fontsize=8.5, fontweight="bold", color=NAVY)
        ax.text(x + 1.0, 1.25, record.digest[:19] + "…", ha="center", fontsize=7, family="monospace", color=NAVY)
        ax.text(x + 1.0, 0.8, human_size(record.size), ha="center", fontsize=7.5, color=NAVY)
        tags = record.tags or []
        if not tags:
            ax.text(x + 1.0, 3.45, "(untagged)", ha="center", fontsize=8, style="italic", color=NAVY)
        for slot, tag in enumerate(tags):
            tag_x = x + 1.0 + (slot - (len(tags) - 1) / 2) * 0.9
            ax.text(
                tag_x,
                3.45,
                tag,
                ha="center",
                va="center",
                fontsize=8,
                bbox={"boxstyle": "round", "facecolor": ORANGE, "edgecolor": NAVY},
            )
            ax.annotate("", xy=(x + 1.0, 2.08), xytext=(tag_x, 3.25), arrowprops={"arrowstyle": "->", "color": NAVY})
    ax.set_title("tags (movable names) → images (content, named by digest), oldest left", fontsize=10)
    return ax


# -- lifecycle policies ---------------------------------------------------------------------


def lifecycle_preview(ecr: Any, repository: str, policy_text: str | None = None, timeout: float = 60.0) -> list[dict[str, Any]]:
    """What a lifecycle policy would expire now: ECR's ``previewResults``.

    Uses ``start_lifecycle_policy_preview`` / ``get_lifecycle_policy_preview``, which AWS
    runs asynchronously (polled here) and the lab answers at once.
    """
    arguments = {"repositoryName": repository}
    if policy_text is not None:
        arguments["lifecyclePolicyText"] = policy_text
    ecr.start_lifecycle_policy_preview(**arguments)
    deadline = time.monotonic() + timeout
    while True:
        preview = ecr.get_lifecycle_policy_preview(repositoryName=repository)
        if preview["status"] != "IN_PROGRESS" or time.monotonic() > deadline:
            break
        time.sleep(2)
    if preview["status"] != "COMPLETE":
        raise EcrError(f"The lifecycle preview ended {preview['status']}.\nHint: check the policy with get_lifecycle_policy.")
    return list(preview.get("previewResults", []))


def apply_lifecycle_policy(ecr: Any, repository: str) -> list[str]:
    """Expire now what the repository's lifecycle policy selects; returns the deleted digests.

    AWS applies lifecycle policies by itself, within 24 hours of a change. The lab
    never does it behind your back: this function does it when asked, through the
    same ``batch_delete_image`` call you could make yourself.
    """
    results = lifecycle_preview(ecr, repository)
    archived = [result["imageDigest"] for result in results if result["action"]["type"] == "TRANSITION"]
    if archived:  # AWS would move these to the archive class; the lab has none, and says so instead of pretending
        print(
            f"{len(archived)} image(s) would be archived on AWS (a 'transition' rule); the lab has no archive and leaves them as they are."
        )
    digests = [result["imageDigest"] for result in results if result["action"]["type"] == "EXPIRE"]
    if digests:
        ecr.batch_delete_image(repositoryName=repository, imageIds=[{"imageDigest": digest} for digest in digests])
    return digests


def lifecycle_playground(images: Iterable[ImageRecord], now: datetime | None = None) -> Any:
    """A widget: build one lifecycle rule and see which of ``images`` it would expire, on a timeline.

    Notebook 03. The chart is drawn to a PNG and put into the widget directly (no
    ``plt.show`` while the cell runs), and the widget's text form is one line saying what
    would expire, so the notebook's stored output stays readable and comparable.
    """
    import ipywidgets as widgets
    from IPython.display import Image

    records = sorted(images, key=lambda record: record.pushed_at)
    now = now or datetime.now(UTC)
    status = widgets.Dropdown(options=["tagged", "untagged", "any"], value="tagged", description="tagStatus")
    prefix = widgets.Text(value="v", description="prefix")
    count_type = widgets.Dropdown(
        options=["imageCountMoreThan", "sinceImagePushed", "sinceImagePulled"],
        value="imageCountMoreThan",
        description="countType",
    )
    number = widgets.IntSlider(value=2, min=1, max=10, description="countNumber")
    verdict = widgets.HTML()
    chart = widgets.Output()
    summary = {"text": ""}

    class LifecyclePlayground(widgets.VBox):
        def __repr__(self) -> str:
            return f"LifecyclePlayground({len(records)} images; {summary['text']})"

    def policy() -> str:
        return _one_rule_policy(status.value, prefix.value, count_type.value, number.value)

    def show(_change: object = None) -> None:
        prefix.disabled = status.value != "tagged"
        try:
            result = evaluate(policy(), records, now)
        except LifecyclePolicyError as error:
            verdict.value = f"<span style='color:#b3261e'>{html.escape(str(error))}</span>"
            summary["text"] = f"invalid rule: {error}"
            return
        gone = {v.image.digest for v in result.expired}
        names = ", ".join(", ".join(r.tags) or f"untagged {r.digest[7:19]}" for r in records if r.digest in gone) or "none"
        selection = json.dumps(json.loads(policy())["rules"][0]["selection"])
        summary["text"] = f"{selection} would expire {len(gone)}: {names}"
        verdict.value = (
            f"<pre>{html.escape(selection)}</pre><b>{len(gone)} of {len(records)} images would expire</b>: {html.escape(names)}"
        )
        chart.outputs = ()
        chart.append_display_data(Image(data=_timeline_png(records, gone), format="png"))

    for control in (status, prefix, count_type, number):
        control.observe(show, names="value")
    show()
    return LifecyclePlayground([widgets.HBox([status, prefix]), widgets.HBox([count_type, number]), verdict, chart])


def _one_rule_policy(tag_status: str, prefix: str, count_type: str, count_number: int) -> str:
    """The lifecycle policy of :func:`lifecycle_playground`: one expire rule."""
    selection: dict[str, object] = {"tagStatus": tag_status, "countType": count_type, "countNumber": count_number}
    if tag_status == "tagged":
        selection["tagPrefixList"] = [prefix]
    if count_type != "imageCountMoreThan":
        selection["countUnit"] = "days"
    return json.dumps({"rules": [{"rulePriority": 1, "selection": selection, "action": {"type": "expire"}}]})


def _timeline_png(records: list[ImageRecord], gone: set[str]) -> bytes:
    """The playground's chart: pushed images on a time line, red those that expire."""
    import io

    import matplotlib.pyplot as plt
    from matplotlib.dates import date2num

    figure, ax = plt.subplots(figsize=(8, 1.8))
    for index, record in enumerate(records):
        colour = "#b3261e" if record.digest in gone else "#1b7f3b"
        when = float(date2num(record.pushed_at))
        ax.scatter([when], [0], s=160, color=colour, zorder=3)
        ax.annotate(
            ", ".join(record.tags) or "untagged",
            (when, 0),
            xytext=(0, 12 if index % 2 else -18),
            textcoords="offset points",
            ha="center",
            fontsize=8,
        )
    ax.xaxis_date()
    ax.set_yticks([])
    ax.set_title("pushed images, oldest left: red expires, green stays", fontsize=9)
    figure.autofmt_xdate()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(figure)  # else the inline backend shows it again under the cell
    return buffer.getvalue()


def check_policy(policy_text: str) -> list[str]:
    """Validate a lifecycle policy locally; returns the rules' descriptions in evaluation order."""
    return [
        f"rule {rule.priority}: {rule.tag_status}, {rule.count_type} {rule.count_number}"
        + (" → archive" if rule.action == "transition" else "")
        for rule in parse_policy(policy_text)
    ]


# -- errors --------------------------------------------------------------------------------

_HINTS = [
    (
        "no basic auth credentials",
        "log in first: login = ecslab.ecr.get_login(lab.ecr); ecslab.ecr.docker_login(lab.docker, login) (CLI: aws ecr get-login-password | docker "
        "login --username AWS --password-stdin REGISTRY).",
    ),
    ("authentication required", "log in first with the token from get_authorization_token (user AWS)."),
    ("token has expired", "tokens last 12 hours: call get_authorization_token again and log in with the new token."),
    (
        "token is invalid",
        "the password is the part after 'AWS:' of the base64-decoded authorizationToken; get a fresh one with get_authorization_token.",
    ),
    (
        "does not exist in the registry",
        "create the repository first: lab.ecr.create_repository(repositoryName=...), then push to its repositoryUri.",
    ),
    (
        "repository is immutable",
        "tags in an IMMUTABLE repository never move: push under a new tag (e.g. v2), or make it MUTABLE with put_image_tag_mutability.",
    ),
    ("cannot be deleted because it still contains images", "delete its images first, or pass force=True to delete_repository."),
    ("already exists in the registry", "use describe_repositories(repositoryNames=[...]) to get the existing repository's URI."),
    (
        "failed to satisfy constraint: 'must satisfy regular expression",
        "repository names are lower case: letters, digits and single '.', '_', '-' between them, '/' for namespaces (e.g. team/aws-node-demo).",
    ),
    (
        "Lifecycle policy validation failure",
        "see the rule named in the message; ecslab.ecr.check_policy(text) checks a policy before you put it.",
    ),
    ("does not exist within the repository", "list what is there with describe_images(repositoryName=...)."),
    (
        "Image scan does not exist",
        "no scan has run for this image yet: start one with start_image_scan(repositoryName=..., imageId=...).",
    ),
]


def explain_message(message: str) -> str:
    for fragment, hint in _HINTS:
        if fragment.lower() in message.lower():
            return hint
    return "see ECR's message above; `ecslab doctor` checks that the lab's registry answers."


def explain(error: Exception) -> str:
    """ECR's words for an error (a boto3 ClientError, a registry error) plus one line on what to do."""
    response = getattr(error, "response", None)
    if isinstance(response, dict) and "Error" in response:
        code, message = response["Error"].get("Code", ""), response["Error"].get("Message", "")
        text = f"{code}: {message}"
    else:
        text = str(error).split("\nHint:")[0]
    return f"{text}\nHint: {explain_message(text)}"
