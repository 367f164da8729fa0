"""The ``ecslab`` command: up, down, status, reset, doctor, env, base-image, cleanup, grade.

Each subcommand is a thin layer over :mod:`ecslab.lab.manage` (and
:mod:`ecslab.images` for ``base-image``, :mod:`ecslab.aws_target` for ``cleanup``, :mod:`ecslab.grade` for ``grade``);
errors print one clear message and exit non-zero instead of a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ecslab.config import LabConfig


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ecslab", description="The ecslab course's local lab (AWS APIs, registry, containers on 127.0.0.1)."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the lab in the background (idempotent)")
    up.add_argument("--install-docker", action="store_true", help="on Debian/Ubuntu as root: apt-get install docker.io first")
    sub.add_parser("down", help="stop the lab and remove every container it started")
    status = sub.add_parser("status", help="what runs where")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    sub.add_parser("reset", help="fresh AWS state and empty registry; lab containers removed")
    sub.add_parser("doctor", help="check each part of the lab and say how to fix it")
    sub.add_parser("env", help='shell exports for plain boto3 / aws CLI: eval "$(ecslab env)"')
    base = sub.add_parser("base-image", help="make the sample app's base image offline (debootstrap), or reuse it")
    base.add_argument("--mirror", help="Debian mirror (default http://deb.debian.org/debian or ECSLAB_DEBIAN_MIRROR)")
    clean = sub.add_parser(
        "cleanup", help="real AWS: delete what the course made there (tagged ecslab:course), after showing the plan"
    )
    clean.add_argument("--target", choices=["aws", "local"], help="aws (default; the local lab needs `ecslab reset` instead)")
    clean.add_argument(
        "--account", help="the 12-digit account to clean (default ECSLAB_AWS_ACCOUNT); must match your credentials"
    )
    clean.add_argument("--dry-run", action="store_true", help="print the plan, delete nothing")
    clean.add_argument("--yes", action="store_true", help="delete without asking")
    clean.add_argument(
        "--force-delete-secrets", action="store_true", help="delete secrets at once, without the 7-day recovery window"
    )
    grade = sub.add_parser(
        "grade", help="instructors: grade a folder of submitted exercise notebooks into a gradebook (or --release the exercises)"
    )
    grade.add_argument("submissions", nargs="?", type=Path, help="one notebook per learner, or one folder per learner")
    grade.add_argument("--exercise", help="grade this exercise only (e.g. 05); default: from each notebook")
    grade.add_argument("--workers", type=int, default=2, help="submissions graded at once, each on a private lab (default 2)")
    grade.add_argument("--timeout", type=float, default=300.0, help="seconds per cell and per check call (default 300)")
    grade.add_argument("--submission-timeout", type=float, default=900.0, help="seconds per submission (default 900)")
    grade.add_argument("--out", type=Path, default=Path("grades"), help="where gradebook.csv/.html and feedback/ go")
    grade.add_argument("--release-folder", type=Path, help="the released exercises (default: the course's exercises/)")
    grade.add_argument("--release", action="store_true", help="write the exercise notebooks and release.json, then stop")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "grade":
        from ecslab import grade

        try:
            return grade.main(
                args.submissions,
                args.exercise,
                args.workers,
                args.timeout,
                args.submission_timeout,
                args.out,
                args.release_folder,
                args.release,
            )
        except (OSError, ValueError) as error:
            print(f"ecslab grade: {error}", file=sys.stderr)
            return 2
    from ecslab.engine import EngineError
    from ecslab.lab import manage
    from ecslab.lab.registry import RegistryError

    try:
        config = LabConfig.from_env()
        if args.command == "up":
            manage.up(config, install_docker=args.install_docker)
        elif args.command == "down":
            manage.down(config)
        elif args.command == "status":
            result = manage.status(config)
            print(json.dumps(result.to_dict(), indent=2) if args.json else result.render())
            return 0 if result.running else 3
        elif args.command == "reset":
            manage.reset(config)
        elif args.command == "doctor":
            checks = manage.doctor(config)
            print(manage.render_checks(checks))
            return 0 if all(check.ok for check in checks) else 1
        elif args.command == "env":
            print(manage.env_exports(config))
        elif args.command == "base-image":
            from ecslab.images import make_offline_base_image

            make_offline_base_image(mirror=args.mirror)
        elif args.command == "cleanup":
            from ecslab.aws_target import run_cleanup_command

            return run_cleanup_command(args.target, args.account, args.dry_run, args.yes, args.force_delete_secrets)
    except (manage.LabError, EngineError, RegistryError, RuntimeError, ValueError) as error:
        print(f"ecslab {args.command}: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # a file or process the lab needs: say which, not a traceback
        where = f" ({error.filename})" if error.filename else ""
        print(
            f"ecslab {args.command}: {error.strerror or error}{where}. Check ECSLAB_HOME points at a folder you own "
            "(`ecslab doctor` checks the rest).",
            file=sys.stderr,
        )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
