"""CloudWatch from the learner's side: logs, metric charts, alarms, history.

Notebook 08 introduces everything here; the lecture notes' monitoring table maps to
it row by row: CloudWatch Logs (:func:`log_lines`, :func:`search_logs`), CloudWatch
Metrics (:func:`metric_series`, :func:`plot_dashboard`, :func:`metric_widget`), the
ECS console's task health and event history (:func:`service_history`), the ECR
console's push history (:func:`push_history`). Every function takes the boto3 client
it uses, so the same calls work against the lab and a real account.
"""

from __future__ import annotations

import html
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any


def awslogs_configuration(group: str, region: str, prefix: str = "ecs", create_group: bool = True) -> dict[str, Any]:
    """A container definition's ``logConfiguration`` for the awslogs driver."""
    return {
        "logDriver": "awslogs",
        "options": {
            "awslogs-group": group,
            "awslogs-region": region,
            "awslogs-stream-prefix": prefix,
            "awslogs-create-group": str(create_group).lower(),
        },
    }


def log_lines(logs: Any, group: str, stream: str, last: int = 20) -> list[str]:
    """The last lines of one log stream (``get_log_events``)."""
    events = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=False, limit=last)["events"]
    return [event["message"] for event in events]


def search_logs(logs: Any, group: str, pattern: str, minutes: int = 60) -> list[dict[str, Any]]:
    """``filter_log_events`` across all streams of a group: stream, time and message of each match.

    One call returns at most 10,000 events (or 1 MB); the pages after it come with ``nextToken``.
    """
    start = int((datetime.now(UTC) - timedelta(minutes=minutes)).timestamp() * 1000)
    request: dict[str, Any] = {"logGroupName": group, "filterPattern": pattern, "startTime": start}
    events: list[dict[str, Any]] = []
    while True:
        page = logs.filter_log_events(**request)
        events += page["events"]
        if not page.get("nextToken") or not page["events"]:
            break
        request["nextToken"] = page["nextToken"]
    return [
        {"stream": e["logStreamName"], "time": datetime.fromtimestamp(e["timestamp"] / 1000, UTC), "message": e["message"]}
        for e in events
    ]


def service_dimensions(cluster: str, service: str) -> list[dict[str, str]]:
    """The dimensions AWS/ECS uses for a service's CPUUtilization and MemoryUtilization."""
    return [{"Name": "ClusterName", "Value": cluster}, {"Name": "ServiceName", "Value": service}]


def metric_series(
    cloudwatch: Any,
    namespace: str,
    metric: str,
    dimensions: list[dict[str, str]],
    statistic: str = "Average",
    period: int = 60,
    minutes: int = 15,
    since: datetime | None = None,
) -> tuple[list[datetime], list[float]]:
    """One metric over the last ``minutes`` (or from ``since`` on) as (times, values), from ``get_metric_data``.

    Metrics outlive the services that published them: a service deleted and created again
    under the same name continues the same series, so ``since`` keeps an earlier run out.
    """
    now = datetime.now(UTC)
    answer = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "m",
                "MetricStat": {
                    "Metric": {"Namespace": namespace, "MetricName": metric, "Dimensions": dimensions},
                    "Period": period,
                    "Stat": statistic,
                },
            }
        ],
        StartTime=since or now - timedelta(minutes=minutes),
        EndTime=now,
    )["MetricDataResults"][0]
    pairs = sorted(zip(answer["Timestamps"], answer["Values"], strict=True))
    return [p[0] for p in pairs], [p[1] for p in pairs]


def plot_dashboard(
    cloudwatch: Any,
    cluster: str,
    services: list[str],
    period: int = 10,
    minutes: int = 10,
    statistic: str = "Average",
    since: datetime | None = None,
    highlight: tuple[datetime, datetime] | None = None,
    highlight_label: str = "load",
) -> Any:
    """CPU and memory utilization of each service, one panel each, like a CloudWatch dashboard.

    ``highlight`` shades a time span (when load was applied, say). Returns the figure; call
    ``plt.show()`` to draw it once (a returned figure is drawn twice by the inline backend).
    """
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(11, 3.2), sharex=True)
    for ax, metric in zip(axes, ("CPUUtilization", "MemoryUtilization"), strict=True):
        for service in services:
            times, values = metric_series(
                cloudwatch, "AWS/ECS", metric, service_dimensions(cluster, service), statistic, period, minutes, since
            )
            ax.plot(times, values, marker=".", label=service)
        if highlight is not None:
            ax.axvspan(highlight[0], highlight[1], color="#ff9900", alpha=0.15, label=highlight_label)
        ax.set_title(f"AWS/ECS {metric} ({statistic}, {period} s)", fontsize=9)
        ax.set_ylabel("percent of reserved")
        ax.set_ylim(0, max(105.0, ax.get_ylim()[1]))  # the whole scale: 2% should look small
        ax.legend(fontsize=8)
    figure.autofmt_xdate()
    return figure


class MetricWidget:
    """What :func:`metric_widget` returns: the controls (``metric``, ``statistic``, ``period``) and the chart.

    Set a control's ``value`` in code or in the browser: the chart is redrawn from
    ``get_metric_data``. ``title`` says what the chart shows now; the text form is that title,
    so a notebook's stored output stays readable.
    """

    def __init__(self, cloudwatch: Any, cluster: str, service: str, since: datetime | None = None, minutes: int = 15) -> None:
        import ipywidgets as widgets

        self.cloudwatch, self.cluster, self.service, self.since, self.minutes = cloudwatch, cluster, service, since, minutes
        self.metric = widgets.Dropdown(options=["CPUUtilization", "MemoryUtilization"], description="metric")
        self.statistic = widgets.Dropdown(options=["Average", "Maximum", "Minimum", "SampleCount"], description="statistic")
        self.period = widgets.Dropdown(options=[10, 30, 60], value=10, description="period s")
        self.chart = widgets.Output()
        self.title = ""
        self.points = 0
        owner = self

        class MetricWidgetView(widgets.VBox):
            def __repr__(self) -> str:
                return repr(owner)

        self.view = MetricWidgetView([widgets.HBox([self.metric, self.statistic, self.period]), self.chart])
        for control in (self.metric, self.statistic, self.period):
            control.observe(self.redraw, names="value")
        self.redraw()

    def redraw(self, _change: Any = None) -> None:
        """Ask CloudWatch again with the chosen metric, statistic and period, and draw the answer."""
        import io

        import matplotlib.pyplot as plt
        from IPython.display import Image

        times, values = metric_series(
            self.cloudwatch,
            "AWS/ECS",
            self.metric.value,
            service_dimensions(self.cluster, self.service),
            self.statistic.value,
            self.period.value,
            self.minutes,
            self.since,
        )
        self.points = len(values)
        self.title = f"{self.service}: {self.metric.value}, {self.statistic.value} per {self.period.value} s"
        figure, ax = plt.subplots(figsize=(8, 2.6))
        ax.plot(times, values, marker="o", color="#ff9900")  # type: ignore[arg-type]
        ax.set_title(f"{self.title} ({self.points} datapoints)", fontsize=9)
        ax.set_ylabel("Count" if self.statistic.value == "SampleCount" else "percent of reserved")
        figure.autofmt_xdate()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", bbox_inches="tight")
        plt.close(figure)  # drawn into the widget, not again under the cell
        self.chart.outputs = ()
        self.chart.append_display_data(Image(data=buffer.getvalue(), format="png"))

    def __repr__(self) -> str:
        return f"MetricWidget({self.title})"

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.view)


def metric_widget(cloudwatch: Any, cluster: str, service: str, since: datetime | None = None, minutes: int = 15) -> MetricWidget:
    """Pick a metric, a statistic and a period; the chart redraws from ``get_metric_data``."""
    return MetricWidget(cloudwatch, cluster, service, since, minutes)


def alarm_history(cloudwatch: Any, alarm: str) -> list[dict[str, Any]]:
    """State changes of an alarm, oldest first: time, from, to, reason."""
    items = cloudwatch.describe_alarm_history(AlarmName=alarm, HistoryItemType="StateUpdate")["AlarmHistoryItems"]
    rows = []
    for item in sorted(items, key=lambda i: i["Timestamp"]):
        data = json.loads(item.get("HistoryData") or "{}")
        rows.append(
            {
                "time": item["Timestamp"],
                "from": data.get("oldState", {}).get("stateValue"),
                "to": data.get("newState", {}).get("stateValue"),
                "summary": item["HistorySummary"],
            }
        )
    return rows


def service_history(ecs: Any, cluster: str, service: str, last: int = 15) -> list[str]:
    """The service's event history, oldest first (what the ECS console shows under Events)."""
    events = ecs.describe_services(cluster=cluster, services=[service])["services"][0]["events"][:last]
    return [f"{e['createdAt']:%H:%M:%S}  {e['message']}" for e in reversed(events)]


def stopped_tasks(ecs: Any, cluster: str, service: str) -> list[dict[str, Any]]:
    """Why the service's tasks stopped: stop code, reason and exit codes (task health history)."""
    arns = ecs.list_tasks(cluster=cluster, serviceName=service, desiredStatus="STOPPED")["taskArns"]
    if not arns:
        return []
    tasks = ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"]
    return [
        {
            "task": t["taskArn"].split("/")[-1][:8],
            "stopCode": t.get("stopCode"),
            "reason": t.get("stoppedReason"),
            "exitCodes": [c.get("exitCode") for c in t["containers"]],
        }
        for t in sorted(tasks, key=lambda t: t["createdAt"])
    ]


def push_history(ecr: Any, repository: str) -> Any:
    """The ECR console's view of a repository: each image version by push time, as an HTML table."""
    from IPython.display import HTML

    details = sorted(ecr.describe_images(repositoryName=repository)["imageDetails"], key=lambda d: d["imagePushedAt"])
    rows = "".join(
        f"<tr><td>{d['imagePushedAt']:%Y-%m-%dT%H:%M:%SZ}</td><td>{html.escape(', '.join(d.get('imageTags', [])) or '(untagged)')}</td>"
        f"<td><code>{d['imageDigest'][:19]}…</code></td><td>{d.get('imageSizeInBytes', 0) / 1e6:.1f} MB</td></tr>"
        for d in details
    )
    return HTML(f"<table><tr><th>pushed at</th><th>tags</th><th>digest</th><th>size</th></tr>{rows}</table>")


def seconds_until_logged(logs: Any, group: str, stream: str, url: str, timeout: float = 10) -> float | None:
    """Notebook 08: GET ``url`` (a path nobody else calls), then poll the log stream every 20 ms for that path.

    Returns the seconds from the answer until a line naming the path is in ``stream``; None after
    ``timeout`` seconds. An HTTP error (a 404) counts as an answer: the app logs the request anyway."""
    import urllib.error
    import urllib.parse
    import urllib.request

    marker = urllib.parse.urlsplit(url).path
    try:
        urllib.request.urlopen(url, timeout=5).close()
    except urllib.error.HTTPError:
        pass
    sent = time.monotonic()
    while time.monotonic() - sent < timeout:
        events = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=False, limit=20)["events"]
        if any(marker in event["message"] for event in events):
            return time.monotonic() - sent
        time.sleep(0.02)
    return None
