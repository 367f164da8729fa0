# The course image: JupyterLab, ecslab, the notebooks, a Docker engine of its own (Docker in
# Docker), Debian's registry and the sample app's base image, in one container.
#
#   bash scripts/course-image.sh build     # builds it on this machine (the usual way)
#   docker build -t ecslab-course .         # the same with a base image you can pull
#
# Works with the legacy builder (no BuildKit features). BASE is what a real user pulls, pinned
# to the Debian release the course's CI tests (bookworm); where nothing can be pulled, pass the
# base that `ecslab base-image` makes (`--build-arg BASE=ecslab/python-base:bookworm`), which has
# python3 but no venv/pip: the build then installs python3-venv with apt.
# SAMPLE_BASE is the sample app's base image (see ecslab/app/Dockerfile): it ships inside the
# image as a compressed root file system and is imported into the inner engine on first start.
ARG BASE=python:3.11-slim-bookworm
ARG SAMPLE_BASE=python:3.12-slim

# -- the sample app's base image, as a tarball the inner engine can import ----------------------
FROM ${SAMPLE_BASE} AS sample-base
RUN mkdir /out && tar --one-file-system -C / \
        --exclude=./out --exclude=./proc --exclude=./sys --exclude=./dev \
        --exclude=./etc/hostname --exclude=./etc/hosts --exclude=./etc/resolv.conf \
        -cf - . | gzip -6 > /out/sample-base.tar.gz

# -- the Python environment, built in a stage that is thrown away (it may hold a CA bundle) -----
FROM ${BASE} AS venv
ARG DEBIAN_FRONTEND=noninteractive
RUN if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then \
        apt-get update -qq && apt-get install -y -qq --no-install-recommends python3-venv >/dev/null \
        && rm -rf /var/lib/apt/lists/*; \
    fi \
    && python3 -m venv /opt/ecslab/venv
# Extra CA certificates for a TLS-intercepting network (course-image/ca/*.crt; none by default), added
# to pip's own bundle. This stage is thrown away: no certificate reaches the course image.
COPY course-image/ca/ /tmp/ca/
RUN cat "$(/opt/ecslab/venv/bin/python -c 'import pip._vendor.certifi as c; print(c.where())')" \
        $(ls /tmp/ca/*.crt 2>/dev/null) > /tmp/ca/bundle.pem
ENV PIP_CERT=/tmp/ca/bundle.pem REQUESTS_CA_BUNDLE=/tmp/ca/bundle.pem \
    PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_ROOT_USER_ACTION=ignore
# Dependencies first (a stub package), so a change in ecslab's code reuses this layer.
# JUPYTERHUB: the single-user server must be on the hub's major version (workshop/start.sh runs
# JupyterHub 6; the Zero to JupyterHub chart checked runs 5.5: build with "jupyterhub>=5.5,<6").
ARG JUPYTERHUB="jupyterhub>=5,<7"
COPY pyproject.toml /src/pyproject.toml
RUN cd /src && mkdir ecslab && touch ecslab/__init__.py README.md \
    && /opt/ecslab/venv/bin/pip install -q . \
        "${JUPYTERHUB}" \
        "pytest>=8,<10" "nbval>=0.11,<0.12" \
    && /opt/ecslab/venv/bin/pip uninstall -q -y ecslab && rm -rf /src
# jupyterhub: its single-user server (`jupyterhub-singleuser`), so a JupyterHub can spawn this
# image (about 35 MB with SQLAlchemy). pytest and nbval: the course's checks run inside too.

# -- ecslab itself, as a wheel: a change in its code leaves the big layer above untouched ----------
FROM venv AS wheel
COPY pyproject.toml README.md /src/
COPY ecslab /src/ecslab
RUN /opt/ecslab/venv/bin/pip wheel -q --no-deps -w /wheels /src

# -- the course image ----------------------------------------------------------------------------
FROM ${BASE}
ARG DEBIAN_FRONTEND=noninteractive
ARG SAMPLE_BASE
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends \
        docker.io docker-registry tini iproute2 procps ca-certificates >/dev/null \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
COPY --from=sample-base /out/sample-base.tar.gz /opt/ecslab/sample-base.tar.gz
RUN echo "${SAMPLE_BASE}" > /opt/ecslab/sample-base.name
COPY --from=venv /opt/ecslab/venv /opt/ecslab/venv
COPY --from=wheel /wheels /tmp/wheels
RUN /opt/ecslab/venv/bin/pip install -q --no-deps --no-index --no-cache-dir --disable-pip-version-check \
        --root-user-action=ignore /tmp/wheels/*.whl \
    && rm -rf /tmp/wheels
# No "Jupyter news?" pop-up for learners.
COPY course-image/jupyter-overrides.json /opt/ecslab/venv/share/jupyter/lab/settings/overrides.json
COPY notebooks /opt/ecslab/course/notebooks
COPY exercises /opt/ecslab/course/exercises
COPY solutions /opt/ecslab/course/solutions
COPY tests/nbval-sanitize.cfg /opt/ecslab/course/tests/nbval-sanitize.cfg
COPY course-image/entrypoint.sh /usr/local/bin/ecslab-course-entrypoint
COPY course-image/ecslab-engine.sh /usr/local/bin/ecslab-engine

# ECSLAB_ENGINE_RESTART: how to restart the inner engine when it died (for `ecslab doctor`).
ENV PATH=/opt/ecslab/venv/bin:$PATH \
    ECSLAB_HOME=/var/lib/ecslab \
    ECSLAB_COURSE_DIR=/course \
    ECSLAB_ENGINE_RESTART="ecslab-engine start" \
    PYTHONDONTWRITEBYTECODE=1
# The inner engine's data (overlay2 needs a volume: it cannot run on the image's own overlay),
# and the learner's work (notebooks, exercises and solutions are copied in on first start).
VOLUME ["/var/lib/docker", "/course"]
WORKDIR /course
EXPOSE 8888
# Started with no command: engine, lab, then JupyterLab on port 8888. With a command (e.g.
# `jupyterhub-singleuser` when a JupyterHub spawns it, or `bash`), that runs instead of JupyterLab.
ENTRYPOINT ["tini", "--", "/usr/local/bin/ecslab-course-entrypoint"]
LABEL org.opencontainers.image.title="ecslab course" \
      org.opencontainers.image.description="Amazon ECR & ECS course: JupyterLab, a local AWS lab and a Docker engine of its own (needs --privileged)"
