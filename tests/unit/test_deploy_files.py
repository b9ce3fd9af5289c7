"""The deployment files agree with the code and the README: ``.env.example`` documents exactly
kitsync's settings, the image installs what the README installs and runs as non-root, and
``docker-compose.yml`` is valid (checked with ``docker-compose config`` when it is installed)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from kitsync.config import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE = ROOT / "docker-compose.yml"
README = ROOT / "README.md"

# Variables only docker-compose.yml reads (kitsync itself never does).
COMPOSE_ONLY = {"FLOWER_BASIC_AUTH", "REDIS_PASSWORD"}
KITSYNC_SERVICES = {"receiver", "worker", "beat", "flower"}

# "NAME=value" is set; "#NAME=value" is optional, shown with its default. "# text" is a comment.
_SETTING = re.compile(r"^(#?)([A-Z][A-Z0-9_]*)=(.*)$")


def _env_example() -> list[tuple[str, str, bool, str]]:
    """(name, value, set, the comment lines just above) for every variable of .env.example."""
    entries: list[tuple[str, str, bool, str]] = []
    comment: list[str] = []
    after_setting = False  # consecutive settings share the comment above them
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = _SETTING.match(line)
        if match:
            entries.append((match[2], match[3], not match[1], " ".join(comment)))
            after_setting = True
        elif line.startswith("# ") and not line.startswith("# ---"):
            if after_setting:
                comment, after_setting = [], False
            comment.append(line[2:])
        elif not line.strip():
            comment, after_setting = [], False
    return entries


def _aliases() -> set[str]:
    return {str(field.alias) for field in Settings.model_fields.values()}


# --- .env.example ------------------------------------------------------------------------------


def test_env_example_lists_exactly_the_settings() -> None:
    names = [name for name, *_ in _env_example()]
    assert len(names) == len(set(names)), "a variable appears twice"
    assert set(names) == _aliases() | COMPOSE_ONLY


def test_every_variable_is_explained() -> None:
    for name, _, _, comment in _env_example():
        assert len(comment) > 20, f"{name} has no comment above it"
        assert re.search(r"\b(Required|Optional)\b", comment), f"{name}: say if it is required"


def test_optional_lines_show_the_real_defaults(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _isolate(monkeypatch, tmp_path)
    defaults = Settings()
    by_alias = {str(field.alias): name for name, field in Settings.model_fields.items()}
    shown = {name: value for name, value, is_set, _ in _env_example() if not is_set}
    for alias, value in shown.items():
        field = by_alias[alias]
        default = getattr(defaults, field)
        if default is None:
            continue  # an alternative (KITSU_EMAIL...), not a default
        assert getattr(Settings(**{field: value}), field) == default, alias


def test_the_example_is_a_complete_valid_configuration(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _isolate(monkeypatch, tmp_path)
    shutil.copy(ENV_EXAMPLE, tmp_path / ".env")
    # Read as kitsync reads it: every part finds what it needs, no problem reported.
    settings = load_settings(["kitsu", "ayon", "redis", "webhook"])
    assert settings.ayon_db_dsn is None  # AYON is read through its API unless asked
    values = {name: value for name, value, is_set, _ in _env_example() if is_set}
    assert settings.ayon_url == values["AYON_URL"]
    assert all(value and value.strip() == value for value in values.values())


def test_secrets_are_placeholders() -> None:
    secret_aliases = {
        str(field.alias)
        for field in Settings.model_fields.values()
        if "SecretStr" in str(field.annotation)
    }
    assert secret_aliases >= {"KITSU_BOT_TOKEN", "AYON_API_KEY", "KITSYNC_WEBHOOK_SECRET"}
    for name, value, _, _ in _env_example():
        if name in secret_aliases | COMPOSE_ONLY:
            assert "change-me" in value, f"{name} must be a placeholder, not a real secret"


def _isolate(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """No environment variable and no .env of this machine leaks into Settings."""
    for alias in _aliases():
        monkeypatch.delenv(alias, raising=False)
    monkeypatch.chdir(folder)


# --- Dockerfile --------------------------------------------------------------------------------


def _stages() -> tuple[dict[str, str], list[list[tuple[str, str]]]]:
    """Global ARG defaults and, per stage, its (INSTRUCTION, arguments) in order."""
    logical: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    args: dict[str, str] = {}
    stages: list[list[tuple[str, str]]] = []
    for line in logical:
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            stages.append([])
        if not stages:
            if instruction == "ARG":
                name, _, default = rest.partition("=")
                args[name.strip()] = default.strip()
            continue
        stages[-1].append((instruction, rest.strip()))
    return args, stages


def _requirements(stage: list[tuple[str, str]], pip_command: str) -> list[str]:
    """What ``pip <pip_command>`` is given in a stage's RUNs ('.[x]' or 'kitsync[x]')."""
    found: list[str] = []
    for instruction, rest in stage:
        if instruction != "RUN":
            continue
        words = shlex.split(rest)
        for i in range(len(words) - 1):
            if words[i] == "pip" and words[i + 1] == pip_command:
                tail = words[i + 2 :]
                end = tail.index("&&") if "&&" in tail else len(tail)
                found += [w for w in tail[:end] if re.fullmatch(r"(\.|kitsync)(\[.*\])?", w)]
    return found


def _extras(requirement: str) -> set[str]:
    match = re.fullmatch(r"[^\[]+(?:\[(.*)\])?", requirement)
    assert match
    return {extra.strip() for extra in (match[1] or "").split(",") if extra.strip()}


def _readme_deploy_extras() -> set[str]:
    """Extras of the README's deployment install: ``pip install '.[...]'`` (not editable)."""
    lines = re.findall(r"pip install\s+(?!-e\b)['\"]?(\.\[[^\]]*\])", README.read_text())
    assert lines, "README.md has no deployment install line (pip install '.[monitor]')"
    extras = {frozenset(_extras(line)) for line in lines}
    assert len(extras) == 1, f"README.md installs kitsync with different extras: {extras}"
    return set(next(iter(extras)))


def test_image_installs_what_the_readme_installs() -> None:
    _, stages = _stages()
    assert len(stages) >= 2, "multi-stage: build the wheels, install them in a clean stage"
    built = _requirements(stages[0], "wheel")
    installed = _requirements(stages[-1], "install")
    assert len(built) == 1 and built[0].startswith("."), "build the wheels from the checkout"
    assert len(installed) == 1 and installed[0].startswith("kitsync[")
    assert _extras(installed[0]) == _extras(built[0]) == _readme_deploy_extras()


def test_runtime_stage_is_slim_non_root_and_has_no_build_tools() -> None:
    args, stages = _stages()
    runtime = stages[-1]
    base = runtime[0][1].split()[0]
    base = re.sub(r"\$\{(\w+)\}", lambda m: args[m[1]], base)
    assert base == "python:3.11-slim"
    users = [rest for instruction, rest in runtime if instruction == "USER"]
    assert users and users[-1].split(":")[0] == "10001", "must run as uid 10001"
    assert any("--uid 10001" in rest for instruction, rest in runtime if instruction == "RUN")
    runs = " ".join(rest for instruction, rest in runtime if instruction == "RUN")
    assert not re.search(r"apt-get|apk |gcc|build-essential", runs)
    # The wheels are mounted for the install, never copied into a layer of the image.
    assert not any(instruction in ("COPY", "ADD") for instruction, _ in runtime)
    instructions = dict(runtime)
    assert instructions["ENTRYPOINT"] == '["kitsync"]'
    assert instructions["CMD"] == '["worker"]'
    assert "PYTHONUNBUFFERED=1" in instructions["ENV"]


def test_build_context_is_only_what_the_image_needs() -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert patterns[0] == "*", "allow-list: start by excluding everything"
    allowed = {p[1:].rstrip("/") for p in patterns if p.startswith("!")}
    _, stages = _stages()
    sources = {
        source.rstrip("/")
        for instruction, rest in stages[0]
        if instruction == "COPY" and "--from" not in rest
        for source in rest.split()[:-1]
    }
    assert sources == allowed
    assert all((ROOT / source).exists() for source in sources)
    assert ".env" not in allowed


# --- docker-compose.yml --------------------------------------------------------------------


@pytest.fixture(scope="module")
def yaml() -> ModuleType:
    return pytest.importorskip(
        "yaml", reason="PyYAML is not installed: add pyyaml to the `test` extra"
    )


@pytest.fixture(scope="module")
def compose_file(yaml: ModuleType) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def test_compose_services(compose_file: dict[str, Any]) -> None:
    services = compose_file["services"]
    assert set(services) == KITSYNC_SERVICES | {"redis"}
    for name in KITSYNC_SERVICES:
        service = services[name]
        assert service["env_file"] == ".env"
        assert service["restart"] == "unless-stopped"
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"
        assert "@redis:6379/" in service["environment"]["KITSYNC_REDIS_URL"]
    assert services["redis"]["restart"] == "unless-stopped"


def test_redis_keeps_queued_work(compose_file: dict[str, Any]) -> None:
    redis = compose_file["services"]["redis"]
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command
    assert "--maxmemory-policy noeviction" in command
    assert "--requirepass" in command
    assert any(volume.endswith(":/data") for volume in redis["volumes"])
    assert "redis-cli ping" in " ".join(redis["healthcheck"]["test"])


def test_worker_scales_and_shuts_down_warm(compose_file: dict[str, Any]) -> None:
    worker = compose_file["services"]["worker"]
    assert "ports" not in worker and "container_name" not in worker
    assert worker["command"][0] == "worker"
    # Celery's warm shutdown waits for running tasks: the grace must outlast the longest event
    # task. A full project reconcile may be cut: it is redelivered (acks_late) and starts over.
    assert _seconds(worker["stop_grace_period"]) > _longest_task_seconds()


def test_receiver_healthcheck_hits_its_health_route(compose_file: dict[str, Any]) -> None:
    from kitsync.receiver import create_app

    receiver = compose_file["services"]["receiver"]
    command = receiver["command"]
    port = command[command.index("--port") + 1]
    assert receiver["ports"] == [f"{port}:{port}"]
    url = re.search(r"http://127\.0\.0\.1:(\d+)(/\w+)", " ".join(receiver["healthcheck"]["test"]))
    assert url and url[1] == port
    app = create_app(_NoSink(), secret="x")
    assert url[2] in {getattr(route, "path", None) for route in app.routes}


def test_flower_is_behind_basic_auth(compose_file: dict[str, Any]) -> None:
    flower = compose_file["services"]["flower"]
    assert flower["entrypoint"][-1] == "flower"
    # Flower reads FLOWER_BASIC_AUTH; ":?" makes compose refuse to start without it.
    assert flower["environment"]["FLOWER_BASIC_AUTH"].startswith("${FLOWER_BASIC_AUTH:?")
    assert flower["ports"] == ["5555:5555"]


def test_compose_reads_only_documented_variables() -> None:
    used = set(re.findall(r"\$\{(\w+)", COMPOSE.read_text()))
    documented = {name for name, *_ in _env_example()}
    assert used and used <= documented


def _docker_compose() -> str:
    path = shutil.which("docker-compose")
    if path is None:
        pytest.skip("docker-compose is not installed (Debian package docker-compose)")
    return path


def _compose_config(folder: Path, env: str, *args: str) -> subprocess.CompletedProcess[str]:
    shutil.copy(COMPOSE, folder / "docker-compose.yml")
    (folder / ".env").write_text(env)
    return subprocess.run(
        [_docker_compose(), "config", *args],
        cwd=folder,
        # Only the .env under test decides (the shell's variables would win over it).
        env={k: v for k, v in os.environ.items() if k not in COMPOSE_ONLY},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_docker_compose_config_accepts_the_example(tmp_path: Path, yaml: ModuleType) -> None:
    example = ENV_EXAMPLE.read_text()
    quiet = _compose_config(tmp_path, example, "-q")
    assert quiet.returncode == 0, quiet.stderr
    resolved = _compose_config(tmp_path, example)
    assert resolved.returncode == 0, resolved.stderr
    services = yaml.safe_load(resolved.stdout)["services"]
    assert set(services) == KITSYNC_SERVICES | {"redis"}
    values = {name: value for name, value, is_set, _ in _env_example() if is_set}
    for name in KITSYNC_SERVICES:
        environment = services[name]["environment"]
        # env_file and the compose-set Redis URL both reach the containers.
        assert environment["KITSU_URL"] == values["KITSU_URL"]
        redis_url = f"redis://:{values['REDIS_PASSWORD']}@redis:6379/0"
        assert environment["KITSYNC_REDIS_URL"] == redis_url
    assert services["flower"]["environment"]["FLOWER_BASIC_AUTH"] == values["FLOWER_BASIC_AUTH"]
    assert values["REDIS_PASSWORD"] in services["redis"]["command"]
    assert "ports" not in services["worker"] and "container_name" not in services["worker"]


@pytest.mark.parametrize("missing", sorted(COMPOSE_ONLY))
def test_docker_compose_refuses_to_start_without(tmp_path: Path, missing: str) -> None:
    lines = ENV_EXAMPLE.read_text().splitlines()
    env = "\n".join(line for line in lines if not line.startswith(f"{missing}=")) + "\n"
    result = _compose_config(tmp_path, env, "-q")
    assert result.returncode != 0
    assert f"set {missing}" in result.stderr


# --- helpers -----------------------------------------------------------------------------------


def _seconds(duration: str) -> float:
    """A compose duration ("6m30s", "90s", "1h") in seconds."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 0.000001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|us|h|m|s)", duration)
    assert parts and "".join(n + u for n, u in parts) == duration, duration
    return sum(float(number) * units[unit] for number, unit in parts)


def _longest_task_seconds() -> float:
    from kitsync.worker.app import create_celery

    app = create_celery(Settings(KITSYNC_REDIS_URL="redis://localhost:6379/0"))
    limits = [app.conf.task_time_limit] + [
        getattr(task, "time_limit", None)
        for name, task in app.tasks.items()
        if name != "kitsync.reconcile_project"
    ]
    finite = [float(limit) for limit in limits if limit]
    assert finite, "tasks have no time limit: no stop_grace_period can cover them"
    return max(finite)


class _NoSink:
    async def submit(self, events: object, *, source: str) -> object:
        raise NotImplementedError

    async def healthy(self) -> bool:
        return True
