"""Reading a compose file as hostile input (no containerd): every error names the file, line and
column; YAML bombs, huge files, object tags, paths that leave the project and bad interpolations are
refused before anything is made."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctrd.errors import InvalidArgument
from managers.compose.interpolate import interpolate, parse_env_file
from managers.compose.model import load_project


def load(directory: Path, **kw):
    return load_project(cwd=str(directory), environ=kw.pop("environ", {}), **kw)


def refused(project, text: str, *fragments: str, **files: str) -> str:
    directory = project(text, **files)
    with pytest.raises(InvalidArgument) as caught:
        load(directory)
    message = caught.value.message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_unknown_keys_and_wrong_types_name_file_line_and_column(project) -> None:
    refused(project, "services:\n  web:\n    image: busybox\n    imagee: x\n",
            "compose.yaml:4:5", "services.web.imagee: unknown key")
    refused(project, "services:\n  web:\n    image: busybox\n    ports: 80\n", "compose.yaml:4:12", "expected a list")
    refused(project, "services:\n  web:\n    image: busybox\n    deploy:\n      replicas: two\n",
            "compose.yaml:5:17", "expected an integer")
    refused(project, "servces: {}\n", "compose.yaml:1:1", "unknown key")
    refused(project, "services:\n  web:\n    image: busybox\n    healthcheck:\n      interval: soon\n      test: 'true'\n",
            "compose.yaml:5:", "not a duration")


def test_build_is_a_clear_error_naming_the_service(project) -> None:
    refused(project, "services:\n  api:\n    build: .\n", "compose.yaml:3:5", "service api: build is not supported")


def test_dependencies_must_exist_and_not_cycle(project) -> None:
    refused(project, "services:\n  a:\n    image: busybox\n    depends_on: [b]\n", "no service 'b'")
    refused(project, "services:\n  a:\n    image: busybox\n    depends_on: [b]\n  b:\n    image: busybox\n"
            "    depends_on: [a]\n", "dependency cycle: a -> b -> a")
    refused(project, "services:\n  a:\n    image: busybox\n    depends_on:\n      b: {condition: service_done}\n"
            "  b:\n    image: busybox\n", "expected one of service_started")


def test_yaml_bombs_huge_files_and_object_tags_are_refused(project) -> None:
    lol = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lol.append(f"{chr(97 + i)}: &{chr(97 + i)} [{', '.join('*' + chr(96 + i) for _ in range(10))}]")
    refused(project, "\n".join(lol) + "\nservices: {}\n", "aliases expanded", "refused")
    refused(project, "services:\n  web:\n    image: !!python/object/apply:os.system [true]\n", "not allowed")
    refused(project, "services:\n  web:\n    image: !!binary aGVsbG8=\n", "not allowed")
    refused(project, "x: " + "[" * 100 + "]" * 100 + "\nservices: {}\n", "nested deeper")
    refused(project, "x: " + "[" * 200_000 + "]" * 200_000 + "\nservices: {}\n", "nested deeper")
    big = "services:\n  web:\n    image: busybox\n" + "# padding\n" * 120_000
    refused(project, big, "larger than")
    refused(project, "services:\n  web:\n    image: a\n    image: b\n", "duplicate key")
    refused(project, "a: 1\n---\nb: 2\n", "one YAML document")
    refused(project, "services: [\n", "compose.yaml:2:1")


def test_host_paths_relative_to_the_project_stay_inside_it(project, tmp_path) -> None:
    refused(project, "services:\n  web:\n    image: busybox\n    volumes: ['../../etc:/x']\n", "outside the project")
    refused(project, "services:\n  web:\n    image: busybox\n    env_file: ../secret.env\n", "outside the project")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    directory = project("services:\n  web:\n    image: busybox\n    volumes: ['./link:/x']\n")
    (directory / "link").symlink_to(outside)
    with pytest.raises(InvalidArgument, match="outside the project"):
        load(directory)
    ok = project("services:\n  web:\n    image: busybox\n    volumes: ['./data:/x', '/srv/abs:/y:ro']\n", name="ok")
    (ok / "data").mkdir()
    assert load(ok).services["web"].volumes == [f"{ok.resolve()}/data:/x", "/srv/abs:/y:ro"]


def test_a_dotenv_link_out_of_the_project_is_refused(project, tmp_path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("TOKEN=hunter2\n")
    directory = project("services:\n  web:\n    image: busybox\n    environment: ['T=${TOKEN}']\n")
    (directory / ".env").symlink_to(secret)
    with pytest.raises(InvalidArgument, match="outside the project"):
        load(directory)
    # given on the command line it is the user's choice
    assert load(directory, env_file=str(secret)).services["web"].environment == {"T": "hunter2"}


def test_interpolation_and_dotenv(project) -> None:
    env = {"SET": "v", "EMPTY": ""}
    assert interpolate("${SET}-${UNSET:-d}-${EMPTY:-e}-${EMPTY-f}-$$-$SET-${UNSET:-${SET}x}", env, "f") == "v-d-e--$-v-vx"
    assert interpolate("${SET:+yes}${UNSET:+no}", env, "f") == "yes"
    for bad in ("${", "${1A}", "$ x", "${UNSET:?must be given}"):
        with pytest.raises(InvalidArgument):
            interpolate(bad, env, "f")
    with pytest.raises(InvalidArgument, match="longer than"):
        interpolate("${A}" * 10, {"A": "x" * 10_000}, "f")
    assert parse_env_file("# c\nexport A=1\nB='lit $x'\nC=\"a\\nb\"\nD=plain # comment\n", ".env") == {
        "A": "1", "B": "lit $x", "C": "a\nb", "D": "plain"}
    directory = project("name: ${NAME:-x}\nservices:\n  web:\n    image: busybox:${TAG:?set TAG}\n"
                        "    environment: ['A=${A}', B]\n", **{".env": "TAG=1.0\nA=from-dotenv\nNAME=fromenv\n"})
    p = load(directory, environ={"A": "from-shell", "B": "b"})
    assert (p.name, p.services["web"].image, p.services["web"].environment) == (
        "fromenv", "busybox:1.0", {"A": "from-shell", "B": "b"})


def test_profiles_overrides_and_names(project) -> None:
    directory = project("services:\n  web:\n    image: busybox\n  tools:\n    image: busybox\n    profiles: [debug]\n",
                        name="My Proj", **{"override.yaml": "services:\n  web:\n    command: [sleep, '9']\n"})
    p = load(directory, files=["compose.yaml", "override.yaml"])
    assert p.name == "myproj" and list(p.services) == ["web"] and p.services["web"].command == ["sleep", "9"]
    assert list(load(directory, profiles=["debug"]).services) == ["web", "tools"]
    assert load(directory, project_name="other").networks["default"].name == "other_default"
    with pytest.raises(InvalidArgument, match="project name"):
        load(directory, project_name="Bad Name")


def test_a_piped_file_is_read_as_dash_f_dash_with_the_working_directory_as_project(tmp_path: Path) -> None:
    text = "services:\n  web:\n    image: busybox\n    volumes: ['./data:/x']\n"
    project = load(tmp_path, files=["-"], piped=text)
    assert project.config_files == ["-"] and project.working_dir == str(tmp_path.resolve())
    assert project.services["web"].volumes == [f"{tmp_path.resolve()}/data:/x"]
    # errors name the piped file as `-`, with line and column
    with pytest.raises(InvalidArgument, match=r"^-:3:5"):
        load(tmp_path, files=["-"], piped="services:\n  web:\n    imag: busybox\n")
    with pytest.raises(InvalidArgument, match="pipe the compose file"):
        load(tmp_path, files=["-"])
    with pytest.raises(InvalidArgument, match="once"):
        load(tmp_path, files=["-", "-"], piped=text)
    # the same limits as a file's
    with pytest.raises(InvalidArgument, match="larger than"):
        load(tmp_path, files=["-"], piped=text + "# padding\n" * 120_000)
